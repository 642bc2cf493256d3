//! A soak run: a wirecall server process (`fault-peer serve`) under mixed load for a while,
//! its memory sampled at a fixed interval.
//!
//! `soak [--secs 1800] [--sample-secs 60] [--connections 50]`
//!
//! Each connection runs a loop of the four call patterns: a unary call, a server stream of
//! 10 messages, a client stream of 10 messages, a bidi call of 10 round trips. It prints one
//! line per sample (elapsed time, server RSS, calls so far, failures so far) and a verdict,
//! and exits non-zero if any call failed or if, after the warm-up (the first sample), the
//! RSS of any sample strays more than 10% from the post-warm-up median.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wirecall::message_stream;
use wirecall_tests::echo::{EchoClient, EchoRequest};

/// How far a sample may stray from the median after the warm-up.
const FLAT: f64 = 0.10;

/// How long one round may take before it counts as stuck (a lost wake-up, a hung stream):
/// a failure with the round's pattern named, instead of a soak that never ends.
const STUCK: Duration = Duration::from_secs(30);

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn request(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        payload: vec![1; 256],
        ..EchoRequest::default()
    }
}

/// One round of the four patterns; an error names the pattern that failed, and `stage`
/// names the one under way.
async fn round(client: &EchoClient, stage: &std::sync::Mutex<&'static str>) -> Result<(), String> {
    let fail = |what: &str| {
        let what = what.to_owned();
        move |status: wirecall::Status| format!("{what}: {status:?}")
    };
    let reply = client.unary(request("u")).await.map_err(fail("unary"))?;
    if reply.get_ref().message != "u" {
        return Err("unary: wrong answer".into());
    }
    *stage.lock().unwrap() = "server stream";
    let mut streamed = EchoRequest {
        repeat: 10,
        ..request("s")
    };
    streamed.sleep_ms = 0;
    let mut stream = client
        .server_stream(streamed)
        .await
        .map_err(fail("server stream"))?
        .into_inner();
    let mut count = 0;
    while stream
        .message()
        .await
        .map_err(fail("server stream"))?
        .is_some()
    {
        count += 1;
    }
    if count != 10 {
        return Err(format!("server stream: {count} messages"));
    }
    *stage.lock().unwrap() = "client stream";
    let messages = message_stream::iter((0..10).map(|_| request("c")));
    let total = client
        .client_stream(messages)
        .await
        .map_err(fail("client stream"))?;
    if total.get_ref().index != 10 {
        return Err(format!("client stream: counted {}", total.get_ref().index));
    }
    *stage.lock().unwrap() = "bidi";
    let (tx, rx) = message_stream::channel(1);
    let mut bidi = client.bidi(rx).await.map_err(fail("bidi"))?.into_inner();
    for i in 0..10 {
        let text = format!("b{i}");
        tx.send(request(&text))
            .await
            .map_err(|_| "bidi: send".to_owned())?;
        match bidi.message().await.map_err(fail("bidi"))? {
            Some(echo) if echo.message == text => {}
            other => return Err(format!("bidi: {other:?}")),
        }
    }
    drop(tx);
    if bidi.message().await.map_err(fail("bidi"))?.is_some() {
        return Err("bidi: an extra message".into());
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let secs = arg("--secs", 1800);
    let sample = Duration::from_secs(arg("--sample-secs", 60));
    let connections = arg("--connections", 50) as usize;
    let mut server = Command::new(
        std::env::current_exe()
            .expect("this binary's path")
            .with_file_name("fault-peer"),
    )
    .arg("serve")
    .stdout(Stdio::piped())
    .spawn()
    .expect("start fault-peer (cargo build -p wirecall-tests --bins)");
    let line = BufReader::new(server.stdout.take().unwrap())
        .lines()
        .next()
        .expect("a line")
        .expect("stdout");
    let addr = line
        .strip_prefix("listening ")
        .expect("listening ADDR")
        .to_owned();
    let pid = server.id();

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..connections {
        // One client, so one connection, per worker.
        let client = EchoClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        let (stop, calls, failures) = (stop.clone(), calls.clone(), failures.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let stage = std::sync::Mutex::new("unary");
                let outcome = tokio::time::timeout(STUCK, round(&client, &stage))
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!("{}: stuck for {STUCK:?}", stage.lock().unwrap()))
                    });
                match outcome {
                    Ok(()) => {
                        calls.fetch_add(4, Ordering::Relaxed);
                    }
                    Err(why) => {
                        if failures.fetch_add(1, Ordering::Relaxed) < 10 {
                            eprintln!("soak: a call failed: {why}");
                        }
                    }
                }
            }
        }));
    }

    println!("soak: {connections} connections, {secs} s, a sample every {sample:?}");
    println!(
        "{:>8} {:>12} {:>12} {:>9}",
        "elapsed", "server RSS", "calls", "failed"
    );
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + sample, sample);
    while start.elapsed() < Duration::from_secs(secs) {
        ticks.tick().await;
        let rss = rss_kib(pid);
        samples.push(rss);
        println!(
            "{:>7}s {:>8} KiB {:>12} {:>9}",
            start.elapsed().as_secs(),
            rss,
            calls.load(Ordering::Relaxed),
            failures.load(Ordering::Relaxed)
        );
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }
    let _ = server.kill();
    let _ = server.wait();

    let failed = failures.load(Ordering::Relaxed);
    let steady: Vec<u64> = samples.iter().skip(1).copied().collect();
    let mut sorted = steady.clone();
    sorted.sort_unstable();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
    let worst = steady
        .iter()
        .map(|&s| (s as f64 - median as f64).abs() / median.max(1) as f64)
        .fold(0.0, f64::max);
    println!(
        "soak: {} calls, {failed} failed; RSS after warm-up: median {median} KiB, min {} KiB, max {} KiB, worst deviation {:.1}%",
        calls.load(Ordering::Relaxed),
        sorted.first().copied().unwrap_or(0),
        sorted.last().copied().unwrap_or(0),
        worst * 100.0
    );
    if failed > 0 || steady.is_empty() || worst > FLAT {
        println!("soak: FAILED (calls must not fail; RSS must stay within 10% of the median)");
        std::process::exit(1);
    }
    println!("soak: passed");
}
