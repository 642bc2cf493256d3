//! The side-by-side benchmark of wirecall, tonic and a raw `h2` echo server.
//!
//! Four binaries share this library: `wirecall-echo`, `tonic-echo` and `h2-echo` (servers)
//! and `bench-client` (the load client, with a wirecall and a tonic implementation).
//! `bench/run.py` builds them, runs them pinned to separate cores next to h2load, iperf3
//! and sockperf, and writes `bench/RESULTS.md`.
//!
//! Every server is tuned the same way: `TCP_NODELAY`, an HTTP/2 stream window of 1 MiB, a
//! connection window of 4 MiB and up to 1024 concurrent streams per connection (wirecall's
//! defaults; tonic and h2 are configured to match).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

/// The wirecall code generated for `package bench;`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/wirecall/bench.rs"));

    /// `package bench.gateway;` (proto/gateway.proto): the REST rule of
    /// `wirecall-echo --gateway`.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod gateway {
        include!(concat!(env!("OUT_DIR"), "/wirecall/bench.gateway.rs"));
    }
}

/// The tonic code generated for `package bench;` (the same proto, compiled by protox).
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod tonic_pb {
    include!(concat!(env!("OUT_DIR"), "/tonic/bench.rs"));
}

/// The HTTP/2 stream flow-control window of every server and client (1 MiB).
pub const STREAM_WINDOW: u32 = 1 << 20;
/// The HTTP/2 connection flow-control window of every server and client (4 MiB).
pub const CONNECTION_WINDOW: u32 = 4 << 20;
/// How many concurrent streams every server allows per connection.
pub const MAX_CONCURRENT_STREAMS: u32 = 1024;
/// The largest payload a `ServerStream` request may ask for (4 MiB).
pub const MAX_PAYLOAD: u32 = 4 << 20;
/// The length of the string in the small echo message.
pub const TEXT_LEN: usize = 100;

/// The value of `--name VALUE` or `--name=VALUE` in the process arguments.
pub fn arg(name: &str) -> Option<String> {
    let flag = format!("--{name}");
    let prefix = format!("{flag}=");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == flag {
            return args.next();
        }
        if let Some(v) = a.strip_prefix(&prefix) {
            return Some(v.to_owned());
        }
    }
    None
}

/// `--name VALUE` parsed, or `default` when absent; exits with a message when malformed.
pub fn arg_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match arg(name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("invalid value for --{name}: {v:?}");
            std::process::exit(2)
        }),
    }
}

/// The `--addr` of a server (default `127.0.0.1:50051`).
pub fn server_addr() -> std::net::SocketAddr {
    arg_or("addr", std::net::SocketAddr::from(([127, 0, 0, 1], 50051)))
}

/// What a server counts while it runs, reported on stderr when it stops.
#[derive(Debug, Default)]
pub struct Counters {
    /// Unary calls answered.
    pub unary: AtomicU64,
    /// Complex calls answered.
    pub complex: AtomicU64,
    /// Server-streaming calls started.
    pub server_stream: AtomicU64,
    /// Bidirectional calls started.
    pub bidi: AtomicU64,
    /// Non-OK statuses the handlers produced (including failed request streams), or, for
    /// the raw h2 server, streams that failed.
    pub errors: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters as one JSON object.
    pub fn to_json(&self, server: &str) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            r#"{{"server":"{server}","unary":{},"complex":{},"server_stream":{},"bidi":{},"errors":{}}}"#,
            get(&self.unary),
            get(&self.complex),
            get(&self.server_stream),
            get(&self.bidi),
            get(&self.errors),
        )
    }

    /// Prints `counters {json}` on stderr (run.py reads it after stopping the server).
    pub fn report(&self, server: &str) {
        eprintln!("counters {}", self.to_json(server));
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// `size` bytes of payload (a repeating byte pattern).
pub fn payload(size: usize) -> Bytes {
    (0..size)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// The 100-byte string of the small echo message.
pub fn text() -> String {
    (0..TEXT_LEN)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect()
}

/// A message framed the gRPC way: flag byte 0, 4-byte big-endian length, the message.
pub fn grpc_frame(message: &impl prost::Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut framed = Vec::with_capacity(body.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
    framed.extend_from_slice(&body);
    framed
}

/// The message of the "complex" scenario: every scalar kind, a oneof and ten nested items.
pub fn complex_message() -> pb::ComplexMessage {
    use pb::{complex_message::Choice, ComplexMessage, Item, Kind};
    let kinds = [Kind::Small, Kind::Medium, Kind::Large];
    let items = (0..10)
        .map(|i| Item {
            key: format!("item-key-{i:04}"),
            value: 1_000_000_007 * i64::from(i),
            kind: kinds[i as usize % kinds.len()] as i32,
            tags: vec![format!("tag-{i}"), "benchmark".to_owned()],
        })
        .collect();
    ComplexMessage {
        id: "6f1b7c2e-0d4a-4e8b-9a51-3c2f7d9e8b10".to_owned(),
        name: "complex benchmark message".to_owned(),
        description: "a message mixing strings, floating point, integers, a oneof and a \
                      repeated nested message with an enum"
            .to_owned(),
        score: 98.765_432_1,
        ratio: 0.618,
        active: true,
        count: 123_456,
        timestamp: 1_700_000_000_123,
        choice: Some(Choice::Label("the oneof's string arm".to_owned())),
        items,
    }
}

/// A stream of `count` clones of one message: the server-streaming response.
#[derive(Debug)]
pub struct Repeat<T, E> {
    message: T,
    left: u32,
    _error: std::marker::PhantomData<fn() -> E>,
}

impl<T, E> Repeat<T, E> {
    /// `count` copies of `message` (cheap when its payload is `Bytes`).
    pub fn new(message: T, count: u32) -> Self {
        Repeat {
            message,
            left: count,
            _error: std::marker::PhantomData,
        }
    }
}

impl<T, E> Unpin for Repeat<T, E> {}

impl<T: Clone, E> Stream for Repeat<T, E> {
    type Item = Result<T, E>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        Poll::Ready(Some(Ok(self.message.clone())))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

/// Passes a stream of results through, counting the errors: the echo of a bidi call.
#[derive(Debug)]
pub struct CountErrors<S> {
    inner: S,
    counters: std::sync::Arc<Counters>,
}

impl<S> CountErrors<S> {
    /// Wraps `inner`; every `Err` item adds one to `counters.errors`.
    pub fn new(inner: S, counters: std::sync::Arc<Counters>) -> Self {
        CountErrors { inner, counters }
    }
}

impl<S: Stream<Item = Result<T, E>> + Unpin, T, E> Stream for CountErrors<S> {
    type Item = Result<T, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            Counters::bump(&self.counters.errors);
        }
        polled
    }
}

/// A tokio mpsc receiver as a `Stream`: the request side of the clients' bidi calls (the
/// same type for both client implementations).
#[derive(Debug)]
pub struct MpscStream<T>(pub tokio::sync::mpsc::Receiver<T>);

impl<T> Stream for MpscStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

/// Nearest-rank percentile `p` (0..=100) of sorted samples; 0 when there are none.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // The epsilon keeps float noise (99.9 * 1000 / 100 = 999.000...1) off the next rank.
    let rank = (p * sorted.len() as f64 / 100.0 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&samples, 50.0), 500);
        assert_eq!(percentile(&samples, 99.0), 990);
        assert_eq!(percentile(&samples, 99.9), 999);
        assert_eq!(percentile(&samples, 100.0), 1000);
        assert_eq!(percentile(&[], 99.0), 0);
    }

    #[test]
    fn frames_carry_the_length_prefix() {
        let message = pb::EchoMessage {
            text: text(),
            payload: Bytes::new(),
        };
        let framed = grpc_frame(&message);
        assert_eq!(framed[0], 0);
        let len = u32::from_be_bytes(framed[1..5].try_into().unwrap()) as usize;
        assert_eq!(len, framed.len() - 5);
        assert_eq!(len, TEXT_LEN + 2);
    }

    #[test]
    fn repeat_yields_count_messages() {
        let mut stream = Repeat::<u8, ()>::new(7, 3);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut n = 0;
        while let Poll::Ready(Some(Ok(7))) = Pin::new(&mut stream).poll_next(&mut cx) {
            n += 1;
        }
        assert_eq!(n, 3);
    }
}
