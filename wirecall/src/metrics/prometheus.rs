//! The A66 measurements as series of a prometheus-client registry.

use std::fmt::Write;
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::{Ended, Sink, LATENCY_BUCKETS, SIZE_BUCKETS};
use crate::Code;

/// A channel target as a label value, shared rather than copied per call.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Target(Arc<str>);

impl EncodeLabelValue for Target {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(&self.0)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    grpc_method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndLabels {
    grpc_method: String,
    grpc_status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    grpc_method: String,
    grpc_target: Target,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptEndLabels {
    grpc_method: String,
    grpc_target: Target,
    grpc_status: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    Histogram::new(LATENCY_BUCKETS.iter().copied())
}

fn size() -> Histogram {
    Histogram::new(SIZE_BUCKETS.iter().copied())
}

/// Every series family, registered once in one registry.
pub(super) struct Families {
    server_started: Family<MethodLabels, Counter>,
    server_duration: Histograms<EndLabels>,
    server_sent: Histograms<EndLabels>,
    server_rcvd: Histograms<EndLabels>,
    attempt_started: Family<AttemptLabels, Counter>,
    attempt_duration: Histograms<AttemptEndLabels>,
    attempt_sent: Histograms<AttemptEndLabels>,
    attempt_rcvd: Histograms<AttemptEndLabels>,
    call_duration: Histograms<AttemptEndLabels>,
}

impl std::fmt::Debug for Families {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the series: a registry can hold many.
        f.write_str("prometheus-client registry")
    }
}

impl Families {
    /// Registers every family in `registry` (the encoders add `_total` to counters, and the
    /// unit to the others' names).
    pub(super) fn register(registry: &mut Registry) -> Self {
        let families = Families {
            server_started: Family::default(),
            server_duration: Family::new_with_constructor(latency),
            server_sent: Family::new_with_constructor(size),
            server_rcvd: Family::new_with_constructor(size),
            attempt_started: Family::default(),
            attempt_duration: Family::new_with_constructor(latency),
            attempt_sent: Family::new_with_constructor(size),
            attempt_rcvd: Family::new_with_constructor(size),
            call_duration: Family::new_with_constructor(latency),
        };
        registry.register(
            "grpc_server_call_started",
            "Server calls started, including those not ended yet (grpc.server.call.started)",
            families.server_started.clone(),
        );
        registry.register_with_unit(
            "grpc_server_call_duration",
            "Server call durations, from request headers to status (grpc.server.call.duration)",
            Unit::Seconds,
            families.server_duration.clone(),
        );
        registry.register_with_unit(
            "grpc_server_call_sent_total_compressed_message_size",
            "Bytes of each server call's response messages, compressed, without framing",
            Unit::Bytes,
            families.server_sent.clone(),
        );
        registry.register_with_unit(
            "grpc_server_call_rcvd_total_compressed_message_size",
            "Bytes of each server call's request messages, compressed, without framing",
            Unit::Bytes,
            families.server_rcvd.clone(),
        );
        registry.register(
            "grpc_client_attempt_started",
            "Client call attempts started, including those not ended yet \
             (grpc.client.attempt.started)",
            families.attempt_started.clone(),
        );
        registry.register_with_unit(
            "grpc_client_attempt_duration",
            "Client attempt durations, connection pick included (grpc.client.attempt.duration)",
            Unit::Seconds,
            families.attempt_duration.clone(),
        );
        registry.register_with_unit(
            "grpc_client_attempt_sent_total_compressed_message_size",
            "Bytes of each client attempt's request messages, compressed, without framing",
            Unit::Bytes,
            families.attempt_sent.clone(),
        );
        registry.register_with_unit(
            "grpc_client_attempt_rcvd_total_compressed_message_size",
            "Bytes of each client attempt's response messages, compressed, without framing",
            Unit::Bytes,
            families.attempt_rcvd.clone(),
        );
        registry.register_with_unit(
            "grpc_client_call_duration",
            "Client call durations as the application sees them (grpc.client.call.duration)",
            Unit::Seconds,
            families.call_duration.clone(),
        );
        families
    }
}

impl Sink for Families {
    fn server_started(&self, method: &str) {
        let labels = MethodLabels {
            grpc_method: method.to_owned(),
        };
        self.server_started.get_or_create(&labels).inc();
    }

    fn server_ended(&self, method: &str, end: Ended) {
        let labels = EndLabels {
            grpc_method: method.to_owned(),
            grpc_status: end.status.name(),
        };
        self.server_duration
            .get_or_create(&labels)
            .observe(end.seconds);
        self.server_sent
            .get_or_create(&labels)
            .observe(end.sent as f64);
        self.server_rcvd
            .get_or_create(&labels)
            .observe(end.rcvd as f64);
    }

    fn attempt_started(&self, method: &str, target: &Arc<str>) {
        let labels = AttemptLabels {
            grpc_method: method.to_owned(),
            grpc_target: Target(target.clone()),
        };
        self.attempt_started.get_or_create(&labels).inc();
    }

    fn attempt_ended(&self, method: &str, target: &Arc<str>, end: Ended) {
        let labels = AttemptEndLabels {
            grpc_method: method.to_owned(),
            grpc_target: Target(target.clone()),
            grpc_status: end.status.name(),
        };
        self.attempt_duration
            .get_or_create(&labels)
            .observe(end.seconds);
        self.attempt_sent
            .get_or_create(&labels)
            .observe(end.sent as f64);
        self.attempt_rcvd
            .get_or_create(&labels)
            .observe(end.rcvd as f64);
    }

    fn call_ended(&self, method: &str, target: &Arc<str>, status: Code, seconds: f64) {
        let labels = AttemptEndLabels {
            grpc_method: method.to_owned(),
            grpc_target: Target(target.clone()),
            grpc_status: status.name(),
        };
        self.call_duration.get_or_create(&labels).observe(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::prometheus_text::encode;

    #[test]
    fn series_are_named_as_a66_in_prometheus_form_with_a66_buckets() {
        let mut registry = Registry::default();
        let families = Families::register(&mut registry);
        let target: Arc<str> = Arc::from("dns:///a\"b:443");
        families.server_started("p.S/M");
        families.server_ended(
            "p.S/M",
            Ended {
                status: Code::NotFound,
                seconds: 0.0002,
                sent: 0,
                rcvd: 3000,
            },
        );
        families.attempt_started("p.S/M", &target);
        families.call_ended("p.S/M", &target, Code::Ok, 0.5);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for line in [
            "# TYPE grpc_server_call_started_total counter",
            "grpc_server_call_started_total{grpc_method=\"p.S/M\"} 1",
            "# TYPE grpc_server_call_duration_seconds histogram",
            // 0.0002 s falls in the bucket (0.0001, 0.0003].
            "grpc_server_call_duration_seconds_bucket{grpc_method=\"p.S/M\",grpc_status=\"NOT_FOUND\",le=\"0.0001\"} 0",
            "grpc_server_call_duration_seconds_bucket{grpc_method=\"p.S/M\",grpc_status=\"NOT_FOUND\",le=\"0.0003\"} 1",
            "grpc_server_call_rcvd_total_compressed_message_size_bytes_bucket{grpc_method=\"p.S/M\",grpc_status=\"NOT_FOUND\",le=\"2048\"} 0",
            "grpc_server_call_rcvd_total_compressed_message_size_bytes_bucket{grpc_method=\"p.S/M\",grpc_status=\"NOT_FOUND\",le=\"4096\"} 1",
            "grpc_client_attempt_started_total{grpc_method=\"p.S/M\",grpc_target=\"dns:///a\\\"b:443\"} 1",
            "grpc_client_call_duration_seconds_count{grpc_method=\"p.S/M\",grpc_target=\"dns:///a\\\"b:443\",grpc_status=\"OK\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
    }
}
