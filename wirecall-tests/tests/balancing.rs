//! Client-side balancing over real sockets: several Echo backends on 127.0.0.x, a channel
//! with a name-resolving target, and backends killed and restarted while calls run.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::backends::{free_addr, ipv4_target, Backend};
use common::{bounded, echo, sleeping};
use tokio::sync::watch;
use wirecall::client::resolver::{Address, Resolver, Resolving};
use wirecall::client::{BackoffConfig, ConnectivityState};
use wirecall::service_config::LoadBalancingPolicy;
use wirecall::{Channel, Code, Endpoint};
use wirecall_tests::echo::EchoClient;

/// Quick reconnects, so a restarted backend is found again within a test's time.
fn quick_backoff() -> BackoffConfig {
    BackoffConfig::default()
        .with_initial(Duration::from_millis(50))
        .with_max(Duration::from_millis(200))
}

fn channel(target: &str, policy: LoadBalancingPolicy) -> Channel {
    Endpoint::new(target)
        .expect("a valid target")
        .load_balancing(policy)
        .connection_backoff(quick_backoff())
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy()
}

/// Makes one call (leaving IDLE), then waits until the channel is READY.
async fn ready(channel: &Channel) {
    let _ = bounded(
        "a warm-up call",
        EchoClient::new(channel.clone()).unary(echo("warm-up")),
    )
    .await;
    bounded("the channel to become READY", async {
        let mut state = channel.state();
        while state != ConnectivityState::Ready {
            state = channel.state_changed(state).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_300_calls_evenly_over_three_backends() {
    let backends = [
        Backend::on([127, 0, 0, 1]),
        Backend::on([127, 0, 0, 2]),
        Backend::on([127, 0, 0, 3]),
    ];
    let target = ipv4_target(&backends.iter().collect::<Vec<_>>());
    let channel = channel(&target, LoadBalancingPolicy::RoundRobin);
    // Every backend READY first, so the count is of the policy, not of connect order.
    let endpoint_ready = bounded("three READY subchannels", async {
        loop {
            let before: Vec<usize> = backends.iter().map(Backend::calls).collect();
            let client = EchoClient::new(channel.clone());
            for _ in 0..3 {
                client.unary(echo("warm-up")).await.expect("warm-up call");
            }
            let after: Vec<usize> = backends.iter().map(Backend::calls).collect();
            if before.iter().zip(&after).all(|(b, a)| a > b) {
                return after;
            }
        }
    })
    .await;
    let client = EchoClient::new(channel.clone());
    for i in 0..300 {
        client
            .unary(echo(&format!("call {i}")))
            .await
            .expect("call succeeds");
    }
    let counts: Vec<usize> = backends
        .iter()
        .zip(&endpoint_ready)
        .map(|(b, warm)| b.calls() - warm)
        .collect();
    println!("round_robin, 300 calls over 3 backends: {counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), 300);
    for count in &counts {
        assert!((90..=110).contains(count), "within ±10% of 100: {counts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_round_robin_follows_the_resolver_weights() {
    let backends = [Backend::on([127, 0, 0, 1]), Backend::on([127, 0, 0, 2])];
    let resolver = Changing::new(vec![
        Address::new(backends[0].addr).with_weight(3),
        Address::new(backends[1].addr).with_weight(1),
    ]);
    let channel = Endpoint::new("http://backends.test:80")
        .unwrap()
        .resolver(resolver.clone())
        .load_balancing(LoadBalancingPolicy::WeightedRoundRobin)
        .connection_backoff(quick_backoff())
        .connect_lazy();
    let client = EchoClient::new(channel.clone());
    // Warm up until both are READY.
    bounded("both backends READY", async {
        while backends.iter().any(|b| b.calls() == 0) {
            client.unary(echo("warm-up")).await.expect("warm-up");
        }
    })
    .await;
    let warm: Vec<usize> = backends.iter().map(Backend::calls).collect();
    for i in 0..400 {
        client.unary(echo(&format!("w{i}"))).await.expect("call");
    }
    let counts: Vec<usize> = backends
        .iter()
        .zip(&warm)
        .map(|(b, w)| b.calls() - w)
        .collect();
    println!("weighted_round_robin 3:1, 400 calls: {counts:?}");
    assert!(
        (285..=315).contains(&counts[0]) && (85..=115).contains(&counts[1]),
        "{counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pick_first_uses_the_first_address_that_answers() {
    let closed = free_addr([127, 0, 0, 4]);
    let backends = [Backend::on([127, 0, 0, 2]), Backend::on([127, 0, 0, 3])];
    let target = format!("ipv4:{closed},{},{}", backends[0].addr, backends[1].addr);
    let client = EchoClient::new(channel(&target, LoadBalancingPolicy::PickFirst));
    for i in 0..20 {
        bounded("call", client.unary(echo(&format!("p{i}"))))
            .await
            .expect("call succeeds");
    }
    assert_eq!((backends[0].calls(), backends[1].calls()), (20, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_backend_leaves_the_rotation_and_rejoins_when_restarted() {
    let mut backends = [
        Backend::on([127, 0, 0, 1]),
        Backend::on([127, 0, 0, 2]),
        Backend::on([127, 0, 0, 3]),
    ];
    let target = ipv4_target(&backends.iter().collect::<Vec<_>>());
    let channel = Endpoint::new(&target)
        .unwrap()
        .connection_backoff(quick_backoff())
        .service_config_json(
            r#"{
              "loadBalancingConfig": [{"round_robin": {}}],
              "methodConfig": [{
                "name": [{"service": "wirecall.test.echo.Echo"}],
                "retryPolicy": {
                  "maxAttempts": 4, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
                  "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]
                }
              }]
            }"#,
        )
        .expect("the service config parses")
        .connect_lazy();
    ready(&channel).await;
    let client = EchoClient::new(channel.clone());

    // 8 workers, each making calls that take 20 ms, so several are in flight on the
    // backend when it dies.
    let (stop_tx, stop) = watch::channel(false);
    let failures = Arc::new(Mutex::new(Vec::new()));
    let completed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let client = client.clone();
            let stop = stop.clone();
            let failures = failures.clone();
            let completed = completed.clone();
            tokio::spawn(async move {
                let mut i = 0;
                while !*stop.borrow() {
                    match client.unary(sleeping(&format!("w{w}-{i}"), 20)).await {
                        Ok(_) => {}
                        Err(status) => failures.lock().unwrap().push(status),
                    }
                    completed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    let completed_at = |n: usize| {
        let completed = completed.clone();
        async move {
            while completed.load(std::sync::atomic::Ordering::Relaxed) < n {
                tokio::task::yield_now().await;
            }
        }
    };
    bounded("100 calls before the kill", completed_at(100)).await;
    let at_kill = [backends[0].calls(), backends[2].calls()];
    backends[1].kill();
    let killed_at = completed.load(std::sync::atomic::Ordering::Relaxed);
    // The dead backend's subchannel leaves READY; the others share every call.
    bounded(
        "200 more calls after the kill",
        completed_at(killed_at + 200),
    )
    .await;
    let during = [
        backends[0].calls() - at_kill[0],
        backends[2].calls() - at_kill[1],
    ];
    let share = during[0] as f64 / (during[0] + during[1]) as f64;
    assert!(
        (0.4..=0.6).contains(&share),
        "the survivors share the calls evenly: {during:?}"
    );
    backends[1].restart();
    // Re-admitted: it takes calls again once its subchannel reconnects.
    bounded("the restarted backend takes calls", async {
        while backends[1].calls() < 20 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    stop_tx.send(true).unwrap();
    for worker in workers {
        bounded("worker ends", worker).await.unwrap();
    }
    let total = completed.load(std::sync::atomic::Ordering::Relaxed);
    let after = [
        backends[0].calls(),
        backends[1].calls(),
        backends[2].calls(),
    ];
    println!(
        "kill/restart: {total} calls, none failed; the two survivors took {during:?} of the calls made while one was dead; totals after the restart {after:?}"
    );
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "no call with a retry policy is lost: {failures:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_state_fails_fast_without_backends_and_wait_for_ready_waits() {
    let addr = free_addr([127, 0, 0, 5]);
    let channel = channel(&format!("ipv4:{addr}"), LoadBalancingPolicy::RoundRobin);
    assert_eq!(channel.state(), ConnectivityState::Idle);
    let client = EchoClient::new(channel.clone());
    let status = bounded("a fail-fast call", client.unary(echo("fast")))
        .await
        .expect_err("no backend");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(channel.state(), ConnectivityState::TransientFailure);

    let mut request = wirecall::Request::new(echo("patient"));
    request.set_wait_for_ready(true);
    request.set_timeout(Duration::from_secs(8));
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.unary(request).await }
    });
    // Starting the backend moves the channel to READY and the waiting call through.
    let backend = Backend::start(addr);
    let response = bounded("the waiting call", waiting)
        .await
        .unwrap()
        .expect("wait_for_ready call succeeds once the backend is up");
    assert_eq!(response.get_ref().message, "patient");
    assert_eq!(channel.state(), ConnectivityState::Ready);
    assert_eq!(backend.calls(), 1);
}

/// A resolver whose answer the test changes, and which counts its resolutions.
#[derive(Clone)]
struct Changing {
    addresses: Arc<Mutex<Vec<Address>>>,
    resolutions: Arc<watch::Sender<usize>>,
}

impl Changing {
    fn new(addresses: Vec<Address>) -> Self {
        Changing {
            addresses: Arc::new(Mutex::new(addresses)),
            resolutions: Arc::new(watch::Sender::new(0)),
        }
    }

    fn set(&self, addresses: Vec<Address>) {
        *self.addresses.lock().unwrap() = addresses;
    }
}

impl Resolver for Changing {
    fn resolve(&self) -> Resolving<'_> {
        let addresses = self.addresses.lock().unwrap().clone();
        self.resolutions.send_modify(|n| *n += 1);
        Box::pin(async move { Ok(addresses) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_resolution_moves_calls_to_the_new_addresses() {
    let backends = [Backend::on([127, 0, 0, 1]), Backend::on([127, 0, 0, 2])];
    let resolver = Changing::new(vec![backends[0].addr.into()]);
    let channel = Endpoint::new("http://service.test:80")
        .unwrap()
        .resolver(resolver.clone())
        .load_balancing(LoadBalancingPolicy::RoundRobin)
        .resolve_interval(Duration::from_millis(100))
        .connection_backoff(quick_backoff())
        .connect_lazy();
    let client = EchoClient::new(channel.clone());
    for _ in 0..5 {
        bounded("call", client.unary(echo("a")))
            .await
            .expect("call");
    }
    assert_eq!((backends[0].calls(), backends[1].calls()), (5, 0));

    resolver.set(vec![backends[1].addr.into()]);
    let mut resolutions = resolver.resolutions.subscribe();
    let seen = *resolutions.borrow_and_update();
    // The first resolution from now returns the new list; by the one after it, the
    // channel has applied it.
    bounded(
        "two more resolutions",
        resolutions.wait_for(|n| *n > seen + 1),
    )
    .await
    .unwrap();
    bounded("the channel READY on the new address", async {
        let mut state = channel.state();
        while state != ConnectivityState::Ready {
            state = channel.state_changed(state).await;
        }
    })
    .await;
    for _ in 0..5 {
        bounded("call", client.unary(echo("b")))
            .await
            .expect("call");
    }
    assert_eq!((backends[0].calls(), backends[1].calls()), (5, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_targets_resolve_through_the_system_resolver() {
    let backend = Backend::on([127, 0, 0, 1]);
    let channel = Endpoint::new(format!("dns:///localhost:{}", backend.addr.port()))
        .unwrap()
        .connection_backoff(quick_backoff())
        .connect()
        .await
        .expect("localhost resolves and connects");
    assert_eq!(channel.state(), ConnectivityState::Ready);
    let client = EchoClient::new(channel);
    bounded("call", client.unary(echo("dns")))
        .await
        .expect("call");
    assert_eq!(backend.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_connection_asks_the_resolver_again() {
    let mut old = Backend::on([127, 0, 0, 1]);
    let new = Backend::on([127, 0, 0, 2]);
    let resolver = Changing::new(vec![old.addr.into()]);
    // The interval alone would not resolve again within the test.
    let channel = Endpoint::new("http://moving.test:80")
        .unwrap()
        .resolver(resolver.clone())
        .load_balancing(LoadBalancingPolicy::RoundRobin)
        .resolve_interval(Duration::from_secs(3600))
        .min_resolve_interval(Duration::from_millis(10))
        .connection_backoff(quick_backoff())
        .connect_lazy();
    let client = EchoClient::new(channel.clone());
    bounded("call", client.unary(echo("before")))
        .await
        .expect("call");
    assert_eq!(old.calls(), 1);

    let resolutions = resolver.resolutions.subscribe();
    let before = *resolutions.borrow();
    resolver.set(vec![new.addr.into()]);
    old.kill();
    // A call sent before the channel sees the connection gone would be lost with it
    // (nothing retries it here): wait until the channel leaves READY.
    bounded(
        "the channel sees the loss",
        channel.state_changed(ConnectivityState::Ready),
    )
    .await;
    // The lost connection asks for a resolution, which finds the new address.
    let mut request = wirecall::Request::new(echo("after"));
    request.set_wait_for_ready(true);
    bounded("a call after the move", client.unary(request))
        .await
        .expect("the call reaches the new address");
    assert_eq!(new.calls(), 1);
    assert!(
        *resolutions.borrow() > before,
        "resolved again on the failure"
    );
}
