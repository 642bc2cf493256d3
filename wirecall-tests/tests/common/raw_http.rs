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
/// the response headers (lower-cased) and body.
pub async fn curl(args: Vec<String>, body: Vec<u8>) -> (String, Vec<u8>) {
    curl_over("--http1.1", args, body).await
}

/// Runs curl over cleartext HTTP/2 with prior knowledge (gRPC's way: no upgrade), `args`
/// after the common ones and `body` on stdin; returns the response head followed by its
/// trailers, as curl reports them (lower-cased), and the body.
#[allow(dead_code)] // not every test file uses it
pub async fn curl_http2(args: Vec<String>, body: Vec<u8>) -> (String, Vec<u8>) {
    curl_over("--http2-prior-knowledge", args, body).await
}

/// Runs curl with `version` (its flag for the HTTP version); see [`curl`].
async fn curl_over(version: &'static str, args: Vec<String>, body: Vec<u8>) -> (String, Vec<u8>) {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dump = std::env::temp_dir().join(format!("wirecall-curl-{}-{run}", std::process::id()));
        let mut child = std::process::Command::new("curl")
            .args(["-sS", version, "--max-time", "10", "-D"])
            .arg(&dump)
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("curl runs (scripts/install-deps.sh installs it)");
        child.stdin.take().unwrap().write_all(&body).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "curl failed: {output:?}");
        // The head (and, over HTTP/2, a blank line and the trailers), as curl dumped them.
        let head = std::fs::read_to_string(&dump).expect("curl's header dump");
        std::fs::remove_file(&dump).unwrap();
        (head.trim_end().to_ascii_lowercase(), output.stdout)
    })
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// Hostile peers: requests h2 would refuse to send, raw frames, bytes that are not HTTP/2.

/// An HTTP/2 connection (made with h2) for tests that expect things to go wrong: every
/// answer comes back as a `Result`, the stream's reset or the connection's GOAWAY being
/// the error.
pub struct Conn {
    sender: h2::client::SendRequest<Bytes>,
    pings: h2::PingPong,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn connect(addr: std::net::SocketAddr) -> Conn {
        let io = tokio::net::TcpStream::connect(addr).await.expect("connect");
        Conn::over(io).await
    }

    /// Connects to `addr` through a relay that replaces the header block of the first
    /// request (stream 1) with `block`, an HPACK block made by [`hpack_literals`]: for
    /// request heads h2 refuses to send. Later requests would not decode on the server
    /// (h2's encoder state no longer matches the server's decoder), so send one.
    pub async fn connect_replacing_head(addr: std::net::SocketAddr, block: Vec<u8>) -> Conn {
        let server = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (near, far) = tokio::io::duplex(64 * 1024);
        tokio::spawn(relay_replacing_head(far, server, block));
        Conn::over(near).await
    }

    async fn over<IO>(io: IO) -> Conn
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, mut connection) = h2::client::handshake(io).await.expect("handshake");
        let pings = connection.ping_pong().expect("the ping handle, taken once");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Conn { sender, pings }
    }

    /// Sends `request` with `chunks` as its body (END_STREAM on the headers when there is
    /// none, else with the last chunk) and reads the whole answer.
    pub async fn send(
        &self,
        request: http::Request<()>,
        chunks: Vec<Bytes>,
    ) -> Result<Answer, h2::Error> {
        let mut sender = self.sender.clone().ready().await?;
        let (response, mut send) = sender.send_request(request, chunks.is_empty())?;
        let last = chunks.len().saturating_sub(1);
        for (i, chunk) in chunks.into_iter().enumerate() {
            // The server may have answered and reset the stream already: the answer is
            // what the caller checks.
            let _ = send.send_data(chunk, i == last);
        }
        read_answer(response).await
    }

    /// Sends `request` and `chunks` without ending the stream, then resets it with
    /// `reason`; returns what the response future then says.
    pub async fn send_then_reset(
        &self,
        request: http::Request<()>,
        chunks: Vec<Bytes>,
        reason: h2::Reason,
    ) -> Result<Answer, h2::Error> {
        let mut sender = self.sender.clone().ready().await?;
        let (response, mut send) = sender.send_request(request, false)?;
        for chunk in chunks {
            let _ = send.send_data(chunk, false);
        }
        send.send_reset(reason);
        read_answer(response).await
    }

    /// Whether the connection still answers a PING.
    pub async fn answers_ping(&mut self) -> Result<(), h2::Error> {
        self.pings.ping(h2::Ping::opaque()).await.map(drop)
    }
}

async fn read_answer(response: h2::client::ResponseFuture) -> Result<Answer, h2::Error> {
    let (parts, mut body) = response.await?.into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let http_trailers = body.trailers().await?;
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body: data,
        http_trailers,
    })
}

/// Copies the client's bytes to the server but for the first HEADERS frame of stream 1,
/// whose block becomes `block` (END_STREAM kept, END_HEADERS set); copies the server's
/// bytes back unchanged.
async fn relay_replacing_head(
    client: tokio::io::DuplexStream,
    server: tokio::net::TcpStream,
    block: Vec<u8>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut from_client, mut to_client) = tokio::io::split(client);
    let (mut from_server, mut to_server) = server.into_split();
    let back = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    });
    let mut block = Some(block);
    let mut preface = [0u8; PREFACE.len()];
    if from_client.read_exact(&mut preface).await.is_ok()
        && to_server.write_all(&preface).await.is_ok()
    {
        loop {
            let mut head = [0u8; 9];
            if from_client.read_exact(&mut head).await.is_err() {
                break;
            }
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0; len];
            if from_client.read_exact(&mut payload).await.is_err() {
                break;
            }
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
            let replaced = match block.take() {
                Some(block) if head[3] == HEADERS && stream == 1 => {
                    let flags = (head[4] & END_STREAM) | END_HEADERS;
                    Some(frame(HEADERS, flags, 1, &block))
                }
                other => {
                    block = other;
                    None
                }
            };
            let bytes = replaced.unwrap_or_else(|| [&head[..], &payload].concat());
            if to_server.write_all(&bytes).await.is_err() {
                break;
            }
        }
    }
    let _ = to_server.shutdown().await;
    let _ = back.await;
}

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types (RFC 9113, section 6).
pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

/// Frame flags.
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;

/// A frame's 9-byte header announcing `len` payload bytes.
pub fn frame_header(len: u32, kind: u8, flags: u8, stream: u32) -> Vec<u8> {
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out
}

/// A whole frame.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("a small payload");
    let mut out = frame_header(len, kind, flags, stream);
    out.extend_from_slice(payload);
    out
}

/// An HPACK header block of `fields` exactly as given (order, case, bytes), each a
/// "literal header field without indexing, new name" with plain (not Huffman) strings:
/// the server's decoder state does not change.
pub fn hpack_literals(fields: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0x00);
        hpack_string(&mut out, name);
        hpack_string(&mut out, value);
    }
    out
}

fn hpack_string(out: &mut Vec<u8>, text: &[u8]) {
    // Length with a 7-bit prefix, the Huffman bit clear (RFC 7541, 5.1 and 5.2).
    let mut n = text.len();
    if n < 0x7f {
        out.push(n as u8);
    } else {
        out.push(0x7f);
        n -= 0x7f;
        while n >= 0x80 {
            out.push((n % 0x80) as u8 | 0x80);
            n /= 0x80;
        }
        out.push(n as u8);
    }
    out.extend_from_slice(text);
}

/// A frame as read off a raw connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// The error code of a RST_STREAM or GOAWAY frame.
    pub fn error_code(&self) -> Option<u32> {
        let at = match self.kind {
            RST_STREAM => 0,
            GOAWAY => 4,
            _ => return None,
        };
        let code = self.payload.get(at..at + 4)?;
        Some(u32::from_be_bytes(code.try_into().expect("four bytes")))
    }
}

/// A TCP connection that writes whatever it is given and reads HTTP/2 frames back
/// without interpreting them (no SETTINGS ACK, no flow control).
pub struct RawConn {
    io: tokio::net::TcpStream,
    buf: Vec<u8>,
    /// Every byte received so far.
    pub received: Vec<u8>,
}

impl RawConn {
    /// Connects to `addr`; nothing is sent.
    pub async fn connect(addr: std::net::SocketAddr) -> RawConn {
        let io = tokio::net::TcpStream::connect(addr).await.expect("connect");
        RawConn {
            io,
            buf: Vec::new(),
            received: Vec::new(),
        }
    }

    /// Connects and sends the preface and an empty SETTINGS frame.
    pub async fn handshake(addr: std::net::SocketAddr) -> RawConn {
        let mut conn = RawConn::connect(addr).await;
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &[]));
        conn.write(&hello).await;
        conn
    }

    /// Writes `bytes`; a failure (the server closed already) is not an error here.
    pub async fn write(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let _ = self.io.write_all(bytes).await;
    }

    /// The next frame, or `None` once the server closed the connection (or reset it).
    pub async fn next_frame(&mut self) -> Option<RawFrame> {
        use tokio::io::AsyncReadExt;
        loop {
            if self.buf.len() >= 9 {
                let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
                if self.buf.len() >= 9 + len {
                    let rest = self.buf.split_off(9 + len);
                    let bytes = std::mem::replace(&mut self.buf, rest);
                    return Some(RawFrame {
                        kind: bytes[3],
                        flags: bytes[4],
                        stream: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]])
                            & 0x7fff_ffff,
                        payload: bytes[9..].to_vec(),
                    });
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.io.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.received.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }

    /// Reads frames until one satisfies `wanted` (returned, with those before it) or the
    /// connection closes (`None`, with every frame read).
    pub async fn until(
        &mut self,
        mut wanted: impl FnMut(&RawFrame) -> bool,
    ) -> (Option<RawFrame>, Vec<RawFrame>) {
        let mut before = Vec::new();
        while let Some(frame) = self.next_frame().await {
            if wanted(&frame) {
                return (Some(frame), before);
            }
            before.push(frame);
        }
        (None, before)
    }
}
