//! The A66 instruments through the OpenTelemetry metrics API.

use std::sync::Arc;

use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};
use opentelemetry::{InstrumentationScope, KeyValue};

use super::{Ended, Sink, LATENCY_BUCKETS, SIZE_BUCKETS};
use crate::Code;

const METHOD: &str = "grpc.method";
const TARGET: &str = "grpc.target";
const STATUS: &str = "grpc.status";

/// Every A66 instrument, created once on one meter.
pub(super) struct Instruments {
    server_started: Counter<u64>,
    server_duration: Histogram<f64>,
    server_sent: Histogram<u64>,
    server_rcvd: Histogram<u64>,
    attempt_started: Counter<u64>,
    attempt_duration: Histogram<f64>,
    attempt_sent: Histogram<u64>,
    attempt_rcvd: Histogram<u64>,
    call_duration: Histogram<f64>,
}

impl std::fmt::Debug for Instruments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenTelemetry meter \"wirecall\"")
    }
}

fn duration(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_description(description)
        .with_unit("s")
        .with_boundaries(LATENCY_BUCKETS.to_vec())
        .build()
}

fn size(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<u64> {
    meter
        .u64_histogram(name)
        .with_description(description)
        .with_unit("By")
        .with_boundaries(SIZE_BUCKETS.to_vec())
        .build()
}

impl Instruments {
    pub(super) fn new<P: MeterProvider + ?Sized>(provider: &P) -> Self {
        let scope = InstrumentationScope::builder("wirecall")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let meter = provider.meter_with_scope(scope);
        Instruments {
            server_started: meter
                .u64_counter("grpc.server.call.started")
                .with_description("The number of calls started, including those not ended yet.")
                .with_unit("{call}")
                .build(),
            server_duration: duration(
                &meter,
                "grpc.server.call.duration",
                "The time from a call's request headers to its status, as the server sees it.",
            ),
            server_sent: size(
                &meter,
                "grpc.server.call.sent_total_compressed_message_size",
                "The bytes of a call's response messages, compressed, without framing.",
            ),
            server_rcvd: size(
                &meter,
                "grpc.server.call.rcvd_total_compressed_message_size",
                "The bytes of a call's request messages, compressed, without framing.",
            ),
            attempt_started: meter
                .u64_counter("grpc.client.attempt.started")
                .with_description(
                    "The number of call attempts started, including those not ended yet.",
                )
                .with_unit("{attempt}")
                .build(),
            attempt_duration: duration(
                &meter,
                "grpc.client.attempt.duration",
                "The time an attempt took, from before its connection was picked to its status.",
            ),
            attempt_sent: size(
                &meter,
                "grpc.client.attempt.sent_total_compressed_message_size",
                "The bytes of an attempt's request messages, compressed, without framing.",
            ),
            attempt_rcvd: size(
                &meter,
                "grpc.client.attempt.rcvd_total_compressed_message_size",
                "The bytes of an attempt's response messages, compressed, without framing.",
            ),
            call_duration: duration(
                &meter,
                "grpc.client.call.duration",
                "The time a call took as the application sees it, every attempt included.",
            ),
        }
    }
}

fn method(method: &str) -> KeyValue {
    KeyValue::new(METHOD, method.to_owned())
}

fn target(target: &Arc<str>) -> KeyValue {
    KeyValue::new(TARGET, target.clone())
}

fn status(code: Code) -> KeyValue {
    KeyValue::new(STATUS, code.name())
}

impl Sink for Instruments {
    fn server_started(&self, name: &str) {
        self.server_started.add(1, &[method(name)]);
    }

    fn server_ended(&self, name: &str, end: Ended) {
        let attributes = [method(name), status(end.status)];
        self.server_duration.record(end.seconds, &attributes);
        self.server_sent.record(end.sent, &attributes);
        self.server_rcvd.record(end.rcvd, &attributes);
    }

    fn attempt_started(&self, name: &str, to: &Arc<str>) {
        self.attempt_started.add(1, &[method(name), target(to)]);
    }

    fn attempt_ended(&self, name: &str, to: &Arc<str>, end: Ended) {
        let attributes = [method(name), target(to), status(end.status)];
        self.attempt_duration.record(end.seconds, &attributes);
        self.attempt_sent.record(end.sent, &attributes);
        self.attempt_rcvd.record(end.rcvd, &attributes);
    }

    fn call_ended(&self, name: &str, to: &Arc<str>, code: Code, seconds: f64) {
        let attributes = [method(name), target(to), status(code)];
        self.call_duration.record(seconds, &attributes);
    }
}
