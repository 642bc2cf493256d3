//! Retries, hedging, throttling, pushback, transparent retry and the per-method service
//! config, against real servers on 127.0.0.1.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{bounded, echo, local_listener, sleeping};
use tokio::sync::mpsc;
use wirecall::{Code, Endpoint, Request, Response, Server, Status};
use wirecall_tests::echo::EchoClient;
use wirecall_tests::greeter::{Greeter, GreeterClient, GreeterServer, HelloReply, HelloRequest};

/// Each attempt's `grpc-previous-rpc-attempts` header and arrival time, in arrival order.
type Attempts = Arc<Mutex<Vec<(Option<String>, Instant)>>>;

/// What a [`Flaky`] server does with attempt `n` (counted from 0 in arrival order).
type Script = dyn Fn(usize) -> Step + Send + Sync;

enum Step {
    Answer,
    Fail(Code, Option<&'static str>),
    /// Waits until cancelled (reported on the events channel).
    Hang,
}

/// A Greeter that follows a script per attempt and records each attempt's
/// `grpc-previous-rpc-attempts` header and arrival time.
#[derive(Clone)]
struct Flaky {
    script: Arc<Script>,
    seen: Attempts,
    cancelled: mpsc::UnboundedSender<usize>,
}

struct OnDrop(Option<(mpsc::UnboundedSender<usize>, usize)>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some((events, n)) = self.0.take() {
            let _ = events.send(n);
        }
    }
}

impl Greeter for Flaky {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let header = request
            .metadata()
            .get("grpc-previous-rpc-attempts")
            .map(str::to_owned);
        let n = {
            let mut seen = self.seen.lock().unwrap();
            seen.push((header, Instant::now()));
            seen.len() - 1
        };
        match (self.script)(n) {
            Step::Answer => Ok(Response::new(HelloReply {
                message: format!("attempt {n}"),
            })),
            Step::Fail(code, pushback) => {
                let mut status = Status::new(code, format!("attempt {n} fails"));
                if let Some(ms) = pushback {
                    status
                        .metadata_mut()
                        .insert("grpc-retry-pushback-ms", ms)
                        .unwrap();
                }
                Err(status)
            }
            Step::Hang => {
                let guard = OnDrop(Some((self.cancelled.clone(), n)));
                std::future::pending::<()>().await;
                drop(guard);
                unreachable!()
            }
        }
    }
}

struct FlakyServer {
    addr: SocketAddr,
    seen: Attempts,
    cancelled: mpsc::UnboundedReceiver<usize>,
    _task: tokio::task::JoinHandle<Result<(), wirecall::Error>>,
}

impl FlakyServer {
    async fn start(script: impl Fn(usize) -> Step + Send + Sync + 'static) -> FlakyServer {
        let listener = local_listener().await;
        let addr = listener.local_addr().unwrap();
        let (cancelled_tx, cancelled) = mpsc::unbounded_channel();
        let flaky = Flaky {
            script: Arc::new(script),
            seen: Arc::default(),
            cancelled: cancelled_tx,
        };
        let seen = flaky.seen.clone();
        let server = Server::builder().add_service(GreeterServer::new(flaky));
        let task = tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
        FlakyServer {
            addr,
            seen,
            cancelled,
            _task: task,
        }
    }

    fn client(&self, service_config: &str) -> GreeterClient {
        let channel = Endpoint::new(format!("http://{}", self.addr))
            .unwrap()
            .service_config_json(service_config)
            .expect("the service config parses")
            .connect_lazy();
        GreeterClient::new(channel)
    }

    fn headers(&self) -> Vec<Option<String>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(h, _)| h.clone())
            .collect()
    }
}

fn retry_config(max_attempts: u32, extra: &str) -> String {
    format!(
        r#"{{
          "methodConfig": [{{
            "name": [{{"service": "greeter.Greeter"}}],
            "retryPolicy": {{
              "maxAttempts": {max_attempts}, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
              "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]
            }}
          }}]{extra}
        }}"#
    )
}

fn hello() -> HelloRequest {
    HelloRequest {
        name: "retry".into(),
    }
}

#[tokio::test]
async fn unavailable_then_ok_is_retried_with_the_attempts_header() {
    let server = FlakyServer::start(|n| {
        if n < 2 {
            Step::Fail(Code::Unavailable, None)
        } else {
            Step::Answer
        }
    })
    .await;
    let client = server.client(&retry_config(4, ""));
    let reply = bounded("retried call", client.say_hello(hello()))
        .await
        .expect("third attempt answers");
    assert_eq!(reply.get_ref().message, "attempt 2");
    assert_eq!(server.headers(), [None, Some("1".into()), Some("2".into())]);
}

#[tokio::test]
async fn retries_stop_at_max_attempts_and_on_other_codes() {
    let always = FlakyServer::start(|_| Step::Fail(Code::Unavailable, None)).await;
    let status = bounded(
        "call",
        always.client(&retry_config(3, "")).say_hello(hello()),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(always.headers().len(), 3, "maxAttempts 3");

    let internal = FlakyServer::start(|_| Step::Fail(Code::Internal, None)).await;
    let status = bounded(
        "call",
        internal.client(&retry_config(5, "")).say_hello(hello()),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(
        internal.headers().len(),
        1,
        "INTERNAL is not retryable here"
    );
}

#[tokio::test]
async fn pushback_sets_the_delay_or_stops_retrying() {
    let delayed = FlakyServer::start(|n| {
        if n == 0 {
            Step::Fail(Code::Unavailable, Some("300"))
        } else {
            Step::Answer
        }
    })
    .await;
    let started = Instant::now();
    bounded(
        "call",
        delayed.client(&retry_config(3, "")).say_hello(hello()),
    )
    .await
    .expect("the retry answers");
    let seen = delayed.seen.lock().unwrap().clone();
    let gap = seen[1].1 - seen[0].1;
    assert!(
        gap >= Duration::from_millis(300),
        "the retry waited the pushback: {gap:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    let refused = FlakyServer::start(|_| Step::Fail(Code::Unavailable, Some("-1"))).await;
    let status = bounded(
        "call",
        refused.client(&retry_config(5, "")).say_hello(hello()),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        refused.headers().len(),
        1,
        "a negative pushback means no retry"
    );
}

#[tokio::test]
async fn throttling_stops_retries_when_the_token_bucket_is_drained() {
    let server = FlakyServer::start(|_| Step::Fail(Code::Unavailable, None)).await;
    // 4 tokens: retries only while more than 2 remain; each failed attempt spends one.
    let client = server.client(&retry_config(
        5,
        r#", "retryThrottling": {"maxTokens": 4, "tokenRatio": 0.1}"#,
    ));
    let mut attempts = Vec::new();
    for _ in 0..3 {
        let before = server.headers().len();
        let status = bounded("call", client.say_hello(hello()))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        attempts.push(server.headers().len() - before);
    }
    // Call 1: fails (3 tokens), retries, fails (2 tokens: no more). Calls 2 and 3: one
    // attempt each.
    assert_eq!(attempts, [2, 1, 1]);
}

#[tokio::test]
async fn hedging_sends_the_next_attempt_after_the_delay_and_cancels_the_loser() {
    let mut server = FlakyServer::start(|n| if n == 0 { Step::Hang } else { Step::Answer }).await;
    let client = server.client(
        r#"{
          "methodConfig": [{
            "name": [{"service": "greeter.Greeter", "method": "SayHello"}],
            "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "0.2s", "nonFatalStatusCodes": ["UNAVAILABLE"]}
          }]
        }"#,
    );
    let reply = bounded("hedged call", client.say_hello(hello()))
        .await
        .expect("the hedge answers");
    assert_eq!(reply.get_ref().message, "attempt 1");
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "the hanging first attempt and the hedge");
    let gap = seen[1].1 - seen[0].1;
    assert!(
        gap >= Duration::from_millis(200),
        "hedge after the delay: {gap:?}"
    );
    assert_eq!(seen[1].0.as_deref(), Some("1"));
    let cancelled = bounded("the losing attempt is cancelled", server.cancelled.recv()).await;
    assert_eq!(cancelled, Some(0));
}

#[tokio::test]
async fn hedging_sends_the_next_attempt_at_once_after_a_non_fatal_failure() {
    let server = FlakyServer::start(|n| {
        if n == 0 {
            Step::Fail(Code::Unavailable, None)
        } else {
            Step::Answer
        }
    })
    .await;
    let client = server.client(
        r#"{
          "methodConfig": [{
            "name": [{"service": "greeter.Greeter"}],
            "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "5s", "nonFatalStatusCodes": ["UNAVAILABLE"]}
          }]
        }"#,
    );
    let started = Instant::now();
    let reply = bounded("hedged call", client.say_hello(hello()))
        .await
        .expect("answers");
    assert_eq!(reply.get_ref().message, "attempt 1");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "did not wait the 5 s delay"
    );
}

#[tokio::test]
async fn the_method_config_sets_timeouts_limits_and_wait_for_ready() {
    let server = common::start().await;
    let config = r#"{
      "methodConfig": [
        {"name": [{"service": "wirecall.test.echo.Echo", "method": "Unary"}],
         "timeout": "0.2s", "maxRequestMessageBytes": 64},
        {"name": [{"service": "wirecall.test.echo.Echo", "method": "ServerStream"}],
         "maxResponseMessageBytes": 64},
        {"name": [{}], "waitForReady": true}
      ]
    }"#;
    let channel = server
        .endpoint()
        .service_config_json(config)
        .unwrap()
        .connect_lazy();
    let client = EchoClient::new(channel);
    let status = bounded("slow call", client.unary(sleeping("slow", 2000)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let mut big = echo("big");
    big.payload = vec![7; 100];
    let status = bounded("big call", client.unary(big)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    bounded("small call", client.unary(echo("small")))
        .await
        .expect("fits");
    // The response limit: 100 payload bytes back are over the method's 64.
    let mut stream_request = echo("big reply");
    stream_request.repeat = 1;
    stream_request.payload = vec![1; 100];
    let mut replies = bounded("stream opens", client.server_stream(stream_request))
        .await
        .expect("headers arrive")
        .into_inner();
    let status = bounded("oversized reply", replies.message())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // The default entry's waitForReady: a call to a server not yet up waits for it.
    let addr = common::backends::free_addr([127, 0, 0, 6]);
    let channel = Endpoint::new(format!("http://{addr}"))
        .unwrap()
        .service_config_json(config)
        .unwrap()
        .connection_backoff(
            wirecall::client::BackoffConfig::default()
                .with_initial(Duration::from_millis(20))
                .with_max(Duration::from_millis(100)),
        )
        .connect_lazy();
    let waiting = tokio::spawn({
        let client = EchoClient::new(channel.clone());
        async move {
            // A client stream: no method entry of its own, so the default entry applies
            // (the most specific entry wins whole: ServerStream's has no waitForReady).
            let mut request = Request::new(wirecall::message_stream::iter(vec![echo("patient")]));
            request.set_timeout(Duration::from_secs(8));
            client.client_stream(request).await.map(drop)
        }
    });
    bounded("the channel fails its first connect", async {
        let mut state = channel.state();
        while state != wirecall::client::ConnectivityState::TransientFailure {
            state = channel.state_changed(state).await;
        }
    })
    .await;
    let late = common::start_on(
        tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the late server"),
        |b| b,
    );
    bounded("the waiting call", waiting)
        .await
        .unwrap()
        .expect("waited for the server");
    assert_eq!(late.state.seen().len(), 1);
}

/// A raw HTTP/2 server that refuses the first `refuse` streams with RST_STREAM
/// REFUSED_STREAM (as a server does with streams its application never saw) and answers
/// the others with an empty gRPC message and status OK. Returns its address and the count
/// of streams it got.
async fn refusing_server(refuse: usize) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let streams = Arc::new(AtomicUsize::new(0));
    let count = streams.clone();
    tokio::spawn(async move {
        while let Ok((io, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(io).await else {
                    return;
                };
                while let Some(Ok((_request, mut respond))) = conn.accept().await {
                    if count.fetch_add(1, Ordering::SeqCst) < refuse {
                        respond.send_reset(h2::Reason::REFUSED_STREAM);
                        continue;
                    }
                    let response = http::Response::builder()
                        .header("content-type", "application/grpc")
                        .body(())
                        .unwrap();
                    let mut stream = respond.send_response(response, false).unwrap();
                    stream
                        .send_data(common::grpc_frame(false, b""), false)
                        .unwrap();
                    let mut trailers = http::HeaderMap::new();
                    trailers.insert("grpc-status", "0".parse().unwrap());
                    stream.send_trailers(trailers).unwrap();
                }
            });
        }
    });
    (addr, streams)
}

#[tokio::test]
async fn refused_streams_are_retried_transparently_without_a_policy() {
    use std::sync::atomic::Ordering;
    use wirecall::codec::BytesCodec;
    let path = wirecall::codegen::PathAndQuery::from_static("/raw.Test/Call");

    let (addr, streams) = refusing_server(1).await;
    let channel = Endpoint::new(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let call = channel.unary_with(
        Request::new(bytes::Bytes::new()),
        path.clone(),
        BytesCodec,
        BytesCodec,
    );
    let response = bounded("a refused call", call)
        .await
        .expect("resent and answered");
    assert!(response.get_ref().is_empty());
    assert_eq!(
        streams.load(Ordering::SeqCst),
        2,
        "one refused, one answered"
    );

    // Refused every time: a few transparent resends, then the refusal is the answer.
    let (addr, streams) = refusing_server(usize::MAX).await;
    let channel = Endpoint::new(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let call = channel.unary_with(
        Request::new(bytes::Bytes::new()),
        path,
        BytesCodec,
        BytesCodec,
    );
    let status = bounded("an always refused call", call).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        streams.load(Ordering::SeqCst),
        4,
        "the attempt and three resends"
    );
}

/// An Echo whose streaming methods fail their first attempt with UNAVAILABLE after
/// reading one request message (before any response), and answer later attempts; every
/// attempt's header and request messages are recorded.
#[derive(Clone, Default)]
struct FlakyStreams {
    attempts: Arc<Mutex<Vec<StreamAttempt>>>,
}

/// One attempt's `grpc-previous-rpc-attempts` header and the request messages it read.
type StreamAttempt = (Option<String>, Vec<String>);

impl FlakyStreams {
    fn record(&self, header: Option<String>, messages: Vec<String>) -> usize {
        let mut attempts = self.attempts.lock().unwrap();
        attempts.push((header, messages));
        attempts.len() - 1
    }
}

use wirecall::message_stream;
use wirecall_tests::echo::{Echo, EchoRequest, EchoResponse, EchoServer};

fn attempt_header<T>(request: &Request<T>) -> Option<String> {
    request
        .metadata()
        .get("grpc-previous-rpc-attempts")
        .map(str::to_owned)
}

impl Echo for FlakyStreams {
    async fn unary(&self, _: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        Err(Status::unimplemented("streams only"))
    }

    async fn server_stream(
        &self,
        _: Request<EchoRequest>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<EchoResponse, Status>> + Send + 'static>,
        Status,
    > {
        Err::<Response<message_stream::Iter<std::vec::IntoIter<Result<EchoResponse, Status>>>>, _>(
            Status::unimplemented("streams only"),
        )
    }

    async fn client_stream(
        &self,
        request: Request<wirecall::Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let header = attempt_header(&request);
        let mut stream = request.into_inner();
        let mut messages = Vec::new();
        if header.is_none() {
            if let Some(first) = stream.message().await? {
                messages.push(first.message);
            }
            self.record(header, messages);
            return Err(Status::unavailable("first attempt fails"));
        }
        while let Some(message) = stream.message().await? {
            messages.push(message.message);
        }
        let joined = messages.join(",");
        self.record(header, messages);
        Ok(Response::new(EchoResponse {
            message: joined,
            ..EchoResponse::default()
        }))
    }

    async fn bidi(
        &self,
        request: Request<wirecall::Streaming<EchoRequest>>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<EchoResponse, Status>> + Send + 'static>,
        Status,
    > {
        let header = attempt_header(&request);
        let mut incoming = request.into_inner();
        if header.is_none() {
            let first = incoming.message().await?.map(|m| m.message);
            self.record(header, first.into_iter().collect());
            return Err(Status::unavailable("first attempt fails"));
        }
        let (tx, rx) = message_stream::channel(4);
        let this = self.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Ok(Some(message)) = incoming.message().await {
                seen.push(message.message.clone());
                let answer = EchoResponse {
                    message: message.message,
                    ..EchoResponse::default()
                };
                if tx.send(Ok(answer)).await.is_err() {
                    break;
                }
            }
            this.record(header, seen);
        });
        Ok(Response::new(rx))
    }
}

async fn flaky_streams(
    per_rpc_buffer_limit: usize,
) -> (FlakyStreams, wirecall_tests::echo::EchoClient) {
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let service = FlakyStreams::default();
    let server = Server::builder().add_service(EchoServer::new(service.clone()));
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    let config = r#"{
      "methodConfig": [{
        "name": [{"service": "wirecall.test.echo.Echo"}],
        "retryPolicy": {
          "maxAttempts": 3, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
          "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]
        }
      }]
    }"#;
    let channel = Endpoint::new(format!("http://{addr}"))
        .unwrap()
        .service_config_json(config)
        .unwrap()
        .per_rpc_buffer_limit(per_rpc_buffer_limit)
        .connect_lazy();
    (service, EchoClient::new(channel))
}

fn messages(names: &[&str]) -> message_stream::Iter<std::vec::IntoIter<EchoRequest>> {
    message_stream::iter(names.iter().map(|n| echo(n)).collect::<Vec<_>>())
}

#[tokio::test]
async fn client_streaming_retries_replay_every_message() {
    let (service, client) = flaky_streams(256 << 10).await;
    let response = bounded(
        "retried client stream",
        client.client_stream(messages(&["a", "b", "c"])),
    )
    .await
    .expect("the retry answers");
    assert_eq!(response.get_ref().message, "a,b,c");
    let attempts = service.attempts.lock().unwrap().clone();
    assert_eq!(
        attempts,
        [
            (None, vec!["a".to_owned()]),
            (
                Some("1".to_owned()),
                vec!["a".into(), "b".into(), "c".into()]
            )
        ]
    );
}

#[tokio::test]
async fn bidi_retries_replay_and_continue_the_stream() {
    let (service, client) = flaky_streams(256 << 10).await;
    let (tx, rx) = message_stream::channel(4);
    let mut responses = bounded("bidi opens", client.bidi(rx))
        .await
        .expect("opens")
        .into_inner();
    tx.send(echo("one")).await.unwrap();
    // The first attempt fails after "one"; the retry gets "one" again, then "two".
    let first = bounded("first answer", responses.message())
        .await
        .expect("no error")
        .expect("an answer");
    assert_eq!(first.message, "one");
    tx.send(echo("two")).await.unwrap();
    let second = bounded("second answer", responses.message())
        .await
        .expect("no error")
        .expect("an answer");
    assert_eq!(second.message, "two");
    drop(tx);
    assert!(bounded("end", responses.message())
        .await
        .expect("no error")
        .is_none());
    let attempts = service.attempts.lock().unwrap().clone();
    assert_eq!(attempts[0], (None, vec!["one".to_owned()]));
    assert_eq!(
        attempts[1],
        (
            Some("1".to_owned()),
            vec!["one".to_owned(), "two".to_owned()]
        )
    );
}

#[tokio::test]
async fn a_stream_past_the_buffer_limit_is_not_retried() {
    // 8 bytes: the first message already overflows, committing the first attempt.
    let (service, client) = flaky_streams(8).await;
    let status = bounded(
        "client stream",
        client.client_stream(messages(&["a long first message", "b"])),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        service.attempts.lock().unwrap().len(),
        1,
        "committed: no retry"
    );
}

/// What a [`Scripted`] streaming attempt does, by arrival order (counted from 0).
#[derive(Debug, Clone, Copy)]
enum Play {
    /// Reads every request message and never answers (until cancelled).
    Hang,
    /// Answers: a client stream with its messages joined once they have all come and
    /// `after` has passed, a bidi call at once, echoing each message as it comes.
    Answer { after: Duration },
}

const AT_ONCE: Play = Play::Answer {
    after: Duration::ZERO,
};

/// What an attempt of a [`Scripted`] server did, reported as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Did {
    /// Attempt `n` read a request message.
    Read(usize, String),
    /// Attempt `n`'s request stream ended (or failed).
    Ended(usize),
    /// Hanging attempt `n` was cancelled (its handler dropped).
    Gone(usize),
}

/// Reports [`Did::Gone`] when dropped.
struct Goes(mpsc::UnboundedSender<Did>, usize);

impl Drop for Goes {
    fn drop(&mut self) {
        let _ = self.0.send(Did::Gone(self.1));
    }
}

/// An Echo whose streaming methods play a script per attempt, recording each attempt's
/// `grpc-previous-rpc-attempts` header and request messages as they are read.
#[derive(Clone)]
struct Scripted {
    script: Arc<dyn Fn(usize) -> Play + Send + Sync>,
    attempts: Arc<Mutex<Vec<StreamAttempt>>>,
    did: mpsc::UnboundedSender<Did>,
}

impl Scripted {
    /// Records a new attempt: its number and what it plays.
    fn begin<T>(&self, request: &Request<T>) -> (usize, Play) {
        let mut attempts = self.attempts.lock().unwrap();
        attempts.push((attempt_header(request), Vec::new()));
        let n = attempts.len() - 1;
        (n, (self.script)(n))
    }

    /// Attempt `n`'s next request message, recorded and reported; `None` at the end.
    async fn read(
        &self,
        n: usize,
        incoming: &mut wirecall::Streaming<EchoRequest>,
    ) -> Option<EchoRequest> {
        match incoming.message().await {
            Ok(Some(message)) => {
                self.attempts.lock().unwrap()[n]
                    .1
                    .push(message.message.clone());
                let _ = self.did.send(Did::Read(n, message.message.clone()));
                Some(message)
            }
            _ => {
                let _ = self.did.send(Did::Ended(n));
                None
            }
        }
    }
}

impl Echo for Scripted {
    async fn unary(&self, _: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        Err(Status::unimplemented("streams only"))
    }

    async fn server_stream(
        &self,
        _: Request<EchoRequest>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<EchoResponse, Status>> + Send + 'static>,
        Status,
    > {
        Err::<Response<message_stream::Iter<std::vec::IntoIter<Result<EchoResponse, Status>>>>, _>(
            Status::unimplemented("streams only"),
        )
    }

    async fn client_stream(
        &self,
        request: Request<wirecall::Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let (n, play) = self.begin(&request);
        let _gone = matches!(play, Play::Hang).then(|| Goes(self.did.clone(), n));
        let mut incoming = request.into_inner();
        let mut names = Vec::new();
        while let Some(message) = self.read(n, &mut incoming).await {
            names.push(message.message);
        }
        match play {
            Play::Hang => std::future::pending().await,
            Play::Answer { after } => {
                tokio::time::sleep(after).await;
                Ok(Response::new(EchoResponse {
                    message: names.join(","),
                    ..EchoResponse::default()
                }))
            }
        }
    }

    async fn bidi(
        &self,
        request: Request<wirecall::Streaming<EchoRequest>>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<EchoResponse, Status>> + Send + 'static>,
        Status,
    > {
        let (n, play) = self.begin(&request);
        let mut incoming = request.into_inner();
        if let Play::Hang = play {
            let _gone = Goes(self.did.clone(), n);
            while self.read(n, &mut incoming).await.is_some() {}
            std::future::pending::<()>().await;
        }
        let (tx, rx) = message_stream::channel(4);
        let this = self.clone();
        tokio::spawn(async move {
            while let Some(message) = this.read(n, &mut incoming).await {
                let answer = EchoResponse {
                    message: message.message,
                    ..EchoResponse::default()
                };
                if tx.send(Ok(answer)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(rx))
    }
}

/// A [`Scripted`] Echo server on 127.0.0.1, and what its attempts did.
struct ScriptedServer {
    addr: SocketAddr,
    attempts: Arc<Mutex<Vec<StreamAttempt>>>,
    did: mpsc::UnboundedReceiver<Did>,
    /// Every report received so far.
    seen: Vec<Did>,
}

impl ScriptedServer {
    async fn start(script: impl Fn(usize) -> Play + Send + Sync + 'static) -> ScriptedServer {
        let listener = local_listener().await;
        let addr = listener.local_addr().unwrap();
        let (did_tx, did) = mpsc::unbounded_channel();
        let service = Scripted {
            script: Arc::new(script),
            attempts: Arc::default(),
            did: did_tx,
        };
        let attempts = service.attempts.clone();
        let server = Server::builder().add_service(EchoServer::new(service));
        tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
        ScriptedServer {
            addr,
            attempts,
            did,
            seen: Vec::new(),
        }
    }

    /// A client with the Echo `policy` (a `retryPolicy` or `hedgingPolicy` entry) and the
    /// given per-call buffer limit.
    fn client(&self, policy: &str, per_rpc_buffer_limit: usize) -> EchoClient {
        let config = format!(
            r#"{{"methodConfig": [{{"name": [{{"service": "wirecall.test.echo.Echo"}}], {policy}}}]}}"#
        );
        let channel = Endpoint::new(format!("http://{}", self.addr))
            .unwrap()
            .service_config_json(&config)
            .expect("the service config parses")
            .per_rpc_buffer_limit(per_rpc_buffer_limit)
            .connect_lazy();
        EchoClient::new(channel)
    }

    fn attempts(&self) -> Vec<StreamAttempt> {
        self.attempts.lock().unwrap().clone()
    }

    /// Waits (bounded) until the server reported `what`.
    async fn saw(&mut self, what: Did) {
        let (did, seen) = (&mut self.did, &mut self.seen);
        bounded(&format!("the server to report {what:?}"), async {
            while !seen.contains(&what) {
                seen.push(
                    did.recv()
                        .await
                        .expect("the service keeps the channel open"),
                );
            }
        })
        .await;
    }
}

fn hedging_policy(max_attempts: u32, delay: &str) -> String {
    format!(
        r#""hedgingPolicy": {{"maxAttempts": {max_attempts}, "hedgingDelay": "{delay}",
            "nonFatalStatusCodes": ["UNAVAILABLE"]}}"#
    )
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn a_hedged_client_stream_goes_to_every_attempt_and_the_first_answer_wins() {
    let mut server = ScriptedServer::start(|n| if n == 0 { Play::Hang } else { AT_ONCE }).await;
    let client = server.client(&hedging_policy(2, "0.1s"), 256 << 10);
    let response = bounded(
        "hedged client stream",
        client.client_stream(messages(&["a", "b", "c"])),
    )
    .await
    .expect("the hedge answers");
    assert_eq!(response.get_ref().message, "a,b,c");
    // The hanging first attempt had every message too, and is cancelled.
    server.saw(Did::Ended(0)).await;
    server.saw(Did::Gone(0)).await;
    assert_eq!(
        server.attempts(),
        [
            (None, strings(&["a", "b", "c"])),
            (Some("1".to_owned()), strings(&["a", "b", "c"])),
        ]
    );
}

#[tokio::test]
async fn a_hedged_bidi_call_replays_to_the_late_attempt_and_continues_on_the_winner() {
    let mut server = ScriptedServer::start(|n| if n == 0 { Play::Hang } else { AT_ONCE }).await;
    let client = server.client(&hedging_policy(2, "0.1s"), 256 << 10);
    let (tx, rx) = message_stream::channel(4);
    let mut responses = bounded("bidi opens", client.bidi(rx))
        .await
        .expect("opens")
        .into_inner();
    tx.send(echo("one")).await.unwrap();
    // The first attempt reads "one" and never answers; the hedge gets "one" replayed.
    server.saw(Did::Read(0, "one".into())).await;
    let first = bounded("first answer", responses.message())
        .await
        .expect("no error")
        .expect("an answer");
    assert_eq!(first.message, "one");
    server.saw(Did::Gone(0)).await;
    tx.send(echo("two")).await.unwrap();
    let second = bounded("second answer", responses.message())
        .await
        .expect("no error")
        .expect("an answer");
    assert_eq!(second.message, "two");
    drop(tx);
    assert!(bounded("end", responses.message())
        .await
        .expect("no error")
        .is_none());
    assert_eq!(
        server.attempts(),
        [
            (None, strings(&["one"])),
            (Some("1".to_owned()), strings(&["one", "two"])),
        ]
    );
}

#[tokio::test]
async fn a_hedged_stream_past_the_buffer_commits_to_the_attempt_sent_the_most() {
    // Three attempts 0.1 s apart allowed; the request outgrows the 64-byte buffer once both
    // of the first two have "one". The first is kept (both were sent as much; the earlier
    // wins), the second is cancelled, and no third is sent although the first answers only
    // 0.3 s after the request ends (past the third's time).
    let mut server = ScriptedServer::start(|n| match n {
        0 => Play::Answer {
            after: Duration::from_millis(300),
        },
        _ => Play::Hang,
    })
    .await;
    let client = server.client(&hedging_policy(3, "0.1s"), 64);
    let (tx, rx) = message_stream::channel(4);
    let call = tokio::spawn(async move { client.client_stream(rx).await });
    tx.send(echo("one")).await.unwrap();
    server.saw(Did::Read(0, "one".into())).await;
    server.saw(Did::Read(1, "one".into())).await;
    let mut big = echo("big");
    big.payload = vec![7; 100];
    tx.send(big).await.unwrap();
    server.saw(Did::Gone(1)).await;
    // Sent unbuffered from here on, to the attempt kept.
    tx.send(echo("three")).await.unwrap();
    drop(tx);
    let response = bounded("the kept attempt answers", call)
        .await
        .unwrap()
        .expect("answered");
    assert_eq!(response.get_ref().message, "one,big,three");
    assert_eq!(
        server.attempts(),
        [
            (None, strings(&["one", "big", "three"])),
            (Some("1".to_owned()), strings(&["one"])),
        ],
        "no third hedge once committed"
    );
}

fn recv_timeout_config(max_attempts: u32, timeout: &str) -> String {
    format!(
        r#"{{
          "methodConfig": [{{
            "name": [{{"service": "greeter.Greeter"}}, {{"service": "wirecall.test.echo.Echo"}}],
            "retryPolicy": {{
              "maxAttempts": {max_attempts}, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
              "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"],
              "perAttemptRecvTimeout": "{timeout}"
            }}
          }}]
        }}"#
    )
}

#[tokio::test]
async fn per_attempt_recv_timeout_cancels_a_silent_attempt_and_retries() {
    let mut server = FlakyServer::start(|n| if n == 0 { Step::Hang } else { Step::Answer }).await;
    // CANCELLED is not among the retryable codes: the timeout is retried all the same.
    let client = server.client(&recv_timeout_config(3, "0.2s"));
    let started = Instant::now();
    let reply = bounded("call", client.say_hello(hello()))
        .await
        .expect("the retry answers");
    assert_eq!(reply.get_ref().message, "attempt 1");
    assert_eq!(server.headers(), [None, Some("1".into())]);
    let seen = server.seen.lock().unwrap().clone();
    let retried = seen[1].1 - started;
    assert!(
        retried >= Duration::from_millis(200),
        "retried after the timeout: {retried:?}"
    );
    let cancelled = bounded("the silent attempt is cancelled", server.cancelled.recv()).await;
    assert_eq!(cancelled, Some(0));
}

#[tokio::test]
async fn per_attempt_recv_timeout_fails_with_cancelled_after_max_attempts() {
    let mut server = FlakyServer::start(|_| Step::Hang).await;
    let client = server.client(&recv_timeout_config(3, "0.1s"));
    let status = bounded("call", client.say_hello(hello()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    assert!(
        status.message().contains("perAttemptRecvTimeout"),
        "{status:?}"
    );
    assert_eq!(server.headers(), [None, Some("1".into()), Some("2".into())]);
    let mut cancelled = Vec::new();
    for _ in 0..3 {
        cancelled.push(bounded("each attempt is cancelled", server.cancelled.recv()).await);
    }
    cancelled.sort();
    assert_eq!(cancelled, [Some(0), Some(1), Some(2)]);
}

#[tokio::test]
async fn per_attempt_recv_timeout_does_not_cut_a_slow_stream_once_headers_arrived() {
    let server = common::start().await;
    let channel = server
        .endpoint()
        .service_config_json(&recv_timeout_config(3, "0.1s"))
        .unwrap()
        .connect_lazy();
    let client = EchoClient::new(channel);
    // Headers at once, then a message every 0.15 s: each gap is past the timeout.
    let mut request = sleeping("slow", 150);
    request.repeat = 3;
    let mut replies = bounded("stream opens", client.server_stream(request))
        .await
        .expect("headers arrive")
        .into_inner();
    let mut indexes = Vec::new();
    while let Some(reply) = bounded("next reply", replies.message())
        .await
        .expect("no error")
    {
        indexes.push(reply.index);
    }
    assert_eq!(indexes, [0, 1, 2]);
    assert_eq!(server.state.seen().len(), 1, "one attempt");
}

#[tokio::test]
async fn per_attempt_recv_timeout_retries_a_silent_client_stream_with_every_message() {
    let mut server = ScriptedServer::start(|n| if n == 0 { Play::Hang } else { AT_ONCE }).await;
    let policy = r#""retryPolicy": {
        "maxAttempts": 3, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
        "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"],
        "perAttemptRecvTimeout": "0.2s"}"#;
    let client = server.client(policy, 256 << 10);
    let response = bounded(
        "retried client stream",
        client.client_stream(messages(&["a", "b", "c"])),
    )
    .await
    .expect("the retry answers");
    assert_eq!(response.get_ref().message, "a,b,c");
    server.saw(Did::Gone(0)).await;
    let attempts = server.attempts();
    assert_eq!(attempts[0].0, None);
    assert_eq!(
        attempts[1],
        (Some("1".to_owned()), strings(&["a", "b", "c"]))
    );
}
