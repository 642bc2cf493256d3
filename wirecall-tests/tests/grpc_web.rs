//! gRPC-Web over HTTP/2 against the wirecall server with `accept_grpc_web`: binary and text
//! bodies, unary and server streaming, trailers in a trailer frame, errors, CORS preflights
//! and response headers. Spoken by a raw h2 client, byte by byte as PROTOCOL-WEB.md says.

mod common;

use common::raw_http::{curl, exchange, Answer};
use common::{bounded, echo, framed_echo, start_with};
use http::{HeaderMap, Method, StatusCode};
use prost::Message;
use wirecall::web::{encode_text, parse_trailers, Cors, TextDecoder};
use wirecall_tests::echo::{EchoRequest, EchoResponse};

const UNARY: &str = "/wirecall.test.echo.Echo/Unary";
const SERVER_STREAM: &str = "/wirecall.test.echo.Echo/ServerStream";
const ORIGIN: &str = "https://app.test";

/// Splits a gRPC-Web response body into its message payloads and its trailers.
fn frames(body: &[u8]) -> (Vec<Vec<u8>>, Option<HeaderMap>) {
    let (mut messages, mut trailers, mut rest) = (Vec::new(), None, body);
    while !rest.is_empty() {
        assert!(trailers.is_none(), "nothing follows the trailer frame");
        let flag = rest[0];
        let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        let payload = &rest[5..5 + len];
        if flag & 0x80 != 0 {
            trailers = Some(parse_trailers(payload).expect("a valid trailer block"));
        } else {
            messages.push(payload.to_vec());
        }
        rest = &rest[5 + len..];
    }
    (messages, trailers)
}

fn web_headers(content_type: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("content-type", content_type),
        ("x-grpc-web", "1"),
        ("origin", ORIGIN),
    ]
}

/// A gRPC-Web POST of one framed `request` to `path` (origin allowed), answered whole.
async fn web_call(
    addr: std::net::SocketAddr,
    path: &str,
    content_type: &'static str,
    request: &EchoRequest,
) -> Answer {
    bounded(
        path,
        exchange(
            addr,
            Method::POST,
            path,
            &web_headers(content_type),
            vec![framed_echo(request)],
        ),
    )
    .await
}

async fn server() -> common::TestServer {
    start_with(|builder| {
        builder.accept_grpc_web(Cors::from_origins([ORIGIN]).expose(["x-echo-id"]))
    })
    .await
}

#[tokio::test]
async fn binary_unary_calls_end_with_a_trailer_frame() {
    let server = server().await;
    let mut headers = web_headers("application/grpc-web+proto");
    headers.push(("x-echo-id", "42"));
    let answer = bounded(
        "unary",
        exchange(
            server.addr,
            Method::POST,
            UNARY,
            &headers,
            vec![framed_echo(&echo("hi"))],
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/grpc-web+proto");
    assert_eq!(
        answer.headers["x-echo-id"], "42",
        "response metadata in the headers"
    );
    assert_eq!(answer.headers["access-control-allow-origin"], ORIGIN);
    let exposed = answer.headers["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(
        exposed.contains("grpc-status") && exposed.contains("x-echo-id"),
        "{exposed}"
    );
    assert!(
        answer.http_trailers.is_none(),
        "no HTTP trailers in gRPC-Web"
    );
    let (messages, trailers) = frames(&answer.body);
    let reply = EchoResponse::decode(messages[0].as_slice()).unwrap();
    assert_eq!((messages.len(), reply.message.as_str()), (1, "hi"));
    let trailers = trailers.expect("a trailer frame");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(
        trailers["x-trailer"], "done",
        "trailer metadata in the frame"
    );
}

#[tokio::test]
async fn text_bodies_are_base64_both_ways_even_split_mid_group() {
    let server = server().await;
    let request = encode_text(&framed_echo(&echo("in base64")));
    // Split inside a 4-character group.
    let chunks = vec![request.slice(..5), request.slice(5..)];
    let answer = bounded(
        "text unary",
        exchange(
            server.addr,
            Method::POST,
            UNARY,
            &web_headers("application/grpc-web-text"),
            chunks,
        ),
    )
    .await;
    assert_eq!(
        answer.headers["content-type"],
        "application/grpc-web-text+proto"
    );
    let mut decoder = TextDecoder::new();
    let body = decoder.decode(&answer.body).expect("the answer is base64");
    decoder.finish().unwrap();
    let (messages, trailers) = frames(&body);
    assert_eq!(
        EchoResponse::decode(messages[0].as_slice())
            .unwrap()
            .message,
        "in base64"
    );
    assert_eq!(trailers.expect("a trailer frame")["grpc-status"], "0");
}

#[tokio::test]
async fn server_streaming_sends_every_message_then_the_trailers() {
    let server = server().await;
    let request = EchoRequest {
        message: "tick".into(),
        repeat: 3,
        ..EchoRequest::default()
    };
    let answer = web_call(server.addr, SERVER_STREAM, "application/grpc-web", &request).await;
    let (messages, trailers) = frames(&answer.body);
    let indexes: Vec<i32> = messages
        .iter()
        .map(|m| EchoResponse::decode(m.as_slice()).unwrap().index)
        .collect();
    assert_eq!(indexes, [0, 1, 2]);
    assert_eq!(trailers.expect("a trailer frame")["grpc-status"], "0");
}

#[tokio::test]
async fn errors_are_trailers_only_with_the_cors_headers() {
    let server = server().await;
    let request = common::failing(5, "no such thing");
    let answer = web_call(server.addr, UNARY, "application/grpc-web+proto", &request).await;
    assert_eq!(answer.headers["grpc-status"], "5");
    assert_eq!(answer.headers["grpc-message"], "no such thing");
    assert_eq!(answer.headers["content-type"], "application/grpc-web+proto");
    assert_eq!(answer.headers["access-control-allow-origin"], ORIGIN);
    assert!(answer.body.is_empty());

    let unknown = web_call(
        server.addr,
        "/wirecall.test.echo.Echo/Nope",
        "application/grpc-web+proto",
        &echo("x"),
    )
    .await;
    assert_eq!(unknown.headers["grpc-status"], "12");
    assert_eq!(
        unknown.headers["content-type"],
        "application/grpc-web+proto"
    );
}

#[tokio::test]
async fn preflights_answer_allowed_origins_only() {
    let server = server().await;
    let ask = |origin: &'static str| {
        vec![
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,x-grpc-web,x-echo-id",
            ),
        ]
    };
    let allowed = bounded(
        "preflight",
        exchange(server.addr, Method::OPTIONS, UNARY, &ask(ORIGIN), vec![]),
    )
    .await;
    assert_eq!(allowed.status, StatusCode::NO_CONTENT);
    assert_eq!(allowed.headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(
        allowed.headers["access-control-allow-headers"],
        "content-type,x-grpc-web,x-echo-id"
    );
    let refused = bounded(
        "preflight",
        exchange(
            server.addr,
            Method::OPTIONS,
            UNARY,
            &ask("https://evil.test"),
            vec![],
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn without_the_flag_grpc_web_is_refused() {
    let server = common::start().await;
    let answer = web_call(
        server.addr,
        UNARY,
        "application/grpc-web+proto",
        &echo("hi"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_clients_call_the_same_port() {
    let server = server().await;
    let url = |path: &str| format!("http://{}{path}", server.addr);
    let post = |path: &str, content_type: &str| {
        vec![
            "-X".into(),
            "POST".into(),
            "-H".into(),
            format!("content-type: {content_type}"),
            "-H".into(),
            format!("origin: {ORIGIN}"),
            "--data-binary".into(),
            "@-".into(),
            url(path),
        ]
    };
    let (head, body) = bounded(
        "HTTP/1.1 unary",
        curl(
            post(UNARY, "application/grpc-web+proto"),
            framed_echo(&echo("over h1")).to_vec(),
        ),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: application/grpc-web+proto"),
        "{head}"
    );
    assert!(
        head.contains(&format!("access-control-allow-origin: {ORIGIN}")),
        "{head}"
    );
    let (messages, trailers) = frames(&body);
    assert_eq!(
        EchoResponse::decode(messages[0].as_slice())
            .unwrap()
            .message,
        "over h1"
    );
    assert_eq!(trailers.expect("a trailer frame")["grpc-status"], "0");

    let request = EchoRequest {
        message: "text".into(),
        repeat: 2,
        ..EchoRequest::default()
    };
    let (head, body) = bounded(
        "HTTP/1.1 text server stream",
        curl(
            post(SERVER_STREAM, "application/grpc-web-text"),
            encode_text(&framed_echo(&request)).to_vec(),
        ),
    )
    .await;
    assert!(
        head.contains("content-type: application/grpc-web-text+proto"),
        "{head}"
    );
    let body = TextDecoder::new().decode(&body).expect("base64");
    let (messages, trailers) = frames(&body);
    assert_eq!(messages.len(), 2);
    assert_eq!(trailers.expect("a trailer frame")["grpc-status"], "0");

    let (head, _) = bounded(
        "HTTP/1.1 preflight",
        curl(
            vec![
                "-X".into(),
                "OPTIONS".into(),
                "-H".into(),
                format!("origin: {ORIGIN}"),
                "-H".into(),
                "access-control-request-method: POST".into(),
                url(UNARY),
            ],
            Vec::new(),
        ),
    )
    .await;
    assert!(head.starts_with("http/1.1 204"), "{head}");
    assert!(
        head.contains("access-control-allow-methods: get, post, put, patch, delete, options"),
        "{head}"
    );

    // HTTP/2 still works on the same port.
    let answer = web_call(server.addr, UNARY, "application/grpc-web", &echo("h2")).await;
    assert_eq!(
        frames(&answer.body).1.expect("trailers")["grpc-status"],
        "0"
    );
    let client = server.client();
    let reply = bounded("native gRPC", client.unary(echo("native")))
        .await
        .expect("native call");
    assert_eq!(reply.get_ref().message, "native");
}
