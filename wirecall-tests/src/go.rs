//! Go programs as test peers: building the grpc-go programs under `interop/go/` with the Go
//! toolchain and the grpc-go 1.33.3 sources that `scripts/install-deps.sh` installs
//! GOPATH-style under `target/interop-peers/`, and starting the servers the tests talk to
//! (the CLI's reflection server, the retry interop test's flaky server).
//!
//! Everything here blocks (it runs `go build` and waits on child processes); from an async
//! test call it inside `tokio::task::spawn_blocking`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long [`start_reflection_server`] waits for the server's `listening` line.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);

/// The root of the repository (the workspace directory).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

/// The directory of the Go program `name` under `interop/go/`, e.g.
/// `program("health_client")`.
pub fn program(name: &str) -> PathBuf {
    repo_root().join("interop/go").join(name)
}

/// Whether the Go interop peer can be built here (scripts/install-deps.sh installs it). A test
/// outside `scripts/test.sh` may skip when it cannot; with `WIRECALL_REQUIRE_PEERS` set (the
/// test command sets it) a missing peer is a failure instead, so nothing is skipped there.
pub fn peer_available(test: &str) -> bool {
    let installed = repo_root()
        .join("target/interop-peers/gopath/src/google.golang.org/grpc")
        .is_dir();
    if !installed {
        assert!(
            std::env::var_os("WIRECALL_REQUIRE_PEERS").is_none(),
            "{test}: the Go interop peer is not installed (scripts/install-deps.sh)"
        );
        eprintln!(
            "{test}: skipped, the Go interop peer is not installed (scripts/install-deps.sh)"
        );
    }
    installed
}

/// Builds the Go program (package `main`) in the directory `program` into the executable
/// `binary`, GOPATH-style (no modules, no network) against the grpc-go sources in
/// `target/interop-peers/gopath` and the Debian Go packages in `/usr/share/gocode`.
///
/// # Panics
///
/// If the grpc-go sources are not installed (the message says to run
/// `scripts/install-deps.sh`), if `go` cannot be run, or if the build fails (the compiler's
/// output goes to stderr).
pub fn build(program: &Path, binary: &Path) {
    let peers = repo_root().join("target/interop-peers");
    let gopath = peers.join("gopath");
    assert!(
        gopath.join("src/google.golang.org/grpc").is_dir(),
        "the grpc-go sources are missing from {}: run scripts/install-deps.sh \
         (scripts/test.sh does) to install the Go interop peer",
        gopath.display()
    );
    if let Some(parent) = binary.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
    }
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(binary)
        .arg(".")
        .current_dir(program)
        .env("GO111MODULE", "off")
        .env("GOPATH", format!("{}:/usr/share/gocode", gopath.display()))
        .env("GOCACHE", peers.join("gocache"))
        .env("GOFLAGS", "")
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| {
            panic!("run `go build` (is Go installed? scripts/install-deps.sh): {e}")
        });
    assert!(
        status.success(),
        "`go build` of {} failed ({status})",
        program.display()
    );
}

/// Builds `interop/go/reflection_server` into `dir` and starts it on an ephemeral port of
/// 127.0.0.1 (`--port=0`). It serves grpc-go's interop `grpc.testing.TestService`, its
/// health service (`""` and `grpc.testing.TestService` `SERVING`) and server reflection
/// (`grpc.reflection.v1alpha` only, as grpc-go 1.33.3 has).
///
/// Returns the running server, once it has printed its `listening 127.0.0.1:PORT` line,
/// and the address it listens on. The caller owns the child: kill and wait for it when
/// done (a [`Child`] is not killed when dropped). Its stderr is inherited.
///
/// # Panics
///
/// If the build fails (see [`build`]), the server does not start, or it prints no
/// listening line within [`LISTEN_TIMEOUT`] (the server is then killed).
pub fn start_reflection_server(dir: &Path) -> (Child, SocketAddr) {
    start_server("reflection_server", dir, &[])
}

/// Builds `interop/go/retry_server` into `dir` and starts it on an ephemeral port of
/// 127.0.0.1: grpc-go's `grpc.testing.TestService/EmptyCall`, failing the first `fail`
/// attempts of each call (told apart by `x-call-id`) with `UNAVAILABLE`, then answering
/// with the header `x-seen-attempts` listing each attempt's `grpc-previous-rpc-attempts`
/// (`none` for the first). Returns as [`start_reflection_server`] does.
///
/// # Panics
///
/// As [`start_reflection_server`].
pub fn start_retry_server(dir: &Path, fail: u32) -> (Child, SocketAddr) {
    start_server("retry_server", dir, &[format!("--fail={fail}")])
}

/// Builds the Go server `name` into `dir`, starts it with `--port=0` and `args`, and
/// waits for its `listening HOST:PORT` line.
fn start_server(name: &str, dir: &Path, args: &[String]) -> (Child, SocketAddr) {
    let binary = dir.join(format!("go-{name}"));
    build(&program(name), &binary);
    let mut child = Command::new(&binary)
        .arg("--port=0")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let stdout = child.stdout.take().expect("the child's stdout is piped");
    let (line_tx, line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Reads every line, so the server never blocks on a full pipe; only the first
        // one is wanted.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    let line = match line_rx.recv_timeout(LISTEN_TIMEOUT) {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            let status = child.wait();
            panic!("the Go {name} printed no listening line ({e}); it exited: {status:?}");
        }
    };
    let addr = line
        .strip_prefix("listening ")
        .and_then(|addr| addr.trim().parse::<SocketAddr>().ok());
    match addr {
        Some(addr) => (child, addr),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the Go {name} printed {line:?}, not `listening HOST:PORT`");
        }
    }
}
