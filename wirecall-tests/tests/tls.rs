//! TLS and mutual TLS over real sockets on 127.0.0.1, with certificates made for the test
//! (rcgen): the handler reads the client's certificate, clients without a valid one fail
//! the handshake before any handler runs, and a reloaded server certificate serves new
//! connections while open ones keep theirs.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use wirecall::tls::{self, rustls, PeerCertificates, ReloadableCert};
use wirecall::{Code, Endpoint, Request, Response, Server, Status};
use wirecall_tests::certs::{Ca, Leaf};
use wirecall_tests::greeter::{Greeter, GreeterClient, GreeterServer, HelloReply, HelloRequest};

/// A server presenting `cert` that requires client certificates from `clients`.
fn mtls_server(cert: &Leaf, clients: &Ca) -> rustls::ServerConfig {
    tls::server_config_mtls(
        cert.cert.as_bytes(),
        cert.key.as_bytes(),
        clients.pem.as_bytes(),
    )
    .unwrap()
}

/// A client configuration trusting `trusted` and presenting `leaf`.
fn identity(trusted: &Ca, leaf: &Leaf) -> rustls::ClientConfig {
    tls::client_config_with_identity(
        trusted.pem.as_bytes(),
        leaf.cert.as_bytes(),
        leaf.key.as_bytes(),
    )
    .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Answers with the hex of the client's leaf certificate; counts the calls it ran.
struct WhoAmI {
    calls: Arc<AtomicUsize>,
}

impl Greeter for WhoAmI {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let leaf = req
            .extensions()
            .get::<PeerCertificates>()
            .and_then(|certs| certs.0.first().map(|c| hex(c.as_ref())))
            .ok_or_else(|| Status::unauthenticated("no client certificate"))?;
        Ok(Response::new(HelloReply { message: leaf }))
    }
}

async fn serve(config: rustls::ServerConfig) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let service = GreeterServer::new(WhoAmI {
        calls: calls.clone(),
    });
    tokio::spawn(
        Server::builder()
            .tls(config)
            .add_service(service)
            .serve_with_listener(listener, std::future::pending()),
    );
    (addr, calls)
}

fn client(addr: std::net::SocketAddr, config: rustls::ClientConfig, name: &str) -> GreeterClient {
    let endpoint = Endpoint::new(format!("https://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .tls(config)
        .unwrap()
        .tls_server_name(name)
        .unwrap();
    GreeterClient::new(endpoint.connect_lazy())
}

async fn hello(client: &GreeterClient) -> Result<String, Status> {
    let call = client.say_hello(HelloRequest { name: "x".into() });
    let reply = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("answered in time")?;
    Ok(reply.into_inner().message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_shows_the_client_certificate_and_refuses_clients_without_one() {
    let ca = Ca::new("wirecall test CA");
    let server_cert = ca.sign(&["server.test"]);
    let alice = ca.sign(&["alice.client.test"]);
    let stranger_ca = Ca::new("another CA");
    let mallory = stranger_ca.sign(&["mallory.client.test"]);

    let config = mtls_server(&server_cert, &ca);
    let (addr, calls) = serve(config).await;

    // Alice's certificate reaches the handler.
    let with_identity = identity(&ca, &alice);
    let alice_client = client(addr, with_identity, "server.test");
    assert_eq!(hello(&alice_client).await.unwrap(), hex(&alice.der));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // No certificate, or one from another CA: the handshake fails, no handler runs.
    let anonymous = client(
        addr,
        tls::client_config(ca.pem.as_bytes()).unwrap(),
        "server.test",
    );
    let err = hello(&anonymous).await.expect_err("no client certificate");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let stranger = identity(&ca, &mallory);
    let err = hello(&client(addr, stranger, "server.test"))
        .await
        .expect_err("a certificate of another CA");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "no handler ran for refused clients"
    );

    // And a client that does not trust the server's CA refuses the server.
    let distrusting = identity(&stranger_ca, &alice);
    let err = hello(&client(addr, distrusting, "server.test"))
        .await
        .expect_err("an untrusted server");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_certificate_serves_new_connections() {
    let ca = Ca::new("wirecall test CA");
    let first = ca.sign(&["first.test"]);
    let second = ca.sign(&["second.test"]);
    let alice = ca.sign(&["alice.client.test"]);
    let cert = ReloadableCert::new(first.cert.as_bytes(), first.key.as_bytes()).unwrap();
    let config = tls::server_config_reloadable(&cert, Some(ca.pem.as_bytes())).unwrap();
    let (addr, _calls) = serve(config).await;

    let before = client(addr, identity(&ca, &alice), "first.test");
    hello(&before).await.expect("the first certificate");

    cert.reload(second.cert.as_bytes(), second.key.as_bytes())
        .unwrap();
    hello(&client(addr, identity(&ca, &alice), "second.test"))
        .await
        .expect("new connections get the second certificate");
    let err = hello(&client(addr, identity(&ca, &alice), "first.test"))
        .await
        .expect_err("the first certificate is gone for new connections");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    hello(&before)
        .await
        .expect("the open connection keeps its certificate");

    // A broken reload keeps the current certificate.
    let reload = cert.reload(b"not a certificate", second.key.as_bytes());
    assert!(reload.is_err());
    hello(&client(addr, identity(&ca, &alice), "second.test"))
        .await
        .expect("still the second certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpcio_client_over_mutual_tls() {
    let ca = Ca::new("wirecall test CA");
    let server_cert = ca.sign(&["server.test"]);
    let bob = ca.sign(&["bob.client.test"]);
    let config = mtls_server(&server_cert, &ca);
    let (addr, calls) = serve(config).await;

    // The certificates as files, and greeter stubs made by grpcio-tools, in a scratch dir.
    let dir = common::repo_root().join(format!("target/tls-grpcio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, pem) in [
        ("ca.pem", &ca.pem),
        ("bob.pem", &bob.cert),
        ("bob.key", &bob.key),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    let python = common::peer_python("grpc_tools");
    let proto = common::repo_root().join("wirecall-tests/proto");
    let generated = std::process::Command::new(&python)
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(&proto)
        .arg(format!("--python_out={}", dir.display()))
        .arg(format!("--grpc_python_out={}", dir.display()))
        .arg(proto.join("greeter.proto"))
        .status()
        .unwrap();
    assert!(generated.success(), "grpc_tools.protoc failed");

    let scratch = dir.clone();
    let run = move |with_cert: bool| {
        let dir = &scratch;
        let mut command = std::process::Command::new(&python);
        command
            .arg(common::repo_root().join("wirecall-tests/peers/mtls_client.py"))
            .arg(format!("--addr=127.0.0.1:{}", addr.port()))
            .arg(format!("--ca={}", dir.join("ca.pem").display()))
            .arg("--name=server.test")
            .env("GREETER_PY_GEN", dir);
        if with_cert {
            command
                .arg(format!("--cert={}", dir.join("bob.pem").display()))
                .arg(format!("--key={}", dir.join("bob.key").display()));
        }
        command
    };
    let output = tokio::task::spawn_blocking(move || {
        let with = run(true).output().unwrap();
        let without = run(false).output().unwrap();
        (with, without)
    })
    .await
    .unwrap();
    let (with, without) = output;
    let with_out = String::from_utf8_lossy(&with.stdout);
    assert_eq!(
        with_out.trim(),
        format!("OK {}", hex(&bob.der)),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let without_out = String::from_utf8_lossy(&without.stdout);
    assert_eq!(
        without_out.trim(),
        "ERR UNAVAILABLE",
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "only the client with a certificate got in"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_roots_load_and_do_not_trust_a_private_ca() {
    let config = tls::client_config_system_roots().expect("the system store has CAs");
    // Our test CA is in no system store: the handshake fails, no handler runs.
    let ca = Ca::new("wirecall test CA");
    let server_cert = ca.sign(&["server.test"]);
    let server =
        tls::server_config(server_cert.cert.as_bytes(), server_cert.key.as_bytes()).unwrap();
    let (addr, calls) = serve(server).await;
    let err = hello(&client(addr, config, "server.test"))
        .await
        .expect_err("a private CA is not trusted");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}
