//! Calls with JSON messages (`application/grpc+json`, `application/grpc-web+json`), as
//! connect-go serves them: the same framing, trailers and statuses, each message in the
//! protobuf JSON mapping, converted at the wire so the handler sees protobuf.

mod common;

use bytes::Bytes;
use http::{Method, StatusCode};
use wirecall::web::{parse_trailers, Cors};

use common::grpc_frame;
use common::raw_http::{curl, exchange};

const UNARY: &str = "/wirecall.test.echo.Echo/Unary";
const SERVER_STREAM: &str = "/wirecall.test.echo.Echo/ServerStream";

/// A body's message payloads (as text) and, for gRPC-Web, its trailer frame.
fn messages(body: &[u8]) -> (Vec<String>, Option<http::HeaderMap>) {
    let (mut messages, mut trailers, mut rest) = (Vec::new(), None, body);
    while !rest.is_empty() {
        let flag = rest[0];
        let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        let payload = &rest[5..5 + len];
        if flag & 0x80 != 0 {
            trailers = Some(parse_trailers(payload).expect("a trailer block"));
        } else {
            assert_eq!(flag, 0, "JSON messages go uncompressed");
            messages.push(String::from_utf8(payload.to_vec()).expect("JSON is text"));
        }
        rest = &rest[5 + len..];
    }
    (messages, trailers)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("valid JSON")
}

#[tokio::test]
async fn a_unary_call_in_json_over_http2_answers_in_json() {
    let server = common::start().await;
    let request = grpc_frame(false, br#"{"message": "hi", "payload": "AAEC"}"#);
    let answer = exchange(
        server.addr,
        Method::POST,
        UNARY,
        &[
            ("content-type", "application/grpc+json"),
            ("te", "trailers"),
        ],
        vec![request],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/grpc+json");
    let (messages, _) = messages(&answer.body);
    assert_eq!(messages.len(), 1);
    // The handler echoed protobuf; the client reads it as JSON (bytes in base64).
    assert_eq!(
        json(&messages[0]),
        serde_json::json!({"message": "hi", "payload": "AAEC"})
    );
    let trailers = answer.http_trailers.expect("trailers");
    assert_eq!(trailers["grpc-status"], "0");
}

#[tokio::test]
async fn a_server_stream_in_json_sends_every_message_as_json() {
    let server = common::start().await;
    let request = grpc_frame(false, br#"{"message": "s", "repeat": 3}"#);
    let answer = exchange(
        server.addr,
        Method::POST,
        SERVER_STREAM,
        &[
            ("content-type", "application/grpc+json"),
            ("te", "trailers"),
        ],
        vec![request],
    )
    .await;
    let (messages, _) = messages(&answer.body);
    let indexes: Vec<i64> = messages
        .iter()
        .map(|m| json(m).get("index").and_then(|i| i.as_i64()).unwrap_or(0))
        .collect();
    assert_eq!(indexes, [0, 1, 2], "{messages:?}");
    assert_eq!(answer.http_trailers.expect("trailers")["grpc-status"], "0");
}

#[tokio::test]
async fn invalid_json_is_invalid_argument_and_a_failing_call_keeps_its_status() {
    let server = common::start().await;
    let bad = exchange(
        server.addr,
        Method::POST,
        UNARY,
        &[
            ("content-type", "application/grpc+json"),
            ("te", "trailers"),
        ],
        vec![grpc_frame(false, br#"{"message": 7"#)],
    )
    .await;
    let status = bad
        .http_trailers
        .as_ref()
        .and_then(|t| t.get("grpc-status").cloned())
        .or_else(|| bad.headers.get("grpc-status").cloned())
        .expect("a status");
    assert_eq!(status, "3", "INVALID_ARGUMENT");

    let failing = exchange(
        server.addr,
        Method::POST,
        UNARY,
        &[
            ("content-type", "application/grpc+json"),
            ("te", "trailers"),
        ],
        vec![grpc_frame(
            false,
            br#"{"failCode": 5, "failMessage": "nope"}"#,
        )],
    )
    .await;
    assert_eq!(failing.headers["grpc-status"], "5");
    assert_eq!(failing.headers["grpc-message"], "nope");
}

#[tokio::test]
async fn grpc_web_with_json_over_http1_answers_in_json_with_its_trailer_frame() {
    let server = common::start_with(|builder| builder.accept_grpc_web(Cors::any_origin())).await;
    let (head, body) = curl(
        vec![
            "-H".into(),
            "content-type: application/grpc-web+json".into(),
            "--data-binary".into(),
            "@-".into(),
            format!("{}{UNARY}", server.url()),
        ],
        grpc_frame(false, br#"{"message": "web"}"#).to_vec(),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: application/grpc-web+json"),
        "{head}"
    );
    let (messages, trailers) = messages(&body);
    assert_eq!(json(&messages[0]), serde_json::json!({"message": "web"}));
    assert_eq!(trailers.expect("a trailer frame")["grpc-status"], "0");
}

#[tokio::test]
async fn a_compressed_json_request_is_read() {
    let server = common::start().await;
    let payload = br#"{"message": "squeezed"}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, payload).unwrap();
    let compressed = Bytes::from(gz.finish().unwrap());
    let answer = exchange(
        server.addr,
        Method::POST,
        UNARY,
        &[
            ("content-type", "application/grpc+json"),
            ("te", "trailers"),
            ("grpc-encoding", "gzip"),
        ],
        vec![grpc_frame(true, &compressed)],
    )
    .await;
    let (messages, _) = messages(&answer.body);
    assert_eq!(
        json(&messages[0]),
        serde_json::json!({"message": "squeezed"})
    );
}
