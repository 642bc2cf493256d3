//! End-to-end calls over real sockets through the generated clients: the four call
//! patterns, several services on one server, routing errors, status codes and metadata.

mod common;

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use http::uri::PathAndQuery;
use wirecall::codec::BytesCodec;
use wirecall::message_stream;
use wirecall::{Code, Request, Response, Status};
use wirecall_tests::echo::{EchoRequest, EchoResponse};
use wirecall_tests::wirecall::test::common::{Color, Point};
use wirecall_tests::wirecall::test::features::everything::{inner::Level, Choice, Inner};
use wirecall_tests::wirecall::test::features::{Everything, FeaturesClient, FeaturesServer};

use common::{bounded, echo, TestFeatures};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_call_patterns_round_trip() {
    four_call_patterns(common::start().await).await;
}

/// The same with every call spawned as its own task, not started on its connection's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_call_patterns_round_trip_when_calls_are_spawned() {
    four_call_patterns(common::start_with(|b| b.inline_first_poll(false)).await).await;
}

async fn four_call_patterns(server: common::TestServer) {
    let client = server.client();

    // Unary.
    let request = EchoRequest {
        message: "hello".into(),
        payload: vec![0, 1, 2, 0xff],
        ..EchoRequest::default()
    };
    let response = bounded("unary", client.unary(request))
        .await
        .expect("unary succeeds");
    assert_eq!(
        response.into_inner(),
        EchoResponse {
            message: "hello".into(),
            payload: vec![0, 1, 2, 0xff],
            index: 0,
        }
    );

    // Server streaming: 100 responses, in order.
    let request = EchoRequest {
        message: "stream".into(),
        repeat: 100,
        ..EchoRequest::default()
    };
    let mut stream = bounded("server stream", client.server_stream(request))
        .await
        .expect("server stream starts")
        .into_inner();
    let mut indexes = Vec::new();
    while let Some(message) = bounded("next streamed message", stream.message())
        .await
        .expect("stream succeeds")
    {
        assert_eq!(message.message, "stream");
        indexes.push(message.index);
    }
    assert_eq!(indexes, (0..100).collect::<Vec<_>>());

    // Client streaming: 50 requests, concatenated and counted.
    let requests: Vec<EchoRequest> = (0..50u8)
        .map(|i| EchoRequest {
            message: format!("{i},"),
            payload: vec![i],
            ..EchoRequest::default()
        })
        .collect();
    let response = bounded(
        "client stream",
        client.client_stream(message_stream::iter(requests)),
    )
    .await
    .expect("client stream succeeds")
    .into_inner();
    assert_eq!(response.index, 50);
    let expected: String = (0..50).map(|i| format!("{i},")).collect();
    assert_eq!(response.message, expected);
    assert_eq!(response.payload, (0..50u8).collect::<Vec<_>>());

    // Bidirectional ping-pong: each request is sent only after the previous reply arrived,
    // so this hangs (and fails) if responses are held back until the request stream ends.
    let (tx, rx) = message_stream::channel(1);
    let mut replies = bounded("bidi", client.bidi(rx))
        .await
        .expect("bidi starts")
        .into_inner();
    for i in 0..10 {
        let text = format!("ping {i}");
        bounded("send ping", tx.send(echo(&text)))
            .await
            .expect("request stream open");
        let reply = bounded("pong", replies.message())
            .await
            .expect("bidi succeeds")
            .expect("a reply for every request");
        assert_eq!(reply.message, text);
        assert_eq!(reply.index, i);
    }
    drop(tx);
    let end = bounded("bidi end", replies.message())
        .await
        .expect("clean end");
    assert!(end.is_none(), "no reply after the requests ended: {end:?}");

    let methods: Vec<_> = server.state.seen().iter().map(|s| s.method).collect();
    assert_eq!(methods, ["Unary", "ServerStream", "ClientStream", "Bidi"]);
}

fn everything() -> Everything {
    let inner = |note: &str| Inner {
        level: Level::High as i32,
        note: note.into(),
    };
    let mut attributes = BTreeMap::new();
    attributes.insert(
        "k".to_owned(),
        prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue("v".into())),
        },
    );
    Everything {
        inner: Some(inner("one")),
        inners: vec![inner("two"), inner("three")],
        counts: HashMap::from([("a".to_owned(), 1), ("b".to_owned(), -2)]),
        by_id: HashMap::from([(7, inner("seven"))]),
        nickname: Some("nick".into()),
        numbers: vec![1, -1, i32::MAX, i32::MIN],
        color: Color::Red as i32,
        at: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        }),
        maybe_name: Some(String::new()),
        any: Some(prost_types::Any {
            type_url: "type.googleapis.com/x.Y".into(),
            value: vec![1, 2, 3],
        }),
        attributes: Some(prost_types::Struct { fields: attributes }),
        maybe_count: Some(0),
        choice: Some(Choice::Point(Point { x: 1.5, y: -2.5 })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_services_share_one_server_and_channel() {
    let server =
        common::start_with(|builder| builder.add_service(FeaturesServer::new(TestFeatures))).await;
    let channel = server.channel();
    let echo_client = wirecall_tests::echo::EchoClient::new(channel.clone());
    let features = FeaturesClient::new(channel);

    let sent = everything();
    let back = bounded("reflect", features.reflect(sent.clone()))
        .await
        .expect("reflect succeeds");
    assert_eq!(back.into_inner(), sent);

    bounded("ping", features.ping(()))
        .await
        .expect("ping succeeds");

    let mut points = bounded("points", features.points(()))
        .await
        .expect("points starts")
        .into_inner();
    let mut got = Vec::new();
    while let Some(point) = bounded("next point", points.message())
        .await
        .expect("points succeed")
    {
        got.push((point.x, point.y));
    }
    assert_eq!(got, [(0.0, -0.0), (1.0, -0.5), (2.0, -1.0)]);

    let reply = bounded("echo", echo_client.unary(echo("next door")))
        .await
        .expect("echo succeeds");
    assert_eq!(reply.get_ref().message, "next door");
}

/// A unary call of an empty message through `unary_with`.
async fn raw_unary(channel: &wirecall::Channel, path: &'static str) -> Result<Bytes, Status> {
    let call = channel.unary_with(
        Request::new(Bytes::new()),
        PathAndQuery::from_static(path),
        BytesCodec,
        BytesCodec,
    );
    bounded(path, call).await.map(Response::into_inner)
}

/// The same call through `client_streaming_with`: one empty message, one response. Its
/// request is sent by a separate task, so an answer that arrives before the request was
/// sent is still read (see `early_answers_reach_unary_callers`).
async fn raw_single(channel: &wirecall::Channel, path: &'static str) -> Result<Bytes, Status> {
    let call = channel.client_streaming_with(
        Request::new(message_stream::iter([Bytes::new()])),
        PathAndQuery::from_static(path),
        BytesCodec,
        BytesCodec,
    );
    bounded(path, call).await.map(Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_and_services_are_unimplemented() {
    let server = common::start().await;
    let channel = server.channel();

    // The raw path itself works: an empty message is a default EchoRequest.
    let ok = raw_unary(&channel, "/wirecall.test.echo.Echo/Unary").await;
    assert_eq!(ok.expect("known method succeeds"), Bytes::new());

    let err = raw_single(&channel, "/wirecall.test.echo.Echo/Nope")
        .await
        .expect_err("unknown method fails");
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
    assert!(err.message().contains("Nope"), "{err:?}");
    assert!(err.message().contains("wirecall.test.echo.Echo"), "{err:?}");

    let err = raw_single(&channel, "/wirecall.test.echo.Nope/Unary")
        .await
        .expect_err("unknown service fails");
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
    assert!(err.message().contains("wirecall.test.echo.Nope"), "{err:?}");

    // Method names are case-sensitive.
    let err = raw_single(&channel, "/wirecall.test.echo.Echo/unary")
        .await
        .expect_err("lower-case method fails");
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");

    // The channel still serves after the failures.
    let ok = raw_unary(&channel, "/wirecall.test.echo.Echo/Unary").await;
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(server.state.seen().len(), 2);
}

/// The server answers an unknown method as soon as the request headers arrive, then resets
/// the stream with NO_ERROR. A unary client that has not yet queued its message must
/// still report the server's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answers_reach_unary_callers() {
    let server = common::start().await;
    let channel = server.channel();
    let mut wrong = Vec::new();
    for _ in 0..3_000 {
        let err = raw_unary(&channel, "/wirecall.test.echo.Echo/Nope")
            .await
            .expect_err("unknown method fails");
        if err.code() != Code::Unimplemented {
            wrong.push(err);
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of 3000 calls: {:?}",
        wrong.len(),
        wrong.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_code_arrives_with_its_message_and_trailers() {
    let server = common::start().await;
    let client = server.client();
    for code in Code::ALL.into_iter().filter(|c| *c != Code::Ok) {
        let text = format!("failed with {}", code.name());
        let request = EchoRequest {
            message: "fail".into(),
            fail_code: code.as_i32(),
            fail_message: text.clone(),
            ..EchoRequest::default()
        };

        // A handler error (sent as a trailers-only response).
        let err = bounded("unary", client.unary(request.clone()))
            .await
            .expect_err("the call fails");
        assert_eq!(err.code(), code, "{err:?}");
        assert_eq!(err.message(), text);
        assert_eq!(err.metadata().get("x-trailer"), Some("done"), "{err:?}");
        assert!(!err.metadata().contains_key("grpc-status"));

        // An error after two messages (sent in real trailers).
        let request = EchoRequest {
            repeat: 2,
            ..request
        };
        let mut stream = bounded("server stream", client.server_stream(request))
            .await
            .expect("stream starts")
            .into_inner();
        for index in 0..2 {
            let message = bounded("streamed message", stream.message())
                .await
                .expect("messages before the error")
                .expect("a message");
            assert_eq!(message.index, index);
        }
        let err = bounded("stream error", stream.message())
            .await
            .expect_err("the stream ends with the error");
        assert_eq!(err.code(), code, "{err:?}");
        assert_eq!(err.message(), text);
        assert_eq!(err.metadata().get("x-trailer"), Some("done"), "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_messages_survive_percent_encoding() {
    let server = common::start().await;
    let client = server.client();
    let messages = [
        "\ttabs\tand\nnew\r\nlines\n",
        "unicode ☺ é 😈 中文",
        "percent 100% and %41 and %zz and %",
        "already encoded: %E2%98%BA %25",
        "",
        " leading and trailing spaces ",
    ];
    for text in messages {
        let request = EchoRequest {
            fail_code: Code::InvalidArgument.as_i32(),
            fail_message: text.into(),
            ..EchoRequest::default()
        };
        let err = bounded("unary", client.unary(request))
            .await
            .expect_err("fails");
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(err.message(), text, "{err:?}");
    }
}

fn with_metadata(message: EchoRequest) -> Request<EchoRequest> {
    let mut request = Request::new(message);
    let md = request.metadata_mut();
    md.insert("x-echo-ascii", "hello world").unwrap();
    md.insert_bin("x-echo-raw-bin", [0x00u8, 0xff, 0x7f, 0x80, 0x00])
        .unwrap();
    md.append("x-echo-multi", "one").unwrap();
    md.append("x-echo-multi", "two").unwrap();
    md.append_bin("x-echo-multi-bin", [0x00u8]).unwrap();
    md.append_bin("x-echo-multi-bin", [0xffu8, 0xfe]).unwrap();
    md.insert("x-private", "not echoed").unwrap();
    request
}

fn assert_echoed(headers: &wirecall::MetadataMap) {
    assert_eq!(
        headers.get("x-echo-ascii"),
        Some("hello world"),
        "{headers:?}"
    );
    let raw = headers
        .get_bin("x-echo-raw-bin")
        .expect("binary header")
        .expect("valid base64");
    assert_eq!(raw.as_ref(), [0x00, 0xff, 0x7f, 0x80, 0x00]);
    assert_eq!(
        headers.get_all("x-echo-multi").collect::<Vec<_>>(),
        ["one", "two"]
    );
    let multi: Vec<Bytes> = headers
        .get_all_bin("x-echo-multi-bin")
        .map(|v| v.expect("valid base64"))
        .collect();
    assert_eq!(
        multi,
        [
            Bytes::from_static(&[0x00]),
            Bytes::from_static(&[0xff, 0xfe])
        ]
    );
    assert!(!headers.contains_key("x-private"), "{headers:?}");
    assert!(
        !headers.contains_key("x-trailer"),
        "trailer in headers: {headers:?}"
    );
    for reserved in ["content-type", "grpc-status", "grpc-message", "te"] {
        assert!(!headers.contains_key(reserved), "{reserved} in {headers:?}");
    }
}

fn assert_trailers(trailers: &wirecall::MetadataMap) {
    assert_eq!(trailers.get("x-trailer"), Some("done"), "{trailers:?}");
    assert!(!trailers.contains_key("grpc-status"), "{trailers:?}");
    assert!(!trailers.contains_key("x-echo-ascii"), "{trailers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_travels_both_ways() {
    let server = common::start().await;
    let client = server.client();

    // Unary: request metadata reaches the handler, headers and trailers come back.
    let response = bounded("unary", client.unary(with_metadata(echo("md-unary"))))
        .await
        .expect("unary succeeds");
    let seen = server.state.seen_for("md-unary");
    let seen = &seen[0].metadata;
    assert_eq!(seen.get("x-private"), Some("not echoed"));
    assert_eq!(
        seen.get_all("x-echo-multi").collect::<Vec<_>>(),
        ["one", "two"]
    );
    assert_eq!(
        seen.get_bin("x-echo-raw-bin").unwrap().unwrap().as_ref(),
        [0x00, 0xff, 0x7f, 0x80, 0x00]
    );
    assert!(
        !seen.contains_key("content-type") && !seen.contains_key("te"),
        "{seen:?}"
    );
    assert_echoed(response.metadata());
    assert_trailers(response.trailers());

    // Server streaming: headers on the response, trailers from the stream.
    let request = with_metadata(EchoRequest {
        repeat: 3,
        ..echo("md-stream")
    });
    let response = bounded("server stream", client.server_stream(request))
        .await
        .expect("stream starts");
    assert_echoed(response.metadata());
    let mut stream = response.into_inner();
    let first = bounded("first message", stream.message())
        .await
        .expect("ok")
        .expect("a message");
    assert_eq!(first.index, 0);
    // `trailers` reads (and drops) the remaining messages first.
    let trailers = bounded("stream trailers", stream.trailers())
        .await
        .expect("stream succeeds")
        .expect("trailers arrive");
    assert_trailers(&trailers);

    // Client streaming: unary-style response with headers and trailers.
    let mut request = Request::new(message_stream::iter(vec![echo("a"), echo("b")]));
    *request.metadata_mut() = with_metadata(echo("")).metadata().clone();
    let response = bounded("client stream", client.client_stream(request))
        .await
        .expect("client stream succeeds");
    assert_eq!(response.get_ref().message, "ab");
    assert_echoed(response.metadata());
    assert_trailers(response.trailers());

    // Bidi: the call returns before the server answers; the headers are read from the
    // stream (here before any request was sent); trailers after the end.
    let (tx, rx) = message_stream::channel::<EchoRequest>(1);
    let mut request = Request::new(rx);
    *request.metadata_mut() = with_metadata(echo("")).metadata().clone();
    let response = bounded("bidi", client.bidi(request))
        .await
        .expect("bidi starts");
    assert!(response.metadata().is_empty());
    let mut stream = response.into_inner();
    assert_echoed(
        bounded("bidi headers", stream.headers())
            .await
            .expect("headers"),
    );
    bounded("send", tx.send(echo("x"))).await.expect("open");
    drop(tx);
    let trailers = bounded("bidi trailers", stream.trailers())
        .await
        .expect("bidi succeeds")
        .expect("trailers arrive");
    assert_trailers(&trailers);
}
