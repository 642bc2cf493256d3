//! Deadlines and cancellation that propagate: a client calls A, A calls B, B calls C, each
//! over a real socket, and C never answers. The client's deadline must end all three calls,
//! with C seeing both the inherited deadline and the cancellation.

mod common;

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wirecall::context::{self, CallContext};
use wirecall::{Code, Endpoint, Request, Response, Server, Status};
use wirecall_tests::greeter::{Greeter, GreeterClient, GreeterServer, HelloReply, HelloRequest};

use common::{bounded, local_listener};

/// What a hop's handler reports.
#[derive(Debug)]
enum Event {
    /// The handler started; `remaining` is what was left of its deadline.
    Started {
        hop: &'static str,
        remaining: Option<Duration>,
    },
    /// `CallContext::cancelled()` completed.
    Cancelled { hop: &'static str, at: Instant },
    /// The handler's future was dropped (it never finishes on its own here).
    Dropped { hop: &'static str, at: Instant },
}

/// One hop of the chain: calls `next` (or waits forever when last). The request's `name`
/// picks how: `"plain"` awaits the call, `"detached"` makes it outside the call context,
/// `"spawned"` makes it in a task of its own that carries the context.
struct Hop {
    name: &'static str,
    next: Option<GreeterClient>,
    events: mpsc::UnboundedSender<Event>,
}

/// Reports `Dropped` when the handler's future goes away.
struct DropReport(&'static str, mpsc::UnboundedSender<Event>);

impl Drop for DropReport {
    fn drop(&mut self) {
        let _ = self.1.send(Event::Dropped {
            hop: self.0,
            at: Instant::now(),
        });
    }
}

impl Greeter for Hop {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let call = CallContext::current().expect("handlers run in their call context");
        let remaining = call
            .deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        let _ = self.events.send(Event::Started {
            hop: self.name,
            remaining,
        });
        tokio::spawn({
            let (call, hop, events) = (call.clone(), self.name, self.events.clone());
            async move {
                call.cancelled().await;
                let _ = events.send(Event::Cancelled {
                    hop,
                    at: Instant::now(),
                });
            }
        });
        let _dropped = DropReport(self.name, self.events.clone());
        let Some(next) = self.next.clone() else {
            return std::future::pending().await;
        };
        let message = request.into_inner();
        match message.name.as_str() {
            "detached" => context::detached(next.say_hello(message)).await,
            "spawned" => tokio::spawn(call.scope(async move { next.say_hello(message).await }))
                .await
                .map_err(|e| Status::internal(e.to_string()))?,
            _ => next.say_hello(message).await,
        }
    }
}

/// Starts C, B and A (each calling the next) and returns A's client and the events.
async fn chain() -> (GreeterClient, mpsc::UnboundedReceiver<Event>) {
    let (events, received) = mpsc::unbounded_channel();
    let mut next = None;
    for name in ["C", "B", "A"] {
        let listener = local_listener().await;
        let addr = listener.local_addr().expect("address");
        let hop = Hop {
            name,
            next: next.take(),
            events: events.clone(),
        };
        let server = Server::builder().add_service(GreeterServer::new(hop));
        tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
        let channel = Endpoint::new(format!("http://{addr}"))
            .expect("endpoint")
            .connect_lazy();
        next = Some(GreeterClient::new(channel));
    }
    (next.expect("A's client"), received)
}

/// Collects events until every hop reported both `Cancelled` and `Dropped` (or fails after
/// the test limit).
async fn until_all_cancelled(events: &mut mpsc::UnboundedReceiver<Event>) -> Vec<Event> {
    let mut seen = Vec::new();
    let done = |seen: &Vec<Event>| {
        ["A", "B", "C"].iter().all(|name| {
            let cancelled = seen
                .iter()
                .any(|e| matches!(e, Event::Cancelled { hop, .. } if hop == name));
            let dropped = seen
                .iter()
                .any(|e| matches!(e, Event::Dropped { hop, .. } if hop == name));
            cancelled && dropped
        })
    };
    while !done(&seen) {
        let event = bounded("hop events", events.recv()).await.expect("events");
        seen.push(event);
    }
    seen
}

fn started(events: &[Event], hop: &str) -> Option<Duration> {
    events.iter().find_map(|e| match e {
        Event::Started { hop: h, remaining } if *h == hop => *remaining,
        _ => None,
    })
}

fn latest_end(events: &[Event]) -> Instant {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Cancelled { at, .. } | Event::Dropped { at, .. } => Some(*at),
            Event::Started { .. } => None,
        })
        .max()
        .expect("end events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_ends_the_whole_chain() {
    let (client, mut events) = chain().await;
    let deadline = Duration::from_millis(200);
    let margin = Duration::from_millis(300);
    let start = Instant::now();
    let mut request = Request::new(HelloRequest {
        name: "plain".into(),
    });
    request.set_timeout(deadline);
    let err = bounded("chained call", client.say_hello(request))
        .await
        .expect_err("C never answers");
    let took = start.elapsed();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(took >= deadline && took < deadline + margin, "{took:?}");

    let seen = until_all_cancelled(&mut events).await;
    // Every hop inherited what was left of the client's deadline, less at each step.
    let (a, b, c) = (
        started(&seen, "A").expect("A has a deadline"),
        started(&seen, "B").expect("B inherited a deadline"),
        started(&seen, "C").expect("C inherited a deadline"),
    );
    assert!(a <= deadline && b <= a && c <= b, "{a:?} {b:?} {c:?}");
    // And every hop, C included, was cancelled within the deadline plus a small margin.
    let ended = latest_end(&seen).duration_since(start);
    assert!(ended < deadline + margin, "last hop ended after {ended:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_caller_cancels_calls_made_from_spawned_tasks() {
    let (client, mut events) = chain().await;
    let start = Instant::now();
    let mut request = Request::new(HelloRequest {
        name: "spawned".into(),
    });
    request.set_timeout(Duration::from_secs(30));
    // The client gives up long before the deadline: dropping the call cancels it.
    let call = client.say_hello(request);
    let gave_up = tokio::time::timeout(Duration::from_millis(100), call).await;
    assert!(gave_up.is_err(), "C never answers");

    let seen = until_all_cancelled(&mut events).await;
    // B's call to C ran in a task of its own: only the propagated cancellation ends it.
    let ended = latest_end(&seen).duration_since(start);
    assert!(
        ended < Duration::from_secs(5),
        "last hop ended after {ended:?}"
    );
    assert!(started(&seen, "C").expect("C inherited the deadline") > Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_calls_do_not_inherit_the_deadline() {
    let (client, mut events) = chain().await;
    let mut request = Request::new(HelloRequest {
        name: "detached".into(),
    });
    request.set_timeout(Duration::from_millis(200));
    let err = bounded("chained call", client.say_hello(request))
        .await
        .expect_err("C never answers");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    let seen = until_all_cancelled(&mut events).await;
    assert!(started(&seen, "A").is_some(), "A has the client's deadline");
    // A and B call onwards detached: those calls carry no grpc-timeout at all. They still
    // end, because each handler was dropped with its outgoing call.
    assert_eq!(started(&seen, "B"), None);
    assert_eq!(started(&seen, "C"), None);
}
