//! Floods against a wirecall server process (`fault-peer serve`), each while a well-behaved
//! client makes sequential unary calls on a connection of its own: rapid reset
//! (HEADERS + RST_STREAM), SETTINGS and PING floods, slowloris (HTTP/2 prefaces dripped a
//! byte at a time), zero-window stalling (streams whose responses are never read), and
//! 10,000 idle connections. For each: the server's RSS (its peak too) and the client's p99
//! against its p99 with no flood. Every figure is printed; the test asserts that the
//! well-behaved client never fails, that the server's memory stays within the bounds below,
//! and that the client's p99 stays within `P99_FACTOR` of the idle p99 (plus a floor, as
//! debug builds on a shared 2-core machine jitter by a few milliseconds).
//!
//! The flood traffic is written as raw HTTP/2 frames: attack traffic no client library sends.
//! The frame floods run at a fixed 50,000 frames a second (see `UNITS_PER_TICK`), each on
//! a new connection whenever the server cuts the last one off (GOAWAY ENHANCE_YOUR_CALM for
//! rapid resets and pings); "units written" counts the frames that got into the sockets.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wirecall_tests::echo::{EchoClient, EchoRequest};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long each flood runs while the client measures.
const FLOOD: Duration = Duration::from_secs(2);
/// The client's p99 under a flood may be this many times its idle p99...
const P99_FACTOR: f64 = 3.0;
/// ...or this much, whichever is larger (scheduling jitter of a debug build on a loaded
/// 2-core machine, where the flooding client competes with the server for the cores).
const P99_FLOOR: Duration = Duration::from_millis(10);
/// The idle connections of the last flood.
const IDLE_CONNECTIONS: usize = 10_000;
/// The server's RSS bound under the floods other than the idle connections.
const RSS_BOUND_KIB: u64 = 64 * 1024;
/// The server's memory per idle connection may not exceed this.
const PER_IDLE_CONNECTION_KIB: u64 = 64;

/// One HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(9 + payload.len());
    out.put_uint(payload.len() as u64, 3);
    out.put_u8(kind);
    out.put_u8(flags);
    out.put_u32(stream);
    out.put_slice(payload);
    out.to_vec()
}

/// A HPACK string literal, no Huffman coding (values under 127 bytes).
fn literal(out: &mut Vec<u8>, text: &str) {
    out.push(text.len() as u8);
    out.extend_from_slice(text.as_bytes());
}

/// The header block of a POST to `path` (`:method POST`, `:scheme http` from the static
/// table; the rest literal, not indexed).
fn request_headers(path: &str) -> Vec<u8> {
    let mut block = vec![0x83, 0x86, 0x04];
    literal(&mut block, path);
    block.push(0x01);
    literal(&mut block, "flood");
    block.extend_from_slice(&[0x0f, 0x10]); // content-type (static index 31)
    literal(&mut block, "application/grpc");
    block.push(0x00);
    literal(&mut block, "te");
    literal(&mut block, "trailers");
    block
}

/// A gRPC message frame holding `request`.
fn grpc_message(request: &EchoRequest) -> Vec<u8> {
    let body = request.encode_to_vec();
    let mut out = vec![0];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A connection that has sent the preface and `settings` (id, value pairs); whatever the
/// server sends is read and dropped by a task, unless `read` is false.
async fn raw_connection(
    addr: &str,
    settings: &[(u16, u32)],
    read: bool,
) -> Option<tokio::net::tcp::OwnedWriteHalf> {
    let stream = TcpStream::connect(addr).await.ok()?;
    let (mut reader, mut writer) = stream.into_split();
    let mut payload = Vec::new();
    for (id, value) in settings {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(0x4, 0, 0, &payload));
    writer.write_all(&hello).await.ok()?;
    if read {
        tokio::spawn(async move {
            let mut sink = vec![0u8; 64 * 1024];
            while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
        });
    } else {
        // Kept open, never read.
        tokio::spawn(async move {
            let _reader = reader;
            std::future::pending::<()>().await;
        });
    }
    Some(writer)
}

/// Frames a flood writes per tick, and the tick: 100 frames every 2 ms is 50,000 frames a
/// second, far past anything a legitimate client sends, yet a rate the flooding client can
/// hold without taking a core from the server (both share this machine's two cores, so an
/// unbounded flood would measure the client's appetite, not the server).
const UNITS_PER_TICK: u32 = 100;
const TICK: Duration = Duration::from_millis(2);

/// Writes `UNITS_PER_TICK` frames from `make` (given the next stream id of the connection)
/// every `TICK` until `stop`, opening a new connection whenever the server cuts one off.
async fn flood_at_rate(
    addr: String,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    make: impl Fn(u32) -> Vec<u8>,
) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Ordering::SeqCst) {
        let Some(mut conn) = raw_connection(&addr, &[], true).await else {
            continue;
        };
        let mut next_id = 1;
        while !stop.load(Ordering::SeqCst) && next_id < 1 << 30 {
            ticks.tick().await;
            let chunk: Vec<u8> = (0..UNITS_PER_TICK)
                .flat_map(|i| make(next_id + 2 * i))
                .collect();
            next_id += 2 * UNITS_PER_TICK;
            if conn.write_all(&chunk).await.is_err() {
                break;
            }
            sent.fetch_add(u64::from(UNITS_PER_TICK), Ordering::SeqCst);
        }
    }
}

/// The server process and its pid.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fault-peer"))
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start fault-peer");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().expect("a line").expect("stdout");
        let addr = line
            .strip_prefix("listening ")
            .expect("listening ADDR")
            .to_owned();
        Server { child, addr }
    }

    /// (current RSS, peak RSS) in KiB.
    fn rss(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sequential unary calls for `duration`; their latencies, sorted. Any failure fails the test.
async fn measure(client: &EchoClient, duration: Duration) -> Vec<Duration> {
    let mut latencies = Vec::new();
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let start = Instant::now();
        let reply = client
            .unary(EchoRequest {
                message: "good".into(),
                ..EchoRequest::default()
            })
            .await;
        latencies.push(start.elapsed());
        assert_eq!(
            reply
                .expect("the well-behaved client's call")
                .get_ref()
                .message,
            "good"
        );
    }
    latencies.sort();
    latencies
}

fn p99(latencies: &[Duration]) -> Duration {
    latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]
}

/// Runs `flood` (given a stop flag) while the client measures; prints and checks the figures.
async fn under<F, Fut>(name: &str, server: &Server, client: &EchoClient, idle: Duration, flood: F)
where
    F: FnOnce(Arc<AtomicBool>, Arc<AtomicU64>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flooding = tokio::spawn(flood(stop.clone(), sent.clone()));
    let latencies = measure(client, FLOOD).await;
    stop.store(true, Ordering::SeqCst);
    let _ = common::bounded(name, flooding).await;
    let (rss, peak) = server.rss();
    let p99 = p99(&latencies);
    let bound = idle.mul_f64(P99_FACTOR).max(P99_FLOOR);
    eprintln!(
        "{name:<24} flood units written {:>9} | client calls {:>6}, p99 {:>9.3?} ({:.2}x idle) | server RSS {rss} KiB, peak {peak} KiB",
        sent.load(Ordering::SeqCst),
        latencies.len(),
        p99,
        p99.as_secs_f64() / idle.as_secs_f64(),
    );
    assert!(p99 <= bound, "{name}: p99 {p99:?} over {bound:?}");
    assert!(
        rss <= RSS_BOUND_KIB,
        "{name}: RSS {rss} KiB over {RSS_BOUND_KIB} KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_leave_a_well_behaved_client_served() {
    // A 1 s handshake timeout for the slowloris flood; room for the idle connections.
    let server = Server::start(&[&(IDLE_CONNECTIONS + 100).to_string(), "1000"]);
    let addr = server.addr.clone();
    let client = EchoClient::connect(format!("http://{addr}")).await.unwrap();
    measure(&client, Duration::from_millis(300)).await; // warm-up
    let idle = p99(&measure(&client, FLOOD).await);
    let (rss, _) = server.rss();
    eprintln!("{:<24} p99 {idle:.3?}, server RSS {rss} KiB", "no flood");

    let unary = "/wirecall.test.echo.Echo/Unary";
    let headers = request_headers(unary);
    let a = addr.clone();
    under("rapid reset", &server, &client, idle, move |stop, sent| {
        // Each stream opened and cancelled at once.
        flood_at_rate(a, stop, sent, move |id| {
            let mut pair = frame(0x1, 0x4, id, &headers);
            pair.extend(frame(0x3, 0, id, &8u32.to_be_bytes()));
            pair
        })
    })
    .await;

    let a = addr.clone();
    under(
        "SETTINGS flood",
        &server,
        &client,
        idle,
        move |stop, sent| flood_at_rate(a, stop, sent, |_| frame(0x4, 0, 0, &[0, 3, 0, 0, 0, 100])),
    )
    .await;

    let a = addr.clone();
    under("PING flood", &server, &client, idle, move |stop, sent| {
        flood_at_rate(a, stop, sent, |id| {
            frame(0x6, 0, 0, &u64::from(id).to_be_bytes())
        })
    })
    .await;

    let a = addr.clone();
    under(
        "slowloris (500 conns)",
        &server,
        &client,
        idle,
        move |stop, sent| async move {
            let mut drips = Vec::new();
            for _ in 0..500 {
                let a = a.clone();
                let stop = stop.clone();
                let sent = sent.clone();
                drips.push(tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let Ok(mut conn) = TcpStream::connect(&a).await else {
                            continue;
                        };
                        sent.fetch_add(1, Ordering::SeqCst);
                        // One preface byte every 100 ms: the handshake timeout closes it.
                        for byte in PREFACE.iter().cycle() {
                            if stop.load(Ordering::SeqCst)
                                || conn.write_all(&[*byte]).await.is_err()
                            {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }));
            }
            for drip in drips {
                let _ = drip.await;
            }
        },
    )
    .await;

    let a = addr.clone();
    under(
        "zero-window stall",
        &server,
        &client,
        idle,
        move |stop, sent| async move {
            let stream_request = grpc_message(&EchoRequest {
                message: "stall".into(),
                payload: vec![7; 16 * 1024],
                ..EchoRequest::default()
            });
            let headers = request_headers("/wirecall.test.echo.Echo/ServerStream");
            let mut held = Vec::new();
            while !stop.load(Ordering::SeqCst) && held.len() < 20 {
                // Initial window 0: the server may send no DATA at all; never read either.
                let Some(mut conn) = raw_connection(&a, &[(0x4, 0)], false).await else {
                    continue;
                };
                let mut opening = Vec::new();
                for i in 0..100u32 {
                    let id = 2 * i + 1;
                    opening.extend(frame(0x1, 0x4, id, &headers));
                    opening.extend(frame(0x0, 0x1, id, &stream_request));
                }
                if conn.write_all(&opening).await.is_ok() {
                    sent.fetch_add(100, Ordering::SeqCst);
                }
                held.push(conn);
            }
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        },
    )
    .await;

    // 10,000 idle connections, each through its HTTP/2 handshake, held open.
    let (before, _) = server.rss();
    let mut idle_connections = Vec::with_capacity(IDLE_CONNECTIONS);
    let opened = Instant::now();
    while idle_connections.len() < IDLE_CONNECTIONS {
        let conn = raw_connection(&addr, &[], true)
            .await
            .expect("an idle connection");
        idle_connections.push(conn);
    }
    let opening = opened.elapsed();
    // The last connections' handshakes: a call on a new connection is served after them.
    let late = EchoClient::connect(format!("http://{addr}")).await.unwrap();
    late.unary(EchoRequest::default())
        .await
        .expect("a call past 10,000 connections");
    let (with_idle, _) = server.rss();
    let per_connection = with_idle.saturating_sub(before) / IDLE_CONNECTIONS as u64;
    let latencies = measure(&client, FLOOD).await;
    let p99_idle_conns = p99(&latencies);
    eprintln!(
        "{:<24} opened in {opening:.2?} | client calls {:>6}, p99 {p99_idle_conns:>9.3?} ({:.2}x idle) | server RSS {before} -> {with_idle} KiB ({per_connection} KiB per connection)",
        "10,000 idle conns",
        latencies.len(),
        p99_idle_conns.as_secs_f64() / idle.as_secs_f64(),
    );
    assert!(
        per_connection <= PER_IDLE_CONNECTION_KIB,
        "{per_connection} KiB per idle connection"
    );
    assert!(
        p99_idle_conns <= idle.mul_f64(P99_FACTOR).max(P99_FLOOR),
        "p99 {p99_idle_conns:?} with idle connections"
    );
}
