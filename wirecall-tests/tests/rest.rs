//! HTTP/JSON transcoding (`accept_rest`) of the `google.api.http` rules in echo.proto:
//! path variables, query parameters, `body: "*"` and `body: "<field>"`, server streaming as
//! newline-delimited JSON, errors as HTTP statuses with the `google.rpc.Status` JSON, over
//! HTTP/2 (raw h2 client) and HTTP/1.1 (curl).

mod common;

use common::raw_http::{curl, exchange, Answer};
use common::{bounded, start_with};
use http::{Method, StatusCode};

async fn server() -> common::TestServer {
    start_with(|builder| builder.accept_rest()).await
}

async fn call(server: &common::TestServer, method: Method, path: &str, body: &str) -> Answer {
    let chunks = if body.is_empty() {
        vec![]
    } else {
        vec![body.to_owned().into()]
    };
    let headers = [("content-type", "application/json"), ("x-echo-who", "rest")];
    bounded(path, exchange(server.addr, method, path, &headers, chunks)).await
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(bytes)))
}

#[tokio::test]
async fn path_variables_query_parameters_and_bodies_build_the_request() {
    let server = server().await;
    let answer = call(&server, Method::GET, "/v1/echo/hello%20there", "").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(
        json(&answer.body),
        serde_json::json!({"message": "hello there"})
    );
    assert_eq!(
        answer.headers["grpc-metadata-x-echo-who"], "rest",
        "metadata both ways"
    );
    assert_eq!(answer.headers["grpc-trailer-x-trailer"], "done");

    let answer = call(
        &server,
        Method::GET,
        "/v1/echo/q?payload=aGk&sleepMs=0&fail_message=unused",
        "",
    )
    .await;
    assert_eq!(
        json(&answer.body),
        serde_json::json!({"message": "q", "payload": "aGk="})
    );

    let answer = call(
        &server,
        Method::POST,
        "/v1/echo",
        r#"{"message": "posted", "payload": "AQI="}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        json(&answer.body),
        serde_json::json!({"message": "posted", "payload": "AQI="})
    );

    // body: "payload": the body is that field, the rest from the path.
    let answer = call(&server, Method::PUT, "/v1/echo/put/payload", r#""AAEC""#).await;
    assert_eq!(
        json(&answer.body),
        serde_json::json!({"message": "put", "payload": "AAEC"})
    );
}

#[tokio::test]
async fn errors_are_http_statuses_with_status_json() {
    let server = server().await;
    let answer = call(
        &server,
        Method::GET,
        "/v1/echo/x?failCode=5&failMessage=no%20such%20echo",
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(
        json(&answer.body),
        serde_json::json!({"code": 5, "message": "no such echo", "details": []})
    );

    let answer = call(&server, Method::GET, "/v1/echo/x?nope=1", "").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let body = json(&answer.body);
    assert_eq!(body["code"], 3);
    assert!(body["message"].as_str().unwrap().contains("nope"), "{body}");

    let answer = call(&server, Method::GET, "/v1/echo/x?repeat=many", "").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = call(&server, Method::POST, "/v1/echo", "{not json").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    // No rule for DELETE, nor for this path: not the gateway's.
    let answer = call(&server, Method::DELETE, "/v1/echo/x", "").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn server_streaming_answers_newline_delimited_json() {
    let server = server().await;
    let answer = call(&server, Method::GET, "/v1/echo/s:stream?repeat=3", "").await;
    assert_eq!(answer.status, StatusCode::OK);
    let lines: Vec<serde_json::Value> = answer
        .body
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(json)
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"result": {"message": "s"}}),
            serde_json::json!({"result": {"message": "s", "index": 1}}),
            serde_json::json!({"result": {"message": "s", "index": 2}}),
        ]
    );
    let answer = call(
        &server,
        Method::GET,
        "/v1/echo/f:stream?repeat=1&failCode=14&failMessage=down",
        "",
    )
    .await;
    let last = answer
        .body
        .split(|&b| b == b'\n')
        .rfind(|l| !l.is_empty())
        .map(json);
    assert_eq!(
        last,
        Some(serde_json::json!({"error": {"code": 14, "message": "down", "details": []}}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_calls_the_rest_endpoints_over_http1() {
    let server = server().await;
    let base = format!("http://{}", server.addr);
    let (head, body) = bounded(
        "curl GET",
        curl(vec![format!("{base}/v1/echo/curl?payload=aGk")], vec![]),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(
        json(&body),
        serde_json::json!({"message": "curl", "payload": "aGk="})
    );

    let args = [
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data-binary",
        "@-",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([format!("{base}/v1/echo")])
    .collect();
    let (head, body) = bounded(
        "curl POST",
        curl(args, br#"{"message":"posted by curl"}"#.to_vec()),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(
        json(&body),
        serde_json::json!({"message": "posted by curl"})
    );

    let (head, body) = bounded(
        "curl error",
        curl(
            vec![format!("{base}/v1/echo/e?failCode=7&failMessage=no")],
            vec![],
        ),
    )
    .await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    assert_eq!(json(&body)["code"], 7);
}
