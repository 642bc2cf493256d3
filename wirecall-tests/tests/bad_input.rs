//! The bad-input matrix: 98 rows, each one kind of hostile or malformed input sent to a
//! running server over a real socket on 127.0.0.1, with the exact answer the protocol
//! calls for (a gRPC status and message, an HTTP status, a stream reset reason, a GOAWAY
//! reason, or the connection closed), while a well-behaved client (a generated
//! `EchoClient` on a connection of its own) keeps making unary calls, every one of which
//! must succeed: one before the input, those during it, one after.
//!
//! - Request heads (36 rows): content types (text, JSON, `+json`, none, gRPC-Web and
//!   Connect on a server without them), `te`, methods, `:path` forms, malformed HTTP/2
//!   heads (missing or misplaced pseudo-headers, connection headers, upper-case names,
//!   control characters), header list sizes, `-bin`, non-ASCII and reserved metadata.
//! - Encodings and deadlines (18 rows): unknown or mismatched `grpc-encoding`, garbage and
//!   a bomb behind a real one, every malformed `grpc-timeout` form, zero, tiny and maximal
//!   ones.
//! - Messages (20 rows): length prefixes past the limit or the body, bodies ending in a
//!   prefix, flag bytes 2, 0x80 and 255, invalid protobuf, request cardinality, client
//!   resets right after the headers.
//! - The HTTP/2 connection (24 rows): HTTP/1.1, an h2c upgrade and garbage instead of the
//!   preface, a preface never finished, frames that break RFC 9113 (sizes, stream ids,
//!   stream states, SETTINGS values, windows, padding, CONTINUATION misuse and floods,
//!   HPACK garbage), unknown frame types.
//!
//! Stream-level answers (a gRPC status, an HTTP status, a stream reset) must leave the
//! connection usable: it still answers a PING and, where h2 sent the request, serves a
//! valid call next. Connection errors end with GOAWAY and the socket closed.
//!
//! The suite runs once per HTTP/2 engine. Where h2 answers a malformed frame with a less
//! specific GOAWAY code than RFC 9113 names, the row asserts what h2 does and says so, and
//! the RFC's code on wirecall's own engine ([`engines`]).

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::Reason;
use http::{HeaderValue, Method, StatusCode};
use prost::Message;
use tokio::task::JoinHandle;
use wirecall::{Code, Status};
use wirecall_tests::echo::{EchoClient, EchoResponse};

use common::raw_http::{self, Answer, Conn, RawConn, RawFrame};
use common::{bounded, echo, framed_echo, grpc_frame, TestServer};

const UNARY: &str = "/wirecall.test.echo.Echo/Unary";
const SERVER_STREAM: &str = "/wirecall.test.echo.Echo/ServerStream";
/// The server's default receive limit (4 MiB).
const MAX_MESSAGE: u32 = 4 * 1024 * 1024;

// ---------------------------------------------------------------------------------------
// The table.

/// One kind of bad input and what the server must answer.
struct Row {
    name: &'static str,
    input: Input,
    expect: Expect,
}

/// What is sent.
enum Input {
    /// One request sent by h2: header values as raw bytes, the body's chunks as DATA
    /// frames (none: END_STREAM on the HEADERS frame).
    Request {
        method: Method,
        path: String,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<Bytes>,
    },
    /// One request whose HEADERS frame carries exactly `fields` (a head h2 would not
    /// send), with `body` after it.
    Head {
        fields: Vec<(Vec<u8>, Vec<u8>)>,
        body: Vec<Bytes>,
    },
    /// A valid unary request, reset (CANCEL) by the client after its headers and `body`.
    ResetAfter { body: Vec<Bytes> },
    /// Raw bytes on a new TCP connection, from its first byte.
    Bytes(Vec<u8>),
    /// Raw steps after the preface and an empty SETTINGS frame.
    Frames(Vec<Step>),
}

enum Step {
    Write(Vec<u8>),
    /// Wait for the server to end stream `n` (a frame with END_STREAM on it).
    AwaitEnd(u32),
}

/// What must come back.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Served: HTTP 200, one response message, `grpc-status: 0`.
    Served,
    /// A gRPC answer: HTTP 200, `application/grpc`, this `grpc-status` and a
    /// `grpc-message` containing the text.
    Status(Code, &'static str),
    /// `UNIMPLEMENTED` naming the encoding, with `grpc-accept-encoding` in the answer
    /// (PROTOCOL-HTTP2.md, "Compression").
    EncodingRefused(&'static str),
    /// A plain HTTP answer with this status.
    Http(StatusCode),
    /// The server resets the stream with this reason; the connection goes on.
    Reset(Reason),
    /// A connection error: GOAWAY with this reason, then the socket closes.
    GoAway(Reason),
    /// The socket closes without an HTTP/2 answer (at most the server's SETTINGS, and a
    /// GOAWAY, which RFC 9113 section 3.4 makes optional after a bad preface).
    Closed,
    /// The input is ignored: the connection answers a PING next, no error before it.
    Ignored,
    /// The client's own reset: no answer, and the connection serves the next call.
    Cancelled,
}

/// What the server answers on h2, and on wirecall's own engine.
fn engines(h2: Expect, own: Expect) -> Expect {
    if common::own_engine() {
        own
    } else {
        h2
    }
}

fn row(name: &'static str, input: Input, expect: Expect) -> Row {
    Row {
        name,
        input,
        expect,
    }
}

// ---------------------------------------------------------------------------------------
// Building inputs.

fn header(name: &str, value: &[u8]) -> (String, Vec<u8>) {
    (name.to_owned(), value.to_vec())
}

fn grpc_headers() -> Vec<(String, Vec<u8>)> {
    vec![
        header("content-type", b"application/grpc"),
        header("te", b"trailers"),
    ]
}

/// A request to `path` with exactly `headers`.
fn request(method: Method, path: &str, headers: Vec<(String, Vec<u8>)>, body: Vec<Bytes>) -> Input {
    Input::Request {
        method,
        path: path.to_owned(),
        headers,
        body,
    }
}

/// A gRPC POST to `path` with the usual headers plus `extra`.
fn grpc_to(path: &str, extra: &[(&'static str, &[u8])], body: Vec<Bytes>) -> Input {
    let mut headers = grpc_headers();
    headers.extend(extra.iter().map(|(n, v)| header(n, v)));
    request(Method::POST, path, headers, body)
}

/// A gRPC POST to `Unary` with the usual headers plus `extra`.
fn unary(extra: &[(&'static str, &[u8])], body: Vec<Bytes>) -> Input {
    grpc_to(UNARY, extra, body)
}

/// A POST to `Unary` with this content type (`None`: without one), nothing else.
fn content_type(value: Option<&str>, body: Vec<Bytes>) -> Input {
    let headers = value
        .map(|v| header("content-type", v.as_bytes()))
        .into_iter()
        .collect();
    request(Method::POST, UNARY, headers, body)
}

/// One valid request message.
fn valid() -> Vec<Bytes> {
    vec![framed_echo(&echo("valid"))]
}

/// A body of exactly these bytes.
fn raw(bytes: &[u8]) -> Vec<Bytes> {
    vec![Bytes::copy_from_slice(bytes)]
}

/// A message whose prefix has `flag` and announces `len` bytes, followed by `payload`.
fn prefixed(flag: u8, len: u32, payload: &[u8]) -> Vec<Bytes> {
    let mut body = vec![flag];
    body.extend_from_slice(&len.to_be_bytes());
    body.extend_from_slice(payload);
    vec![body.into()]
}

/// A request message asking the handler to sleep `ms` first.
fn sleeping(ms: i32) -> Vec<Bytes> {
    vec![framed_echo(&common::sleeping("sleeper", ms))]
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

/// A request head for `path` (pseudo-headers first, as h2 would send them), then `extra`.
fn head(path: &[u8], extra: &[(&[u8], &[u8])]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b":method".to_vec(), b"POST".to_vec()),
        (b":scheme".to_vec(), b"http".to_vec()),
        (b":authority".to_vec(), b"127.0.0.1".to_vec()),
        (b":path".to_vec(), path.to_vec()),
        (b"content-type".to_vec(), b"application/grpc".to_vec()),
        (b"te".to_vec(), b"trailers".to_vec()),
    ];
    fields.extend(extra.iter().map(|(n, v)| (n.to_vec(), v.to_vec())));
    fields
}

fn head_input(fields: Vec<(Vec<u8>, Vec<u8>)>) -> Input {
    Input::Head {
        fields,
        body: valid(),
    }
}

/// `head(UNARY)` without the field named `name`.
fn head_without(name: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut fields = head(UNARY.as_bytes(), &[]);
    fields.retain(|(n, _)| n != name);
    fields
}

fn hpack(fields: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let borrowed: Vec<(&[u8], &[u8])> = fields
        .iter()
        .map(|(n, v)| (n.as_slice(), v.as_slice()))
        .collect();
    raw_http::hpack_literals(&borrowed)
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    raw_http::frame(kind, flags, stream, payload)
}

/// A raw HEADERS frame opening stream `stream` with a valid unary request head.
fn open_stream(stream: u32, end_stream: bool) -> Vec<u8> {
    let block = hpack(&head(UNARY.as_bytes(), &[]));
    let flags = raw_http::END_HEADERS | if end_stream { raw_http::END_STREAM } else { 0 };
    frame(raw_http::HEADERS, flags, stream, &block)
}

/// One SETTINGS parameter.
fn setting(id: u16, value: u32) -> Vec<u8> {
    let mut payload = id.to_be_bytes().to_vec();
    payload.extend_from_slice(&value.to_be_bytes());
    frame(raw_http::SETTINGS, 0, 0, &payload)
}

fn window_update(stream: u32, increment: u32) -> Vec<u8> {
    frame(raw_http::WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

fn frames(steps: Vec<Vec<u8>>) -> Input {
    Input::Frames(steps.into_iter().map(Step::Write).collect())
}

// ---------------------------------------------------------------------------------------
// Running a row.

/// A generated client on a connection of its own, calling `Unary` in a loop while a row
/// runs; every call must succeed.
struct Bystander {
    stop: Arc<AtomicBool>,
    task: Option<JoinHandle<Result<usize, Status>>>,
}

impl Drop for Bystander {
    /// A row that failed does not leave its bystander calling.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Bystander {
    /// Starts calling; returns once the first call was served.
    async fn start(client: EchoClient, row: &str) -> Bystander {
        let stop = Arc::new(AtomicBool::new(false));
        let (first_tx, first_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut first = Some(first_tx);
                let mut served = 0;
                loop {
                    // Read before the call: one more call is made after the row ends.
                    let last = stop.load(Ordering::Acquire);
                    let text = format!("bystander {served}");
                    let reply = client.unary(echo(&text)).await?;
                    if reply.get_ref().message != text {
                        return Err(Status::internal(format!("wrong reply {reply:?}")));
                    }
                    served += 1;
                    if let Some(first) = first.take() {
                        let _ = first.send(());
                    }
                    if last {
                        return Ok(served);
                    }
                }
            }
        });
        let bystander = Bystander {
            stop,
            task: Some(task),
        };
        if bounded(row, first_rx).await.is_err() {
            let served = bystander.finish(row).await;
            panic!("{row}: the bystander stopped after {served} calls");
        }
        bystander
    }

    /// Stops the loop after one more call; fails the row if any call failed.
    async fn finish(mut self, row: &str) -> usize {
        self.stop.store(true, Ordering::Release);
        let what = format!("{row}: the bystander's calls");
        let task = self.task.take().expect("finished once");
        match bounded(&what, task).await.expect("no panic") {
            Ok(served) => served,
            Err(status) => panic!("{row}: a well-behaved call failed meanwhile: {status:?}"),
        }
    }
}

/// Runs `rows` one after the other against `server`, each with a bystander; fails at the
/// end with every row that did not get its answer.
async fn run(server: &TestServer, rows: Vec<Row>) {
    let mut failed = Vec::new();
    let total = rows.len();
    for row in rows {
        let name = row.name;
        let client = server.client();
        let addr = server.addr;
        let outcome = tokio::spawn(async move {
            let bystander = Bystander::start(client, row.name).await;
            check(addr, &row).await;
            let served = bystander.finish(row.name).await;
            assert!(served >= 2, "{}: {served} bystander calls", row.name);
        })
        .await;
        if let Err(err) = outcome {
            failed.push(format!("{name}: {}", panic_text(err)));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {total} rows failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    // And the server still serves new connections.
    bounded("after the rows", server.client().unary(echo("after")))
        .await
        .expect("served after every row");
}

fn panic_text(err: tokio::task::JoinError) -> String {
    match err.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic".to_owned()),
        Err(err) => err.to_string(),
    }
}

async fn check(addr: SocketAddr, row: &Row) {
    let name = row.name;
    match &row.input {
        Input::Request {
            method,
            path,
            headers,
            body,
        } => {
            let conn = Conn::connect(addr).await;
            let answer = within_row(
                name,
                conn.send(build(addr, method, path, headers), body.clone()),
            )
            .await;
            check_answer(name, row.expect, answer);
            after_answer(name, row.expect, conn, addr).await;
        }
        Input::Head { fields, body } => {
            let mut conn = Conn::connect_replacing_head(addr, hpack(fields)).await;
            // What h2 sends is replaced on the way; it only has to be a request.
            let stand_in = build(addr, &Method::POST, UNARY, &grpc_headers());
            let answer = within_row(name, conn.send(stand_in, body.clone())).await;
            check_answer(name, row.expect, answer);
            // (A GOAWAY was checked with the answer; no second request may follow here.)
            if is_stream_level(row.expect) {
                within_row(name, conn.answers_ping())
                    .await
                    .unwrap_or_else(|err| panic!("{name}: the connection died: {err:?}"));
            }
        }
        Input::ResetAfter { body } => {
            let conn = Conn::connect(addr).await;
            let request = build(addr, &Method::POST, UNARY, &grpc_headers());
            let answer = within_row(
                name,
                conn.send_then_reset(request, body.clone(), Reason::CANCEL),
            )
            .await;
            match answer {
                Err(err) if err.reason() == Some(Reason::CANCEL) && !err.is_remote() => {}
                other => panic!(
                    "{name}: expected our own reset, got {:?}",
                    other.map(|a| a.status)
                ),
            }
            after_answer(name, row.expect, conn, addr).await;
        }
        Input::Bytes(bytes) => {
            let mut conn = RawConn::connect(addr).await;
            conn.write(bytes).await;
            check_raw(name, row.expect, &mut conn).await;
        }
        Input::Frames(steps) => {
            let mut conn = RawConn::handshake(addr).await;
            for step in steps {
                match step {
                    Step::Write(bytes) => conn.write(bytes).await,
                    Step::AwaitEnd(stream) => {
                        let stream = *stream;
                        let ended = |f: &RawFrame| {
                            f.stream == stream
                                && matches!(f.kind, raw_http::HEADERS | raw_http::DATA)
                                && f.flags & raw_http::END_STREAM != 0
                        };
                        let (end, _) = within_row(name, conn.until(ended)).await;
                        assert!(end.is_some(), "{name}: stream {stream} never ended");
                    }
                }
            }
            check_raw(name, row.expect, &mut conn).await;
        }
    }
}

async fn within_row<F: Future>(name: &str, fut: F) -> F::Output {
    bounded(name, fut).await
}

fn is_stream_level(expect: Expect) -> bool {
    !matches!(expect, Expect::GoAway(_) | Expect::Closed)
}

/// After a stream-level answer the connection must go on: it answers a PING and serves a
/// valid call. (A connection error's GOAWAY was checked with the answer.)
async fn after_answer(name: &str, expect: Expect, mut conn: Conn, addr: SocketAddr) {
    if !is_stream_level(expect) {
        return;
    }
    within_row(name, conn.answers_ping())
        .await
        .unwrap_or_else(|err| panic!("{name}: the connection died: {err:?}"));
    let next = build(addr, &Method::POST, UNARY, &grpc_headers());
    let answer = within_row(name, conn.send(next, valid())).await;
    check_answer(&format!("{name} (the next call)"), Expect::Served, answer);
}

fn build(
    addr: SocketAddr,
    method: &Method,
    path: &str,
    headers: &[(String, Vec<u8>)],
) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method(method.clone())
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        let value = HeaderValue::from_bytes(value).expect("a value h2 can send");
        request = request.header(name.as_str(), value);
    }
    request.body(()).expect("a valid request")
}

/// The status of a gRPC answer: from the trailers, else (trailers-only) the headers.
fn grpc_status(answer: &Answer) -> Option<Status> {
    match &answer.http_trailers {
        Some(trailers) => Status::from_header_map(trailers),
        None => Status::from_header_map(&answer.headers),
    }
}

fn describe(answer: &Answer) -> String {
    format!(
        "HTTP {} headers {:?} body {} bytes trailers {:?}",
        answer.status,
        answer.headers,
        answer.body.len(),
        answer.http_trailers
    )
}

fn check_answer(name: &str, expect: Expect, answer: Result<Answer, h2::Error>) {
    let answer = match (expect, answer) {
        (Expect::Reset(reason), Err(err)) => {
            assert!(
                err.is_reset() && err.is_remote() && err.reason() == Some(reason),
                "{name}: expected RST_STREAM {reason:?}, got {err:?}"
            );
            return;
        }
        (Expect::GoAway(reason), Err(err)) => {
            assert!(
                err.is_go_away() && err.is_remote() && err.reason() == Some(reason),
                "{name}: expected GOAWAY {reason:?}, got {err:?}"
            );
            return;
        }
        (_, Err(err)) => panic!("{name}: expected {expect:?}, got the error {err:?}"),
        (_, Ok(answer)) => answer,
    };
    let seen = describe(&answer);
    match expect {
        Expect::Http(status) => {
            assert_eq!(answer.status, status, "{name}: {seen}");
        }
        Expect::Served => {
            assert_eq!(answer.status, StatusCode::OK, "{name}: {seen}");
            let status = grpc_status(&answer);
            assert!(
                status.as_ref().is_some_and(Status::is_ok),
                "{name}: expected OK, got {status:?}: {seen}"
            );
            // Exactly one uncompressed message.
            let body = &answer.body;
            let one = body.len() >= 5
                && body[0] == 0
                && u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize
                    == body.len() - 5;
            assert!(one, "{name}: not one message: {seen}");
            EchoResponse::decode(&body[5..])
                .unwrap_or_else(|err| panic!("{name}: not an EchoResponse: {err}"));
        }
        Expect::Status(code, text) => check_status(name, &answer, code, text),
        Expect::EncodingRefused(encoding) => {
            check_status(name, &answer, Code::Unimplemented, encoding);
            assert!(
                answer.headers.contains_key("grpc-accept-encoding"),
                "{name}: no grpc-accept-encoding: {seen}"
            );
        }
        other => panic!("{name}: expected {other:?}, got an answer: {seen}"),
    }
}

fn check_status(name: &str, answer: &Answer, code: Code, text: &str) {
    let seen = describe(answer);
    assert_eq!(answer.status, StatusCode::OK, "{name}: {seen}");
    assert_eq!(
        answer
            .headers
            .get("content-type")
            .map(HeaderValue::as_bytes),
        Some(&b"application/grpc"[..]),
        "{name}: {seen}"
    );
    let status = grpc_status(answer).unwrap_or_else(|| panic!("{name}: no grpc-status: {seen}"));
    assert_eq!(status.code(), code, "{name}: {status:?}");
    assert!(
        status.message().contains(text),
        "{name}: {:?} does not contain {text:?}",
        status.message()
    );
}

const PING_DATA: [u8; 8] = *b"badinput";

async fn check_raw(name: &str, expect: Expect, conn: &mut RawConn) {
    match expect {
        Expect::GoAway(reason) => {
            // Frames are handled in order: a server that went on answers this PING, one
            // that ended the connection never does.
            conn.write(&frame(raw_http::PING, 0, 0, &PING_DATA)).await;
            let stop = |f: &RawFrame| f.kind == raw_http::GOAWAY || is_pong(f);
            let (goaway, before) = within_row(name, conn.until(stop)).await;
            assert!(
                !goaway.as_ref().is_some_and(is_pong),
                "{name}: no GOAWAY, the connection went on (answered a PING) after {before:?}"
            );
            let goaway =
                goaway.unwrap_or_else(|| panic!("{name}: closed without GOAWAY after {before:?}"));
            assert_eq!(
                goaway.error_code(),
                Some(u32::from(reason)),
                "{name}: {goaway:?} (debug data {:?})",
                String::from_utf8_lossy(&goaway.payload[8.min(goaway.payload.len())..])
            );
            let (_, after) = within_row(name, conn.until(|_| false)).await;
            assert!(
                after.iter().all(|f| f.kind != raw_http::HEADERS),
                "{name}: answered after GOAWAY: {after:?}"
            );
        }
        Expect::Reset(reason) => {
            let error = |f: &RawFrame| matches!(f.kind, raw_http::RST_STREAM | raw_http::GOAWAY);
            let (reset, before) = within_row(name, conn.until(error)).await;
            let reset = reset
                .unwrap_or_else(|| panic!("{name}: closed without RST_STREAM after {before:?}"));
            assert_eq!(reset.kind, raw_http::RST_STREAM, "{name}: {reset:?}");
            assert_eq!(
                reset.error_code(),
                Some(u32::from(reason)),
                "{name}: {reset:?}"
            );
            answers_raw_ping(name, conn).await;
        }
        Expect::Ignored => answers_raw_ping(name, conn).await,
        Expect::Closed => {
            let (_, frames) = within_row(name, conn.until(|_| false)).await;
            assert!(
                !conn.received.starts_with(b"HTTP/"),
                "{name}: an HTTP/1 answer: {:?}",
                String::from_utf8_lossy(&conn.received)
            );
            for frame in &frames {
                let fine = frame.kind == raw_http::SETTINGS
                    || (frame.kind == raw_http::GOAWAY
                        && frame.error_code() == Some(u32::from(Reason::PROTOCOL_ERROR)));
                assert!(fine, "{name}: unexpected {frame:?} before the close");
            }
        }
        other => panic!("{name}: {other:?} is not checked on a raw connection"),
    }
}

/// The answer to our PING.
fn is_pong(frame: &RawFrame) -> bool {
    frame.kind == raw_http::PING && frame.flags & raw_http::ACK != 0 && frame.payload == PING_DATA
}

/// The connection answers a PING, with no error before the answer.
async fn answers_raw_ping(name: &str, conn: &mut RawConn) {
    conn.write(&frame(raw_http::PING, 0, 0, &PING_DATA)).await;
    let (pong, before) = within_row(name, conn.until(is_pong)).await;
    assert!(
        pong.is_some(),
        "{name}: no PING answer; closed after {before:?}"
    );
    let errors: Vec<_> = before
        .iter()
        .filter(|f| matches!(f.kind, raw_http::GOAWAY | raw_http::RST_STREAM))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}");
}

// ---------------------------------------------------------------------------------------
// The rows.

fn request_head_rows() -> Vec<Row> {
    let path = |p: &str| grpc_to(p, &[], valid());
    let mut big_value = vec![b'a'; 20 * 1024];
    big_value[0] = b'b';
    vec![
        // PROTOCOL-HTTP2.md: a content type not starting with application/grpc SHOULD get
        // HTTP 415, so that no HTTP client takes a gRPC error for a success.
        row(
            "content-type text/plain",
            content_type(Some("text/plain"), valid()),
            Expect::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        row(
            "content-type application/json, Connect off",
            content_type(Some("application/json"), raw(b"{}")),
            Expect::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        // A choice the spec leaves open (a subtype the server has no codec for): wirecall
        // speaks protobuf and JSON, and refuses any other codec before routing (its
        // content-type check, server/head.rs); grpc-go is more lenient.
        row(
            "content-type application/grpc+xml",
            content_type(Some("application/grpc+xml"), raw(b"<m/>")),
            Expect::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        row(
            "content-type application/grpcx",
            content_type(Some("application/grpcx"), valid()),
            Expect::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        row(
            "no content-type",
            content_type(None, valid()),
            Expect::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        row(
            "gRPC-Web binary, gRPC-Web off",
            content_type(Some("application/grpc-web+proto"), valid()),
            Expect::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        row(
            "gRPC-Web text, gRPC-Web off",
            content_type(
                Some("application/grpc-web-text"),
                vec![Bytes::from_static(b"AAAAAAA=")],
            ),
            Expect::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        row(
            "Connect unary, Connect off",
            request(
                Method::POST,
                UNARY,
                vec![
                    header("content-type", b"application/proto"),
                    header("connect-protocol-version", b"1"),
                ],
                vec![Bytes::from(echo("x").encode_to_vec())],
            ),
            Expect::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        // PROTOCOL-HTTP2.md has clients send `te: trailers` to detect incompatible proxies;
        // it asks nothing of servers. Like grpc-go, wirecall serves a call without it.
        row(
            "no te: trailers",
            request(
                Method::POST,
                UNARY,
                vec![header("content-type", b"application/grpc")],
                valid(),
            ),
            Expect::Served,
        ),
        // RFC 9113 8.2.2: `te` with anything but "trailers" makes the request malformed.
        row(
            "te: gzip",
            head_input(
                head(UNARY.as_bytes(), &[])
                    .into_iter()
                    .map(|(n, v)| {
                        if n == b"te" {
                            (n, b"gzip".to_vec())
                        } else {
                            (n, v)
                        }
                    })
                    .collect(),
            ),
            Expect::Reset(Reason::PROTOCOL_ERROR),
        ),
        // Requests are POSTs. The spec does not say how to refuse others: 405, as grpc-go
        // answers.
        row(
            "GET on a gRPC path",
            request(Method::GET, UNARY, grpc_headers(), vec![]),
            Expect::Http(StatusCode::METHOD_NOT_ALLOWED),
        ),
        row(
            "PUT on a gRPC path",
            request(Method::PUT, UNARY, grpc_headers(), valid()),
            Expect::Http(StatusCode::METHOD_NOT_ALLOWED),
        ),
        // :path must start with "/" (RFC 9113 8.3.1; PROTOCOL-HTTP2.md: "/" Service "/"
        // Method): a malformed request, which h2 resets.
        row(
            "path without its leading slash",
            head_input(head(&UNARY.as_bytes()[1..], &[])),
            Expect::Reset(Reason::PROTOCOL_ERROR),
        ),
        row(
            "path without its leading slash, no :authority",
            head_input(
                head(&UNARY.as_bytes()[1..], &[])
                    .into_iter()
                    .filter(|(n, _)| n != b":authority")
                    .collect(),
            ),
            Expect::Reset(Reason::PROTOCOL_ERROR),
        ),
        // RFC 9113 8.3.1: :path MUST NOT be empty; h2 resets the stream.
        row(
            "empty path",
            head_input(head(b"", &[])),
            Expect::Reset(Reason::PROTOCOL_ERROR),
        ),
        row(
            "path /",
            path("/"),
            Expect::Status(Code::Unimplemented, "malformed method name"),
        ),
        row(
            "path //",
            path("//"),
            Expect::Status(Code::Unimplemented, "unknown service"),
        ),
        row(
            "unknown service",
            path("/no.such.Service/Unary"),
            Expect::Status(Code::Unimplemented, "unknown service no.such.Service"),
        ),
        row(
            "unknown method",
            path("/wirecall.test.echo.Echo/Nope"),
            Expect::Status(Code::Unimplemented, "unknown method Nope"),
        ),
        row(
            "empty method name",
            path("/wirecall.test.echo.Echo/"),
            Expect::Status(Code::Unimplemented, "unknown method"),
        ),
        row(
            "path with an extra segment",
            path("/wirecall.test.echo.Echo/Unary/more"),
            Expect::Status(Code::Unimplemented, "unknown method"),
        ),
        // Malformed HTTP/2 heads (RFC 9113 8.1.1 and 8.3): stream errors PROTOCOL_ERROR.
        row(
            "no :method",
            head_input(head_without(b":method")),
            Expect::Reset(Reason::PROTOCOL_ERROR),
        ),
        row(
            "no :scheme",
            head_input(head_without(b":scheme")),
            Expect::Reset(Reason::PROTOCOL_ERROR),
        ),
        row(
            "no :path",
            head_input(head_without(b":path")),
            Expect::Reset(Reason::PROTOCOL_ERROR),
        ),
        row(
            "pseudo-header after a regular one",
            head_input({
                let mut fields = head_without(b":path");
                fields.push((b":path".to_vec(), UNARY.as_bytes().to_vec()));
                fields
            }),
            Expect::Reset(Reason::PROTOCOL_ERROR),
        ),
        row(
            "connection header",
            head_input(head(UNARY.as_bytes(), &[(b"connection", b"keep-alive")])),
            Expect::Reset(Reason::PROTOCOL_ERROR),
        ),
        // An upper-case name (RFC 9113 8.2.2), a control character in a value (8.2.1) and
        // an unknown pseudo-header (8.3) make the request malformed too; h2 finds them
        // while decoding HPACK and treats them as connection errors, which RFC 9113 5.4.1
        // allows for any stream error.
        row(
            "upper-case header name",
            head_input(head(UNARY.as_bytes(), &[(b"X-Echo-Loud", b"1")])),
            engines(
                Expect::GoAway(Reason::PROTOCOL_ERROR),
                Expect::Reset(Reason::PROTOCOL_ERROR),
            ),
        ),
        row(
            "control character in a value",
            head_input(head(UNARY.as_bytes(), &[(b"x-echo-bell", b"a\x07b")])),
            engines(
                Expect::GoAway(Reason::PROTOCOL_ERROR),
                Expect::Reset(Reason::PROTOCOL_ERROR),
            ),
        ),
        row(
            "unknown pseudo-header",
            head_input(
                head(UNARY.as_bytes(), &[])
                    .into_iter()
                    .chain([(b":bogus".to_vec(), b"1".to_vec())])
                    .collect(),
            ),
            engines(
                Expect::GoAway(Reason::PROTOCOL_ERROR),
                Expect::Reset(Reason::PROTOCOL_ERROR),
            ),
        ),
        // Past SETTINGS_MAX_HEADER_LIST_SIZE (16 KiB): h2 answers 431 (RFC 9113 10.5.1)
        // and resets the stream.
        row(
            "one 20 KiB metadata value",
            unary(&[("x-echo-big", &big_value)], valid()),
            Expect::Http(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        ),
        // A header list past the limit that goes on over CONTINUATION frames: h2 will not
        // buffer the rest just to keep its HPACK state, and ends the connection with
        // COMPRESSION_ERROR. Ours decodes the block (it fits the CONTINUATION limit) to keep
        // HPACK in step, and answers 431.
        row(
            "3000 headers",
            request(Method::POST, UNARY, many_headers(3000), valid()),
            engines(
                Expect::GoAway(Reason::COMPRESSION_ERROR),
                Expect::Http(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            ),
        ),
        row(
            "200 headers, under the limit",
            request(Method::POST, UNARY, many_headers(200), valid()),
            Expect::Served,
        ),
        // A choice: PROTOCOL-HTTP2.md does not say; grpc-go answers INTERNAL ("malformed
        // binary metadata") before the handler runs.
        row(
            "invalid base64 in -bin metadata",
            unary(&[("x-echo-data-bin", b"!!not*base64")], valid()),
            Expect::Status(Code::Internal, "bin"),
        ),
        row(
            "padded and unpadded -bin metadata",
            unary(&[("x-a-bin", b"AQI="), ("x-b-bin", b"AQI")], valid()),
            Expect::Served,
        ),
        // PROTOCOL-HTTP2.md allows printable ASCII in values; HTTP/2 also carries bytes
        // 0x80..=0xFF. A choice, grpc-go's: pass them to the application.
        row(
            "non-ASCII metadata value",
            unary(&[("x-echo-name", "caf\u{e9}".as_bytes())], valid()),
            Expect::Served,
        ),
        row(
            "reserved grpc-status in a request",
            unary(&[("grpc-status", b"13")], valid()),
            Expect::Served,
        ),
    ]
}

/// The usual gRPC headers and `n` small custom ones.
fn many_headers(n: usize) -> Vec<(String, Vec<u8>)> {
    let mut headers = grpc_headers();
    headers.extend((0..n).map(|i| (format!("x-many-{i}"), b"value".to_vec())));
    headers
}

fn encoding_and_timeout_rows() -> Vec<Row> {
    let compressed = |encoding: &'static [u8], payload: &[u8]| {
        unary(
            &[("grpc-encoding", encoding)],
            prefixed(1, payload.len() as u32, payload),
        )
    };
    let timeout = |value: &'static [u8]| unary(&[("grpc-timeout", value)], valid());
    let bomb = gzip(&vec![0u8; MAX_MESSAGE as usize + 1024]);
    vec![
        // PROTOCOL-HTTP2.md: an encoding the server does not support is UNIMPLEMENTED, with
        // grpc-accept-encoding listing those it does.
        row(
            "unknown grpc-encoding",
            unary(&[("grpc-encoding", b"x-unheard-of")], valid()),
            Expect::EncodingRefused("x-unheard-of"),
        ),
        // Messages of a stream with an encoding may still be uncompressed (flag 0).
        row(
            "grpc-encoding gzip, message not compressed",
            unary(&[("grpc-encoding", b"gzip")], valid()),
            Expect::Served,
        ),
        // "If the Message-Encoding header is omitted then the Compressed-Flag must be 0";
        // grpc-go answers INTERNAL, for identity too.
        row(
            "compressed flag without grpc-encoding",
            unary(&[], prefixed(1, 2, b"\x0a\x00")),
            Expect::Status(Code::Internal, "no grpc-encoding"),
        ),
        row(
            "compressed flag with grpc-encoding identity",
            compressed(b"identity", b"\x0a\x00"),
            Expect::Status(Code::Internal, "no grpc-encoding"),
        ),
        // statuscodes.md: could not decompress, algorithm supported: INTERNAL.
        row(
            "gzip garbage",
            compressed(b"gzip", b"this is not gzip"),
            Expect::Status(Code::Internal, "invalid gzip"),
        ),
        row(
            "deflate garbage",
            compressed(b"deflate", b"\xff\xff\xff\xff not deflate"),
            Expect::Status(Code::Internal, "invalid deflate"),
        ),
        row(
            "zstd garbage",
            compressed(b"zstd", b"this is not zstd"),
            Expect::Status(Code::Internal, "invalid zstd"),
        ),
        row(
            "gzip bomb past the message limit",
            unary(
                &[("grpc-encoding", b"gzip")],
                prefixed(1, bomb.len() as u32, &bomb),
            ),
            Expect::Status(Code::ResourceExhausted, "larger than max"),
        ),
        // grpc-timeout: at most 8 digits, then one of H M S m u n (PROTOCOL-HTTP2.md).
        // Anything else is INTERNAL, as grpc-go answers ("malformed grpc-timeout").
        row(
            "grpc-timeout 1 (no unit)",
            timeout(b"1"),
            Expect::Status(Code::Internal, "grpc-timeout"),
        ),
        row(
            "grpc-timeout 1X (unknown unit)",
            timeout(b"1X"),
            Expect::Status(Code::Internal, "grpc-timeout"),
        ),
        row(
            "grpc-timeout -1S (negative)",
            timeout(b"-1S"),
            Expect::Status(Code::Internal, "grpc-timeout"),
        ),
        row(
            "grpc-timeout 123456789S (9 digits)",
            timeout(b"123456789S"),
            Expect::Status(Code::Internal, "grpc-timeout"),
        ),
        row(
            "grpc-timeout empty",
            timeout(b""),
            Expect::Status(Code::Internal, "grpc-timeout"),
        ),
        row(
            "grpc-timeout 1.5S",
            timeout(b"1.5S"),
            Expect::Status(Code::Internal, "grpc-timeout"),
        ),
        // The largest timeout (about 11,000 years) must not overflow anything.
        row(
            "grpc-timeout 99999999H",
            timeout(b"99999999H"),
            Expect::Served,
        ),
        // A deadline that has passed when the call arrives: DEADLINE_EXCEEDED, and the
        // handler never runs (grpc-go aborts such calls before routing them).
        row(
            "grpc-timeout 0n (expired on arrival)",
            timeout(b"0n"),
            Expect::Status(Code::DeadlineExceeded, "deadline"),
        ),
        row(
            "grpc-timeout 1n, slow handler",
            unary(&[("grpc-timeout", b"1n")], sleeping(5_000)),
            Expect::Status(Code::DeadlineExceeded, "deadline"),
        ),
        row(
            "grpc-timeout 20m, slow handler",
            unary(&[("grpc-timeout", b"20m")], sleeping(5_000)),
            Expect::Status(Code::DeadlineExceeded, "deadline"),
        ),
    ]
}

fn message_rows() -> Vec<Row> {
    let valid_bytes = framed_echo(&echo("valid"));
    let two = [valid_bytes.clone(), valid_bytes.clone()].concat();
    let then_half_prefix = [&valid_bytes[..], &[0u8, 0, 0][..]].concat();
    let one_byte_chunks = valid_bytes
        .iter()
        .map(|b| Bytes::copy_from_slice(&[*b]))
        .collect();
    vec![
        // Larger than max_decoding_message_size: RESOURCE_EXHAUSTED, from the prefix alone.
        row(
            "length prefix past the limit",
            unary(&[], prefixed(0, MAX_MESSAGE + 1, b"abc")),
            Expect::Status(Code::ResourceExhausted, "larger than max"),
        ),
        row(
            "length prefix 0xFFFFFFFF",
            unary(&[], prefixed(0, u32::MAX, b"")),
            Expect::Status(Code::ResourceExhausted, "larger than max"),
        ),
        // The stream ends inside a message: INTERNAL, as grpc-go answers.
        row(
            "length prefix past the body",
            unary(&[], prefixed(0, 10, b"abc")),
            Expect::Status(Code::Internal, "ended inside a message"),
        ),
        row(
            "body of 1 byte",
            unary(&[], raw(&[0])),
            Expect::Status(Code::Internal, "ended inside a message"),
        ),
        row(
            "body of 4 bytes",
            unary(&[], raw(&[0, 0, 0, 0])),
            Expect::Status(Code::Internal, "ended inside a message"),
        ),
        row(
            "a message, then half a prefix",
            unary(&[], vec![then_half_prefix.into()]),
            Expect::Status(Code::Internal, "ended inside a message"),
        ),
        // The flag byte is 0 or 1 (PROTOCOL-HTTP2.md).
        row(
            "flag byte 2",
            unary(&[], prefixed(2, 0, b"")),
            Expect::Status(Code::Internal, "invalid compressed flag 2"),
        ),
        row(
            "flag byte 0x80 (gRPC-Web trailers)",
            unary(&[], prefixed(0x80, 0, b"")),
            Expect::Status(Code::Internal, "invalid compressed flag 128"),
        ),
        row(
            "flag byte 255",
            unary(&[], prefixed(255, 0, b"")),
            Expect::Status(Code::Internal, "invalid compressed flag 255"),
        ),
        // statuscodes.md: error parsing the request proto: INTERNAL.
        row(
            "truncated protobuf field",
            unary(&[], vec![grpc_frame(false, &[0x0a, 0x05, b'a'])]),
            Expect::Status(Code::Internal, "failed to decode protobuf"),
        ),
        row(
            "protobuf wire type 7",
            unary(&[], vec![grpc_frame(false, &[0x0f, 0x00])]),
            Expect::Status(Code::Internal, "failed to decode protobuf"),
        ),
        row(
            "invalid UTF-8 in a string field",
            unary(&[], vec![grpc_frame(false, &[0x0a, 0x02, 0xc3, 0x28])]),
            Expect::Status(Code::Internal, "failed to decode protobuf"),
        ),
        row(
            "empty message (all defaults)",
            unary(&[], vec![grpc_frame(false, b"")]),
            Expect::Served,
        ),
        row(
            "a message in one-byte DATA frames",
            unary(&[], one_byte_chunks),
            Expect::Served,
        ),
        // statuscodes.md: "Request cardinality violation (method requires exactly one
        // request but client sent some other number of requests)": UNIMPLEMENTED.
        row(
            "two messages for a unary method",
            unary(&[], vec![two.clone().into()]),
            Expect::Status(Code::Unimplemented, "more than one request message"),
        ),
        row(
            "two messages for a server-streaming method",
            grpc_to(SERVER_STREAM, &[], vec![two.into()]),
            Expect::Status(Code::Unimplemented, "more than one request message"),
        ),
        row(
            "no message (END_STREAM on the headers)",
            unary(&[], vec![]),
            Expect::Status(Code::Unimplemented, "without a message"),
        ),
        row(
            "no message (an empty DATA frame)",
            unary(&[], vec![Bytes::new()]),
            Expect::Status(Code::Unimplemented, "without a message"),
        ),
        // The client's RST_STREAM right after its headers (and after half a message): the
        // call is dropped, the connection goes on.
        row(
            "RST_STREAM right after HEADERS",
            Input::ResetAfter { body: vec![] },
            Expect::Cancelled,
        ),
        row(
            "RST_STREAM after half a message",
            Input::ResetAfter {
                body: vec![valid_bytes.slice(..4)],
            },
            Expect::Cancelled,
        ),
    ]
}

fn connection_rows() -> Vec<Row> {
    use raw_http::{
        CONTINUATION, DATA, END_HEADERS, END_STREAM, HEADERS, PADDED, PING, PUSH_PROMISE,
        RST_STREAM, SETTINGS,
    };
    let http1 = b"POST /wirecall.test.echo.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/grpc\r\nContent-Length: 0\r\n\r\n".to_vec();
    let h2c = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n".to_vec();
    let tls_hello =
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not really TLS, not HTTP/2 at all".to_vec();
    let valid_data = frame(DATA, END_STREAM, 1, &framed_echo(&echo("raw")));
    // A literal whose 2000-byte value never fits: every CONTINUATION leaves it unfinished.
    // (Name "x", then the length 2000 as 127 + 1873 in 7-bit groups, then two bytes.)
    let mut flood = frame(
        HEADERS,
        0,
        1,
        &[0x00, 0x01, b'x', 0x7f, 0xd1, 0x0e, b'a', b'a'],
    );
    for _ in 0..20 {
        flood.extend(frame(CONTINUATION, 0, 1, &[b'a'; 50]));
    }
    let huge_data_header = raw_http::frame_header(0x00ff_ffff, DATA, 0, 1);
    vec![
        // A server without gRPC-Web or Connect speaks HTTP/2 only: a client that does not
        // send the preface gets the connection closed (RFC 9113 3.4: PROTOCOL_ERROR, the
        // GOAWAY optional).
        row(
            "HTTP/1.1 request to an h2-only port",
            Input::Bytes(http1),
            Expect::Closed,
        ),
        row(
            "HTTP/1.1 h2c upgrade request",
            Input::Bytes(h2c),
            Expect::Closed,
        ),
        row(
            "garbage instead of the preface",
            Input::Bytes(tls_hello),
            Expect::Closed,
        ),
        row(
            "preface, then a frame announcing 16 MiB",
            frames(vec![huge_data_header, vec![0; 64]]),
            Expect::GoAway(Reason::FRAME_SIZE_ERROR),
        ),
        // RFC 9113 3.4: the preface is the magic string and then a SETTINGS frame; any
        // other first frame makes it invalid: PROTOCOL_ERROR.
        // h2 checks the magic string only and answers the PING: asserted as it is (the
        // client's SETTINGS may come late; nothing is served before them).
        row(
            "preface, then PING before SETTINGS",
            Input::Bytes([raw_http::PREFACE, &frame(PING, 0, 0, &PING_DATA)].concat()),
            engines(Expect::Ignored, Expect::GoAway(Reason::PROTOCOL_ERROR)),
        ),
        // RFC 9113 5.1.1: a new stream's id must be larger than every earlier one.
        row(
            "stream ids going backwards",
            frames(vec![open_stream(3, true), open_stream(1, true)]),
            Expect::GoAway(Reason::PROTOCOL_ERROR),
        ),
        row(
            "HEADERS on stream 0",
            frames(vec![frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                0,
                &hpack(&head(UNARY.as_bytes(), &[])),
            )]),
            Expect::GoAway(Reason::PROTOCOL_ERROR),
        ),
        row(
            "HEADERS on an even stream",
            frames(vec![open_stream(2, true)]),
            Expect::GoAway(Reason::PROTOCOL_ERROR),
        ),
        row(
            "DATA on an idle stream",
            frames(vec![valid_data.clone()]),
            Expect::GoAway(Reason::PROTOCOL_ERROR),
        ),
        // RFC 9113 6.1: DATA on a closed stream is a stream error STREAM_CLOSED.
        row(
            "DATA on a closed stream",
            Input::Frames(vec![
                Step::Write([open_stream(1, false), valid_data.clone()].concat()),
                Step::AwaitEnd(1),
                Step::Write(valid_data.clone()),
            ]),
            Expect::Reset(Reason::STREAM_CLOSED),
        ),
        row(
            "RST_STREAM on an idle stream",
            frames(vec![frame(RST_STREAM, 0, 1, &8u32.to_be_bytes())]),
            Expect::GoAway(Reason::PROTOCOL_ERROR),
        ),
        row(
            "PUSH_PROMISE from the client",
            frames(vec![frame(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 2])]),
            Expect::GoAway(Reason::PROTOCOL_ERROR),
        ),
        row(
            "WINDOW_UPDATE of 0",
            frames(vec![window_update(0, 0)]),
            Expect::GoAway(Reason::PROTOCOL_ERROR),
        ),
        row(
            "WINDOW_UPDATE past 2^31-1",
            frames(vec![window_update(0, 0x7fff_ffff)]),
            Expect::GoAway(Reason::FLOW_CONTROL_ERROR),
        ),
        // RFC 9113 6.5: a SETTINGS length not a multiple of 6 is FRAME_SIZE_ERROR.
        // h2, the HTTP/2 layer wirecall builds on, answers GOAWAY PROTOCOL_ERROR for every
        // frame it cannot decode, so that is asserted: the connection is closed all the same.
        row(
            "SETTINGS of 5 bytes",
            frames(vec![frame(SETTINGS, 0, 0, &[0, 2, 0, 0, 0])]),
            engines(
                Expect::GoAway(Reason::PROTOCOL_ERROR),
                Expect::GoAway(Reason::FRAME_SIZE_ERROR),
            ),
        ),
        row(
            "SETTINGS_ENABLE_PUSH 2",
            frames(vec![setting(0x2, 2)]),
            Expect::GoAway(Reason::PROTOCOL_ERROR),
        ),
        // RFC 9113 6.5.2: an initial window past 2^31-1 is FLOW_CONTROL_ERROR.
        // h2, the HTTP/2 layer wirecall builds on, answers GOAWAY PROTOCOL_ERROR for every
        // frame it cannot decode, so that is asserted: the connection is closed all the same.
        row(
            "SETTINGS_INITIAL_WINDOW_SIZE 2^31",
            frames(vec![setting(0x4, 0x8000_0000)]),
            engines(
                Expect::GoAway(Reason::PROTOCOL_ERROR),
                Expect::GoAway(Reason::FLOW_CONTROL_ERROR),
            ),
        ),
        // RFC 9113 6.7: a PING whose length is not 8 is FRAME_SIZE_ERROR.
        // h2, the HTTP/2 layer wirecall builds on, answers GOAWAY PROTOCOL_ERROR for every
        // frame it cannot decode, so that is asserted: the connection is closed all the same.
        row(
            "PING of 7 bytes",
            frames(vec![frame(PING, 0, 0, &[0; 7])]),
            engines(
                Expect::GoAway(Reason::PROTOCOL_ERROR),
                Expect::GoAway(Reason::FRAME_SIZE_ERROR),
            ),
        ),
        row(
            "DATA padding longer than the frame",
            frames(vec![
                open_stream(1, false),
                frame(DATA, PADDED, 1, &[9, 1, 2]),
            ]),
            Expect::GoAway(Reason::PROTOCOL_ERROR),
        ),
        row(
            "CONTINUATION without HEADERS",
            frames(vec![frame(
                CONTINUATION,
                END_HEADERS,
                1,
                &hpack(&head(UNARY.as_bytes(), &[])),
            )]),
            Expect::GoAway(Reason::PROTOCOL_ERROR),
        ),
        // h2 caps the CONTINUATION frames of one header block.
        row(
            "CONTINUATION flood",
            frames(vec![flood]),
            Expect::GoAway(Reason::ENHANCE_YOUR_CALM),
        ),
        // RFC 9113 4.3: a field block that does not decode is a connection error
        // COMPRESSION_ERROR.
        // h2, the HTTP/2 layer wirecall builds on, answers GOAWAY PROTOCOL_ERROR for every
        // frame it cannot decode, so that is asserted: the connection is closed all the same.
        row(
            "HPACK garbage",
            frames(vec![frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &[0xff, 0xff, 0xff, 0xff, 0x0f],
            )]),
            engines(
                Expect::GoAway(Reason::PROTOCOL_ERROR),
                Expect::GoAway(Reason::COMPRESSION_ERROR),
            ),
        ),
        // RFC 9113 5.5: frames of unknown types are ignored.
        row(
            "a frame of unknown type 0xFA",
            frames(vec![frame(0xfa, 0xff, 0, b"extension payload")]),
            Expect::Ignored,
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_heads() {
    let server = common::start().await;
    run(&server, request_head_rows()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encodings_and_timeouts() {
    let server = common::start().await;
    run(&server, encoding_and_timeout_rows()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_and_streams() {
    let server = common::start().await;
    run(&server, message_rows()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_connections() {
    let server = common::start().await;
    run(&server, connection_rows()).await;
}

/// One row with a server of its own: a client that sends half the preface and then
/// nothing is cut off at the handshake timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_preface() {
    let server = common::start_with(|b| b.handshake_timeout(Duration::from_millis(300))).await;
    let rows = vec![row(
        "half a preface, then silence",
        Input::Bytes(raw_http::PREFACE[..10].to_vec()),
        Expect::Closed,
    )];
    run(&server, rows).await;
}

/// The count in the module documentation.
#[test]
fn the_matrix_has_the_rows_it_documents() {
    let rows = request_head_rows().len()
        + encoding_and_timeout_rows().len()
        + message_rows().len()
        + connection_rows().len()
        + 1;
    assert_eq!(rows, 98);
}
