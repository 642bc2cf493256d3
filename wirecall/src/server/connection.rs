//! What a connection of any kind shares: its [`Peer`] state, the server's [`Serving`]
//! settings, and [`dispatch`], which reads each request's head and routes it to a call (or
//! answers it: an HTTP error, a trailers-only status, a preflight, the gateway). HTTP/2
//! connections are served by `http2`, HTTP/1.1 ones by `http1`; [`Core`] takes requests that
//! come without a connection (the gateway's, the direct channel's).

use std::net::SocketAddr;
use std::sync::Arc;

use http::header::{CONNECTION, CONTENT_TYPE, HOST, ORIGIN, TE, TRANSFER_ENCODING, UPGRADE};
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use super::activity::Activity;
use super::head::{self, CallHead, Codec, Protocol, Rejection};
use super::resets::Resets;
use super::router::{Route, Router};
use super::send::{Reply, WebCall};
use super::{ServerCall, ServerConfig};
use crate::metadata::MetadataMap;
use crate::web::Cors;
#[cfg(feature = "web")]
use crate::wire::Call;
use crate::wire::{self, Inline, RecvBody, Respond};

/// What every call of one connection shares.
pub(crate) struct Peer {
    remote_addr: Option<SocketAddr>,
    /// Its client-cancelled calls (rapid-reset protection).
    pub(crate) resets: Arc<Resets>,
    /// Put in every call's request extensions (the TLS client's certificates).
    extensions: http::Extensions,
    /// Its calls in flight.
    pub(crate) activity: Arc<Activity>,
    /// Its way into the core for the gateway's calls, when the gateway is on.
    #[cfg(feature = "web")]
    link: Option<Arc<crate::gateway::Link>>,
}

impl Peer {
    /// The shared state of a new connection served with `serving`.
    pub(crate) fn new(serving: &Serving) -> Peer {
        Peer::of(
            serving.remote_addr,
            serving.extensions.clone(),
            &serving.router,
            &serving.config,
        )
    }

    /// The shared state of a new connection from `remote_addr` to `router`.
    pub(crate) fn of(
        remote_addr: Option<SocketAddr>,
        extensions: http::Extensions,
        router: &Arc<Router>,
        config: &Arc<ServerConfig>,
    ) -> Peer {
        #[allow(unused_mut)] // Without `web`, there is no gateway to link.
        let mut peer = Peer {
            remote_addr,
            resets: Arc::new(Resets::new(config.max_resets)),
            extensions,
            activity: Activity::new(),
            #[cfg(feature = "web")]
            link: None,
        };
        #[cfg(feature = "web")]
        if config.gateway.is_some() {
            peer.link = Some(Arc::new(peer.gateway_link(router, config)));
        }
        #[cfg(not(feature = "web"))]
        let _ = router;
        peer
    }

    /// The gateway's way into the core for this connection: its calls are dispatched like
    /// this connection's streams, and counted with them.
    #[cfg(feature = "web")]
    fn gateway_link(
        &self,
        router: &Arc<Router>,
        config: &Arc<ServerConfig>,
    ) -> crate::gateway::Link {
        let core = Core {
            peer: Peer {
                remote_addr: self.remote_addr,
                resets: self.resets.clone(),
                extensions: self.extensions.clone(),
                activity: self.activity.clone(),
                link: None,
            },
            router: router.clone(),
            config: config.clone(),
        };
        let limits = &config.limits;
        crate::gateway::Link::new(
            core.direct(),
            limits.max_decoding_message_size,
            limits.max_encoding_message_size,
        )
    }
}

/// A server's call core for requests that no HTTP/2 connection carries (HTTP/1.1's, the
/// gateway's): each is dispatched like a stream of one.
pub(crate) struct Core {
    pub(crate) peer: Peer,
    pub(crate) router: Arc<Router>,
    pub(crate) config: Arc<ServerConfig>,
}

impl wire::Core for Core {
    /// Dispatches one request; its call, if it is one, runs as a task of its own, or, given
    /// the caller's context `inline`, takes its first step on the caller's task.
    fn serve(&self, request: http::Request<RecvBody>, respond: Respond, inline: Inline<'_, '_>) {
        let (parts, body) = request.into_parts();
        if let Some(work) = dispatch(parts, body, respond, &self.router, &self.config, &self.peer) {
            work.start(inline);
        }
    }

    /// Starts a native gRPC call (protobuf, uncompressed) whose head the caller read.
    #[cfg(feature = "web")]
    fn call(&self, call: Call<'_>, body: RecvBody, respond: Respond, inline: Inline<'_, '_>) {
        let mut reply = Reply::new(respond, None);
        if let Some(name) = MetadataMap::malformed_bin(call.metadata.as_headers()) {
            tracing::debug!(%name, "malformed binary metadata");
            let status = format!("malformed binary metadata in header {name:?}");
            return reply.trailers_only(crate::Status::internal(status));
        }
        let route = match self.router.route(call.path) {
            Ok(route) => route,
            Err(status) => {
                tracing::debug!(path = call.path, "no such method");
                return reply.trailers_only(status);
            }
        };
        let head = CallHead {
            route,
            protocol: Protocol::Grpc,
            codec: Codec::Proto,
            encoding: None,
            accept_encoding: None,
            timeout: call.timeout,
        };
        let (config, peer) = (&self.config, &self.peer);
        if let Some(work) = routed(head, call.path, call.metadata, body, reply, config, peer) {
            work.start(inline);
        }
    }
}

impl Core {
    /// A client's way into this core: each stream opened is a request served here.
    pub(crate) fn direct(self) -> wire::Direct {
        let window = self.config.limits.initial_stream_window_size as usize;
        wire::Direct::new(window, Arc::new(self))
    }
}

/// The server's two shutdown signals, as a connection sees them.
pub(crate) struct Shutdown {
    /// GOAWAY, refuse new calls, let in-flight ones finish.
    pub(crate) graceful: watch::Receiver<bool>,
    /// The grace period is over: close now, whatever is in flight.
    pub(crate) abort: watch::Receiver<bool>,
}

/// What a connection is served with, besides its socket.
pub(crate) struct Serving {
    pub(crate) remote_addr: Option<SocketAddr>,
    /// Given to every call's request (e.g. the TLS peer's certificates).
    pub(crate) extensions: http::Extensions,
    pub(crate) router: Arc<Router>,
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) shutdown: Shutdown,
}

/// Serves a plaintext connection: HTTP/2, or, when gRPC-Web is on (and the feature `web`
/// with it), HTTP/1.1 if its first bytes are not the HTTP/2 preface.
pub(crate) async fn serve_any<IO>(io: IO, serving: Serving)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    #[cfg(feature = "web")]
    if serving.config.speaks_http1() {
        let limit = serving.config.handshake_timeout;
        let (http2, io) = match tokio::time::timeout(limit, crate::transport::is_http2(io)).await {
            Ok(Ok(sniffed)) => sniffed,
            Ok(Err(err)) => {
                tracing::debug!(remote_addr = ?serving.remote_addr, %err, "connection failed before its first bytes");
                return;
            }
            Err(_) => {
                tracing::debug!(remote_addr = ?serving.remote_addr, ?limit, "no first bytes within the handshake timeout: closed");
                return;
            }
        };
        if http2 {
            return serve_http2(io, serving).await;
        }
        return Box::pin(super::http1::serve(io, serving)).await;
    }
    serve_http2(io, serving).await
}

/// Serves an HTTP/2 connection on the engine the server was built with.
pub(crate) async fn serve_http2<IO>(io: IO, serving: Serving)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    // Boxed: a connection's task then holds the state of the engine it runs, not room
    // for the larger of the two.
    match serving.config.http2_engine {
        super::Http2Engine::H2 => Box::pin(super::http2::serve(io, serving)).await,
        super::Http2Engine::Wirecall => Box::pin(super::own_http2::serve(io, serving)).await,
    }
}

/// Reads the request head ([`head::parse`]): the call and its route, or `None` when it was
/// answered already (an HTTP error, a trailers-only status, a preflight, or the gateway's).
pub(crate) fn dispatch<'r>(
    mut parts: http::request::Parts,
    body: RecvBody,
    mut respond: Respond,
    router: &'r Router,
    config: &Arc<ServerConfig>,
    peer: &Peer,
) -> Option<Work<'r>> {
    let web_call = |protocol: Protocol| match protocol {
        Protocol::Grpc => None,
        Protocol::Web(mode) => config.web.as_ref().map(|cors| WebCall {
            mode,
            cors: cors
                .allow(parts.headers.get(ORIGIN))
                .map(|origin| (cors.clone(), origin)),
        }),
    };
    let head = match head::parse(&parts, config.web.is_some(), |path| router.route(path)) {
        Ok(head) => head,
        Err(Rejection::Preflight) => {
            if let Some(cors) = &config.web {
                preflight(&mut respond, cors, &parts.headers);
            }
            return None;
        }
        Err(Rejection::Foreign(fallback)) => {
            #[cfg(feature = "web")]
            if let (Some(gateway), Some(link)) = (&config.gateway, &peer.link) {
                if let Some(claim) = gateway.claim(&parts) {
                    let link = link.clone();
                    let serving = gateway.clone().serve(claim, parts, body, respond, link);
                    return Some(Work::Gateway(Box::pin(serving)));
                }
            }
            #[cfg(all(feature = "tower", feature = "web"))]
            if let Some(service) = &config.fallback {
                service.serve(http::Request::from_parts(parts, body), respond);
                return None;
            }
            tracing::debug!(content_type = ?parts.headers.get(CONTENT_TYPE), "not a gRPC request");
            send_http_error(&mut respond, fallback);
            return None;
        }
        Err(Rejection::Http(code)) => {
            send_http_error(&mut respond, code);
            return None;
        }
        Err(Rejection::Status(status, protocol)) => {
            Reply::new(respond, web_call(protocol)).trailers_only(status);
            return None;
        }
    };
    let reply = Reply::new(respond, web_call(head.protocol));
    let uri = std::mem::take(&mut parts.uri);
    let metadata = MetadataMap::from_headers(without_connection_headers(parts));
    routed(head, uri.path(), metadata, body, reply, config, peer)
}

/// The call a read head asks for, to the route it names, with the request's `metadata`.
#[inline]
fn routed<'r>(
    head: CallHead<&'r Route>,
    path: &str,
    metadata: MetadataMap,
    body: RecvBody,
    reply: Reply,
    config: &Arc<ServerConfig>,
    peer: &Peer,
) -> Option<Work<'r>> {
    let (body, reply) = with_codec(head.codec, path, body, reply, head.encoding, config)?;
    let deadline = head.timeout.map(|timeout| crate::clock::now() + timeout);
    let call = ServerCall::new(
        metadata,
        body,
        reply,
        config.clone(),
        deadline,
        peer.remote_addr,
    )
    .with_encodings(head.encoding, head.accept_encoding)
    .with_resets(peer.resets.clone())
    .with_extensions(&peer.extensions)
    .with_in_flight(peer.activity.start());
    let route = head.route;
    let (service, method) = route.service.names(route.method);
    Some(Work::Call(route, call.routed(service, method)))
}

/// What a dispatched request needs done, besides what `dispatch` answered itself.
// Not boxed: a call is moved once, from `dispatch` into its own (boxed) future, and a box
// here would be one more allocation on every native call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Work<'r> {
    /// A gRPC call of a route.
    Call(&'r Route, ServerCall),
    /// A request the gateway translates.
    #[cfg(feature = "web")]
    Gateway(super::service::Serving),
}

impl Work<'_> {
    /// Starts the work: its first poll here, on the caller's task, with the caller's context
    /// `inline`, else as a task of its own.
    pub(crate) fn start(self, inline: Option<&mut std::task::Context<'_>>) {
        match self {
            Work::Call(route, call) => route.service.start(route.method, call, inline),
            #[cfg(feature = "web")]
            Work::Gateway(serving) => super::service::run(serving, inline, "gateway"),
        }
    }
}

/// The request body and the reply of a call whose messages are `codec` on the wire: as they
/// are for protobuf, converted for JSON; `None` when the call was answered (no descriptors
/// for a JSON call, or no JSON in this build).
fn with_codec(
    codec: Codec,
    path: &str,
    body: RecvBody,
    mut reply: Reply,
    encoding: Option<crate::compression::Encoding>,
    config: &ServerConfig,
) -> Option<(RecvBody, Reply)> {
    if codec == Codec::Proto {
        return Some((body, reply));
    }
    #[cfg(feature = "web")]
    {
        let max = config.limits.max_decoding_message_size;
        let prepared = match &config.descriptors {
            Some(descriptors) => super::json::prepare(descriptors, path, body, encoding, max),
            None => Err(crate::Status::unimplemented(
                "no descriptors to read JSON messages with",
            )),
        };
        match prepared {
            Ok((body, json)) => return Some((body, reply.with_json(Some(json)))),
            Err(status) => reply.trailers_only(status),
        }
    }
    #[cfg(not(feature = "web"))]
    {
        let _ = (path, body, encoding, config);
        tracing::debug!("a JSON call to a server built without the `web` feature");
        reply.trailers_only(crate::Status::unimplemented(
            "JSON messages need wirecall's `web` feature",
        ));
    }
    None
}

/// Starts dispatched work: its first poll here, on this connection's task, when `inline`
/// (see `ServerBuilder::inline_first_poll`), else as a task of its own.
pub(crate) async fn start(work: Work<'_>, inline: bool) {
    if !inline {
        return work.start(None);
    }
    crate::task::with_context(|cx| work.start(Some(cx))).await
}

/// The request's headers less HTTP/1.1's connection headers, which are no call's metadata
/// (an HTTP/2 request has none of them).
fn without_connection_headers(parts: http::request::Parts) -> http::HeaderMap {
    let mut headers = parts.headers;
    if parts.version != http::Version::HTTP_2 {
        for name in [CONNECTION, TRANSFER_ENCODING, UPGRADE, HOST, TE] {
            headers.remove(name);
        }
        headers.remove("keep-alive");
        headers.remove("proxy-connection");
    }
    headers
}

/// Answers a CORS preflight: 204 with the CORS headers, or 403 for an origin not allowed.
fn preflight(respond: &mut Respond, cors: &Cors, request: &http::HeaderMap) {
    let mut response = http::Response::new(());
    match cors.preflight(request) {
        Some(headers) => {
            *response.status_mut() = StatusCode::NO_CONTENT;
            *response.headers_mut() = headers;
        }
        None => {
            tracing::debug!(origin = ?request.get(ORIGIN), "CORS preflight from an origin not allowed");
            *response.status_mut() = StatusCode::FORBIDDEN;
        }
    }
    if let Err(err) = respond.send_headers(response, true) {
        tracing::debug!(%err, "could not answer a CORS preflight");
    }
}

fn send_http_error(respond: &mut Respond, status: StatusCode) {
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    if let Err(err) = respond.send_headers(response, true) {
        tracing::debug!(%err, "could not send HTTP error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::Encoding;
    use crate::headers::{GRPC_ACCEPT_ENCODING, GRPC_ENCODING};
    use crate::wire::Core as _;
    use crate::Status;
    use bytes::Bytes;
    use http::Method;
    use std::future::poll_fn;
    use std::time::Duration;

    /// A service whose method is never reached: the requests here are refused first.
    struct Unreached;

    impl super::super::Service for Unreached {
        const NAME: &'static str = "t.T";
        const METHODS: &'static [&'static str] = &["M"];

        async fn call(self: Arc<Self>, _: usize, _: ServerCall) {
            unreachable!("a refused request reached its handler");
        }
    }

    /// The response headers to a call of `Unreached` compressed with `encoding`.
    async fn answer_to_encoding(encoding: &'static str) -> http::HeaderMap {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut router = Router::default();
        router.add(Unreached);
        let (_graceful, graceful) = watch::channel(false);
        let (_abort, abort) = watch::channel(false);
        let serving = Serving {
            remote_addr: None,
            extensions: http::Extensions::new(),
            router: Arc::new(router),
            config: Arc::new(ServerConfig::default()),
            shutdown: Shutdown { graceful, abort },
        };
        let call = async {
            let (sender, connection) = h2::client::handshake(client).await.unwrap();
            tokio::spawn(connection);
            let mut sender = sender.ready().await.unwrap();
            let request = http::Request::builder()
                .method(Method::POST)
                .uri("http://in-process/t.T/M")
                .header(CONTENT_TYPE, "application/grpc")
                .header("te", "trailers")
                .header(GRPC_ENCODING, encoding)
                .body(())
                .unwrap();
            let (response, _body) = sender.send_request(request, false).unwrap();
            response.await.unwrap().into_parts().0.headers
        };
        tokio::select! {
            () = crate::server::http2::serve(server, serving) => panic!("the connection ended before the answer"),
            headers = call => headers,
        }
    }

    #[tokio::test]
    async fn an_encoding_this_build_lacks_is_unimplemented_and_not_offered() {
        for name in ["snappy", "gzip", "deflate", "zstd"] {
            if Encoding::from_name(name.as_bytes()).is_some() {
                continue;
            }
            let headers = answer_to_encoding(name).await;
            let status = Status::from_header_map(&headers).expect("a trailers-only answer");
            assert_eq!(status.code(), crate::Code::Unimplemented, "{name}");
            let message = status.message();
            assert!(message.starts_with("message encoding"), "{message}");
            assert!(message.contains(name), "{message}");
            let accepted = headers[&GRPC_ACCEPT_ENCODING].to_str().unwrap();
            assert_eq!(accepted, crate::compression::ACCEPT_ENCODING);
            assert!(!accepted.split(',').any(|n| n == name), "{accepted}");
            if name != "snappy" {
                let feature = if name == "zstd" { "zstd" } else { "gzip" };
                let hint = format!("`{feature}` feature");
                assert!(message.contains(&hint), "{message}");
            }
        }
    }

    /// Echoes its one request message (bytes) back.
    struct Echo;

    impl super::super::Service for Echo {
        const NAME: &'static str = "t.Echo";
        const METHODS: &'static [&'static str] = &["Call"];

        async fn call(self: Arc<Self>, _: usize, call: ServerCall) {
            let codec = || crate::codec::BytesCodec;
            call.unary_with(
                codec(),
                codec(),
                |request: crate::Request<Bytes>| async move {
                    Ok(crate::Response::new(request.into_inner()))
                },
            )
            .await;
        }
    }

    /// A core serving `Echo`, whose requests a test scripts on in-memory streams.
    fn core() -> Core {
        let mut router = Router::default();
        router.add(Echo);
        let router = Arc::new(router);
        let config = Arc::new(ServerConfig::default());
        Core {
            peer: Peer::of(None, http::Extensions::new(), &router, &config),
            router,
            config,
        }
    }

    /// Sends `head` with `body` (framed messages, then the end) through `core`; the answer's
    /// head, its body and its trailers.
    async fn scripted(
        core: &Core,
        head: http::request::Builder,
        body: &[u8],
    ) -> (http::response::Parts, Vec<u8>, Option<http::HeaderMap>) {
        use crate::wire::queue::{self, Frame};
        let (mut sender, receiver) = queue::channel(64 * 1024);
        sender
            .send(Frame::Data(Bytes::copy_from_slice(body)))
            .unwrap();
        sender.send(Frame::End).unwrap();
        let (responder, answer) = queue::respond(64 * 1024);
        let request = head.body(RecvBody::Queue(receiver)).unwrap();
        core.serve(request, Respond::Queue(responder), None);
        let (parts, mut body) = answer.await.expect("an answer").into_parts();
        let mut data = Vec::new();
        while let Some(chunk) = poll_fn(|cx| body.poll_data(cx)).await {
            data.extend_from_slice(&chunk.expect("data"));
        }
        let trailers = poll_fn(|cx| body.poll_trailers(cx))
            .await
            .expect("trailers");
        (parts, data, trailers)
    }

    fn grpc_head(path: &str) -> http::request::Builder {
        http::Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(CONTENT_TYPE, "application/grpc")
            .header("te", "trailers")
    }

    #[tokio::test]
    async fn a_request_scripted_in_memory_is_served_like_a_stream() {
        let core = core();
        let message = [0, 0, 0, 0, 3, b'a', b'b', b'c'];
        let (head, body, trailers) = scripted(&core, grpc_head("/t.Echo/Call"), &message).await;
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.headers[CONTENT_TYPE], "application/grpc");
        assert_eq!(body, message, "the message echoed, framed");
        assert_eq!(trailers.expect("trailers")["grpc-status"], "0");

        // Two messages where the method takes one: UNIMPLEMENTED, trailers-only.
        let twice = [message, message].concat();
        let (head, body, _) = scripted(&core, grpc_head("/t.Echo/Call"), &twice).await;
        assert!(body.is_empty());
        assert_eq!(head.headers["grpc-status"], "12");

        // An unknown method and a foreign content type, as over HTTP/2.
        let (head, _, _) = scripted(&core, grpc_head("/t.Echo/Nope"), &message).await;
        assert_eq!(head.headers["grpc-status"], "12");
        let foreign = http::Request::builder()
            .method(Method::POST)
            .uri("/t.Echo/Call")
            .header(CONTENT_TYPE, "text/plain");
        let (head, _, _) = scripted(&core, foreign, b"hello").await;
        assert_eq!(head.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn a_peer_that_leaves_a_scripted_call_cancels_it() {
        use crate::wire::queue;
        let core = core();
        // The request body never ends, and the peer drops the answer's receiving end.
        let (sender, receiver) = queue::channel(1024);
        let (responder, answer) = queue::respond(1024);
        let request = grpc_head("/t.Echo/Call")
            .body(RecvBody::Queue(receiver))
            .unwrap();
        core.serve(request, Respond::Queue(responder), None);
        drop(answer);
        drop(sender);
        // The call saw the reset: it counts as a client-cancelled call on the connection.
        let start = tokio::time::Instant::now();
        while core.peer.activity.has_calls() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the call never ended"
            );
            tokio::task::yield_now().await;
        }
    }
}
