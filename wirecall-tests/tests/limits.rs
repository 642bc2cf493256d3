//! Connection limits over real sockets: the number of connections served at once, the
//! handshake timeout that keeps silent or slow (slowloris) connections from holding those
//! slots, and the rapid-reset flood (CVE-2023-44487) capped while a well-behaved client
//! keeps being served.

mod common;

use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use tokio::net::TcpStream;
use wirecall::{Code, Request};
use wirecall_tests::echo::{EchoClient, EchoRequest};

use common::{bounded, echo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_new_clients_wait_for_a_slot() {
    let server = common::start_with(|b| b.max_connections(1)).await;
    let first = server.client();
    bounded("first", first.unary(echo("first")))
        .await
        .expect("the first connection is served");

    // The second connection waits in the backlog: its call runs out of time.
    let second = server.client();
    let mut waiting = Request::new(echo("second"));
    waiting.set_timeout(Duration::from_millis(300));
    let err = bounded("second, while full", second.unary(waiting))
        .await
        .expect_err("no slot");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");

    // The first client goes away: its slot passes to the second.
    drop(first);
    let reply = bounded("second, with a slot", second.unary(echo("second")))
        .await
        .expect("served once the first connection closed");
    assert_eq!(reply.get_ref().message, "second");
}

/// Reads from `conn` until the server closes it; how long that took.
async fn closed_after(mut conn: TcpStream) -> Duration {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let mut sink = [0u8; 1024];
    while matches!(conn.read(&mut sink).await, Ok(n) if n > 0) {}
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_slow_connections_are_closed_after_the_handshake_timeout() {
    use tokio::io::AsyncWriteExt;
    const TIMEOUT: Duration = Duration::from_millis(300);
    let server = common::start_with(|b| {
        b.max_connections(3)
            .handshake_timeout(TIMEOUT)
            .accept_grpc_web(wirecall::web::Cors::any_origin())
    })
    .await;
    // Every slot taken: one connection silent, one dripping the HTTP/2 preface, one
    // dripping HTTP/1.1 request headers.
    let silent = TcpStream::connect(server.addr).await.unwrap();
    let mut h2_drip = TcpStream::connect(server.addr).await.unwrap();
    let mut h1_drip = TcpStream::connect(server.addr).await.unwrap();
    h2_drip.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    h1_drip
        .write_all(b"POST /x HTTP/1.1\r\nhost: a\r\n")
        .await
        .unwrap();
    let drip = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(50));
        for _ in 0..40 {
            interval.tick().await;
            // Errors once the server has closed them: nothing more to send.
            let _ = h2_drip.write_all(b"\r").await;
            let _ = h1_drip.write_all(b"x").await;
        }
        (h2_drip, h1_drip)
    });
    // A well-behaved client gets a slot once the first of them is closed.
    let client = server.client();
    let reply = bounded(
        "a call past the slow connections",
        client.unary(echo("served")),
    )
    .await
    .expect("served after the handshake timeout freed a slot");
    assert_eq!(reply.get_ref().message, "served");
    let silent_closed = bounded("the silent connection", closed_after(silent)).await;
    let (h2_drip, h1_drip) = bounded("the drips", drip).await.unwrap();
    for (what, conn) in [
        ("HTTP/2 preface drip", h2_drip),
        ("HTTP/1.1 header drip", h1_drip),
    ] {
        // Already closed by the server: the read sees the end (or a reset) at once.
        let after = bounded(what, closed_after(conn)).await;
        assert!(
            after < Duration::from_millis(100),
            "{what} still open {after:?} after the drip"
        );
    }
    assert!(
        silent_closed < TIMEOUT * 3,
        "silent connection closed after {silent_closed:?}"
    );
}

/// A whole request message asking the handler to sleep (so that it announces its start).
fn sleeping_message(i: usize) -> Bytes {
    let message = EchoRequest {
        sleep_ms: 10_000,
        ..echo(&format!("flood {i}"))
    };
    let body = message.encode_to_vec();
    let mut framed = vec![0];
    framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
    framed.extend_from_slice(&body);
    framed.into()
}

/// Opens up to `count` calls on one raw HTTP/2 connection and resets each: at once (a
/// burst, the calls half sent), or, with `started`, each once its handler has started.
/// Returns the error the connection ended with and how many calls were opened before it.
async fn rapid_reset(
    addr: std::net::SocketAddr,
    count: usize,
    mut started: Option<&mut common::TestServer>,
) -> (h2::Error, usize) {
    let io = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = h2::client::handshake(io).await.unwrap();
    let connection = tokio::spawn(connection);
    let mut opened = 0;
    for sent in 0..count {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}/wirecall.test.echo.Echo/Unary"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        sender = match sender.ready().await {
            Ok(ready) => ready,
            Err(err) => return (err, sent),
        };
        let (_response, mut body) = match sender.send_request(request, false) {
            Ok(call) => call,
            Err(err) => return (err, sent),
        };
        opened += 1;
        match started.as_deref_mut() {
            None => {
                // Half a message prefix: the call starts and waits for the rest.
                let _ = body.send_data(Bytes::from_static(&[0, 0]), false);
            }
            Some(server) => {
                let _ = body.send_data(sleeping_message(sent), true);
                let event = server.next_event_after_cancels().await;
                if event.is_none() {
                    // The server closed the connection before this call started.
                    break;
                }
            }
        }
        body.send_reset(h2::Reason::CANCEL);
        tokio::task::yield_now().await;
    }
    drop(sender);
    let err = bounded("the flooding connection", connection)
        .await
        .unwrap()
        .expect_err("the server closes a flooding connection");
    (err, opened)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rapid_reset_flood_is_cut_off_and_others_are_served_meanwhile() {
    let server = common::start().await;
    let good = server.client();
    let steady = tokio::spawn(async move {
        let mut served = 0;
        for i in 0..200 {
            let reply = bounded("a steady call", good.unary(echo(&format!("steady {i}"))))
                .await
                .expect("well-behaved calls are served during the flood");
            assert_eq!(reply.get_ref().message, format!("steady {i}"));
            served += 1;
        }
        served
    });
    let (err, sent) = rapid_reset(server.addr, 100_000, None).await;
    eprintln!("flood cut off after {sent} reset calls: {err}");
    assert_eq!(err.reason(), Some(h2::Reason::ENHANCE_YOUR_CALM), "{err:?}");
    assert!(sent < 10_000, "{sent} calls before the cut");
    assert!(err.is_go_away() && err.is_remote(), "{err:?}");
    assert_eq!(steady.await.unwrap(), 200);
    // And the server still takes new connections.
    let after = EchoClient::new(server.channel());
    bounded("after the flood", after.unary(echo("after")))
        .await
        .expect("served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_resets_of_running_calls_hit_the_reset_limit() {
    // Each call is reset only once its handler runs, so h2's own limit on resets of
    // not-yet-accepted streams never applies: this is wirecall's count of cancelled calls.
    let mut server = common::start_with(|b| b.max_client_resets(50, Duration::from_secs(10))).await;
    let addr = server.addr;
    let (err, sent) = rapid_reset(addr, 1_000, Some(&mut server)).await;
    eprintln!("paced flood cut off after {sent} reset calls: {err}");
    assert_eq!(err.reason(), Some(h2::Reason::ENHANCE_YOUR_CALM), "{err:?}");
    assert!((50..=60).contains(&sent), "{sent} calls before the cut");
    let after = EchoClient::new(server.channel());
    bounded("after the flood", after.unary(echo("after")))
        .await
        .expect("other connections are served");
}

/// A raw HTTP/2 connection to `addr`; resolves with how the server ended it.
async fn raw_connection(
    addr: std::net::SocketAddr,
) -> tokio::task::JoinHandle<Result<(), h2::Error>> {
    let io = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let result = connection.await;
        drop(sender);
        result
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_get_goaway_and_clients_reconnect() {
    let idle = Duration::from_millis(200);
    let server = common::start_with(|b| b.max_connection_idle(idle)).await;
    let started = std::time::Instant::now();
    let ended = bounded("an idle connection", raw_connection(server.addr).await)
        .await
        .unwrap();
    let took = started.elapsed();
    // GOAWAY NO_ERROR, then the server closes: the connection ends without an error.
    assert!(ended.is_ok(), "{ended:?}");
    assert!(took >= idle && took < idle * 3, "closed after {took:?}");

    // A channel's next call simply reconnects; a call in flight keeps the connection.
    let client = server.client();
    bounded("first", client.unary(echo("first")))
        .await
        .expect("served");
    let long = common::sleeping("long", 500);
    bounded("a call longer than the idle limit", client.unary(long))
        .await
        .expect("a busy connection is not idle");
    bounded("after", client.unary(echo("after")))
        .await
        .expect("served again, on a new connection if need be");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_connections_are_drained_then_closed_after_the_grace() {
    let (age, grace) = (Duration::from_millis(200), Duration::from_millis(300));
    let server = common::start_with(|b| b.max_connection_age(age, grace)).await;
    let client = server.client();
    // Started before the age: 100 ms fits in the grace, 2 s does not.
    let short = tokio::spawn({
        let client = client.clone();
        async move { client.unary(common::sleeping("short", 250)).await }
    });
    let long = tokio::spawn({
        let client = client.clone();
        async move { client.unary(common::sleeping("long", 2_000)).await }
    });
    bounded("short", short)
        .await
        .unwrap()
        .expect("a call that ends within the grace completes");
    let err = bounded("long", long)
        .await
        .unwrap()
        .expect_err("cut off at the end of the grace");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    // The channel moves to a new connection by itself.
    bounded("after", client.unary(echo("after")))
        .await
        .expect("served on a new connection");
}
