//! gRFC A66 call metrics over real sockets, into the two pipelines a service already has:
//! an OpenTelemetry SDK (read back through its in-memory exporter) with retried and hedged
//! calls, and a prometheus-client registry, served by `metrics::serve`, scraped over HTTP
//! and parsed by the Python reference parser of the exposition format.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use prometheus_client::registry::Registry;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use wirecall::interceptor::{CallInfo, Interceptor};
use wirecall::metrics::{Metrics, LATENCY_BUCKETS, SIZE_BUCKETS};
use wirecall::{Code, Request, Response, Status};
use wirecall_tests::echo::{EchoClient, EchoRequest};
use wirecall_tests::greeter::{Greeter, GreeterClient, GreeterServer, HelloReply, HelloRequest};

use common::{bounded, echo, local_listener};

/// Tells the test each call the server has ended. Added before the metrics interceptor, so
/// its `on_end` runs after the metrics' (last to first): the call is recorded by then.
struct Ends(mpsc::UnboundedSender<String>);

impl Interceptor for Ends {
    fn on_end(&self, call: &CallInfo, status: &Status) {
        let _ = self.0.send(format!(
            "{}/{} {:?}",
            call.service(),
            call.method(),
            status.code()
        ));
    }
}

/// Waits until the server has ended `n` more calls.
async fn ended(ends: &mut mpsc::UnboundedReceiver<String>, n: usize) {
    bounded("the server ends its calls", async {
        for _ in 0..n {
            ends.recv().await.expect("the server is running");
        }
    })
    .await;
}

/// A Greeter that, per name, fails the first call named `retry` with UNAVAILABLE, leaves
/// the first named `hedge` hanging until it is cancelled, and answers every other.
#[derive(Clone, Default)]
struct Flaky {
    seen: Arc<Mutex<HashMap<String, usize>>>,
}

fn greeting(name: &str) -> HelloReply {
    HelloReply {
        message: format!("hello {name}"),
    }
}

impl Greeter for Flaky {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let name = request.into_inner().name;
        let n = {
            let mut seen = self.seen.lock().unwrap();
            let count = seen.entry(name.clone()).or_default();
            *count += 1;
            *count - 1
        };
        match (name.as_str(), n) {
            ("retry", 0) => Err(Status::unavailable("the first attempt fails")),
            ("hedge", 0) => std::future::pending().await,
            _ => Ok(Response::new(greeting(&name))),
        }
    }
}

const GREETER_CONFIG: &str = r#"{"methodConfig": [
    {"name": [{"service": "greeter.Greeter", "method": "SayHello"}],
     "retryPolicy": {"maxAttempts": 2, "initialBackoff": "0.01s", "maxBackoff": "0.01s",
                     "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#;

const HEDGED_CONFIG: &str = r#"{"methodConfig": [
    {"name": [{"service": "greeter.Greeter"}],
     "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "0.02s"}}]}"#;

/// One data point as the SDK exported it.
#[derive(Debug)]
struct Point {
    attributes: BTreeMap<String, String>,
    /// A counter's value, or a histogram's count.
    count: u64,
    sum: f64,
    bounds: Vec<f64>,
}

/// An instrument as the SDK exported it.
#[derive(Debug)]
struct Instrument {
    unit: String,
    points: Vec<Point>,
}

impl Instrument {
    /// The point with exactly these attributes.
    fn point(&self, attributes: &[(&str, &str)]) -> &Point {
        let wanted: BTreeMap<String, String> = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.points
            .iter()
            .find(|p| p.attributes == wanted)
            .unwrap_or_else(|| panic!("no point {wanted:?} in {:#?}", self.points))
    }
}

fn attributes<'a>(
    kvs: impl Iterator<Item = &'a opentelemetry::KeyValue>,
) -> BTreeMap<String, String> {
    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

fn points<T: Copy + std::fmt::Debug>(data: &MetricData<T>, float: impl Fn(T) -> f64) -> Vec<Point> {
    match data {
        MetricData::Histogram(h) => h
            .data_points()
            .map(|p| Point {
                attributes: attributes(p.attributes()),
                count: p.count(),
                sum: float(p.sum()),
                bounds: p.bounds().collect(),
            })
            .collect(),
        MetricData::Sum(s) => s
            .data_points()
            .map(|p| Point {
                attributes: attributes(p.attributes()),
                count: float(p.value()) as u64,
                sum: float(p.value()),
                bounds: Vec::new(),
            })
            .collect(),
        other => panic!("unexpected data {other:?}"),
    }
}

/// Everything the provider has recorded, by instrument name.
fn collect(
    provider: &SdkMeterProvider,
    exporter: &InMemoryMetricExporter,
) -> HashMap<String, Instrument> {
    provider.force_flush().expect("flush");
    let exported = exporter.get_finished_metrics().expect("exported metrics");
    let last = exported.last().expect("one export");
    let mut instruments = HashMap::new();
    for scope in last.scope_metrics() {
        assert_eq!(scope.scope().name(), "wirecall");
        for metric in scope.metrics() {
            let points = match metric.data() {
                AggregatedMetrics::F64(data) => points(data, |v| v),
                AggregatedMetrics::U64(data) => points(data, |v| v as f64),
                AggregatedMetrics::I64(data) => panic!("unexpected i64 data {data:?}"),
            };
            instruments.insert(
                metric.name().to_owned(),
                Instrument {
                    unit: metric.unit().to_owned(),
                    points,
                },
            );
        }
    }
    instruments
}

/// One unary call that fails `NOT_FOUND`, then a server stream of four messages read to its
/// end; the bytes of the streamed messages (without framing, as A66 counts them).
async fn not_found_then_a_stream_of_four(client: &EchoClient) -> usize {
    let mut failing = echo("missing");
    failing.fail_code = Code::NotFound.as_i32();
    let status = bounded("failing", client.unary(failing))
        .await
        .expect_err("not found");
    assert_eq!(status.code(), Code::NotFound);
    let request = EchoRequest {
        repeat: 4,
        ..echo("stream")
    };
    let mut stream = bounded("stream", client.server_stream(request))
        .await
        .expect("stream")
        .into_inner();
    let mut bytes = 0;
    while let Some(message) = bounded("message", stream.message()).await.expect("ok") {
        bytes += message.encoded_len();
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opentelemetry_sdk_sees_every_a66_instrument_per_attempt() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let metrics = Metrics::opentelemetry(&provider);
    let (ends_tx, mut ends) = mpsc::unbounded_channel();
    let server = common::start_with(|b| {
        b.interceptor(Ends(ends_tx))
            .interceptor(metrics.server())
            .add_service(GreeterServer::new(Flaky::default()))
    })
    .await;
    let endpoint = || server.endpoint().interceptor(metrics.client());
    let target = format!("http://{}", server.addr);

    // Retried: UNAVAILABLE, then OK. Hedged: the first attempt hangs, the second answers.
    let retried = GreeterClient::new(
        endpoint()
            .service_config_json(GREETER_CONFIG)
            .expect("config")
            .connect_lazy(),
    );
    let reply = bounded(
        "retried call",
        retried.say_hello(HelloRequest {
            name: "retry".into(),
        }),
    )
    .await
    .expect("the retry answers");
    assert_eq!(reply.get_ref().message, "hello retry");
    let hedged = GreeterClient::new(
        endpoint()
            .service_config_json(HEDGED_CONFIG)
            .expect("config")
            .connect_lazy(),
    );
    bounded(
        "hedged call",
        hedged.say_hello(HelloRequest {
            name: "hedge".into(),
        }),
    )
    .await
    .expect("the hedge answers");
    // Not retried (the config names the Greeter only): NOT_FOUND, and a stream of four.
    let client = EchoClient::new(endpoint().connect_lazy());
    let stream_bytes = not_found_then_a_stream_of_four(&client).await as u64;
    // Server: retry 2 + hedge 2 (the loser ends as the client cancels it) + 2 echo calls.
    ended(&mut ends, 6).await;

    let got = collect(&provider, &exporter);
    let mut names: Vec<&String> = got.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "grpc.client.attempt.duration",
            "grpc.client.attempt.rcvd_total_compressed_message_size",
            "grpc.client.attempt.sent_total_compressed_message_size",
            "grpc.client.attempt.started",
            "grpc.client.call.duration",
            "grpc.server.call.duration",
            "grpc.server.call.rcvd_total_compressed_message_size",
            "grpc.server.call.sent_total_compressed_message_size",
            "grpc.server.call.started",
        ]
    );
    for (name, unit) in [
        ("grpc.client.attempt.started", "{attempt}"),
        ("grpc.client.attempt.duration", "s"),
        (
            "grpc.client.attempt.sent_total_compressed_message_size",
            "By",
        ),
        ("grpc.client.call.duration", "s"),
        ("grpc.server.call.started", "{call}"),
        ("grpc.server.call.duration", "s"),
        ("grpc.server.call.rcvd_total_compressed_message_size", "By"),
    ] {
        assert_eq!(got[name].unit, unit, "{name}");
    }

    let hello = "greeter.Greeter/SayHello";
    let unary = "wirecall.test.echo.Echo/Unary";
    let streamed = "wirecall.test.echo.Echo/ServerStream";
    let request_bytes = HelloRequest {
        name: "retry".into(),
    }
    .encoded_len() as f64;
    let reply_bytes = |name: &str| greeting(name).encoded_len() as f64;
    let client = |method: &'static str| [("grpc.method", method), ("grpc.target", &*target)];
    let client_ended = |method: &'static str, status: &'static str| {
        [
            ("grpc.method", method),
            ("grpc.status", status),
            ("grpc.target", &*target),
        ]
    };

    // Client: four attempts of the Greeter's one method, in two calls.
    let started = &got["grpc.client.attempt.started"];
    assert_eq!(started.point(&client(hello)).count, 4);
    assert_eq!(started.point(&client(unary)).count, 1);
    assert_eq!(started.point(&client(streamed)).count, 1);
    let attempts = &got["grpc.client.attempt.duration"];
    for (status, count) in [("UNAVAILABLE", 1), ("CANCELLED", 1), ("OK", 2)] {
        let point = attempts.point(&client_ended(hello, status));
        assert_eq!(point.count, count, "{status}");
        assert_eq!(point.bounds, LATENCY_BUCKETS, "A66's latency buckets");
    }
    let calls = &got["grpc.client.call.duration"];
    assert_eq!(calls.point(&client_ended(hello, "OK")).count, 2);
    assert_eq!(calls.points.len(), 3, "{:#?}", calls.points);
    assert_eq!(calls.point(&client_ended(unary, "NOT_FOUND")).count, 1);
    // A call's duration covers its attempts: the retried call's its failed attempt, and
    // the hedged call's at least the hedging delay (20 ms) before its second attempt.
    let failed_attempt = attempts.point(&client_ended(hello, "UNAVAILABLE")).sum;
    let calls_ok = calls.point(&client_ended(hello, "OK")).sum;
    assert!(
        calls_ok > failed_attempt + 0.02,
        "{calls_ok} vs {failed_attempt}"
    );

    // Sizes per attempt, without framing: every attempt sent the request; only the
    // attempts that committed received an answer.
    let sent = &got["grpc.client.attempt.sent_total_compressed_message_size"];
    let rcvd = &got["grpc.client.attempt.rcvd_total_compressed_message_size"];
    for (status, sent_bytes, rcvd_bytes) in [
        ("UNAVAILABLE", request_bytes, 0.0),
        ("CANCELLED", request_bytes, 0.0),
        (
            "OK",
            2.0 * request_bytes,
            reply_bytes("retry") + reply_bytes("hedge"),
        ),
    ] {
        assert_eq!(
            sent.point(&client_ended(hello, status)).sum,
            sent_bytes,
            "{status}"
        );
        let point = rcvd.point(&client_ended(hello, status));
        assert_eq!(point.sum, rcvd_bytes, "{status}");
        assert_eq!(point.bounds, SIZE_BUCKETS, "A66's size buckets");
    }
    assert_eq!(
        rcvd.point(&client_ended(streamed, "OK")).sum,
        stream_bytes as f64
    );

    // Server: every attempt is a call of its own.
    let server_started = &got["grpc.server.call.started"];
    assert_eq!(server_started.point(&[("grpc.method", hello)]).count, 4);
    assert_eq!(server_started.point(&[("grpc.method", unary)]).count, 1);
    let server_ended = |method: &'static str, status: &'static str| {
        [("grpc.method", method), ("grpc.status", status)]
    };
    let durations = &got["grpc.server.call.duration"];
    for (status, count) in [("UNAVAILABLE", 1), ("CANCELLED", 1), ("OK", 2)] {
        assert_eq!(
            durations.point(&server_ended(hello, status)).count,
            count,
            "{status}"
        );
    }
    assert_eq!(durations.point(&server_ended(streamed, "OK")).count, 1);
    let server_rcvd = &got["grpc.server.call.rcvd_total_compressed_message_size"];
    assert_eq!(
        server_rcvd.point(&server_ended(hello, "OK")).sum,
        2.0 * request_bytes
    );
    let server_sent = &got["grpc.server.call.sent_total_compressed_message_size"];
    assert_eq!(
        server_sent.point(&server_ended(hello, "UNAVAILABLE")).sum,
        0.0
    );
    assert_eq!(
        server_sent.point(&server_ended(streamed, "OK")).sum,
        stream_bytes as f64
    );
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `GET /metrics` over HTTP/1.1; returns the status line, the content type and the body.
async fn scrape(addr: std::net::SocketAddr) -> (String, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.lines().next().unwrap_or_default().to_owned();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// Every sample, as parsed by prometheus_client: `name{labels}` (sorted) -> (type, value).
fn parse(exposition: &str) -> HashMap<String, (String, f64)> {
    let python = root().join("target/peers/venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/install-peers.sh (scripts/test.sh does)",
        python.display()
    );
    let mut child = Command::new(python)
        .arg(root().join("wirecall-tests/scripts/parse_metrics.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the parser");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(exposition.as_bytes()).expect("write");
    }
    let output = child.wait_with_output().expect("parser output");
    assert!(
        output.status.success(),
        "prometheus_client could not parse:\n{}\n{exposition}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| {
            let mut parts = line.split('\t');
            let kind = parts.next().expect("type").to_owned();
            let sample = parts.next().expect("sample").to_owned();
            let value: f64 = parts.next().expect("value").parse().expect("number");
            (sample, (kind, value))
        })
        .collect()
}

fn value(samples: &HashMap<String, (String, f64)>, key: &str) -> f64 {
    match samples.get(key) {
        Some((_, v)) => *v,
        None => {
            let mut known: Vec<&String> = samples.keys().collect();
            known.sort();
            panic!("{key} missing; samples: {known:#?}")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prometheus_client_registry_serves_the_series_and_they_parse() {
    let mut registry = Registry::default();
    // Targets that are not DNS names are recorded as "other" (A66's cardinality guard).
    let metrics = Metrics::builder()
        .prometheus(&mut registry)
        .target_filter(|target| target.starts_with("dns:"))
        .build();
    let (ends_tx, mut ends) = mpsc::unbounded_channel();
    let server =
        common::start_with(|b| b.interceptor(Ends(ends_tx)).interceptor(metrics.server())).await;
    let client = EchoClient::new(
        server
            .endpoint()
            .interceptor(metrics.client())
            .connect_lazy(),
    );

    // Three successful unary calls, one NOT_FOUND, one server stream of four messages.
    for i in 0..3 {
        bounded("unary", client.unary(echo(&format!("ok{i}"))))
            .await
            .expect("ok");
    }
    let stream_bytes = not_found_then_a_stream_of_four(&client).await;
    ended(&mut ends, 5).await;

    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(wirecall::metrics::serve(Arc::new(registry), listener));
    let (status, content_type, body) = scrape(addr).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let samples = parse(&body);

    let unary = "wirecall.test.echo.Echo/Unary";
    let stream_method = "wirecall.test.echo.Echo/ServerStream";
    let server = |name: &str, method: &str, status: Option<&str>| match status {
        Some(status) => format!("{name}{{grpc_method=\"{method}\",grpc_status=\"{status}\"}}"),
        None => format!("{name}{{grpc_method=\"{method}\"}}"),
    };
    let started = server("grpc_server_call_started_total", unary, None);
    assert_eq!(samples[&started].0, "counter");
    assert_eq!(value(&samples, &started), 4.0);
    assert_eq!(
        value(
            &samples,
            &server("grpc_server_call_started_total", stream_method, None)
        ),
        1.0
    );
    let count = "grpc_server_call_duration_seconds_count";
    assert_eq!(value(&samples, &server(count, unary, Some("OK"))), 3.0);
    assert_eq!(
        value(&samples, &server(count, unary, Some("NOT_FOUND"))),
        1.0
    );
    assert_eq!(
        value(&samples, &server(count, stream_method, Some("OK"))),
        1.0
    );
    // Histogram buckets are cumulative and end at the count; A66's bounds.
    let bucket = |le: &str| {
        format!(
            "grpc_server_call_duration_seconds_bucket{{grpc_method=\"{unary}\",grpc_status=\"OK\",le=\"{le}\"}}"
        )
    };
    assert_eq!(value(&samples, &bucket("+Inf")), 3.0);
    assert_eq!(value(&samples, &bucket("100")), 3.0);
    assert_eq!(value(&samples, &bucket("0")), 0.0);
    let sum = value(
        &samples,
        &server("grpc_server_call_duration_seconds_sum", unary, Some("OK")),
    );
    assert!(sum > 0.0 && sum < 10.0, "{sum}");
    let sent = server(
        "grpc_server_call_sent_total_compressed_message_size_bytes_sum",
        stream_method,
        Some("OK"),
    );
    assert_eq!(
        value(&samples, &sent),
        stream_bytes as f64,
        "framing excluded"
    );

    // The client side: one attempt per call, the target recorded as "other".
    let client = |name: &str, method: &str, status: Option<&str>| match status {
        Some(status) => format!(
            "{name}{{grpc_method=\"{method}\",grpc_status=\"{status}\",grpc_target=\"other\"}}"
        ),
        None => format!("{name}{{grpc_method=\"{method}\",grpc_target=\"other\"}}"),
    };
    assert_eq!(
        value(
            &samples,
            &client("grpc_client_attempt_started_total", unary, None)
        ),
        4.0
    );
    assert_eq!(
        value(
            &samples,
            &client(
                "grpc_client_call_duration_seconds_count",
                unary,
                Some("NOT_FOUND")
            )
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            &client(
                "grpc_client_attempt_rcvd_total_compressed_message_size_bytes_sum",
                stream_method,
                Some("OK")
            )
        ),
        stream_bytes as f64
    );
    assert!(
        !body.contains("127.0.0.1"),
        "the target filter kept the address out:\n{body}"
    );
}
