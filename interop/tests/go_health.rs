//! grpc-go's health client against wirecall's `grpc.health.v1.Health`:
//! `interop/go/health_client` (built with the Go toolchain and the grpc-go sources that the
//! test command installs for the interop peers) checks the server, the TestService and an
//! unknown service, then watches the TestService while the test flips its status.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;
use wirecall::health::{HealthReporter, ServingStatus};
use wirecall_interop::server::TestServer;
use wirecall_tests::go;

const SERVICE: &str = "grpc.testing.TestService";

/// The next line the Go client printed, waiting at most 30 s for it.
async fn next(lines: &mut UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(30), lines.recv())
        .await
        .expect("a line from the Go health client within 30 s")
        .expect("the Go health client printed another line before exiting")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_go_health_client_checks_and_watches() {
    let health = HealthReporter::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        wirecall::Server::builder()
            .add_service(TestServer)
            .add_health(&health)
            .serve_with_listener(listener, std::future::pending()),
    );

    let dir = go::repo_root().join(format!("target/go-health-{}", std::process::id()));
    let binary = dir.join("go-health-client");
    let built = binary.clone();
    tokio::task::spawn_blocking(move || go::build(&go::program("health_client"), &built))
        .await
        .unwrap();
    let mut child = Command::new(&binary)
        .arg(format!("-addr={addr}"))
        .arg(format!("-service={SERVICE}"))
        .arg("-watch=3")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the Go health client");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });

    // The server as a whole and every service added to it are SERVING.
    assert_eq!(next(&mut lines).await, "check \"\" SERVING");
    assert_eq!(next(&mut lines).await, format!("check {SERVICE} SERVING"));
    // A service the reporter does not know: NOT_FOUND, as grpc-go names the code.
    assert_eq!(next(&mut lines).await, "check missing NotFound");
    // Watch: the current status first, then each change as it is made.
    assert_eq!(next(&mut lines).await, "watch SERVING");
    health.set_status(SERVICE, ServingStatus::NotServing);
    assert_eq!(next(&mut lines).await, "watch NOT_SERVING");
    health.set_status(SERVICE, ServingStatus::Serving);
    assert_eq!(next(&mut lines).await, "watch SERVING");

    let status = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("the Go health client exits after its last Watch message")
    .unwrap()
    .unwrap();
    assert!(status.success(), "the Go health client failed: {status}");
    assert!(
        lines.recv().await.is_none(),
        "nothing after the last Watch line"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
