//! Client interceptors over real sockets: metadata they add reaches the server, a refusal
//! never leaves the process, every message of every pattern is reported, and `on_end`
//! gets the status the call really ended with.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wirecall::interceptor::{
    BearerAuth, BearerToken, ClientCallInfo, ClientInterceptor, Direction, Intercepted,
    OutgoingCall,
};
use wirecall::message_stream;
use wirecall::{Code, Request, Status};
use wirecall_tests::echo::{EchoClient, EchoRequest};

use common::{bounded, echo};

type Log = Arc<Mutex<Vec<String>>>;

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// Logs every hook, prefixed with its name; adds `x-client: <name>`; refuses calls whose
/// request metadata already says `x-refuse: <name>`.
struct Recorder {
    name: &'static str,
    log: Log,
}

impl Recorder {
    fn push(&self, line: String) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} {line}", self.name));
    }
}

impl ClientInterceptor for Recorder {
    async fn on_call(&self, call: &mut OutgoingCall) -> Result<(), Status> {
        tokio::task::yield_now().await;
        self.push(format!("call {}", call.info().method()));
        if call.metadata().get("x-refuse") == Some(self.name) {
            return Err(Status::failed_precondition(format!(
                "{} refuses",
                self.name
            )));
        }
        call.metadata_mut()
            .append("x-client", self.name)
            .expect("metadata");
        Ok(())
    }

    fn on_message(&self, _call: &ClientCallInfo, direction: Direction, size: usize) {
        self.push(format!("{direction:?} {size}"));
    }

    fn on_end(&self, call: &ClientCallInfo, status: &Status) {
        self.push(format!("end {} {:?}", call.method(), status.code()));
    }
}

fn framed(message: &impl prost::Message) -> usize {
    5 + message.encoded_len()
}

fn client_with_recorders(server: &common::TestServer, log: &Log) -> EchoClient {
    let recorder = |name| Recorder {
        name,
        log: log.clone(),
    };
    let channel = server
        .endpoint()
        .interceptor(recorder("c1"))
        .interceptor(recorder("c2"))
        .connect_lazy();
    EchoClient::new(channel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_hooks_run_in_order_and_metadata_reaches_the_server() {
    let server = common::start().await;
    let log = Log::default();
    let client = client_with_recorders(&server, &log);

    let request = echo("hi");
    let reply = bounded("unary", client.unary(request.clone()))
        .await
        .expect("ok");
    let seen = server.state.seen_for("hi");
    let sent: Vec<&str> = seen[0].metadata.get_all("x-client").collect();
    assert_eq!(sent, ["c1", "c2"]);
    let (out, back) = (framed(&request), framed(reply.get_ref()));
    assert_eq!(
        take(&log),
        [
            "c1 call Unary".to_owned(),
            "c2 call Unary".to_owned(),
            format!("c1 Sent {out}"),
            format!("c2 Sent {out}"),
            format!("c1 Received {back}"),
            format!("c2 Received {back}"),
            "c2 end Unary Ok".to_owned(),
            "c1 end Unary Ok".to_owned(),
        ]
    );

    // A refusal by the second interceptor: nothing is sent, the first sees the refusal.
    let mut request = Request::new(echo("refused"));
    request.metadata_mut().insert("x-refuse", "c2").unwrap();
    let err = bounded("refused", client.unary(request))
        .await
        .expect_err("c2 refuses");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(server.state.seen_for("refused").is_empty());
    assert_eq!(
        take(&log),
        [
            "c1 call Unary",
            "c2 call Unary",
            "c2 end Unary FailedPrecondition",
            "c1 end Unary FailedPrecondition",
        ]
    );

    // A server error reaches on_end with its code.
    let mut failing = echo("failing");
    failing.fail_code = Code::NotFound.as_i32();
    let err = bounded("failing", client.unary(failing))
        .await
        .expect_err("fails");
    assert_eq!(err.code(), Code::NotFound);
    let lines = take(&log);
    assert_eq!(
        lines.last().map(String::as_str),
        Some("c1 end Unary NotFound")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_calls_report_every_message_and_how_they_ended() {
    let server = common::start().await;
    let log = Log::default();
    let client = client_with_recorders(&server, &log);
    let only_c1 = |lines: Vec<String>| -> Vec<String> {
        lines.into_iter().filter(|l| l.starts_with("c1 ")).collect()
    };

    // Server streaming: ends (on_end) when the stream is drained.
    let mut request = echo("s");
    request.repeat = 3;
    let size = framed(&request);
    let mut stream = bounded("server stream", client.server_stream(request))
        .await
        .expect("stream")
        .into_inner();
    let mut received = Vec::new();
    while let Some(message) = bounded("message", stream.message()).await.expect("ok") {
        received.push(format!("c1 Received {}", framed(&message)));
    }
    let mut expected = vec!["c1 call ServerStream".to_owned(), format!("c1 Sent {size}")];
    expected.extend(received);
    expected.push("c1 end ServerStream Ok".to_owned());
    assert_eq!(only_c1(take(&log)), expected);

    // Client streaming and bidi: every request message is reported as sent.
    let requests = message_stream::iter(["x", "yy"].map(echo));
    bounded("client stream", client.client_stream(requests))
        .await
        .expect("ok");
    let lines = only_c1(take(&log));
    assert_eq!(
        lines.iter().filter(|l| l.contains(" Sent ")).count(),
        2,
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("c1 end ClientStream Ok")
    );

    let requests = message_stream::iter(["p", "qq", "rrr"].map(echo));
    let mut stream = bounded("bidi", client.bidi(requests))
        .await
        .expect("bidi")
        .into_inner();
    while bounded("message", stream.message())
        .await
        .expect("ok")
        .is_some()
    {}
    let lines = only_c1(take(&log));
    assert_eq!(
        lines.iter().filter(|l| l.contains(" Sent ")).count(),
        3,
        "{lines:?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains(" Received ")).count(),
        3,
        "{lines:?}"
    );
    assert_eq!(lines.last().map(String::as_str), Some("c1 end Bidi Ok"));

    // Dropped before the end: CANCELLED.
    let mut request = echo("long");
    request.repeat = 1000;
    request.sleep_ms = 5;
    let mut stream = bounded("server stream", client.server_stream(request))
        .await
        .expect("stream")
        .into_inner();
    bounded("first", stream.message()).await.expect("ok");
    drop(stream);
    let lines = only_c1(take(&log));
    assert_eq!(
        lines.last().map(String::as_str),
        Some("c1 end ServerStream Cancelled")
    );

    // A deadline that passes mid-stream: DEADLINE_EXCEEDED.
    let mut request = Request::new(EchoRequest {
        repeat: 1000,
        sleep_ms: 5,
        ..echo("slow")
    });
    request.set_timeout(Duration::from_millis(100));
    let mut stream = bounded("server stream", client.server_stream(request))
        .await
        .expect("stream")
        .into_inner();
    let err = bounded("until the deadline", async {
        loop {
            if let Err(status) = stream.message().await {
                return status;
            }
        }
    })
    .await;
    assert_eq!(err.code(), Code::DeadlineExceeded);
    drop(stream);
    let lines = only_c1(take(&log));
    assert_eq!(
        lines.last().map(String::as_str),
        Some("c1 end ServerStream DeadlineExceeded")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_interceptor_supplies_credentials_a_server_interceptor_checks() {
    let server = common::start_with(|builder| builder).await;
    // A second server whose Echo service demands a bearer token.
    let listener = common::local_listener().await;
    let addr = listener.local_addr().unwrap();
    let echo_service = common::echo_service(server.state.clone());
    let guarded = Intercepted::new(echo_service).with(BearerAuth::new(["s3cret"]));
    tokio::spawn(
        wirecall::Server::builder()
            .add_service(guarded)
            .serve_with_listener(listener, std::future::pending()),
    );
    let endpoint = wirecall::Endpoint::new(format!("http://{addr}")).unwrap();

    let anonymous = EchoClient::new(endpoint.clone().connect_lazy());
    let err = bounded("anonymous", anonymous.unary(echo("a")))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);

    let wrong = EchoClient::new(
        endpoint
            .clone()
            .interceptor(BearerToken::new("guess"))
            .connect_lazy(),
    );
    let err = bounded("wrong token", wrong.unary(echo("b")))
        .await
        .expect_err("wrong token");
    assert_eq!(err.code(), Code::Unauthenticated);

    let authorized = EchoClient::new(
        endpoint
            .interceptor(BearerToken::new("s3cret"))
            .connect_lazy(),
    );
    let reply = bounded("authorized", authorized.unary(echo("c")))
        .await
        .expect("the token is accepted");
    assert_eq!(reply.get_ref().message, "c");

    // A call that brings its own authorization keeps it: the channel's token is not added.
    let mut own = Request::new(echo("d"));
    own.metadata_mut()
        .insert("authorization", "Bearer guess")
        .unwrap();
    let err = bounded("own authorization", authorized.unary(own))
        .await
        .expect_err("the call's own (wrong) token is sent");
    assert_eq!(err.code(), Code::Unauthenticated);
}

/// Logs the attempt hooks and `on_end`.
struct AttemptLog(Log);

impl ClientInterceptor for AttemptLog {
    fn on_attempt(&self, _call: &ClientCallInfo, attempt: &wirecall::interceptor::AttemptInfo) {
        let n = attempt.previous_attempts();
        self.0.lock().unwrap().push(format!("attempt {n}"));
    }

    fn on_attempt_end(
        &self,
        _call: &ClientCallInfo,
        attempt: &wirecall::interceptor::AttemptInfo,
        status: &Status,
    ) {
        self.0.lock().unwrap().push(format!(
            "attempt {} end {:?} sent {} received {}",
            attempt.previous_attempts(),
            status.code(),
            attempt.sent().bytes(),
            attempt.received().bytes(),
        ));
    }

    fn on_end(&self, _call: &ClientCallInfo, status: &Status) {
        self.0
            .lock()
            .unwrap()
            .push(format!("end {:?}", status.code()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_is_reported_with_its_own_status_before_the_call_ends() {
    let server = common::start().await;
    let log = Log::default();
    let config = r#"{"methodConfig": [{"name": [{"service": "wirecall.test.echo.Echo"}],
        "retryPolicy": {"maxAttempts": 2, "initialBackoff": "0.01s", "maxBackoff": "0.01s",
                        "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#;
    let client = EchoClient::new(
        server
            .endpoint()
            .interceptor(AttemptLog(log.clone()))
            .service_config_json(config)
            .expect("config")
            .connect_lazy(),
    );

    // Answered at once: one attempt, which committed the call, ends with it.
    let request = echo("once");
    let reply = bounded("once", client.unary(request.clone()))
        .await
        .expect("ok");
    let (sent, received) = (framed(&request), framed(reply.get_ref()));
    assert_eq!(
        take(&log),
        [
            "attempt 0".to_owned(),
            format!("attempt 0 end Ok sent {sent} received {received}"),
            "end Ok".to_owned(),
        ]
    );

    // UNAVAILABLE every time: both attempts end as they fail, then the call.
    let mut failing = echo("down");
    failing.fail_code = Code::Unavailable.as_i32();
    let sent = framed(&failing);
    let err = bounded("retried", client.unary(failing))
        .await
        .expect_err("unavailable");
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(
        take(&log),
        [
            "attempt 0".to_owned(),
            format!("attempt 0 end Unavailable sent {sent} received 0"),
            "attempt 1".to_owned(),
            format!("attempt 1 end Unavailable sent {sent} received 0"),
            "end Unavailable".to_owned(),
        ]
    );
}
