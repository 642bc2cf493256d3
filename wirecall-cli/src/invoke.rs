//! `call`: one call of any pattern with dynamic messages, JSON in and JSON out.

use std::io::Write as _;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions};
use wirecall::codec::BytesCodec;
use wirecall::codegen::PathAndQuery;
use wirecall::metadata::MetadataValue;
use wirecall::{message_stream, Channel, MetadataMap, Streaming};

use crate::connect::ConnectOptions;
use crate::Failure;

/// How requests are read and responses written.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CallOptions {
    /// The request message(s) as JSON; several for a client stream, separated by
    /// whitespace or newlines. `@` reads them from standard input as they come (for
    /// interactive streams). Without it, one empty message is sent.
    #[arg(short = 'd', long = "data", value_name = "JSON")]
    pub(crate) data: Option<String>,
    /// Print fields that hold their default value too.
    #[arg(long)]
    pub(crate) emit_defaults: bool,
    /// One response a line (newline-delimited JSON) instead of indented JSON.
    #[arg(long)]
    pub(crate) compact: bool,
    /// Print the response headers and trailers (to standard error).
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,
}

/// The method `name` names: `pkg.Service/Method` or `pkg.Service.Method`.
pub(crate) fn split_method(name: &str) -> Result<(&str, &str), Failure> {
    let name = name.trim_start_matches('.');
    name.split_once('/')
        .or_else(|| name.rsplit_once('.'))
        .filter(|(s, m)| !s.is_empty() && !m.is_empty())
        .ok_or_else(|| Failure::usage(format!("{name:?} is not pkg.Service/Method")))
}

/// Parses every JSON value in `text` as a `desc` message.
pub(crate) fn parse_messages(
    desc: &MessageDescriptor,
    text: &str,
) -> Result<Vec<DynamicMessage>, Failure> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .map(|value| {
            let value = value.map_err(|e| Failure::usage(format!("request JSON: {e}")))?;
            to_message(desc, value)
        })
        .collect()
}

fn to_message(
    desc: &MessageDescriptor,
    value: serde_json::Value,
) -> Result<DynamicMessage, Failure> {
    DynamicMessage::deserialize(desc.clone(), value)
        .map_err(|e| Failure::usage(format!("request is not a {}: {e}", desc.full_name())))
}

/// The JSON text of a message: indented unless `compact`, zero values only with
/// `emit_defaults`.
pub(crate) fn to_json(message: &DynamicMessage, compact: bool, emit_defaults: bool) -> String {
    let serialize = SerializeOptions::new().skip_default_fields(!emit_defaults);
    let mut out = Vec::new();
    let result = if compact {
        let mut serializer = serde_json::Serializer::new(&mut out);
        message.serialize_with_options(&mut serializer, &serialize)
    } else {
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        message.serialize_with_options(&mut serializer, &serialize)
    };
    match result {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(e) => format!("<not printable as JSON: {e}>"),
    }
}

/// Makes the call and prints each response; an error status is returned as a failure.
pub(crate) async fn call(
    channel: &Channel,
    connect: &ConnectOptions,
    method: &MethodDescriptor,
    options: &CallOptions,
) -> Result<(), Failure> {
    let path: PathAndQuery = format!("/{}/{}", method.parent_service().full_name(), method.name())
        .parse()
        .map_err(|e| Failure::usage(format!("method path: {e}")))?;
    let input = method.input();
    let output = method.output();
    let print = |bytes: Bytes| -> Result<(), Failure> {
        let message = DynamicMessage::decode(output.clone(), bytes).map_err(|e| {
            Failure::other(format!("a response is not a {}: {e}", output.full_name()))
        })?;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(
            stdout,
            "{}",
            to_json(&message, options.compact, options.emit_defaults)
        );
        let _ = stdout.flush();
        Ok(())
    };
    let rpc = Failure::rpc;
    match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, server_streams) => {
            let request = single_request(&input, options)?;
            let request = connect.request(request)?;
            if server_streams {
                let response = channel
                    .server_streaming_with(request, path, BytesCodec, BytesCodec)
                    .await
                    .map_err(rpc)?;
                let (parts, stream) = response.into_parts();
                show("headers", &parts.metadata, options);
                drain(stream, options, print).await
            } else {
                let response = channel
                    .unary_with(request, path, BytesCodec, BytesCodec)
                    .await
                    .map_err(rpc)?;
                single(response, options, print)
            }
        }
        (true, server_streams) => {
            let (tx, rx) = message_stream::channel::<Bytes>(16);
            let (fail_tx, fail_rx) = tokio::sync::oneshot::channel();
            feed(&input, options, tx, fail_tx)?;
            let request = connect.request(rx)?;
            let call = async {
                if server_streams {
                    let stream = channel
                        .streaming_with(request, path, BytesCodec, BytesCodec)
                        .await
                        .map_err(rpc)?
                        .into_inner();
                    drain(stream, options, print).await
                } else {
                    let response = channel
                        .client_streaming_with(request, path, BytesCodec, BytesCodec)
                        .await
                        .map_err(rpc)?;
                    single(response, options, print)
                }
            };
            // A request that does not parse cancels the call rather than half-sending it.
            tokio::select! {
                result = call => result,
                Ok(failure) = fail_rx => Err(failure),
            }
        }
    }
}

/// The one request of a unary or server-streaming call.
fn single_request(input: &MessageDescriptor, options: &CallOptions) -> Result<Bytes, Failure> {
    let text = match options.data.as_deref() {
        None => "{}".to_owned(),
        Some("@") => std::io::read_to_string(std::io::stdin())
            .map_err(|e| Failure::usage(format!("reading standard input: {e}")))?,
        Some(text) => text.to_owned(),
    };
    let mut messages = parse_messages(input, &text)?;
    match messages.len() {
        0 => Ok(Bytes::from(
            DynamicMessage::new(input.clone()).encode_to_vec(),
        )),
        1 => Ok(Bytes::from(messages.remove(0).encode_to_vec())),
        n => Err(Failure::usage(format!(
            "this method takes one request message, not {n}"
        ))),
    }
}

/// Sends the requests of a client stream: all of `-d`'s, or standard input's as they come.
fn feed(
    input: &MessageDescriptor,
    options: &CallOptions,
    tx: message_stream::Sender<Bytes>,
    fail: tokio::sync::oneshot::Sender<Failure>,
) -> Result<(), Failure> {
    match options.data.as_deref() {
        Some("@") => {
            let input = input.clone();
            let runtime = tokio::runtime::Handle::current();
            std::thread::spawn(move || {
                let stdin = std::io::stdin().lock();
                for value in
                    serde_json::Deserializer::from_reader(stdin).into_iter::<serde_json::Value>()
                {
                    let message = value
                        .map_err(|e| Failure::usage(format!("request JSON: {e}")))
                        .and_then(|value| to_message(&input, value));
                    match message {
                        Ok(message) => {
                            if runtime
                                .block_on(tx.send(Bytes::from(message.encode_to_vec())))
                                .is_err()
                            {
                                return;
                            }
                        }
                        Err(failure) => {
                            let _ = fail.send(failure);
                            return;
                        }
                    }
                }
            });
        }
        data => {
            let messages = parse_messages(input, data.unwrap_or(""))?;
            tokio::spawn(async move {
                let _keep = fail;
                for message in messages {
                    if tx.send(Bytes::from(message.encode_to_vec())).await.is_err() {
                        return;
                    }
                }
            });
        }
    }
    Ok(())
}

/// Prints the one response of a unary or client-streaming call, with `-v` between its
/// headers and trailers.
fn single(
    response: wirecall::Response<Bytes>,
    options: &CallOptions,
    print: impl Fn(Bytes) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let (parts, message) = response.into_parts();
    show("headers", &parts.metadata, options);
    print(message)?;
    show("trailers", &parts.trailers, options);
    Ok(())
}

/// Prints every message of a response stream, then its trailers.
async fn drain(
    mut stream: Streaming<Bytes, BytesCodec>,
    options: &CallOptions,
    print: impl Fn(Bytes) -> Result<(), Failure>,
) -> Result<(), Failure> {
    if options.verbose {
        if let Ok(headers) = stream.headers().await {
            show("headers", headers, options);
        }
    }
    while let Some(message) = stream.message().await.map_err(Failure::rpc)? {
        print(message)?;
    }
    if let Ok(Some(trailers)) = stream.trailers().await {
        show("trailers", &trailers, options);
    }
    Ok(())
}

/// With `-v`, prints response metadata to standard error.
fn show(what: &str, metadata: &MetadataMap, options: &CallOptions) {
    if !options.verbose {
        return;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "Response {what}:");
    for (key, value) in metadata.iter() {
        let _ = match value {
            MetadataValue::Ascii(text) => writeln!(stderr, "  {key}: {text}"),
            MetadataValue::Binary(bytes) => {
                use base64::Engine as _;
                let text = base64::engine::general_purpose::STANDARD.encode(bytes);
                writeln!(stderr, "  {key}: {text}")
            }
        };
    }
}
