//! The transports besides TCP: Unix domain sockets (`unix:` targets) and the in-process
//! transport, with the same semantics as over TCP; and the in-process transport as the way
//! to stand up a fake service in a test.

mod common;

use std::time::Duration;

use wirecall::in_process::Listener;
use wirecall::{message_stream, Code, Request, Response, Server, Status};
use wirecall_tests::echo::{EchoClient, EchoRequest};
use wirecall_tests::greeter::{Greeter, GreeterClient, GreeterServer, HelloReply, HelloRequest};

use common::{bounded, echo, Event};

/// Unary with metadata both ways, a server stream, a client stream and a bidi call.
async fn every_pattern(client: &EchoClient) {
    let mut request = Request::new(echo("unary"));
    request
        .metadata_mut()
        .insert("x-echo-note", "kept")
        .unwrap();
    let reply = bounded("unary", client.unary(request))
        .await
        .expect("unary");
    assert_eq!(reply.get_ref().message, "unary");

    let streamed = EchoRequest {
        repeat: 5,
        ..echo("stream")
    };
    let mut stream = bounded("server stream", client.server_stream(streamed))
        .await
        .expect("server stream")
        .into_inner();
    let mut count = 0;
    while let Some(message) = bounded("streamed", stream.message())
        .await
        .expect("message")
    {
        assert_eq!(message.message, "stream");
        count += 1;
    }
    assert_eq!(count, 5);

    let many = message_stream::iter(["a", "b", "c"].map(echo));
    let reply = bounded("client stream", client.client_stream(many))
        .await
        .expect("client stream");
    assert!(
        reply.get_ref().message.contains('c'),
        "{:?}",
        reply.get_ref()
    );

    let (tx, rx) = message_stream::channel(2);
    let mut answers = bounded("bidi", client.bidi(rx))
        .await
        .expect("bidi")
        .into_inner();
    for text in ["ping", "pong"] {
        tx.send(echo(text)).await.unwrap();
        let answer = bounded("bidi answer", answers.message())
            .await
            .expect("answer")
            .expect("one per message");
        assert_eq!(answer.message, text);
    }
    drop(tx);
    assert!(bounded("bidi end", answers.message())
        .await
        .expect("ok end")
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_serves_every_pattern_with_deadlines_and_cancellation() {
    let listener = Listener::new();
    let endpoint = listener.endpoint();
    let (service, mut events) = common::echo_with_events();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(Server::builder().add_service(service).serve_in_process(
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    let client = EchoClient::new(endpoint.clone().connect_lazy());
    every_pattern(&client).await;

    // A deadline ends a slow call and drops its handler, as over TCP.
    let mut slow = Request::new(EchoRequest {
        sleep_ms: 5_000,
        ..echo("slow")
    });
    slow.set_timeout(Duration::from_millis(100));
    let err = bounded("slow", client.unary(slow))
        .await
        .expect_err("deadline");
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert_eq!(events.recv().await, Some(Event::Started("slow".into())));
    assert_eq!(events.recv().await, Some(Event::Dropped("slow".into())));

    // Graceful shutdown: the server ends, and a new channel finds nobody.
    let _ = stop.send(());
    bounded("server end", server).await.unwrap().unwrap();
    let late = EchoClient::new(
        endpoint
            .connect_timeout(Duration::from_secs(1))
            .connect_lazy(),
    );
    let err = bounded("after shutdown", late.unary(echo("late")))
        .await
        .expect_err("no server");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_domain_sockets_serve_every_pattern() {
    let dir = std::env::temp_dir().join(format!("wirecall-uds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let (service, _events) = common::echo_with_events();
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let serving = Server::builder()
        .add_service(service)
        .serve_with_unix_listener(listener, std::future::pending());
    let server = tokio::spawn(serving);
    for target in [
        format!("unix:{}", path.display()),
        format!("unix://{}", path.display()),
    ] {
        let client = EchoClient::new(wirecall::Endpoint::new(&target).unwrap().connect_lazy());
        every_pattern(&client).await;
    }
    // A second server on the same path is refused with the path in the error.
    let again = Server::builder()
        .serve_unix(&path, std::future::pending())
        .await
        .expect_err("the path is taken");
    assert!(
        again.is_bind() && again.to_string().contains("echo.sock"),
        "{again}"
    );
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn malformed_unix_targets_are_refused() {
    let err = wirecall::Endpoint::new("unix:").expect_err("no path");
    assert!(err.is_invalid_uri(), "{err}");
}

/// A fake Greeter with a canned answer: the pattern for testing code that calls a service.
struct CannedGreeter;

impl Greeter for CannedGreeter {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        match req.get_ref().name.as_str() {
            "" => Err(Status::invalid_argument("name is required")),
            name => Ok(Response::new(HelloReply {
                message: format!("canned hello, {name}"),
            })),
        }
    }
}

/// Code under test: it only knows the generated client.
async fn greet_twice(client: &GreeterClient, name: &str) -> Result<String, Status> {
    let first = client.say_hello(HelloRequest { name: name.into() }).await?;
    let second = client.say_hello(HelloRequest { name: name.into() }).await?;
    Ok(format!(
        "{} / {}",
        first.get_ref().message,
        second.get_ref().message
    ))
}

#[tokio::test]
async fn an_in_process_fake_stands_in_for_a_service() {
    let listener = Listener::new();
    let client = GreeterClient::new(listener.channel());
    tokio::spawn(
        Server::builder()
            .add_service(GreeterServer::new(CannedGreeter))
            .serve_in_process(listener, std::future::pending()),
    );
    assert_eq!(
        greet_twice(&client, "ada").await.unwrap(),
        "canned hello, ada / canned hello, ada"
    );
    let err = greet_twice(&client, "").await.expect_err("canned error");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "name is required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_loopback_serves_every_pattern() {
    let listener = match tokio::net::TcpListener::bind("[::1]:0").await {
        Ok(listener) => listener,
        // A machine without IPv6 has nothing to test here.
        Err(err) if err.kind() == std::io::ErrorKind::AddrNotAvailable => return,
        Err(err) => panic!("bind [::1]:0: {err}"),
    };
    let port = listener.local_addr().unwrap().port();
    let (service, _events) = common::echo_with_events();
    tokio::spawn(
        Server::builder()
            .add_service(service)
            .serve_with_listener(listener, std::future::pending()),
    );
    let endpoint = wirecall::Endpoint::new(format!("http://[::1]:{port}")).unwrap();
    every_pattern(&EchoClient::new(endpoint.connect_lazy())).await;
}
