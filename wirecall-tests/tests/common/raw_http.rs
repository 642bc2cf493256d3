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
