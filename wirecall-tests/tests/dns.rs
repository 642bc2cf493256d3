//! The `dns:` resolver against a real DNS server (Debian's dnsmasq on 127.0.0.1, see
//! `common/dns_server.rs`): one name answering with several backends on 127.0.0.x and the
//! same port, as a Kubernetes headless Service answers with its pods. The zone changes while
//! a client calls without pause, and the channel follows it within the TTL and its
//! re-resolution bound; the TXT record's service config (gRFC A2) switches the policy.
//!
//! Run with `--nocapture` for the figures (calls per backend per phase, time to follow).

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::backends::{free_addr, Backend};
use common::dns_server::DnsServer;
use common::{bounded, sleeping};
use tokio::sync::watch;
use wirecall::client::BackoffConfig;
use wirecall::{Channel, Endpoint, Status};
use wirecall_tests::echo::EchoClient;

const NAME: &str = "orders.test";

/// The answers' TTL, in seconds.
const TTL: u32 = 1;

/// The channel's minimum time between resolutions.
const MIN_RESOLVE: Duration = Duration::from_millis(250);

/// How long a change may take to be followed: the TTL, the re-resolution bound, and time
/// to connect and for a busy CI machine.
fn follow_limit() -> Duration {
    Duration::from_secs(TTL.into()) + MIN_RESOLVE + Duration::from_secs(2)
}

fn endpoint(dns: &DnsServer, port: u16) -> Endpoint {
    Endpoint::new(dns.target(NAME, port))
        .expect("a dns:// target")
        .min_resolve_interval(MIN_RESOLVE)
        .connection_backoff(
            BackoffConfig::default()
                .with_initial(Duration::from_millis(50))
                .with_max(Duration::from_millis(200)),
        )
        .connect_timeout(Duration::from_secs(2))
}

/// Backends on `127.0.0.<first>` and on, all on one port.
fn backends(first: u8, n: u8) -> (Vec<Backend>, Vec<IpAddr>, u16) {
    let port = free_addr([127, 0, 0, first]).port();
    let ips: Vec<IpAddr> = (first..first + n)
        .map(|i| IpAddr::from([127, 0, 0, i]))
        .collect();
    let backends = ips
        .iter()
        .map(|ip| Backend::start(SocketAddr::new(*ip, port)))
        .collect();
    (backends, ips, port)
}

/// Clients calling without pause, counting the calls that ended and keeping every failure.
struct Load {
    done: watch::Receiver<usize>,
    failures: Arc<Mutex<Vec<Status>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(channel: &Channel, clients: usize) -> Load {
        let (done_tx, done) = watch::channel(0usize);
        let done_tx = Arc::new(done_tx);
        let failures = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..clients)
            .map(|_| {
                let client = EchoClient::new(channel.clone());
                let (done_tx, failures, stop) = (done_tx.clone(), failures.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        // 1 ms in the handler, so each call announces its start.
                        if let Err(status) = client.unary(sleeping("load", 1)).await {
                            failures.lock().unwrap().push(status);
                        }
                        done_tx.send_modify(|n| *n += 1);
                    }
                })
            })
            .collect();
        Load {
            done,
            failures,
            stop,
            tasks,
        }
    }

    /// Waits until `n` more calls have ended.
    async fn calls(&mut self, n: usize) {
        let target = *self.done.borrow_and_update() + n;
        bounded(
            "calls of the load",
            self.done.wait_for(|done| *done >= target),
        )
        .await
        .expect("the load runs");
    }

    async fn stop(self) -> Vec<Status> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("a load client did not panic");
        }
        let failures = self.failures.lock().unwrap();
        failures.clone()
    }
}

fn counts(backends: &[Backend]) -> Vec<usize> {
    backends.iter().map(Backend::calls).collect()
}

/// Calls per backend between two snapshots.
fn delta(before: &[usize], after: &[usize]) -> Vec<usize> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_3_to_5_to_2_under_load_follows_dns_and_fails_no_call() {
    let mut dns = DnsServer::start(TTL);
    let (mut backends, ips, port) = backends(21, 5);
    dns.set_addresses(NAME, &ips[..3]);
    // What a Kubernetes client would say: round robin, and retry what a dead pod fails.
    let config = r#"{
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [{
            "name": [{"service": "wirecall.test.echo.Echo"}],
            "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.01s", "maxBackoff": "0.1s",
                            "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}
        }]}"#;
    let channel = endpoint(&dns, port)
        .service_config_json(config)
        .expect("a valid service config")
        .connect_lazy();
    let mut load = Load::start(&channel, 4);

    // Three backends: every one gets calls.
    for backend in &mut backends[..3] {
        backend.next_start().await;
    }
    let before = counts(&backends);
    load.calls(600).await;
    let three = delta(&before, &counts(&backends));
    println!("3 backends, 600 calls: {three:?}");
    assert!(three[..3].iter().all(|&n| n >= 100), "{three:?}");
    assert_eq!(three[3..], [0, 0]);

    // Scale out to five: the new ones get calls within the TTL and the bound.
    let changed = Instant::now();
    dns.set_addresses(NAME, &ips);
    let mut followed = Vec::new();
    for backend in &mut backends[3..] {
        backend.next_start().await;
        followed.push(changed.elapsed());
    }
    println!("3 -> 5: the new backends' first calls after {followed:?}");
    assert!(followed.iter().all(|t| *t < follow_limit()), "{followed:?}");
    let before = counts(&backends);
    load.calls(1000).await;
    let five = delta(&before, &counts(&backends));
    println!("5 backends, 1000 calls: {five:?}");
    assert!(five.iter().all(|&n| n >= 100), "{five:?}");

    // Scale in to three by DNS alone: the removed ones stop getting calls.
    let changed = Instant::now();
    dns.set_addresses(NAME, &ips[..3]);
    let gone = bounded("calls to leave the removed backends", async {
        loop {
            let before = counts(&backends);
            load.calls(100).await;
            if delta(&before, &counts(&backends))[3..] == [0, 0] {
                return changed.elapsed();
            }
        }
    })
    .await;
    println!("5 -> 3: no call reaches the removed backends after {gone:?}");
    assert!(gone < follow_limit(), "{gone:?}");
    // They shut down gracefully (GOAWAY), as pods do on SIGTERM.
    for backend in &mut backends[3..] {
        backend.drain().await;
    }

    // And to two, the hard way: a backend crashes as it leaves the zone; the retry policy
    // moves its calls in flight to the others.
    dns.set_addresses(NAME, &ips[..2]);
    backends[2].kill();
    let before = counts(&backends);
    load.calls(600).await;
    let two = delta(&before, &counts(&backends));
    println!("2 backends, 600 calls: {two:?}");
    assert!(two[..2].iter().all(|&n| n >= 200), "{two:?}");

    let failures = load.stop().await;
    assert!(failures.is_empty(), "failed calls: {failures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txt_service_config_switches_pick_first_to_round_robin() {
    let mut dns = DnsServer::start(TTL);
    let (backends, ips, port) = backends(31, 3);
    dns.set_addresses(NAME, &ips);
    let channel = endpoint(&dns, port).dns_service_config(true).connect_lazy();
    // The same zone without the knob: TXT records are not looked at.
    let deaf = endpoint(&dns, port).connect_lazy();
    let client = EchoClient::new(channel.clone());

    // No TXT record: pick_first, every call on one backend.
    for _ in 0..30 {
        client.unary(sleeping("first", 1)).await.expect("a call");
    }
    let first = counts(&backends);
    println!("no TXT record, 30 calls: {first:?}");
    assert_eq!(first.iter().filter(|&&n| n > 0).count(), 1, "{first:?}");

    // A record whose first choice is for Go clients only: the second, round_robin, is ours.
    let changed = Instant::now();
    dns.set_txt(
        NAME,
        Some(
            r#"grpc_config=[
            {"clientLanguage": ["go"], "serviceConfig": {"loadBalancingConfig": [{"pick_first": {}}]}},
            {"clientLanguage": ["rust"], "percentage": 100,
             "serviceConfig": {"loadBalancingConfig": [{"round_robin": {}}]}}]"#,
        ),
    );
    let switched = bounded("calls to spread over every backend", async {
        loop {
            let before = counts(&backends);
            for _ in 0..30 {
                client.unary(sleeping("second", 1)).await.expect("a call");
            }
            if delta(&before, &counts(&backends)).iter().all(|&n| n == 10) {
                return changed.elapsed();
            }
        }
    })
    .await;
    println!("TXT round_robin: calls spread evenly after {switched:?}");
    assert!(switched < follow_limit(), "{switched:?}");

    // The channel without the knob stays on one backend.
    let deaf_client = EchoClient::new(deaf);
    let before = counts(&backends);
    for _ in 0..30 {
        deaf_client
            .unary(sleeping("deaf", 1))
            .await
            .expect("a call");
    }
    let deaf_counts = delta(&before, &counts(&backends));
    assert_eq!(
        deaf_counts.iter().filter(|&&n| n > 0).count(),
        1,
        "{deaf_counts:?}"
    );

    // An invalid record is ignored: the last good config stays. (Two TXT queries: the
    // resolution of the first has been applied when the second is asked.)
    dns.set_txt(
        NAME,
        Some(r#"grpc_config=[{"serviceConfig": {}, "bad": 1}]"#),
    );
    dns.wait_for_query("TXT");
    dns.wait_for_query("TXT");
    let before = counts(&backends);
    for _ in 0..30 {
        client.unary(sleeping("third", 1)).await.expect("a call");
    }
    assert_eq!(delta(&before, &counts(&backends)), [10, 10, 10]);
}
