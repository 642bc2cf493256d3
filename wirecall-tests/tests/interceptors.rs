//! Server interceptors over real sockets: order, refusal, metadata in and out, messages on
//! every pattern, and the built-ins (auth, request id, logging, panic recovery).

mod common;

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use wirecall::interceptor::{
    Access, ApiKeyAuth, BearerAuth, CallInfo, Direction, IncomingCall, Intercepted, Interceptor,
    Logging, RequestId, RequestIdValue, REQUEST_ID,
};
use wirecall::message_stream;
use wirecall::server::ServerBuilder;
use wirecall::{Code, Endpoint, Request, Response, Server, Status};
use wirecall_tests::greeter::{Greeter, GreeterClient, GreeterServer, HelloReply, HelloRequest};

use common::{bounded, echo, local_listener};

/// A shared log of what the hooks and handlers saw, with a signal for each new line.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    added: Notify,
}

impl Log {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
        self.added.notify_waiters();
    }

    /// Waits until the log has `n` lines (on_end runs after the client has its answer),
    /// then takes them all.
    async fn take(&self, n: usize) -> Vec<String> {
        bounded("log lines", async {
            loop {
                let added = self.added.notified();
                let mut added = std::pin::pin!(added);
                added.as_mut().enable();
                if self.lines.lock().unwrap().len() >= n {
                    return std::mem::take(&mut *self.lines.lock().unwrap());
                }
                added.await;
            }
        })
        .await
    }
}

/// Writes every hook it sees into the log, prefixed with its name; refuses calls whose
/// metadata has `x-refuse: <its name>`.
struct Recorder {
    name: &'static str,
    log: Arc<Log>,
}

impl Interceptor for Recorder {
    async fn on_call(&self, call: &mut IncomingCall) -> Result<(), Status> {
        // Async work in the hook: the chain waits for it.
        tokio::task::yield_now().await;
        self.log
            .push(format!("{} call {}", self.name, call.info().method()));
        if call.metadata().get("x-refuse") == Some(self.name) {
            return Err(Status::failed_precondition(format!(
                "{} refuses",
                self.name
            )));
        }
        call.response_metadata_mut()
            .append("x-seen-by", self.name)
            .expect("metadata");
        Ok(())
    }

    fn on_message(&self, _call: &CallInfo, direction: Direction, size: usize) {
        self.log.push(format!("{} {direction:?} {size}", self.name));
    }

    fn on_end(&self, call: &CallInfo, status: &Status) {
        self.log.push(format!(
            "{} end {} {:?}",
            self.name,
            call.method(),
            status.code()
        ));
    }
}

/// A greeter that logs what its handler saw, and panics when asked to.
struct Hello {
    log: Arc<Log>,
}

impl Greeter for Hello {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let id = request.extensions().get::<RequestIdValue>().cloned();
        let in_metadata = request.metadata().get(REQUEST_ID).map(str::to_owned);
        self.log.push(format!(
            "handler {} id={:?} metadata={:?}",
            request.get_ref().name,
            id.map(|v| v.0),
            in_metadata
        ));
        if request.get_ref().name == "panic" {
            panic!("asked to panic");
        }
        Ok(Response::new(HelloReply {
            message: format!("Hello {}", request.get_ref().name),
        }))
    }
}

async fn serve(builder: ServerBuilder) -> GreeterClient {
    let listener = local_listener().await;
    let addr = listener.local_addr().expect("address");
    tokio::spawn(builder.serve_with_listener(listener, std::future::pending()));
    let channel = Endpoint::new(format!("http://{addr}"))
        .expect("endpoint")
        .connect_lazy();
    GreeterClient::new(channel)
}

fn hello(name: &str, metadata: &[(&str, &str)]) -> Request<HelloRequest> {
    let mut request = Request::new(HelloRequest { name: name.into() });
    for (key, value) in metadata {
        request.metadata_mut().insert(key, value).expect("metadata");
    }
    request
}

/// Request metadata as key-value pairs.
type Metadata<'a> = &'a [(&'a str, &'a str)];

/// The size of a message as framed on the wire.
fn framed(message: &impl prost::Message) -> usize {
    5 + message.encoded_len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_wide_interceptors_wrap_the_service_ones_in_order() {
    let log = Arc::new(Log::default());
    let recorder = |name| Recorder {
        name,
        log: log.clone(),
    };
    let service = Intercepted::new(GreeterServer::new(Hello { log: log.clone() }))
        .with(recorder("inner1"))
        .with(recorder("inner2"));
    let builder = Server::builder()
        .interceptor(recorder("outer"))
        .add_service(service);
    let client = serve(builder).await;

    let reply = bounded("call", client.say_hello(hello("a", &[])))
        .await
        .expect("call succeeds");
    assert_eq!(reply.get_ref().message, "Hello a");
    let seen_by: Vec<&str> = reply.metadata().get_all("x-seen-by").collect();
    assert_eq!(seen_by, ["outer", "inner1", "inner2"]);
    let request = framed(&HelloRequest { name: "a".into() });
    let response = framed(reply.get_ref());
    let expected = [
        "outer call SayHello".to_owned(),
        "inner1 call SayHello".to_owned(),
        "inner2 call SayHello".to_owned(),
        format!("outer Received {request}"),
        format!("inner1 Received {request}"),
        format!("inner2 Received {request}"),
        "handler a id=None metadata=None".to_owned(),
        format!("outer Sent {response}"),
        format!("inner1 Sent {response}"),
        format!("inner2 Sent {response}"),
        "inner2 end SayHello Ok".to_owned(),
        "inner1 end SayHello Ok".to_owned(),
        "outer end SayHello Ok".to_owned(),
    ];
    assert_eq!(log.take(expected.len()).await, expected);

    // A refusal in the middle: the handler and the later interceptors never run, the
    // earlier ones see the refusal in on_end, and the client gets the status plus the
    // response metadata added so far.
    let err = bounded(
        "refused call",
        client.say_hello(hello("b", &[("x-refuse", "inner1")])),
    )
    .await
    .expect_err("inner1 refuses");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert_eq!(err.message(), "inner1 refuses");
    let seen_by: Vec<&str> = err.metadata().get_all("x-seen-by").collect();
    assert_eq!(seen_by, ["outer"]);
    let expected = [
        "outer call SayHello",
        "inner1 call SayHello",
        "inner1 end SayHello FailedPrecondition",
        "outer end SayHello FailedPrecondition",
    ];
    assert_eq!(log.take(expected.len()).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interceptors_see_every_message_of_every_pattern() {
    let log = Arc::new(Log::default());
    let server = common::start_with(|builder| {
        builder.interceptor(Recorder {
            name: "r",
            log: log.clone(),
        })
    })
    .await;
    let client = server.client();
    let size = |message: &str| framed(&echo(message));

    // Server streaming: one message in, three out.
    let mut request = echo("s");
    request.repeat = 3;
    let request_size = framed(&request);
    let mut stream = bounded("server stream", client.server_stream(request))
        .await
        .expect("stream")
        .into_inner();
    let mut sent = Vec::new();
    while let Some(message) = bounded("message", stream.message()).await.expect("ok") {
        sent.push(framed(&message));
    }
    let mut lines = log.take(6).await;
    lines.sort();
    let mut expected = vec![
        "r call ServerStream".to_owned(),
        format!("r Received {request_size}"),
        "r end ServerStream Ok".to_owned(),
    ];
    expected.extend(sent.iter().map(|n| format!("r Sent {n}")));
    expected.sort();
    assert_eq!(lines, expected);

    // Client streaming: three in, one out.
    let requests = message_stream::iter(["x", "yy", "zzz"].map(echo));
    let reply = bounded("client stream", client.client_stream(requests))
        .await
        .expect("reply");
    let mut lines = log.take(6).await;
    lines.sort();
    let mut expected = vec![
        "r call ClientStream".to_owned(),
        format!("r Received {}", size("x")),
        format!("r Received {}", size("yy")),
        format!("r Received {}", size("zzz")),
        format!("r Sent {}", framed(reply.get_ref())),
        "r end ClientStream Ok".to_owned(),
    ];
    expected.sort();
    assert_eq!(lines, expected);

    // Bidirectional: two in, two out.
    let requests = message_stream::iter(["p", "qq"].map(echo));
    let mut stream = bounded("bidi", client.bidi(requests))
        .await
        .expect("bidi")
        .into_inner();
    let mut sent = Vec::new();
    while let Some(message) = bounded("message", stream.message()).await.expect("ok") {
        sent.push(framed(&message));
    }
    let mut lines = log.take(6).await;
    lines.sort();
    let mut expected = vec![
        "r call Bidi".to_owned(),
        format!("r Received {}", size("p")),
        format!("r Received {}", size("qq")),
        "r end Bidi Ok".to_owned(),
    ];
    expected.extend(sent.iter().map(|n| format!("r Sent {n}")));
    expected.sort();
    assert_eq!(lines, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_and_api_key_auth() {
    let log = Arc::new(Log::default());
    // "reader" may not call SayHello: known but denied.
    let bearer = BearerAuth::from_fn(|token, call| match token {
        "admin" => Access::Allowed,
        "reader" if call.method() == "SayHello" => Access::Denied,
        _ => Access::Unknown,
    });
    let service = Intercepted::new(GreeterServer::new(Hello { log: log.clone() }))
        .with(bearer)
        .with(ApiKeyAuth::new(["k1"]).header("x-key"));
    let client = serve(Server::builder().add_service(service)).await;

    let cases: [(Metadata, Option<Code>); 6] = [
        (&[], Some(Code::Unauthenticated)),
        (
            &[("authorization", "Basic YWRtaW4=")],
            Some(Code::Unauthenticated),
        ),
        (
            &[("authorization", "Bearer nobody")],
            Some(Code::Unauthenticated),
        ),
        (
            &[("authorization", "Bearer reader")],
            Some(Code::PermissionDenied),
        ),
        (
            &[("authorization", "Bearer admin")],
            Some(Code::Unauthenticated),
        ),
        (&[("authorization", "Bearer admin"), ("x-key", "k1")], None),
    ];
    for (metadata, expected) in cases {
        let result = bounded("auth call", client.say_hello(hello("auth", metadata))).await;
        match expected {
            Some(code) => {
                let err = result.expect_err("refused");
                assert_eq!(err.code(), code, "{metadata:?}: {err:?}");
            }
            None => assert_eq!(result.expect("allowed").get_ref().message, "Hello auth"),
        }
    }
    // Only the last call reached the handler.
    assert_eq!(log.take(1).await, ["handler auth id=None metadata=None"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_kept_or_generated_and_echoed() {
    let log = Arc::new(Log::default());
    let builder = Server::builder()
        .interceptor(RequestId::new())
        .add_service(GreeterServer::new(Hello { log: log.clone() }));
    let client = serve(builder).await;

    let reply = bounded(
        "call",
        client.say_hello(hello("given", &[(REQUEST_ID, "abc-123")])),
    )
    .await
    .expect("ok");
    assert_eq!(reply.metadata().get(REQUEST_ID), Some("abc-123"));
    assert_eq!(
        log.take(1).await,
        [r#"handler given id=Some("abc-123") metadata=Some("abc-123")"#]
    );

    let first = bounded("call", client.say_hello(hello("fresh", &[])))
        .await
        .expect("ok");
    let second = bounded("call", client.say_hello(hello("fresh", &[])))
        .await
        .expect("ok");
    let first = first
        .metadata()
        .get(REQUEST_ID)
        .expect("generated id")
        .to_owned();
    let second = second
        .metadata()
        .get(REQUEST_ID)
        .expect("generated id")
        .to_owned();
    assert_eq!(first.len(), 32, "{first}");
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()), "{first}");
    assert_ne!(first, second);
    let lines = log.take(2).await;
    assert_eq!(
        lines[0],
        format!(r#"handler fresh id=Some("{first}") metadata=Some("{first}")"#)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_internal_and_the_server_keeps_serving() {
    let log = Arc::new(Log::default());
    let builder = Server::builder()
        .interceptor(Recorder {
            name: "r",
            log: log.clone(),
        })
        .add_service(GreeterServer::new(Hello { log: log.clone() }));
    let client = serve(builder).await;

    let err = bounded("panicking call", client.say_hello(hello("panic", &[])))
        .await
        .expect_err("the handler panics");
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    let lines = log.take(4).await;
    assert!(
        lines.contains(&"r end SayHello Internal".to_owned()),
        "{lines:?}"
    );
    // Same channel, same connection: still served.
    let reply = bounded("next call", client.say_hello(hello("after", &[])))
        .await
        .expect("the server still serves");
    assert_eq!(reply.get_ref().message, "Hello after");
}

/// A `tracing` subscriber that keeps the fields of every event, as text.
#[derive(Default, Clone)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", field.name(), value));
            }
        }
        let mut fields = Fields(format!(
            "{} {} ",
            event.metadata().level(),
            event.metadata().target()
        ));
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// One thread: the server's tasks run where the capturing subscriber is installed.
#[tokio::test(flavor = "current_thread")]
async fn logging_reports_method_peer_status_and_duration() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let log = Arc::new(Log::default());
    let builder = Server::builder()
        .interceptor(Logging::new())
        .add_service(GreeterServer::new(Hello { log: log.clone() }));
    let client = serve(builder).await;

    bounded("call", client.say_hello(hello("logged", &[])))
        .await
        .expect("ok");
    bounded("failing call", client.say_hello(hello("panic", &[])))
        .await
        .expect_err("panics");
    log.take(2).await;
    // on_end runs when the server's call task finishes; let it.
    let call_events = bounded("log events", async {
        loop {
            let events: Vec<String> = capture
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.contains("wirecall::call"))
                .cloned()
                .collect();
            if events.len() >= 2 {
                return events;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let ok = &call_events[0];
    assert!(ok.starts_with("INFO wirecall::call"), "{ok}");
    for field in [
        "service=\"greeter.Greeter\"",
        "method=\"SayHello\"",
        "code=\"OK\"",
        "peer=\"127.0.0.1:",
        "duration_us=",
    ] {
        assert!(ok.contains(field), "{field} missing in {ok}");
    }
    let failed = &call_events[1];
    assert!(failed.starts_with("WARN wirecall::call"), "{failed}");
    assert!(failed.contains("code=\"INTERNAL\""), "{failed}");
}

/// Adds the trailer `x-stamp: <method>` to every call.
struct Stamp;

impl Interceptor for Stamp {
    async fn on_call(&self, call: &mut IncomingCall) -> Result<(), Status> {
        let method = call.info().method();
        call.response_trailers_mut()
            .insert("x-stamp", method)
            .expect("metadata");
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interceptor_trailers_reach_the_client_however_the_call_ends() {
    let log = Arc::new(Log::default());
    let refuser = Recorder {
        name: "inner",
        log: log.clone(),
    };
    let client = serve(
        Server::builder()
            .interceptor(Stamp)
            .add_service(Intercepted::new(GreeterServer::new(Hello { log })).with(refuser)),
    )
    .await;

    let answered = client.say_hello(hello("ok", &[])).await.expect("answered");
    assert_eq!(answered.trailers().get("x-stamp"), Some("SayHello"));

    let refused = client
        .say_hello(hello("no", &[("x-refuse", "inner")]))
        .await
        .expect_err("refused by the inner interceptor");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(refused.metadata().get("x-stamp"), Some("SayHello"));

    let failed = client
        .say_hello(hello("panic", &[]))
        .await
        .expect_err("the handler panics");
    assert_eq!(failed.code(), Code::Internal);
    assert_eq!(failed.metadata().get("x-stamp"), Some("SayHello"));
}
