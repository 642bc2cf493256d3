//! The UserService from `@connectrpc/connect-node` (npm): `node-connect/run.mjs` calls it
//! over every transport connect-node has (gRPC, gRPC-Web and Connect; protobuf and JSON
//! messages; HTTP/2 and HTTP/1.1), the service described at run time by the server's own
//! `FileDescriptorSet`. gRPC and gRPC-Web with JSON are `application/grpc+json` and
//! `application/grpc-web+json`, converted at the wire by the server.
//!
//! Needs Node.js and the script's npm packages (`scripts/install-deps.sh` installs them);
//! without them this test fails (it never passes silently).

use std::path::{Path, PathBuf};
use std::process::Command;

use user_service::pb::UserServiceServer;
use user_service::{server, Users};
use wirecall::server::Service;

/// Every row run.mjs prints, each of which has to be PASS.
const TRANSPORTS: [&str; 10] = [
    "grpc-proto-h2",
    "grpc-web-proto-h2",
    "connect-proto-h2",
    "grpc-web-proto-h1",
    "connect-proto-h1",
    "grpc-json-h2",
    "grpc-web-json-h2",
    "connect-json-h2",
    "grpc-web-json-h1",
    "connect-json-h1",
];
const CHECKS: [&str; 3] = ["unary", "stream", "error"];

fn script_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node-connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_node_calls_user_service_over_every_transport_and_codec() {
    let modules = script_dir().join("node_modules/@connectrpc/connect-node");
    assert!(
        modules.exists(),
        "{} missing: run `bash scripts/install-deps.sh` first",
        modules.display()
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let descriptors = dir.join("user-service-connect-node.binpb");
    std::fs::write(
        &descriptors,
        <UserServiceServer<Users> as Service>::DESCRIPTOR_SET,
    )
    .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server(Users::new()).serve_with_listener(listener, async {
        let _ = stopped.await;
    }));

    let mut node = Command::new("node");
    node.arg(script_dir().join("run.mjs"))
        .arg("--server")
        .arg(format!("http://{addr}"))
        .arg("--descriptors")
        .arg(&descriptors);
    let output = tokio::task::spawn_blocking(move || node.output())
        .await
        .unwrap()
        .expect("run node (scripts/install-deps.sh installs Node.js)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    let mut not_passed = Vec::new();
    for transport in TRANSPORTS {
        for check in CHECKS {
            let pass = format!("PASS {transport}/{check}: ");
            if !text.lines().any(|line| line.starts_with(&pass)) {
                not_passed.push(format!("{transport}/{check}"));
            }
        }
    }
    assert!(
        not_passed.is_empty(),
        "rows that did not pass (output above): {not_passed:?}"
    );
    assert!(
        output.status.success(),
        "run.mjs failed: {:?}",
        output.status
    );
}
