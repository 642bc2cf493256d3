//! The request head of a call (PROTOCOL-HTTP2.md, "Requests"), read by one pure function:
//! [`parse`] takes the head and answers the call it asks for ([`CallHead`]) or why there is
//! none ([`Rejection`]). No I/O and no clock: the transport answers rejections and turns the
//! timeout into a deadline.

use std::time::Duration;

use http::header::{HeaderValue, CONTENT_TYPE};
use http::request::Parts;
use http::{Method, StatusCode};

use crate::compression::Encoding;
use crate::headers::{GRPC_ACCEPT_ENCODING, GRPC_ENCODING, GRPC_TIMEOUT};
use crate::metadata::MetadataMap;
use crate::web::Mode;
use crate::Status;

/// Which protocol a call speaks on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// Native gRPC (`application/grpc`).
    Grpc,
    /// gRPC-Web, binary or text.
    Web(Mode),
}

/// How a call's messages are encoded on the wire (the `+proto` or `+json` of its
/// `content-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Protocol buffers, the default.
    Proto,
    /// The canonical protobuf JSON mapping (`application/grpc+json`,
    /// `application/grpc-web+json`), converted to and from protobuf at the wire.
    Json,
}

/// A call the head asks for: where it goes and how its messages travel.
#[derive(Debug)]
pub(crate) struct CallHead<R> {
    /// What the route lookup gave for the path.
    pub(crate) route: R,
    pub(crate) protocol: Protocol,
    pub(crate) codec: Codec,
    /// The request messages' encoding (`grpc-encoding`), when compressed.
    pub(crate) encoding: Option<Encoding>,
    /// What the client accepts for responses (`grpc-accept-encoding`).
    pub(crate) accept_encoding: Option<HeaderValue>,
    /// The time the call may take (`grpc-timeout`); never zero.
    pub(crate) timeout: Option<Duration>,
}

/// Why a head asks for no call, and so how it is answered.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// A CORS preflight (`OPTIONS`, gRPC-Web on).
    Preflight,
    /// Not gRPC or gRPC-Web: another handler (the gateway) may take it; else it is answered
    /// with this HTTP status (405 when not a POST, else 415).
    Foreign(StatusCode),
    /// A gRPC request that cannot become a call: answered with this HTTP status.
    Http(StatusCode),
    /// A gRPC call answered at once with a status, in its protocol (trailers-only).
    Status(Status, Protocol),
}

/// Reads `head`: the call it asks for, with `route` looking up its path, or the rejection.
/// `web` says whether gRPC-Web is accepted.
pub(crate) fn parse<R>(
    head: &Parts,
    web: bool,
    route: impl FnOnce(&str) -> Result<R, Status>,
) -> Result<CallHead<R>, Rejection> {
    if head.method == Method::OPTIONS && web {
        return Err(Rejection::Preflight);
    }
    let not_post = head.method != Method::POST;
    let Some((protocol, codec)) = protocol(head.headers.get(CONTENT_TYPE)) else {
        let fallback = if not_post {
            StatusCode::METHOD_NOT_ALLOWED
        } else {
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        };
        return Err(Rejection::Foreign(fallback));
    };
    if not_post {
        tracing::debug!(method = %head.method, "rejecting non-POST request");
        return Err(Rejection::Http(StatusCode::METHOD_NOT_ALLOWED));
    }
    if matches!(protocol, Protocol::Web(_)) && !web {
        tracing::debug!("rejecting gRPC-Web: not enabled");
        return Err(Rejection::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    let refuse = |status: Status| Rejection::Status(status, protocol);
    let route = route(head.uri.path()).map_err(|status| {
        tracing::debug!(path = head.uri.path(), "no such method");
        refuse(status)
    })?;
    let encoding = request_encoding(head.headers.get(&GRPC_ENCODING)).map_err(refuse)?;
    let timeout = timeout(head.headers.get(&GRPC_TIMEOUT)).map_err(refuse)?;
    if let Some(name) = MetadataMap::malformed_bin(&head.headers) {
        tracing::debug!(%name, "malformed binary metadata");
        return Err(refuse(Status::internal(format!(
            "malformed binary metadata in header {name:?}"
        ))));
    }
    Ok(CallHead {
        route,
        protocol,
        codec,
        encoding,
        accept_encoding: head.headers.get(&GRPC_ACCEPT_ENCODING).cloned(),
        timeout,
    })
}

/// The protocol and codec the `content-type` names, if any. Native gRPC with protobuf is
/// checked first: the hot path parses nothing more.
fn protocol(content_type: Option<&HeaderValue>) -> Option<(Protocol, Codec)> {
    if is_grpc_content_type(content_type) {
        return Some((Protocol::Grpc, Codec::Proto));
    }
    let media = content_type?.to_str().ok()?.split(';').next()?.trim();
    // JSON in binary framing only: grpc-web-text+json is not a thing clients send.
    if media.eq_ignore_ascii_case("application/grpc+json") {
        return Some((Protocol::Grpc, Codec::Json));
    }
    if media.eq_ignore_ascii_case("application/grpc-web+json") {
        return Some((Protocol::Web(Mode::Binary), Codec::Json));
    }
    Mode::from_content_type(media).map(|mode| (Protocol::Web(mode), Codec::Proto))
}

/// `application/grpc`, optionally `+proto` or with parameters after `;`.
fn is_grpc_content_type(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value else { return false };
    let value = value.as_bytes();
    let Some(rest) = value.strip_prefix(b"application/grpc") else {
        return false;
    };
    rest.is_empty() || rest == b"+proto" || rest.starts_with(b";") || rest.starts_with(b"+proto;")
}

/// The encoding `grpc-encoding` names; UNIMPLEMENTED for one the server does not have.
fn request_encoding(name: Option<&HeaderValue>) -> Result<Option<Encoding>, Status> {
    let Some(name) = name else { return Ok(None) };
    match Encoding::from_name(name.as_bytes()) {
        Some(encoding) => Ok(Some(encoding)),
        None => {
            tracing::debug!(?name, "unsupported grpc-encoding");
            Err(Status::unimplemented(format!(
                "message encoding {}",
                crate::compression::unsupported(name.as_bytes())
            )))
        }
    }
}

/// The time `grpc-timeout` gives: INTERNAL when malformed, DEADLINE_EXCEEDED when zero (the
/// handler is not run, as grpc-go).
fn timeout(value: Option<&HeaderValue>) -> Result<Option<Duration>, Status> {
    let Some(value) = value else { return Ok(None) };
    match crate::deadline::parse_timeout(value.as_bytes()) {
        Some(timeout) if timeout.is_zero() => Err(Status::deadline_exceeded(
            "deadline exceeded before the call started",
        )),
        Some(timeout) => Ok(Some(timeout)),
        None => {
            tracing::debug!(?value, "malformed timeout header");
            Err(Status::internal(format!(
                "malformed grpc-timeout {value:?}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    const PATH: &str = "/pkg.Svc/Call";

    fn head(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri(PATH);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).expect("a request").into_parts().0
    }

    fn lookup(path: &str) -> Result<&'static str, Status> {
        if path == PATH {
            Ok("route")
        } else {
            Err(Status::unimplemented(format!("unknown method {path}")))
        }
    }

    fn parsed(
        method: Method,
        headers: &[(&str, &str)],
        web: bool,
    ) -> Result<CallHead<&'static str>, Rejection> {
        parse(&head(method, headers), web, lookup)
    }

    fn grpc(headers: &[(&str, &str)]) -> Result<CallHead<&'static str>, Rejection> {
        let mut all = vec![("content-type", "application/grpc")];
        all.extend_from_slice(headers);
        parsed(Method::POST, &all, false)
    }

    fn status_code(result: Result<CallHead<&'static str>, Rejection>) -> Code {
        match result {
            Err(Rejection::Status(status, _)) => status.code(),
            other => panic!("expected a status, got {other:?}"),
        }
    }

    #[test]
    fn a_plain_grpc_call_reads_its_route_encodings_and_timeout() {
        let call = grpc(&[
            ("grpc-timeout", "250m"),
            ("grpc-encoding", "gzip"),
            ("grpc-accept-encoding", "gzip,identity"),
        ])
        .expect("a call");
        assert_eq!(call.route, "route");
        assert_eq!(call.protocol, Protocol::Grpc);
        assert_eq!(call.timeout, Some(Duration::from_millis(250)));
        assert_eq!(call.encoding, Encoding::from_name(b"gzip"));
        assert_eq!(
            call.accept_encoding.as_ref().map(|v| v.as_bytes()),
            Some(&b"gzip,identity"[..])
        );

        let bare = grpc(&[]).expect("a call");
        assert_eq!((bare.timeout, bare.encoding), (None, None));
        assert!(bare.accept_encoding.is_none());
    }

    #[test]
    fn content_types_pick_the_protocol() {
        for content_type in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc;x=1",
            "application/grpc+proto; charset=utf-8",
        ] {
            let call = parsed(Method::POST, &[("content-type", content_type)], false);
            assert_eq!(
                call.expect(content_type).protocol,
                Protocol::Grpc,
                "{content_type}"
            );
        }
        let web = parsed(
            Method::POST,
            &[("content-type", "application/grpc-web-text")],
            true,
        );
        assert_eq!(web.expect("gRPC-Web").protocol, Protocol::Web(Mode::Text));
        let off = parsed(
            Method::POST,
            &[("content-type", "application/grpc-web")],
            false,
        );
        assert!(
            matches!(
                off,
                Err(Rejection::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE))
            ),
            "{off:?}"
        );
        for content_type in ["application/json", "application/grpcx", "text/plain"] {
            let other = parsed(Method::POST, &[("content-type", content_type)], true);
            assert!(
                matches!(
                    other,
                    Err(Rejection::Foreign(StatusCode::UNSUPPORTED_MEDIA_TYPE))
                ),
                "{content_type}: {other:?}"
            );
        }
        let none = parsed(Method::POST, &[], true);
        assert!(matches!(none, Err(Rejection::Foreign(_))), "{none:?}");
    }

    #[test]
    fn a_json_content_type_picks_the_json_codec_in_binary_framing() {
        let cases = [
            ("application/grpc", Protocol::Grpc, Codec::Proto),
            ("application/grpc+json", Protocol::Grpc, Codec::Json),
            (
                "application/GRPC+JSON; charset=utf-8",
                Protocol::Grpc,
                Codec::Json,
            ),
            (
                "application/grpc-web+json",
                Protocol::Web(Mode::Binary),
                Codec::Json,
            ),
            (
                "application/grpc-web+proto",
                Protocol::Web(Mode::Binary),
                Codec::Proto,
            ),
        ];
        for (content_type, protocol, codec) in cases {
            let call = parsed(Method::POST, &[("content-type", content_type)], true)
                .unwrap_or_else(|why| panic!("{content_type}: {why:?}"));
            assert_eq!(
                (call.protocol, call.codec),
                (protocol, codec),
                "{content_type}"
            );
        }
        for content_type in ["application/grpc-web-text+json", "application/json+json"] {
            let other = parsed(Method::POST, &[("content-type", content_type)], true);
            assert!(
                matches!(other, Err(Rejection::Foreign(_))),
                "{content_type}: {other:?}"
            );
        }
    }

    #[test]
    fn grpc_content_types_are_exact_up_to_proto_and_parameters() {
        let ok = [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc;charset=utf-8",
            "application/grpc+proto;x=1",
        ];
        for v in ok {
            assert!(
                is_grpc_content_type(Some(&HeaderValue::from_static(v))),
                "{v}"
            );
        }
        let bad = [
            "application/json",
            "application/grpc+json",
            "application/grpcx",
            "text/plain",
        ];
        for v in bad {
            assert!(
                !is_grpc_content_type(Some(&HeaderValue::from_static(v))),
                "{v}"
            );
        }
        assert!(!is_grpc_content_type(None));
    }

    #[test]
    fn methods_other_than_post_are_refused_and_options_is_a_preflight_with_web() {
        let get = parsed(Method::GET, &[("content-type", "application/grpc")], true);
        assert!(
            matches!(get, Err(Rejection::Http(StatusCode::METHOD_NOT_ALLOWED))),
            "{get:?}"
        );
        let preflight = parsed(Method::OPTIONS, &[], true);
        assert!(
            matches!(preflight, Err(Rejection::Preflight)),
            "{preflight:?}"
        );
        let options = parsed(
            Method::OPTIONS,
            &[("content-type", "application/grpc")],
            false,
        );
        assert!(
            matches!(
                options,
                Err(Rejection::Http(StatusCode::METHOD_NOT_ALLOWED))
            ),
            "{options:?}"
        );
    }

    #[test]
    fn bad_heads_of_grpc_calls_are_statuses_in_their_protocol() {
        let mut unknown = head(Method::POST, &[("content-type", "application/grpc-web")]);
        unknown.uri = "/pkg.Svc/Other".parse().expect("a path");
        match parse(&unknown, true, lookup) {
            Err(Rejection::Status(status, Protocol::Web(Mode::Binary))) => {
                assert_eq!(status.code(), Code::Unimplemented);
            }
            other => panic!("expected UNIMPLEMENTED in gRPC-Web, got {other:?}"),
        }
        assert_eq!(
            status_code(grpc(&[("grpc-encoding", "br")])),
            Code::Unimplemented
        );
        assert_eq!(status_code(grpc(&[("grpc-timeout", "1x")])), Code::Internal);
        assert_eq!(
            status_code(grpc(&[("grpc-timeout", "123456789S")])),
            Code::Internal
        );
        assert_eq!(
            status_code(grpc(&[("grpc-timeout", "0m")])),
            Code::DeadlineExceeded
        );
        assert_eq!(
            status_code(grpc(&[("x-data-bin", "not base64!")])),
            Code::Internal
        );
    }
}
