//! The Connect protocol's unary calls against the wirecall server with `accept_connect`:
//! bare protobuf bodies over HTTP/2 (raw h2 client) and HTTP/1.1 (curl), metadata and
//! `trailer-*` headers, `Connect-Timeout-Ms`, and errors as HTTP statuses with the JSON
//! body.

mod common;

use common::raw_http::{curl, exchange};
use common::{bounded, echo, sleeping, start_with};
use http::{Method, StatusCode};
use prost::Message;
use wirecall_tests::echo::EchoResponse;

const UNARY: &str = "/wirecall.test.echo.Echo/Unary";

fn connect_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("content-type", "application/proto"),
        ("connect-protocol-version", "1"),
    ]
}

async fn server() -> common::TestServer {
    start_with(|builder| builder.accept_connect()).await
}

#[tokio::test]
async fn unary_calls_carry_bare_messages_and_trailer_headers() {
    let server = server().await;
    let mut headers = connect_headers();
    headers.push(("x-echo-who", "connect"));
    let body = bytes::Bytes::from(echo("plain").encode_to_vec());
    let answer = bounded(
        "connect unary",
        exchange(server.addr, Method::POST, UNARY, &headers, vec![body]),
    )
    .await;
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
async fn errors_are_http_statuses_with_a_json_body() {
    let server = server().await;
    let request = common::failing(5, "no such thing");
    let answer = bounded(
        "failing call",
        exchange(
            server.addr,
            Method::POST,
            UNARY,
            &connect_headers(),
            vec![request.encode_to_vec().into()],
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON");
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["message"], "no such thing");

    let mut headers = connect_headers();
    headers.push(("connect-timeout-ms", "100"));
    let slow = bounded(
        "slow call",
        exchange(
            server.addr,
            Method::POST,
            UNARY,
            &headers,
            vec![sleeping("slow", 3000).encode_to_vec().into()],
        ),
    )
    .await;
    assert_eq!(slow.status, StatusCode::GATEWAY_TIMEOUT);
    let body: serde_json::Value = serde_json::from_slice(&slow.body).unwrap();
    assert_eq!(body["code"], "deadline_exceeded");

    let streaming = bounded(
        "Connect on a streaming method",
        exchange(
            server.addr,
            Method::POST,
            "/wirecall.test.echo.Echo/ServerStream",
            &connect_headers(),
            vec![echo("s").encode_to_vec().into()],
        ),
    )
    .await;
    assert_eq!(streaming.status, StatusCode::NOT_IMPLEMENTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_clients_make_connect_calls_on_the_same_port() {
    let server = server().await;
    let url = format!("http://{}{UNARY}", server.addr);
    let args = ["-X", "POST", "-H", "content-type: application/proto"]
        .iter()
        .map(|a| a.to_string())
        .chain(["--data-binary".into(), "@-".into(), url])
        .collect();
    let (head, body) = bounded("curl", curl(args, echo("over curl").encode_to_vec())).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let reply = EchoResponse::decode(body.as_slice()).expect("a bare message");
    assert_eq!(reply.message, "over curl");
}
