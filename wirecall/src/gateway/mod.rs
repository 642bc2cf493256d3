//! The gateway: the Connect protocol (unary POST and GET, streaming, protobuf and JSON) and
//! HTTP/JSON transcoding of `google.api.http` rules, served on the same port as gRPC.
//!
//! The gateway translates and nothing more. Each call it takes becomes a native gRPC call
//! handed straight to the server's call core through the client connection's `Link` (so
//! its remote address and TLS identity carry over), and that call's answer is translated
//! back. Routing, limits, deadlines, interceptors, handlers: every rule of the gRPC core
//! applies unchanged, with no second implementation of any of them. A unary call goes in
//! with its head already read (`wire::Call`) and takes its first step on the
//! gateway's own task; a streaming call goes through an in-memory channel to the core.
//!
//! What a call's HTTP request carries over as request metadata: every header except those
//! of HTTP itself and of the protocol (`content-*`, `accept*`, `connect-*`, `host`,
//! `origin`, `sec-*`, CORS and hop-by-hop headers).

mod connect;
mod connect_call;
mod exchange;
pub(crate) mod from_json;
mod rest;
mod schema;
mod template;
pub(crate) mod to_json;
mod url;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Method as Verb};

use crate::codec::{encode_frame, BytesCodec};
use crate::compression::{DecompressError, Encoding};
use crate::metadata::MetadataMap;
use crate::web::Cors;
use crate::{Channel, Endpoint, Response, Status, Streaming};

pub(crate) use exchange::Exchange;
/// The dynamic message's JSON, which the direct writer's output is checked against.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use schema::{json_to_message, message_to_json};
pub(crate) use schema::{json_to_proto, proto_to_json, Descriptors, Schema};

/// The gateway's request parsers, for the fuzz targets (`crate::fuzzing`).
#[cfg(feature = "fuzzing")]
pub(crate) mod parsers {
    pub(crate) use super::connect::{get_query, kind, parse_timeout};
    pub(crate) use super::template::Template;
    pub(crate) use super::url::{decode_query, query_pairs};
}

/// What the gateway of a server serves, built once when the server starts.
#[derive(Debug)]
pub(crate) struct Gateway {
    schema: Arc<Schema>,
    connect: bool,
    rest: Option<rest::Routes>,
    /// The server's largest request message, for bodies read here.
    max_message: usize,
    cors: Option<Arc<Cors>>,
}

/// A request the gateway takes, and how.
#[derive(Debug)]
pub(crate) enum Claim {
    /// A Connect POST of this kind to a method.
    Connect(connect::Kind),
    /// A Connect unary GET.
    ConnectGet,
    /// A REST call: the route and its path bindings.
    Rest(usize, Vec<(String, String)>),
}

impl Gateway {
    /// The gateway of a server whose services `schema` describes.
    pub(crate) fn new(
        schema: Arc<Schema>,
        connect: bool,
        rest: bool,
        max_message: usize,
        cors: Option<Arc<Cors>>,
    ) -> Gateway {
        let rest = rest.then(|| rest::Routes::new(&schema));
        Gateway {
            schema,
            connect,
            rest,
            max_message,
            cors,
        }
    }

    /// Whether the gateway takes this request (gRPC and gRPC-Web requests it never takes).
    pub(crate) fn claim(&self, head: &http::request::Parts) -> Option<Claim> {
        let path = head.uri.path();
        if self.connect {
            if let Some(method) = self.schema.method(path) {
                if head.method == Verb::POST {
                    return connect::kind(head.headers.get(CONTENT_TYPE)).map(Claim::Connect);
                }
                if head.method == Verb::GET && method.no_side_effects {
                    return Some(Claim::ConnectGet);
                }
            }
        }
        let (route, bindings) = self.rest.as_ref()?.find(&head.method, path)?;
        Some(Claim::Rest(route, bindings))
    }

    /// Answers a claimed request through `link`, the connection's way into the core.
    pub(crate) async fn serve(
        self: Arc<Self>,
        claim: Claim,
        head: http::request::Parts,
        body: crate::wire::RecvBody,
        respond: crate::wire::Respond,
        link: Arc<Link>,
    ) {
        let exchange = Exchange::new(head, body, respond, self.cors.as_ref());
        match claim {
            Claim::Connect(kind) => connect_call::serve(&self, kind, exchange, &link).await,
            Claim::ConnectGet => connect_call::serve_get(&self, exchange, &link).await,
            Claim::Rest(route, bindings) => {
                if let Some(routes) = &self.rest {
                    routes.serve(&self, route, bindings, exchange, &link).await;
                }
            }
        }
    }
}

/// One client connection's way into the core ([`crate::wire::Direct`]): unary calls handed
/// over whole ([`Link::unary`]), and a channel for streaming calls, made when the first
/// comes.
pub(crate) struct Link {
    channel: OnceLock<Channel>,
    direct: crate::wire::Direct,
    /// The server's message limits, mirrored by the in-memory client.
    max_request: usize,
    max_response: usize,
}

impl Link {
    /// A link whose calls `direct` hands to the core.
    pub(crate) fn new(
        direct: crate::wire::Direct,
        max_request: usize,
        max_response: usize,
    ) -> Link {
        Link {
            channel: OnceLock::new(),
            direct,
            max_request,
            max_response,
        }
    }

    /// The channel to the core, for streaming calls.
    pub(crate) fn channel(&self) -> Channel {
        self.channel
            .get_or_init(|| {
                Endpoint::direct(self.direct.clone())
                    .max_encoding_message_size(self.max_request)
                    .max_decoding_message_size(self.max_response)
                    .connect_lazy()
            })
            .clone()
    }

    /// A unary call to `path`: `request` is the one message the core reads, and its answer
    /// is read as a gRPC client would. It skips the channel and the request head: the
    /// gateway's calls have no client interceptors, retries or compression, and the core
    /// itself enforces the request's timeout, so what is left is the call.
    pub(crate) async fn unary(
        &self,
        request: crate::Request<Bytes>,
        path: &str,
    ) -> Result<Response<Bytes>, Status> {
        let timeout = request.timeout();
        let (parts, message) = request.into_parts();
        let mut body = BytesMut::new();
        encode_frame(&mut BytesCodec, &message, &mut body, self.max_request, None)?;
        let call = crate::wire::Call {
            path,
            metadata: parts.metadata,
            timeout,
        };
        let response = self
            .direct
            .call(call, body.freeze())
            .await
            .map_err(|err| err.status)?;
        let (parts, body) = response.into_parts();
        let head = crate::streaming::head::parse(parts.status, parts.headers)?;
        Streaming::answered(head, body, BytesCodec, self.max_response)
            .single()
            .await
    }
}

/// The request metadata an HTTP request carries (see the module docs).
pub(crate) fn metadata(headers: &HeaderMap) -> MetadataMap {
    let mut kept = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let name_text = name.as_str();
        let protocol = name_text.starts_with("content-")
            || name_text.starts_with("accept")
            || name_text.starts_with("connect-")
            || name_text.starts_with("sec-")
            || name_text.starts_with("access-control-")
            || matches!(
                name_text,
                "host" | "origin" | "referer" | "te" | "connection" | "keep-alive" | "user-agent"
            );
        if !protocol {
            kept.append(name.clone(), value.clone());
        }
    }
    MetadataMap::from_headers(kept)
}

/// The encoding a body header names (`content-encoding` and its kin); `identity` and no
/// header are `None`.
pub(crate) fn body_encoding(value: Option<&HeaderValue>) -> Result<Option<Encoding>, Status> {
    let Some(value) = value else { return Ok(None) };
    let encoding = Encoding::from_name(value.as_bytes()).ok_or_else(|| {
        Status::unimplemented(format!(
            "compression {}",
            crate::compression::unsupported(value.as_bytes())
        ))
    })?;
    Ok(Some(encoding).filter(|e| *e != Encoding::Identity))
}

/// `body` decompressed with `encoding`, refused past `max` bytes (an uncompressed body was
/// held to the limit as it was read).
pub(crate) fn decompress(
    encoding: Option<Encoding>,
    body: Bytes,
    max: usize,
) -> Result<Bytes, Status> {
    match encoding {
        None => Ok(body),
        Some(encoding) => encoding.decompress(&body, max).map_err(|err| match err {
            DecompressError::TooLarge { max } => Status::resource_exhausted(format!(
                "decompressed body larger than the limit ({max} bytes)"
            )),
            DecompressError::Invalid(err) => {
                Status::invalid_argument(format!("invalid {encoding} body: {err}"))
            }
        }),
    }
}

/// Bodies smaller than this are sent uncompressed even to clients that accept compression.
#[cfg(feature = "gzip")]
const MIN_COMPRESSED: usize = 1024;

/// The encoding for answers to a client whose accept header is `accept`: gzip when accepted
/// (and built in, feature `gzip`), none otherwise.
pub(crate) fn answer_encoding(accept: Option<&HeaderValue>) -> Option<Encoding> {
    #[cfg(feature = "gzip")]
    if Encoding::Gzip.accepted_by(accept) {
        return Some(Encoding::Gzip);
    }
    #[cfg(not(feature = "gzip"))]
    let _ = accept; // nothing to compress with
    None
}

/// `body` compressed with `encoding` if it is worth it (1 KiB or more); the encoding used.
pub(crate) fn compress_worth_it(
    encoding: Option<Encoding>,
    body: Bytes,
) -> (Bytes, Option<Encoding>) {
    match encoding {
        #[cfg(feature = "gzip")]
        Some(encoding) if body.len() >= MIN_COMPRESSED => {
            let mut out = bytes::BytesMut::new();
            match encoding.compress(&body, &mut out) {
                Ok(()) => (out.freeze(), Some(encoding)),
                Err(_) => (body, None),
            }
        }
        _ => (body, None),
    }
}

/// `body` compressed for a client whose accept header is `accept`, if it is worth it.
pub(crate) fn compress_for(accept: Option<&HeaderValue>, body: Bytes) -> (Bytes, Option<Encoding>) {
    compress_worth_it(answer_encoding(accept), body)
}

/// A method's path (`/package.Service/Method`) as a request's path.
fn method_path(path: &str) -> Result<http::uri::PathAndQuery, Status> {
    path.parse()
        .map_err(|_| Status::internal(format!("method path {path:?}")))
}

/// A timeout header's value as a duration (`Connect-Timeout-Ms`).
fn timeout(headers: &HeaderMap) -> Result<Option<Duration>, Status> {
    match headers.get("connect-timeout-ms") {
        None => Ok(None),
        Some(value) => connect::parse_timeout(value).map(Some).ok_or_else(|| {
            Status::invalid_argument(format!("malformed connect-timeout-ms {value:?}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_headers_become_metadata_without_the_protocols_own() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer t"),
            ("x-echo-token", "abc"),
            ("content-type", "application/json"),
            ("content-length", "12"),
            ("accept-encoding", "gzip"),
            ("connect-protocol-version", "1"),
            ("origin", "http://a.test"),
            ("sec-fetch-mode", "cors"),
            ("user-agent", "browser"),
        ] {
            headers.insert(
                http::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let metadata = metadata(&headers);
        let mut names: Vec<_> = metadata.iter().map(|(name, _)| name.to_owned()).collect();
        names.sort();
        assert_eq!(names, ["authorization", "x-echo-token"]);
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn bodies_compress_only_when_accepted_and_large() {
        let big = Bytes::from(vec![b'a'; 4096]);
        let gzip = HeaderValue::from_static("gzip, deflate, br");
        let (sent, encoding) = compress_for(Some(&gzip), big.clone());
        assert_eq!(encoding, Some(Encoding::Gzip));
        assert!(sent.len() < 100);
        assert_eq!(decompress(encoding, sent, 8192).unwrap(), big);
        assert_eq!(compress_for(None, big.clone()).1, None);
        assert_eq!(
            compress_for(Some(&gzip), Bytes::from_static(b"small")).1,
            None
        );
        let err = decompress(Some(Encoding::Gzip), Bytes::from_static(b"nope"), 10).unwrap_err();
        assert_eq!(err.code(), crate::Code::InvalidArgument);
    }

    #[cfg(not(feature = "gzip"))]
    #[test]
    fn without_gzip_bodies_go_uncompressed_and_gzip_is_refused() {
        let big = Bytes::from(vec![b'a'; 4096]);
        let gzip = HeaderValue::from_static("gzip, deflate, br");
        assert_eq!(compress_for(Some(&gzip), big.clone()), (big, None));
        let err = body_encoding(Some(&gzip)).unwrap_err();
        assert_eq!(err.code(), crate::Code::Unimplemented);
        let err = body_encoding(Some(&HeaderValue::from_static("gzip"))).unwrap_err();
        assert!(err.message().contains("`gzip` feature"), "{err:?}");
    }

    #[test]
    fn body_encodings() {
        let err = body_encoding(Some(&HeaderValue::from_static("br"))).unwrap_err();
        assert_eq!(err.code(), crate::Code::Unimplemented);
        assert_eq!(
            body_encoding(Some(&HeaderValue::from_static("identity"))).unwrap(),
            None
        );
    }
}
