//! HTTP/JSON transcoding (the grpc-gateway job): methods with a `google.api.http` rule are
//! reached by their verb and path template, the request message built from the path's
//! variables, the query parameters and the body; the response message (or the rule's
//! `response_body` field) answered as JSON. An error is its HTTP status with the
//! `google.rpc.Status` JSON as the body, details as `Any` JSON. Server-streaming methods
//! answer newline-delimited JSON, `{"result": ...}` per message and `{"error": ...}` last if
//! the call fails.

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method as Verb, StatusCode};
use prost::Message;
use prost_reflect::{DynamicMessage, Value};

use super::exchange::Exchange;
use super::schema::{self, json_to_message, set_from_text, Method, Schema};
use super::template::Template;
use super::{metadata, method_path, Gateway, Link};
use crate::codec::BytesCodec;
use crate::metadata::MetadataMap;
use crate::{Request, Status};

/// The extension that holds a method's rule.
const HTTP_RULE: &str = "google.api.http";

/// One verb and path template leading to a method.
#[derive(Debug)]
struct Route {
    verb: Verb,
    template: Template,
    method: Method,
    /// `*`, a field name, or empty (no body).
    body: String,
    /// The response field sent as the body, or empty for the whole message.
    response_body: String,
}

/// Every route of the served methods, the most specific templates first.
#[derive(Debug)]
pub(crate) struct Routes(Vec<Route>);

impl Routes {
    /// The routes of every method with a `google.api.http` rule. A rule that cannot be
    /// served (a bad template, a client-streaming method) is skipped with a warning.
    pub(crate) fn new(schema: &Schema) -> Routes {
        let mut routes = Vec::new();
        if let Some(extension) = schema.pool.get_extension_by_name(HTTP_RULE) {
            for method in schema.methods() {
                let options = method.descriptor.options();
                if !options.has_extension(&extension) {
                    continue;
                }
                if let Value::Message(rule) = options.get_extension(&extension).as_ref() {
                    add_rule(&mut routes, method, rule, true);
                }
            }
        }
        routes.sort_by_key(|route| std::cmp::Reverse(route.template.literal_count()));
        Routes(routes)
    }

    /// The route for a request, with the path's variable bindings.
    pub(crate) fn find(&self, verb: &Verb, path: &str) -> Option<(usize, Vec<(String, String)>)> {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, route)| route.verb == verb)
            .find_map(|(index, route)| Some((index, route.template.matches(path)?)))
    }

    /// Answers a request routed to `self.0[route]`.
    pub(crate) async fn serve(
        &self,
        gateway: &Gateway,
        route: usize,
        bindings: Vec<(String, String)>,
        mut exchange: Exchange,
        link: &Link,
    ) {
        let Some(route) = self.0.get(route) else {
            return;
        };
        let request = async {
            let body = exchange.body(gateway.max_message).await?;
            let message = route.request(&bindings, exchange.head.uri.query(), &body)?;
            let mut request = Request::new(Bytes::from(message.encode_to_vec()));
            *request.metadata_mut() = metadata(&exchange.head.headers);
            if let Some(timeout) = super::timeout(&exchange.head.headers)? {
                request.set_timeout(timeout);
            }
            Ok::<_, Status>(request)
        }
        .await;
        let request = match request {
            Ok(request) => request,
            Err(status) => return answer_error(&gateway.schema, &mut exchange, &status),
        };
        if route.method.server_streaming() {
            return route.stream(gateway, request, exchange, link).await;
        }
        let result = tokio::select! {
            result = link.unary(request, &route.method.path) => result,
            () = exchange.reset() => return,
        };
        let answer = result.and_then(|response| {
            let (parts, message) = response.into_parts();
            Ok((parts.metadata, parts.trailers, route.response(&message)?))
        });
        match answer {
            Ok((metadata, trailers, body)) => {
                let mut headers = HeaderMap::new();
                add_prefixed(&mut headers, "grpc-metadata-", metadata);
                add_prefixed(&mut headers, "grpc-trailer-", trailers);
                exchange.respond_json(StatusCode::OK, headers, body);
            }
            Err(status) => answer_error(&gateway.schema, &mut exchange, &status),
        }
    }
}

/// Adds the routes of `rule` (and of its additional bindings, one level deep).
fn add_rule(routes: &mut Vec<Route>, method: &Method, rule: &DynamicMessage, top: bool) {
    let text = |name: &str| {
        rule.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let pattern = ["get", "put", "post", "delete", "patch"]
        .into_iter()
        .find(|verb| rule.has_field_by_name(verb))
        .map(|verb| (verb.to_ascii_uppercase(), text(verb)))
        .or_else(|| {
            let custom = rule.get_field_by_name("custom")?;
            let custom = custom.as_message()?;
            let field = |name| custom.get_field_by_name(name)?.as_str().map(str::to_owned);
            Some((field("kind")?, field("path")?))
        });
    if let Some((verb, path)) = pattern {
        let route = Verb::from_bytes(verb.as_bytes())
            .map_err(|_| format!("bad verb {verb:?}"))
            .and_then(|verb| Ok((verb, Template::parse(&path).map_err(|e| e.to_string())?)))
            .and_then(|(verb, template)| {
                if method.client_streaming() {
                    return Err("client-streaming methods have no HTTP mapping".into());
                }
                Ok(Route {
                    verb,
                    template,
                    method: method.clone(),
                    body: text("body"),
                    response_body: text("response_body"),
                })
            });
        match route {
            Ok(route) => routes.push(route),
            Err(why) => tracing::warn!(
                method = method.path,
                path,
                why,
                "google.api.http rule not served"
            ),
        }
    }
    if top {
        if let Some(Value::List(more)) = rule.get_field_by_name("additional_bindings").as_deref() {
            for binding in more.iter().filter_map(Value::as_message) {
                add_rule(routes, method, binding, false);
            }
        }
    }
}

impl Route {
    /// The request message from the path's bindings, the query and the body.
    fn request(
        &self,
        bindings: &[(String, String)],
        query: Option<&str>,
        body: &[u8],
    ) -> Result<DynamicMessage, Status> {
        let input = self.method.input();
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            &b"{}"[..]
        } else {
            body
        };
        let mut message = match self.body.as_str() {
            "" => DynamicMessage::new(input),
            "*" => json_to_message(&input, body)?,
            field => {
                let value: serde_json::Value = serde_json::from_slice(body)
                    .map_err(|err| Status::invalid_argument(format!("invalid JSON body: {err}")))?;
                let wrapped = serde_json::json!({ field: value }).to_string();
                json_to_message(&input, wrapped.as_bytes())?
            }
        };
        for (field, value) in bindings {
            set_from_text(&mut message, field, value)?;
        }
        if self.body != "*" {
            let pairs = super::url::query_pairs(query.unwrap_or_default()).map_err(|pair| {
                Status::invalid_argument(format!("malformed query parameter {pair:?}"))
            })?;
            for (field, value) in pairs {
                set_from_text(&mut message, &field, &value)?;
            }
        }
        Ok(message)
    }

    /// The JSON body of a response message.
    fn response(&self, message: &[u8]) -> Result<Bytes, Status> {
        let output = self.method.output();
        let json = schema::proto_to_json(&output, message)?;
        if self.response_body.is_empty() {
            return Ok(json);
        }
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
        let field = output.get_field_by_name(&self.response_body);
        let name = field
            .as_ref()
            .map_or(self.response_body.as_str(), |f| f.json_name());
        let part = value.get(name).cloned().unwrap_or(serde_json::Value::Null);
        Ok(Bytes::from(part.to_string()))
    }

    /// Serves a server-streaming method as newline-delimited JSON.
    async fn stream(
        &self,
        gateway: &Gateway,
        request: Request<Bytes>,
        mut exchange: Exchange,
        link: &Link,
    ) {
        let started = tokio::select! {
            started = async {
                let path = method_path(&self.method.path)?;
                link.channel().server_streaming_with(request, path, BytesCodec, BytesCodec).await
            } => started,
            () = exchange.reset() => return,
        };
        let (metadata, mut stream) = match started {
            Ok(response) => {
                let (parts, stream) = response.into_parts();
                (parts.metadata, stream)
            }
            Err(status) => return answer_error(&gateway.schema, &mut exchange, &status),
        };
        let mut headers = HeaderMap::new();
        add_prefixed(&mut headers, "grpc-metadata-", metadata);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let Some(mut body) = exchange.start(StatusCode::OK, headers) else {
            return;
        };
        loop {
            let next = tokio::select! {
                next = stream.message() => next,
                () = body.reset() => return,
            };
            let line = match next.and_then(|message| message.map(|m| self.response(&m)).transpose())
            {
                Ok(Some(json)) => ndjson("result", &json),
                Ok(None) => return body.finish(Bytes::new()),
                Err(status) => {
                    return body.finish(ndjson("error", &status_json(&gateway.schema, &status)))
                }
            };
            if body.send(line).await.is_err() {
                return;
            }
        }
    }
}

/// One line of a streamed answer: `{"<key>": <json>}` and a newline.
fn ndjson(key: &str, json: &[u8]) -> Bytes {
    let mut line = BytesMut::with_capacity(json.len() + key.len() + 8);
    line.extend_from_slice(b"{\"");
    line.extend_from_slice(key.as_bytes());
    line.extend_from_slice(b"\":");
    line.extend_from_slice(json);
    line.extend_from_slice(b"}\n");
    line.freeze()
}

/// Adds metadata as headers named `prefix` + key (grpc-gateway's convention).
fn add_prefixed(headers: &mut HeaderMap, prefix: &str, metadata: MetadataMap) {
    for (name, value) in metadata.into_headers().iter() {
        if let Ok(name) = HeaderName::from_bytes(format!("{prefix}{}", name.as_str()).as_bytes()) {
            headers.append(name, value.clone());
        }
    }
}

/// The `google.rpc.Status` JSON of a status: `code` as a number, `message`, `details` as
/// `Any` JSON (`@type` and the fields, or `value` in base64 for a type not described).
fn status_json(schema: &Schema, status: &Status) -> Bytes {
    use base64::Engine;
    let details: Vec<serde_json::Value> = status
        .details_any()
        .iter()
        .map(|any| {
            schema::any_to_json(&schema.pool, any).unwrap_or_else(|| {
                serde_json::json!({
                    "@type": any.type_url,
                    "value": base64::engine::general_purpose::STANDARD.encode(&any.value),
                })
            })
        })
        .collect();
    let json = serde_json::json!({
        "code": status.code() as i32,
        "message": status.message(),
        "details": details,
    });
    Bytes::from(json.to_string())
}

/// Answers with `status` as an HTTP error.
fn answer_error(schema: &Schema, exchange: &mut Exchange, status: &Status) {
    let mut headers = HeaderMap::new();
    add_prefixed(&mut headers, "grpc-trailer-", status.metadata().clone());
    exchange.respond_json(
        super::connect::http_status(status.code()),
        headers,
        status_json(schema, status),
    );
}
