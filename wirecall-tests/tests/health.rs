//! The health service over real sockets, read by grpcio-health-checking's client (from
//! PyPI, in the venv the test command installs): Check of the server and of a service, an
//! unknown service, and Watch following status changes made while it runs.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use wirecall::health::{HealthReporter, ServingStatus};

/// The next line the client printed.
async fn next(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    common::bounded("a line from the health client", lines.recv())
        .await
        .expect("the client printed a line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_health_client_checks_and_watches() {
    let health = HealthReporter::new();
    let server = common::start_with({
        let health = health.clone();
        move |b| b.add_health(&health)
    })
    .await;
    let service = "wirecall.test.echo.Echo";
    let mut child = Command::new(common::peer_python("grpc_health.v1"))
        .arg(common::repo_root().join("wirecall-tests/peers/health_client.py"))
        .arg(format!("--addr={}", server.addr))
        .arg(format!("--service={service}"))
        .arg("--watch=3")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the Python health client");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    // Every service added to the server is SERVING; so is the server.
    assert_eq!(next(&mut lines).await, "check \"\" SERVING");
    assert_eq!(next(&mut lines).await, format!("check {service} SERVING"));
    assert_eq!(next(&mut lines).await, "check missing NOT_FOUND");
    // Watch: the current status, then each change as it is made.
    assert_eq!(next(&mut lines).await, "watch SERVING");
    health.set_status(service, ServingStatus::NotServing);
    assert_eq!(next(&mut lines).await, "watch NOT_SERVING");
    health.set_status(service, ServingStatus::Serving);
    assert_eq!(next(&mut lines).await, "watch SERVING");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_turns_health_not_serving_and_ends_watches() {
    use wirecall::health::{HealthCheckRequest, HealthCheckResponse};
    let health = HealthReporter::new();
    let mut server = common::start_with({
        let health = health.clone();
        move |b| b.add_health(&health)
    })
    .await;
    // A raw Watch through the channel's generic streaming call.
    let channel = server.channel();
    let path = wirecall::codegen::PathAndQuery::from_static("/grpc.health.v1.Health/Watch");
    let mut watch: wirecall::Streaming<HealthCheckResponse> = channel
        .server_streaming(
            HealthCheckRequest {
                service: String::new(),
            },
            path,
        )
        .await
        .expect("Watch starts")
        .into_inner();
    let first = common::bounded("first", watch.message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);
    let task = server.begin_shutdown();
    let last = common::bounded("on shutdown", watch.message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.status, ServingStatus::NotServing as i32);
    assert!(common::bounded("the end", watch.message())
        .await
        .unwrap()
        .is_none());
    // The watch did not hold the shutdown up for the grace period.
    common::bounded("shutdown", task).await.unwrap().unwrap();
    assert_eq!(health.status(""), Some(ServingStatus::NotServing));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_watch_stops_watching_without_waiting_for_a_change() {
    use wirecall::health::{HealthCheckRequest, HealthCheckResponse};
    let health = HealthReporter::new();
    let server = common::start_with({
        let health = health.clone();
        move |b| b.add_health(&health)
    })
    .await;
    let channel = wirecall::Channel::connect(format!("http://{}", server.addr))
        .await
        .unwrap();
    let watch = || async {
        let path = wirecall::codegen::PathAndQuery::from_static("/grpc.health.v1.Health/Watch");
        let request = HealthCheckRequest {
            service: String::new(),
        };
        channel
            .server_streaming::<_, HealthCheckResponse>(request, path)
            .await
            .unwrap()
            .into_inner()
    };
    // A Check first: the connection and its tasks are up before the baseline is taken.
    let check = wirecall::codegen::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
    let request = HealthCheckRequest {
        service: String::new(),
    };
    channel
        .unary::<_, HealthCheckResponse>(request, check)
        .await
        .unwrap();
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    for _ in 0..20 {
        let mut watching = watch().await;
        let status = watching
            .message()
            .await
            .unwrap()
            .expect("the current status");
        assert_eq!(status.status, i32::from(ServingStatus::Serving));
        drop(watching);
    }
    // No status changes: each cancelled watch's task must end by itself.
    common::bounded("the cancelled watches' tasks", async {
        while metrics.num_alive_tasks() > baseline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    let _ = health;
}
