//! The channel's view of its backends' health, against grpcio servers (from PyPI, in the
//! venv the test command installs; `peers/backends.py`): client-side health checking (gRFC
//! A17) following backends that flip NOT_SERVING and back, and outlier detection (gRFC A50)
//! ejecting a backend that fails half its calls, then letting it back in after the ejection
//! time.
//!
//! Run with `--nocapture` for the figures.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::backends::{free_addr, Backend};
use common::{bounded, echo};
use wirecall::{Channel, Code, Endpoint};
use wirecall_tests::echo::EchoClient;

const SERVICE: &str = "wirecall.test.echo.Echo";

/// grpcio backends in a Python process, driven line by line.
struct Peers {
    addrs: Vec<SocketAddr>,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peers {
    /// One backend on each of `127.0.0.<first>` and on, with the health service if `health`.
    fn start(first: u8, n: u8, health: bool) -> Peers {
        let addrs: Vec<SocketAddr> = (first..first + n)
            .map(|i| free_addr([127, 0, 0, i]))
            .collect();
        let mut command = Command::new(common::peer_python("grpc_health.v1"));
        command.arg(common::repo_root().join("wirecall-tests/peers/backends.py"));
        for addr in &addrs {
            command.arg(format!("--addr={addr}"));
        }
        if health {
            command.arg(format!("--health={SERVICE}"));
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the grpcio backends");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut peers = Peers {
            addrs,
            child,
            stdin,
            stdout,
        };
        assert_eq!(peers.line(), "ready");
        peers
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("read the backends' answer");
        assert!(!line.is_empty(), "the grpcio backends exited");
        line.trim_end().to_owned()
    }

    fn command(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").expect("write to the backends");
        self.line()
    }

    /// The calls each backend has answered, OK or not.
    fn counts(&mut self) -> Vec<usize> {
        let line = self.command("counts");
        let counts = line.strip_prefix("counts ").expect("counts");
        counts.split(' ').map(|n| n.parse().unwrap()).collect()
    }

    fn target(&self) -> String {
        let list: Vec<String> = self.addrs.iter().map(ToString::to_string).collect();
        format!("ipv4:{}", list.join(","))
    }
}

impl Drop for Peers {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

fn channel(target: &str, config: &str) -> Channel {
    Endpoint::new(target)
        .expect("a target")
        .service_config_json(config)
        .expect("a valid service config")
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy()
}

/// Makes `n` calls one after the other; returns how many failed.
async fn calls(client: &EchoClient, n: usize) -> usize {
    let mut failed = 0;
    for _ in 0..n {
        if client.unary(echo("health")).await.is_err() {
            failed += 1;
        }
    }
    failed
}

/// Calls per backend between two snapshots.
fn delta(before: &[usize], after: &[usize]) -> Vec<usize> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

/// Makes batches of 30 calls until one batch's spread over the backends passes `done`;
/// returns the time that took, the calls made and how many failed.
async fn until(
    what: &str,
    peers: &mut Peers,
    client: &EchoClient,
    done: impl Fn(&[usize]) -> bool,
) -> (Duration, usize, usize) {
    let start = Instant::now();
    let (mut made, mut failed) = (0, 0);
    bounded(what, async {
        loop {
            let before = peers.counts();
            failed += calls(client, 30).await;
            made += 30;
            if done(&delta(&before, &peers.counts())) {
                return;
            }
        }
    })
    .await;
    (start.elapsed(), made, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checking_takes_not_serving_grpcio_backends_out_of_rotation() {
    let mut peers = Peers::start(41, 3, true);
    let config = format!(
        r#"{{"loadBalancingConfig": [{{"round_robin": {{}}}}],
            "healthCheckConfig": {{"serviceName": "{SERVICE}"}}}}"#
    );
    let client = EchoClient::new(channel(&peers.target(), &config));
    let (took, _, failed) = until("every backend SERVING", &mut peers, &client, |d| {
        d == [10, 10, 10]
    })
    .await;
    println!("3 SERVING backends: calls spread evenly after {took:?}");
    assert_eq!(failed, 0);

    assert_eq!(peers.command("health 1 NOT_SERVING"), "ok");
    let (took, made, failed) = until("backend 1 out of rotation", &mut peers, &client, |d| {
        d == [15, 0, 15]
    })
    .await;
    println!("backend 1 NOT_SERVING: out of rotation after {took:?} ({made} calls)");
    assert_eq!(failed, 0, "calls go to the serving backends meanwhile");

    assert_eq!(peers.command("health 1 SERVING"), "ok");
    let (took, _, failed) =
        until("backend 1 back", &mut peers, &client, |d| d == [10, 10, 10]).await;
    println!("backend 1 SERVING again: back in rotation after {took:?}");
    assert_eq!(failed, 0);

    // Nothing serving: calls fail at once, saying why.
    for i in 0..3 {
        assert_eq!(peers.command(&format!("health {i} NOT_SERVING")), "ok");
    }
    let status = bounded("a call to fail", async {
        loop {
            if let Err(status) = client.unary(echo("none")).await {
                return status;
            }
        }
    })
    .await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("NotServing"), "{status:?}");

    // pick_first never checks health (gRFC A17): the same config without round_robin calls
    // the first backend though it says NOT_SERVING.
    let config = format!(r#"{{"healthCheckConfig": {{"serviceName": "{SERVICE}"}}}}"#);
    let first = EchoClient::new(channel(&peers.target(), &config));
    let before = peers.counts();
    assert_eq!(calls(&first, 10).await, 0);
    assert_eq!(delta(&before, &peers.counts()).iter().sum::<usize>(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_without_the_health_service_counts_as_healthy() {
    // A wirecall Echo server with no health service: Watch is UNIMPLEMENTED (gRFC A17).
    // (round_robin: pick_first never checks health.)
    let backend = Backend::on([127, 0, 0, 45]);
    let config = format!(
        r#"{{"loadBalancingConfig": [{{"round_robin": {{}}}}],
            "healthCheckConfig": {{"serviceName": "{SERVICE}"}}}}"#
    );
    let client = EchoClient::new(channel(&format!("ipv4:{}", backend.addr), &config));
    assert_eq!(calls(&client, 10).await, 0);
    assert_eq!(backend.calls(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlier_detection_ejects_a_grpcio_backend_failing_half_its_calls_and_lets_it_back() {
    let mut peers = Peers::start(51, 3, false);
    let config = r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {
        "interval": "0.5s", "baseEjectionTime": "2s", "maxEjectionTime": "10s",
        "maxEjectionPercent": 34,
        "failurePercentageEjection": {"threshold": 30, "enforcementPercentage": 100,
                                      "minimumHosts": 3, "requestVolume": 20},
        "childPolicy": [{"round_robin": {}}]}}]}"#;
    let client = EchoClient::new(channel(&peers.target(), config));
    assert_eq!(calls(&client, 30).await, 0);
    assert_eq!(peers.command("fail 1 2"), "ok");

    let (took, made, failed) = until("backend 1 ejected", &mut peers, &client, |d| {
        d == [15, 0, 15]
    })
    .await;
    let ejected = Instant::now();
    println!(
        "backend 1 failing half its calls: ejected after {took:?}, {failed} of {made} calls failed"
    );
    // A third of the calls reach it and half of those fail: about a sixth.
    assert!(failed > 0 && failed <= made / 5, "{failed} of {made}");

    // No failures while it is out, and no calls for it.
    let before = peers.counts();
    assert_eq!(calls(&client, 60).await, 0);
    assert_eq!(delta(&before, &peers.counts()), [30, 0, 30]);

    // Back after the ejection time (2 s, checked at the next sweep).
    until("backend 1 back", &mut peers, &client, |d| d[1] > 0).await;
    let out = ejected.elapsed();
    println!("backend 1 back in rotation after {out:?} out");
    assert!(out >= Duration::from_millis(1500), "{out:?}");
    assert!(out < Duration::from_secs(5), "{out:?}");
}
