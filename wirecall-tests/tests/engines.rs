//! The two HTTP/2 engines against each other: every pairing of a client and a server on h2
//! or on wirecall's own engine carries every call pattern, metadata, trailers, errors and
//! messages larger than the flow-control windows; and a client on our engine keeps within
//! the server's SETTINGS_MAX_CONCURRENT_STREAMS, its extra calls waiting for room; and curl
//! (libcurl on nghttp2) calls a server on either engine over HTTP/2. (The rest of the suite
//! runs once with both sides on h2 and once with both on ours.)

mod common;

use std::time::Duration;

use common::raw_http;
use wirecall::message_stream;
use wirecall::{Code, Http2Engine, Request};
use wirecall_tests::echo::{EchoClient, EchoRequest};

const ENGINES: [Http2Engine; 2] = [Http2Engine::H2, Http2Engine::Wirecall];

/// A request with `payload_len` bytes of payload.
fn request(message: &str, payload_len: usize) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        payload: (0..payload_len).map(|i| (i % 251) as u8).collect(),
        ..EchoRequest::default()
    }
}

/// Every pattern once, between a client on `client` and `server`'s server.
async fn every_pattern(client: &EchoClient, pairing: &str) {
    // Unary, with metadata both ways and a message past the 64 KiB windows.
    let mut call = Request::new(request("unary", 300_000));
    call.metadata_mut()
        .insert("x-echo-pairing", pairing)
        .unwrap();
    let reply = client.unary(call).await.expect("unary");
    assert_eq!(reply.metadata().get("x-echo-pairing").unwrap(), pairing);
    assert_eq!(reply.get_ref().payload, request("", 300_000).payload);

    // A failing call: its status and trailers.
    let failing = EchoRequest {
        fail_code: Code::FailedPrecondition as i32,
        fail_message: "not now".into(),
        ..request("fails", 0)
    };
    let status = client.unary(failing).await.expect_err("fails");
    assert_eq!(status.code(), Code::FailedPrecondition, "{pairing}");
    assert_eq!(status.message(), "not now");
    assert_eq!(status.metadata().get("x-trailer").unwrap(), "done");

    // Server streaming: 20 messages of 20 KB.
    let streamed = EchoRequest {
        repeat: 20,
        ..request("stream", 20_000)
    };
    let mut stream = client.server_stream(streamed).await.unwrap().into_inner();
    let mut indexes = Vec::new();
    while let Some(message) = stream.message().await.expect("a message") {
        assert_eq!(message.payload.len(), 20_000);
        indexes.push(message.index);
    }
    assert_eq!(indexes, (0..20).collect::<Vec<_>>(), "{pairing}");
    let trailers = stream.trailers().await.unwrap().expect("trailers");
    assert_eq!(trailers.get("x-trailer").unwrap(), "done");

    // Client streaming: 20 messages of 20 KB, counted and joined.
    let messages = message_stream::iter((0..20).map(|i| request(&format!("{i},"), 20_000)));
    let total = client.client_stream(messages).await.unwrap().into_inner();
    assert_eq!(total.index, 20, "{pairing}");
    assert_eq!(total.payload.len(), 400_000);
    assert!(total.message.starts_with("0,1,2,"));

    // Bidi: 10 round trips, then the client ends and the server ends after it.
    let (tx, rx) = message_stream::channel(1);
    let mut bidi = client.bidi(rx).await.unwrap().into_inner();
    for i in 0..10 {
        tx.send(request(&format!("b{i}"), 1000)).await.unwrap();
        let echo = bidi.message().await.unwrap().expect("an echo");
        assert_eq!((echo.message.as_str(), echo.index), (&*format!("b{i}"), i));
    }
    drop(tx);
    assert!(bidi.message().await.unwrap().is_none(), "{pairing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pattern_crosses_every_pairing_of_engines() {
    for server_engine in ENGINES {
        let server = common::start_with(move |b| b.http2_engine(server_engine)).await;
        for client_engine in ENGINES {
            let pairing = format!("{client_engine:?}-client-{server_engine:?}-server");
            let channel = server.endpoint().http2_engine(client_engine).connect_lazy();
            let client = EchoClient::new(channel);
            common::bounded(&pairing, every_pattern(&client, &pairing)).await;
        }
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_on_our_engine_waits_for_room_under_the_servers_stream_limit() {
    for server_engine in ENGINES {
        let server =
            common::start_with(move |b| b.http2_engine(server_engine).max_concurrent_streams(2))
                .await;
        let channel = server
            .endpoint()
            .http2_engine(Http2Engine::Wirecall)
            .connect_lazy();
        let client = EchoClient::new(channel);
        // Two bidi calls hold the server's two streams open.
        let mut open = Vec::new();
        for name in ["first", "second"] {
            let (tx, rx) = message_stream::channel(1);
            let mut bidi = client.bidi(rx).await.unwrap().into_inner();
            tx.send(request(name, 10)).await.unwrap();
            common::bounded("an echo", bidi.message()).await.unwrap();
            open.push((tx, bidi));
        }
        // A third call waits for room: it is not refused, and not answered meanwhile.
        let third = tokio::spawn({
            let client = client.clone();
            async move { client.unary(request("third", 10)).await }
        });
        let early = tokio::time::timeout(Duration::from_millis(300), async {
            while !third.is_finished() {
                tokio::task::yield_now().await;
            }
        });
        assert!(
            early.await.is_err(),
            "{server_engine:?}: the third call did not wait for room"
        );
        // One stream ends: the third call opens and is answered.
        let (tx, mut bidi) = open.remove(0);
        drop(tx);
        assert!(bidi.message().await.unwrap().is_none());
        let reply = common::bounded("the third call", third).await.unwrap();
        assert_eq!(reply.expect("answered").get_ref().message, "third");
        let reached = server
            .state
            .seen()
            .iter()
            .filter(|seen| seen.method == "Unary")
            .count();
        assert_eq!(reached, 1, "the third call reached the server once");
        // The second call ends too; the server then shuts down with nothing in flight.
        drop(open);
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_over_http2_calls_a_server_on_either_engine() {
    use prost::Message;
    use wirecall_tests::echo::EchoResponse;
    for engine in ENGINES {
        let server = common::start_with(move |b| b.http2_engine(engine).accept_connect()).await;
        let url = format!("http://{}/wirecall.test.echo.Echo/Unary", server.addr);
        let post = |content_type: &str| -> Vec<String> {
            ["-X", "POST", "-H", &format!("content-type: {content_type}")]
                .into_iter()
                .map(str::to_owned)
                .chain(["-H", "te: trailers", "--data-binary", "@-", &url].map(str::to_owned))
                .collect()
        };

        // gRPC: a framed request; the answer's frame, then grpc-status in the trailers.
        let (head, body) = common::bounded(
            "curl grpc",
            raw_http::curl_http2(
                post("application/grpc"),
                common::framed_echo(&common::echo("over curl")).to_vec(),
            ),
        )
        .await;
        assert!(head.starts_with("http/2 200"), "{engine:?}: {}", head);
        assert!(head.contains("content-type: application/grpc"));
        assert!(head.contains("grpc-status: 0"), "{engine:?}: {}", head);
        assert!(body.len() > 5 && body[0] == 0, "{engine:?}");
        let reply = EchoResponse::decode(&body[5..]).expect("a framed message");
        assert_eq!(reply.message, "over curl", "{engine:?}");

        // A failing call: its status comes back in the trailers.
        let (head, body) = common::bounded(
            "curl grpc failing",
            raw_http::curl_http2(
                post("application/grpc"),
                common::framed_echo(&common::failing(9, "not now")).to_vec(),
            ),
        )
        .await;
        assert!(head.contains("grpc-status: 9"), "{engine:?}: {}", head);
        assert!(head.contains("grpc-message: not now"), "{}", head);
        assert!(
            body.is_empty(),
            "{engine:?}: a failed call sends no message"
        );

        // Connect with JSON: a bare JSON answer.
        let (head, body) = common::bounded(
            "curl connect",
            raw_http::curl_http2(post("application/json"), br#"{"message":"json"}"#.to_vec()),
        )
        .await;
        assert!(head.starts_with("http/2 200"), "{engine:?}: {}", head);
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(json["message"], "json", "{engine:?}");
        server.shutdown().await;
    }
}
