//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): each takes arbitrary
//! bytes and runs one of wirecall's parsers, or a whole server connection, on them. Not a
//! public API.
//!
//! The public parsers (frames, `grpc-timeout`, metadata, status details, gRPC-Web bodies,
//! the service config) are fuzzed straight from the targets; what is here reaches the
//! crate's internals. Each function panics when an invariant of what it runs breaks, so
//! that the fuzzer reports it.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::compression::Encoding;
use crate::status::message_encoding;
use crate::{Code, Status};

// The gateway's parsers, which the gateway opens to this module alone.
use crate::gateway::parsers as connect;
use crate::gateway::parsers as template;
use crate::gateway::parsers as url;

/// `Connect-Timeout-Ms`: at most 10 digits, read as milliseconds.
pub fn connect_timeout(value: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    if let Some(timeout) = connect::parse_timeout(&value) {
        let text = value.to_str().expect("a parsed timeout is ASCII");
        assert!(
            !text.is_empty() && text.len() <= 10 && text.bytes().all(|b| b.is_ascii_digit()),
            "accepted {text:?}"
        );
        let millis: u64 = text.parse().expect("at most 10 digits fit in a u64");
        assert_eq!(timeout, Duration::from_millis(millis));
    }
}

/// A status read from `headers` (trailers), checked against its headers and written back:
/// what is written reads back as the same status.
pub fn status_trailers(headers: &HeaderMap) {
    let Some(status) = Status::from_header_map(headers) else {
        assert!(!headers.contains_key("grpc-status"));
        return;
    };
    let raw = headers
        .get("grpc-status")
        .expect("a status comes from a grpc-status");
    match Code::from_header_value(raw.as_bytes()) {
        Some(code) => {
            assert_eq!(status.code(), code);
            let message = headers
                .get("grpc-message")
                .map(|m| message_encoding::decode(m.as_bytes()))
                .unwrap_or_default();
            assert_eq!(status.message(), message);
        }
        None => assert_eq!(status.code(), Code::Unknown),
    }
    // Everything a client can ask of a received status.
    let _ = status.rpc_status();
    let _ = status.details_any();
    let _ = status.to_string();
    let _ = format!("{status:?}");
    for (_, _value) in status.metadata().iter() {}

    let mut written = HeaderMap::new();
    status.clone().write_to(&mut written);
    let back = Status::from_header_map(&written).expect("written with a grpc-status");
    assert_eq!(back.code(), status.code());
    assert_eq!(back.message(), status.message());
    assert_eq!(back.details(), status.details());
    assert_eq!(back.metadata(), status.metadata());
}

/// The query of a Connect unary GET (`encoding`, `message`, `base64`, `compression`).
pub fn connect_get_query(query: &[u8]) {
    let query = String::from_utf8_lossy(query);
    let _ = connect::get_query(Some(&query));
}

/// What a Connect POST's `content-type` makes of it.
pub fn connect_content_type(value: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    if let Some(kind) = connect::kind(Some(&value)) {
        let media = value.to_str().expect("a Connect content type is text");
        assert!(
            media
                .to_ascii_lowercase()
                .trim_start()
                .starts_with("application/"),
            "{media:?}"
        );
        let _ = (
            kind.codec.unary_content_type(),
            kind.codec.stream_content_type(),
        );
    }
}

/// A `google.api.http` path template, and a request path matched against it.
pub fn path_template(template: &[u8], path: &[u8]) {
    let Ok(text) = std::str::from_utf8(template) else {
        return;
    };
    let Ok(template) = template::Template::parse(text) else {
        return;
    };
    let _ = template.literal_count();
    let path = String::from_utf8_lossy(path);
    if let Some(bindings) = template.matches(&path) {
        for (field, _) in &bindings {
            assert_eq!(
                bindings.iter().filter(|(other, _)| other == field).count(),
                1,
                "{field} bound twice"
            );
        }
    }
    // The template's own text as a request path: literals and the verb against themselves.
    let _ = template.matches(text);
}

/// A URL query string (`application/x-www-form-urlencoded`).
pub fn query_string(query: &[u8]) {
    let query = String::from_utf8_lossy(query);
    if let Ok(pairs) = url::query_pairs(&query) {
        let non_empty = query.split('&').filter(|p| !p.is_empty()).count();
        assert_eq!(pairs.len(), non_empty);
    }
    let _ = url::decode_query(&query);
}

/// A request body in `encoding` (picked by the low bits of `encoding`), expanded to at
/// most `max` bytes: never more.
pub fn decompress(encoding: u8, body: &[u8], max: usize) {
    let encoding = [
        Encoding::Identity,
        Encoding::Gzip,
        Encoding::Deflate,
        Encoding::Zstd,
    ][usize::from(encoding & 3)];
    if let Ok(out) = encoding.decompress(body, max) {
        assert!(out.len() <= max, "{} bytes over {max}", out.len());
    }
    // The gateway's (whose callers bound an identity body while reading it).
    let encoding = (encoding != Encoding::Identity).then_some(encoding);
    if let Ok(out) = crate::gateway::decompress(encoding, Bytes::copy_from_slice(body), max) {
        if encoding.is_some() {
            assert!(out.len() <= max, "{} bytes over {max}", out.len());
        } else {
            assert_eq!(out, body);
        }
    }
}

/// The metadata a gateway call carries over from its HTTP request's headers.
pub fn gateway_metadata(headers: &HeaderMap) {
    let metadata = crate::gateway::metadata(headers);
    assert!(metadata.len() <= headers.len());
    for (_, _value) in metadata.iter() {}
    let _ = crate::gateway::body_encoding(headers.get("content-encoding"));
}

/// A service config in its JSON form, and the lookups a channel makes in it; the text is
/// also read as a protobuf JSON `Duration`, and as a DNS TXT record's `grpc_config=` choices
/// (gRFC A2), whose chosen config is then parsed the same way.
pub fn service_config(text: &str) {
    let client = crate::client::dns_config::Client {
        hostname: "fuzz",
        percentile: (text.len() % 100) as u8,
    };
    let records: Vec<String> = text.split('\0').map(str::to_owned).collect();
    if let Ok(crate::client::dns_config::Choice::Config(json)) =
        crate::client::dns_config::choose(&records, &client)
    {
        let chosen: serde_json::Value = serde_json::from_str(&json).expect("chosen JSON parses");
        assert!(chosen.is_object(), "{json}");
        service_config_json(&json);
    }
    service_config_json(text);
}

fn service_config_json(text: &str) {
    if let Some(duration) = crate::service_config::parse_duration(text) {
        assert!(duration.as_secs() <= 315_576_000_000, "{text:?}");
        assert!(text.ends_with('s'));
    }
    let Ok(config) = crate::service_config::ServiceConfig::from_json(text) else {
        return;
    };
    let _ = config.load_balancing();
    if let Some(throttling) = config.retry_throttling() {
        assert!(
            throttling.max_tokens > 0.0 && throttling.max_tokens <= 1000.0,
            "{throttling:?}"
        );
        assert!(throttling.token_ratio > 0.0, "{throttling:?}");
    }
    for path in ["/pkg.Svc/Method", "/pkg.Svc/", "//", "/a/b", "/"] {
        if let Some(method) = config.for_path(path) {
            assert!(method.retry.is_none() || method.hedging.is_none());
            if let Some(retry) = &method.retry {
                assert!((2..=5).contains(&retry.max_attempts), "{retry:?}");
                assert!(
                    !retry.retryable_status_codes.is_empty()
                        || retry.per_attempt_recv_timeout.is_some()
                );
                assert!(!retry.retryable_status_codes.contains(&Code::Ok));
            }
            if let Some(hedging) = &method.hedging {
                assert!((2..=5).contains(&hedging.max_attempts), "{hedging:?}");
            }
        }
    }
}

/// A gateway (Connect and REST) over some services, to ask which requests it takes.
#[derive(Debug)]
pub struct GatewayClaims(crate::gateway::Gateway);

impl GatewayClaims {
    /// The gateway of the services named in `services`, described by `descriptor_sets`.
    pub fn new<'a>(
        descriptor_sets: impl IntoIterator<Item = &'a [u8]>,
        services: impl IntoIterator<Item = &'static str>,
    ) -> GatewayClaims {
        let schema = crate::gateway::Schema::new(descriptor_sets, services);
        GatewayClaims(crate::gateway::Gateway::new(
            std::sync::Arc::new(schema),
            true,
            true,
            crate::frame::DEFAULT_MAX_RECEIVE_SIZE,
            Some(std::sync::Arc::new(crate::web::Cors::any_origin())),
        ))
    }

    /// Whether the gateway takes a request with this method, URI and `content-type`.
    pub fn claim(&self, method: &[u8], uri: &[u8], content_type: &[u8]) {
        let Ok(method) = http::Method::from_bytes(method) else {
            return;
        };
        let Ok(uri) = http::Uri::try_from(uri) else {
            return;
        };
        let mut request = http::Request::builder().method(method).uri(uri);
        if let Ok(value) = HeaderValue::from_bytes(content_type) {
            request = request.header(http::header::CONTENT_TYPE, value);
        }
        let Ok(request) = request.body(()) else {
            return;
        };
        let (head, ()) = request.into_parts();
        let _ = self.0.claim(&head);
    }
}

/// How one connection of [`ServerHarness::run`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the server closed the connection within the budget (else the client did).
    pub closed_by_server: bool,
    /// The bytes the server sent.
    pub bytes_received: usize,
    /// Tasks still alive, beyond the server's own, once the connection was over and the
    /// runtime had wound down for [`ServerHarness::WIND_DOWN`].
    pub tasks_left: usize,
}

/// A server serving in-process connections on a runtime of the caller's (a current-thread
/// one with a paused clock, so that timers cost no wall time), to feed raw client bytes.
#[derive(Debug)]
pub struct ServerHarness {
    runtime: tokio::runtime::Runtime,
    connector: crate::transport::Connector,
    /// Tasks alive while the server waits for connections.
    baseline_tasks: usize,
}

impl ServerHarness {
    /// How long (on the runtime's clock) a connection may last before the client gives up.
    pub const BUDGET: Duration = Duration::from_secs(30);
    /// How long (on the runtime's clock) the tasks of a finished connection get to end.
    pub const WIND_DOWN: Duration = Duration::from_secs(60);

    /// Starts `server` on `runtime`, serving the connections [`run`](Self::run) makes.
    pub fn new(runtime: tokio::runtime::Runtime, server: crate::server::ServerBuilder) -> Self {
        let entered = runtime.enter();
        let listener = crate::in_process::Listener::new();
        let crate::client::endpoint::Transport::InProcess(connector) =
            listener.endpoint().transport
        else {
            unreachable!("an in-process listener's endpoint is in-process");
        };
        runtime.spawn(server.serve_in_process(listener, std::future::pending()));
        drop(entered);
        // Let the server start (build its router and gateway) and wait for connections.
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
        let baseline_tasks = runtime.metrics().num_alive_tasks();
        ServerHarness {
            runtime,
            connector,
            baseline_tasks,
        }
    }

    /// Counts the tasks alive now as the server's own from here on (tasks a connection
    /// left behind, when the caller chooses to go on despite them).
    pub fn forget_leftover_tasks(&mut self) {
        self.baseline_tasks = self.runtime.metrics().num_alive_tasks();
    }

    /// One connection: writes each of `writes` in turn (the server runs in between), closes
    /// the client's side, and reads whatever the server sends until it closes its side or
    /// the [budget](Self::BUDGET) is spent; then lets the connection's tasks wind down.
    pub fn run(&self, writes: &[Vec<u8>]) -> Outcome {
        self.run_capturing(writes).0
    }

    /// [`run`](Self::run), also returning the bytes the server sent.
    pub fn run_capturing(&self, writes: &[Vec<u8>]) -> (Outcome, Vec<u8>) {
        self.runtime.block_on(async {
            let pipe = self
                .connector
                .connect()
                .expect("the in-process listener lives as long as the server");
            let (mut reader, mut writer) = tokio::io::split(pipe);
            let write = async move {
                for chunk in writes {
                    if writer.write_all(chunk).await.is_err() {
                        break;
                    }
                    // The server acts on what it has before the next write.
                    tokio::task::yield_now().await;
                }
                let _ = writer.shutdown().await;
                writer
            };
            let read = async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut received = Vec::new();
                while let Ok(n @ 1..) = reader.read(&mut buf).await {
                    received.extend_from_slice(&buf[..n]);
                }
                received
            };
            let ran = tokio::time::timeout(Self::BUDGET, async { tokio::join!(write, read) });
            let (closed_by_server, received) = match ran.await {
                Ok((_writer, received)) => (true, received),
                Err(_) => (false, Vec::new()),
            };
            // Both halves of the client's pipe are gone now.
            let metrics = tokio::runtime::Handle::current().metrics();
            let until = tokio::time::Instant::now() + Self::WIND_DOWN;
            while metrics.num_alive_tasks() > self.baseline_tasks
                && tokio::time::Instant::now() < until
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let outcome = Outcome {
                closed_by_server,
                bytes_received: received.len(),
                tasks_left: metrics
                    .num_alive_tasks()
                    .saturating_sub(self.baseline_tasks),
            };
            (outcome, received)
        })
    }
}

/// A request head read by the server's `head::parse`. Input: a byte of flags (bit 0: gRPC-Web
/// on; bits 1-2: the method), then `name: value` lines (`\n`); a line that is not a header
/// is skipped. Whatever it answers is consistent with the head: a call only for a POST of a
/// gRPC (or, when on, gRPC-Web) content type whose path routes, with a timeout that is never
/// zero; statuses only of the codes the head can cause.
pub fn call_head(data: &[u8]) {
    use crate::server::head::{parse, Protocol, Rejection};
    use http::{Method, StatusCode};

    let Some((&flags, lines)) = data.split_first() else {
        return;
    };
    let web = flags & 1 == 1;
    let method = [Method::POST, Method::GET, Method::OPTIONS, Method::PUT]
        [usize::from(flags >> 1 & 3)]
    .clone();
    let mut builder = http::Request::builder()
        .method(method.clone())
        .uri("/pkg.Svc/Call");
    for line in lines.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        builder = builder.header(name, value);
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (head, ()) = request.into_parts();
    let routes = data.len() % 2 == 0;
    let route = |_: &str| {
        if routes {
            Ok(())
        } else {
            Err(Status::unimplemented("no such method"))
        }
    };
    match parse(&head, web, route) {
        Ok(call) => {
            assert_eq!(method, Method::POST);
            assert!(routes, "a call without a route");
            assert!(call.timeout.is_none_or(|t| !t.is_zero()), "a zero timeout");
            if let Protocol::Web(_) = call.protocol {
                assert!(web, "gRPC-Web while off");
            }
            if let Some(encoding) = call.encoding {
                assert!(
                    head.headers.contains_key("grpc-encoding"),
                    "{encoding:?} from nowhere"
                );
            }
        }
        Err(Rejection::Preflight) => assert!(web && method == Method::OPTIONS),
        Err(Rejection::Foreign(code)) => {
            assert!(
                code == StatusCode::METHOD_NOT_ALLOWED
                    || code == StatusCode::UNSUPPORTED_MEDIA_TYPE
            );
        }
        Err(Rejection::Http(code)) => {
            assert!(
                code == StatusCode::METHOD_NOT_ALLOWED
                    || code == StatusCode::UNSUPPORTED_MEDIA_TYPE
            );
        }
        Err(Rejection::Status(status, protocol)) => {
            assert_eq!(method, Method::POST);
            assert!(
                matches!(
                    status.code(),
                    Code::Unimplemented | Code::Internal | Code::DeadlineExceeded
                ),
                "{status:?}"
            );
            if let Protocol::Web(_) = protocol {
                assert!(web, "gRPC-Web while off");
            }
        }
    }
}

/// The gateway's protobuf-to-JSON conversion of one message type, both ways it has: the
/// direct writer and the dynamic message it falls back to.
#[derive(Debug)]
pub struct JsonTranscoder(prost_reflect::MessageDescriptor);

impl JsonTranscoder {
    /// The conversion of `message` (a full name) as `descriptor_set` describes it; `None`
    /// if it does not.
    pub fn new(descriptor_set: &[u8], message: &str) -> Option<JsonTranscoder> {
        let pool = prost_reflect::DescriptorPool::decode(descriptor_set).ok()?;
        pool.get_message_by_name(message).map(JsonTranscoder)
    }

    /// Converts `proto` both ways: when the direct writer answers, its JSON is exactly the
    /// dynamic message's, and the dynamic message decodes. That JSON, and `proto` taken as
    /// JSON, are then read back both ways ([`JsonTranscoder::check_json`]). Returns whether
    /// the direct writer answered.
    pub fn check(&self, proto: &[u8]) -> bool {
        self.check_json(proto);
        let Some(direct) = crate::gateway::to_json::write(&self.0, proto) else {
            return false;
        };
        let direct = String::from_utf8(direct).expect("JSON is UTF-8");
        match prost_reflect::DynamicMessage::decode(self.0.clone(), proto) {
            Ok(message) => {
                let dynamic = crate::gateway::message_to_json(&message);
                assert_eq!(
                    direct.as_bytes(),
                    &dynamic[..],
                    "direct {direct} for {proto:?}"
                );
            }
            Err(err) => {
                panic!("direct JSON {direct} for bytes that do not decode ({err}): {proto:?}")
            }
        }
        self.check_json(direct.as_bytes());
        true
    }

    /// Reads `json` both ways: when the direct reader answers, the dynamic message reads
    /// the JSON too, and the direct reader's protobuf decodes to an equal message. Returns
    /// whether the direct reader answered.
    pub fn check_json(&self, json: &[u8]) -> bool {
        let Some(direct) = crate::gateway::from_json::read(&self.0, json) else {
            return false;
        };
        let text = String::from_utf8_lossy(json);
        let dynamic = crate::gateway::json_to_message(&self.0, json)
            .unwrap_or_else(|err| panic!("read {text} that the dynamic message refuses: {err:?}"));
        let decoded = prost_reflect::DynamicMessage::decode(self.0.clone(), direct.as_slice())
            .unwrap_or_else(|err| panic!("wrote bytes that do not decode for {text}: {err}"));
        // Compared by their JSON: NaN is not equal to itself, and the Debug form of a
        // recursive message type never ends.
        let json_of = |m: &prost_reflect::DynamicMessage| crate::gateway::message_to_json(m);
        assert_eq!(json_of(&decoded), json_of(&dynamic), "{text}");
        true
    }
}

/// HPACK: `data` as header blocks (split at every `0xff 0x00` pair, so that one input is a
/// connection's worth of blocks against one decoder). Whatever decodes is encoded again by
/// an encoder and decoded by a second decoder, and must come back the same, field for
/// field.
pub fn hpack(data: &[u8]) {
    use crate::http2::hpack::{Decoder, Encoder};
    let mut decoder = Decoder::new(4096, 64 << 10);
    let mut encoder = Encoder::new();
    let mut again = Decoder::new(4096, 64 << 10);
    for (round, block) in data.split(|&b| b == 0xff).enumerate() {
        if round % 3 == 2 {
            // Now and then the peer resizes our encoder's table (within what it allows).
            encoder.set_max_table_size((block.len() * 16).min(4096));
        }
        let Ok(decoded) = decoder.decode(block) else {
            return; // a compression error ends the connection
        };
        assert!(
            decoder.table_size() <= 4096,
            "the table outgrew what we allowed"
        );
        if decoded.too_large {
            continue;
        }
        let mut encoded = Vec::new();
        let fields = decoded.fields.iter().map(|(n, v)| (n.as_ref(), v.as_ref()));
        encoder.encode(fields, &mut encoded);
        let back = again.decode(&encoded).expect("our own block decodes");
        assert_eq!(back.fields, decoded.fields);
    }
}

/// HTTP/2 frames: `data` as a connection's incoming bytes, split into frames and each read
/// by its type's rules, until the first error. A frame that reads must read the same after
/// it is written again (for the types we write).
pub fn http2_frames(data: &[u8]) {
    use crate::http2::frame::{self, write, Frame};
    let mut rest = data;
    while let Ok(Some((head, payload, used))) = frame::split(rest, frame::DEFAULT_MAX_FRAME_SIZE) {
        rest = &rest[used..];
        let Ok(parsed) = frame::parse(head, payload) else {
            return;
        };
        let mut out = Vec::new();
        match &parsed {
            Frame::Settings {
                ack: false,
                settings,
            } => write::settings(settings, &mut out),
            Frame::Settings { ack: true, .. } => write::settings_ack(&mut out),
            Frame::Ping { ack, payload } => write::ping(*ack, *payload, &mut out),
            Frame::GoAway {
                last_stream,
                reason,
                debug,
            } => write::goaway(*last_stream, *reason, debug, &mut out),
            Frame::WindowUpdate { stream, increment } => {
                write::window_update(*stream, *increment, &mut out)
            }
            Frame::Reset { stream, reason } => write::reset(*stream, *reason, &mut out),
            Frame::Data {
                stream,
                data,
                end_stream,
                ..
            } => {
                write::data_head(*stream, data.len() as u32, *end_stream, &mut out);
                out.extend_from_slice(data);
            }
            Frame::Headers {
                stream,
                block,
                end_stream,
                end_headers: true,
                priority: None,
            } => write::headers(
                *stream,
                block,
                *end_stream,
                frame::DEFAULT_MAX_FRAME_SIZE,
                &mut out,
            ),
            _ => continue,
        }
        let (head, payload, used) = frame::split(&out, frame::DEFAULT_MAX_FRAME_SIZE)
            .expect("a frame we wrote is not too large")
            .expect("a frame we wrote is whole");
        assert_eq!(used, out.len());
        let again = frame::parse(head, payload).expect("a frame we wrote reads");
        match (&parsed, &again) {
            // Written again without padding: only the flow-control length differs.
            (Frame::Data { data: a, .. }, Frame::Data { data: b, .. }) => assert_eq!(a, b),
            _ => assert_eq!(parsed, again),
        }
    }
}

/// Our own HTTP/2 server connection (receiving half) fed `data` as a client's bytes, in
/// pieces of the sizes the first byte picks: it never panics, hands up only events of
/// streams the client opened, and once it fails it stays failed with GOAWAY written.
pub fn http2_connection(data: &[u8]) {
    use crate::http2::connection::{Connection, Event, Limits, PREFACE};
    let Some((&piece, data)) = data.split_first() else {
        return;
    };
    // The top two bits: after which piece (if any) the server starts draining.
    let drain_after = usize::from(piece >> 6);
    let piece = usize::from(piece % 64) + 1;
    let mut connection = Connection::new(Limits {
        max_concurrent_streams: 4,
        initial_window: 1024,
        ..Limits::default()
    });
    // Most inputs start right: the preface is given, so the fuzzer explores the frames.
    let mut input = PREFACE.to_vec();
    input.extend_from_slice(data);
    let mut opened = std::collections::HashSet::new();
    // Each request is answered as an echo server would: a head, its data back, trailers.
    let head: [(&[u8], &[u8]); 2] = [(b":status", b"200"), (b"content-type", b"application/grpc")];
    let trailers: [(&[u8], &[u8]); 1] = [(b"grpc-status", b"0")];
    let mut drained_at: Option<u32> = None;
    for (index, chunk) in input.chunks(piece).enumerate() {
        if index == drain_after && drain_after > 0 {
            drained_at = Some(opened.iter().copied().max().unwrap_or(0));
            connection.go_away(crate::http2::frame::Reason::NO_ERROR, b"");
        }
        let result = connection.receive(chunk);
        while let Some(event) = connection.next_event() {
            match event {
                Event::Request {
                    stream, end_stream, ..
                } => {
                    assert!(opened.insert(stream), "{stream} twice");
                    if let Some(last) = drained_at {
                        assert!(
                            stream <= last,
                            "stream {stream} served after GOAWAY({last})"
                        );
                    }
                    connection.send_headers(stream, head, false);
                    if end_stream {
                        connection.send_headers(stream, trailers, true);
                    }
                }
                Event::Data {
                    stream,
                    data,
                    end_stream,
                } => {
                    assert!(
                        opened.contains(&stream),
                        "data of stream {stream} never opened"
                    );
                    connection.release(stream, data.len() as u32);
                    let sendable = connection.sendable(stream) as usize;
                    let sent = connection.send_data(stream, &data, false);
                    assert_eq!(
                        sent,
                        data.len().min(sendable),
                        "sent what the windows allow"
                    );
                    if end_stream {
                        connection.send_headers(stream, trailers, true);
                    }
                }
                Event::Trailers { stream, .. } => {
                    assert!(opened.contains(&stream), "stream {stream} never opened");
                    connection.send_headers(stream, trailers, true);
                }
                Event::Reset { stream, .. } => {
                    assert!(opened.contains(&stream), "stream {stream} never opened");
                    connection.cancel(stream, crate::http2::frame::Reason::PROTOCOL_ERROR);
                }
                Event::Ping { .. } | Event::PingAck { .. } | Event::GoAway { .. } => {}
            }
        }
        let output = connection.take_output();
        if let Err(reason) = result {
            assert!(connection.is_finished(), "a failed connection is finished");
            assert_eq!(
                connection.receive(b"more"),
                Err(reason),
                "a failed connection stays failed"
            );
            assert_ends_with_goaway(&output);
            return;
        }
    }
}

/// Our own HTTP/2 client connection fed `data` as a server's bytes, in pieces of the sizes
/// the first byte picks, opening a stream before each piece while the server's
/// SETTINGS_MAX_CONCURRENT_STREAMS allow: it never panics; it hands up only events of
/// streams it opened, a response head at most once per stream and data or trailers only
/// after it; after a GOAWAY it opens nothing more; and once it fails it stays failed with
/// GOAWAY written.
pub fn http2_client(data: &[u8]) {
    use crate::http2::client::{ClientConnection, ClientEvent};
    use crate::http2::endpoint::Limits;
    use crate::http2::frame;
    let Some((&piece, data)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece % 64) + 1;
    let mut client = ClientConnection::new(Limits {
        initial_window: 1024,
        ..Limits::default()
    });
    // The preface, not a frame, goes first; what follows must be whole frames.
    assert!(client
        .take_output()
        .starts_with(crate::http2::endpoint::PREFACE));
    // Most inputs start right: the server's SETTINGS are given, so the fuzzer explores
    // what follows.
    let mut input = vec![0, 0, 0, frame::kind::SETTINGS, 0, 0, 0, 0, 0];
    input.extend_from_slice(data);
    let head: [(&[u8], &[u8]); 5] = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":authority", b"fuzz"),
        (b":path", b"/fuzz.Fuzz/Call"),
        (b"te", b"trailers"),
    ];
    // Each stream's response: whether its head came.
    let mut opened = std::collections::HashMap::<u32, bool>::new();
    for chunk in input.chunks(piece) {
        if client.room().is_ok_and(|room| room > 0) {
            let stream = client.open(head, false).expect("room to open");
            assert!(opened.insert(stream, false).is_none(), "{stream} twice");
            let sent = client.send_data(stream, b"\0\0\0\0\x02hi", true);
            assert!(sent <= 7);
        }
        let result = client.receive(chunk);
        while let Some(event) = client.next_event() {
            match event {
                ClientEvent::Response { stream, .. } => {
                    let came = opened.get_mut(&stream).expect("a stream we opened");
                    assert!(!*came, "a second response head on {stream}");
                    *came = true;
                }
                ClientEvent::Data { stream, data, .. } => {
                    assert_eq!(opened.get(&stream), Some(&true), "data before the head");
                    client.release(stream, data.len() as u32);
                }
                ClientEvent::Trailers { stream, .. } => {
                    assert_eq!(opened.get(&stream), Some(&true), "trailers before the head");
                }
                ClientEvent::Reset { stream, .. } => {
                    assert!(
                        opened.contains_key(&stream),
                        "reset of {stream}, never opened"
                    );
                }
                ClientEvent::GoAway { .. } => {
                    assert!(client.room().is_err(), "nothing opens after GOAWAY");
                }
                ClientEvent::Ping { .. }
                | ClientEvent::PingAck { .. }
                | ClientEvent::Settings { .. } => {}
            }
        }
        let output = client.take_output();
        if let Err(reason) = result {
            assert!(client.is_finished(), "a failed connection is finished");
            assert_eq!(client.receive(b"more"), Err(reason), "it stays failed");
            assert_ends_with_goaway(&output);
            return;
        }
    }
}

/// `output` (what a connection wrote after a connection error) is whole frames, the last
/// of them GOAWAY.
fn assert_ends_with_goaway(output: &[u8]) {
    use crate::http2::frame;
    let mut rest = output;
    let mut last = None;
    while let Ok(Some((head, _, used))) = frame::split(rest, frame::MAX_MAX_FRAME_SIZE) {
        last = Some(head.kind);
        rest = &rest[used..];
    }
    assert!(rest.is_empty(), "the output is whole frames");
    assert_eq!(
        last,
        Some(frame::kind::GOAWAY),
        "a connection error ends with GOAWAY"
    );
}

/// What a server answered one stream, read from its bytes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Answer {
    status: Option<bytes::Bytes>,
    grpc_status: Option<bytes::Bytes>,
    body: Vec<u8>,
    /// END_STREAM came (on HEADERS or DATA).
    ended: bool,
    /// The RST_STREAM code, if it was reset.
    reset: Option<u32>,
}

/// Each stream's answer in `bytes` (what a server wrote to one connection), read with our
/// own frame reader and HPACK decoder; `None` if the bytes are not whole HTTP/2 frames
/// with header blocks that decode.
fn answers(bytes: &[u8]) -> Option<std::collections::BTreeMap<u32, Answer>> {
    use crate::http2::{frame, hpack};
    let mut decoder = hpack::Decoder::new(4096, 1 << 20);
    let mut out: std::collections::BTreeMap<u32, Answer> = Default::default();
    let mut rest = bytes;
    let mut block: Option<(u32, bool, Vec<u8>)> = None;
    while !rest.is_empty() {
        let (head, payload, used) = frame::split(rest, frame::MAX_MAX_FRAME_SIZE).ok()??;
        rest = &rest[used..];
        let end = head.flags & frame::flag::END_STREAM != 0;
        let end_headers = head.flags & frame::flag::END_HEADERS != 0;
        match head.kind {
            frame::kind::DATA => {
                let answer = out.entry(head.stream).or_default();
                answer.body.extend_from_slice(payload);
                answer.ended |= end;
            }
            frame::kind::HEADERS | frame::kind::CONTINUATION => {
                let (stream, ends, mut fragments) = match (head.kind, block.take()) {
                    (frame::kind::HEADERS, _) => (head.stream, end, Vec::new()),
                    (_, Some(pending)) => pending,
                    _ => return None,
                };
                fragments.extend_from_slice(payload);
                if !end_headers {
                    block = Some((stream, ends, fragments));
                    continue;
                }
                let fields = decoder.decode(&fragments).ok()?.fields;
                let answer = out.entry(stream).or_default();
                for (name, value) in fields {
                    match &name[..] {
                        b":status" => answer.status = Some(value),
                        b"grpc-status" => answer.grpc_status = Some(value),
                        _ => {}
                    }
                }
                answer.ended |= ends;
            }
            frame::kind::RST_STREAM => {
                let code = u32::from_be_bytes(payload.try_into().ok()?);
                out.entry(head.stream).or_default().reset = Some(code);
            }
            _ => {}
        }
    }
    Some(out)
}

/// The answers of the two engines to the same client bytes (`h2` and `own`: what each
/// wrote to its connection) agree: every stream that both answered whole (ended, not
/// reset) has the same `:status`, `grpc-status` and body. Where only one answered (the
/// other refused the stream or the connection: h2 answers some malformed requests with a
/// connection error where RFC 9113 asks for a stream error), there is nothing to compare.
pub fn engines_agree(h2: &[u8], own: &[u8]) {
    if own.starts_with(b"HTTP/") {
        return; // answered by HTTP/1.1, not by an HTTP/2 engine
    }
    let ours = answers(own).unwrap_or_else(|| panic!("our engine wrote bad frames: {own:x?}"));
    let Some(theirs) = answers(h2) else {
        return; // not ours to judge
    };
    for (stream, a) in &ours {
        let Some(b) = theirs.get(stream) else {
            continue;
        };
        let whole = |x: &Answer| x.ended && x.reset.is_none_or(|c| c == 0) && x.status.is_some();
        if !(whole(a) && whole(b)) {
            continue;
        }
        assert_eq!(
            (&a.status, &a.grpc_status, &a.body),
            (&b.status, &b.grpc_status, &b.body),
            "stream {stream}: our engine answered differently from h2"
        );
    }
}
