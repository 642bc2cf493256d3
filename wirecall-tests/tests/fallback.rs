//! Other HTTP on the same port (`ServerBuilder::fallback`): an axum `Router` answers what is
//! not gRPC, over HTTP/2 and HTTP/1.1, while gRPC calls on the same port go on as before.

mod common;

use axum::body::Bytes;
use axum::routing::{get, post};
use axum::Router;
use http::{Method, StatusCode};
use wirecall_tests::echo::EchoRequest;

use common::raw_http::{curl, exchange};

/// The page beside the API: a health check, an upload that answers with what it got, and a
/// route that reads a header.
fn pages() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/upload",
            post(|body: Bytes| async move { format!("got {} bytes", body.len()) }),
        )
        .route(
            "/hello",
            get(|headers: http::HeaderMap| async move {
                let name = headers
                    .get("x-name")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("nobody")
                    .to_owned();
                format!("hello {name}")
            }),
        )
}

#[tokio::test]
async fn an_axum_router_answers_beside_grpc_over_http2() {
    let server = common::start_with(|builder| builder.fallback(pages())).await;

    let health = exchange(server.addr, Method::GET, "/healthz", &[], vec![]).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body, b"ok");

    // A request body streams through to the router, in several DATA frames.
    let chunks = vec![
        Bytes::from(vec![b'x'; 40_000]),
        Bytes::from(vec![b'y'; 30_000]),
    ];
    let upload = exchange(server.addr, Method::POST, "/upload", &[], chunks).await;
    assert_eq!(upload.status, StatusCode::OK);
    assert_eq!(upload.body, b"got 70000 bytes");

    let hello = exchange(
        server.addr,
        Method::GET,
        "/hello",
        &[("x-name", "grpc")],
        vec![],
    )
    .await;
    assert_eq!(hello.body, b"hello grpc");

    // What the router does not know is its 404, not the server's 405.
    let missing = exchange(server.addr, Method::GET, "/nope", &[], vec![]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // gRPC on the same port is untouched.
    let reply = server
        .client()
        .unary(EchoRequest {
            message: "still grpc".into(),
            ..Default::default()
        })
        .await
        .expect("a gRPC call beside the pages");
    assert_eq!(reply.get_ref().message, "still grpc");
}

#[tokio::test]
async fn an_axum_router_answers_over_http1_on_the_grpc_port() {
    let server = common::start_with(|builder| builder.fallback(pages())).await;
    let base = server.url();

    let (head, body) = curl(vec![format!("{base}/healthz")], vec![]).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, b"ok");

    let (head, body) = curl(
        vec![
            "--data-binary".into(),
            "@-".into(),
            format!("{base}/upload"),
        ],
        vec![b'z'; 100_000],
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, b"got 100000 bytes");

    let (head, body) = curl(
        vec![
            "-H".into(),
            "x-name: browser".into(),
            format!("{base}/hello"),
        ],
        vec![],
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, b"hello browser");
}

#[tokio::test]
async fn without_a_fallback_other_requests_are_refused_as_before() {
    let server = common::start().await;
    let health = exchange(server.addr, Method::GET, "/healthz", &[], vec![]).await;
    assert_eq!(health.status, StatusCode::METHOD_NOT_ALLOWED);
    let upload = exchange(
        server.addr,
        Method::POST,
        "/upload",
        &[],
        vec![Bytes::from_static(b"x")],
    )
    .await;
    assert_eq!(upload.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
