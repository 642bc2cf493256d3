//! The Connect protocol against the wirecall server with `accept_connect`, byte by byte
//! over HTTP/2 (raw h2 client) and HTTP/1.1 (curl): unary POSTs with protobuf and JSON
//! messages, unary GETs of a method without side effects, every streaming pattern with
//! enveloped messages and the end-of-stream message, `Connect-Timeout-Ms`, compression,
//! CORS, and errors as HTTP statuses with the JSON body.

mod common;

use std::io::{Read, Write};

use bytes::{BufMut, BytesMut};
use common::raw_http::{curl, exchange, Answer};
use common::{bounded, echo, failing, sleeping, start_with};
use http::{Method, StatusCode};
use prost::Message;
use wirecall_tests::echo::{EchoRequest, EchoResponse};

const UNARY: &str = "/wirecall.test.echo.Echo/Unary";
const SERVER_STREAM: &str = "/wirecall.test.echo.Echo/ServerStream";
const BIDI: &str = "/wirecall.test.echo.Echo/Bidi";
const CLIENT_STREAM: &str = "/wirecall.test.echo.Echo/ClientStream";

fn headers(content_type: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("content-type", content_type),
        ("connect-protocol-version", "1"),
    ]
}

async fn server() -> common::TestServer {
    start_with(|builder| {
        builder
            .accept_connect()
            .accept_grpc_web(wirecall::web::Cors::from_origins(["http://page.test"]))
    })
    .await
}

async fn post(
    server: &common::TestServer,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    bounded(
        path,
        exchange(server.addr, Method::POST, path, headers, vec![body.into()]),
    )
    .await
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(bytes)))
}

/// One envelope.
fn envelope(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.put_u8(flags);
    out.put_u32(payload.len() as u32);
    out.put_slice(payload);
    out.to_vec()
}

/// Splits a streaming body into its envelopes: (flags, payload).
fn envelopes(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !body.is_empty() {
        assert!(body.len() >= 5, "a truncated envelope prefix");
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        out.push((body[0], body[5..5 + len].to_vec()));
        body = &body[5 + len..];
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn unary_calls_carry_bare_messages_and_trailer_headers() {
    let server = server().await;
    let mut headers = headers("application/proto");
    headers.push(("x-echo-who", "connect"));
    let answer = post(&server, UNARY, &headers, echo("plain").encode_to_vec()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/proto");
    assert_eq!(answer.headers["x-echo-who"], "connect");
    assert_eq!(
        answer.headers["trailer-x-trailer"], "done",
        "trailers as trailer- headers"
    );
    assert!(answer.http_trailers.is_none());
    let reply = EchoResponse::decode(answer.body.as_slice()).expect("a bare message");
    assert_eq!(reply.message, "plain");
}

#[tokio::test]
async fn unary_calls_with_json_messages() {
    let server = server().await;
    let body = br#"{"message": "in json", "payload": "aGk=", "ignoredField": 1}"#.to_vec();
    let answer = post(&server, UNARY, &headers("application/json"), body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(
        json(&answer.body),
        serde_json::json!({"message": "in json", "payload": "aGk="})
    );
    let seen = server.state.seen_for("in json");
    let remote = seen[0]
        .remote_addr
        .expect("the client's address carries over the gateway");
    assert!(
        remote.ip().is_loopback() && remote.port() != server.addr.port(),
        "{remote}"
    );

    let bad = post(
        &server,
        UNARY,
        &headers("application/json"),
        b"{\"message\": 7}".to_vec(),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let body = json(&bad.body);
    assert_eq!(body["code"], "invalid_argument");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("wirecall.test.echo.EchoRequest"),
        "{body}"
    );
}

#[tokio::test]
async fn errors_are_http_statuses_with_a_json_body() {
    let server = server().await;
    let answer = post(
        &server,
        UNARY,
        &headers("application/proto"),
        failing(5, "no such thing").encode_to_vec(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(
        answer.headers["trailer-x-trailer"], "done",
        "the status's metadata"
    );
    let body = json(&answer.body);
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["message"], "no such thing");

    let mut slow = headers("application/proto");
    slow.push(("connect-timeout-ms", "100"));
    let answer = post(
        &server,
        UNARY,
        &slow,
        sleeping("slow", 3000).encode_to_vec(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(json(&answer.body)["code"], "deadline_exceeded");

    let mut malformed = headers("application/proto");
    malformed.push(("connect-timeout-ms", "soon"));
    let answer = post(&server, UNARY, &malformed, echo("x").encode_to_vec()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    let answer = post(
        &server,
        "/wirecall.test.echo.Echo/Nope",
        &headers("application/proto"),
        vec![],
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "an unknown method is not Connect's"
    );

    let answer = post(
        &server,
        SERVER_STREAM,
        &headers("application/proto"),
        echo("x").encode_to_vec(),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unary content type, streaming method"
    );
    assert_eq!(answer.headers["accept-post"], "application/connect+proto");
    let answer = post(&server, UNARY, &headers("application/connect+json"), vec![]).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let mut brotli = headers("application/proto");
    brotli.push(("content-encoding", "br"));
    let answer = post(&server, UNARY, &brotli, echo("x").encode_to_vec()).await;
    assert_eq!(answer.status, StatusCode::NOT_IMPLEMENTED);

    // Binary metadata that is not base64 is refused as a gRPC request's would be.
    let mut bad_binary = headers("application/proto");
    bad_binary.push(("x-blob-bin", "not base64!"));
    let answer = post(&server, UNARY, &bad_binary, echo("x").encode_to_vec()).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = json(&answer.body);
    assert_eq!(body["code"], "internal");
    assert!(
        body["message"].as_str().unwrap().contains("x-blob-bin"),
        "{body}"
    );
}

#[tokio::test]
async fn unary_get_for_methods_without_side_effects() {
    let server = server().await;
    let get = |path: String| async move {
        bounded(
            "GET",
            exchange(
                server.addr,
                Method::GET,
                &path,
                &[("x-echo-via", "get")],
                vec![],
            ),
        )
        .await
    };
    let message = "%7B%22message%22%3A%22by%20get%22%7D"; // {"message":"by get"}
    let answer = get(format!(
        "{UNARY}?connect=v1&encoding=json&message={message}"
    ))
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["x-echo-via"], "get");
    assert_eq!(json(&answer.body), serde_json::json!({"message": "by get"}));

    use base64::Engine;
    let proto =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(echo("base64").encode_to_vec());
    let answer = get(format!("{UNARY}?encoding=proto&base64=1&message={proto}")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        EchoResponse::decode(answer.body.as_slice())
            .unwrap()
            .message,
        "base64"
    );

    let answer = get(format!("{UNARY}?message=x")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "no encoding");
    // ServerStream has side effects as far as Connect knows: no GET.
    let answer = get(format!("{SERVER_STREAM}?encoding=json&message=%7B%7D")).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn server_streaming_with_envelopes_and_the_end_of_stream_message() {
    let server = server().await;
    let request = envelope(0, br#"{"message": "s", "repeat": 3}"#);
    let mut headers = headers("application/connect+json");
    headers.push(("x-echo-k", "v"));
    let answer = post(&server, SERVER_STREAM, &headers, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/connect+json");
    assert_eq!(answer.headers["x-echo-k"], "v");
    let frames = envelopes(&answer.body);
    assert_eq!(frames.len(), 4, "three messages and the end");
    for (i, (flags, payload)) in frames[..3].iter().enumerate() {
        assert_eq!(*flags, 0);
        let want = if i == 0 {
            serde_json::json!({"message": "s"})
        } else {
            serde_json::json!({"message": "s", "index": i})
        };
        assert_eq!(json(payload), want);
    }
    assert_eq!(frames[3].0, 2, "the end-of-stream flag");
    assert_eq!(
        json(&frames[3].1),
        serde_json::json!({"metadata": {"x-trailer": ["done"]}})
    );

    // A stream that fails after two messages: still HTTP 200, the error in the end.
    let request = EchoRequest {
        message: "f".into(),
        repeat: 2,
        fail_code: 14,
        fail_message: "gone".into(),
        ..Default::default()
    };
    let answer = post(
        &server,
        SERVER_STREAM,
        &self::headers("application/connect+proto"),
        envelope(0, &request.encode_to_vec()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let frames = envelopes(&answer.body);
    assert_eq!(frames.len(), 3);
    assert_eq!(
        EchoResponse::decode(frames[1].1.as_slice()).unwrap().index,
        1
    );
    let end = json(&frames[2].1);
    assert_eq!(
        end["error"],
        serde_json::json!({"code": "unavailable", "message": "gone"})
    );
    assert_eq!(end["metadata"]["x-trailer"], serde_json::json!(["done"]));

    // A handler that fails before any message: the end alone.
    let answer = post(
        &server,
        SERVER_STREAM,
        &self::headers("application/connect+proto"),
        envelope(0, &failing(7, "denied").encode_to_vec()),
    )
    .await;
    let frames = envelopes(&answer.body);
    assert_eq!(frames.len(), 1);
    assert_eq!(json(&frames[0].1)["error"]["code"], "permission_denied");
}

#[tokio::test]
async fn streaming_answers_are_compressed_for_clients_that_accept_it() {
    let server = server().await;
    let big = "z".repeat(4096);
    let request = EchoRequest {
        message: big.clone(),
        repeat: 2,
        ..Default::default()
    };
    let mut headers = headers("application/connect+proto");
    headers.push(("connect-accept-encoding", "br, gzip"));
    let answer = post(
        &server,
        SERVER_STREAM,
        &headers,
        envelope(0, &request.encode_to_vec()),
    )
    .await;
    assert_eq!(answer.headers["connect-content-encoding"], "gzip");
    let frames = envelopes(&answer.body);
    assert_eq!(frames.len(), 3, "two messages and the end");
    for (flags, payload) in &frames[..2] {
        assert_eq!(*flags, 1, "a compressed envelope");
        assert!(payload.len() < 1024, "4 KiB of one letter compresses");
        let message = EchoResponse::decode(gunzip(payload).as_slice()).unwrap();
        assert_eq!(message.message, big);
    }
    assert_eq!(frames[2].0, 2, "the end of the stream, uncompressed");
    assert!(json(&frames[2].1).get("error").is_none());

    // Small messages stay plain even when gzip is accepted; without the header, nothing is
    // compressed and no encoding is announced.
    let small = EchoRequest {
        message: "s".into(),
        repeat: 1,
        ..Default::default()
    };
    let answer = post(
        &server,
        SERVER_STREAM,
        &headers,
        envelope(0, &small.encode_to_vec()),
    )
    .await;
    assert_eq!(envelopes(&answer.body)[0].0, 0);
    let plain = self::headers("application/connect+proto");
    let answer = post(
        &server,
        SERVER_STREAM,
        &plain,
        envelope(0, &request.encode_to_vec()),
    )
    .await;
    assert!(!answer.headers.contains_key("connect-content-encoding"));
    let frames = envelopes(&answer.body);
    assert_eq!(frames[0].0, 0);
    assert_eq!(
        EchoResponse::decode(frames[0].1.as_slice())
            .unwrap()
            .message,
        big
    );
}

#[tokio::test]
async fn client_and_bidi_streaming_with_compressed_envelopes() {
    let server = server().await;
    let mut body = Vec::new();
    for word in ["a", "b", "c"] {
        body.extend(envelope(1, &gzip(&echo(word).encode_to_vec())));
    }
    let mut headers = headers("application/connect+proto");
    headers.push(("connect-content-encoding", "gzip"));
    let answer = post(&server, CLIENT_STREAM, &headers, body.clone()).await;
    let frames = envelopes(&answer.body);
    assert_eq!(frames.len(), 2, "{frames:?}");
    let total = EchoResponse::decode(frames[0].1.as_slice()).unwrap();
    assert_eq!((total.message.as_str(), total.index), ("abc", 3));

    let answer = post(&server, BIDI, &headers, body).await;
    let frames = envelopes(&answer.body);
    let words: Vec<String> = frames[..3]
        .iter()
        .map(|(_, p)| EchoResponse::decode(p.as_slice()).unwrap().message)
        .collect();
    assert_eq!(words, ["a", "b", "c"]);
    assert_eq!(frames[3].0, 2);
    assert!(json(&frames[3].1).get("error").is_none());

    // A compressed envelope without an encoding, and a broken one: invalid_argument at the end.
    let answer = post(
        &server,
        CLIENT_STREAM,
        &self::headers("application/connect+proto"),
        envelope(1, b"zz"),
    )
    .await;
    let frames = envelopes(&answer.body);
    assert_eq!(
        json(&frames.last().unwrap().1)["error"]["code"],
        "invalid_argument"
    );
    let mut truncated = envelope(0, &echo("x").encode_to_vec());
    truncated.extend([0, 0, 0, 0, 9, 1]);
    let answer = post(
        &server,
        CLIENT_STREAM,
        &self::headers("application/connect+proto"),
        truncated,
    )
    .await;
    let end = json(&envelopes(&answer.body).last().unwrap().1);
    assert_eq!(end["error"]["code"], "invalid_argument", "{end}");
}

#[tokio::test]
async fn compressed_unary_bodies_both_ways() {
    let server = server().await;
    let big = EchoRequest {
        message: "z".repeat(4000),
        ..Default::default()
    };
    let mut headers = headers("application/proto");
    headers.push(("content-encoding", "gzip"));
    headers.push(("accept-encoding", "gzip"));
    let answer = post(&server, UNARY, &headers, gzip(&big.encode_to_vec())).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-encoding"], "gzip");
    assert!(
        answer.body.len() < 200,
        "compressed: {} bytes",
        answer.body.len()
    );
    let reply = EchoResponse::decode(gunzip(&answer.body).as_slice()).unwrap();
    assert_eq!(reply.message.len(), 4000);
}

#[tokio::test]
async fn pages_of_allowed_origins_read_the_response() {
    let server = server().await;
    let mut headers = headers("application/json");
    headers.push(("origin", "http://page.test"));
    headers.push(("x-echo-token", "abc"));
    let answer = post(&server, UNARY, &headers, br#"{"message": "cors"}"#.to_vec()).await;
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "http://page.test"
    );
    let exposed = answer.headers["access-control-expose-headers"]
        .to_str()
        .unwrap();
    for name in ["x-echo-token", "trailer-x-trailer"] {
        assert!(
            exposed.split(',').any(|e| e == name),
            "{name} not in {exposed}"
        );
    }
    headers[2] = ("origin", "http://evil.test");
    let answer = post(&server, UNARY, &headers, br#"{"message": "cors"}"#.to_vec()).await;
    assert!(!answer.headers.contains_key("access-control-allow-origin"));

    let preflight = bounded(
        "preflight",
        exchange(
            server.addr,
            Method::OPTIONS,
            UNARY,
            &[
                ("origin", "http://page.test"),
                ("access-control-request-method", "GET"),
            ],
            vec![],
        ),
    )
    .await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    let methods = preflight.headers["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("GET"), "{methods}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_clients_make_connect_calls_on_the_same_port() {
    let server = server().await;
    let url = format!("http://{}{UNARY}", server.addr);
    let args = |content_type: &str| {
        [
            "-X",
            "POST",
            "-H",
            &format!("content-type: {content_type}"),
            "--data-binary",
            "@-",
            &url,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let (head, body) = bounded(
        "curl",
        curl(args("application/proto"), echo("over curl").encode_to_vec()),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(
        EchoResponse::decode(body.as_slice())
            .expect("a bare message")
            .message,
        "over curl"
    );

    let (head, body) = bounded(
        "curl json",
        curl(args("application/json"), br#"{"message":"json"}"#.to_vec()),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(json(&body), serde_json::json!({"message": "json"}));

    let stream_url = format!("http://{}{SERVER_STREAM}", server.addr);
    let args = [
        "-X",
        "POST",
        "-H",
        "content-type: application/connect+json",
        "--data-binary",
        "@-",
        &stream_url,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let (head, body) = bounded(
        "curl stream",
        curl(args, envelope(0, br#"{"message":"h1","repeat":2}"#)),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let frames = envelopes(&body);
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[2].0, 2);
}
