//! The UserService from a real browser: headless Chromium runs `browser/page.ts`, which calls
//! the wirecall server with the npm clients `@connectrpc/connect-web` (gRPC-Web, Connect with
//! protobuf, Connect with JSON) and `@bufbuild/protobuf`, the service described at run time
//! by the server's own `FileDescriptorSet` (no protoc). The page is served from another
//! origin than the server's, so every call is a CORS call.
//!
//! Needs `/usr/bin/chromium` and the page's npm packages: `scripts/install-browser.sh`
//! installs both. Without them this test fails (it never passes silently).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use user_service::pb::UserServiceServer;
use user_service::{server, Users};
use wirecall::server::Service;

/// The browser binary `browser/run.mjs` drives.
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long `run.mjs` may take (it gives up by itself after 90 s).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// Every row the page reports, each of which has to be PASS.
const TRANSPORTS: [&str; 3] = ["grpc-web", "connect-proto", "connect-json"];
const CHECKS: [&str; 4] = ["unary", "stream", "error-details", "metadata"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Fails, naming the installer, when Chromium or the page's npm packages are missing.
fn assert_installed() {
    let modules = browser_dir().join("node_modules");
    let missing: Vec<String> = [
        PathBuf::from(CHROMIUM),
        modules.join("playwright-core"),
        modules.join("esbuild"),
        modules.join("@connectrpc/connect-web"),
        modules.join("@bufbuild/protobuf"),
    ]
    .into_iter()
    .filter(|path| !path.exists())
    .map(|path| path.display().to_string())
    .collect();
    assert!(
        missing.is_empty(),
        "the browser test needs {}: run `bash scripts/install-browser.sh` (as root) first",
        missing.join(", ")
    );
}

/// The UserService as `user-server` serves it to browsers: gRPC-Web for pages of any origin
/// and the Connect protocol; its address as a base URL.
async fn start_server() -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server(Users::new()).serve_with_listener(listener, async {
        let _ = stopped.await;
    }));
    (format!("http://{addr}"), stop)
}

/// Runs `node browser/run.mjs`, killing it after [`RUN_TIMEOUT`]; its exit status (`None`
/// when killed) and its stdout and stderr together.
fn run_page(server: &str, descriptors: &Path, screenshot: &Path) -> (Option<ExitStatus>, String) {
    let mut child = Command::new("node")
        .arg(browser_dir().join("run.mjs"))
        .arg("--server")
        .arg(server)
        .arg("--descriptors")
        .arg(descriptors)
        .arg("--screenshot")
        .arg(screenshot)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (is Node.js installed? scripts/install-deps.sh installs it)");
    let (tx, rx) = mpsc::channel();
    for mut pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = tx.send(text);
        });
    }
    drop(tx);
    // Both pipes close when run.mjs exits: wait for that, bounded.
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut output = String::new();
    let mut timed_out = false;
    for _ in 0..2 {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(text) => output.push_str(&text),
            Err(_) => {
                timed_out = true;
                break;
            }
        }
    }
    if timed_out {
        let _ = child.kill();
        let _ = child.wait();
        output.push_str(&format!("\n(run.mjs killed after {RUN_TIMEOUT:?})\n"));
        return (None, output);
    }
    (Some(child.wait().expect("wait for node")), output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_calls_user_service_with_connect_web() {
    assert_installed();
    let descriptor_set = <UserServiceServer<Users> as Service>::DESCRIPTOR_SET;
    assert!(!descriptor_set.is_empty(), "UserService has no descriptors");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let descriptors = dir.join("user-service.binpb");
    let screenshot = dir.join("user-service-browser.png");
    std::fs::write(&descriptors, descriptor_set).unwrap();

    let (server, _stop) = start_server().await;
    let (status, output) =
        tokio::task::spawn_blocking(move || run_page(&server, &descriptors, &screenshot))
            .await
            .unwrap();
    println!("{output}");

    let expected = std::iter::once("descriptors".to_owned()).chain(
        TRANSPORTS
            .iter()
            .flat_map(|t| CHECKS.iter().map(move |c| format!("{t}/{c}"))),
    );
    let mut not_passed = Vec::new();
    for name in expected {
        let pass = format!("PASS {name}: ");
        if !output.lines().any(|line| line.starts_with(&pass)) {
            let fail = format!("FAIL {name}: ");
            let row = output.lines().find(|line| line.starts_with(&fail));
            not_passed.push(row.map_or(format!("MISSING {name}"), str::to_owned));
        }
    }
    assert!(
        not_passed.is_empty(),
        "{} browser rows did not pass (run.mjs output above):\n  {}",
        not_passed.len(),
        not_passed.join("\n  ")
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "run.mjs failed ({status:?}) although every row passed (its output above)"
    );
}
