//! The OrderService's production extras over real sockets on 127.0.0.1: what the metrics
//! interceptor counted while the wirecall client walked every method (refused calls
//! included), scraped as Prometheus text; the article's retry service config at work; and the
//! client's load mode spread by round_robin over three replicas, as `deploy/` runs them.
//! The peers in Node, Python and Go are in `peers.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use order_service::{load, walkthrough, Orders, ServedBy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wirecall::interceptor::{IncomingCall, Interceptor};
use wirecall::metrics::Metrics;
use wirecall::Status;

/// A fresh OrderService (and its metrics endpoint) on free ports of 127.0.0.1.
struct Running {
    addr: String,
    metrics_addr: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Running {
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Metrics::prometheus(&mut registry);
    let metrics_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_addr = metrics_listener.local_addr().unwrap();
    tokio::spawn(wirecall::metrics::serve(
        std::sync::Arc::new(registry),
        metrics_listener,
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        order_service::server(Orders::new(), &metrics).serve_with_listener(listener, async {
            let _ = stopped.await;
        }),
    );
    Running {
        addr,
        metrics_addr,
        _stop: stop,
    }
}

/// The exposition body of one `GET /metrics`.
async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect to metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// The value of the sample `name{labels}` in an exposition, 0 when absent.
fn sample(body: &str, name_and_labels: &str) -> f64 {
    body.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Scrapes until the server has recorded the end of `calls` calls of `method` with
/// `status` (the server records a call's end just after the client has its answer).
async fn wait_for_count(
    addr: std::net::SocketAddr,
    method: &str,
    status: &str,
    calls: f64,
) -> String {
    wait_for_any(addr, method, &[status], calls).await
}

/// Scrapes until the server has recorded the end of `calls` calls of `method` with any of
/// `statuses`, together.
async fn wait_for_any(
    addr: std::net::SocketAddr,
    method: &str,
    statuses: &[&str],
    calls: f64,
) -> String {
    let series: Vec<String> = statuses
        .iter()
        .map(|status| {
            format!(
                "grpc_server_call_duration_seconds_count{{grpc_method=\"order.OrderService/{method}\",grpc_status=\"{status}\"}}"
            )
        })
        .collect();
    let mut body = String::new();
    for _ in 0..200 {
        body = scrape(addr).await;
        if series.iter().map(|s| sample(&body, s)).sum::<f64>() >= calls {
            return body;
        }
        tokio::task::yield_now().await;
    }
    panic!("{series:?} never reached {calls}:\n{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_count_every_call_of_the_walkthrough() {
    let server = start().await;
    let steps = tokio::time::timeout(
        Duration::from_secs(30),
        walkthrough::run(&format!("http://{}", server.addr)),
    )
    .await
    .expect("walkthrough timed out")
    .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(steps.len(), 13, "{steps:#?}");

    // The metrics interceptor saw every call, refused ones included (it runs before auth).
    let body = wait_for_count(server.metrics_addr, "GetOrder", "UNAUTHENTICATED", 1.0).await;
    for (method, status, calls) in [
        ("GetOrder", "OK", 2.0),
        ("GetOrder", "NOT_FOUND", 1.0),
        ("CreateOrder", "OK", 1.0),
        ("CreateOrder", "INVALID_ARGUMENT", 1.0),
        ("CreateOrder", "PERMISSION_DENIED", 1.0),
        ("ListOrders", "OK", 2.0),
        ("UploadLineItems", "OK", 1.0),
        ("UploadLineItems", "INVALID_ARGUMENT", 1.0),
        ("OrderChat", "OK", 1.0),
    ] {
        wait_for_count(server.metrics_addr, method, status, calls).await;
    }
    // The chat whose 200 ms ran out: the server ends it with DEADLINE_EXCEEDED when its own
    // timer fires first, CANCELLED when the client's reset arrives first.
    let ran_out = ["DEADLINE_EXCEEDED", "CANCELLED"];
    wait_for_any(server.metrics_addr, "OrderChat", &ran_out, 1.0).await;
    assert!(
        body.contains("# TYPE grpc_server_call_duration_seconds histogram"),
        "{body}"
    );
}

/// Answers the first `failures` calls with UNAVAILABLE, as a server restarting would.
struct Flaky {
    failures: usize,
    calls: Arc<AtomicUsize>,
}

impl Interceptor for Flaky {
    async fn on_call(&self, _call: &mut IncomingCall) -> Result<(), Status> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            Err(Status::unavailable("restarting"))
        } else {
            Ok(())
        }
    }
}

/// The article's service config retries UNAVAILABLE up to 3 attempts: a call whose first two
/// attempts fail succeeds on the third; one that fails three times gives up with the status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_config_retries_unavailable_up_to_three_attempts() {
    use order_service::pb::GetOrderRequest;

    for (failures, attempts, code) in [
        (2, 3, wirecall::Code::Ok),
        (5, 3, wirecall::Code::Unavailable),
    ] {
        let calls = Arc::new(AtomicUsize::new(0));
        let flaky = Flaky {
            failures,
            calls: calls.clone(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = Metrics::builder().build();
        tokio::spawn(
            order_service::server(Orders::new(), &metrics)
                .interceptor(flaky)
                .serve_with_listener(listener, std::future::pending()),
        );
        let client = walkthrough::client(&format!("http://{addr}")).unwrap();
        let mut request = wirecall::Request::new(GetOrderRequest { id: "ord-1".into() });
        request
            .metadata_mut()
            .insert("authorization", "Bearer reader-token")
            .unwrap();
        let got = match client.get_order(request).await {
            Ok(_) => wirecall::Code::Ok,
            Err(status) => status.code(),
        };
        assert_eq!(got, code, "after {failures} failing attempts");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            attempts,
            "attempts the server saw"
        );
    }
}

/// `order-client --calls N` with `deploy/`'s round_robin: three replicas on 127.0.0.1, each
/// naming itself in `x-served-by` (`order-server --instance NAME`), all answer, and the one
/// step names each with its count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_mode_spreads_over_every_replica_with_round_robin() {
    let metrics = Metrics::builder().build();
    let mut addrs = Vec::new();
    for name in ["replica-a", "replica-b", "replica-c"] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap().to_string());
        tokio::spawn(
            order_service::server(Orders::new(), &metrics)
                .interceptor(ServedBy::new(name).unwrap())
                .serve_with_listener(listener, std::future::pending()),
        );
    }
    let target = format!("ipv4:{}", addrs.join(","));
    let config = r#"{"loadBalancingConfig": [{"round_robin": {}}]}"#;
    let steps = tokio::time::timeout(
        Duration::from_secs(30),
        // 5 ms apart: the three connections are open long before the last calls, however
        // busy the machine (round_robin picks among the open ones).
        load::run(&target, config, 60, Duration::from_millis(5)),
    )
    .await
    .expect("the load mode timed out")
    .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(steps.len(), 1, "{steps:#?}");
    let counts: Vec<(&str, u32)> = steps[0]
        .got
        .split(", ")
        .map(|count| {
            let (name, n) = count.split_once(": ").expect("name: count");
            (name, n.parse().expect("a count"))
        })
        .collect();
    let names: Vec<&str> = counts.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["replica-a", "replica-b", "replica-c"], "{counts:?}");
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<u32>(), 60, "{counts:?}");
}

#[test]
fn an_instance_name_must_be_a_header_value() {
    assert!(ServedBy::new("order-server-7d9f8c6b5-x2x7k").is_ok());
    for bad in ["", "two words", "caf\u{e9}"] {
        assert!(ServedBy::new(bad).is_err(), "{bad:?}");
    }
}
