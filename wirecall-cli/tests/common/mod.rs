//! Shared by the command's tests: running the `wirecall` binary and serving the examples on
//! 127.0.0.1.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wirecall::server::ServerBuilder;

/// The longest one run of the command may take.
pub const LIMIT: Duration = Duration::from_secs(30);

/// What one run of the command did.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Everything it printed on standard output.
    pub stdout: String,
    /// Everything it printed on standard error.
    pub stderr: String,
}

impl Run {
    /// Asserts a zero exit code and returns the output.
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "the command failed: {self:#?}");
        self.stdout
    }
}

/// The built `wirecall` binary with `args`.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wirecall"));
    command.args(args);
    command
}

/// Runs the command with `args` (and `stdin` as its standard input), failing the test if
/// it takes longer than [`LIMIT`].
pub async fn run(args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = command(args);
    let stdin = stdin.map(str::to_owned);
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("wirecall {}", args.join(" "));
    let done = tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("start the wirecall binary");
        if let Some(text) = stdin {
            let mut input = child.stdin.take().unwrap();
            input.write_all(text.as_bytes()).unwrap();
        }
        child.wait_with_output().expect("wait for wirecall")
    });
    let output = tokio::time::timeout(LIMIT, done)
        .await
        .unwrap_or_else(|_| panic!("{what}: no exit within {LIMIT:?}"))
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A child's standard output, line by line, as it comes.
pub fn lines(child: &mut Child) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next line of [`lines`], failing the test after [`LIMIT`].
pub async fn next_line(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(LIMIT, lines.recv())
        .await
        .expect("a line within the limit")
        .expect("the command printed a line")
}

/// A server running in the test, stopped gracefully when dropped or by [`stop`](Self::stop).
pub struct Served {
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Served {
    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Shuts the server down gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(LIMIT, task)
                .await
                .expect("the server stops")
                .unwrap();
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `builder` on a new 127.0.0.1 port.
pub async fn serve(builder: ServerBuilder) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        builder
            .serve_with_listener(listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs");
    });
    Served {
        addr,
        stop: Some(stop),
        task: Some(task),
    }
}

/// The example UserService (with its metadata echo) with health (`health`) and, if
/// `reflection`, reflection.
pub async fn user_service(health: &wirecall::health::HealthReporter, reflection: bool) -> Served {
    let builder = wirecall::Server::builder()
        .interceptor(example_support::EchoMetadata)
        .add_service(user_service::pb::UserServiceServer::new(
            user_service::Users::new(),
        ))
        .add_health(health)
        .shutdown_grace(Duration::from_secs(5));
    serve(if reflection {
        builder.add_reflection()
    } else {
        builder
    })
    .await
}

/// The repository's root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}
