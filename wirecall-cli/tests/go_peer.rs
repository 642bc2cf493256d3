//! The `wirecall` command against grpc-go: `interop/go/reflection_server` (grpc-go 1.33.3's
//! interop TestService, health, and reflection v1alpha only, so the command must fall back
//! from v1) built at test time from the sources the test command installs.

mod common;

use common::run;

/// Kills the Go server when the test ends, passed or not.
struct Peer(std::process::Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_against_a_grpc_go_server() {
    if !wirecall_tests::go::peer_available("the_command_against_a_grpc_go_server") {
        return;
    }
    let dir = common::repo_root().join(format!("target/cli-go-{}", std::process::id()));
    let (child, addr) = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || wirecall_tests::go::start_reflection_server(&dir))
            .await
            .unwrap()
    };
    let _peer = Peer(child);
    let a = &addr.to_string();

    let services = run(&["--plaintext", "list", a], None).await.ok();
    assert!(
        services.lines().any(|l| l == "grpc.testing.TestService"),
        "v1alpha reflection lists the TestService: {services}"
    );
    let methods = run(
        &["--plaintext", "list", a, "grpc.testing.TestService"],
        None,
    )
    .await
    .ok();
    for method in [
        "EmptyCall",
        "UnaryCall",
        "StreamingOutputCall",
        "FullDuplexCall",
    ] {
        let line = format!("grpc.testing.TestService.{method}");
        assert!(methods.lines().any(|l| l == line), "{line} in {methods}");
    }
    let described = run(
        &["--plaintext", "describe", a, "grpc.testing.SimpleRequest"],
        None,
    )
    .await
    .ok();
    assert!(described.starts_with("grpc.testing.SimpleRequest is a message:\n"));
    assert!(
        described.contains("  int32 response_size = 2;"),
        "{described}"
    );
    assert!(
        described.contains("  .grpc.testing.Payload payload = 3;"),
        "{described}"
    );

    let empty = run(
        &[
            "--plaintext",
            "call",
            a,
            "grpc.testing.TestService/EmptyCall",
        ],
        None,
    )
    .await
    .ok();
    assert_eq!(empty.trim(), "{}");
    let unary = run(
        &[
            "--plaintext",
            "call",
            a,
            "grpc.testing.TestService/UnaryCall",
            "-d",
            r#"{"responseSize": 6, "payload": {"body": "AAECAw=="}}"#,
        ],
        None,
    )
    .await
    .ok();
    let unary: serde_json::Value = serde_json::from_str(&unary).unwrap();
    assert_eq!(unary["payload"]["body"], "AAAAAAAA", "6 zero bytes, base64");

    let streamed = run(
        &[
            "--plaintext",
            "call",
            a,
            "grpc.testing.TestService/StreamingOutputCall",
            "--compact",
            "-d",
            r#"{"responseParameters": [{"size": 1}, {"size": 2}, {"size": 3}]}"#,
        ],
        None,
    )
    .await
    .ok();
    assert_eq!(streamed.lines().count(), 3, "{streamed}");

    let duplex = run(
        &[
            "--plaintext",
            "call",
            a,
            "grpc.testing.TestService/FullDuplexCall",
            "--compact",
            "-d",
            "@",
        ],
        Some("{\"responseParameters\": [{\"size\": 3}]}\n{\"responseParameters\": [{\"size\": 4}]}\n"),
    )
    .await
    .ok();
    let sizes: Vec<usize> = duplex
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let body = v["payload"]["body"].as_str().unwrap_or("");
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [3, 4]);

    // The server's status, code and message, and our deadline propagated to it.
    let failed = run(
        &[
            "--plaintext",
            "call",
            a,
            "grpc.testing.TestService/UnaryCall",
            "-d",
            r#"{"responseStatus": {"code": 9, "message": "go says no"}}"#,
        ],
        None,
    )
    .await;
    assert_eq!(failed.code, 64 + 9, "{failed:#?}");
    assert!(failed
        .stderr
        .contains("Code: FailedPrecondition\n  Message: go says no\n"));
    let late = run(
        &[
            "--plaintext",
            "--timeout",
            "300ms",
            "call",
            a,
            "grpc.testing.TestService/StreamingOutputCall",
            "-d",
            r#"{"responseParameters": [{"size": 1, "intervalUs": 5000000}]}"#,
        ],
        None,
    )
    .await;
    assert_eq!(late.code, 64 + 4, "DEADLINE_EXCEEDED: {late:#?}");

    let health = run(
        &["--plaintext", "health", a, "grpc.testing.TestService"],
        None,
    )
    .await;
    assert_eq!(
        (health.code, health.stdout.as_str()),
        (0, "SERVING\n"),
        "{health:#?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
