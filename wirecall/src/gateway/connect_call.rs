//! Serving Connect calls: a unary POST or GET answered with one message or an error; a
//! streaming call answered with enveloped messages and the end-of-stream message. Each runs
//! as a native gRPC call through the connection's [`Link`] to the core.

use std::future::pending;

use bytes::Bytes;
use http::header::{HeaderName, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use tokio::sync::oneshot;

use super::connect::{self, Codec, Kind, FLAG_COMPRESSED};
use super::exchange::{Exchange, Incoming};
use super::schema::{json_to_proto, proto_to_json, Method};
use super::{
    body_encoding, compress_for, decompress, metadata, method_path, timeout, Gateway, Link,
};
use crate::codec::BytesCodec;
use crate::compression::Encoding;
use crate::frame::FrameDecoder;
use crate::message_stream;
use crate::metadata::MetadataMap;
use crate::{Request, Response, Status};

/// Serves a Connect POST.
pub(crate) async fn serve(gateway: &Gateway, kind: Kind, mut exchange: Exchange, link: &Link) {
    let Some(method) = gateway.schema.method(exchange.head.uri.path()).cloned() else {
        return;
    };
    let streams = method.client_streaming() || method.server_streaming();
    if kind.streaming != streams {
        // Connect's rule: a unary content type for a streaming method (or the reverse) is
        // the wrong protocol, not a failed call.
        tracing::debug!(
            method = method.path,
            ?kind,
            "Connect content type does not fit the method"
        );
        let mut headers = HeaderMap::new();
        let accept = if streams {
            kind.codec.stream_content_type()
        } else {
            kind.codec.unary_content_type()
        };
        headers.insert("accept-post", accept);
        return exchange.respond(StatusCode::UNSUPPORTED_MEDIA_TYPE, headers, Bytes::new());
    }
    if kind.streaming {
        return streaming(gateway, &method, kind.codec, exchange, link).await;
    }
    let request = async {
        let encoding = body_encoding(exchange.head.headers.get(CONTENT_ENCODING))?;
        let body = exchange.body(gateway.max_message).await?;
        Ok((body, encoding))
    }
    .await;
    match request {
        Ok((body, encoding)) => {
            unary(gateway, &method, kind.codec, body, encoding, exchange, link).await
        }
        Err(status) => answer_error(&mut exchange, status),
    }
}

/// Serves a Connect unary GET (methods without side effects).
pub(crate) async fn serve_get(gateway: &Gateway, mut exchange: Exchange, link: &Link) {
    let Some(method) = gateway.schema.method(exchange.head.uri.path()).cloned() else {
        return;
    };
    match connect::get_query(exchange.head.uri.query()) {
        Ok(query) => {
            unary(
                gateway,
                &method,
                query.codec,
                query.message,
                query.compression,
                exchange,
                link,
            )
            .await
        }
        Err(status) => answer_error(&mut exchange, status),
    }
}

/// Runs a unary call from its request body and answers it.
async fn unary(
    gateway: &Gateway,
    method: &Method,
    codec: Codec,
    body: Bytes,
    encoding: Option<Encoding>,
    mut exchange: Exchange,
    link: &Link,
) {
    let metadata = metadata(&exchange.head.headers);
    let timeout = timeout(&exchange.head.headers);
    let call = async {
        let body = decompress(encoding, body, gateway.max_message)?;
        let message = match codec {
            Codec::Proto => body,
            Codec::Json => json_to_proto(&method.input(), &body)?,
        };
        let mut request = Request::new(message);
        *request.metadata_mut() = metadata;
        if let Some(timeout) = timeout? {
            request.set_timeout(timeout);
        }
        link.unary(request, &method.path).await
    };
    let result = tokio::select! {
        result = call => result,
        () = exchange.reset() => return tracing::debug!("Connect call cancelled by the client"),
    };
    let response = result.and_then(|response| {
        let (parts, message) = response.into_parts();
        let message = match codec {
            Codec::Proto => message,
            Codec::Json => proto_to_json(&method.output(), &message)?,
        };
        Ok(Response::from_parts(parts, message))
    });
    match response {
        Ok(response) => {
            let (parts, message) = response.into_parts();
            let (metadata, trailers) = (parts.metadata, parts.trailers);
            let mut headers = metadata.into_headers();
            add_trailers(&mut headers, trailers);
            headers.insert(CONTENT_TYPE, codec.unary_content_type());
            let (body, encoding) =
                compress_for(exchange.head.headers.get(ACCEPT_ENCODING), message);
            if let Some(encoding) = encoding {
                headers.insert(CONTENT_ENCODING, encoding.header_value());
            }
            exchange.respond(StatusCode::OK, headers, body);
        }
        Err(status) => answer_error(&mut exchange, status),
    }
}

/// Answers a unary call with an error: its HTTP status, its metadata as `trailer-*`
/// headers, and the JSON error body.
fn answer_error(exchange: &mut Exchange, status: Status) {
    let mut headers = HeaderMap::new();
    add_trailers(&mut headers, status.metadata().clone());
    exchange.respond_json(
        connect::http_status(status.code()),
        headers,
        connect::error_body(&status),
    );
}

/// Adds `trailers` as `trailer-<name>` headers.
fn add_trailers(headers: &mut HeaderMap, trailers: MetadataMap) {
    if trailers.is_empty() {
        return;
    }
    for (name, value) in trailers.into_headers().iter() {
        if let Ok(name) = HeaderName::from_bytes(format!("trailer-{}", name.as_str()).as_bytes()) {
            headers.append(name, value.clone());
        }
    }
}

/// Serves a streaming call: request envelopes pumped into the gRPC call as they come,
/// response messages enveloped as they come, then the end-of-stream message.
async fn streaming(
    gateway: &Gateway,
    method: &Method,
    codec: Codec,
    mut exchange: Exchange,
    link: &Link,
) {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, codec.stream_content_type());
    let prepared = async {
        let encoding = body_encoding(exchange.head.headers.get("connect-content-encoding"))?;
        let timeout = timeout(&exchange.head.headers)?;
        Ok::<_, Status>((encoding, timeout))
    }
    .await;
    let (encoding, timeout) = match prepared {
        Ok(prepared) => prepared,
        Err(status) => {
            return exchange.respond(
                StatusCode::OK,
                headers,
                connect::end_stream(Some(&status), &MetadataMap::new()),
            )
        }
    };
    let (sender, messages) = message_stream::channel::<Bytes>(16);
    let (abort_tx, abort_rx) = oneshot::channel();
    let mut abort = Some(abort_rx);
    let pump = Pump {
        input: method.input(),
        codec,
        encoding,
        max: gateway.max_message,
    };
    tokio::spawn(pump.run(exchange.take_body(), sender, abort_tx));
    let mut request = Request::new(messages);
    *request.metadata_mut() = metadata(&exchange.head.headers);
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    let Ok(path) = method_path(&method.path) else {
        return;
    };
    let channel = link.channel();
    let started = tokio::select! {
        started = channel.streaming_with(request, path, BytesCodec, BytesCodec) => started,
        () = exchange.reset() => return,
    };
    let mut stream = match started {
        Ok(response) => response.into_inner(),
        Err(status) => {
            return exchange.respond(
                StatusCode::OK,
                headers,
                connect::end_stream(Some(&status), &MetadataMap::new()),
            )
        }
    };
    let head = tokio::select! {
        head = stream.headers() => head.cloned(),
        status = aborted(&mut abort) => Err(status),
        () = exchange.reset() => return,
    };
    let metadata = match head {
        Ok(metadata) => metadata,
        Err(status) => {
            return exchange.respond(
                StatusCode::OK,
                headers,
                connect::end_stream(Some(&status), &MetadataMap::new()),
            )
        }
    };
    let mut response_headers = metadata.into_headers();
    response_headers.extend(headers);
    // Envelopes of 1 KiB and more are compressed for a client that accepts it; the flag of
    // each envelope says which are.
    let answer_encoding =
        super::answer_encoding(exchange.head.headers.get("connect-accept-encoding"));
    if let Some(encoding) = answer_encoding {
        response_headers.insert("connect-content-encoding", encoding.header_value());
    }
    let Some(mut body) = exchange.start(StatusCode::OK, response_headers) else {
        return;
    };
    let output = method.output();
    loop {
        let next = tokio::select! {
            next = stream.message() => next,
            status = aborted(&mut abort) => Err(status),
            () = body.reset() => return tracing::debug!("Connect stream cancelled by the client"),
        };
        let message = match next {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(status) => {
                return body.finish(connect::end_stream(Some(&status), &MetadataMap::new()))
            }
        };
        let payload = match codec {
            Codec::Proto => Ok(message),
            Codec::Json => proto_to_json(&output, &message),
        };
        match payload {
            Ok(payload) => {
                let (payload, compressed) = super::compress_worth_it(answer_encoding, payload);
                let flags = if compressed.is_some() {
                    connect::FLAG_COMPRESSED
                } else {
                    0
                };
                if body.send(connect::envelope(flags, &payload)).await.is_err() {
                    return;
                }
            }
            Err(status) => {
                return body.finish(connect::end_stream(Some(&status), &MetadataMap::new()))
            }
        }
    }
    let trailers = stream.trailers().await.ok().flatten().unwrap_or_default();
    body.finish(connect::end_stream(None, &trailers));
}

/// Resolves with the status the request pump failed with, if it fails; never otherwise.
async fn aborted(abort: &mut Option<oneshot::Receiver<Status>>) -> Status {
    if let Some(receiver) = abort {
        if let Ok(status) = receiver.await {
            return status;
        }
        *abort = None;
    }
    pending().await
}

/// Reads a streaming call's request envelopes into the gRPC call's request stream.
struct Pump {
    input: prost_reflect::MessageDescriptor,
    codec: Codec,
    encoding: Option<Encoding>,
    max: usize,
}

impl Pump {
    /// Pumps until the body ends. On a bad body, the status goes to `abort`, and the
    /// request stream is held open until the call is dropped, so that the core sees a
    /// cancelled call, never a complete request stream.
    async fn run(
        self,
        mut body: Incoming,
        sender: message_stream::Sender<Bytes>,
        abort: oneshot::Sender<Status>,
    ) {
        if let Err(status) = self.pump(&mut body, &sender).await {
            tracing::debug!(%status, "bad Connect request stream");
            let _ = abort.send(status);
            sender.closed().await;
        }
    }

    async fn pump(
        &self,
        body: &mut Incoming,
        sender: &message_stream::Sender<Bytes>,
    ) -> Result<(), Status> {
        let mut frames = FrameDecoder::new(self.max);
        let bad = |err: crate::frame::FrameError| {
            Status::invalid_argument(format!("invalid Connect envelope: {err}"))
        };
        while let Some(chunk) = body.chunk().await {
            let mut chunk = chunk?;
            loop {
                let Some(frame) = frames.decode(&mut chunk).map_err(bad)? else {
                    break;
                };
                let payload = if frame.compressed {
                    let encoding = self.encoding.ok_or_else(|| {
                        Status::invalid_argument(
                            "compressed envelope without connect-content-encoding",
                        )
                    })?;
                    decompress(Some(encoding), frame.payload, self.max)?
                } else {
                    frame.payload
                };
                let message = match self.codec {
                    Codec::Proto => payload,
                    Codec::Json => json_to_proto(&self.input, &payload)?,
                };
                if sender.send(message).await.is_err() {
                    return Ok(());
                }
            }
        }
        frames.finish().map_err(bad)
    }
}

// The compressed flag is the same bit in Connect envelopes and gRPC frames, which is why
// the request envelopes go through the gRPC frame decoder.
const _: () = assert!(FLAG_COMPRESSED == 1);
