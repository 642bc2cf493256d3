//! Per-method call metrics as gRFC A66 (OpenTelemetry metrics for gRPC) defines them,
//! recorded by interceptors into your own metrics pipeline.
//!
//! A [`Metrics`] gives a server interceptor ([`Metrics::server`]) and a client interceptor
//! ([`Metrics::client`]) that record into the backends it was built with:
//! - `Metrics::opentelemetry(&meter_provider)` (feature `opentelemetry-metrics`): the A66
//!   instruments through the OpenTelemetry metrics API, on a meter named `wirecall`, so they
//!   reach whatever exporter the provider has (OTLP, stdout, a Prometheus bridge). Pass
//!   `&opentelemetry::global::meter_provider()` to use the global one: as A66 asks, wirecall
//!   never falls back on it by itself.
//! - `Metrics::prometheus(&mut registry)` (feature `prometheus`): the same measurements as
//!   series of a `prometheus_client::registry::Registry` you own, so the scrape endpoint that
//!   already serves it serves these too; `metrics::serve` is such an endpoint for a service
//!   that has none.
//!
//! `Metrics::builder()` takes both (and more than one of each). Each backend's instruments
//! are created once, when it is added; recording a call takes no lock of wirecall's (the
//! backends aggregate per series, as their own designs do).
//!
//! # Instruments
//!
//! | A66 instrument | kind, unit | attributes | Prometheus series |
//! | --- | --- | --- | --- |
//! | `grpc.server.call.started` | counter, `{call}` | method | `grpc_server_call_started_total` |
//! | `grpc.server.call.duration` | histogram, `s` | method, status | `grpc_server_call_duration_seconds` |
//! | `grpc.server.call.sent_total_compressed_message_size` | histogram, `By` | method, status | `grpc_server_call_sent_total_compressed_message_size_bytes` |
//! | `grpc.server.call.rcvd_total_compressed_message_size` | histogram, `By` | method, status | `grpc_server_call_rcvd_total_compressed_message_size_bytes` |
//! | `grpc.client.attempt.started` | counter, `{attempt}` | method, target | `grpc_client_attempt_started_total` |
//! | `grpc.client.attempt.duration` | histogram, `s` | method, target, status | `grpc_client_attempt_duration_seconds` |
//! | `grpc.client.attempt.sent_total_compressed_message_size` | histogram, `By` | method, target, status | `grpc_client_attempt_sent_total_compressed_message_size_bytes` |
//! | `grpc.client.attempt.rcvd_total_compressed_message_size` | histogram, `By` | method, target, status | `grpc_client_attempt_rcvd_total_compressed_message_size_bytes` |
//! | `grpc.client.call.duration` | histogram, `s` | method, target, status | `grpc_client_call_duration_seconds` |
//!
//! Attributes (labels `grpc_method`, `grpc_target`, `grpc_status` in Prometheus):
//! - `grpc.method`: `package.Service/Method`. A server only records methods it has: a call
//!   to one it does not know is refused before any interceptor runs, so no caller can make
//!   up method names to record (A66's `"other"` never arises, and those refusals are not
//!   counted).
//! - `grpc.target`: the channel's target with its scheme ([`ClientCallInfo::target`]),
//!   or `"other"` where [`MetricsBuilder::target_filter`] says so (targets that are IP
//!   addresses can make many series).
//! - `grpc.status`: the status code's name, `OK`, `NOT_FOUND`, ...
//!
//! Histograms take A66's bucket boundaries ([`LATENCY_BUCKETS`], [`SIZE_BUCKETS`]; in
//! OpenTelemetry as the instruments' advice, which a view of the SDK may override). Sizes
//! are of the messages as sent, compressed if they were, without the 5 bytes of gRPC
//! framing each.
//!
//! A client call has one attempt, or several when the service config retries or hedges its
//! method (or a refused stream is resent transparently): each attempt records
//! `attempt.started`, and when it ends its own duration, sizes and status (a hedge that
//! lost: `CANCELLED`); `call.duration` is recorded once, with the call's status.
//!
//! Place the server interceptor first ([`ServerBuilder::interceptor`]), so calls that a
//! later interceptor refuses (authentication, say) are counted too.
//!
//! ```ignore
//! // Feature `prometheus`, with the registry your /metrics endpoint already encodes.
//! let mut registry = prometheus_client::registry::Registry::default();
//! let metrics = wirecall::metrics::Metrics::prometheus(&mut registry);
//! // Feature `opentelemetry-metrics`, with the provider your OTLP exporter is on.
//! let metrics = wirecall::metrics::Metrics::opentelemetry(&meter_provider);
//!
//! let server = wirecall::Server::builder()
//!     .interceptor(metrics.server())
//!     .add_service(service);
//! let channel = wirecall::Endpoint::new("dns:///orders:50051")?
//!     .interceptor(metrics.client())
//!     .connect_lazy();
//! ```
//!
//! [`ServerBuilder::interceptor`]: crate::server::ServerBuilder::interceptor
//! [`ClientCallInfo::target`]: crate::interceptor::ClientCallInfo::target

#[cfg(feature = "prometheus")]
mod http;
#[cfg(feature = "opentelemetry-metrics")]
mod otel;
#[cfg(feature = "prometheus")]
mod prometheus;

#[cfg(feature = "prometheus")]
pub use http::serve;

use std::fmt;
use std::sync::Arc;

use crate::interceptor::{
    AttemptInfo, CallInfo, ClientCallInfo, ClientInterceptor, IncomingCall, Interceptor,
    OutgoingCall, Totals,
};
use crate::{Code, Status};

/// A66's latency bucket boundaries, in seconds (0 to 100 s).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005,
    0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16,
    0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

/// A66's size bucket boundaries, in bytes (0 to 4 GiB, in powers of 4 from 1 KiB).
pub const SIZE_BUCKETS: &[f64] = &[
    0.0,
    1024.0,
    2048.0,
    4096.0,
    16384.0,
    65536.0,
    262144.0,
    1048576.0,
    4194304.0,
    16777216.0,
    67108864.0,
    268435456.0,
    1073741824.0,
    4294967296.0,
];

/// The gRPC frame header before each message: a compression flag and a 4-byte length.
const FRAME_HEADER: u64 = 5;

/// What the recorded `grpc.target` becomes when the target filter refuses a target.
const OTHER: &str = "other";

/// One call's (or attempt's) end, as recorded.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(
    not(any(feature = "opentelemetry-metrics", feature = "prometheus")),
    allow(
        dead_code,
        reason = "read by the backends, which this build has none of"
    )
)]
struct Ended {
    status: Code,
    seconds: f64,
    /// Message bytes sent and received, without framing.
    sent: u64,
    rcvd: u64,
}

/// A backend the interceptors record into; its instruments exist before the first call.
trait Sink: Send + Sync + fmt::Debug {
    fn server_started(&self, method: &str);
    fn server_ended(&self, method: &str, end: Ended);
    fn attempt_started(&self, method: &str, target: &Arc<str>);
    fn attempt_ended(&self, method: &str, target: &Arc<str>, end: Ended);
    fn call_ended(&self, method: &str, target: &Arc<str>, status: Code, seconds: f64);
}

type TargetFilter = dyn Fn(&str) -> bool + Send + Sync;

/// The backends of a [`Metrics`] and its options.
struct Shared {
    sinks: Vec<Box<dyn Sink>>,
    target_filter: Option<Box<TargetFilter>>,
    other: Arc<str>,
}

/// Call metrics: the interceptors that record them, and the backends they record into.
/// Cheap to clone; clones record into the same instruments.
#[derive(Clone)]
pub struct Metrics {
    shared: Arc<Shared>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("backends", &self.shared.sinks)
            .field("target_filter", &self.shared.target_filter.is_some())
            .finish()
    }
}

/// Builds a [`Metrics`]: its backends (any number) and options.
#[derive(Default)]
pub struct MetricsBuilder {
    sinks: Vec<Box<dyn Sink>>,
    target_filter: Option<Box<TargetFilter>>,
}

impl fmt::Debug for MetricsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsBuilder")
            .field("backends", &self.sinks)
            .field("target_filter", &self.target_filter.is_some())
            .finish()
    }
}

impl MetricsBuilder {
    /// Records through the OpenTelemetry metrics API: the A66 instruments are created on
    /// `provider`'s meter `wirecall` (with this crate's version) now, once. Feature
    /// `opentelemetry-metrics`.
    #[cfg(feature = "opentelemetry-metrics")]
    pub fn opentelemetry<P>(mut self, provider: &P) -> Self
    where
        P: opentelemetry::metrics::MeterProvider + ?Sized,
    {
        self.sinks.push(Box::new(otel::Instruments::new(provider)));
        self
    }

    /// Records into `registry` (a prometheus-client registry, or a sub-registry with a
    /// prefix or labels of your own): its series are registered now, once. Feature
    /// `prometheus`.
    #[cfg(feature = "prometheus")]
    pub fn prometheus(mut self, registry: &mut prometheus_client::registry::Registry) -> Self {
        self.sinks
            .push(Box::new(prometheus::Families::register(registry)));
        self
    }

    /// Records the `grpc.target` of a client call's channel only where `record(target)` is
    /// true, and `"other"` elsewhere (A66's guard against many series, e.g. one per IP
    /// address). Every target is recorded by default.
    pub fn target_filter(mut self, record: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.target_filter = Some(Box::new(record));
        self
    }

    /// The metrics, recording into the backends added.
    pub fn build(self) -> Metrics {
        Metrics {
            shared: Arc::new(Shared {
                sinks: self.sinks,
                target_filter: self.target_filter,
                other: Arc::from(OTHER),
            }),
        }
    }
}

impl Metrics {
    /// A builder, with no backend yet.
    pub fn builder() -> MetricsBuilder {
        MetricsBuilder::default()
    }

    /// Metrics recorded through the OpenTelemetry metrics API on `provider`
    /// ([`MetricsBuilder::opentelemetry`]). Feature `opentelemetry-metrics`.
    #[cfg(feature = "opentelemetry-metrics")]
    pub fn opentelemetry<P>(provider: &P) -> Metrics
    where
        P: opentelemetry::metrics::MeterProvider + ?Sized,
    {
        Metrics::builder().opentelemetry(provider).build()
    }

    /// Metrics recorded into a prometheus-client `registry`
    /// ([`MetricsBuilder::prometheus`]). Feature `prometheus`.
    #[cfg(feature = "prometheus")]
    pub fn prometheus(registry: &mut prometheus_client::registry::Registry) -> Metrics {
        Metrics::builder().prometheus(registry).build()
    }

    /// The server interceptor that records server calls.
    pub fn server(&self) -> ServerMetrics {
        ServerMetrics(self.clone())
    }

    /// The client interceptor that records client calls and their attempts.
    pub fn client(&self) -> ClientMetrics {
        ClientMetrics(self.clone())
    }

    fn sinks(&self) -> &[Box<dyn Sink>] {
        &self.shared.sinks
    }

    /// The `grpc.target` to record for a call.
    fn target<'a>(&'a self, call: &'a ClientCallInfo) -> &'a Arc<str> {
        match &self.shared.target_filter {
            Some(record) if !record(&call.target) => &self.shared.other,
            _ => &call.target,
        }
    }
}

/// The message bytes of `totals`, without the gRPC framing of each message.
fn unframed(totals: &Totals) -> u64 {
    totals
        .bytes()
        .saturating_sub(FRAME_HEADER * totals.messages())
}

/// A client call's `grpc.method`: its path without the leading slash.
fn client_method(call: &ClientCallInfo) -> &str {
    call.path().trim_start_matches('/')
}

/// Records server calls: `grpc.server.call.*`.
#[derive(Clone, Debug)]
pub struct ServerMetrics(Metrics);

impl Interceptor for ServerMetrics {
    fn on_call(
        &self,
        call: &mut IncomingCall,
    ) -> impl std::future::Future<Output = Result<(), Status>> + Send {
        let sinks = self.0.sinks();
        if !sinks.is_empty() {
            let info = call.info();
            let method = format!("{}/{}", info.service(), info.method());
            for sink in sinks {
                sink.server_started(&method);
            }
        }
        std::future::ready(Ok(()))
    }

    fn on_end(&self, call: &CallInfo, status: &Status) {
        let sinks = self.0.sinks();
        if sinks.is_empty() {
            return;
        }
        let method = format!("{}/{}", call.service(), call.method());
        let end = Ended {
            status: status.code(),
            seconds: call.started().elapsed().as_secs_f64(),
            sent: unframed(call.sent()),
            rcvd: unframed(call.received()),
        };
        for sink in sinks {
            sink.server_ended(&method, end);
        }
    }
}

/// Records client calls: `grpc.client.attempt.*` per attempt, `grpc.client.call.duration`
/// per call.
#[derive(Clone, Debug)]
pub struct ClientMetrics(Metrics);

impl ClientInterceptor for ClientMetrics {
    fn on_call(
        &self,
        call: &mut OutgoingCall,
    ) -> impl std::future::Future<Output = Result<(), Status>> + Send {
        // Nothing to record yet: A66 counts attempts as they start.
        let _ = call;
        std::future::ready(Ok(()))
    }

    fn on_attempt(&self, call: &ClientCallInfo, attempt: &AttemptInfo) {
        let _ = attempt;
        let target = self.0.target(call);
        for sink in self.0.sinks() {
            sink.attempt_started(client_method(call), target);
        }
    }

    fn on_attempt_end(&self, call: &ClientCallInfo, attempt: &AttemptInfo, status: &Status) {
        let end = Ended {
            status: status.code(),
            seconds: attempt.started().elapsed().as_secs_f64(),
            sent: unframed(attempt.sent()),
            rcvd: unframed(attempt.received()),
        };
        let target = self.0.target(call);
        for sink in self.0.sinks() {
            sink.attempt_ended(client_method(call), target, end);
        }
    }

    fn on_end(&self, call: &ClientCallInfo, status: &Status) {
        let seconds = call.started().elapsed().as_secs_f64();
        let target = self.0.target(call);
        for sink in self.0.sinks() {
            sink.call_ended(client_method(call), target, status.code(), seconds);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_boundaries_are_a66s_and_increase() {
        for buckets in [LATENCY_BUCKETS, SIZE_BUCKETS] {
            assert_eq!(buckets[0], 0.0);
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{buckets:?}");
        }
        assert_eq!(LATENCY_BUCKETS.len(), 41);
        assert_eq!(LATENCY_BUCKETS[LATENCY_BUCKETS.len() - 1], 100.0);
        assert_eq!(SIZE_BUCKETS.len(), 14);
        assert_eq!(SIZE_BUCKETS[SIZE_BUCKETS.len() - 1], 4294967296.0);
    }

    #[test]
    fn sizes_are_counted_without_framing() {
        let totals = Totals::default();
        assert_eq!(unframed(&totals), 0);
        totals.add(5 + 100);
        totals.add(5);
        assert_eq!(unframed(&totals), 100);
    }

    #[test]
    fn without_a_backend_nothing_is_recorded_and_nothing_fails() {
        let metrics = Metrics::builder().build();
        assert!(metrics.sinks().is_empty());
        let _ = (metrics.server(), metrics.client());
    }
}
