//! End-to-end behaviour over a call's and a connection's life: message size limits,
//! deadlines, cancellation, multiplexing, lazy connection and reconnection.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use wirecall::message_stream;
use wirecall::{Code, Endpoint, Request};
use wirecall_tests::echo::{EchoClient, EchoRequest};

use common::{bounded, echo, within, Event};

fn with_payload(message: &str, len: usize) -> EchoRequest {
    EchoRequest {
        message: message.into(),
        payload: vec![0xab; len],
        ..EchoRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_receive_limit_fails_the_call_not_the_connection() {
    let server = common::start_with(|builder| builder.max_decoding_message_size(1024)).await;
    let client = server.client();

    // Just under the limit (a 1000-byte payload encodes to about 1010 bytes).
    bounded("before", client.unary(with_payload("before", 1000)))
        .await
        .expect("a message under the limit succeeds");

    let err = bounded("too big", client.unary(with_payload("big", 2048)))
        .await
        .expect_err("a message over the limit fails");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(
        server.state.seen_for("big").is_empty(),
        "the handler never ran"
    );

    // The same connection keeps serving.
    bounded("after", client.unary(echo("after")))
        .await
        .expect("a small call after the failure succeeds");
    let before = server.state.seen_for("before")[0].remote_addr;
    let after = server.state.seen_for("after")[0].remote_addr;
    assert!(before.is_some());
    assert_eq!(
        before, after,
        "the call after the failure used the same connection"
    );

    // The limit applies to every message of a client stream too.
    let requests = vec![with_payload("a", 10), with_payload("b", 2048)];
    let err = bounded(
        "client stream",
        client.client_stream(message_stream::iter(requests)),
    )
    .await
    .expect_err("an oversized streamed message fails the call");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_receive_limit() {
    let server = common::start().await;
    let endpoint = server.endpoint().max_decoding_message_size(1024);
    let client = EchoClient::new(endpoint.connect_lazy());

    let err = bounded("big response", client.unary(with_payload("big", 2048)))
        .await
        .expect_err("a response over the limit fails");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert_eq!(
        server.state.seen_for("big").len(),
        1,
        "the server did answer"
    );

    // Streamed responses are checked too.
    let request = EchoRequest {
        repeat: 3,
        ..with_payload("big stream", 2048)
    };
    let mut stream = bounded("stream", client.server_stream(request))
        .await
        .expect("headers arrive")
        .into_inner();
    let err = bounded("first message", stream.message())
        .await
        .expect_err("an oversized streamed response fails");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");

    bounded("small", client.unary(echo("small")))
        .await
        .expect("small responses still arrive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_send_limit_fails_before_contacting_the_server() {
    let server = common::start().await;
    let client = EchoClient::new(
        server
            .endpoint()
            .max_encoding_message_size(100)
            .connect_lazy(),
    );
    let err = bounded("too big", client.unary(with_payload("big", 200)))
        .await
        .expect_err("an oversized request fails");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(server.state.seen().is_empty(), "nothing reached the server");
    bounded("small", client.unary(with_payload("small", 10)))
        .await
        .expect("a small request is sent");
    assert_eq!(server.state.seen().len(), 1);

    // Nobody listens here: had the call tried to connect, it would be UNAVAILABLE.
    let port = common::unused_port().await;
    let endpoint = Endpoint::new(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .max_encoding_message_size(100);
    let client = EchoClient::new(endpoint.connect_lazy());
    let err = bounded("too big, no server", client.unary(with_payload("big", 200)))
        .await
        .expect_err("an oversized request fails");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_send_limit_on_a_streamed_message() {
    let server = common::start().await;
    let client = EchoClient::new(
        server
            .endpoint()
            .max_encoding_message_size(100)
            .connect_lazy(),
    );
    let requests = vec![with_payload("ok", 10), with_payload("big", 200)];
    let err = bounded(
        "client stream",
        client.client_stream(message_stream::iter(requests)),
    )
    .await
    .expect_err("an oversized streamed request fails the call");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
}

fn sleeping(message: &str, ms: i32) -> EchoRequest {
    EchoRequest {
        message: message.into(),
        sleep_ms: ms,
        ..EchoRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_ends_a_slow_call_and_drops_the_handler() {
    let mut server = common::start().await;
    let client = server.client();
    let mut request = Request::new(sleeping("slow", 5_000));
    request.set_timeout(Duration::from_millis(100));
    let started = Instant::now();
    let err = bounded("slow call", client.unary(request))
        .await
        .expect_err("the deadline passes");
    let elapsed = started.elapsed();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(90),
        "ended too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(1),
        "ended too late: {elapsed:?}"
    );

    let seen = server.state.seen_for("slow");
    assert_eq!(seen.len(), 1);
    assert!(seen[0].deadline.is_some(), "the handler saw a deadline");
    let remaining = seen[0].remaining.unwrap();
    assert!(
        remaining <= Duration::from_millis(101) && remaining >= Duration::from_millis(20),
        "deadline about 100 ms away, was {remaining:?}"
    );

    // The server gave up on the handler too, long before its 5 s sleep ended.
    assert_eq!(server.next_event().await, Event::Started("slow".into()));
    let dropped = within(
        Duration::from_secs(2),
        "handler dropped",
        server.next_event(),
    )
    .await;
    assert_eq!(dropped, Event::Dropped("slow".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_timeout_is_the_default() {
    let server = common::start().await;
    let endpoint = server.endpoint().timeout(Duration::from_millis(100));
    let client = EchoClient::new(endpoint.connect_lazy());

    let started = Instant::now();
    let err = bounded("slow call", client.unary(sleeping("default", 5_000)))
        .await
        .expect_err("the default deadline passes");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let remaining = server.state.seen_for("default")[0].remaining;
    let remaining = remaining.expect("the endpoint timeout was sent");
    assert!(remaining <= Duration::from_millis(101), "{remaining:?}");

    // A request's own timeout wins over the endpoint's.
    let mut request = Request::new(sleeping("own", 300));
    request.set_timeout(Duration::from_secs(10));
    bounded("own timeout", client.unary(request))
        .await
        .expect("the longer timeout of the request applies");
    let remaining = server.state.seen_for("own")[0].remaining.unwrap();
    assert!(remaining > Duration::from_secs(5), "{remaining:?}");

    // Without any timeout the handler sees no deadline.
    let plain = server.client();
    bounded("no timeout", plain.unary(echo("none")))
        .await
        .expect("succeeds");
    assert_eq!(server.state.seen_for("none")[0].deadline, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stream_outliving_its_deadline_ends_with_deadline_exceeded() {
    let server = common::start().await;
    let client = server.client();
    let mut request = Request::new(EchoRequest {
        message: "long stream".into(),
        repeat: 1_000,
        sleep_ms: 20,
        ..EchoRequest::default()
    });
    request.set_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let mut stream = bounded("stream", client.server_stream(request))
        .await
        .expect("the stream starts")
        .into_inner();
    let mut received = 0;
    let err = loop {
        match bounded("next message", stream.message()).await {
            Ok(Some(message)) => {
                assert_eq!(message.index, received);
                received += 1;
            }
            Ok(None) => panic!("stream ended cleanly after {received} messages"),
            Err(status) => break status,
        }
    };
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(received > 0 && received < 1_000, "{received} messages");
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_drops_the_handler() {
    let mut server = common::start().await;
    let client = server.client();
    let call = client.unary(sleeping("cancel me", 60_000));
    tokio::select! {
        result = call => panic!("the call finished: {result:?}"),
        event = server.next_event() => assert_eq!(event, Event::Started("cancel me".into())),
    }
    // The call future is gone now; the handler's must follow.
    let event = within(
        Duration::from_secs(2),
        "handler dropped",
        server.next_event(),
    )
    .await;
    assert_eq!(event, Event::Dropped("cancel me".into()));

    bounded("after", client.unary(echo("after")))
        .await
        .expect("the channel still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_response_stream_stops_the_server_stream() {
    let mut server = common::start().await;
    let client = server.client();
    let request = EchoRequest {
        message: "endless".into(),
        repeat: 100_000,
        sleep_ms: 5,
        ..EchoRequest::default()
    };
    let mut stream = bounded("stream", client.server_stream(request))
        .await
        .expect("stream starts")
        .into_inner();
    for index in 0..3 {
        let message = bounded("message", stream.message())
            .await
            .expect("ok")
            .expect("more");
        assert_eq!(message.index, index);
    }
    drop(stream);
    let event = server.next_event_after_starts(Duration::from_secs(2)).await;
    assert_eq!(event, Event::StreamClosed("endless".into()));

    bounded("after", client.unary(echo("after")))
        .await
        .expect("the channel still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_in_flight_calls_finish() {
    let mut server = common::start().await;
    let client = server.client();
    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move { client.unary(sleeping("in flight", 300)).await })
    };
    assert_eq!(
        server.next_event().await,
        Event::Started("in flight".into())
    );
    let (reply, ()) = tokio::join!(in_flight, server.shutdown());
    let reply = reply
        .expect("call task")
        .expect("the in-flight call completes");
    assert_eq!(reply.get_ref().message, "in flight");

    let err = bounded("after shutdown", client.unary(echo("late")))
        .await
        .expect_err("nobody serves any more");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_one_connection() {
    let server = common::start().await;
    let client = server.client();
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..50 {
        let client = client.clone();
        calls.spawn(async move {
            let reply = client.unary(sleeping(&format!("call {i}"), 200)).await;
            (i, reply)
        });
    }
    let mut done = 0;
    while let Some(joined) = bounded("calls", calls.join_next()).await {
        let (i, reply) = joined.expect("call task");
        let reply = reply.expect("every call succeeds");
        assert_eq!(reply.get_ref().message, format!("call {i}"));
        done += 1;
    }
    assert_eq!(done, 50);
    // 50 calls of 200 ms each: far faster than one after another.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let seen = server.state.seen();
    assert_eq!(seen.len(), 50);
    let peers: HashSet<_> = seen.iter().map(|s| s.remote_addr).collect();
    assert_eq!(peers.len(), 1, "one TCP connection: {peers:?}");
    let peer = peers
        .into_iter()
        .next()
        .unwrap()
        .expect("remote address known");
    assert!(peer.ip().is_loopback());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_channel_connects_late_and_reconnects() {
    let port = common::unused_port().await;
    let endpoint = Endpoint::new(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2));
    let client = EchoClient::new(endpoint.connect_lazy());

    let err = bounded("no server yet", client.unary(echo("early")))
        .await
        .expect_err("nothing listens yet");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the reserved port");
    let first = common::start_on(listener, |builder| builder);
    bounded("first server", client.unary(echo("one")))
        .await
        .expect("the same channel now connects");
    let first_peer = first.state.seen_for("one")[0].remote_addr;
    first.shutdown().await;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("rebind the port");
    let second = common::start_on(listener, |builder| builder);
    let mut failures = Vec::new();
    for attempt in 0..5 {
        match bounded("second server", client.unary(echo("two"))).await {
            Ok(reply) => {
                assert_eq!(reply.get_ref().message, "two");
                break;
            }
            Err(status) => {
                assert_eq!(
                    status.code(),
                    Code::Unavailable,
                    "attempt {attempt}: {status:?}"
                );
                failures.push(status);
            }
        }
    }
    let seen = second.state.seen_for("two");
    assert_eq!(
        seen.len(),
        1,
        "succeeded within 5 attempts; failures: {failures:?}"
    );
    assert!(failures.len() <= 1, "at most one failure: {failures:?}");
    assert_ne!(seen[0].remote_addr, first_peer, "a new connection");
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_calls_within_the_grace_period_and_ends_the_rest_unavailable() {
    const CALLS: usize = 100;
    let grace = Duration::from_millis(400);
    let mut server = common::start_with(|b| b.shutdown_grace(grace)).await;
    // Ten connections, ten calls each, sleeping 10 ms to 1 s: about 40 fit in the grace.
    let clients: Vec<_> = (0..10).map(|_| server.client()).collect();
    let mut calls = Vec::new();
    for i in 0..CALLS {
        let client = clients[i % clients.len()].clone();
        let ms = 10 + (i as i32 * 37) % 990;
        calls.push((
            ms,
            tokio::spawn(async move { client.unary(sleeping(&format!("call {i}"), ms)).await }),
        ));
    }
    for _ in 0..CALLS {
        assert!(matches!(server.next_event().await, Event::Started(_)));
    }
    let started = Instant::now();
    let task = server.begin_shutdown();
    let (mut ok, mut unavailable) = (0, 0);
    // The calls cut off well past the grace, whose handlers must be dropped (one that ends
    // within a timer tick of the cut-off may finish instead: the handler and the reset race).
    let mut must_drop = std::collections::HashSet::new();
    let mut answered = std::collections::HashSet::new();
    for (i, (ms, call)) in calls.into_iter().enumerate() {
        let result = bounded("an in-flight call", call).await.expect("call task");
        let ms = Duration::from_millis(ms as u64);
        match result {
            Ok(reply) => {
                assert!(ms < grace + Duration::from_millis(50), "{ms:?} finished OK");
                assert!(reply.get_ref().message.starts_with("call "));
                answered.insert(format!("call {i}"));
                ok += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{ms:?}: {status:?}");
                assert!(ms > grace - Duration::from_millis(50), "{ms:?}: {status:?}");
                if ms > grace + Duration::from_millis(50) {
                    must_drop.insert(format!("call {i}"));
                }
                unavailable += 1;
            }
        }
    }
    // Every call answered one way or the other: none lost.
    assert_eq!(ok + unavailable, CALLS);
    assert!(
        ok >= 30 && unavailable >= 50,
        "{ok} OK, {unavailable} UNAVAILABLE"
    );
    bounded("the server stopping", task)
        .await
        .expect("server task")
        .expect("serve ends cleanly");
    let took = started.elapsed();
    assert!(
        took >= grace && took < grace + Duration::from_secs(2),
        "{took:?}"
    );
    // The handlers cut off were dropped, not left running; none that answered was.
    while !must_drop.is_empty() {
        match server.next_event_after_starts(common::LIMIT).await {
            Event::Dropped(name) => {
                assert!(!answered.contains(&name), "{name} answered and was dropped");
                must_drop.remove(&name);
            }
            event => panic!("{event:?}"),
        }
    }
    while let Ok(event) = server.events.try_recv() {
        if let Event::Dropped(name) = event {
            assert!(!answered.contains(&name), "{name} answered and was dropped");
        }
    }
}
