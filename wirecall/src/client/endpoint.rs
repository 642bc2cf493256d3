//! Where and how to connect: the target URI and the channel's settings.

use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{HeaderValue, Uri};

use super::backoff::BackoffConfig;
use super::resolver::{self, Resolver};
use super::Channel;
use crate::compression::Encoding;
use crate::interceptor::{ClientInterceptor, ClientInterceptors};
use crate::limits::Limits;
use crate::service_config::{LoadBalancingPolicy, ServiceConfig};
#[cfg(feature = "tls")]
use crate::transport::TlsSettings;
use crate::Error;

/// Settings shared by every call on a channel.
#[derive(Debug, Clone)]
pub(crate) struct ChannelConfig {
    pub(crate) timeout: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) limits: Limits,
    pub(crate) user_agent: HeaderValue,
    pub(crate) send_compressed: Option<Encoding>,
    pub(crate) interceptors: ClientInterceptors,
    pub(crate) keepalive: Option<crate::keepalive::Keepalive>,
    pub(crate) backoff: BackoffConfig,
    pub(crate) resolve_interval: Duration,
    pub(crate) min_resolve_interval: Duration,
    /// Idle mode's timeout (zero: never idle).
    pub(crate) idle_timeout: Duration,
    /// Set with [`Endpoint::load_balancing`]; wins over the service config's choice.
    pub(crate) load_balancing: Option<LoadBalancingPolicy>,
    pub(crate) service_config: Option<std::sync::Arc<ServiceConfig>>,
    pub(crate) retry_buffer_size: usize,
    pub(crate) per_rpc_buffer_limit: usize,
    /// The HTTP/2 implementation connections run on.
    pub(crate) http2_engine: crate::Http2Engine,
}

/// A server address plus channel settings; `connect` or `connect_lazy` makes the
/// [`Channel`].
///
/// ```
/// # async fn f() -> Result<(), wirecall::Error> {
/// use std::time::Duration;
/// let channel = wirecall::Endpoint::new("http://127.0.0.1:50051")?
///     .timeout(Duration::from_secs(5))
///     .connect_lazy();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub(crate) scheme: Scheme,
    /// The `:authority` sent with every call (the TLS server name when overridden).
    pub(crate) authority: Authority,
    /// What to connect to, for people: `host:port`, `unix:PATH` or `in-process`.
    pub(crate) address: String,
    pub(crate) transport: Transport,
    pub(crate) config: ChannelConfig,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<TlsSettings>,
}

/// How an endpoint reaches its server.
#[derive(Debug, Clone)]
pub(crate) enum Transport {
    /// TCP to `address`.
    Tcp,
    /// A Unix domain socket.
    #[cfg(unix)]
    Unix(std::path::PathBuf),
    /// An in-process listener.
    InProcess(crate::transport::Connector),
    /// A server's call core in this process, without HTTP/2 (the gateway's way in).
    Direct(crate::wire::Direct),
    /// The addresses a resolver finds, balanced per call.
    Resolved(ResolverHandle),
}

/// A shared resolver, and whether it is the target's own (not one given to
/// [`Endpoint::resolver`]).
#[derive(Clone)]
pub(crate) struct ResolverHandle(pub(crate) std::sync::Arc<dyn Resolver>, pub(crate) bool);

impl std::fmt::Debug for ResolverHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl Endpoint {
    /// Parses a target: `http://127.0.0.1:50051` or `https://host:port` (a bare
    /// `host:port` means `http`), or a Unix domain socket as gRPC names them,
    /// `unix:relative/path`, `unix:/absolute/path` or `unix:///absolute/path` (calls carry
    /// `:authority localhost`): one connection to one server.
    ///
    /// Name-resolving targets balance calls over every address found: `dns:///host:port`
    /// (every A/AAAA record a backend, resolved again on an interval and when a connection
    /// fails), `ipv4:127.0.0.1:50051,127.0.0.2:50051` and `ipv6:[::1]:50051,...`
    /// (naming.md; the port defaults to 443). Their policy is `pick_first` unless
    /// [`Endpoint::load_balancing`] or the service config's `loadBalancingConfig` says
    /// otherwise; plaintext unless `Endpoint::tls` (feature `tls`) is set.
    pub fn new(target: impl AsRef<str>) -> Result<Endpoint, Error> {
        let target = target.as_ref();
        if let Some(named) = resolver::parse(target) {
            let named = named?;
            let authority: Authority = named
                .authority
                .parse()
                .map_err(|e| Error::invalid_uri(format!("{target:?}: {e}")))?;
            return Ok(Endpoint::with(
                Scheme::HTTP,
                authority,
                target.to_owned(),
                Transport::Resolved(ResolverHandle(named.resolver, true)),
            ));
        }
        if let Some(path) = target.strip_prefix("unix:") {
            return Endpoint::unix(target, path);
        }
        let with_scheme;
        let text = if target.contains("://") {
            target
        } else {
            with_scheme = format!("http://{target}");
            &with_scheme
        };
        let uri: Uri = text
            .parse()
            .map_err(|e| Error::invalid_uri(format!("{target:?}: {e}")))?;
        let scheme = uri.scheme().cloned().unwrap_or(Scheme::HTTP);
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(Error::invalid_uri(format!(
                "{target:?}: the scheme must be http or https"
            )));
        }
        let default_port = if scheme == Scheme::HTTPS { 443 } else { 80 };
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| Error::invalid_uri(format!("{target:?}: no host")))?;
        let authority = if authority.port().is_some() {
            authority
        } else {
            format!("{}:{default_port}", authority.host())
                .parse()
                .map_err(|e| Error::invalid_uri(format!("{target:?}: {e}")))?
        };
        Ok(Endpoint::with(
            scheme,
            authority.clone(),
            authority.as_str().to_owned(),
            Transport::Tcp,
        ))
    }

    #[cfg(unix)]
    fn unix(target: &str, path: &str) -> Result<Endpoint, Error> {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(Error::invalid_uri(format!("{target:?}: no socket path")));
        }
        Ok(Endpoint::with(
            Scheme::HTTP,
            Authority::from_static("localhost"),
            target.to_owned(),
            Transport::Unix(path.into()),
        ))
    }

    #[cfg(not(unix))]
    fn unix(target: &str, _path: &str) -> Result<Endpoint, Error> {
        Err(Error::invalid_uri(format!(
            "{target:?}: Unix domain sockets need a Unix system"
        )))
    }

    /// An endpoint for an in-process listener.
    pub(crate) fn in_process(connector: crate::transport::Connector) -> Endpoint {
        Endpoint::with(
            Scheme::HTTP,
            Authority::from_static("in-process"),
            "in-process".to_owned(),
            Transport::InProcess(connector),
        )
    }

    /// An endpoint whose calls go straight to a server's call core (see [`crate::wire`]).
    pub(crate) fn direct(direct: crate::wire::Direct) -> Endpoint {
        Endpoint::with(
            Scheme::HTTP,
            Authority::from_static("in-process"),
            "direct".to_owned(),
            Transport::Direct(direct),
        )
    }

    fn with(scheme: Scheme, authority: Authority, address: String, transport: Transport) -> Self {
        Endpoint {
            scheme,
            address,
            authority,
            transport,
            #[cfg(feature = "tls")]
            tls: None,
            config: ChannelConfig {
                timeout: None,
                connect_timeout: Duration::from_secs(20),
                limits: Limits::default(),
                user_agent: HeaderValue::from_static(concat!(
                    "grpc-rust-wirecall/",
                    env!("CARGO_PKG_VERSION")
                )),
                send_compressed: None,
                interceptors: ClientInterceptors::default(),
                keepalive: None,
                backoff: BackoffConfig::default(),
                resolve_interval: Duration::from_secs(30),
                min_resolve_interval: Duration::from_secs(5),
                idle_timeout: Duration::from_secs(30 * 60),
                load_balancing: None,
                service_config: None,
                retry_buffer_size: 16 << 20,
                per_rpc_buffer_limit: 256 << 10,
                http2_engine: crate::Http2Engine::from_env(),
            },
        }
    }

    /// The target as gRFC A66 records it (`grpc.target`, a URI with its scheme): a
    /// name-resolving target or a Unix socket as written, a plain one as
    /// `http(s)://host:port`, `in-process` for an in-process listener.
    pub(crate) fn target(&self) -> String {
        match self.transport {
            Transport::Tcp => format!("{}://{}", self.scheme, self.address),
            _ => self.address.clone(),
        }
    }

    /// Like [`Endpoint::new`] for a literal; panics on a malformed target.
    pub fn from_static(target: &'static str) -> Endpoint {
        Endpoint::new(target).expect("a valid static target")
    }

    /// Pings the server every `interval` (HTTP/2 PING) while calls are in flight and, when
    /// no answer comes within `timeout`, closes the connection as dead: its calls fail with
    /// `UNAVAILABLE` and the next call reconnects. Off by default. Servers limit pings
    /// (grpc-go's default and wirecall's: one per 5 minutes while calls are open, see
    /// [`crate::server::ServerBuilder::keepalive_policy`]).
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.config.keepalive = Some(crate::keepalive::Keepalive {
            interval,
            timeout,
            while_idle: false,
        });
        self
    }

    /// The HTTP/2 implementation the channel's connections run on (default
    /// [`Http2Engine::H2`](crate::Http2Engine::H2), or what `WIRECALL_HTTP2_ENGINE` names).
    pub fn http2_engine(mut self, engine: crate::Http2Engine) -> Self {
        self.config.http2_engine = engine;
        self
    }

    /// With [`keepalive`](Self::keepalive): ping connections that have no call in flight
    /// too (default: no, as grpc-go's `PermitWithoutStream`; most servers refuse such pings
    /// unless configured for them).
    pub fn keepalive_while_idle(mut self, while_idle: bool) -> Self {
        if let Some(keepalive) = &mut self.config.keepalive {
            keepalive.while_idle = while_idle;
        }
        self
    }

    /// The default time every call may take (sent as `grpc-timeout`); a request's own
    /// timeout wins. No default: calls wait as long as the server takes.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = Some(timeout);
        self
    }

    /// How long to wait for a TCP connection and HTTP/2 handshake (default 20 s, the
    /// minimum connect timeout of connection-backoff.md).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// The largest response message accepted (default 4 MiB); a larger one fails the call
    /// with `RESOURCE_EXHAUSTED`.
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.config.limits.max_decoding_message_size = limit;
        self
    }

    /// The largest request message sent (default 4 GiB - 1); a larger one fails the call
    /// with `RESOURCE_EXHAUSTED` before anything is sent.
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
        self.config.limits.max_encoding_message_size = limit.min(u32::MAX as usize);
        self
    }

    /// The HTTP/2 flow-control window of each call (default 1 MiB).
    pub fn initial_stream_window_size(mut self, size: u32) -> Self {
        self.config.limits.initial_stream_window_size = size;
        self
    }

    /// The HTTP/2 flow-control window of the connection (default 4 MiB).
    pub fn initial_connection_window_size(mut self, size: u32) -> Self {
        self.config.limits.initial_connection_window_size = size;
        self
    }

    /// The largest response header block accepted (default 16 KiB).
    pub fn max_header_list_size(mut self, size: u32) -> Self {
        self.config.limits.max_header_list_size = size;
        self
    }

    /// Compresses every call's request messages with `encoding` (default: none); a request
    /// can choose otherwise with `Request::set_compression`. Compressed responses in any
    /// supported encoding are always accepted.
    pub fn send_compressed(mut self, encoding: Encoding) -> Self {
        self.config.send_compressed = Some(encoding);
        self
    }

    /// Adds an interceptor that runs around every call of the channel, after the ones
    /// already added (see [`ClientInterceptor`]).
    pub fn interceptor(mut self, interceptor: impl ClientInterceptor) -> Self {
        self.config
            .interceptors
            .0
            .push(std::sync::Arc::new(interceptor));
        self
    }

    /// Connects over TLS with `config` (ALPN `h2` is added); the server name checked and sent
    /// as SNI is the target's host unless [`Endpoint::tls_server_name`] says otherwise.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, mut config: rustls::ClientConfig) -> Result<Self, Error> {
        if !config.alpn_protocols.iter().any(|p| p == b"h2") {
            config.alpn_protocols.push(b"h2".to_vec());
        }
        let host = self
            .authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let server_name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| Error::invalid_uri(format!("{host:?} is not a TLS server name: {e}")))?;
        self.scheme = http::uri::Scheme::HTTPS;
        self.tls = Some(TlsSettings {
            config: std::sync::Arc::new(config),
            server_name,
        });
        Ok(self)
    }

    /// Checks the server's certificate against `name` (and sends it as SNI and
    /// `:authority`) instead of the target's host; the test servers of the gRPC interop suite
    /// need `foo.test.google.fr`. Call after [`Endpoint::tls`].
    #[cfg(feature = "tls")]
    pub fn tls_server_name(mut self, name: &str) -> Result<Self, Error> {
        let server_name = rustls::pki_types::ServerName::try_from(name.to_owned())
            .map_err(|e| Error::invalid_uri(format!("{name:?} is not a TLS server name: {e}")))?;
        let tls = self
            .tls
            .as_mut()
            .ok_or_else(|| Error::invalid_uri("tls_server_name needs Endpoint::tls first"))?;
        tls.server_name = server_name;
        self.authority = name
            .parse()
            .map_err(|e| Error::invalid_uri(format!("{name:?}: {e}")))?;
        Ok(self)
    }

    /// Finds the servers with `resolver` instead of the target's host, balancing calls
    /// over them; the target still gives the scheme and `:authority`.
    pub fn resolver(mut self, resolver: impl Resolver) -> Self {
        self.transport = Transport::Resolved(ResolverHandle(std::sync::Arc::new(resolver), false));
        self
    }

    /// How long a channel waits with no call in flight and none started before it goes
    /// IDLE: its connections closed and its name resolution stopped, until the next call
    /// resolves and connects again (gRPC's `idleTimeout`). Default 30 minutes;
    /// `Duration::ZERO` keeps the channel connected for ever.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Whether a `dns:` target's resolver looks up the service config in the name's
    /// `_grpc_config` TXT record (gRFC A2), choosing among its entries by `clientLanguage`
    /// (`rust`), `percentage` and `clientHostname`. Off by default (as in gRPC's C++ and Java
    /// implementations; grpc-go has it on). The resolver's config replaces the one given to
    /// [`Endpoint::service_config`] while the record has one; an invalid one is logged and
    /// the last good one kept. Needs the `dns` feature; other targets, and a resolver given to
    /// [`Endpoint::resolver`], ignore it.
    pub fn dns_service_config(mut self, enabled: bool) -> Self {
        if !matches!(self.transport, Transport::Resolved(ResolverHandle(_, true))) {
            return self;
        }
        let options = resolver::DnsOptions {
            service_config: enabled,
        };
        if let Some(Ok(named)) = resolver::parse_with(&self.address, options) {
            self.transport = Transport::Resolved(ResolverHandle(named.resolver, true));
        }
        self
    }

    /// The balancing policy of a name-resolving channel (default `pick_first`, or the
    /// service config's `loadBalancingConfig`); this setting wins over the service config.
    pub fn load_balancing(mut self, policy: LoadBalancingPolicy) -> Self {
        self.config.load_balancing = Some(policy);
        self
    }

    /// The default service config of the channel: per-method timeouts, `waitForReady`,
    /// message size limits, retry or hedging policies, retry throttling and the balancing
    /// policy (see [`ServiceConfig`]).
    pub fn service_config(mut self, config: ServiceConfig) -> Self {
        self.config.service_config = Some(std::sync::Arc::new(config));
        self
    }

    /// [`Endpoint::service_config`] from its JSON form, as gRPC documents it.
    pub fn service_config_json(self, json: &str) -> Result<Self, Error> {
        Ok(self.service_config(ServiceConfig::from_json(json)?))
    }

    /// How connection attempts to a backend are spaced after failures (default: 1 s,
    /// ×1.6, ±20 %, at most 120 s, as connection-backoff.md).
    pub fn connection_backoff(mut self, backoff: BackoffConfig) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// How often a name-resolving channel asks its resolver again (default 30 s).
    pub fn resolve_interval(mut self, interval: Duration) -> Self {
        self.config.resolve_interval = interval;
        self
    }

    /// The least time between two resolutions when failing connections ask for them
    /// (default 5 s).
    pub fn min_resolve_interval(mut self, interval: Duration) -> Self {
        self.config.min_resolve_interval = interval;
        self
    }

    /// The most request bytes all the channel's calls together keep for retries (default
    /// 16 MiB, gRFC A6's `retryBufferSize`); a call that would go over it is not retried.
    pub fn retry_buffer_size(mut self, bytes: usize) -> Self {
        self.config.retry_buffer_size = bytes;
        self
    }

    /// The most request bytes one call keeps for retries (default 256 KiB, gRFC A6's
    /// `perRpcBufferLimit`); a larger request is sent once.
    pub fn per_rpc_buffer_limit(mut self, bytes: usize) -> Self {
        self.config.per_rpc_buffer_limit = bytes;
        self
    }

    /// Connects now; fails if the server cannot be reached. A name-resolving endpoint
    /// resolves and waits until a backend is READY, failing when every one failed.
    pub async fn connect(self) -> Result<Channel, Error> {
        let channel = Channel::new(self);
        channel.connect_now().await?;
        Ok(channel)
    }

    /// A channel that connects on its first call, and again after a connection is lost.
    pub fn connect_lazy(self) -> Channel {
        Channel::new(self)
    }
}
