//! Compression over real sockets: every encoding both ways with the per-message flag on the
//! wire, the decompression-bomb limit, an unknown encoding, and a server that compresses
//! only for clients that accept it.

mod common;

use bytes::{Bytes, BytesMut};
use common::{bounded, echo, start_with};
use http::{Method, Request as HttpRequest};
use prost::Message;
use wirecall::codec::{Decoder, ProstCodec};
use wirecall::codegen::PathAndQuery;
use wirecall::compression::Encoding;
use wirecall::{Code, Request};
use wirecall_tests::echo::{EchoRequest, EchoResponse};

const UNARY: &str = "/wirecall.test.echo.Echo/Unary";

/// Decodes an EchoResponse and reports whether it arrived compressed.
struct SeeFlag;

impl Decoder for SeeFlag {
    type Item = (EchoResponse, bool);

    fn decode(&mut self, src: Bytes) -> Result<Self::Item, wirecall::Status> {
        self.decode_frame(src, false)
    }

    fn decode_frame(
        &mut self,
        src: Bytes,
        compressed: bool,
    ) -> Result<Self::Item, wirecall::Status> {
        Ok((
            ProstCodec::<EchoResponse>::default().decode(src)?,
            compressed,
        ))
    }
}

fn big(message: &str) -> EchoRequest {
    EchoRequest {
        payload: vec![b'z'; 64 * 1024],
        ..echo(message)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_encoding_round_trips_both_ways() {
    for encoding in [Encoding::Gzip, Encoding::Deflate, Encoding::Zstd] {
        let server = start_with(move |b| b.send_compressed(encoding)).await;
        let channel = server.endpoint().send_compressed(encoding).connect_lazy();
        let response = bounded(
            "compressed unary",
            channel.unary_with(
                Request::new(big("c")),
                PathAndQuery::from_static(UNARY),
                ProstCodec::<EchoRequest>::default(),
                SeeFlag,
            ),
        )
        .await
        .unwrap_or_else(|s| panic!("{encoding}: {s}"));
        let (message, compressed) = response.into_inner();
        assert!(compressed, "{encoding}: the response was not compressed");
        assert_eq!(message.payload.len(), 64 * 1024, "{encoding}");
        assert!(message.payload.iter().all(|&b| b == b'z'));
        // The server saw the request arrive intact.
        assert_eq!(server.state.seen_for("c").len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decompression_bomb_is_refused_and_the_connection_keeps_serving() {
    let server = start_with(|b| b.max_decoding_message_size(1024 * 1024)).await;
    let client = wirecall_tests::echo::EchoClient::new(
        server
            .endpoint()
            .send_compressed(Encoding::Gzip)
            .connect_lazy(),
    );
    // 8 MiB of zeros compress to a few KiB: small on the wire, huge once expanded.
    let bomb = EchoRequest {
        payload: vec![0; 8 * 1024 * 1024],
        ..echo("bomb")
    };
    assert!(bomb.encoded_len() > 8 * 1024 * 1024);
    let err = bounded("bomb", client.unary(bomb)).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("larger than max"), "{err:?}");
    assert!(
        server.state.seen_for("bomb").is_empty(),
        "the handler must not run"
    );
    let ok = bounded("after", client.unary(echo("after"))).await.unwrap();
    assert_eq!(ok.get_ref().message, "after");
}

/// One raw HTTP/2 request, to see exactly what the server sends.
async fn raw(
    addr: std::net::SocketAddr,
    headers: &[(&str, &str)],
    body: Bytes,
) -> (http::HeaderMap, Vec<u8>, Option<http::HeaderMap>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut sender = sender.ready().await.unwrap();
    let mut request = HttpRequest::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}{UNARY}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let (response, mut send) = sender
        .send_request(request.body(()).unwrap(), false)
        .unwrap();
    let _ = send.send_data(body, true);
    let response = bounded("raw response", response).await.unwrap();
    let (parts, mut body) = response.into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = bounded("raw data", body.data()).await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let trailers = bounded("raw trailers", body.trailers()).await.unwrap();
    (parts.headers, data, trailers)
}

fn framed(message: &EchoRequest) -> Bytes {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0, 0, 0, 0, 0]);
    message.encode(&mut buf).unwrap();
    let len = (buf.len() - 5) as u32;
    buf[1..5].copy_from_slice(&len.to_be_bytes());
    buf.freeze()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_encoding_lists_the_accepted_ones() {
    let server = start_with(|b| b).await;
    let (headers, data, trailers) = raw(
        server.addr,
        &[("grpc-encoding", "snappy")],
        framed(&echo("x")),
    )
    .await;
    assert!(
        data.is_empty() && trailers.is_none(),
        "trailers-only expected"
    );
    assert_eq!(headers["grpc-status"], "12");
    let accepted = headers["grpc-accept-encoding"].to_str().unwrap();
    for name in ["gzip", "deflate", "zstd"] {
        assert!(accepted.contains(name), "{accepted}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_compresses_only_for_clients_that_accept_it() {
    let server = start_with(|b| b.send_compressed(Encoding::Zstd)).await;
    let request = framed(&big("raw"));
    // No grpc-accept-encoding: the response must not be compressed.
    let (headers, data, trailers) = raw(server.addr, &[], request.clone()).await;
    assert!(headers.get("grpc-encoding").is_none(), "{headers:?}");
    assert_eq!(
        data[0], 0,
        "compressed flag set for a client that did not accept it"
    );
    assert_eq!(trailers.unwrap()["grpc-status"], "0");
    // Accepting zstd: compressed, and much smaller than the 64 KiB payload.
    let (headers, data, _) = raw(server.addr, &[("grpc-accept-encoding", "zstd")], request).await;
    assert_eq!(headers["grpc-encoding"], "zstd");
    assert_eq!(data[0], 1);
    assert!(data.len() < 4096, "{} bytes", data.len());
}
