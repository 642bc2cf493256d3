//! Histograms and the Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;

use super::Side;

/// Call duration bucket bounds, in seconds: 10 µs to 100 s, finer where RPCs usually land.
pub(super) const DURATION_BUCKETS: &[f64] = &[
    0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006,
    0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16, 0.2,
    0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

/// Per-call byte total bucket bounds: 0 to 4 GiB in powers of 4 from 1 KiB.
pub(super) const SIZE_BUCKETS: &[f64] = &[
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

/// A cumulative-on-render histogram: a count per bucket, plus the sum and count.
#[derive(Debug, Clone)]
pub(super) struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub(super) fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub(super) fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|bound| value <= *bound) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let mut cumulative = 0;
    for (bound, count) in h.bounds.iter().zip(&h.counts) {
        cumulative += count;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
}

/// Writes one side's families; `call_duration` also writes the durations under that name
/// (the client's per-call duration, equal to the attempt's while there are no retries).
pub(super) fn render_side(
    out: &mut String,
    prefix: &str,
    side: &Side,
    call_duration: Option<&str>,
) {
    let started = format!("{prefix}_started_total");
    header(out, &started, "counter", "Calls started, by method.");
    for (method, count) in &side.started {
        let _ = writeln!(
            out,
            "{started}{{grpc_method=\"{}\"}} {count}",
            escape(method)
        );
    }
    let labels = |method: &str, status: &str| {
        format!(
            "grpc_method=\"{}\",grpc_status=\"{status}\"",
            escape(method)
        )
    };
    let mut durations = vec![format!("{prefix}_duration_seconds")];
    durations.extend(call_duration.map(str::to_owned));
    for name in &durations {
        header(
            out,
            name,
            "histogram",
            "Call duration in seconds, by method and status.",
        );
        for ((method, status), ended) in &side.ended {
            histogram(out, name, &labels(method, status), &ended.duration);
        }
    }
    for (dir, what) in [("sent", "sent"), ("rcvd", "received")] {
        let name = format!("{prefix}_{dir}_total_compressed_message_size_bytes");
        let help = format!("Bytes {what} per call (framed, compressed), by method and status.");
        header(out, &name, "histogram", &help);
        for ((method, status), ended) in &side.ended {
            let h = if dir == "sent" {
                &ended.sent_bytes
            } else {
                &ended.rcvd_bytes
            };
            histogram(out, &name, &labels(method, status), h);
        }
        let name = format!("{prefix}_{dir}_messages_total");
        let help = format!("Messages {what}, by method and status.");
        header(out, &name, "counter", &help);
        for ((method, status), ended) in &side.ended {
            let n = if dir == "sent" {
                ended.sent_messages
            } else {
                ended.rcvd_messages
            };
            let _ = writeln!(out, "{name}{{{}}} {n}", labels(method, status));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_with_inf_sum_and_count() {
        let mut h = Histogram::new(&[1.0, 5.0]);
        for v in [0.5, 1.0, 3.0, 9.0] {
            h.observe(v);
        }
        let mut out = String::new();
        histogram(&mut out, "x", "a=\"b\"", &h);
        assert_eq!(
            out,
            "x_bucket{a=\"b\",le=\"1\"} 2\nx_bucket{a=\"b\",le=\"5\"} 3\n\
             x_bucket{a=\"b\",le=\"+Inf\"} 4\nx_sum{a=\"b\"} 13.5\nx_count{a=\"b\"} 4\n"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
