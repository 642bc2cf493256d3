//! The pajamax echo server of bench/run.py: `pajamax-echo [--addr 127.0.0.1:50051]`.
//!
//! pajamax 0.3 is a synchronous, unary-only gRPC server with its own HTTP/2: one thread per
//! connection, which reads a batch of frames, calls the handlers in place and writes the
//! batch of responses. So this server answers `/bench.Echo/Unary` and `/bench.Echo/Complex`
//! (each with the request unchanged) and not the streaming methods of bench/proto/bench.proto.
//!
//! pajamax takes each DATA frame as one whole gRPC message and never raises the HTTP/2
//! connection window above 65,535 bytes before its first responses, so requests that a
//! client splits over frames fail (the connection closes): messages over one frame
//! (run.py's 64 KiB and 1 MiB payloads), and more than about 600 outstanding 100-byte
//! echoes on one connection (h2load's 1000 streams).
//!
//! Same contract as the servers in bench/src/bin: prints `listening on ADDR` once the port
//! accepts connections; on SIGTERM or SIGINT prints its counters on stderr and exits 0.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

#[allow(clippy::all)]
mod pb {
    pajamax::include_proto!("bench");
}

use pb::{ComplexMessage, EchoMessage, EchoServer};

/// How many concurrent streams the server advertises per connection (as the other servers:
/// bench/src/lib.rs's MAX_CONCURRENT_STREAMS). pajamax only sends the setting; it does not
/// enforce it.
const MAX_CONCURRENT_STREAMS: usize = 1024;
/// pajamax drops connections over this limit (its default is 100; run.py's memory scenario
/// holds 200 idle connections). Each connection is one thread.
const MAX_CONCURRENT_CONNECTIONS: usize = 1024;

/// What the server counts, reported on stderr when it stops (the fields of
/// bench/src/lib.rs's `Counters`; the streaming ones stay 0).
#[derive(Default)]
struct Counters {
    unary: AtomicU64,
    complex: AtomicU64,
}

impl Counters {
    fn report(&self) {
        eprintln!(
            r#"counters {{"server":"pajamax","unary":{},"complex":{},"server_stream":0,"bidi":0,"errors":0}}"#,
            self.unary.load(Ordering::Relaxed),
            self.complex.load(Ordering::Relaxed),
        );
    }
}

struct EchoService {
    counters: Arc<Counters>,
}

impl pb::Echo for EchoService {
    fn unary(&self, req: EchoMessage) -> pajamax::Response<EchoMessage> {
        self.counters.unary.fetch_add(1, Ordering::Relaxed);
        Ok(req)
    }

    fn complex(&self, req: ComplexMessage) -> pajamax::Response<ComplexMessage> {
        self.counters.complex.fetch_add(1, Ordering::Relaxed);
        Ok(req)
    }
}

/// Sets TCP_NODELAY on pajamax's listening socket, which Linux passes on to every socket it
/// accepts: `serve` binds the listener itself and keeps it, so it is found among this
/// process's file descriptors by its local address. Returns whether one was found (`None`
/// when the descriptors cannot be listed).
fn listener_nodelay(addr: SocketAddr) -> Option<bool> {
    use std::mem::ManuallyDrop;
    use std::os::fd::{FromRawFd, RawFd};
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    let mut found = false;
    for entry in entries.flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // SAFETY: `fd` is an open socket of this process; ManuallyDrop leaves it open (the
        // calls below are getsockname and setsockopt, which fail harmlessly on a non-TCP
        // socket).
        let socket = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
        if socket.local_addr().is_ok_and(|local| local == addr) && socket.set_nodelay(true).is_ok()
        {
            found = true;
        }
    }
    Some(found)
}

/// The value of `--addr VALUE` or `--addr=VALUE` (default `127.0.0.1:50051`).
fn server_addr() -> SocketAddr {
    let mut args = std::env::args().skip(1);
    let mut value = None;
    while let Some(a) = args.next() {
        if a == "--addr" {
            value = args.next();
        } else if let Some(v) = a.strip_prefix("--addr=") {
            value = Some(v.to_owned());
        }
    }
    match value {
        None => SocketAddr::from(([127, 0, 0, 1], 50051)),
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("invalid value for --addr: {v:?}");
            std::process::exit(2)
        }),
    }
}

fn main() {
    let addr = server_addr();
    if addr.port() == 0 {
        // pajamax binds inside `serve` and does not say which port it got.
        eprintln!("--addr needs a port: pajamax does not report the port it binds");
        std::process::exit(2);
    }
    // Registered before serving, so that a signal right after `listening on` is not lost.
    let mut signals = Signals::new([SIGTERM, SIGINT]).expect("SIGTERM and SIGINT handlers");
    let counters = Arc::new(Counters::default());

    let service = EchoServer::new(EchoService {
        counters: counters.clone(),
    });
    let server = std::thread::Builder::new()
        .name("pajamax-accept".into())
        .spawn(move || {
            // Binds, then accepts forever (one thread per connection); returns only on error.
            let result = pajamax::Config::new()
                .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
                .max_concurrent_connections(MAX_CONCURRENT_CONNECTIONS)
                .add_service(service)
                .serve(addr);
            if let Err(err) = result {
                eprintln!("pajamax-echo: serving on {addr}: {err}");
            }
            std::process::exit(1);
        })
        .expect("server thread");

    // pajamax binds inside `serve` without handing back the listener: wait until the port
    // accepts a connection (the probe closes before the HTTP/2 preface, and pajamax drops it)
    // and this process holds a socket bound to it (not another process's listener).
    // Setting TCP_NODELAY on it too: every bench server runs with TCP_NODELAY
    // (bench/src/lib.rs) and pajamax does not set it; without it, a connection's second
    // write of a batch waits for the delayed ACK (40 ms stalls with 100 streams on one
    // connection).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            match listener_nodelay(addr) {
                Some(true) => break,
                Some(false) => {}
                None => {
                    eprintln!("pajamax-echo: could not set TCP_NODELAY (no /proc/self/fd)");
                    break;
                }
            }
        }
        if server.is_finished() || Instant::now() > deadline {
            eprintln!("pajamax-echo: {addr} did not start accepting connections");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    println!("listening on {addr}");
    std::io::stdout().flush().expect("flush stdout");

    // Blocks until SIGTERM or SIGINT; the server thread never returns on its own.
    let _ = signals.forever().next();
    counters.report();
    std::process::exit(0);
}
