//! Shared by the end-to-end tests: an `Echo` implementation that records what each handler
//! observed, a server started on `127.0.0.1:0`, and small helpers (bounded waits, raw gRPC
//! framing for tests that speak HTTP/2 directly).

// Every test binary compiles this module and uses a different part of it.
#![allow(dead_code, unreachable_pub)]

pub mod backends;
pub mod dns_server;
pub mod raw_http;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use wirecall::message_stream;
use wirecall::request::Parts;
use wirecall::server::ServerBuilder;
use wirecall::{
    Channel, Code, Endpoint, MetadataMap, Request, Response, Server, Status, Streaming,
};
use wirecall_tests::echo::{Echo, EchoClient, EchoRequest, EchoResponse, EchoServer};
use wirecall_tests::wirecall::test::features::Everything;

/// The longest any single await in a test may take before the test fails instead of hanging.
pub const LIMIT: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test (with `what` in the message) if it takes longer than
/// [`LIMIT`].
/// Whether servers run on wirecall's own HTTP/2 engine (`WIRECALL_HTTP2_ENGINE=wirecall`):
/// the suite runs once per engine, and where the two answer differently (h2's less specific
/// error codes, say), a test asserts what each does.
#[allow(dead_code)] // Not every test binary asks.
pub fn own_engine() -> bool {
    std::env::var("WIRECALL_HTTP2_ENGINE").as_deref() == Ok("wirecall")
}

pub async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    within(LIMIT, what, fut).await
}

/// Awaits `fut`, failing the test if it takes longer than `limit`.
pub async fn within<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: no result within {limit:?}"),
    }
}

/// What one handler invocation saw of its request.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `Unary`, `ServerStream`, `ClientStream` or `Bidi`.
    pub method: &'static str,
    /// The request's `message` field (empty for client-streaming and bidi calls).
    pub message: String,
    /// `request.deadline()`.
    pub deadline: Option<Instant>,
    /// How far away the deadline was when the handler started.
    pub remaining: Option<Duration>,
    /// `request.remote_addr()`.
    pub remote_addr: Option<SocketAddr>,
    /// The request metadata.
    pub metadata: MetadataMap,
}

/// Something a handler did, reported as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A handler whose request asked it to sleep has started; carries the request message.
    Started(String),
    /// A handler's future was dropped while it slept (cancellation or deadline).
    Dropped(String),
    /// A server-streaming response found its stream gone (the call ended) before it had
    /// sent every message.
    StreamClosed(String),
}

/// State shared by every handler of one server.
#[derive(Debug)]
pub struct State {
    seen: Mutex<Vec<Seen>>,
    events: mpsc::UnboundedSender<Event>,
}

impl State {
    /// Everything the handlers observed so far, in call order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen lock").clone()
    }

    /// The observations of the call whose request message was `message`.
    pub fn seen_for(&self, message: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.message == message)
            .collect()
    }

    fn record<T>(&self, method: &'static str, message: &str, request: &Request<T>) {
        let deadline = request.deadline();
        let seen = Seen {
            method,
            message: message.to_owned(),
            deadline,
            remaining: deadline.map(|d| d.saturating_duration_since(Instant::now())),
            remote_addr: request.remote_addr(),
            metadata: request.metadata().clone(),
        };
        self.seen.lock().expect("seen lock").push(seen);
    }

    /// Sleeps `ms` milliseconds (nothing if not positive), reporting `Started` first and
    /// `Dropped` if the future is dropped before the sleep ends.
    async fn pause(&self, message: &str, ms: i32) {
        if ms <= 0 {
            return;
        }
        let _ = self.events.send(Event::Started(message.to_owned()));
        let guard = DropGuard {
            events: Some(self.events.clone()),
            message: message.to_owned(),
        };
        tokio::time::sleep(Duration::from_millis(ms.unsigned_abs().into())).await;
        guard.disarm();
    }
}

/// Reports [`Event::Dropped`] unless disarmed before it is dropped.
struct DropGuard {
    events: Option<mpsc::UnboundedSender<Event>>,
    message: String,
}

impl DropGuard {
    fn disarm(mut self) {
        self.events = None;
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(events) = self.events.take() {
            let _ = events.send(Event::Dropped(std::mem::take(&mut self.message)));
        }
    }
}

/// The `Echo` service used by the tests.
///
/// - `Unary` sleeps `sleep_ms`, then fails with `fail_code`/`fail_message` if `fail_code`
///   is non-zero, else echoes `message` and `payload`.
/// - `ServerStream` sends `repeat` responses (index `0..repeat`, each after `sleep_ms`),
///   then fails with `fail_code` if it is non-zero; with `repeat == 0` and a `fail_code`
///   the handler itself fails, before any response headers.
/// - `ClientStream` concatenates the messages and payloads; `index` is their count. A
///   message with a `fail_code` fails the call.
/// - `Bidi` answers each message as it arrives (`index` counts them); a message with a
///   `fail_code` ends the call with that status.
///
/// Every response copies the `x-echo-*` request metadata into its headers and ends with
/// the trailer `x-trailer: done`; error statuses carry that trailer too.
#[derive(Debug, Clone)]
pub struct TestEcho {
    state: Arc<State>,
}

fn trailer() -> MetadataMap {
    let mut trailers = MetadataMap::new();
    trailers.insert("x-trailer", "done").expect("valid trailer");
    trailers
}

fn reply<T>(message: T, request: &MetadataMap) -> Response<T> {
    let mut response = Response::new(message);
    response
        .metadata_mut()
        .extend_with_prefix(request, "x-echo-");
    *response.trailers_mut() = trailer();
    response
}

fn failure(code: i32, message: &str) -> Status {
    Status::new(Code::from_i32(code), message).with_metadata(trailer())
}

impl Echo for TestEcho {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let msg = request.get_ref();
        self.state.record("Unary", &msg.message, &request);
        self.state.pause(&msg.message, msg.sleep_ms).await;
        if msg.fail_code != 0 {
            return Err(failure(msg.fail_code, &msg.fail_message));
        }
        let response = EchoResponse {
            message: msg.message.clone(),
            payload: msg.payload.clone(),
            index: 0,
        };
        Ok(reply(response, request.metadata()))
    }

    async fn server_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<EchoResponse, Status>> + Send + 'static>,
        Status,
    > {
        self.state
            .record("ServerStream", &request.get_ref().message, &request);
        let (Parts { metadata, .. }, msg) = request.into_parts();
        if msg.repeat <= 0 && msg.fail_code != 0 {
            return Err(failure(msg.fail_code, &msg.fail_message));
        }
        let (tx, rx) = message_stream::channel(4);
        let state = self.state.clone();
        tokio::spawn(async move {
            for index in 0..msg.repeat.max(0) {
                state.pause(&msg.message, msg.sleep_ms).await;
                let response = EchoResponse {
                    message: msg.message.clone(),
                    payload: msg.payload.clone(),
                    index,
                };
                if tx.send(Ok(response)).await.is_err() {
                    let _ = state.events.send(Event::StreamClosed(msg.message));
                    return;
                }
            }
            if msg.fail_code != 0 {
                let _ = tx
                    .send(Err(failure(msg.fail_code, &msg.fail_message)))
                    .await;
            }
        });
        Ok(reply(rx, &metadata))
    }

    async fn client_stream(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        self.state.record("ClientStream", "", &request);
        let (Parts { metadata, .. }, mut stream) = request.into_parts();
        let mut total = EchoResponse::default();
        while let Some(msg) = stream.message().await? {
            if msg.fail_code != 0 {
                return Err(failure(msg.fail_code, &msg.fail_message));
            }
            total.message.push_str(&msg.message);
            total.payload.extend_from_slice(&msg.payload);
            total.index += 1;
        }
        Ok(reply(total, &metadata))
    }

    async fn bidi(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<EchoResponse, Status>> + Send + 'static>,
        Status,
    > {
        self.state.record("Bidi", "", &request);
        let (Parts { metadata, .. }, mut incoming) = request.into_parts();
        let (tx, rx) = message_stream::channel(4);
        tokio::spawn(async move {
            let mut index = 0;
            loop {
                let answer = match incoming.message().await {
                    Ok(Some(msg)) if msg.fail_code != 0 => {
                        Err(failure(msg.fail_code, &msg.fail_message))
                    }
                    Ok(Some(msg)) => Ok(EchoResponse {
                        message: msg.message,
                        payload: msg.payload,
                        index,
                    }),
                    Ok(None) => return,
                    Err(status) => Err(status),
                };
                index += 1;
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(reply(rx, &metadata))
    }
}

/// A running server: its address, what its handlers saw, and a way to stop it.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens (always on 127.0.0.1).
    pub addr: SocketAddr,
    /// What the `Echo` handlers observed.
    pub state: Arc<State>,
    /// Handler events, in order.
    pub events: mpsc::UnboundedReceiver<Event>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), wirecall::Error>>>,
}

/// The test `Echo` service, recording into `state`.
pub fn echo_service(state: Arc<State>) -> EchoServer<TestEcho> {
    EchoServer::new(TestEcho { state })
}

/// Binds a fresh listener on 127.0.0.1, port 0.
pub async fn local_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// Starts a server with the test `Echo` service and default settings.
pub async fn start() -> TestServer {
    start_with(|builder| builder).await
}

/// Starts a server with the test `Echo` service; `configure` may add services or limits.
pub async fn start_with(configure: impl FnOnce(ServerBuilder) -> ServerBuilder) -> TestServer {
    start_on(local_listener().await, configure)
}

/// The test `Echo` service with a state of its own, and the receiver of its events.
pub fn echo_with_events() -> (EchoServer<TestEcho>, mpsc::UnboundedReceiver<Event>) {
    let (events_tx, events) = mpsc::unbounded_channel();
    let state = Arc::new(State {
        seen: Mutex::new(Vec::new()),
        events: events_tx,
    });
    (EchoServer::new(TestEcho { state }), events)
}

/// Serves the test `Echo` service (plus whatever `configure` adds) on `listener`.
pub fn start_on(
    listener: TcpListener,
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> TestServer {
    let addr = listener.local_addr().expect("listener address");
    assert!(addr.ip().is_loopback());
    let (events_tx, events) = mpsc::unbounded_channel();
    let state = Arc::new(State {
        seen: Mutex::new(Vec::new()),
        events: events_tx,
    });
    let echo = TestEcho {
        state: state.clone(),
    };
    let builder = configure(Server::builder().add_service(EchoServer::new(echo)));
    let (shutdown, signal) = oneshot::channel::<()>();
    let task = tokio::spawn(builder.serve_with_listener(listener, async move {
        let _ = signal.await;
    }));
    TestServer {
        addr,
        state,
        events,
        shutdown: Some(shutdown),
        task: Some(task),
    }
}

impl TestServer {
    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An endpoint for this server, with a short connect timeout.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.url())
            .expect("valid url")
            .connect_timeout(Duration::from_secs(5))
    }

    /// A lazily connecting channel to this server.
    pub fn channel(&self) -> Channel {
        self.endpoint().connect_lazy()
    }

    /// An `EchoClient` on a new channel.
    pub fn client(&self) -> EchoClient {
        EchoClient::new(self.channel())
    }

    /// The next handler event, failing the test if none comes within [`LIMIT`].
    pub async fn next_event(&mut self) -> Event {
        bounded("waiting for a handler event", self.events.recv())
            .await
            .expect("the server state keeps the event channel open")
    }

    /// The next event that is not [`Event::Started`], failing the test if none comes within
    /// `limit`.
    pub async fn next_event_after_starts(&mut self, limit: Duration) -> Event {
        let events = &mut self.events;
        let wait = async {
            loop {
                match events.recv().await {
                    Some(Event::Started(_)) => continue,
                    Some(event) => return event,
                    None => panic!("the server state keeps the event channel open"),
                }
            }
        };
        within(limit, "waiting for a handler event", wait).await
    }

    /// The next `Started` event, skipping `Dropped` ones; `None` if none comes within a
    /// second (the caller's connection was closed, say).
    pub async fn next_event_after_cancels(&mut self) -> Option<Event> {
        let events = &mut self.events;
        let wait = async {
            loop {
                match events.recv().await {
                    Some(Event::Dropped(_)) => continue,
                    other => return other,
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(1), wait)
            .await
            .ok()
            .flatten()
    }

    /// Signals a graceful shutdown and hands back the serve task, to be awaited by the test.
    pub fn begin_shutdown(&mut self) -> JoinHandle<Result<(), wirecall::Error>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("not yet shut down")
    }

    /// Signals a graceful shutdown and waits (bounded) until the serve future has finished.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let task = self.task.take().expect("not yet shut down");
        bounded("server shutdown", task)
            .await
            .expect("serve task did not panic")
            .expect("serve returned Ok");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The repository's root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository root")
}

/// The Python of the peers' venv (`target/peers/venv`), with `module` importable:
/// `scripts/install-peers.sh` runs first if it is not.
pub fn peer_python(module: &str) -> std::path::PathBuf {
    let root = repo_root();
    let python = root.join("target/peers/venv/bin/python");
    let ready = python.exists()
        && std::process::Command::new(&python)
            .args(["-c", &format!("import {module}")])
            .status()
            .is_ok_and(|s| s.success());
    if !ready {
        let status = std::process::Command::new("bash")
            .arg("scripts/install-peers.sh")
            .current_dir(&root)
            .status()
            .expect("run scripts/install-peers.sh");
        assert!(status.success(), "scripts/install-peers.sh failed");
    }
    python
}

/// A request whose handler sleeps `ms` (and announces its start) before answering.
pub fn sleeping(message: &str, ms: i32) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        sleep_ms: ms,
        ..EchoRequest::default()
    }
}

/// A request whose `Unary` handler fails with `code` and `message`.
pub fn failing(code: i32, message: &str) -> EchoRequest {
    EchoRequest {
        message: "x".to_owned(),
        fail_code: code,
        fail_message: message.to_owned(),
        ..EchoRequest::default()
    }
}

/// An `EchoRequest` carrying only `message`.
pub fn echo(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        ..EchoRequest::default()
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound once, then released).
pub async fn unused_port() -> u16 {
    let listener = local_listener().await;
    listener.local_addr().expect("address").port()
}

/// One gRPC length-prefixed message with the given compressed flag.
pub fn grpc_frame(compressed: bool, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(5 + payload.len());
    buf.put_u8(u8::from(compressed));
    buf.put_u32(u32::try_from(payload.len()).expect("small payload"));
    buf.put_slice(payload);
    buf.freeze()
}

/// A framed, protobuf-encoded `EchoRequest`.
pub fn framed_echo(request: &EchoRequest) -> Bytes {
    grpc_frame(false, &prost::Message::encode_to_vec(request))
}

/// A minimal `Features` service, served next to `Echo`.
pub struct TestFeatures;

impl wirecall_tests::wirecall::test::features::Features for TestFeatures {
    async fn reflect(&self, request: Request<Everything>) -> Result<Response<Everything>, Status> {
        Ok(Response::new(request.into_inner()))
    }

    async fn ping(&self, _request: Request<()>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }

    async fn points(
        &self,
        _request: Request<()>,
    ) -> Result<
        Response<
            impl wirecall::Stream<
                    Item = Result<wirecall_tests::wirecall::test::common::Point, Status>,
                > + Send
                + 'static,
        >,
        Status,
    > {
        let points = (0..3).map(|i| {
            Ok(wirecall_tests::wirecall::test::common::Point {
                x: f64::from(i),
                y: -f64::from(i) / 2.0,
            })
        });
        Ok(Response::new(message_stream::iter(points)))
    }
}
