//! grpc-go over mutual TLS against the wirecall TestService: `interop/go/mtls_client`
//! (built here with the Go toolchain and grpc-go sources that the test command installs
//! for the interop peers) calls EmptyCall with and without a client certificate.

use std::process::Command;

use tokio::net::TcpListener;
use wirecall_interop::server::TestServer;
use wirecall_tests::certs::Ca;
use wirecall_tests::go;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_go_over_mutual_tls() {
    let ca = Ca::new("wirecall test CA");
    let server_cert = ca.sign(&["server.test"]);
    let carol = ca.sign(&["carol.client.test"]);
    let stranger = Ca::new("another CA").sign(&["eve.client.test"]);
    let dir = go::repo_root().join(format!("target/go-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, pem) in [
        ("ca.pem", &ca.pem),
        ("carol.pem", &carol.cert),
        ("carol.key", &carol.key),
        ("eve.pem", &stranger.cert),
        ("eve.key", &stranger.key),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }

    let config = wirecall::tls::server_config_mtls(
        server_cert.cert.as_bytes(),
        server_cert.key.as_bytes(),
        ca.pem.as_bytes(),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        wirecall::Server::builder()
            .tls(config)
            .add_service(TestServer)
            .serve_with_listener(listener, std::future::pending()),
    );

    let scratch = dir.clone();
    let outputs = tokio::task::spawn_blocking(move || {
        let client = scratch.join("go-mtls-client");
        go::build(&go::program("mtls_client"), &client);
        let run = |identity: Option<&str>| {
            let mut command = Command::new(&client);
            command
                .arg(format!("-addr=127.0.0.1:{}", addr.port()))
                .arg(format!("-ca={}", scratch.join("ca.pem").display()))
                .arg("-name=server.test");
            if let Some(who) = identity {
                command
                    .arg(format!(
                        "-cert={}",
                        scratch.join(format!("{who}.pem")).display()
                    ))
                    .arg(format!(
                        "-key={}",
                        scratch.join(format!("{who}.key")).display()
                    ));
            }
            let output = command.output().expect("run the Go client");
            let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            (text, String::from_utf8_lossy(&output.stderr).into_owned())
        };
        [run(Some("carol")), run(None), run(Some("eve"))]
    })
    .await
    .unwrap();
    let [(carol_out, carol_err), (anonymous, _), (eve, _)] = outputs;
    assert_eq!(carol_out, "OK", "{carol_err}");
    assert_eq!(anonymous, "ERR Unavailable", "no client certificate");
    assert_eq!(eve, "ERR Unavailable", "a certificate from another CA");
    let _ = std::fs::remove_dir_all(&dir);
}
