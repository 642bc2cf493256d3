//! The `wirecall` command end to end, over real sockets on 127.0.0.1: the seeds' grpcurl
//! session against the example UserService (list, describe, call), every call pattern with
//! JSON in and out, metadata, deadlines, health exit codes, `.proto` files and descriptor
//! sets instead of reflection, TLS and mutual TLS, and the OrderService's rich errors.

mod common;

use std::process::Stdio;

use common::{run, user_service};
use wirecall::health::{HealthReporter, ServingStatus};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_grpcurl_session() {
    let server = user_service(&HealthReporter::new(), true).await;
    let addr = server.address();
    let a = addr.as_str();

    let services = run(&["--plaintext", "list", a], None).await.ok();
    assert_eq!(
        services.lines().collect::<Vec<_>>(),
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "user.UserService"
        ]
    );

    let methods = run(&["--plaintext", "list", a, "user.UserService"], None)
        .await
        .ok();
    assert_eq!(
        methods.lines().collect::<Vec<_>>(),
        [
            "user.UserService.GetUser",
            "user.UserService.CreateUser",
            "user.UserService.ListUsers",
            "user.UserService.StreamUsers",
            "user.UserService.CreateUsers",
            "user.UserService.Chat"
        ]
    );

    let service = run(&["--plaintext", "describe", a, "user.UserService"], None)
        .await
        .ok();
    assert!(
        service.starts_with("user.UserService is a service:\n"),
        "{service}"
    );
    assert!(
        service.lines().any(|l| l == "service UserService {"),
        "{service}"
    );
    for line in [
        "  rpc GetUser ( .user.GetUserRequest ) returns ( .user.User );",
        "  rpc StreamUsers ( .user.StreamUsersRequest ) returns ( stream .user.User );",
        "  rpc CreateUsers ( stream .user.CreateUserRequest ) returns ( .user.CreateUsersResponse );",
        "  rpc Chat ( stream .user.ChatMessage ) returns ( stream .user.ChatMessage );",
    ] {
        assert!(service.lines().any(|l| l == line), "no {line:?} in\n{service}");
    }

    let user = run(&["--plaintext", "describe", a, "user.User"], None)
        .await
        .ok();
    assert!(user.contains("message User {\n"), "{user}");
    assert!(user.contains("  string id = 1;\n"), "{user}");
    assert!(user.contains("  string name = 2;\n"), "{user}");
    // The .proto comments come with the descriptors the server's reflection sends.
    assert!(
        user.contains("  // Milliseconds since the Unix epoch.\n  int64 created_at = 4;"),
        "{user}"
    );

    let alice = run(
        &[
            "--plaintext",
            "call",
            a,
            "user.UserService/GetUser",
            "-d",
            r#"{"user_id": "1"}"#,
        ],
        None,
    )
    .await
    .ok();
    let alice = json(&alice);
    assert_eq!(alice["name"], "Alice");
    assert_eq!(alice["email"], "alice@example.com");
    assert_eq!(
        alice["createdAt"], "1700000000000",
        "an int64 as a JSON string"
    );

    let created = run(
        &[
            "--plaintext",
            "call",
            a,
            "user.UserService.CreateUser",
            "-d",
            r#"{"name": "Dave", "email": "dave@example.com"}"#,
        ],
        None,
    )
    .await
    .ok();
    let created = json(&created);
    assert_eq!(
        (created["id"].as_str(), created["name"].as_str()),
        (Some("4"), Some("Dave"))
    );

    let missing = run(
        &[
            "--plaintext",
            "call",
            a,
            "user.UserService/GetUser",
            "-d",
            r#"{"user_id": "999"}"#,
        ],
        None,
    )
    .await;
    assert_eq!(missing.code, 64 + 5, "64 + NOT_FOUND: {missing:#?}");
    assert!(missing
        .stderr
        .starts_with("ERROR:\n  Code: NotFound\n  Message: user 999 not found\n"));
    assert!(
        missing.stderr.contains("1) google.rpc.ErrorInfo {"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stderr.contains("\"reason\": \"USER_NOT_FOUND\""),
        "{}",
        missing.stderr
    );
    assert!(missing.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_both_ways_as_json() {
    let server = user_service(&HealthReporter::new(), true).await;
    let a = &server.address();
    let users = run(
        &[
            "--plaintext",
            "call",
            a,
            "user.UserService/StreamUsers",
            "--compact",
        ],
        None,
    )
    .await
    .ok();
    let ids: Vec<String> = users
        .lines()
        .map(|l| json(l)["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["1", "2", "3"], "one JSON line a message");

    let created = run(
        &[
            "--plaintext",
            "call",
            a,
            "user.UserService/CreateUsers",
            "-d",
            r#"{"name": "x", "email": "x@example.com"}
               {"name": "y", "email": "y@example.com"}"#,
        ],
        None,
    )
    .await
    .ok();
    let created = json(&created);
    assert_eq!(created["count"], 2);
    assert_eq!(created["users"][1]["name"], "y");

    // Bidirectional, requests from standard input as newline-delimited JSON.
    let chat = run(
        &[
            "--plaintext",
            "call",
            a,
            "user.UserService/Chat",
            "-d",
            "@",
            "--compact",
        ],
        Some("{\"id\": \"1\", \"text\": \"hi\"}\n{\"id\": \"2\", \"text\": \"again\"}\n"),
    )
    .await
    .ok();
    let texts: Vec<String> = chat
        .lines()
        .map(|l| json(l)["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["Echo: hi", "Echo: again"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_stream_answers_each_line_as_it_comes() {
    let server = user_service(&HealthReporter::new(), true).await;
    let a = server.address();
    let mut child = common::command(&[
        "--plaintext",
        "call",
        &a,
        "user.UserService/Chat",
        "-d",
        "@",
        "--compact",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = common::lines(&mut child);
    for text in ["one", "two"] {
        use std::io::Write;
        writeln!(stdin, "{{\"text\": \"{text}\"}}").unwrap();
        stdin.flush().unwrap();
        // The answer comes while standard input is still open.
        let line = common::next_line(&mut lines).await;
        assert_eq!(json(&line)["text"], format!("Echo: {text}"));
    }
    drop(stdin);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_out_and_headers_and_trailers_back() {
    let server = user_service(&HealthReporter::new(), true).await;
    let a = &server.address();
    let out = run(
        &[
            "--plaintext",
            "-H",
            "x-echo-who: cli test",
            "-H",
            "x-echo-blob-bin: AAEC",
            "call",
            a,
            "user.UserService/GetUser",
            "-d",
            r#"{"user_id": "2"}"#,
            "-v",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(json(&out.stdout)["name"], "Bob");
    assert!(out.stderr.contains("Response headers:\n"), "{}", out.stderr);
    assert!(
        out.stderr.contains("  x-echo-who: cli test\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("  x-echo-blob-bin: AAEC\n"),
        "binary metadata round-trips: {}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("Response trailers:\n  x-method: GetUser\n"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_exit_codes_for_probes() {
    let health = HealthReporter::new();
    let server = user_service(&health, false).await;
    let a = server.address();
    let check = |service: &'static str| {
        let a = a.clone();
        async move { run(&["--plaintext", "health", &a, service], None).await }
    };
    let serving = check("").await;
    assert_eq!((serving.code, serving.stdout.as_str()), (0, "SERVING\n"));
    health.set_status("user.UserService", ServingStatus::NotServing);
    let down = check("user.UserService").await;
    assert_eq!((down.code, down.stdout.as_str()), (2, "NOT_SERVING\n"));
    let unknown = check("no.Such").await;
    assert_eq!(unknown.code, 64 + 5, "{unknown:#?}");
    assert!(unknown.stderr.contains("Code: NotFound"));

    // --watch: each change as it happens, until the server's shutdown ends the call.
    health.set_status("user.UserService", ServingStatus::Serving);
    let mut child = common::command(&["--plaintext", "health", &a, "user.UserService", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = common::lines(&mut child);
    assert_eq!(common::next_line(&mut lines).await, "SERVING");
    health.set_status("user.UserService", ServingStatus::NotServing);
    assert_eq!(common::next_line(&mut lines).await, "NOT_SERVING");
    server.stop().await;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(2), "the last status was NOT_SERVING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proto_files_or_a_descriptor_set_instead_of_reflection() {
    let server = user_service(&HealthReporter::new(), false).await;
    let a = &server.address();
    let no_reflection = run(&["--plaintext", "list", a], None).await;
    assert_eq!(no_reflection.code, 1);
    assert!(
        no_reflection.stderr.contains("does not support reflection"),
        "{no_reflection:#?}"
    );

    let proto = common::repo_root().join("examples/user-service/proto/user.proto");
    let proto = proto.to_str().unwrap();
    let listed = run(&["--plaintext", "--proto", proto, "list", a], None)
        .await
        .ok();
    assert_eq!(listed, "user.UserService\n");
    let bob = run(
        &[
            "--plaintext",
            "--proto",
            proto,
            "call",
            a,
            "user.UserService/GetUser",
            "-d",
            r#"{"user_id": "2"}"#,
        ],
        None,
    )
    .await
    .ok();
    assert_eq!(json(&bob)["name"], "Bob");

    // The descriptor set wirecall-build writes works as well.
    let set = protox::compile(
        [proto],
        [
            common::repo_root().join("examples/user-service/proto"),
            // google/api/annotations.proto, bundled by wirecall-build.
            common::repo_root().join("wirecall-build/proto"),
        ],
    )
    .unwrap();
    let path = std::env::temp_dir().join(format!("wirecall-cli-{}.protoset", std::process::id()));
    std::fs::write(&path, prost::Message::encode_to_vec(&set)).unwrap();
    let described = run(
        &[
            "--plaintext",
            "--protoset",
            path.to_str().unwrap(),
            "describe",
            a,
            "user.GetUserRequest",
        ],
        None,
    )
    .await
    .ok();
    assert_eq!(
        described,
        "user.GetUserRequest is a message:\nmessage GetUserRequest {\n  string user_id = 1;\n}\n"
    );
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_usage_error_and_deadlines_apply() {
    let server = user_service(&HealthReporter::new(), true).await;
    let a = &server.address();
    let unknown_field = run(
        &[
            "--plaintext",
            "call",
            a,
            "user.UserService/GetUser",
            "-d",
            r#"{"idd": 1}"#,
        ],
        None,
    )
    .await;
    assert_eq!(unknown_field.code, 2);
    assert!(
        unknown_field
            .stderr
            .contains("unrecognized field name 'idd'"),
        "{unknown_field:#?}"
    );
    let not_json = run(
        &[
            "--plaintext",
            "call",
            a,
            "user.UserService/GetUser",
            "-d",
            "{",
        ],
        None,
    )
    .await;
    assert_eq!(not_json.code, 2, "{not_json:#?}");
    let two = run(
        &[
            "--plaintext",
            "call",
            a,
            "user.UserService/GetUser",
            "-d",
            "{} {}",
        ],
        None,
    )
    .await;
    assert_eq!(two.code, 2);
    assert!(two.stderr.contains("one request message, not 2"));
    let no_method = run(&["--plaintext", "call", a, "user.UserService/Nope"], None).await;
    assert_eq!(no_method.code, 1);
    assert!(
        no_method.stderr.contains("has no method \"Nope\""),
        "{no_method:#?}"
    );
    let bad_symbol = run(&["--plaintext", "describe", a, "user.Nope"], None).await;
    assert_eq!(bad_symbol.code, 1);
    assert!(bad_symbol.stderr.contains("not found"), "{bad_symbol:#?}");
    let bad_header = run(
        &[
            "--plaintext",
            "-H",
            "no-colon",
            "call",
            a,
            "user.UserService/GetUser",
        ],
        None,
    )
    .await;
    assert_eq!(bad_header.code, 2);
    let refused = run(&["--plaintext", "list", "127.0.0.1:1"], None).await;
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("cannot connect"), "{refused:#?}");
    // A deadline shorter than a round trip: DEADLINE_EXCEEDED (64 + 4).
    let late = run(
        &[
            "--plaintext",
            "--proto",
            common::repo_root()
                .join("examples/user-service/proto/user.proto")
                .to_str()
                .unwrap(),
            "--timeout",
            "1us",
            "call",
            a,
            "user.UserService/StreamUsers",
        ],
        None,
    )
    .await;
    assert_eq!(late.code, 64 + 4, "{late:#?}");
    assert!(late.stderr.contains("Code: DeadlineExceeded"), "{late:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_mutual_tls() {
    use wirecall_tests::certs::Ca;
    let ca = Ca::new("cli test CA");
    let server_cert = ca.sign(&["server.test"]);
    let client = ca.sign(&["cli.client.test"]);
    let dir = std::env::temp_dir().join(format!("wirecall-cli-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, pem: &str| {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (ca_pem, cert, key) = (
        file("ca.pem", &ca.pem),
        file("c.pem", &client.cert),
        file("c.key", &client.key),
    );
    let health = HealthReporter::new();

    let tls = wirecall::tls::server_config(server_cert.cert.as_bytes(), server_cert.key.as_bytes())
        .unwrap();
    let server = common::serve(wirecall::Server::builder().add_health(&health).tls(tls)).await;
    let a = &server.address();
    let trusted = run(
        &[
            "--cacert",
            &ca_pem,
            "--servername",
            "server.test",
            "health",
            a,
        ],
        None,
    )
    .await;
    assert_eq!(
        (trusted.code, trusted.stdout.as_str()),
        (0, "SERVING\n"),
        "{trusted:#?}"
    );
    let untrusted = run(&["--servername", "server.test", "health", a], None).await;
    assert_ne!(
        untrusted.code, 0,
        "the system roots do not know the test CA: {untrusted:#?}"
    );
    let insecure = run(&["--insecure", "health", a], None).await;
    assert_eq!(insecure.code, 0, "{insecure:#?}");
    let plaintext_to_tls = run(&["--plaintext", "health", a], None).await;
    assert_ne!(plaintext_to_tls.code, 0);

    let mtls = wirecall::tls::server_config_mtls(
        server_cert.cert.as_bytes(),
        server_cert.key.as_bytes(),
        ca.pem.as_bytes(),
    )
    .unwrap();
    let server = common::serve(wirecall::Server::builder().add_health(&health).tls(mtls)).await;
    let a = &server.address();
    let with_identity = run(
        &[
            "--cacert",
            &ca_pem,
            "--cert",
            &cert,
            "--key",
            &key,
            "--servername",
            "server.test",
            "health",
            a,
        ],
        None,
    )
    .await;
    assert_eq!(with_identity.code, 0, "{with_identity:#?}");
    let without = run(
        &[
            "--cacert",
            &ca_pem,
            "--servername",
            "server.test",
            "health",
            a,
        ],
        None,
    )
    .await;
    assert_ne!(
        without.code, 0,
        "no client certificate, no call: {without:#?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_service_auth_and_rich_errors() {
    let metrics = wirecall::metrics::Metrics::builder().build();
    let server = common::serve(
        order_service::server(order_service::Orders::new(), &metrics).add_reflection(),
    )
    .await;
    let a = &server.address();
    let get = r#"{"id": "no-such-order"}"#;
    let anonymous = run(
        &[
            "--plaintext",
            "call",
            a,
            "order.OrderService/GetOrder",
            "-d",
            get,
        ],
        None,
    )
    .await;
    assert_eq!(anonymous.code, 64 + 16, "UNAUTHENTICATED: {anonymous:#?}");

    let reader = format!("authorization: Bearer {}", order_service::READER_TOKEN);
    let missing = run(
        &[
            "--plaintext",
            "-H",
            &reader,
            "call",
            a,
            "order.OrderService/GetOrder",
            "-d",
            get,
        ],
        None,
    )
    .await;
    assert_eq!(missing.code, 64 + 5, "{missing:#?}");
    assert!(
        missing.stderr.contains("google.rpc.ErrorInfo"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stderr.contains("\"reason\": \"ORDER_NOT_FOUND\""),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stderr.contains("\"order_id\": \"no-such-order\""),
        "{}",
        missing.stderr
    );

    let admin = format!("authorization: Bearer {}", order_service::ADMIN_TOKEN);
    let invalid = run(
        &[
            "--plaintext",
            "-H",
            &admin,
            "call",
            a,
            "order.OrderService/CreateOrder",
            "-d",
            r#"{"customerId": ""}"#,
        ],
        None,
    )
    .await;
    assert_eq!(invalid.code, 64 + 3, "INVALID_ARGUMENT: {invalid:#?}");
    assert!(
        invalid.stderr.contains("google.rpc.BadRequest"),
        "{}",
        invalid.stderr
    );
    assert!(
        invalid.stderr.contains("\"fieldViolations\""),
        "{}",
        invalid.stderr
    );

    let order = run(
        &[
            "--plaintext", "-H", &admin, "call", a, "order.OrderService/CreateOrder", "-d",
            r#"{"customerId": "c1", "items": [{"productId": "p", "quantity": 2, "unitPrice": 1.25}]}"#,
        ],
        None,
    )
    .await
    .ok();
    let order = json(&order);
    assert_eq!(order["total"], 2.5, "doubles survive the JSON round trip");
    assert!(
        order["status"]
            .as_str()
            .unwrap()
            .starts_with("ORDER_STATUS_"),
        "enums by name: {order}"
    );
}
