//! The test harness: starts servers (the wirecall binaries and the peers in Node, Python and
//! Go, all with `--addr 127.0.0.1:0`), reads the address from their `... listening on
//! HOST:PORT` line, and runs clients against them, each as a process with a time limit.
//!
//! The peers live in `examples/peers/` and are installed by `scripts/install-peers.sh`
//! (Node modules, the Python venv and stubs, the Go binaries); a test fails naming that
//! script when one is missing.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client run may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The languages the peers are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Node.js, `@grpc/grpc-js` with `@grpc/proto-loader`.
    Node,
    /// Python, `grpcio` with `grpc_tools.protoc` stubs.
    Python,
    /// Go, Debian's grpc-go.
    Go,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Node => "Node",
            Lang::Python => "Python",
            Lang::Go => "Go",
        })
    }
}

/// Which side of a contract a program plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Serves the contract.
    Server,
    /// Calls every method of it.
    Client,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// The command that runs the `lang` peer playing `role` for `contract` (`user`, `users`,
/// `order`, `math` or `example`); panics, naming the installer, if it is not installed.
pub fn peer(lang: Lang, contract: &str, role: Role) -> Command {
    let root = root();
    let peers = root.join("examples/peers");
    let (program, script) = match lang {
        Lang::Node => (
            PathBuf::from("node"),
            Some(peers.join(format!("node/{contract}/{}.js", role.name()))),
        ),
        Lang::Python => (
            root.join("target/peers/venv/bin/python"),
            Some(peers.join(format!("python/{contract}/{}.py", role.name()))),
        ),
        Lang::Go => (
            root.join(format!("target/peers/go/bin/{contract}-{}", role.name())),
            None,
        ),
    };
    let installed = match lang {
        Lang::Node => peers.join("node/node_modules/@grpc/grpc-js").exists(),
        Lang::Python => {
            program.exists()
                && root
                    .join(format!("target/peers/py-gen/{contract}"))
                    .exists()
        }
        Lang::Go => program.exists(),
    };
    assert!(
        installed,
        "the {lang} {contract} peer is not installed: run scripts/install-peers.sh (scripts/test.sh does)"
    );
    let mut command = Command::new(program);
    command.args(script).current_dir(&root);
    if lang == Lang::Python {
        let path = format!(
            "{}:{}",
            root.join(format!("target/peers/py-gen/{contract}"))
                .display(),
            peers.join("python").display()
        );
        command.env("PYTHONPATH", path);
    }
    command
}

/// A server process on a free port of 127.0.0.1, killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    addr: SocketAddr,
    name: String,
}

impl Server {
    /// Runs `command --addr 127.0.0.1:0` and waits for its `... listening on HOST:PORT` line.
    pub async fn start(mut command: Command, name: impl Into<String>) -> Server {
        let name = name.into();
        command
            .arg("--addr")
            .arg("127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(START_TIMEOUT, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{name}: no listening line within {START_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("{name}: reading its output: {e}"))
            .unwrap_or_else(|| panic!("{name}: exited before listening"));
        let addr = line
            .split_once(" listening on ")
            .and_then(|(_, addr)| addr.trim().parse().ok())
            .unwrap_or_else(|| {
                panic!("{name}: expected `... listening on HOST:PORT`, got {line:?}")
            });
        // Whatever else it prints goes to the test's output, and never fills the pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                println!("[server] {line}");
            }
        });
        Server { child, addr, name }
    }

    /// Starts the `lang` peer server of `contract`.
    pub async fn peer(lang: Lang, contract: &str) -> Server {
        Server::start(
            peer(lang, contract, Role::Server),
            format!("{lang} {contract} server"),
        )
        .await
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(self) -> ExitStatus {
        self.stop("TERM").await
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits for the exit.
    pub async fn interrupt(self) -> ExitStatus {
        self.stop("INT").await
    }

    async fn stop(mut self, signal: &str) -> ExitStatus {
        let pid = self.child.id().expect("a running server has a pid");
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "{}: kill -{signal} {pid} failed", self.name);
        let name = &self.name;
        tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{name}: still running {STOP_TIMEOUT:?} after SIG{signal}"))
            .expect("wait for the server")
    }
}

/// What a client process did.
#[derive(Debug)]
pub struct Run {
    /// How it exited.
    pub status: ExitStatus,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Runs `command --addr ADDR` to its end (killing it after a minute); panics unless it
/// exited 0 having printed `all N steps passed`, and returns N.
pub async fn passes(command: Command, addr: SocketAddr, name: &str) -> usize {
    let run = run(command, addr, name).await;
    let steps = run
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("all ")?.strip_suffix(" steps passed"))
        .find_map(|n| n.parse::<usize>().ok());
    match steps {
        Some(n) if run.status.success() => n,
        _ => panic!(
            "{name} failed ({}):\n{}{}",
            run.status, run.stdout, run.stderr
        ),
    }
}

/// Runs `command --addr ADDR` to its end; panics unless it exited 1 with a `FAILED <step>:`
/// line on stderr, and returns that line.
pub async fn fails(command: Command, addr: SocketAddr, name: &str) -> String {
    let run = run(command, addr, name).await;
    let failed = run.stderr.lines().find(|l| l.starts_with("FAILED "));
    match failed {
        Some(line) if run.status.code() == Some(1) => line.to_owned(),
        _ => panic!(
            "{name} did not fail as expected ({}):\n{}{}",
            run.status, run.stdout, run.stderr
        ),
    }
}

/// Runs `command --addr ADDR` to its end, killing it after [`CLIENT_TIMEOUT`].
async fn run(mut command: Command, addr: SocketAddr, name: &str) -> Run {
    command
        .arg("--addr")
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(CLIENT_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{name}: still running after {CLIENT_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{name}: cannot run: {e}"));
    let run = Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    println!("--- {name}\n{}{}", run.stdout, run.stderr);
    run
}

/// Runs the `lang` peer client of `contract` against `addr`; see [`passes`].
pub async fn peer_client_passes(lang: Lang, contract: &str, addr: SocketAddr) -> usize {
    passes(
        peer(lang, contract, Role::Client),
        addr,
        &format!("{lang} {contract} client"),
    )
    .await
}

/// The wirecall server binary `server` serves `contract` to the `lang` peer client, which
/// passes; then the server stops on SIGTERM, exiting 0.
pub async fn peer_client_calls(server: &str, lang: Lang, contract: &str) {
    let running = Server::start(Command::new(server), server).await;
    peer_client_passes(lang, contract, running.addr()).await;
    let exit = running.terminate().await;
    assert!(exit.success(), "{server} exited {exit} after SIGTERM");
}

/// The wirecall client binary `client` passes against the `lang` peer server of `contract`,
/// which also answers health and reflection for `service`, then stops on SIGTERM, exiting 0.
pub async fn client_calls_peer(client: &str, lang: Lang, contract: &str, service: &str) {
    let running = Server::peer(lang, contract).await;
    passes(Command::new(client), running.addr(), client).await;
    serves_health_and_reflection(running.addr(), service).await;
    let exit = running.terminate().await;
    assert!(
        exit.success(),
        "the {lang} {contract} server exited {exit} after SIGTERM"
    );
}

/// The wirecall client binary passes against the wirecall server binary, which also answers
/// health and reflection for `service`; then the server stops on SIGINT (Ctrl-C), exiting 0.
pub async fn client_calls_server(client: &str, server: &str, service: &str) {
    let running = Server::start(Command::new(server), server).await;
    passes(Command::new(client), running.addr(), client).await;
    serves_health_and_reflection(running.addr(), service).await;
    let exit = running.interrupt().await;
    assert!(exit.success(), "{server} exited {exit} after SIGINT");
}

/// The server at `addr` reports `service` SERVING (`grpc.health.v1.Health/Check`) and lists
/// it among its services (server reflection).
pub async fn serves_health_and_reflection(addr: SocketAddr, service: &str) {
    use wirecall::health::{HealthCheckRequest, HealthCheckResponse, ServingStatus};

    let channel = wirecall::Endpoint::new(format!("http://{addr}"))
        .expect("an endpoint")
        .timeout(CLIENT_TIMEOUT)
        .connect_lazy();
    let check = HealthCheckRequest {
        service: service.to_owned(),
    };
    let path = "/grpc.health.v1.Health/Check".parse().expect("a path");
    let health: HealthCheckResponse = channel
        .unary(check, path)
        .await
        .unwrap_or_else(|status| panic!("health of {service} at {addr}: {status}"))
        .into_inner();
    assert_eq!(
        health.status,
        ServingStatus::Serving as i32,
        "health of {service}"
    );

    // grpc.reflection.v1, or v1alpha where a server (grpc-go 1.33) has only that.
    let names = match list_services(&channel, "v1").await {
        Err(status) if status.code() == wirecall::Code::Unimplemented => {
            list_services(&channel, "v1alpha").await
        }
        other => other,
    }
    .unwrap_or_else(|status| panic!("reflection at {addr}: {status}"));
    assert!(
        names.iter().any(|n| n == service),
        "{service} not in {names:?}"
    );
}

/// The services a server lists through `grpc.reflection.<version>.ServerReflection`.
async fn list_services(
    channel: &wirecall::Channel,
    version: &str,
) -> Result<Vec<String>, wirecall::Status> {
    use wirecall::message_stream;
    use wirecall::reflection::proto::{
        MessageRequest, MessageResponse, ServerReflectionRequest, ServerReflectionResponse,
    };

    let list = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let path = format!("/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo")
        .parse()
        .expect("a path");
    let mut answers = channel
        .streaming::<_, ServerReflectionResponse>(message_stream::iter([list]), path)
        .await?
        .into_inner();
    match answers.message().await?.and_then(|a| a.message_response) {
        Some(MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => Err(wirecall::Status::internal(format!(
            "expected the list of services, got {other:?}"
        ))),
    }
}
