//! The Connect protocol's rules (connectrpc.com/docs/protocol), free of I/O: its content
//! types, `Connect-Timeout-Ms`, the error JSON and HTTP statuses, the end-of-stream message
//! of streaming calls, and the query of unary GET calls.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use http::header::HeaderValue;
use http::StatusCode;

use crate::compression::Encoding;
use crate::metadata::MetadataMap;
use crate::{Code, Status};

/// An envelope flag: the message is compressed with `Connect-Content-Encoding`.
pub(crate) const FLAG_COMPRESSED: u8 = 0x01;
/// An envelope flag: the end-of-stream message (JSON), last in a response.
pub(crate) const FLAG_END_STREAM: u8 = 0x02;

/// How messages are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Protobuf bytes.
    Proto,
    /// The canonical protobuf JSON mapping.
    Json,
}

impl Codec {
    fn from_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("proto") {
            Some(Codec::Proto)
        } else if name.eq_ignore_ascii_case("json") {
            Some(Codec::Json)
        } else {
            None
        }
    }

    /// The content type of a unary message in this codec.
    pub(crate) fn unary_content_type(self) -> HeaderValue {
        match self {
            Codec::Proto => HeaderValue::from_static("application/proto"),
            Codec::Json => HeaderValue::from_static("application/json"),
        }
    }

    /// The content type of a streaming body in this codec.
    pub(crate) fn stream_content_type(self) -> HeaderValue {
        match self {
            Codec::Proto => HeaderValue::from_static("application/connect+proto"),
            Codec::Json => HeaderValue::from_static("application/connect+json"),
        }
    }
}

/// What a request's `content-type` makes of a Connect POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kind {
    pub(crate) codec: Codec,
    /// Enveloped messages (`application/connect+...`) rather than one bare message.
    pub(crate) streaming: bool,
}

/// The Connect kind of a POST's content type, if it is one.
pub(crate) fn kind(content_type: Option<&HeaderValue>) -> Option<Kind> {
    let media = content_type?.to_str().ok()?.split(';').next()?.trim();
    let (streaming, codec) = match strip_prefix_ignore_case(media, "application/connect+") {
        Some(codec) => (true, codec),
        None => (false, strip_prefix_ignore_case(media, "application/")?),
    };
    Some(Kind {
        codec: Codec::from_name(codec)?,
        streaming,
    })
}

/// `text` after `prefix`, compared in any ASCII case.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Parses `Connect-Timeout-Ms` (at most 10 digits, as the protocol says).
pub(crate) fn parse_timeout(value: &HeaderValue) -> Option<std::time::Duration> {
    let text = value.to_str().ok()?;
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().map(std::time::Duration::from_millis)
}

/// The Connect name of a code (`not_found`; `canceled` with one l).
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status a Connect error answers with.
pub(crate) fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON of a Connect error, details included (type names without the
/// `type.googleapis.com/` prefix, values in unpadded base64).
pub(crate) fn error_json(status: &Status) -> serde_json::Value {
    let details: Vec<serde_json::Value> = status
        .details_any()
        .iter()
        .map(|any| {
            let name = any.type_url.rsplit('/').next().unwrap_or(&any.type_url);
            serde_json::json!({"type": name, "value": STANDARD_NO_PAD.encode(&any.value)})
        })
        .collect();
    let mut body = serde_json::json!({"code": code_name(status.code())});
    if !status.message().is_empty() {
        body["message"] = status.message().into();
    }
    if !details.is_empty() {
        body["details"] = details.into();
    }
    body
}

/// The body of a unary error response.
pub(crate) fn error_body(status: &Status) -> Bytes {
    Bytes::from(error_json(status).to_string())
}

/// Metadata as the end-of-stream message carries it: each key to the list of its values
/// (`-bin` values stay base64, as on the wire).
fn metadata_json(metadata: &MetadataMap) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    let headers = metadata.clone().into_headers();
    for name in headers.keys() {
        let values: Vec<serde_json::Value> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.into())
            .collect();
        map.insert(name.as_str().to_owned(), values.into());
    }
    map
}

/// The end-of-stream envelope of a streaming response: the error, if the call failed, and
/// the trailers.
pub(crate) fn end_stream(error: Option<&Status>, trailers: &MetadataMap) -> Bytes {
    let mut body = serde_json::Map::new();
    let metadata = metadata_json(match error {
        Some(status) => status.metadata(),
        None => trailers,
    });
    if let Some(status) = error {
        body.insert("error".into(), error_json(status));
    }
    if !metadata.is_empty() {
        body.insert("metadata".into(), metadata.into());
    }
    envelope(
        FLAG_END_STREAM,
        serde_json::Value::Object(body).to_string().as_bytes(),
    )
}

/// One envelope: flags, the 4-byte big-endian length, the payload.
pub(crate) fn envelope(flags: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + payload.len());
    out.put_u8(flags);
    out.put_u32(payload.len() as u32);
    out.put_slice(payload);
    out.freeze()
}

/// A unary GET call's query: `encoding`, `message` (base64 with `base64=1`), and
/// `compression`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GetQuery {
    pub(crate) codec: Codec,
    pub(crate) message: Bytes,
    pub(crate) compression: Option<Encoding>,
}

/// Parses the query of a unary GET call.
pub(crate) fn get_query(query: Option<&str>) -> Result<GetQuery, Status> {
    let (mut codec, mut message, mut base64, mut compression) = (None, None, false, None);
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = super::url::decode_query(value)
            .ok_or_else(|| Status::invalid_argument(format!("malformed query parameter {key}")))?;
        match key {
            "encoding" => {
                codec = Some(Codec::from_name(&value).ok_or_else(|| {
                    Status::unimplemented(format!("unsupported codec {value:?} (proto, json)"))
                })?)
            }
            "message" => message = Some(value),
            "base64" => base64 = value == "1",
            "compression" if value != "identity" => {
                compression = Some(Encoding::from_name(value.as_bytes()).ok_or_else(|| {
                    Status::unimplemented(format!(
                        "compression {}",
                        crate::compression::unsupported(value.as_bytes())
                    ))
                })?)
            }
            "connect" if value != "v1" => {
                return Err(Status::invalid_argument(format!(
                    "unsupported Connect protocol version {value:?}"
                )))
            }
            _ => {}
        }
    }
    let codec = codec.ok_or_else(|| Status::invalid_argument("missing encoding parameter"))?;
    let message = message.unwrap_or_default();
    let message =
        if base64 {
            let trimmed = message.trim_end_matches('=');
            Bytes::from(URL_SAFE_NO_PAD.decode(trimmed).map_err(|err| {
                Status::invalid_argument(format!("invalid base64 message: {err}"))
            })?)
        } else {
            Bytes::from(message.into_bytes())
        };
    Ok(GetQuery {
        codec,
        message,
        compression,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::details::ErrorInfo;

    #[test]
    fn errors_are_json_with_connect_names_and_details() {
        let status = Status::not_found("no user 7").with_detail(ErrorInfo {
            reason: "USER_NOT_FOUND".into(),
            domain: "example.com".into(),
            ..ErrorInfo::default()
        });
        let body = error_json(&status);
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["message"], "no user 7");
        assert_eq!(body["details"][0]["type"], "google.rpc.ErrorInfo");
        let value = STANDARD_NO_PAD
            .decode(body["details"][0]["value"].as_str().unwrap())
            .unwrap();
        assert!(value.windows(14).any(|w| w == b"USER_NOT_FOUND"));
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(http_status(Code::Cancelled).as_u16(), 499);
        assert_eq!(code_name(Code::Cancelled), "canceled");
    }

    #[test]
    fn timeouts_and_content_types() {
        assert_eq!(
            parse_timeout(&HeaderValue::from_static("1500")),
            Some(std::time::Duration::from_millis(1500))
        );
        for bad in ["", "-1", "12345678901", "1.5"] {
            assert_eq!(
                parse_timeout(&HeaderValue::from_str(bad).unwrap()),
                None,
                "{bad}"
            );
        }
        let kind_of = |v: &'static str| kind(Some(&HeaderValue::from_static(v)));
        let unary = |codec| {
            Some(Kind {
                codec,
                streaming: false,
            })
        };
        let stream = |codec| {
            Some(Kind {
                codec,
                streaming: true,
            })
        };
        assert_eq!(kind_of("application/proto"), unary(Codec::Proto));
        assert_eq!(
            kind_of("application/json; charset=utf-8"),
            unary(Codec::Json)
        );
        assert_eq!(kind_of("application/connect+proto"), stream(Codec::Proto));
        assert_eq!(kind_of("Application/Connect+JSON"), stream(Codec::Json));
        for other in [
            "application/grpc",
            "application/grpc-web",
            "text/plain",
            "application/xml",
        ] {
            assert_eq!(kind_of(other), None, "{other}");
        }
        assert_eq!(kind(None), None);
    }

    #[test]
    fn end_stream_carries_the_error_or_the_trailers() {
        let mut trailers = MetadataMap::new();
        trailers.insert("x-method", "Chat").unwrap();
        let ok = end_stream(None, &trailers);
        assert_eq!(ok[0], FLAG_END_STREAM);
        assert_eq!(
            u32::from_be_bytes(ok[1..5].try_into().unwrap()) as usize,
            ok.len() - 5
        );
        let json: serde_json::Value = serde_json::from_slice(&ok[5..]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"metadata": {"x-method": ["Chat"]}})
        );
        let mut failed = Status::unavailable("down");
        failed
            .metadata_mut()
            .insert("x-why", "maintenance")
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&end_stream(Some(&failed), &trailers)[5..]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "error": {"code": "unavailable", "message": "down"},
                "metadata": {"x-why": ["maintenance"]}
            })
        );
        assert_eq!(
            end_stream(None, &MetadataMap::new()).as_ref(),
            b"\x02\0\0\0\x02{}"
        );
    }

    #[test]
    fn get_queries() {
        let message = URL_SAFE_NO_PAD.encode(b"\x08\x07\xff");
        let query = format!("connect=v1&encoding=proto&base64=1&message={message}");
        assert_eq!(
            get_query(Some(&query)).unwrap(),
            GetQuery {
                codec: Codec::Proto,
                message: Bytes::from_static(b"\x08\x07\xff"),
                compression: None
            }
        );
        let json = get_query(Some(
            "encoding=json&message=%7B%22id%22%3A2%7D&compression=gzip",
        ));
        #[cfg(feature = "gzip")]
        {
            let json = json.unwrap();
            assert_eq!(json.message.as_ref(), br#"{"id":2}"#);
            assert_eq!(json.compression, Some(Encoding::Gzip));
        }
        #[cfg(not(feature = "gzip"))]
        assert_eq!(json.unwrap_err().code(), Code::Unimplemented);
        for (bad, code) in [
            ("message=x", Code::InvalidArgument),
            ("encoding=xml", Code::Unimplemented),
            ("encoding=proto&compression=br", Code::Unimplemented),
            ("encoding=proto&base64=1&message=***", Code::InvalidArgument),
            ("encoding=proto&connect=v2", Code::InvalidArgument),
            ("encoding=json&message=%zz", Code::InvalidArgument),
        ] {
            assert_eq!(get_query(Some(bad)).unwrap_err().code(), code, "{bad}");
        }
    }
}
