//! Channel idle mode (gRPC's `idleTimeout`): with no call for the timeout a channel goes
//! IDLE, its connections closed and its name resolution stopped; the next call resolves and
//! connects again. A call in flight keeps it awake.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::backends::{free_addr, Backend};
use common::dns_server::DnsServer;
use common::{bounded, echo, sleeping};
use wirecall::client::ConnectivityState;
use wirecall::{Channel, Endpoint};
use wirecall_tests::echo::EchoClient;

const IDLE: Duration = Duration::from_millis(300);

/// Waits (bounded) until the channel's state is `want`.
async fn until_state(channel: &Channel, want: ConnectivityState) {
    bounded("the channel's state", async {
        let mut state = channel.state();
        while state != want {
            state = channel.state_changed(state).await;
        }
    })
    .await;
}

/// The established TCP connections to `addr`, as the kernel lists them (`/proc/net/tcp`:
/// local address and port in hex, state 01 = ESTABLISHED), seen from the server's side.
fn established_to(addr: SocketAddr) -> usize {
    let IpAddr::V4(ip) = addr.ip() else {
        panic!("IPv4 only")
    };
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(ip.octets()),
        addr.port()
    );
    std::fs::read_to_string("/proc/net/tcp")
        .expect("/proc/net/tcp")
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"01")
        })
        .count()
}

/// Waits (bounded) until no connection to `addr` is left. The kernel's table gives no
/// signal, so this looks every 20 ms.
async fn until_closed(addr: SocketAddr) {
    bounded("the connections to close", async {
        while established_to(addr) > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_channel_closes_its_connections_and_resolves_again_on_the_next_call() {
    let mut dns = DnsServer::start(300);
    let port = free_addr([127, 0, 0, 61]).port();
    let ips: Vec<IpAddr> = [61, 62]
        .iter()
        .map(|&i| IpAddr::from([127, 0, 0, i]))
        .collect();
    let backends: Vec<Backend> = ips
        .iter()
        .map(|ip| Backend::start(SocketAddr::new(*ip, port)))
        .collect();
    dns.set_addresses("idle.test", &ips);
    let channel = Endpoint::new(dns.target("idle.test", port))
        .unwrap()
        .service_config_json(r#"{"loadBalancingConfig": [{"round_robin": {}}]}"#)
        .unwrap()
        .idle_timeout(IDLE)
        .connect_lazy();
    let client = EchoClient::new(channel.clone());
    assert_eq!(channel.state(), ConnectivityState::Idle);
    bounded("both backends READY", async {
        while backends.iter().any(|b| b.calls() == 0) {
            client.unary(echo("awake")).await.expect("a call");
        }
    })
    .await;
    assert_eq!(channel.state(), ConnectivityState::Ready);

    // No call for the timeout: IDLE, every connection closed.
    until_state(&channel, ConnectivityState::Idle).await;
    for backend in &backends {
        until_closed(backend.addr).await;
    }

    // The zone changed meanwhile (its TTL of 300 s not yet run out): the next call resolves
    // afresh, so every call goes to the one address left.
    dns.set_addresses("idle.test", &ips[1..]);
    let before: Vec<usize> = backends.iter().map(Backend::calls).collect();
    for _ in 0..10 {
        client
            .unary(echo("woken"))
            .await
            .expect("a call after idle");
    }
    let after: Vec<usize> = backends.iter().map(Backend::calls).collect();
    assert_eq!([after[0] - before[0], after[1] - before[1]], [0, 10]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_flight_keeps_the_channel_awake() {
    let server = common::start().await;
    let channel = server.endpoint().idle_timeout(IDLE).connect_lazy();
    let client = EchoClient::new(channel.clone());
    // A call three times the timeout long: the channel stays READY through it.
    client
        .unary(sleeping("long", 900))
        .await
        .expect("a long call");
    assert_eq!(channel.state(), ConnectivityState::Ready);
    until_state(&channel, ConnectivityState::Idle).await;
    until_closed(server.addr).await;
    // And wakes for the next.
    client
        .unary(echo("again"))
        .await
        .expect("a call after idle");
    assert_eq!(channel.state(), ConnectivityState::Ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_idle_timeout_never_idles() {
    let server = common::start().await;
    let channel = server
        .endpoint()
        .idle_timeout(Duration::ZERO)
        .connect_lazy();
    let client = EchoClient::new(channel.clone());
    client.unary(echo("one")).await.expect("a call");
    // Nothing to wait for but time: three timeouts' worth with no call, still READY.
    tokio::time::sleep(IDLE * 3).await;
    assert_eq!(channel.state(), ConnectivityState::Ready);
    assert_eq!(established_to(server.addr), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_waiting_for_a_backend_keeps_the_channel_awake() {
    // Nothing listens yet: a wait_for_ready call waits longer than the idle timeout, and
    // must not be stranded by the channel going IDLE under it.
    let addr = free_addr([127, 0, 0, 63]);
    let channel = Endpoint::new(format!("ipv4:{addr}"))
        .unwrap()
        .idle_timeout(IDLE)
        .connection_backoff(
            wirecall::client::BackoffConfig::default()
                .with_initial(Duration::from_millis(50))
                .with_max(Duration::from_millis(100)),
        )
        .connect_lazy();
    let client = EchoClient::new(channel.clone());
    let waiting = tokio::spawn(async move {
        let mut request = wirecall::Request::new(echo("patient"));
        request.set_wait_for_ready(true);
        request.set_timeout(Duration::from_secs(8));
        client.unary(request).await
    });
    // Nothing to wait for but time: three idle timeouts with the call pending.
    tokio::time::sleep(IDLE * 3).await;
    assert_ne!(channel.state(), ConnectivityState::Idle);
    let backend = Backend::start(addr);
    let answer = bounded("the waiting call", waiting).await.unwrap();
    assert_eq!(
        answer
            .expect("answered once the backend is up")
            .into_inner()
            .message,
        "patient"
    );
    assert_eq!(backend.calls(), 1);
}
