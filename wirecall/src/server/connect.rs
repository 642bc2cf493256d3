//! The Connect protocol's unary calls (connectrpc.com/docs/protocol): a POST whose body is
//! the bare message (`application/proto`), answered with the bare message, the response
//! metadata as headers and the trailers as `trailer-*` headers; an error is an HTTP status
//! and a JSON body `{"code", "message", "details"}`. The call itself runs as any other.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use h2::server::SendResponse;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

use crate::metadata::MetadataMap;
use crate::{Code, Status};

/// The content type of Connect unary calls with protobuf messages.
pub(crate) const PROTO: &str = "application/proto";

/// Whether `content_type` names a Connect unary protobuf request.
pub(crate) fn is_connect_unary(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(PROTO))
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

/// The JSON body of a Connect error, details included (type names without the
/// `type.googleapis.com/` prefix, values in unpadded base64).
pub(crate) fn error_body(status: &Status) -> Bytes {
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
    Bytes::from(body.to_string())
}

/// Adds `trailers` as `trailer-<name>` headers.
fn add_trailers(headers: &mut HeaderMap, trailers: MetadataMap) {
    for (name, value) in trailers.into_headers().iter() {
        if let Ok(name) = HeaderName::from_bytes(format!("trailer-{}", name.as_str()).as_bytes()) {
            headers.append(name, value.clone());
        }
    }
}

/// Answers a call with its message.
pub(crate) fn reply(
    respond: &mut SendResponse<Bytes>,
    metadata: MetadataMap,
    trailers: MetadataMap,
    message: Bytes,
) {
    let mut response = http::Response::new(());
    let headers = response.headers_mut();
    metadata.append_to(headers);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROTO));
    add_trailers(headers, trailers);
    send(respond, response, message);
}

/// Answers a call with an error.
pub(crate) fn error(respond: &mut SendResponse<Bytes>, status: Status) {
    let body = error_body(&status);
    let mut response = http::Response::new(());
    *response.status_mut() = http_status(status.code());
    let headers = response.headers_mut();
    add_trailers(headers, status.metadata().clone());
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    send(respond, response, body);
}

fn send(respond: &mut SendResponse<Bytes>, response: http::Response<()>, body: Bytes) {
    match respond.send_response(response, false) {
        Ok(mut stream) => {
            if let Err(err) = stream.send_data(body, true) {
                tracing::debug!(%err, "could not send a Connect response body");
            }
        }
        Err(err) => tracing::debug!(%err, "could not send a Connect response"),
    }
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
        let body: serde_json::Value = serde_json::from_slice(&error_body(&status)).unwrap();
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
        assert!(is_connect_unary(Some(&HeaderValue::from_static(
            "application/proto"
        ))));
        assert!(!is_connect_unary(Some(&HeaderValue::from_static(
            "application/grpc"
        ))));
        assert!(!is_connect_unary(None));
    }
}
