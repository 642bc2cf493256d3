//! The interop test cases as a client runs them (interop-test-descriptions.md).

use std::time::Duration;

use wirecall::codec::ProstCodec;
use wirecall::codegen::PathAndQuery;
use wirecall::compression::Encoding;
use wirecall::message_stream;
use wirecall::{Channel, Code, Request, Status};

use crate::codecs::{Compressible, Flagged};
use crate::pb::{
    BoolValue, EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingOutputCallRequest, StreamingOutputCallResponse,
    TestServiceClient, UnimplementedServiceClient,
};
use crate::{ECHO_INITIAL, ECHO_TRAILING};

/// Every case this client runs.
pub const CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_streaming",
    "client_compressed_streaming",
    "server_streaming",
    "server_compressed_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
    "pick_first_unary",
    "half_duplex",
    "slow_consumer",
    "rpc_soak",
    "channel_soak",
    "long_lived_channel",
];

/// The negative HTTP/2 cases (http2-interop-test-descriptions.md), run against grpc's
/// misbehaving test server.
pub const HTTP2_CASES: &[&str] = &[
    "data_frame_padding",
    "goaway",
    "max_streams",
    "no_df_padding_sanity_test",
    "ping",
    "rst_after_data",
    "rst_after_header",
    "rst_during_data",
];

/// Settings some cases take from flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// RPCs in the soak cases (`--soak_iterations`, default 1000 as in C++).
    pub soak_iterations: usize,
    /// Seconds between the RPCs of long_lived_channel (`--iteration_interval`, default 10).
    pub iteration_interval: Duration,
    /// Makes a fresh channel, for channel_soak.
    pub new_channel: fn() -> Channel,
}

/// Why a case did not pass.
#[derive(Debug)]
pub enum Outcome {
    /// The case failed, for this reason.
    Fail(String),
    /// This client does not know the case.
    Unknown,
}

impl From<Status> for Outcome {
    fn from(status: Status) -> Self {
        Outcome::Fail(format!("unexpected status {status}"))
    }
}

fn fail<T>(why: impl Into<String>) -> Result<T, Outcome> {
    Err(Outcome::Fail(why.into()))
}

fn ensure(ok: bool, why: impl FnOnce() -> String) -> Result<(), Outcome> {
    if ok {
        Ok(())
    } else {
        Err(Outcome::Fail(why()))
    }
}

fn zeros(size: usize) -> Option<Payload> {
    Some(Payload {
        r#type: 0,
        body: vec![0; size],
    })
}

fn check_payload(payload: Option<&Payload>, size: usize, what: &str) -> Result<(), Outcome> {
    let body = payload.map_or(&[][..], |p| &p.body[..]);
    ensure(body.len() == size && body.iter().all(|&b| b == 0), || {
        format!(
            "{what}: payload of {} bytes, want {size} zero bytes",
            body.len()
        )
    })
}

fn yes() -> Option<BoolValue> {
    Some(BoolValue { value: true })
}

fn no() -> Option<BoolValue> {
    Some(BoolValue { value: false })
}

fn expect_code<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    what: &str,
) -> Result<Status, Outcome> {
    match result {
        Err(status) if status.code() == code => Ok(status),
        Err(status) => fail(format!("{what}: got {status}, want {code}")),
        Ok(value) => fail(format!("{what}: succeeded with {value:?}, want {code}")),
    }
}

fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_size: 314_159,
        payload: zeros(271_828),
        ..Default::default()
    }
}

fn output_request(sizes: &[i32], payload: usize) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..Default::default()
            })
            .collect(),
        payload: (payload > 0).then(|| zeros(payload)).flatten(),
        ..Default::default()
    }
}

const UNARY_CALL: &str = "/grpc.testing.TestService/UnaryCall";
const STREAMING_INPUT_CALL: &str = "/grpc.testing.TestService/StreamingInputCall";
const STREAMING_OUTPUT_CALL: &str = "/grpc.testing.TestService/StreamingOutputCall";

/// Runs one case over `channel`.
pub async fn run(channel: &Channel, case: &str, settings: &Settings) -> Result<(), Outcome> {
    let client = TestServiceClient::new(channel.clone());
    match case {
        "empty_unary" => {
            client.empty_call(Empty {}).await?;
            Ok(())
        }
        "large_unary" => {
            let response = client.unary_call(large_request()).await?;
            check_payload(response.get_ref().payload.as_ref(), 314_159, "response")
        }
        "client_compressed_unary" => client_compressed_unary(channel).await,
        "server_compressed_unary" => server_compressed_unary(channel).await,
        "client_streaming" => {
            let requests = [27_182, 8, 1_828, 45_904].map(|n| StreamingInputCallRequest {
                payload: zeros(n),
                ..Default::default()
            });
            let response = client
                .streaming_input_call(message_stream::iter(requests))
                .await?;
            let size = response.get_ref().aggregated_payload_size;
            ensure(size == 74_922, || {
                format!("aggregated size {size}, want 74922")
            })
        }
        "client_compressed_streaming" => client_compressed_streaming(channel).await,
        "server_streaming" => {
            let sizes = [31_415, 9, 2_653, 58_979];
            let mut stream = client
                .streaming_output_call(output_request(&sizes, 0))
                .await?
                .into_inner();
            for (i, size) in sizes.iter().enumerate() {
                let Some(response) = stream.message().await? else {
                    return fail(format!("stream ended after {i} responses"));
                };
                check_payload(response.payload.as_ref(), *size as usize, "response")?;
            }
            ensure(stream.message().await?.is_none(), || {
                "more than 4 responses".into()
            })
        }
        "server_compressed_streaming" => server_compressed_streaming(channel).await,
        "ping_pong" => ping_pong(&client).await,
        "empty_stream" => {
            let requests = message_stream::iter(Vec::<StreamingOutputCallRequest>::new());
            let mut stream = client.full_duplex_call(requests).await?.into_inner();
            ensure(stream.message().await?.is_none(), || {
                "got a response".into()
            })
        }
        "custom_metadata" => custom_metadata(&client).await,
        "status_code_and_message" => status_code_and_message(&client, "test status message").await,
        "special_status_message" => {
            let message = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
            let request = SimpleRequest {
                response_status: Some(EchoStatus {
                    code: 2,
                    message: message.into(),
                }),
                ..Default::default()
            };
            let status = expect_code(client.unary_call(request).await, Code::Unknown, "UnaryCall")?;
            ensure(status.message() == message, || {
                format!("message {:?}, want {message:?}", status.message())
            })
        }
        "unimplemented_method" => {
            expect_code(
                client.unimplemented_call(Empty {}).await,
                Code::Unimplemented,
                "UnimplementedCall",
            )?;
            Ok(())
        }
        "unimplemented_service" => {
            let other = UnimplementedServiceClient::new(channel.clone());
            expect_code(
                other.unimplemented_call(Empty {}).await,
                Code::Unimplemented,
                "UnimplementedService.UnimplementedCall",
            )?;
            Ok(())
        }
        "cancel_after_begin" => {
            // The request stream never yields, so the call can only end by cancellation:
            // dropping it resets the stream, the status a caller observes is CANCELLED.
            let (_tx, rx) = message_stream::channel::<StreamingInputCallRequest>(1);
            let call = client.streaming_input_call(rx);
            match tokio::time::timeout(Duration::from_millis(200), call).await {
                Err(_cancelled) => Ok(()),
                Ok(result) => fail(format!("call ended by itself: {result:?}")),
            }
        }
        "cancel_after_first_response" => {
            let (tx, rx) = message_stream::channel(1);
            let mut stream = client.full_duplex_call(rx).await?.into_inner();
            let _ = tx.send(output_request(&[31_415], 27_182)).await;
            let first = stream.message().await?;
            ensure(first.is_some(), || "no first response".into())?;
            // Dropping the response stream and the sender cancels the call (RST_STREAM).
            drop(stream);
            drop(tx);
            Ok(())
        }
        "timeout_on_sleeping_server" => {
            let (tx, rx) = message_stream::channel(1);
            let _ = tx.send(output_request(&[], 27_182)).await;
            let mut request = Request::new(rx);
            request.set_timeout(Duration::from_millis(1));
            let result = match client.full_duplex_call(request).await {
                Ok(response) => response.into_inner().message().await.map(drop),
                Err(status) => Err(status),
            };
            expect_code(result, Code::DeadlineExceeded, "FullDuplexCall")?;
            Ok(())
        }
        "pick_first_unary" => {
            let mut ids = std::collections::BTreeSet::new();
            for _ in 0..100 {
                let request = SimpleRequest {
                    fill_server_id: true,
                    ..large_request()
                };
                let response = client.unary_call(request).await?.into_inner();
                check_payload(response.payload.as_ref(), 314_159, "response")?;
                ids.insert(response.server_id);
            }
            // Every response from the same server (peers that do not fill the id send "").
            ensure(ids.len() == 1, || format!("server ids {ids:?}, want one"))
        }
        "half_duplex" => {
            let sizes = [31_415, 9, 2_653, 58_979];
            let requests = sizes.map(|size| output_request(&[size], 0));
            let mut stream = client
                .half_duplex_call(message_stream::iter(requests))
                .await?
                .into_inner();
            for size in sizes {
                let Some(response) = stream.message().await? else {
                    return fail("stream ended early");
                };
                check_payload(response.payload.as_ref(), size as usize, "response")?;
            }
            ensure(stream.message().await?.is_none(), || {
                "extra response".into()
            })
        }
        "slow_consumer" => {
            // 2000 responses of 1030 bytes read slowly: flow control must hold the server
            // back without losing anything.
            let request = output_request(&[1030; 2000], 0);
            let mut stream = client.streaming_output_call(request).await?.into_inner();
            let mut count = 0;
            while let Some(response) = stream.message().await? {
                check_payload(response.payload.as_ref(), 1030, "response")?;
                count += 1;
                if count % 100 == 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            ensure(count == 2000, || format!("{count} responses, want 2000"))
        }
        "rpc_soak" => {
            for i in 0..settings.soak_iterations {
                large_unary(&client, i).await?;
            }
            Ok(())
        }
        "long_lived_channel" => {
            // One channel kept across idle pauses: every call must still go through.
            for i in 0..settings.soak_iterations {
                large_unary(&client, i).await?;
                tokio::time::sleep(settings.iteration_interval).await;
            }
            Ok(())
        }
        "channel_soak" => {
            for i in 0..settings.soak_iterations {
                let client = TestServiceClient::new((settings.new_channel)());
                large_unary(&client, i).await?;
            }
            Ok(())
        }
        "data_frame_padding" | "no_df_padding_sanity_test" | "ping" => {
            let response = client.unary_call(large_request()).await?;
            check_payload(response.get_ref().payload.as_ref(), 314_159, "response")
        }
        "goaway" => {
            // The server sends GOAWAY after the first call; the second must go through on a
            // new connection without the caller doing anything. The one-second pause is the
            // case's own procedure.
            for i in 0..2 {
                large_unary(&client, i).await?;
                if i == 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Ok(())
        }
        "rst_after_header" | "rst_after_data" | "rst_during_data" => {
            match client.unary_call(large_request()).await {
                Err(_) => Ok(()),
                Ok(_) => fail("the call succeeded although the server reset the stream"),
            }
        }
        "max_streams" => {
            let response = client.unary_call(large_request()).await?;
            check_payload(response.get_ref().payload.as_ref(), 314_159, "first")?;
            let calls: Vec<_> = (0..10)
                .map(|_| {
                    let client = client.clone();
                    tokio::spawn(async move { client.unary_call(large_request()).await })
                })
                .collect();
            for call in calls {
                let response = call
                    .await
                    .map_err(|e| Outcome::Fail(format!("task: {e}")))??;
                check_payload(response.get_ref().payload.as_ref(), 314_159, "concurrent")?;
            }
            Ok(())
        }
        _ => Err(Outcome::Unknown),
    }
}

/// One large_unary call, numbered `i` in failure messages.
async fn large_unary(client: &TestServiceClient, i: usize) -> Result<(), Outcome> {
    let response = client
        .unary_call(large_request())
        .await
        .map_err(|s| Outcome::Fail(format!("call {i}: {s}")))?;
    check_payload(response.get_ref().payload.as_ref(), 314_159, "response")
}

async fn client_compressed_unary(channel: &Channel) -> Result<(), Outcome> {
    let path = PathAndQuery::from_static(UNARY_CALL);
    let call = |request: Request<(SimpleRequest, bool)>| {
        channel.unary_with(
            request,
            path.clone(),
            Compressible::default(),
            ProstCodec::<SimpleResponse>::default(),
        )
    };
    // The probe: the server must refuse an uncompressed request that claims compression.
    let probe = SimpleRequest {
        expect_compressed: yes(),
        ..large_request()
    };
    expect_code(
        call(Request::new((probe.clone(), false))).await,
        Code::InvalidArgument,
        "probe",
    )?;
    let mut compressed = Request::new((probe, true));
    compressed.set_compression(Encoding::Gzip);
    let response = call(compressed).await?;
    check_payload(response.get_ref().payload.as_ref(), 314_159, "compressed")?;
    let plain = SimpleRequest {
        expect_compressed: no(),
        ..large_request()
    };
    let response = call(Request::new((plain, false))).await?;
    check_payload(response.get_ref().payload.as_ref(), 314_159, "uncompressed")
}

async fn server_compressed_unary(channel: &Channel) -> Result<(), Outcome> {
    for compressed in [true, false] {
        let request = SimpleRequest {
            response_compressed: Some(BoolValue { value: compressed }),
            ..large_request()
        };
        let response = channel
            .unary_with(
                Request::new(request),
                PathAndQuery::from_static(UNARY_CALL),
                ProstCodec::default(),
                Flagged::<SimpleResponse>::default(),
            )
            .await?;
        let (message, was_compressed) = response.into_inner();
        ensure(was_compressed == compressed, || {
            format!("asked for compressed={compressed}, got compressed={was_compressed}")
        })?;
        check_payload(message.payload.as_ref(), 314_159, "response")?;
    }
    Ok(())
}

async fn client_compressed_streaming(channel: &Channel) -> Result<(), Outcome> {
    let path = PathAndQuery::from_static(STREAMING_INPUT_CALL);
    let probe = StreamingInputCallRequest {
        payload: zeros(27_182),
        expect_compressed: yes(),
    };
    let result = channel
        .client_streaming_with(
            Request::new(message_stream::iter([(probe.clone(), false)])),
            path.clone(),
            Compressible::default(),
            ProstCodec::<crate::pb::StreamingInputCallResponse>::default(),
        )
        .await;
    expect_code(result, Code::InvalidArgument, "probe")?;
    let second = StreamingInputCallRequest {
        payload: zeros(45_904),
        expect_compressed: no(),
    };
    let mut request = Request::new(message_stream::iter([(probe, true), (second, false)]));
    request.set_compression(Encoding::Gzip);
    let response = channel
        .client_streaming_with(
            request,
            path,
            Compressible::default(),
            ProstCodec::<crate::pb::StreamingInputCallResponse>::default(),
        )
        .await?;
    let size = response.get_ref().aggregated_payload_size;
    ensure(size == 73_086, || {
        format!("aggregated size {size}, want 73086")
    })
}

async fn server_compressed_streaming(channel: &Channel) -> Result<(), Outcome> {
    let request = StreamingOutputCallRequest {
        response_parameters: vec![
            ResponseParameters {
                size: 31_415,
                compressed: yes(),
                ..Default::default()
            },
            ResponseParameters {
                size: 92_653,
                compressed: no(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let mut stream = channel
        .server_streaming_with(
            Request::new(request),
            PathAndQuery::from_static(STREAMING_OUTPUT_CALL),
            ProstCodec::default(),
            Flagged::<StreamingOutputCallResponse>::default(),
        )
        .await?
        .into_inner();
    for (size, compressed) in [(31_415, true), (92_653, false)] {
        let Some((message, was_compressed)) = stream.message().await? else {
            return fail("stream ended early");
        };
        ensure(was_compressed == compressed, || {
            format!("response of {size}: compressed={was_compressed}, want {compressed}")
        })?;
        check_payload(message.payload.as_ref(), size, "response")?;
    }
    ensure(stream.message().await?.is_none(), || {
        "more than 2 responses".into()
    })
}

async fn ping_pong(client: &TestServiceClient) -> Result<(), Outcome> {
    let (tx, rx) = message_stream::channel(1);
    let mut stream = client.full_duplex_call(rx).await?.into_inner();
    for (response_size, payload) in [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)] {
        tx.send(output_request(&[response_size], payload))
            .await
            .map_err(|_| Outcome::Fail("request stream closed".into()))?;
        let Some(response) = stream.message().await? else {
            return fail("stream ended early");
        };
        check_payload(
            response.payload.as_ref(),
            response_size as usize,
            "response",
        )?;
    }
    drop(tx);
    ensure(stream.message().await?.is_none(), || {
        "extra response".into()
    })
}

async fn custom_metadata(client: &TestServiceClient) -> Result<(), Outcome> {
    let initial = "test_initial_metadata_value";
    let trailing = [0xab_u8, 0xab, 0xab];
    fn with_metadata<T>(mut request: Request<T>) -> Request<T> {
        let _ = request
            .metadata_mut()
            .insert(ECHO_INITIAL, "test_initial_metadata_value");
        let _ = request
            .metadata_mut()
            .insert_bin(ECHO_TRAILING, [0xab_u8, 0xab, 0xab]);
        request
    }
    let check = |headers: &wirecall::MetadataMap, trailers: &wirecall::MetadataMap, what: &str| {
        ensure(headers.get(ECHO_INITIAL) == Some(initial), || {
            format!("{what}: initial metadata {headers:?}")
        })?;
        let echoed = trailers.get_bin(ECHO_TRAILING).and_then(Result::ok);
        ensure(echoed.as_deref() == Some(&trailing[..]), || {
            format!("{what}: trailing metadata {trailers:?}")
        })
    };

    let response = client
        .unary_call(with_metadata(Request::new(large_request())))
        .await?;
    check(response.metadata(), response.trailers(), "UnaryCall")?;
    check_payload(response.get_ref().payload.as_ref(), 314_159, "UnaryCall")?;

    let requests = message_stream::iter([output_request(&[314_159], 271_828)]);
    let response = client
        .full_duplex_call(with_metadata(Request::new(requests)))
        .await?;
    let mut stream = response.into_inner();
    let headers = stream.headers().await?.clone();
    let Some(message) = stream.message().await? else {
        return fail("FullDuplexCall: no response");
    };
    check_payload(message.payload.as_ref(), 314_159, "FullDuplexCall")?;
    let trailers = stream.trailers().await?.unwrap_or_default();
    check(&headers, &trailers, "FullDuplexCall")
}

async fn status_code_and_message(client: &TestServiceClient, message: &str) -> Result<(), Outcome> {
    let echo = || {
        Some(EchoStatus {
            code: 2,
            message: message.into(),
        })
    };
    let check = |status: Status, what: &str| {
        ensure(status.message() == message, || {
            format!("{what}: message {:?}, want {message:?}", status.message())
        })
    };
    let request = SimpleRequest {
        response_status: echo(),
        ..Default::default()
    };
    let status = expect_code(client.unary_call(request).await, Code::Unknown, "UnaryCall")?;
    check(status, "UnaryCall")?;

    let request = StreamingOutputCallRequest {
        response_status: echo(),
        ..Default::default()
    };
    let result = match client
        .full_duplex_call(message_stream::iter([request]))
        .await
    {
        Ok(response) => response.into_inner().message().await,
        Err(status) => Err(status),
    };
    let status = expect_code(result, Code::Unknown, "FullDuplexCall")?;
    check(status, "FullDuplexCall")
}
