//! The server: a builder that collects services and limits, and the accept loop.
//!
//! ```no_run
//! # async fn run<S: wirecall::server::Service>(svc: S) -> Result<(), wirecall::Error> {
//! wirecall::Server::builder()
//!     .add_service(svc)
//!     .serve("127.0.0.1:50051".parse().unwrap())
//!     .await
//! # }
//! ```

mod activity;
mod call;
mod connection;
#[cfg(all(feature = "tower", feature = "web"))]
mod fallback;
pub(crate) mod head;
#[cfg(feature = "web")]
mod http1;
mod http2;
#[cfg(feature = "web")]
mod json;
mod own_http2;
mod ping_policy;
mod resets;
pub(crate) mod router;
mod send;
mod service;
#[cfg(feature = "tower")]
pub mod tower;

pub use call::ServerCall;
#[cfg(all(feature = "tower", feature = "web"))]
pub use fallback::IncomingBody;
pub use service::Service;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::compression::Encoding;
use crate::interceptor::{Interceptor, ServerInterceptors};
use crate::limits::Limits;
use crate::transport::Accept;
use crate::Error;

use router::Router;

pub use crate::http2::Http2Engine;

/// How long connections may take to close once the grace period is over.
const ABORT_WAIT: Duration = Duration::from_secs(5);

/// Limits and HTTP/2 settings of a server. Every field has a safe default.
#[derive(Debug, Clone)]
pub(crate) struct ServerConfig {
    pub(crate) limits: Limits,
    pub(crate) max_concurrent_streams: u32,
    pub(crate) max_frame_size: u32,
    pub(crate) send_compressed: Option<Encoding>,
    pub(crate) interceptors: ServerInterceptors,
    /// Whether a call's first poll runs on its connection's task.
    pub(crate) inline_first_poll: bool,
    /// What serves HTTP/2 connections.
    pub(crate) http2_engine: Http2Engine,
    /// Frames in a row that ask for no work before GOAWAY ENHANCE_YOUR_CALM (our engine).
    pub(crate) max_empty_frames: u32,
    /// Bytes waiting to be written past which a connection reads no more (our engine).
    pub(crate) max_send_buffer: usize,
    /// How long a stream may wait for flow-control credit with nothing moving before it is
    /// reset (our engine).
    pub(crate) stalled_stream_timeout: Option<Duration>,
    /// How long a stream may see nothing sent or received before it is reset (our engine).
    pub(crate) idle_stream_timeout: Option<Duration>,
    /// How long a graceful shutdown waits for in-flight calls before closing connections.
    pub(crate) shutdown_grace: Duration,
    pub(crate) keepalive: Option<crate::keepalive::Keepalive>,
    /// Client-cancelled calls per connection and window before GOAWAY ENHANCE_YOUR_CALM.
    pub(crate) max_resets: resets::ResetLimit,
    /// Connections served at once; more wait in the listen backlog.
    pub(crate) max_connections: usize,
    /// How often clients may ping (keepalive enforcement).
    pub(crate) ping_policy: ping_policy::PingPolicy,
    /// GOAWAY to a connection without calls for this long.
    pub(crate) max_connection_idle: Option<Duration>,
    /// How long a new connection may take to become an HTTP/2 (or HTTP/1.1) connection:
    /// TLS handshake, first bytes, preface and SETTINGS.
    pub(crate) handshake_timeout: Duration,
    /// GOAWAY to a connection this old (±10%), then close it after the grace.
    pub(crate) max_connection_age: Option<(Duration, Duration)>,
    /// gRPC-Web accepted, with these CORS rules.
    pub(crate) web: Option<Arc<crate::web::Cors>>,
    /// Connect calls accepted.
    #[cfg(feature = "web")]
    pub(crate) connect: bool,
    /// HTTP/JSON transcoding of `google.api.http` rules.
    #[cfg(feature = "web")]
    pub(crate) rest: bool,
    /// The gateway serving Connect and REST calls, built when the server starts.
    #[cfg(feature = "web")]
    pub(crate) gateway: Option<Arc<crate::gateway::Gateway>>,
    /// The services' descriptors, for calls in JSON (`application/grpc+json`); set when the
    /// server starts.
    #[cfg(feature = "web")]
    pub(crate) descriptors: Option<Arc<crate::gateway::Descriptors>>,
    /// What answers requests of other protocols (`ServerBuilder::fallback`).
    #[cfg(all(feature = "tower", feature = "web"))]
    pub(crate) fallback: Option<fallback::Fallback>,
}

impl ServerConfig {
    /// Whether a plaintext connection may be HTTP/1.1 (sniffed by its first bytes): when
    /// gRPC-Web, the gateway or a fallback service is on.
    #[cfg(feature = "web")]
    pub(crate) fn speaks_http1(&self) -> bool {
        #[cfg(feature = "tower")]
        if self.fallback.is_some() {
            return true;
        }
        self.web.is_some() || self.gateway.is_some()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            max_concurrent_streams: 1024,
            max_frame_size: 16 * 1024,
            send_compressed: None,
            interceptors: ServerInterceptors::default(),
            inline_first_poll: true,
            http2_engine: Http2Engine::from_env(),
            max_empty_frames: 1000,
            max_send_buffer: 1 << 20,
            stalled_stream_timeout: Some(Duration::from_secs(300)),
            idle_stream_timeout: None,
            shutdown_grace: Duration::from_secs(30),
            keepalive: None,
            max_resets: resets::ResetLimit::default(),
            max_connections: 10_000,
            ping_policy: ping_policy::PingPolicy::default(),
            max_connection_idle: None,
            handshake_timeout: Duration::from_secs(10),
            max_connection_age: None,
            web: None,
            #[cfg(feature = "web")]
            connect: false,
            #[cfg(feature = "web")]
            rest: false,
            #[cfg(feature = "web")]
            gateway: None,
            #[cfg(feature = "web")]
            descriptors: None,
            #[cfg(all(feature = "tower", feature = "web"))]
            fallback: None,
        }
    }
}

/// The entry point: `Server::builder()`.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Starts building a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

/// What a server tells about its life to those who report it (the health service): it
/// starts serving `services`, then a graceful shutdown starts.
pub(crate) trait Lifecycle: Send + Sync + std::fmt::Debug {
    /// Serving starts, with these services (the fully qualified names of all it routes to).
    fn serving(&self, services: &[&'static str]);
    /// A graceful shutdown starts: no new connections; calls in flight may finish.
    fn shutting_down(&self);
}

/// Collects services and settings, then serves them.
#[derive(Debug, Default)]
pub struct ServerBuilder {
    router: Router,
    config: ServerConfig,
    /// Told when serving starts and when a shutdown starts (the health service).
    lifecycle: Vec<Arc<dyn Lifecycle>>,
    /// Services added once every other one is known (reflection, which describes them all):
    /// a function, not a flag, so that a server that never asks for reflection does not link
    /// the reflection service (about 460 KB of a release binary).
    finish_router: Option<fn(Router) -> Router>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl ServerBuilder {
    /// Adds a service (a generated `FooServer`); calls are routed by `/package.Foo/Method`.
    pub fn add_service<S: Service>(mut self, service: S) -> Self {
        self.router.add(service);
        self
    }

    /// Tells `lifecycle` when serving starts and when a shutdown starts.
    #[cfg(feature = "health")]
    pub(crate) fn with_lifecycle(mut self, lifecycle: Arc<dyn Lifecycle>) -> Self {
        self.lifecycle.push(lifecycle);
        self
    }

    /// Runs `finish` on the router once every service is added, when serving starts.
    #[cfg(feature = "reflection")]
    pub(crate) fn finish_router_with(mut self, finish: fn(Router) -> Router) -> Self {
        self.finish_router = Some(finish);
        self
    }

    /// Also answers gRPC-Web calls (`application/grpc-web[+proto]` and
    /// `application/grpc-web-text`, PROTOCOL-WEB.md) on the same port, with `cors` deciding
    /// which other origins' pages may call (preflights answered, `grpc-status`,
    /// `grpc-message` and the exposed metadata readable). gRPC-Web carries unary and
    /// server-streaming calls; browsers cannot stream requests. Over HTTP/2 always; over
    /// HTTP/1.1 too (plaintext connections, told apart by their first bytes) with the
    /// feature `web`.
    pub fn accept_grpc_web(mut self, cors: crate::web::Cors) -> Self {
        self.config.web = Some(Arc::new(cors));
        self
    }

    /// Answers every request that is not gRPC, gRPC-Web, Connect or REST with `service`, a
    /// tower `Service` of HTTP requests (an axum `Router`, a static page, `/metrics`,
    /// `/healthz`), over HTTP/2 and HTTP/1.1 on the same port: one server for an API and the
    /// pages beside it. Without a fallback such requests get 405 or 415.
    ///
    /// Requests come with an [`IncomingBody`]; responses may be any body of `Bytes`, streamed
    /// back under flow control. A request is gRPC by its `content-type`
    /// (`application/grpc...`, `application/grpc-web...`), or Connect or REST when those are
    /// on and the path is theirs; everything else, `OPTIONS` included when gRPC-Web is off,
    /// is the fallback's. Needs the features `tower` and `web`.
    #[cfg(all(feature = "tower", feature = "web"))]
    pub fn fallback<S, B>(mut self, service: S) -> Self
    where
        S: tower_service::Service<http::Request<IncomingBody>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.config.fallback = Some(fallback::Fallback::new(service));
        self
    }

    /// Also answers the Connect protocol (connectrpc.com/docs/protocol) on the same port,
    /// over HTTP/2 and HTTP/1.1: unary calls as POSTs of the bare message
    /// (`application/proto` or `application/json`, the canonical protobuf JSON mapping) and
    /// as GETs for methods marked `option idempotency_level = NO_SIDE_EFFECTS;`, streaming
    /// calls of every pattern (`application/connect+proto` / `+json`, enveloped messages,
    /// the end-of-stream message), `Connect-Timeout-Ms`, compressed bodies, errors as HTTP
    /// statuses with the JSON error body, details included. Pages of other origins may call
    /// when [`accept_grpc_web`](Self::accept_grpc_web)'s CORS rules allow them. Calls run
    /// through the [gateway](crate::gateway): as native gRPC calls to this server, so
    /// interceptors, limits and deadlines apply as to any call. Needs the services'
    /// descriptors (generated code carries them).
    #[cfg(feature = "web")]
    pub fn accept_connect(mut self) -> Self {
        self.config.connect = true;
        self
    }

    /// Also answers HTTP/JSON requests for methods with `google.api.http` rules
    /// (`option (google.api.http) = { get: "/v1/users/{id}" };`, as grpc-gateway does):
    /// path variables, query parameters and the body build the request message; the
    /// response is its JSON (server-streaming methods: one `{"result": ...}` line per
    /// message); errors are their HTTP status with the `google.rpc.Status` JSON. See
    /// [`crate::gateway`].
    #[cfg(feature = "web")]
    pub fn accept_rest(mut self) -> Self {
        self.config.rest = true;
        self
    }

    /// Adds an interceptor that runs for every service, before the services' own (see
    /// [`crate::interceptor`] for the order).
    pub fn interceptor(mut self, interceptor: impl Interceptor) -> Self {
        self.config.interceptors.0.push(Arc::new(interceptor));
        self
    }

    /// The largest request message accepted, after decompression (default 4 MiB). A larger
    /// one answers `RESOURCE_EXHAUSTED`.
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.config.limits.max_decoding_message_size = limit;
        self
    }

    /// The largest response message sent (default 4 GiB - 1, the frame format's limit).
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
        self.config.limits.max_encoding_message_size = limit.min(u32::MAX as usize);
        self
    }

    /// How many calls one connection may have open at once (default 1024).
    pub fn max_concurrent_streams(mut self, limit: u32) -> Self {
        self.config.max_concurrent_streams = limit;
        self
    }

    /// The largest header block accepted, metadata included (default 16 KiB).
    pub fn max_header_list_size(mut self, limit: u32) -> Self {
        self.config.limits.max_header_list_size = limit;
        self
    }

    /// The HTTP/2 flow-control window of each call (default 1 MiB).
    pub fn initial_stream_window_size(mut self, size: u32) -> Self {
        self.config.limits.initial_stream_window_size = size;
        self
    }

    /// The HTTP/2 flow-control window of each connection (default 4 MiB).
    pub fn initial_connection_window_size(mut self, size: u32) -> Self {
        self.config.limits.initial_connection_window_size = size;
        self
    }

    /// The largest HTTP/2 frame this server receives (default and minimum 16 KiB).
    pub fn max_frame_size(mut self, size: u32) -> Self {
        self.config.max_frame_size = size.clamp(16 * 1024, 16 * 1024 * 1024 - 1);
        self
    }

    /// Compresses responses with `encoding` whenever the client accepts it (default: no
    /// compression). Handlers can choose per call with `Response::set_compression`. Requests
    /// in any supported encoding are always accepted.
    pub fn send_compressed(mut self, encoding: Encoding) -> Self {
        self.config.send_compressed = Some(encoding);
        self
    }

    /// Whether each call starts on its connection's task (default `true`): the handler's
    /// first poll runs there, and only a call that has to wait (for more of the request, a
    /// database, a timer) is moved to a task of its own. Most unary calls then finish
    /// without a task spawn or a wake-up, and calls are answered in the order they arrived
    /// (under a burst of spawned tasks, tokio's run queue overflows and some calls wait
    /// far longer than others). A handler that computes for long before its first `.await`
    /// holds up the other calls of its connection meanwhile: move such work to
    /// `tokio::task::spawn_blocking`, or turn this off so every call is spawned at once.
    pub fn inline_first_poll(mut self, inline: bool) -> Self {
        self.config.inline_first_poll = inline;
        self
    }

    /// The HTTP/2 implementation that serves connections (default [`Http2Engine::H2`], or
    /// what the environment variable `WIRECALL_HTTP2_ENGINE` names: `h2` or `wirecall`).
    pub fn http2_engine(mut self, engine: Http2Engine) -> Self {
        self.config.http2_engine = engine;
        self
    }

    /// How many frames in a row, within a second, a client may send that ask for no work
    /// (SETTINGS, PINGs, empty DATA, PRIORITY, WINDOW_UPDATEs, unknown types) while the
    /// server sends nothing either, before its connection gets GOAWAY `ENHANCE_YOUR_CALM`
    /// (default 1000): the
    /// 2019 HTTP/2 floods (CVE-2019-9512, -9515, -9518). On [`Http2Engine::Wirecall`]; h2
    /// keeps defences of its own.
    pub fn max_empty_frames(mut self, frames: u32) -> Self {
        self.config.max_empty_frames = frames.max(1);
        self
    }

    /// How many bytes a connection may have waiting to be written before it stops reading
    /// its client (default 1 MiB): a client that sends and does not read (PINGs and
    /// SETTINGS to acknowledge, calls to answer) is then held up by its own socket instead
    /// of growing the server's memory. On [`Http2Engine::Wirecall`].
    pub fn max_send_buffer(mut self, bytes: usize) -> Self {
        self.config.max_send_buffer = bytes.max(16 * 1024);
        self
    }

    /// How long a stream's response may wait for flow-control credit, with nothing of it
    /// moving, before the stream is reset with CANCEL and its call cancelled (default 5
    /// minutes; `None`: no limit): a client that opens streams and never reads them (a
    /// zero window) holds their responses' memory no longer than this. A slow reader that
    /// gives credit as it reads is never cut. On [`Http2Engine::Wirecall`].
    pub fn stalled_stream_timeout(mut self, limit: Option<Duration>) -> Self {
        self.config.stalled_stream_timeout = limit;
        self
    }

    /// How long a stream may go with nothing sent or received on it before it is reset
    /// with CANCEL and its call cancelled (default `None`: gRPC streams may be quiet for
    /// long, a health `Watch` say; set it where every stream is expected to move). Streams
    /// held open and silent by a client then cost no longer than this. On
    /// [`Http2Engine::Wirecall`].
    pub fn idle_stream_timeout(mut self, limit: Option<Duration>) -> Self {
        self.config.idle_stream_timeout = limit;
        self
    }

    /// Rapid-reset protection (CVE-2023-44487): a connection whose client cancels more than
    /// `count` running calls within `window` (default 200 per second) gets GOAWAY
    /// `ENHANCE_YOUR_CALM` and is closed; other connections are not affected.
    pub fn max_client_resets(mut self, count: u32, window: Duration) -> Self {
        self.config.max_resets = resets::ResetLimit { count, window };
        self
    }

    /// How many connections are served at once (default 10,000). Past it the server stops
    /// accepting until one closes; new clients wait in the listen backlog meanwhile.
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.config.max_connections = limit.max(1);
        self
    }

    /// How often clients may ping, as grpc-go's keepalive enforcement (default: once per
    /// 5 minutes while the client has calls, once per 2 hours without). Pings right after
    /// the server sent data are always fine (clients probe bandwidth that way); past two
    /// pings too soon the connection gets GOAWAY `ENHANCE_YOUR_CALM`. Clients that ping
    /// more often ([`crate::Endpoint::keepalive`]) need a server configured for them.
    pub fn keepalive_policy(mut self, min_interval: Duration, permit_without_calls: bool) -> Self {
        self.config.ping_policy = ping_policy::PingPolicy {
            min_interval,
            permit_without_calls,
        };
        self
    }

    /// How long a new connection may take to get going (default 10 s): the TLS handshake,
    /// then the HTTP/2 preface and SETTINGS (or an HTTP/1.1 request's first bytes). A
    /// connection that is slower (a slowloris client, a port scanner, a peer that connected
    /// and went silent) is closed, so that such connections cannot hold the
    /// [`max_connections`](Self::max_connections) slots.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// Sends GOAWAY to a connection that has had no call for `idle` (off by default): its
    /// client reconnects when it next needs to, and idle sockets do not pile up.
    pub fn max_connection_idle(mut self, idle: Duration) -> Self {
        self.config.max_connection_idle = Some(idle);
        self
    }

    /// Sends GOAWAY to a connection once it is `age` old (give or take 10%, so that
    /// connections opened together do not all leave together), then closes it `grace`
    /// later whatever it still has in flight (off by default). Clients reconnect, to this
    /// server or, behind a balancer, to another: the way to spread long-lived clients over
    /// new backends.
    pub fn max_connection_age(mut self, age: Duration, grace: Duration) -> Self {
        self.config.max_connection_age = Some((age, grace));
        self
    }

    /// Pings every client every `interval` (HTTP/2 PING) and closes a connection whose
    /// client does not answer within `timeout`: its calls end and their handlers are
    /// dropped, so a vanished client (a cut network, a dead host) does not hold resources.
    /// Off by default.
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.config.keepalive = Some(crate::keepalive::Keepalive {
            interval,
            timeout,
            while_idle: true,
        });
        self
    }

    /// How long a graceful shutdown lets in-flight calls run (default 30 s, Kubernetes'
    /// termination grace period). When the shutdown signal comes, every connection gets
    /// GOAWAY (two-phase: first "no stream ids past the maximum", then the last stream
    /// processed) and new calls are refused; calls still running when `grace` is over are
    /// ended: their connections close and their clients see `UNAVAILABLE`.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// Serves over TLS with `config` (ALPN `h2` is added). A handshake that does not finish
    /// within the [`handshake_timeout`](Self::handshake_timeout) is dropped.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, mut config: rustls::ServerConfig) -> Self {
        if !config.alpn_protocols.iter().any(|p| p == b"h2") {
            config.alpn_protocols.push(b"h2".to_vec());
        }
        self.tls = Some(Arc::new(config));
        self
    }

    /// The names of the services added so far.
    pub fn service_names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.router.service_names().collect();
        names.sort_unstable();
        names
    }

    /// Binds `addr` and serves until the process ends.
    pub async fn serve(self, addr: SocketAddr) -> Result<(), Error> {
        self.serve_with_shutdown(addr, std::future::pending()).await
    }

    /// Binds `addr` and serves until `signal` completes, then shuts down gracefully: GOAWAY
    /// to every connection, new calls are refused, in-flight calls may finish within the
    /// [grace period](Self::shutdown_grace).
    pub async fn serve_with_shutdown(
        self,
        addr: SocketAddr,
        signal: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let listener = crate::transport::bind(addr)
            .await
            .map_err(|e| Error::bind(addr, e))?;
        self.serve_with_listener(listener, signal).await
    }

    /// Serves connections from an already bound listener (e.g. one bound to port 0 in tests)
    /// until `signal` completes, then shuts down gracefully.
    pub async fn serve_with_listener(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        self.serve_accepting(listener, signal).await
    }

    /// Serves on the Unix domain socket `path` (created; it must not exist yet) until
    /// `signal` completes, then shuts down gracefully. Clients reach it as `unix:PATH`.
    #[cfg(unix)]
    pub async fn serve_unix(
        self,
        path: impl AsRef<std::path::Path>,
        signal: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let path = path.as_ref();
        let listener =
            tokio::net::UnixListener::bind(path).map_err(|e| Error::bind_path(path, e))?;
        self.serve_with_unix_listener(listener, signal).await
    }

    /// Serves connections from an already bound Unix domain socket listener until `signal`
    /// completes, then shuts down gracefully.
    #[cfg(unix)]
    pub async fn serve_with_unix_listener(
        self,
        listener: tokio::net::UnixListener,
        signal: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        self.serve_accepting(listener, signal).await
    }

    /// Serves the in-process connections of `listener` (see [`crate::in_process`]) until
    /// `signal` completes, then shuts down gracefully.
    pub async fn serve_in_process(
        self,
        listener: crate::in_process::Listener,
        signal: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        self.serve_accepting(listener, signal).await
    }

    /// A channel whose calls go straight to this server's services, in memory: no socket and
    /// no HTTP/2, and the same gRPC on the way (routing, metadata, deadlines, cancellation,
    /// limits, compression, interceptors, status and trailers). For tests above all; use
    /// [`serve_in_process`](Self::serve_in_process) where the HTTP/2 layer matters too
    /// (keepalive, GOAWAY, flow control between connections).
    ///
    /// The services serve as long as a clone of the channel lives; there is no shutdown.
    /// [`direct_endpoint`](Self::direct_endpoint) gives the endpoint, to set the client's
    /// settings (a service config, timeouts, limits) before connecting.
    pub fn direct_channel(self) -> crate::Channel {
        self.direct_endpoint().connect_lazy()
    }

    /// The endpoint of [`direct_channel`](Self::direct_channel)'s calls.
    pub fn direct_endpoint(self) -> crate::Endpoint {
        let (router, config, _lifecycle) = self.finish();
        let peer = connection::Peer::of(None, http::Extensions::new(), &router, &config);
        let core = connection::Core {
            peer,
            router,
            config,
        };
        crate::Endpoint::direct(core.direct())
    }

    /// The router with the built-in services added, the settings with the gateway built
    /// from the router's descriptors, and the lifecycle hooks, told that the services serve.
    fn finish(self) -> (Arc<Router>, Arc<ServerConfig>, Vec<Arc<dyn Lifecycle>>) {
        let lifecycle = self.lifecycle;
        let router = match self.finish_router {
            Some(finish) => finish(self.router),
            None => self.router,
        };
        let names: Vec<&'static str> = router.service_names().collect();
        for hook in &lifecycle {
            hook.serving(&names);
        }
        let router = Arc::new(router);
        let config = self.config;
        #[cfg(feature = "web")]
        let descriptors = Arc::new(crate::gateway::Descriptors::new(
            router.descriptor_sets().to_vec(),
            router.service_names().collect(),
        ));
        #[cfg(feature = "web")]
        let config = ServerConfig {
            gateway: (config.connect || config.rest).then(|| {
                Arc::new(crate::gateway::Gateway::new(
                    descriptors.schema().clone(),
                    config.connect,
                    config.rest,
                    config.limits.max_decoding_message_size,
                    config.web.clone(),
                ))
            }),
            descriptors: Some(descriptors),
            ..config
        };
        (router, Arc::new(config), lifecycle)
    }

    async fn serve_accepting<A: Accept>(
        self,
        mut listener: A,
        signal: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        #[cfg(feature = "tls")]
        let acceptor = self.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let (router, config, lifecycle) = self.finish();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (abort_tx, abort_rx) = watch::channel(false);
        // Every connection task holds a clone of `alive`; `recv` returns once all are gone.
        let (alive, mut all_closed) = mpsc::channel::<()>(1);
        let mut signal = std::pin::pin!(signal);
        let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                () = &mut signal => break,
            };
            tokio::select! {
                accepted = listener.accept() => {
                    let (io, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(err) => {
                            // Usually out of file descriptors: pause rather than spin.
                            tracing::warn!(%err, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                            continue;
                        }
                    };
                    let (router, config) = (router.clone(), config.clone());
                    // Held until the connection ends: its slot and its part in `alive`.
                    let alive = (alive.clone(), slot);
                    let serving = connection::Serving {
                        remote_addr: peer,
                        extensions: http::Extensions::new(),
                        router,
                        config,
                        shutdown: connection::Shutdown {
                            graceful: shutdown_rx.clone(),
                            abort: abort_rx.clone(),
                        },
                    };
                    #[cfg(feature = "tls")]
                    if let Some(acceptor) = acceptor.clone() {
                        tokio::spawn(async move {
                            let handshake = crate::transport::tls_accept(&acceptor, io);
                            match tokio::time::timeout(serving.config.handshake_timeout, handshake).await {
                                Ok(Ok(io)) => {
                                    // The client's certificates, for every call's extensions.
                                    let mut extensions = http::Extensions::new();
                                    if let Some(certs) = io.get_ref().1.peer_certificates() {
                                        extensions.insert(crate::tls::PeerCertificates(certs.into()));
                                    }
                                    let serving = connection::Serving { extensions, ..serving };
                                    connection::serve_http2(io, serving).await
                                }
                                Ok(Err(err)) => tracing::debug!(?peer, %err, "TLS handshake failed"),
                                Err(_) => tracing::debug!(?peer, "TLS handshake timed out"),
                            }
                            drop(alive);
                        });
                        continue;
                    }
                    tokio::spawn(async move {
                        connection::serve_any(io, serving).await;
                        drop(alive);
                    });
                }
                () = &mut signal => break,
            }
        }
        drop(listener);
        for hook in &lifecycle {
            hook.shutting_down();
        }
        let _ = shutdown_tx.send(true);
        drop(alive);
        let grace = config.shutdown_grace;
        if tokio::time::timeout(grace, all_closed.recv())
            .await
            .is_err()
        {
            tracing::info!(
                ?grace,
                "grace period over: closing connections with calls in flight"
            );
            let _ = abort_tx.send(true);
            // Each connection now sends its last GOAWAY and closes; a peer that stops
            // reading cannot hold the server up past this.
            if tokio::time::timeout(ABORT_WAIT, all_closed.recv())
                .await
                .is_err()
            {
                tracing::warn!("connections still open after closing them; stopping anyway");
            }
        }
        Ok(())
    }
}
