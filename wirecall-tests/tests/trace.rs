//! W3C trace context across a chain of calls over real sockets: client -> A -> B, with
//! `TraceContext` on both servers and `TracePropagation` on A's channel to B. Every hop
//! continues the client's trace with a span of its own, and each handler runs inside a
//! `grpc.server` tracing span carrying the trace id.

mod common;

use std::sync::{Arc, Mutex};

use wirecall::context::CallContext;
use wirecall::interceptor::{TraceContext, TracePropagation};
use wirecall::trace::{TraceParent, TRACEPARENT};
use wirecall::{Endpoint, Request, Response, Server, Status};
use wirecall_tests::greeter::{Greeter, GreeterClient, GreeterServer, HelloReply, HelloRequest};

use common::{bounded, local_listener};

/// What a hop's handler saw: the `traceparent` it received and its own span.
#[derive(Debug, Clone)]
struct Seen {
    hop: &'static str,
    received: Option<TraceParent>,
    own: Option<TraceParent>,
}

struct Hop {
    name: &'static str,
    next: Option<GreeterClient>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Greeter for Hop {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let received = request
            .metadata()
            .get(TRACEPARENT)
            .and_then(TraceParent::parse);
        let own = CallContext::current().and_then(|c| c.trace());
        assert_eq!(request.extensions().get::<TraceParent>().copied(), own);
        tracing::info!(hop = self.name, "handling");
        self.seen.lock().unwrap().push(Seen {
            hop: self.name,
            received,
            own,
        });
        match &self.next {
            Some(next) => next.say_hello(request.into_inner()).await,
            None => Ok(Response::new(HelloReply {
                message: "end".into(),
            })),
        }
    }
}

/// Starts B then A (A calls B through a channel with `TracePropagation`); returns a plain
/// client of A.
async fn chain(seen: &Arc<Mutex<Vec<Seen>>>) -> GreeterClient {
    let mut next = None;
    for name in ["B", "A"] {
        let listener = local_listener().await;
        let addr = listener.local_addr().unwrap();
        let hop = Hop {
            name,
            next: next.take(),
            seen: seen.clone(),
        };
        let server = Server::builder()
            .interceptor(TraceContext::new())
            .add_service(GreeterServer::new(hop));
        tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
        let endpoint = Endpoint::new(format!("http://{addr}")).unwrap();
        let endpoint = if name == "B" {
            endpoint.interceptor(TracePropagation::new())
        } else {
            endpoint
        };
        let channel = endpoint.connect_lazy();
        next = Some(GreeterClient::new(channel));
    }
    next.expect("A's client")
}

fn hop(seen: &[Seen], name: &str) -> Seen {
    seen.iter()
        .find(|s| s.hop == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not reached: {seen:?}"))
}

/// Every event's fields, with the span it happened in.
type Events = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A `tracing` subscriber that keeps spans (name and fields) and, for every event, the
/// span it happened in. One thread only (the tests run on a current-thread runtime).
#[derive(Default, Clone)]
struct Capture {
    spans: Arc<Mutex<Vec<String>>>,
    stack: Arc<Mutex<Vec<u64>>>,
    events: Events,
}

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = Fields(attrs.metadata().name().to_owned());
        attrs.record(&mut fields);
        let mut spans = self.spans.lock().unwrap();
        spans.push(fields.0);
        tracing::span::Id::from_u64(spans.len() as u64)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let current = self.stack.lock().unwrap().last().copied();
        let span = current.map(|id| self.spans.lock().unwrap()[id as usize - 1].clone());
        self.events.lock().unwrap().push((fields.0, span));
    }
    fn enter(&self, id: &tracing::span::Id) {
        self.stack.lock().unwrap().push(id.into_u64());
    }
    fn exit(&self, _: &tracing::span::Id) {
        self.stack.lock().unwrap().pop();
    }
}

// One test on one thread: tracing caches callsite interest process-wide, so a parallel test
// emitting without the capturing subscriber could hide this one's events.
#[tokio::test(flavor = "current_thread")]
async fn every_hop_continues_the_trace_inside_its_span() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let client = chain(&seen).await;

    let root = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .expect("valid");
    let mut request = Request::new(HelloRequest { name: "t".into() });
    request
        .metadata_mut()
        .insert(TRACEPARENT, &root.to_string())
        .unwrap();
    bounded("chained call", client.say_hello(request))
        .await
        .expect("ok");

    let first: Vec<Seen> = std::mem::take(&mut *seen.lock().unwrap());
    let (a, b) = (hop(&first, "A"), hop(&first, "B"));
    // A received the client's span and made its own in the same trace.
    assert_eq!(a.received, Some(root));
    let a_own = a.own.expect("A has a span");
    assert_eq!(a_own.trace_id, root.trace_id);
    assert_ne!(a_own.span_id, root.span_id);
    // B received A's span as its parent, and made its own.
    let b_received = b.received.expect("A propagated traceparent");
    assert_eq!(b_received, a_own);
    let b_own = b.own.expect("B has a span");
    assert_eq!(b_own.trace_id, root.trace_id);
    assert_ne!(b_own.span_id, b_received.span_id);

    // Each handler's event happened inside its grpc.server span, which names the trace.
    let trace_field = format!("trace_id={:032x}", root.trace_id);
    let events = capture.events.lock().unwrap().clone();
    for name in ["A", "B"] {
        let (_, span) = events
            .iter()
            .find(|(fields, _)| fields.contains(&format!("hop=\"{name}\"")))
            .unwrap_or_else(|| panic!("no event from {name}"));
        let span = span
            .as_deref()
            .unwrap_or_else(|| panic!("{name}'s event is in no span"));
        assert!(span.starts_with("grpc.server"), "{span}");
        assert!(span.contains(&trace_field), "{span}");
    }

    // Without a traceparent from the client, A starts a trace and B continues it.
    bounded(
        "chained call",
        client.say_hello(HelloRequest { name: "u".into() }),
    )
    .await
    .expect("ok");
    let second: Vec<Seen> = std::mem::take(&mut *seen.lock().unwrap());
    let (a, b) = (hop(&second, "A"), hop(&second, "B"));
    assert_eq!(a.received, None);
    let a_own = a.own.expect("A started a trace");
    assert_ne!(a_own.trace_id, root.trace_id);
    assert_eq!(b.received.map(|t| t.trace_id), Some(a_own.trace_id));
    assert_eq!(b.own.map(|t| t.trace_id), Some(a_own.trace_id));
}
