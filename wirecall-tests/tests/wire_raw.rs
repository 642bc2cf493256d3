//! The wire format checked with raw HTTP/2 peers (the `h2` crate directly): how the client
//! maps non-gRPC responses, how the server validates requests, and trailers-only responses.

mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use h2::client::SendRequest;
use h2::server::SendResponse;
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, StatusCode};
use wirecall::codec::BytesCodec;
use wirecall::{Channel, Code, Endpoint, Request};
use wirecall_tests::echo::{EchoRequest, EchoResponse};

use common::{bounded, echo, framed_echo, grpc_frame};

// ---------------------------------------------------------------------------------------
// A raw HTTP/2 server that is not a gRPC server.

/// Answers a request according to the last segment of its path:
/// - a number: that HTTP status, `text/plain`, a body, no `grpc-status`;
/// - `html`: 200 with `text/html` and a body;
/// - `grpc7`: a trailers-only 200 response with `grpc-status: 7` and metadata;
/// - `http503-grpc9`: HTTP 503 but `grpc-status: 9`, which must win.
fn answer(path: &str, respond: &mut SendResponse<Bytes>) {
    let case = path.rsplit('/').next().unwrap_or_default();
    let mut response = http::Response::builder();
    let (end, body): (bool, &'static [u8]) = match case {
        "html" => {
            response = response.status(200).header("content-type", "text/html");
            (false, b"<html><body>not gRPC</body></html>")
        }
        "grpc7" => {
            response = response
                .status(200)
                .header("content-type", "application/grpc")
                .header("grpc-status", "7")
                .header("grpc-message", "go%20away %E2%98%BA")
                .header("x-extra", "yes");
            (true, b"")
        }
        "http503-grpc9" => {
            response = response
                .status(503)
                .header("content-type", "application/grpc")
                .header("grpc-status", "9")
                .header("grpc-message", "precondition");
            (true, b"")
        }
        number => {
            let status: u16 = number.parse().expect("a numeric case");
            response = response.status(status).header("content-type", "text/plain");
            (false, b"some proxy error page")
        }
    };
    let response = response.body(()).expect("valid response");
    let mut stream = respond
        .send_response(response, end)
        .expect("send response headers");
    if !end {
        stream
            .send_data(Bytes::from_static(body), true)
            .expect("send body");
    }
}

async fn start_raw_server() -> SocketAddr {
    let listener = common::local_listener().await;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((io, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(io).await else {
                    return;
                };
                while let Some(Ok((request, mut respond))) = conn.accept().await {
                    // Read the whole request first, as a proxy would: the client only
                    // needs to handle the answer, not an answer racing its request.
                    tokio::spawn(async move {
                        let (parts, mut body) = request.into_parts();
                        while let Some(Ok(chunk)) = body.data().await {
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                        answer(parts.uri.path(), &mut respond);
                    });
                }
            });
        }
    });
    addr
}

async fn call_raw_server(channel: &Channel, case: &str) -> wirecall::Status {
    let path = PathAndQuery::try_from(format!("/raw.Test/{case}")).unwrap();
    let call = channel.unary_with(Request::new(Bytes::new()), path, BytesCodec, BytesCodec);
    bounded(case, call)
        .await
        .expect_err("a non-gRPC answer is an error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_grpc_responses_map_to_the_specified_codes() {
    let addr = start_raw_server().await;
    let channel = Endpoint::new(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let cases = [
        ("404", Code::Unimplemented),
        ("503", Code::Unavailable),
        ("429", Code::Unavailable),
        ("502", Code::Unavailable),
        ("504", Code::Unavailable),
        ("401", Code::Unauthenticated),
        ("403", Code::PermissionDenied),
        ("400", Code::Internal),
        ("500", Code::Unknown),
        ("html", Code::Unknown),
    ];
    for (case, code) in cases {
        let status = call_raw_server(&channel, case).await;
        assert_eq!(status.code(), code, "{case}: {status:?}");
    }

    let status = call_raw_server(&channel, "grpc7").await;
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(status.message(), "go away ☺");
    assert_eq!(status.metadata().get("x-extra"), Some("yes"), "{status:?}");

    let status = call_raw_server(&channel, "http503-grpc9").await;
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "grpc-status wins: {status:?}"
    );
    assert_eq!(status.message(), "precondition");
}

// ---------------------------------------------------------------------------------------
// A raw HTTP/2 client against a wirecall server.

#[derive(Debug)]
struct RawResponse {
    status: StatusCode,
    headers: HeaderMap,
    /// Whether the HEADERS frame ended the stream (a trailers-only response).
    ended_with_headers: bool,
    data: Vec<u8>,
    trailers: Option<HeaderMap>,
}

impl RawResponse {
    /// The `grpc-status` of a trailers-only response or of the trailers.
    fn grpc_status(&self) -> Option<&str> {
        let value = match &self.trailers {
            Some(trailers) => trailers.get("grpc-status"),
            None => self.headers.get("grpc-status"),
        };
        value.map(|v| v.to_str().expect("ascii grpc-status"))
    }

    /// Asserts a trailers-only gRPC answer with `code`.
    fn assert_trailers_only(&self, code: Code, what: &str) {
        assert_eq!(self.status, StatusCode::OK, "{what}: {self:?}");
        assert_eq!(
            self.headers["content-type"], "application/grpc",
            "{what}: {self:?}"
        );
        assert!(
            self.ended_with_headers,
            "{what}: not trailers-only: {self:?}"
        );
        assert!(
            self.data.is_empty() && self.trailers.is_none(),
            "{what}: {self:?}"
        );
        let expected = code.as_i32().to_string();
        assert_eq!(
            self.grpc_status(),
            Some(expected.as_str()),
            "{what}: {self:?}"
        );
    }
}

struct RawClient {
    addr: SocketAddr,
    sender: SendRequest<Bytes>,
}

impl RawClient {
    async fn connect(addr: SocketAddr) -> RawClient {
        let io = bounded("connect", tokio::net::TcpStream::connect(addr))
            .await
            .expect("tcp connect");
        let (sender, conn) = bounded("handshake", h2::client::handshake(io))
            .await
            .expect("h2 handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        RawClient { addr, sender }
    }

    /// Sends one request (`body` `None`: END_STREAM on the headers) and reads the whole
    /// response.
    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> RawResponse {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(()).expect("valid request");
        let exchange = async {
            let mut sender = self.sender.clone().ready().await.expect("connection ready");
            let (response, mut send) = sender
                .send_request(request, body.is_none())
                .expect("send request");
            if let Some(body) = body {
                // The server may already have answered and reset the stream (it answers
                // some errors on the headers alone); the answer is what is checked.
                let _ = send.send_data(body, true);
            }
            let response = response.await.expect("a response");
            let (parts, mut body) = response.into_parts();
            let ended_with_headers = body.is_end_stream();
            let mut data = Vec::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.expect("response data");
                let _ = body.flow_control().release_capacity(chunk.len());
                data.extend_from_slice(&chunk);
            }
            let trailers = body.trailers().await.expect("response trailers");
            RawResponse {
                status: parts.status,
                headers: parts.headers,
                ended_with_headers,
                data,
                trailers,
            }
        };
        bounded(path, exchange).await
    }

    /// A gRPC POST with the usual headers plus `extra`.
    async fn grpc(&self, path: &str, extra: &[(&str, &str)], body: Option<Bytes>) -> RawResponse {
        let mut headers = vec![("content-type", "application/grpc"), ("te", "trailers")];
        headers.extend_from_slice(extra);
        self.call(Method::POST, path, &headers, body).await
    }
}

const UNARY: &str = "/wirecall.test.echo.Echo/Unary";

/// Splits a response body into its gRPC messages.
fn messages(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        assert!(data.len() >= 5, "a whole prefix");
        assert_eq!(data[0], 0, "not compressed");
        let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
        out.push(data[5..5 + len].to_vec());
        data = &data[5 + len..];
    }
    out
}

fn decode(message: &[u8]) -> EchoResponse {
    prost::Message::decode(message).expect("an EchoResponse")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_rejects_malformed_requests_and_keeps_the_connection() {
    let server = common::start().await;
    let raw = RawClient::connect(server.addr).await;
    let valid = || Some(framed_echo(&echo("valid")));

    let response = raw
        .call(
            Method::POST,
            UNARY,
            &[("content-type", "application/json")],
            valid(),
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{response:?}"
    );

    let response = raw
        .call(
            Method::GET,
            UNARY,
            &[("content-type", "application/grpc")],
            None,
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "{response:?}"
    );

    // An encoding no gRPC implementation supports (gzip is being added to wirecall).
    let response = raw
        .grpc(UNARY, &[("grpc-encoding", "x-unheard-of")], valid())
        .await;
    response.assert_trailers_only(Code::Unimplemented, "grpc-encoding: x-unheard-of");

    let response = raw.grpc(UNARY, &[("grpc-timeout", "bogus")], valid()).await;
    response.assert_trailers_only(Code::Internal, "grpc-timeout: bogus");

    let truncated = Bytes::from_static(&[0, 0, 0, 0, 10, 1, 2, 3]);
    let response = raw.grpc(UNARY, &[], Some(truncated)).await;
    response.assert_trailers_only(Code::Internal, "truncated message");

    // Field 1 (a string) announces 5 bytes but 1 follows.
    let invalid = grpc_frame(false, &[0x0a, 0x05, b'a']);
    let response = raw.grpc(UNARY, &[], Some(invalid)).await;
    response.assert_trailers_only(Code::Internal, "invalid protobuf");

    let compressed = grpc_frame(true, &prost::Message::encode_to_vec(&echo("x")));
    let response = raw.grpc(UNARY, &[], Some(compressed)).await;
    response.assert_trailers_only(Code::Internal, "compressed flag without grpc-encoding");

    let response = raw.grpc(UNARY, &[], None).await;
    response.assert_trailers_only(Code::Unimplemented, "no request message");

    let mut two = framed_echo(&echo("one")).to_vec();
    two.extend_from_slice(&framed_echo(&echo("two")));
    let response = raw.grpc(UNARY, &[], Some(two.into())).await;
    response.assert_trailers_only(Code::Unimplemented, "two messages on a unary method");

    let response = raw
        .grpc("/wirecall.test.echo.Echo/Nope", &[], valid())
        .await;
    response.assert_trailers_only(Code::Unimplemented, "unknown method");

    assert!(
        server.state.seen().is_empty(),
        "no handler ran: {:?}",
        server.state.seen()
    );

    // After all that, a well-formed call on the same connection works.
    let response = raw.grpc(UNARY, &[("grpc-timeout", "5S")], valid()).await;
    assert_eq!(response.status, StatusCode::OK, "{response:?}");
    assert!(!response.ended_with_headers, "{response:?}");
    assert_eq!(response.headers["content-type"], "application/grpc");
    assert_eq!(
        response.headers.get("grpc-status"),
        None,
        "status only in trailers"
    );
    assert_eq!(response.grpc_status(), Some("0"), "{response:?}");
    let replies = messages(&response.data);
    assert_eq!(replies.len(), 1);
    assert_eq!(decode(&replies[0]).message, "valid");
    assert_eq!(server.state.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immediate_errors_are_trailers_only() {
    let server = common::start().await;
    let raw = RawClient::connect(server.addr).await;
    let failing = |repeat| EchoRequest {
        message: "failing".into(),
        fail_code: Code::FailedPrecondition.as_i32(),
        fail_message: "not now".into(),
        repeat,
        ..EchoRequest::default()
    };

    // A unary handler error: one HEADERS frame with END_STREAM, status and metadata in it.
    let response = raw.grpc(UNARY, &[], Some(framed_echo(&failing(0)))).await;
    response.assert_trailers_only(Code::FailedPrecondition, "unary handler error");
    assert_eq!(response.headers["grpc-message"], "not now");
    assert_eq!(response.headers["x-trailer"], "done");

    // A server-streaming handler that fails before returning a stream: the same.
    let stream_path = "/wirecall.test.echo.Echo/ServerStream";
    let response = raw
        .grpc(stream_path, &[], Some(framed_echo(&failing(0))))
        .await;
    response.assert_trailers_only(Code::FailedPrecondition, "stream handler error");
    assert_eq!(response.headers["x-trailer"], "done");

    // An error after messages: headers, data, then trailers carrying the status. Messages
    // ready at once go out batched; every one of them still precedes the status.
    let response = raw
        .grpc(stream_path, &[], Some(framed_echo(&failing(50))))
        .await;
    assert!(!response.ended_with_headers, "{response:?}");
    assert_eq!(response.headers.get("grpc-status"), None, "{response:?}");
    let indexes: Vec<i32> = messages(&response.data)
        .iter()
        .map(|m| decode(m).index)
        .collect();
    assert_eq!(indexes, (0..50).collect::<Vec<i32>>());
    let trailers = response.trailers.as_ref().expect("trailers");
    assert_eq!(trailers["grpc-status"], "9");
    assert_eq!(trailers["grpc-message"], "not now");
    assert_eq!(trailers["x-trailer"], "done");

    // A success: headers, one message, trailers with status 0 and the trailer metadata.
    let response = raw
        .grpc(
            UNARY,
            &[("x-echo-id", "7")],
            Some(framed_echo(&echo("fine"))),
        )
        .await;
    assert!(!response.ended_with_headers, "{response:?}");
    assert_eq!(response.headers["x-echo-id"], "7");
    assert_eq!(response.headers.get("x-trailer"), None);
    let trailers = response.trailers.as_ref().expect("trailers");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["x-trailer"], "done");
    assert_eq!(messages(&response.data).len(), 1);
}
