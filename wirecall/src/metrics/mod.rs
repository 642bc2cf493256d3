//! Per-method call metrics in Prometheus form, named after gRFC A66
//! (`grpc.server.call.duration` becomes `grpc_server_call_duration_seconds`, and so on).
//!
//! One [`Metrics`] registry gives a server interceptor ([`Metrics::server`]) and a client
//! interceptor ([`Metrics::client`]); [`Metrics::render`] writes the text exposition format
//! and `Metrics::serve` (feature `prometheus`) answers Prometheus scrapes over HTTP/1.1.
//! The module is feature `metrics` (which `prometheus` implies).
//!
//! Server series (label `grpc_method` = `package.Service/Method`, and `grpc_status` = the
//! status code's name where the call has ended):
//! - `grpc_server_call_started_total` (counter)
//! - `grpc_server_call_duration_seconds` (histogram; its `_count` is the calls handled, by code)
//! - `grpc_server_call_sent_total_compressed_message_size_bytes` and
//!   `grpc_server_call_rcvd_total_compressed_message_size_bytes` (histograms of each call's
//!   total framed bytes)
//! - `grpc_server_call_sent_messages_total` and `grpc_server_call_rcvd_messages_total`
//!   (counters; not in A66)
//!
//! Client series: the same with `grpc_client_attempt_` (there are no retries yet, so one
//! attempt per call) and `grpc_client_call_duration_seconds`.
//!
//! ```ignore
//! // With feature `prometheus`:
//! # async fn run<S: wirecall::server::Service>(service: S) -> std::io::Result<()> {
//! let metrics = wirecall::metrics::Metrics::new();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9090").await?;
//! tokio::spawn(metrics.clone().serve(listener));
//! let server = wirecall::Server::builder()
//!     .interceptor(metrics.server())
//!     .add_service(service);
//! # Ok(()) }
//! ```

mod exposition;
#[cfg(feature = "prometheus")]
mod http;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::interceptor::{
    CallInfo, ClientCallInfo, ClientInterceptor, IncomingCall, Interceptor, OutgoingCall,
};
use crate::Status;

use exposition::{Histogram, DURATION_BUCKETS, SIZE_BUCKETS};

/// A registry of call metrics, shared by its interceptors. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Series>>,
}

/// Every series, keyed by labels; BTreeMaps so the exposition comes out sorted.
#[derive(Debug, Default)]
struct Series {
    server: Side,
    client: Side,
}

#[derive(Debug, Default)]
struct Side {
    started: BTreeMap<String, u64>,
    ended: BTreeMap<(String, &'static str), Ended>,
}

/// What is kept per method and status.
#[derive(Debug)]
struct Ended {
    duration: Histogram,
    sent_bytes: Histogram,
    rcvd_bytes: Histogram,
    sent_messages: u64,
    rcvd_messages: u64,
}

impl Default for Ended {
    fn default() -> Self {
        Ended {
            duration: Histogram::new(DURATION_BUCKETS),
            sent_bytes: Histogram::new(SIZE_BUCKETS),
            rcvd_bytes: Histogram::new(SIZE_BUCKETS),
            sent_messages: 0,
            rcvd_messages: 0,
        }
    }
}

/// One finished call, as recorded.
struct Finished<'a> {
    method: String,
    status: &'a Status,
    seconds: f64,
    sent: (u64, u64),
    rcvd: (u64, u64),
}

impl Side {
    fn start(&mut self, method: String) {
        *self.started.entry(method).or_default() += 1;
    }

    fn end(&mut self, call: Finished<'_>) {
        let ended = self
            .ended
            .entry((call.method, call.status.code().name()))
            .or_default();
        ended.duration.observe(call.seconds);
        ended.sent_messages += call.sent.0;
        ended.sent_bytes.observe(call.sent.1 as f64);
        ended.rcvd_messages += call.rcvd.0;
        ended.rcvd_bytes.observe(call.rcvd.1 as f64);
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Metrics::default()
    }

    /// The server interceptor that records into this registry.
    pub fn server(&self) -> ServerMetrics {
        ServerMetrics(self.clone())
    }

    /// The client interceptor that records into this registry.
    pub fn client(&self) -> ClientMetrics {
        ClientMetrics(self.clone())
    }

    /// Every series in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let series = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        exposition::render_side(&mut out, "grpc_server_call", &series.server, None);
        exposition::render_side(
            &mut out,
            "grpc_client_attempt",
            &series.client,
            Some("grpc_client_call_duration_seconds"),
        );
        out
    }

    /// Answers `GET /metrics` (any path, in fact) on `listener` with [`render`](Self::render),
    /// until the listener fails. Feature `prometheus`.
    #[cfg(feature = "prometheus")]
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        http::serve(self, listener).await
    }

    fn with<R>(&self, f: impl FnOnce(&mut Series) -> R) -> R {
        let mut series = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut series)
    }
}

fn seconds_since(start: Instant) -> f64 {
    Instant::now().duration_since(start).as_secs_f64()
}

/// Records server calls into a [`Metrics`] registry.
#[derive(Clone, Debug)]
pub struct ServerMetrics(Metrics);

impl Interceptor for ServerMetrics {
    fn on_call(
        &self,
        call: &mut IncomingCall,
    ) -> impl std::future::Future<Output = Result<(), Status>> + Send {
        let method = format!("{}/{}", call.info().service(), call.info().method());
        self.0.with(|s| s.server.start(method));
        std::future::ready(Ok(()))
    }

    fn on_end(&self, call: &CallInfo, status: &Status) {
        let finished = Finished {
            method: format!("{}/{}", call.service(), call.method()),
            status,
            seconds: seconds_since(call.started()),
            sent: (call.sent().messages(), call.sent().bytes()),
            rcvd: (call.received().messages(), call.received().bytes()),
        };
        self.0.with(|s| s.server.end(finished));
    }
}

/// Records client calls into a [`Metrics`] registry.
#[derive(Clone, Debug)]
pub struct ClientMetrics(Metrics);

impl ClientInterceptor for ClientMetrics {
    fn on_call(
        &self,
        call: &mut OutgoingCall,
    ) -> impl std::future::Future<Output = Result<(), Status>> + Send {
        let method = call.info().path().trim_start_matches('/').to_owned();
        self.0.with(|s| s.client.start(method));
        std::future::ready(Ok(()))
    }

    fn on_end(&self, call: &ClientCallInfo, status: &Status) {
        let finished = Finished {
            method: call.path().trim_start_matches('/').to_owned(),
            status,
            seconds: seconds_since(call.started()),
            sent: (call.sent().messages(), call.sent().bytes()),
            rcvd: (call.received().messages(), call.received().bytes()),
        };
        self.0.with(|s| s.client.end(finished));
    }
}
