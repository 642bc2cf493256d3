//! `grpc.testing.TestService` as the interop descriptions ask of a server. Written against
//! wirecall's call API directly (not a generated trait) so the compression cases can see and
//! set each message's compressed flag.

use std::sync::Arc;
use std::time::Duration;

use wirecall::codec::ProstCodec;
use wirecall::compression::Encoding;
use wirecall::message_stream::{self, Sender};
use wirecall::request::Parts;
use wirecall::server::{ServerCall, Service};
use wirecall::{Code, MetadataMap, Request, Response, Status, Streaming};

use crate::codecs::{Compressible, Flagged};
use crate::pb::{
    BoolValue, EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse,
};
use crate::{ECHO_INITIAL, ECHO_TRAILING};

/// The TestService. `UnimplementedCall` is deliberately absent, so it answers UNIMPLEMENTED.
#[derive(Debug, Default)]
pub struct TestServer;

impl Service for TestServer {
    const NAME: &'static str = "grpc.testing.TestService";
    const METHODS: &'static [&'static str] = &[
        "EmptyCall",
        "UnaryCall",
        "CacheableUnaryCall",
        "StreamingOutputCall",
        "StreamingInputCall",
        "FullDuplexCall",
        "HalfDuplexCall",
    ];

    async fn call(self: Arc<Self>, method: usize, call: ServerCall) {
        match method {
            0 => call.unary(empty_call).await,
            1 | 2 => {
                call.unary_with(Flagged::default(), Compressible::default(), unary_call)
                    .await
            }
            3 => {
                call.server_streaming_with(
                    ProstCodec::default(),
                    Compressible::default(),
                    streaming_output_call,
                )
                .await
            }
            4 => {
                call.client_streaming_with(
                    Flagged::default(),
                    ProstCodec::default(),
                    streaming_input_call,
                )
                .await
            }
            5 => {
                call.streaming_with(ProstCodec::default(), Compressible::default(), |r| {
                    duplex_call(r, false)
                })
                .await
            }
            6 => {
                call.streaming_with(ProstCodec::default(), Compressible::default(), |r| {
                    duplex_call(r, true)
                })
                .await
            }
            _ => {}
        }
    }
}

type Out = (StreamingOutputCallResponse, bool);

async fn empty_call(_: Request<Empty>) -> Result<Response<Empty>, Status> {
    Ok(Response::new(Empty {}))
}

/// A payload of `size` zero bytes.
fn payload(size: i32) -> Result<Payload, Status> {
    let size = usize::try_from(size)
        .map_err(|_| Status::invalid_argument(format!("negative payload size {size}")))?;
    Ok(Payload {
        r#type: 0,
        body: vec![0; size],
    })
}

fn flag(value: Option<&BoolValue>) -> bool {
    value.is_some_and(|b| b.value)
}

/// The descriptions' `expect_compressed` rule: a compressed request must arrive compressed,
/// any other must not.
fn check_compression(expect: Option<&BoolValue>, compressed: bool) -> Result<(), Status> {
    match (flag(expect), compressed) {
        (true, false) => Err(Status::invalid_argument(
            "expected a compressed request, got an uncompressed one",
        )),
        (false, true) => Err(Status::invalid_argument(
            "expected an uncompressed request, got a compressed one",
        )),
        _ => Ok(()),
    }
}

/// The status a request asks to be answered with, carrying the echoed trailer.
fn requested_status(status: Option<&EchoStatus>, request: &MetadataMap) -> Option<Status> {
    let status = status.filter(|s| s.code != 0)?;
    let mut status = Status::new(Code::from_i32(status.code), status.message.clone());
    if let Some(Ok(value)) = request.get_bin(ECHO_TRAILING) {
        let _ = status.metadata_mut().insert_bin(ECHO_TRAILING, value);
    }
    Some(status)
}

/// Copies the custom_metadata case's keys: the initial one into the response headers, the
/// binary one into the trailers.
fn echo<T>(request: &MetadataMap, response: &mut Response<T>) {
    if let Some(value) = request.get(ECHO_INITIAL) {
        let _ = response.metadata_mut().insert(ECHO_INITIAL, value);
    }
    if let Some(Ok(value)) = request.get_bin(ECHO_TRAILING) {
        let _ = response.trailers_mut().insert_bin(ECHO_TRAILING, value);
    }
}

async fn unary_call(
    request: Request<(SimpleRequest, bool)>,
) -> Result<Response<(SimpleResponse, bool)>, Status> {
    let (Parts { metadata, .. }, (request, compressed)) = request.into_parts();
    check_compression(request.expect_compressed.as_ref(), compressed)?;
    if let Some(status) = requested_status(request.response_status.as_ref(), &metadata) {
        return Err(status);
    }
    let compress = flag(request.response_compressed.as_ref());
    let message = SimpleResponse {
        payload: Some(payload(request.response_size)?),
        server_id: if request.fill_server_id {
            format!("wirecall-interop-{}", std::process::id())
        } else {
            String::new()
        },
        hostname: if request.fill_server_id {
            "127.0.0.1".into()
        } else {
            String::new()
        },
        ..Default::default()
    };
    let mut response = Response::new((message, compress));
    if compress {
        response.set_compression(Encoding::Gzip);
    }
    echo(&metadata, &mut response);
    Ok(response)
}

async fn streaming_input_call(
    request: Request<
        Streaming<(StreamingInputCallRequest, bool), Flagged<StreamingInputCallRequest>>,
    >,
) -> Result<Response<StreamingInputCallResponse>, Status> {
    let (Parts { metadata, .. }, mut stream) = request.into_parts();
    let mut total = 0usize;
    while let Some((message, compressed)) = stream.message().await? {
        check_compression(message.expect_compressed.as_ref(), compressed)?;
        total += message.payload.map_or(0, |p| p.body.len());
    }
    let mut response = Response::new(StreamingInputCallResponse {
        aggregated_payload_size: i32::try_from(total).unwrap_or(i32::MAX),
    });
    echo(&metadata, &mut response);
    Ok(response)
}

/// Sends the responses one request asks for; `false` when the call must stop.
async fn respond(parameters: Vec<ResponseParameters>, out: &Sender<Result<Out, Status>>) -> bool {
    for p in parameters {
        if p.interval_us > 0 {
            tokio::time::sleep(Duration::from_micros(p.interval_us as u64)).await;
        }
        let item = payload(p.size).map(|payload| {
            let message = StreamingOutputCallResponse {
                payload: Some(payload),
            };
            (message, flag(p.compressed.as_ref()))
        });
        let failed = item.is_err();
        if out.send(item).await.is_err() || failed {
            return false;
        }
    }
    true
}

fn wants_compression(request: &StreamingOutputCallRequest) -> bool {
    request
        .response_parameters
        .iter()
        .any(|p| flag(p.compressed.as_ref()))
}

async fn streaming_output_call(
    request: Request<StreamingOutputCallRequest>,
) -> Result<Response<message_stream::Receiver<Result<Out, Status>>>, Status> {
    let (Parts { metadata, .. }, request) = request.into_parts();
    if let Some(status) = requested_status(request.response_status.as_ref(), &metadata) {
        return Err(status);
    }
    let compress = wants_compression(&request);
    let (tx, rx) = message_stream::channel(8);
    tokio::spawn(async move { respond(request.response_parameters, &tx).await });
    let mut response = Response::new(rx);
    if compress {
        response.set_compression(Encoding::Gzip);
    }
    echo(&metadata, &mut response);
    Ok(response)
}

/// FullDuplexCall answers each request as it arrives; HalfDuplexCall (`buffer`) first reads
/// them all.
async fn duplex_call(
    request: Request<Streaming<StreamingOutputCallRequest>>,
    buffer: bool,
) -> Result<Response<message_stream::Receiver<Result<Out, Status>>>, Status> {
    let (Parts { metadata, .. }, mut incoming) = request.into_parts();
    let (tx, rx) = message_stream::channel(8);
    let echo_metadata = metadata.clone();
    tokio::spawn(async move {
        let mut buffered = Vec::new();
        loop {
            let request = match incoming.message().await {
                Ok(Some(request)) => request,
                Ok(None) => break,
                Err(status) => {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            };
            if buffer {
                buffered.push(request);
                continue;
            }
            if !answer(request, &metadata, &tx).await {
                return;
            }
        }
        for request in buffered {
            if !answer(request, &metadata, &tx).await {
                return;
            }
        }
    });
    let mut response = Response::new(rx);
    // Compression of the responses is decided per message by their parameters.
    response.set_compression(Encoding::Gzip);
    echo(&echo_metadata, &mut response);
    Ok(response)
}

async fn answer(
    request: StreamingOutputCallRequest,
    metadata: &MetadataMap,
    out: &Sender<Result<Out, Status>>,
) -> bool {
    if let Some(status) = requested_status(request.response_status.as_ref(), metadata) {
        let _ = out.send(Err(status)).await;
        return false;
    }
    respond(request.response_parameters, out).await
}
