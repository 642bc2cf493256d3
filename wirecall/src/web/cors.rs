//! CORS for gRPC-Web calls from pages of other origins: which origins may call, the
//! preflight answer, and the headers a page may read (the status and custom metadata).

use http::header::{self, HeaderMap, HeaderValue};

/// The headers every gRPC-Web response lets a page read (besides the CORS-safe ones).
const EXPOSED: &str = "grpc-status,grpc-message,grpc-status-details-bin,grpc-encoding";
/// How long a browser may cache a preflight answer (seconds).
const MAX_AGE: &str = "86400";

/// Which origins may call: any, or a list of exact origins (`https://app.example.com`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    /// `None`: any origin.
    origins: Option<Vec<String>>,
    /// Custom response metadata pages may read too.
    exposed: Vec<String>,
}

impl Cors {
    /// Any origin may call.
    pub fn any_origin() -> Self {
        Cors::default()
    }

    /// Only these origins may call (compared exactly, after lower-casing).
    pub fn from_origins<I: IntoIterator<Item = S>, S: Into<String>>(origins: I) -> Self {
        Cors {
            origins: Some(
                origins
                    .into_iter()
                    .map(|o| o.into().to_ascii_lowercase())
                    .collect(),
            ),
            exposed: Vec::new(),
        }
    }

    /// Lets pages read these response headers or trailers as well (custom metadata).
    pub fn expose<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.exposed
            .extend(names.into_iter().map(|n| n.into().to_ascii_lowercase()));
        self
    }

    /// The `access-control-allow-origin` value for a request's `origin`, or `None` when that
    /// origin may not call (or the request names none, as same-origin ones may not).
    pub fn allow(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        let origin = origin?;
        let allowed = match &self.origins {
            None => true,
            Some(list) => origin
                .to_str()
                .is_ok_and(|o| list.iter().any(|allowed| allowed.eq_ignore_ascii_case(o))),
        };
        allowed.then(|| origin.clone())
    }

    /// Adds the CORS headers of an actual (non-preflight) response.
    pub fn add_response_headers(&self, allowed_origin: HeaderValue, headers: &mut HeaderMap) {
        // Every header the response carries (its metadata, Connect's `trailer-*`), so
        // that the page reads what the server sent; then the configured ones.
        let mut list = String::from(EXPOSED);
        for name in headers.keys() {
            let name = name.as_str();
            let plain = matches!(name, "content-type" | "content-length" | "vary")
                || name.starts_with("access-control-");
            if !plain && !EXPOSED.split(',').any(|e| e == name) {
                list.push(',');
                list.push_str(name);
            }
        }
        for name in &self.exposed {
            list.push(',');
            list.push_str(name);
        }
        let exposed = HeaderValue::from_str(&list).unwrap_or(HeaderValue::from_static(EXPOSED));
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed_origin);
        headers.insert(header::VARY, HeaderValue::from_static("origin"));
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
    }

    /// The headers of the answer to a preflight (`OPTIONS`) request, or `None` when its
    /// origin may not call.
    pub fn preflight(&self, request: &HeaderMap) -> Option<HeaderMap> {
        let origin = self.allow(request.get(header::ORIGIN))?;
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("origin"));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
        );
        // Whatever the page asks to send (its metadata, x-grpc-web, grpc-timeout).
        if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        );
        Some(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(value: &'static str) -> HeaderValue {
        HeaderValue::from_static(value)
    }

    #[test]
    fn origins_are_allowed_by_the_list_or_all() {
        let any = Cors::any_origin();
        assert_eq!(
            any.allow(Some(&origin("https://a.test"))),
            Some(origin("https://a.test"))
        );
        assert_eq!(any.allow(None), None);
        let listed = Cors::from_origins(["https://App.test"]);
        assert_eq!(
            listed.allow(Some(&origin("https://app.test"))),
            Some(origin("https://app.test"))
        );
        assert_eq!(listed.allow(Some(&origin("https://evil.test"))), None);
    }

    #[test]
    fn preflight_echoes_the_asked_headers_and_responses_expose_the_status() {
        let cors = Cors::from_origins(["https://app.test"]).expose(["x-user-id"]);
        let mut request = HeaderMap::new();
        request.insert(header::ORIGIN, origin("https://app.test"));
        request.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            origin("content-type,x-grpc-web,authorization"),
        );
        let answer = cors.preflight(&request).expect("allowed");
        assert_eq!(
            answer[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.test"
        );
        assert_eq!(
            answer[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type,x-grpc-web,authorization"
        );
        assert_eq!(
            answer[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        );
        request.insert(header::ORIGIN, origin("https://evil.test"));
        assert!(cors.preflight(&request).is_none());

        let mut headers = HeaderMap::new();
        headers.insert("x-echo-token", origin("abc"));
        headers.insert("trailer-x-method", origin("Get"));
        headers.insert(header::CONTENT_TYPE, origin("application/json"));
        cors.add_response_headers(origin("https://app.test"), &mut headers);
        let exposed = headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .unwrap();
        assert!(exposed.contains("grpc-status") && exposed.contains("grpc-message"));
        assert!(exposed.ends_with(",x-user-id"), "{exposed}");
        let listed: Vec<&str> = exposed.split(',').collect();
        assert!(listed.contains(&"x-echo-token") && listed.contains(&"trailer-x-method"));
        assert!(!listed.contains(&"content-type"), "{exposed}");
    }
}
