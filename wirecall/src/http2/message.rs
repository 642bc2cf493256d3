//! HTTP messages on HTTP/2 (RFC 9113, section 8): a request head and trailers read from
//! decoded header fields by the section's rules, and a response head as the fields to
//! encode. A field list that breaks a rule is a malformed message: its stream is reset with
//! PROTOCOL_ERROR (8.1.1), and the reason given here is logged.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};

/// A decoded header field: name, value.
pub(crate) type Field = (Bytes, Bytes);

/// Headers that belong to one HTTP/1.1 connection and never to an HTTP/2 message (8.2.2).
const CONNECTION_SPECIFIC: [&[u8]; 5] = [
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"upgrade",
];

/// A request's pseudo-header fields as they come.
#[derive(Default)]
struct Pseudo {
    method: Option<Bytes>,
    scheme: Option<Bytes>,
    authority: Option<Bytes>,
    path: Option<Bytes>,
}

/// The request head `fields` make: pseudo-header fields first, each once; `:method`,
/// `:scheme` and a non-empty `:path` (all but CONNECT); lowercase names; no connection-specific
/// field; `te` only as `trailers`.
pub(crate) fn request(fields: Vec<Field>) -> Result<http::request::Parts, &'static str> {
    let mut pseudo = Pseudo::default();
    let mut headers = HeaderMap::with_capacity(fields.len());
    let mut regular = false;
    for (name, value) in fields {
        if let Some(which) = name.strip_prefix(b":") {
            if regular {
                return Err("a pseudo-header field after a regular one");
            }
            let slot = match which {
                b"method" => &mut pseudo.method,
                b"scheme" => &mut pseudo.scheme,
                b"authority" => &mut pseudo.authority,
                b"path" => &mut pseudo.path,
                _ => return Err("a pseudo-header field requests do not have"),
            };
            if slot.replace(value).is_some() {
                return Err("a pseudo-header field twice");
            }
            continue;
        }
        regular = true;
        let (name, value) = regular_field(name, value)?;
        if name == http::header::TE && value != "trailers" {
            return Err("te other than \"trailers\"");
        }
        headers.append(name, value);
    }
    head(pseudo, headers)
}

/// The request head of `pseudo` with `headers`.
fn head(pseudo: Pseudo, headers: HeaderMap) -> Result<http::request::Parts, &'static str> {
    let method = pseudo.method.ok_or("no :method")?;
    let method = Method::from_bytes(&method).map_err(|_| "a malformed :method")?;
    let mut uri = http::uri::Parts::default();
    if method == Method::CONNECT {
        if pseudo.scheme.is_some() || pseudo.path.is_some() {
            return Err("CONNECT with :scheme or :path");
        }
    } else {
        let scheme = pseudo.scheme.ok_or("no :scheme")?;
        let path = pseudo.path.filter(|p| !p.is_empty()).ok_or("no :path")?;
        uri.scheme =
            Some(http::uri::Scheme::try_from(&scheme[..]).map_err(|_| "a malformed :scheme")?);
        uri.path_and_query = Some(
            http::uri::PathAndQuery::from_maybe_shared(path).map_err(|_| "a malformed :path")?,
        );
    }
    if let Some(authority) = pseudo.authority {
        uri.authority = Some(
            http::uri::Authority::from_maybe_shared(authority)
                .map_err(|_| "a malformed :authority")?,
        );
    } else if method == Method::CONNECT {
        return Err("CONNECT without :authority");
    }
    let uri = if uri.scheme.is_some() && uri.authority.is_none() {
        // `http::Uri` takes no scheme without an authority: the path alone, as h2 does.
        let mut path_only = http::uri::Parts::default();
        path_only.path_and_query = uri.path_and_query;
        http::Uri::from_parts(path_only)
    } else {
        http::Uri::from_parts(uri)
    }
    .map_err(|_| "a malformed request target")?;
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.version = http::Version::HTTP_2;
    parts.headers = headers;
    Ok(parts)
}

/// Trailers: regular fields only.
pub(crate) fn trailers(fields: Vec<Field>) -> Result<HeaderMap, &'static str> {
    let mut headers = HeaderMap::with_capacity(fields.len());
    for (name, value) in fields {
        if name.starts_with(b":") {
            return Err("a pseudo-header field in trailers");
        }
        let (name, value) = regular_field(name, value)?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// A regular field, checked: a lowercase token for a name, a value without CR, LF or NUL,
/// not connection-specific.
fn regular_field(name: Bytes, value: Bytes) -> Result<(HeaderName, HeaderValue), &'static str> {
    if CONNECTION_SPECIFIC.contains(&&name[..]) {
        return Err("a connection-specific header field");
    }
    let name = HeaderName::from_lowercase(&name).map_err(|_| "a malformed field name")?;
    let value = HeaderValue::from_maybe_shared(value).map_err(|_| "a malformed field value")?;
    Ok((name, value))
}

/// A response head from `fields`: `:status` first (its form was checked as it came), then
/// regular fields.
pub(crate) fn response(fields: Vec<Field>) -> Result<http::response::Parts, &'static str> {
    let mut fields = fields.into_iter();
    let status = match fields.next() {
        Some((name, value)) if &name[..] == b":status" => value,
        _ => return Err("no :status first"),
    };
    let status = http::StatusCode::from_bytes(&status).map_err(|_| "a malformed :status")?;
    let mut headers = HeaderMap::with_capacity(fields.len());
    for (name, value) in fields {
        if name.starts_with(b":") {
            return Err("a pseudo-header field after :status, or one responses do not have");
        }
        let (name, value) = regular_field(name, value)?;
        headers.append(name, value);
    }
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = status;
    parts.version = http::Version::HTTP_2;
    parts.headers = headers;
    Ok(parts)
}

/// The fields of a request head: `:method`, `:scheme`, `:authority`, `:path` (the last
/// three from the URI, as far as it has them), then its headers.
pub(crate) fn request_fields(head: &http::request::Parts) -> impl Iterator<Item = (&[u8], &[u8])> {
    let uri = &head.uri;
    let pseudo = [
        Some((&b":method"[..], head.method.as_str().as_bytes())),
        Some((
            &b":scheme"[..],
            uri.scheme_str().unwrap_or("http").as_bytes(),
        )),
        uri.authority()
            .map(|a| (&b":authority"[..], a.as_str().as_bytes())),
        Some((
            &b":path"[..],
            uri.path_and_query().map_or("/", |p| p.as_str()).as_bytes(),
        )),
    ];
    pseudo.into_iter().flatten().chain(fields_of(&head.headers))
}

/// The fields of a response head: `:status`, then its headers.
pub(crate) fn response_fields(
    head: &http::response::Parts,
) -> impl Iterator<Item = (&[u8], &[u8])> {
    let status = std::iter::once((&b":status"[..], head.status.as_str().as_bytes()));
    status.chain(fields_of(&head.headers))
}

/// The fields of `headers` (trailers, or a head's regular fields).
pub(crate) fn fields_of(headers: &HeaderMap) -> impl Iterator<Item = (&[u8], &[u8])> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&'static str, &'static str)]) -> Vec<Field> {
        list.iter()
            .map(|(n, v)| {
                (
                    Bytes::from_static(n.as_bytes()),
                    Bytes::from_static(v.as_bytes()),
                )
            })
            .collect()
    }

    const GRPC: [(&str, &str); 6] = [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "localhost:50051"),
        (":path", "/user.UserService/GetUser"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ];

    #[test]
    fn a_grpc_request_reads_whole() {
        let parts = request(fields(&GRPC)).unwrap();
        assert_eq!(parts.method, Method::POST);
        assert_eq!(parts.uri.path(), "/user.UserService/GetUser");
        assert_eq!(parts.uri.authority().unwrap().as_str(), "localhost:50051");
        assert_eq!(parts.uri.scheme_str(), Some("http"));
        assert_eq!(parts.version, http::Version::HTTP_2);
        assert_eq!(parts.headers["content-type"], "application/grpc");
        assert_eq!(parts.headers.len(), 2);
    }

    #[test]
    fn a_request_without_authority_keeps_its_path_and_query() {
        let parts = request(fields(&[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/v1/users/7?view=full"),
        ]))
        .unwrap();
        assert_eq!(parts.uri.path(), "/v1/users/7");
        assert_eq!(parts.uri.query(), Some("view=full"));
    }

    #[test]
    fn malformed_requests_are_refused_with_their_reason() {
        let cases: [(&[(&str, &str)], &str); 10] = [
            (&[(":scheme", "http"), (":path", "/")], "no :method"),
            (&[(":method", "GET"), (":path", "/")], "no :scheme"),
            (
                &[(":method", "GET"), (":scheme", "http"), (":path", "")],
                "no :path",
            ),
            (
                &[
                    (":method", "GET"),
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                ],
                "a pseudo-header field twice",
            ),
            (
                &[
                    (":method", "GET"),
                    ("a", "b"),
                    (":scheme", "http"),
                    (":path", "/"),
                ],
                "a pseudo-header field after a regular one",
            ),
            (
                &[
                    (":method", "GET"),
                    (":status", "200"),
                    (":scheme", "http"),
                    (":path", "/"),
                ],
                "a pseudo-header field requests do not have",
            ),
            (
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    ("Upper", "x"),
                ],
                "a malformed field name",
            ),
            (
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    ("connection", "x"),
                ],
                "a connection-specific header field",
            ),
            (
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    ("te", "gzip"),
                ],
                "te other than \"trailers\"",
            ),
            (
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    ("a", "b\nc"),
                ],
                "a malformed field value",
            ),
        ];
        for (list, reason) in cases {
            assert_eq!(request(fields(list)).unwrap_err(), reason, "{list:?}");
        }
    }

    #[test]
    fn trailers_take_no_pseudo_header_field() {
        let map = trailers(fields(&[("grpc-status", "0"), ("grpc-message", "")])).unwrap();
        assert_eq!(map["grpc-status"], "0");
        assert!(trailers(fields(&[(":status", "200")])).is_err());
    }

    #[test]
    fn a_response_head_is_its_status_then_its_headers() {
        let (mut head, ()) = http::Response::new(()).into_parts();
        head.headers
            .insert("content-type", HeaderValue::from_static("application/grpc"));
        let list: Vec<_> = response_fields(&head).collect();
        assert_eq!(
            list,
            [
                (&b":status"[..], &b"200"[..]),
                (&b"content-type"[..], &b"application/grpc"[..])
            ]
        );
    }
}
