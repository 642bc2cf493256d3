//! One HTTP/2 connection: accepts streams, checks that each is a gRPC request, routes it and
//! spawns its call. Runs until the peer closes or the server shuts down gracefully.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, ORIGIN};
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use super::activity::Activity;
use super::head::{self, Protocol, Rejection};
use super::ping_policy::PingWatch;
use super::resets::Resets;
use super::router::{Route, Router};
use super::send::{send_trailers_only, WebCall};
use super::{ServerCall, ServerConfig};
use crate::metadata::MetadataMap;
use crate::web::Cors;
use crate::wire::{RecvBody, Respond};

/// How long a closing connection keeps reading what its peer still sends (see
/// `Flusher::linger`).
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// What every call of one connection shares.
pub(crate) struct Peer {
    remote_addr: Option<SocketAddr>,
    /// Its client-cancelled calls (rapid-reset protection).
    resets: Arc<Resets>,
    /// Put in every call's request extensions (the TLS client's certificates).
    extensions: http::Extensions,
    /// Its calls in flight.
    activity: Arc<Activity>,
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

impl Core {
    /// Dispatches one request; its call, if it is one, runs as a task of its own.
    pub(crate) fn serve(&self, request: http::Request<RecvBody>, respond: Respond) {
        let (parts, body) = request.into_parts();
        if let Some((route, call)) =
            dispatch(parts, body, respond, &self.router, &self.config, &self.peer)
        {
            route.service.start(route.method, call, None);
        }
    }

    /// A client's way into this core: each stream opened is a request served here.
    pub(crate) fn direct(self) -> crate::wire::Direct {
        let window = self.config.limits.initial_stream_window_size as usize;
        crate::wire::Direct::new(window, move |request, respond| {
            self.serve(request, respond);
        })
    }
}

/// The ping policy's view of a connection's bytes.
struct PingObserver {
    watch: PingWatch,
    activity: Arc<Activity>,
    abuse: Arc<AtomicBool>,
}

impl crate::transport::Observe for PingObserver {
    fn read(&mut self, bytes: &[u8]) {
        if self
            .watch
            .read(bytes, Instant::now(), self.activity.has_calls())
        {
            self.abuse.store(true, Ordering::Release);
        }
    }

    fn wrote(&mut self, bytes: &[u8]) {
        self.watch.wrote(bytes);
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
    if serving.config.web.is_some() || serving.config.gateway.is_some() {
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
            return serve(io, serving).await;
        }
        return super::http1::serve(io, serving).await;
    }
    serve(io, serving).await
}

/// Serves one connection until it closes; on `shutdown` it sends GOAWAY and lets in-flight
/// calls finish, and closes at once when told to abort.
pub(crate) async fn serve<IO>(io: IO, serving: Serving)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let peer = Peer::new(&serving);
    let Serving {
        remote_addr,
        router,
        config,
        shutdown,
        ..
    } = serving;
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(config.limits.initial_stream_window_size)
        .initial_connection_window_size(config.limits.initial_connection_window_size)
        .max_concurrent_streams(config.max_concurrent_streams)
        .max_header_list_size(config.limits.max_header_list_size)
        .max_frame_size(config.max_frame_size)
        // As on the client: small DATA frames may wait unread up to the connection window
        // (h2's default follows the 64 KiB initial window).
        .data_frame_budget(config.limits.initial_connection_window_size as usize);
    // One socket write per turn of this task (see transport::coalesce): every poll of h2
    // below ends with the flusher.
    // The calls in flight (for the ping policy and max_connection_idle), and the ping
    // policy watching the connection's bytes.
    let activity = peer.activity.clone();
    let pinged_too_often = Arc::new(AtomicBool::new(false));
    let watch = PingObserver {
        watch: PingWatch::new(config.ping_policy),
        activity: activity.clone(),
        abuse: pinged_too_often.clone(),
    };
    let (io, flusher) = crate::transport::coalesce_observed(io, Some(Box::new(watch)));
    let mut handshake = pin!(builder.handshake::<_, Bytes>(io));
    let handshake = poll_fn(|cx| flusher.turn(cx, |cx| handshake.as_mut().poll(cx)));
    let mut conn = match tokio::time::timeout(config.handshake_timeout, handshake).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(err)) => {
            tracing::debug!(?remote_addr, %err, "HTTP/2 handshake failed");
            return;
        }
        Err(_) => {
            let limit = config.handshake_timeout;
            tracing::debug!(
                ?remote_addr,
                ?limit,
                "no HTTP/2 preface within the handshake timeout: closed"
            );
            return;
        }
    };
    let Shutdown {
        graceful: mut shutdown,
        mut abort,
    } = shutdown;
    let mut closing = *shutdown.borrow();
    if closing {
        conn.graceful_shutdown();
    }
    let mut aborting = false;
    let resets = peer.resets.clone();
    let mut calmed = false;
    let pings = config.keepalive.zip(conn.ping_pong());
    let mut watching = pings.is_some();
    let mut keepalive = pin!(async move {
        match pings {
            Some((keepalive, pings)) => crate::keepalive::watch(pings, keepalive, None).await,
            None => crate::keepalive::Ended::Closed,
        }
    });
    // max_connection_idle: a look every quarter of the limit at the connection's calls.
    let idle_limit = config
        .max_connection_idle
        .unwrap_or(Duration::from_secs(3600));
    let mut idle_check = tokio::time::interval(idle_limit / 4);
    // max_connection_age: GOAWAY at the age (±10%), closed after the grace.
    let far = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
    let (age_at, age_grace) = match config.max_connection_age {
        Some((age, grace)) => (Instant::now() + jittered(age), grace),
        None => (far, Duration::ZERO),
    };
    let mut age = pin!(tokio::time::sleep_until(age_at.into()));
    let mut aged = config.max_connection_age.is_none();
    let mut age_goaway_sent = false;
    loop {
        tokio::select! {
            next = poll_fn(|cx| flusher.turn(cx, |cx| {
                let next = conn.poll_accept(cx);
                if pinged_too_often.swap(false, Ordering::AcqRel) && !calmed {
                    calmed = true;
                    tracing::warn!(?remote_addr, policy = ?config.ping_policy, "too many pings: GOAWAY ENHANCE_YOUR_CALM");
                    conn.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                    // h2 sends it on its next poll.
                    cx.waker().wake_by_ref();
                }
                next
            })) => match next {
                Some(Ok((request, respond))) => {
                    if resets.exceeded(Instant::now()) {
                        if !calmed {
                            calmed = true;
                            tracing::warn!(?remote_addr, limit = ?config.max_resets, "too many cancelled calls (rapid reset?): GOAWAY ENHANCE_YOUR_CALM");
                            conn.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                        }
                        continue;
                    }
                    let (parts, body) = request.into_parts();
                    let (body, respond) = (RecvBody::H2(body), Respond::H2(respond));
                    if let Some((route, call)) = dispatch(parts, body, respond, &router, &config, &peer) {
                        start(route, call, config.inline_first_poll).await;
                    }
                }
                Some(Err(err)) => {
                    tracing::debug!(?remote_addr, %err, "connection error");
                    break;
                }
                None => break,
            },
            changed = shutdown.changed(), if !closing => {
                closing = true;
                if changed.is_ok() {
                    conn.graceful_shutdown();
                }
            }
            _ = idle_check.tick(), if config.max_connection_idle.is_some() && !closing => {
                let idle_since = activity.idle_since();
                if idle_since.is_some_and(|since| since.elapsed() >= idle_limit) {
                    tracing::debug!(?remote_addr, ?idle_limit, "idle connection: GOAWAY");
                    closing = true;
                    conn.graceful_shutdown();
                }
            }
            () = &mut age, if !aged => {
                if age_goaway_sent {
                    // The grace after the age is over.
                    aged = true;
                    conn.abrupt_shutdown(h2::Reason::NO_ERROR);
                } else {
                    tracing::debug!(?remote_addr, "connection at its maximum age: GOAWAY");
                    age_goaway_sent = true;
                    closing = true;
                    conn.graceful_shutdown();
                    age.as_mut().reset((Instant::now() + age_grace).into());
                }
            }
            ended = &mut keepalive, if watching => {
                watching = false;
                if ended == crate::keepalive::Ended::PeerSilent {
                    tracing::warn!(?remote_addr, "no keepalive pong: closing the connection");
                    break;
                }
            }
            changed = abort.changed(), if !aborting => {
                aborting = true;
                if changed.is_ok() {
                    // The last GOAWAY; streams still open fail, and their handlers are
                    // dropped as they see it.
                    conn.abrupt_shutdown(h2::Reason::NO_ERROR);
                }
            }
        }
    }
    drop(conn);
    flusher.linger(LINGER).await;
}

/// Reads the request head ([`head::parse`]): the call and its route, or `None` when it was
/// answered already (an HTTP error, a trailers-only status, a preflight, or the gateway's).
pub(crate) fn dispatch<'r>(
    parts: http::request::Parts,
    body: RecvBody,
    mut respond: Respond,
    router: &'r Router,
    config: &Arc<ServerConfig>,
    peer: &Peer,
) -> Option<(&'r Route, ServerCall)> {
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
                    let serving =
                        gateway
                            .clone()
                            .serve(claim, parts, body, respond, link.channel());
                    tokio::spawn(serving);
                    return None;
                }
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
            send_trailers_only(&mut respond, status, web_call(protocol).as_ref());
            return None;
        }
    };
    let web = web_call(head.protocol);
    let deadline = head.timeout.map(|timeout| Instant::now() + timeout);
    let metadata = MetadataMap::from_headers(parts.headers);
    let call = ServerCall::new(
        metadata,
        body,
        respond,
        config.clone(),
        deadline,
        peer.remote_addr,
    )
    .with_encodings(head.encoding, head.accept_encoding)
    .with_resets(peer.resets.clone())
    .with_extensions(&peer.extensions)
    .with_in_flight(peer.activity.start())
    .with_web(web);
    let route = head.route;
    let (service, method) = route.service.names(route.method);
    Some((route, call.routed(service, method)))
}

/// `age`, 10% more or less at random.
fn jittered(age: Duration) -> Duration {
    let unit = 2.0 * crate::random::random_unit() - 1.0; // -1.0..1.0
    age.mul_f64(1.0 + 0.1 * unit)
}

/// Starts a routed call: its first poll here, on this connection's task, when `inline`
/// (see `ServerBuilder::inline_first_poll`), else as a task of its own.
async fn start(route: &Route, call: ServerCall, inline: bool) {
    if !inline {
        return route.service.start(route.method, call, None);
    }
    let mut call = Some(call);
    poll_fn(|cx| {
        if let Some(call) = call.take() {
            route.service.start(route.method, call, Some(cx));
        }
        Poll::Ready(())
    })
    .await
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
    use crate::Status;
    use http::Method;

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
            () = serve(server, serving) => panic!("the connection ended before the answer"),
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
}
