//! The in-memory harness: a client's call core and a server's driven against each other with
//! no socket and no HTTP/2 (`ServerBuilder::direct_channel`), on tokio's paused clock. Time
//! moves only when every task waits, so the timings asserted here hold to the timer, and the
//! tests take milliseconds whatever their timeouts say.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use wirecall::interceptor::{CallInfo, IncomingCall, Interceptor};
use wirecall::{message_stream, Code, Request, Server, Status};
use wirecall_tests::echo::{EchoClient, EchoRequest};

use common::{echo_with_events, Event};

/// How each call ended on the server: its method and status code, as `on_end` saw them.
struct Ends(mpsc::UnboundedSender<(&'static str, Code)>);

impl Interceptor for Ends {
    fn on_end(&self, call: &CallInfo, status: &Status) {
        let _ = self.0.send((call.method(), status.code()));
    }
}

/// The harness: an Echo client whose calls go straight to an Echo server in memory, the
/// handlers' events, and how each call ended on the server.
struct Harness {
    client: EchoClient,
    events: mpsc::UnboundedReceiver<Event>,
    ends: mpsc::UnboundedReceiver<(&'static str, Code)>,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(|builder| builder, |endpoint| endpoint)
    }

    fn with(
        server: impl FnOnce(wirecall::server::ServerBuilder) -> wirecall::server::ServerBuilder,
        client: impl FnOnce(wirecall::Endpoint) -> wirecall::Endpoint,
    ) -> Harness {
        let (echo, events) = echo_with_events();
        let (ends_tx, ends) = mpsc::unbounded_channel();
        let builder = Server::builder()
            .interceptor(Ends(ends_tx))
            .add_service(echo);
        let endpoint = client(server(builder).direct_endpoint());
        Harness {
            client: EchoClient::new(endpoint.connect_lazy()),
            events,
            ends,
        }
    }

    /// The next event that is not `Started`.
    async fn next_event(&mut self) -> Event {
        loop {
            match self.events.recv().await.expect("events stay open") {
                Event::Started(_) => continue,
                event => return event,
            }
        }
    }

    /// How the next call ended on the server.
    async fn next_end(&mut self) -> (&'static str, Code) {
        self.ends.recv().await.expect("the interceptor stays")
    }
}

fn echo(message: &str, sleep_ms: i32, repeat: i32) -> EchoRequest {
    EchoRequest {
        message: message.into(),
        sleep_ms,
        repeat,
        ..Default::default()
    }
}

fn with_timeout<T>(message: T, timeout: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(timeout);
    request
}

/// How a call whose deadline passed ends on the server: both sides' timers expire at the
/// same instant, and either the server's (DEADLINE_EXCEEDED) or the client's giving up
/// (CANCELLED) is seen first; which is not a property of the protocol.
fn deadline_end(end: (&'static str, Code), method: &str) {
    assert_eq!(end.0, method);
    assert!(
        matches!(end.1, Code::DeadlineExceeded | Code::Cancelled),
        "{method} ended with {:?}",
        end.1
    );
}

/// `elapsed` is `expected`, give or take the microseconds of real time the test itself
/// spends before its timers are set (deadlines are taken from the system clock).
fn assert_about(elapsed: Duration, expected: Duration) {
    let slack = Duration::from_millis(5);
    assert!(
        elapsed + slack >= expected && elapsed <= expected + slack,
        "took {elapsed:?}, expected {expected:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_unary_deadline_ends_the_call_on_time_and_drops_the_handler() {
    let mut harness = Harness::new();
    let start = Instant::now();
    let request = with_timeout(echo("slow", 60_000, 0), Duration::from_millis(250));
    let status = harness.client.unary(request).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    assert_about(start.elapsed(), Duration::from_millis(250));
    assert_eq!(harness.next_event().await, Event::Dropped("slow".into()));
    deadline_end(harness.next_end().await, "Unary");
}

#[tokio::test(start_paused = true)]
async fn a_server_streaming_deadline_ends_the_stream_after_what_was_sent() {
    let mut harness = Harness::new();
    let start = Instant::now();
    // A message every 100 ms, ten of them, under a 350 ms deadline: three arrive.
    let request = with_timeout(echo("tick", 100, 10), Duration::from_millis(350));
    let mut stream = harness
        .client
        .server_stream(request)
        .await
        .unwrap()
        .into_inner();
    let mut received = 0;
    let status = loop {
        match stream.message().await {
            Ok(Some(message)) => {
                assert_eq!(message.index, received);
                received += 1;
            }
            Ok(None) => panic!("the stream ended without its deadline"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    assert_eq!(received, 3);
    assert_about(start.elapsed(), Duration::from_millis(350));
    deadline_end(harness.next_end().await, "ServerStream");
}

#[tokio::test(start_paused = true)]
async fn a_client_streaming_deadline_ends_a_call_whose_requests_never_end() {
    let mut harness = Harness::new();
    let (sender, requests) = message_stream::channel(4);
    sender.send(echo("a", 0, 0)).await.unwrap();
    let start = Instant::now();
    let request = with_timeout(requests, Duration::from_millis(300));
    let status = harness.client.client_stream(request).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    assert_about(start.elapsed(), Duration::from_millis(300));
    deadline_end(harness.next_end().await, "ClientStream");
    drop(sender);
}

#[tokio::test(start_paused = true)]
async fn a_bidi_deadline_ends_the_call_after_its_answers() {
    let mut harness = Harness::new();
    let (sender, requests) = message_stream::channel(4);
    let start = Instant::now();
    let request = with_timeout(requests, Duration::from_millis(400));
    let mut stream = harness.client.bidi(request).await.unwrap().into_inner();
    sender.send(echo("ping", 0, 0)).await.unwrap();
    let answer = stream.message().await.unwrap().expect("an answer");
    assert_eq!(answer.message, "ping");
    assert_eq!(start.elapsed(), Duration::ZERO, "an answer takes no time");
    let status = stream.message().await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    assert_about(start.elapsed(), Duration::from_millis(400));
    deadline_end(harness.next_end().await, "Bidi");
    drop(sender);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_gives_up_cancels_the_call_in_every_pattern() {
    let mut harness = Harness::new();

    // Unary: the handler sleeps; dropping the call drops it.
    let client = harness.client.clone();
    let call = tokio::spawn(async move { client.unary(echo("u", 60_000, 0)).await });
    assert_eq!(
        harness.events.recv().await,
        Some(Event::Started("u".into()))
    );
    call.abort();
    assert_eq!(harness.next_event().await, Event::Dropped("u".into()));
    assert_eq!(harness.next_end().await, ("Unary", Code::Cancelled));

    // Server streaming: the client reads two messages and drops the stream.
    let mut stream = harness
        .client
        .server_stream(echo("s", 10, 1000))
        .await
        .unwrap()
        .into_inner();
    for _ in 0..2 {
        stream.message().await.unwrap().expect("a message");
    }
    drop(stream);
    assert_eq!(harness.next_end().await, ("ServerStream", Code::Cancelled));
    assert_eq!(harness.next_event().await, Event::StreamClosed("s".into()));

    // Client streaming: requests still open when the client drops the call.
    let (sender, requests) = message_stream::channel(4);
    sender.send(echo("c", 0, 0)).await.unwrap();
    let client = harness.client.clone();
    let call = tokio::spawn(async move { client.client_stream(requests).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    call.abort();
    assert_eq!(harness.next_end().await, ("ClientStream", Code::Cancelled));
    drop(sender);

    // Bidirectional: one exchange, then the client drops both halves.
    let (sender, requests) = message_stream::channel(4);
    let mut stream = harness.client.bidi(requests).await.unwrap().into_inner();
    sender.send(echo("b", 0, 0)).await.unwrap();
    stream.message().await.unwrap().expect("an answer");
    drop(stream);
    assert_eq!(harness.next_end().await, ("Bidi", Code::Cancelled));
    drop(sender);
}

/// Refuses the first `refusals` calls with UNAVAILABLE, and (when `stall` is set) makes the
/// first call wait that long before going on; counts the calls.
struct Flaky {
    calls: Arc<AtomicU32>,
    refusals: u32,
    stall: Option<Duration>,
}

impl Interceptor for Flaky {
    async fn on_call(&self, call: &mut IncomingCall) -> Result<(), Status> {
        let _ = call;
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n == 0 {
            if let Some(stall) = self.stall {
                tokio::time::sleep(stall).await;
            }
        }
        if n < self.refusals {
            return Err(Status::unavailable("not yet"));
        }
        Ok(())
    }
}

const RETRY: &str = r#"{"methodConfig": [{
    "name": [{"service": "wirecall.test.echo.Echo"}],
    "retryPolicy": {
        "maxAttempts": 4,
        "initialBackoff": "1s",
        "maxBackoff": "10s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"]
    }
}]}"#;

const HEDGE: &str = r#"{"methodConfig": [{
    "name": [{"service": "wirecall.test.echo.Echo"}],
    "hedgingPolicy": {
        "maxAttempts": 3,
        "hedgingDelay": "0.5s",
        "nonFatalStatusCodes": ["UNAVAILABLE"]
    }
}]}"#;

#[tokio::test(start_paused = true)]
async fn retries_wait_their_backoff_and_stop_at_the_first_success() {
    let calls = Arc::new(AtomicU32::new(0));
    let flaky = Flaky {
        calls: calls.clone(),
        refusals: 2,
        stall: None,
    };
    let mut harness = Harness::with(
        |builder| builder.interceptor(flaky),
        |endpoint| endpoint.service_config_json(RETRY).unwrap(),
    );
    let start = Instant::now();
    let response = harness.client.unary(echo("again", 0, 0)).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(response.get_ref().message, "again");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "two refusals, then the answer"
    );
    // Each backoff is random in [0, 1 s), then [0, 2 s) (gRFC A6): the two together stay
    // under 3 s, and some time passed.
    assert!(
        elapsed > Duration::ZERO && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    for _ in 0..2 {
        assert_eq!(harness.next_end().await, ("Unary", Code::Unavailable));
    }
    assert_eq!(harness.next_end().await, ("Unary", Code::Ok));
}

#[tokio::test(start_paused = true)]
async fn a_hedged_call_sends_its_second_attempt_after_the_delay_and_cancels_the_first() {
    let calls = Arc::new(AtomicU32::new(0));
    let flaky = Flaky {
        calls: calls.clone(),
        refusals: 0,
        stall: Some(Duration::from_secs(60)),
    };
    let mut harness = Harness::with(
        |builder| builder.interceptor(flaky),
        |endpoint| endpoint.service_config_json(HEDGE).unwrap(),
    );
    let start = Instant::now();
    let response = harness.client.unary(echo("hedged", 0, 0)).await.unwrap();
    assert_eq!(response.get_ref().message, "hedged");
    assert_about(start.elapsed(), Duration::from_millis(500));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the stalled first and one hedge"
    );
    let mut ends = [harness.next_end().await, harness.next_end().await];
    ends.sort_by_key(|(_, code)| *code as i32);
    assert_eq!(ends, [("Unary", Code::Ok), ("Unary", Code::Cancelled)]);
}
