//! A raw HTTP/2 client for tests that check bytes on the wire: one request, the whole
//! answer.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

/// A whole response.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub http_trailers: Option<HeaderMap>,
}

/// Sends one request with `chunks` as its body (END_STREAM after the last) and reads the
/// whole answer.
pub async fn exchange(
    addr: std::net::SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    chunks: Vec<Bytes>,
) -> Answer {
    let io = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) = h2::client::handshake(io).await.expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut sender = sender.ready().await.expect("ready");
    let (response, mut send) = sender
        .send_request(request.body(()).unwrap(), chunks.is_empty())
        .expect("send");
    let last = chunks.len().saturating_sub(1);
    for (i, chunk) in chunks.into_iter().enumerate() {
        let _ = send.send_data(chunk, i == last);
    }
    let (parts, mut body) = response.await.expect("a response").into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("data");
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let http_trailers = body.trailers().await.expect("trailers");
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: data,
        http_trailers,
    }
}

/// Runs curl over HTTP/1.1 (`args` after the common ones) with `body` on stdin; returns
/// the response headers (lower-cased names) and body.
pub async fn curl(args: Vec<String>, body: Vec<u8>) -> (String, Vec<u8>) {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("curl")
            .args(["-sS", "--http1.1", "--max-time", "10", "-D", "-"])
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("curl runs (scripts/install-deps.sh installs it)");
        child.stdin.take().unwrap().write_all(&body).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "curl failed: {output:?}");
        let split = output
            .stdout
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a header block");
        let head = String::from_utf8_lossy(&output.stdout[..split]).to_ascii_lowercase();
        (head, output.stdout[split + 4..].to_vec())
    })
    .await
    .unwrap()
}
