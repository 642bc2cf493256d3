//! Prometheus metrics over real sockets: calls of every outcome and pattern, the registry
//! served over HTTP, scraped with a plain HTTP client and parsed by prometheus_client (the
//! Python reference parser of the exposition format).

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wirecall::metrics::Metrics;
use wirecall::Code;
use wirecall_tests::echo::{EchoClient, EchoRequest};

use common::{bounded, echo, local_listener};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `GET /metrics` over HTTP/1.1; returns the status line and the body.
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
async fn server_and_client_metrics_are_scraped_and_parse() {
    let server_metrics = Metrics::new();
    let client_metrics = Metrics::new();
    let server = common::start_with(|b| b.interceptor(server_metrics.server())).await;
    let client = EchoClient::new(
        server
            .endpoint()
            .interceptor(client_metrics.client())
            .connect_lazy(),
    );

    // Three successful unary calls, one NOT_FOUND, one server stream of four messages.
    for i in 0..3 {
        bounded("unary", client.unary(echo(&format!("ok{i}"))))
            .await
            .expect("ok");
    }
    let mut failing = echo("missing");
    failing.fail_code = Code::NotFound.as_i32();
    bounded("failing", client.unary(failing))
        .await
        .expect_err("not found");
    let request = EchoRequest {
        repeat: 4,
        ..echo("stream")
    };
    let mut stream = bounded("stream", client.server_stream(request))
        .await
        .expect("stream")
        .into_inner();
    while bounded("message", stream.message())
        .await
        .expect("ok")
        .is_some()
    {}
    drop(stream);

    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server_metrics.clone().serve(listener));
    // The server records on_end after the client has its answer: scrape until all five
    // calls are in (each scrape is a real HTTP request; the registry is the signal).
    let samples = bounded("five server calls recorded", async {
        loop {
            let (status, content_type, body) = scrape(addr).await;
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert!(
                content_type.starts_with("text/plain; version=0.0.4"),
                "{content_type}"
            );
            let samples = parse(&body);
            let ended: f64 = samples
                .iter()
                .filter(|(k, _)| k.starts_with("grpc_server_call_duration_seconds_count{"))
                .map(|(_, (_, v))| v)
                .sum();
            if ended >= 5.0 {
                return samples;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;

    let unary = "wirecall.test.echo.Echo/Unary";
    let stream_method = "wirecall.test.echo.Echo/ServerStream";
    let key = |name: &str, method: &str, status: Option<&str>| match status {
        Some(status) => format!("{name}{{grpc_method=\"{method}\",grpc_status=\"{status}\"}}"),
        None => format!("{name}{{grpc_method=\"{method}\"}}"),
    };
    assert_eq!(
        samples[&key("grpc_server_call_started_total", unary, None)].0,
        "counter"
    );
    assert_eq!(
        value(
            &samples,
            &key("grpc_server_call_started_total", unary, None)
        ),
        4.0
    );
    assert_eq!(
        value(
            &samples,
            &key("grpc_server_call_started_total", stream_method, None)
        ),
        1.0
    );
    let count = "grpc_server_call_duration_seconds_count";
    assert_eq!(value(&samples, &key(count, unary, Some("OK"))), 3.0);
    assert_eq!(value(&samples, &key(count, unary, Some("NOT_FOUND"))), 1.0);
    assert_eq!(value(&samples, &key(count, stream_method, Some("OK"))), 1.0);
    assert_eq!(
        value(
            &samples,
            &key(
                "grpc_server_call_sent_messages_total",
                stream_method,
                Some("OK")
            )
        ),
        4.0
    );
    assert_eq!(
        value(
            &samples,
            &key("grpc_server_call_rcvd_messages_total", unary, Some("OK"))
        ),
        3.0
    );
    // Histogram buckets are cumulative and end at the count.
    let inf = format!(
        "grpc_server_call_duration_seconds_bucket{{grpc_method=\"{unary}\",grpc_status=\"OK\",le=\"+Inf\"}}"
    );
    assert_eq!(value(&samples, &inf), 3.0);
    let sum = value(
        &samples,
        &key("grpc_server_call_duration_seconds_sum", unary, Some("OK")),
    );
    assert!(sum > 0.0 && sum < 10.0, "{sum}");
    let bytes = value(
        &samples,
        &key(
            "grpc_server_call_sent_total_compressed_message_size_bytes_sum",
            stream_method,
            Some("OK"),
        ),
    );
    assert!(bytes >= 4.0 * 5.0, "{bytes}");

    // The client side, rendered without the endpoint (clients usually share the server's).
    let client_samples = parse(&client_metrics.render());
    assert_eq!(
        value(
            &client_samples,
            &key("grpc_client_attempt_started_total", unary, None)
        ),
        4.0
    );
    assert_eq!(
        value(
            &client_samples,
            &key(
                "grpc_client_call_duration_seconds_count",
                unary,
                Some("NOT_FOUND")
            )
        ),
        1.0
    );
    assert_eq!(
        value(
            &client_samples,
            &key(
                "grpc_client_attempt_rcvd_messages_total",
                stream_method,
                Some("OK")
            )
        ),
        4.0
    );
}
