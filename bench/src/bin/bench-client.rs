//! The load client, with a wirecall and a tonic implementation of the same scenarios.
//!
//! ```text
//! bench-client bodies --out DIR
//!     writes the h2load request bodies (5-byte-prefixed protobuf) and prints their sizes
//! bench-client run --impl wirecall|tonic --addr 127.0.0.1:PORT --scenario NAME [options]
//!     unary       sequential unary calls: latency p50/p99/p99.9    [--size N: payload bytes]
//!     concurrent  --streams N tasks on one connection, unary calls in a loop: p50/p99/p99.9
//!     pingpong    one bidi call, one message at a time: round trips per second and latency
//!     stream      server-streaming calls of --size byte payloads: MB/s and messages/s
//!     hold        --conns N idle connections (one call each), then, after a line on stdin,
//!                 --hold-streams S open bidi calls; waits for stdin to close
//!     options: --secs S (measured time, default 1), --warmup S (default 0.2)
//! ```
//!
//! Every response is checked (status OK, the echoed lengths match); failures are counted in
//! the `errors` field. Results are one JSON object on stdout.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncBufReadExt;
use wirecall_bench::{arg, arg_or, percentile, MpscStream, CONNECTION_WINDOW, STREAM_WINDOW};

/// One client implementation: how to connect and make each kind of call.
trait Api: Clone + Send + Sync + 'static {
    type Msg: Clone + Send + Sync + 'static;
    type Bidi: Send + 'static;

    fn connect(addr: &str) -> impl Future<Output = Result<Self, String>> + Send;
    fn message(text: String, payload: Bytes) -> Self::Msg;
    /// One unary call; checks the echo.
    fn unary(&mut self, message: Self::Msg) -> impl Future<Output = Result<(), String>> + Send;
    /// One server-streaming call; returns (messages, payload bytes) after checking sizes.
    fn server_stream(
        &mut self,
        count: u32,
        size: u32,
    ) -> impl Future<Output = Result<(u64, u64), String>> + Send;
    fn open_bidi(&mut self) -> impl Future<Output = Result<Self::Bidi, String>> + Send;
    /// Sends one message on an open bidi call and waits for its echo.
    fn round_trip(
        bidi: &mut Self::Bidi,
        message: Self::Msg,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Ends an open bidi call cleanly: closes the request stream, reads to the trailers.
    fn finish(bidi: Self::Bidi) -> impl Future<Output = Result<(), String>> + Send;
}

fn check_echo(sent: (usize, usize), got: (usize, usize)) -> Result<(), String> {
    if sent == got {
        Ok(())
    } else {
        Err(format!("echo mismatch: sent {sent:?}, got {got:?}"))
    }
}

mod wirecall_impl {
    use super::*;
    use wirecall_bench::pb::{EchoClient, EchoMessage, StreamRequest};

    #[derive(Clone)]
    pub(crate) struct Wirecall(EchoClient);

    pub(crate) struct Bidi {
        tx: tokio::sync::mpsc::Sender<EchoMessage>,
        rx: wirecall::Streaming<EchoMessage>,
    }

    impl Api for Wirecall {
        type Msg = EchoMessage;
        type Bidi = Bidi;

        async fn connect(addr: &str) -> Result<Self, String> {
            let channel = wirecall::Endpoint::new(format!("http://{addr}"))
                .map_err(|e| e.to_string())?
                .initial_stream_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .connect()
                .await
                .map_err(|e| e.to_string())?;
            Ok(Wirecall(EchoClient::new(channel)))
        }

        fn message(text: String, payload: Bytes) -> EchoMessage {
            EchoMessage { text, payload }
        }

        async fn unary(&mut self, message: EchoMessage) -> Result<(), String> {
            let sent = (message.text.len(), message.payload.len());
            let reply = self.0.unary(message).await.map_err(|s| s.to_string())?;
            let reply = reply.get_ref();
            check_echo(sent, (reply.text.len(), reply.payload.len()))
        }

        async fn server_stream(&mut self, count: u32, size: u32) -> Result<(u64, u64), String> {
            let request = StreamRequest {
                count,
                payload_size: size,
            };
            let mut stream = self
                .0
                .server_stream(request)
                .await
                .map_err(|s| s.to_string())?
                .into_inner();
            let (mut messages, mut bytes) = (0u64, 0u64);
            while let Some(message) = stream.message().await.map_err(|s| s.to_string())? {
                if message.payload.len() != size as usize {
                    return Err(format!("payload of {} bytes", message.payload.len()));
                }
                messages += 1;
                bytes += message.payload.len() as u64;
            }
            if messages != u64::from(count) {
                return Err(format!("{messages} messages instead of {count}"));
            }
            Ok((messages, bytes))
        }

        async fn open_bidi(&mut self) -> Result<Bidi, String> {
            let (tx, rx) = tokio::sync::mpsc::channel(16);
            let response = self
                .0
                .bidi(MpscStream(rx))
                .await
                .map_err(|s| s.to_string())?;
            Ok(Bidi {
                tx,
                rx: response.into_inner(),
            })
        }

        async fn round_trip(bidi: &mut Bidi, message: EchoMessage) -> Result<(), String> {
            let sent = (message.text.len(), message.payload.len());
            bidi.tx
                .send(message)
                .await
                .map_err(|_| "request stream closed".to_owned())?;
            match bidi.rx.message().await.map_err(|s| s.to_string())? {
                Some(reply) => check_echo(sent, (reply.text.len(), reply.payload.len())),
                None => Err("bidi call ended early".to_owned()),
            }
        }

        async fn finish(bidi: Bidi) -> Result<(), String> {
            let Bidi { tx, mut rx } = bidi;
            drop(tx);
            while rx.message().await.map_err(|s| s.to_string())?.is_some() {}
            Ok(())
        }
    }
}

mod tonic_impl {
    use super::*;
    use wirecall_bench::tonic_pb::echo_client::EchoClient;
    use wirecall_bench::tonic_pb::{EchoMessage, StreamRequest};

    #[derive(Clone)]
    pub(crate) struct Tonic(EchoClient<tonic::transport::Channel>);

    pub(crate) struct Bidi {
        tx: tokio::sync::mpsc::Sender<EchoMessage>,
        rx: tonic::Streaming<EchoMessage>,
    }

    impl Api for Tonic {
        type Msg = EchoMessage;
        type Bidi = Bidi;

        async fn connect(addr: &str) -> Result<Self, String> {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .map_err(|e| e.to_string())?
                .tcp_nodelay(true)
                .initial_stream_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .connect()
                .await
                .map_err(|e| e.to_string())?;
            Ok(Tonic(EchoClient::new(channel)))
        }

        fn message(text: String, payload: Bytes) -> EchoMessage {
            EchoMessage { text, payload }
        }

        async fn unary(&mut self, message: EchoMessage) -> Result<(), String> {
            let sent = (message.text.len(), message.payload.len());
            let reply = self.0.unary(message).await.map_err(|s| s.to_string())?;
            let reply = reply.get_ref();
            check_echo(sent, (reply.text.len(), reply.payload.len()))
        }

        async fn server_stream(&mut self, count: u32, size: u32) -> Result<(u64, u64), String> {
            let request = StreamRequest {
                count,
                payload_size: size,
            };
            let mut stream = self
                .0
                .server_stream(request)
                .await
                .map_err(|s| s.to_string())?
                .into_inner();
            let (mut messages, mut bytes) = (0u64, 0u64);
            while let Some(message) = stream.message().await.map_err(|s| s.to_string())? {
                if message.payload.len() != size as usize {
                    return Err(format!("payload of {} bytes", message.payload.len()));
                }
                messages += 1;
                bytes += message.payload.len() as u64;
            }
            if messages != u64::from(count) {
                return Err(format!("{messages} messages instead of {count}"));
            }
            Ok((messages, bytes))
        }

        async fn open_bidi(&mut self) -> Result<Bidi, String> {
            let (tx, rx) = tokio::sync::mpsc::channel(16);
            let response = self
                .0
                .bidi(MpscStream(rx))
                .await
                .map_err(|s| s.to_string())?;
            Ok(Bidi {
                tx,
                rx: response.into_inner(),
            })
        }

        async fn round_trip(bidi: &mut Bidi, message: EchoMessage) -> Result<(), String> {
            let sent = (message.text.len(), message.payload.len());
            bidi.tx
                .send(message)
                .await
                .map_err(|_| "request stream closed".to_owned())?;
            match bidi.rx.message().await.map_err(|s| s.to_string())? {
                Some(reply) => check_echo(sent, (reply.text.len(), reply.payload.len())),
                None => Err("bidi call ended early".to_owned()),
            }
        }

        async fn finish(bidi: Bidi) -> Result<(), String> {
            let Bidi { tx, mut rx } = bidi;
            drop(tx);
            while rx.message().await.map_err(|s| s.to_string())?.is_some() {}
            Ok(())
        }
    }
}

/// Scenario settings from the command line.
#[derive(Debug, Clone)]
struct Settings {
    addr: String,
    secs: f64,
    warmup: f64,
    size: u32,
    streams: usize,
    conns: usize,
    hold_streams: usize,
}

/// Latency samples (nanoseconds) plus error count, summarized as JSON fields.
fn latency_json(mut samples: Vec<u64>, errors: u64, secs: f64, first_error: &str) -> String {
    samples.sort_unstable();
    let us = |p: f64| percentile(&samples, p) as f64 / 1000.0;
    let calls = samples.len() as u64;
    format!(
        r#""calls":{calls},"errors":{errors},"secs":{secs:.4},"rate":{:.2},"p50_us":{:.2},"p99_us":{:.2},"p999_us":{:.2},"first_error":{first_error:?}"#,
        calls as f64 / secs,
        us(50.0),
        us(99.0),
        us(99.9),
    )
}

/// Tells run.py that the measured window starts (it samples the server's CPU time).
fn mark_start() {
    println!(r#"{{"mark":"start"}}"#);
}

fn small_message<A: Api>(size: u32) -> A::Msg {
    if size == 0 {
        A::message(wirecall_bench::text(), Bytes::new())
    } else {
        A::message(String::new(), wirecall_bench::payload(size as usize))
    }
}

async fn scenario_unary<A: Api>(s: &Settings) -> Result<String, String> {
    let mut api = A::connect(&s.addr).await?;
    let message = small_message::<A>(s.size);
    let warm_until = Instant::now() + Duration::from_secs_f64(s.warmup);
    while Instant::now() < warm_until {
        api.unary(message.clone()).await?;
    }
    mark_start();
    let mut samples = Vec::with_capacity(1 << 16);
    let (mut errors, mut first_error) = (0u64, String::new());
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(s.secs);
    loop {
        let t = Instant::now();
        if t >= end {
            break;
        }
        match api.unary(message.clone()).await {
            Ok(()) => samples.push(t.elapsed().as_nanos() as u64),
            Err(e) => {
                errors += 1;
                if first_error.is_empty() {
                    first_error = e;
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(latency_json(samples, errors, secs, &first_error))
}

async fn scenario_concurrent<A: Api>(s: &Settings) -> Result<String, String> {
    let api = A::connect(&s.addr).await?;
    let message = small_message::<A>(s.size);
    let record_from = Instant::now() + Duration::from_secs_f64(s.warmup);
    let end = record_from + Duration::from_secs_f64(s.secs);
    tokio::spawn(async move {
        tokio::time::sleep_until(record_from.into()).await;
        mark_start();
    });
    let mut tasks = Vec::with_capacity(s.streams);
    for _ in 0..s.streams {
        let mut api = api.clone();
        let message = message.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(1024);
            let (mut errors, mut first_error) = (0u64, String::new());
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                let result = api.unary(message.clone()).await;
                if t < record_from {
                    continue;
                }
                match result {
                    Ok(()) => samples.push(t.elapsed().as_nanos() as u64),
                    Err(e) => {
                        errors += 1;
                        if first_error.is_empty() {
                            first_error = e;
                        }
                    }
                }
            }
            (samples, errors, first_error)
        }));
    }
    let (mut samples, mut errors, mut first_error) = (Vec::new(), 0u64, String::new());
    for task in tasks {
        let (s, e, f) = task.await.map_err(|e| e.to_string())?;
        samples.extend(s);
        errors += e;
        if first_error.is_empty() {
            first_error = f;
        }
    }
    // Calls that started in the window: the window is the measured time.
    let secs = s.secs;
    Ok(format!(
        r#"{},"streams":{}"#,
        latency_json(samples, errors, secs, &first_error),
        s.streams
    ))
}

async fn scenario_pingpong<A: Api>(s: &Settings) -> Result<String, String> {
    let mut api = A::connect(&s.addr).await?;
    let mut bidi = api.open_bidi().await?;
    let message = small_message::<A>(s.size);
    let warm_until = Instant::now() + Duration::from_secs_f64(s.warmup);
    while Instant::now() < warm_until {
        A::round_trip(&mut bidi, message.clone()).await?;
    }
    mark_start();
    let mut samples = Vec::with_capacity(1 << 16);
    let (mut errors, mut first_error) = (0u64, String::new());
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(s.secs);
    loop {
        let t = Instant::now();
        if t >= end {
            break;
        }
        match A::round_trip(&mut bidi, message.clone()).await {
            Ok(()) => samples.push(t.elapsed().as_nanos() as u64),
            Err(e) => {
                errors += 1;
                first_error = e;
                break; // the call is over
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if errors == 0 {
        A::finish(bidi).await?;
    }
    Ok(latency_json(samples, errors, secs, &first_error))
}

async fn scenario_stream<A: Api>(s: &Settings) -> Result<String, String> {
    let mut api = A::connect(&s.addr).await?;
    let size = s.size.max(1);
    // About 8 MiB per call, so a call is short next to the measured time.
    let count = ((8u32 << 20) / size).max(1);
    let warm_until = Instant::now() + Duration::from_secs_f64(s.warmup);
    while Instant::now() < warm_until {
        api.server_stream(count, size).await?;
    }
    mark_start();
    let (mut messages, mut bytes, mut calls, mut errors) = (0u64, 0u64, 0u64, 0u64);
    let mut first_error = String::new();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(s.secs);
    while Instant::now() < end {
        match api.server_stream(count, size).await {
            Ok((m, b)) => {
                messages += m;
                bytes += b;
                calls += 1;
            }
            Err(e) => {
                errors += 1;
                if first_error.is_empty() {
                    first_error = e;
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(format!(
        r#""calls":{calls},"errors":{errors},"secs":{secs:.4},"messages":{messages},"bytes":{bytes},"msgs_per_s":{:.1},"mb_per_s":{:.2},"first_error":{first_error:?}"#,
        messages as f64 / secs,
        bytes as f64 / secs / 1e6,
    ))
}

async fn wait_for_line(lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>) {
    let _ = lines.next_line().await;
}

async fn scenario_hold<A: Api>(s: &Settings) -> Result<String, String> {
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut conns = Vec::with_capacity(s.conns);
    let message = small_message::<A>(0);
    for _ in 0..s.conns.max(1) {
        let mut api = A::connect(&s.addr).await?;
        api.unary(message.clone()).await?;
        conns.push(api);
    }
    println!(r#"{{"stage":"conns","conns":{}}}"#, conns.len());
    wait_for_line(&mut stdin).await;
    let spread = conns.len().min(4);
    let mut calls = Vec::with_capacity(s.hold_streams);
    for i in 0..s.hold_streams {
        let api = &mut conns[i % spread];
        let mut bidi = api.open_bidi().await?;
        A::round_trip(&mut bidi, message.clone()).await?;
        calls.push(bidi);
    }
    println!(r#"{{"stage":"streams","streams":{}}}"#, calls.len());
    wait_for_line(&mut stdin).await;
    let finishing: Vec<_> = calls
        .into_iter()
        .map(|b| tokio::spawn(A::finish(b)))
        .collect();
    for task in finishing {
        task.await.map_err(|e| e.to_string())??;
    }
    drop(conns);
    Ok(r#""stage":"done""#.to_owned())
}

async fn run<A: Api>(scenario: &str, s: &Settings) -> Result<String, String> {
    match scenario {
        "unary" => scenario_unary::<A>(s).await,
        "concurrent" => scenario_concurrent::<A>(s).await,
        "pingpong" => scenario_pingpong::<A>(s).await,
        "stream" => scenario_stream::<A>(s).await,
        "hold" => scenario_hold::<A>(s).await,
        other => Err(format!("unknown scenario {other:?}")),
    }
}

/// Writes the h2load bodies: the 100-byte string echo, the complex message, and payload
/// echoes of 1 KiB, 64 KiB and 1 MiB.
fn write_bodies(dir: &std::path::Path) -> std::io::Result<String> {
    use wirecall_bench::pb::EchoMessage;
    std::fs::create_dir_all(dir)?;
    let echo = |text: String, payload: Bytes| EchoMessage { text, payload };
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        (
            "echo100",
            wirecall_bench::grpc_frame(&echo(wirecall_bench::text(), Bytes::new())),
        ),
        (
            "complex",
            wirecall_bench::grpc_frame(&wirecall_bench::complex_message()),
        ),
        (
            "payload1k",
            wirecall_bench::grpc_frame(&echo(String::new(), wirecall_bench::payload(1 << 10))),
        ),
        (
            "payload64k",
            wirecall_bench::grpc_frame(&echo(String::new(), wirecall_bench::payload(64 << 10))),
        ),
        (
            "payload1m",
            wirecall_bench::grpc_frame(&echo(String::new(), wirecall_bench::payload(1 << 20))),
        ),
    ];
    let mut fields = Vec::new();
    for (name, bytes) in &bodies {
        std::fs::write(dir.join(format!("{name}.bin")), bytes)?;
        fields.push(format!("{name:?}:{}", bytes.len()));
    }
    Ok(format!("{{{}}}", fields.join(",")))
}

fn main() {
    let command = std::env::args().nth(1).unwrap_or_default();
    match command.as_str() {
        "bodies" => {
            let dir = arg("out").unwrap_or_else(|| "bodies".to_owned());
            match write_bodies(std::path::Path::new(&dir)) {
                Ok(json) => println!("{json}"),
                Err(e) => {
                    eprintln!("writing bodies: {e}");
                    std::process::exit(1);
                }
            }
        }
        "run" => {
            let implementation = arg("impl").unwrap_or_else(|| "wirecall".to_owned());
            let scenario = arg("scenario").unwrap_or_else(|| "unary".to_owned());
            let settings = Settings {
                addr: arg("addr").unwrap_or_else(|| "127.0.0.1:50051".to_owned()),
                secs: arg_or("secs", 1.0),
                warmup: arg_or("warmup", 0.2),
                size: arg_or("size", 0),
                streams: arg_or("streams", 1000),
                conns: arg_or("conns", 1),
                hold_streams: arg_or("hold-streams", 0),
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            let result = runtime.block_on(async {
                match implementation.as_str() {
                    "wirecall" => run::<wirecall_impl::Wirecall>(&scenario, &settings).await,
                    "tonic" => run::<tonic_impl::Tonic>(&scenario, &settings).await,
                    other => Err(format!("unknown --impl {other:?}")),
                }
            });
            match result {
                Ok(fields) => {
                    println!(r#"{{"impl":"{implementation}","scenario":"{scenario}",{fields}}}"#)
                }
                Err(e) => {
                    println!(
                        r#"{{"impl":"{implementation}","scenario":"{scenario}","fatal":{e:?}}}"#
                    );
                    std::process::exit(1);
                }
            }
        }
        _ => {
            eprintln!(
                "usage: bench-client bodies --out DIR | bench-client run --impl wirecall|tonic \
                 --addr HOST:PORT --scenario unary|concurrent|pingpong|stream|hold [--secs S] \
                 [--warmup S] [--size BYTES] [--streams N] [--conns N] [--hold-streams N]"
            );
            std::process::exit(2);
        }
    }
}
