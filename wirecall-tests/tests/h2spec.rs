//! h2spec (`../shared/tools/h2spec`, the 146-case HTTP/2 conformance suite over RFC 7540/9113
//! and RFC 7541) against a running server on 127.0.0.1: the test `Echo` service, with a
//! plain HTTP route (an axum `Router` as the fallback) at the path h2spec probes, which
//! reads the whole request before it answers, as h2spec's cases expect.
//!
//! Every case passes, `--strict` included: on wirecall's own HTTP/2 engine in plaintext and
//! over TLS, and on h2 in plaintext.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use axum::body::Bytes;
use axum::routing::any;
use wirecall::server::Http2Engine;
use wirecall::tls::{self, rustls};
use wirecall_tests::certs::Ca;

/// Where h2spec is: `H2SPEC`, else `../shared/tools/h2spec` beside the repository.
fn h2spec() -> PathBuf {
    if let Some(path) = std::env::var_os("H2SPEC") {
        return path.into();
    }
    let path = common::repo_root().join("../shared/tools/h2spec");
    assert!(
        path.exists(),
        "h2spec not found at {} (set H2SPEC to run it from elsewhere)",
        path.display()
    );
    path
}

/// The page h2spec asks for: the request read whole, then a short answer.
fn page() -> axum::Router {
    axum::Router::new().route(
        "/",
        any(|body: Bytes| async move { format!("read {} bytes", body.len()) }),
    )
}

/// A server on `engine` (over TLS with `tls`), with the page beside the gRPC service.
async fn serve(engine: Http2Engine, tls: Option<rustls::ServerConfig>) -> SocketAddr {
    let server = common::start_with(move |builder| {
        let builder = builder.http2_engine(engine).fallback(page());
        match tls {
            Some(config) => builder.tls(config),
            None => builder,
        }
    })
    .await;
    let addr = server.addr;
    // Served until the test ends.
    std::mem::forget(server);
    addr
}

/// What one h2spec run found.
#[derive(Debug)]
struct Report {
    total: usize,
    passed: usize,
    failed: usize,
    output: String,
}

/// Runs h2spec `--strict` against `addr`.
async fn run(addr: SocketAddr, tls: bool) -> Report {
    let mut command = Command::new(h2spec());
    command
        .args(["--strict", "-h", "127.0.0.1", "-o", "2"])
        .args(["-p", &addr.port().to_string()]);
    if tls {
        command.args(["-t", "-k"]);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("h2spec runs");
    let output = String::from_utf8_lossy(&output.stdout).into_owned();
    // The last line: "146 tests, 146 passed, 0 skipped, 0 failed".
    let summary = output
        .lines()
        .rev()
        .find(|line| line.contains(" tests, "))
        .unwrap_or_else(|| panic!("no h2spec summary in:\n{output}"));
    let count = |what: &str| -> usize {
        summary
            .split(", ")
            .find_map(|part| part.trim().strip_suffix(what))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {what:?} in {summary:?}"))
    };
    Report {
        total: count("tests"),
        passed: count("passed"),
        failed: count("failed"),
        output,
    }
}

/// The failed cases of a report, for the message.
fn failures(report: &Report) -> String {
    let start = report.output.find("Failures:").unwrap_or(0);
    report.output[start..].to_owned()
}

fn tls_config() -> rustls::ServerConfig {
    let ca = Ca::new("h2spec test CA");
    let leaf = ca.sign(&["localhost", "127.0.0.1"]);
    tls::server_config(leaf.cert.as_bytes(), leaf.key.as_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_on_our_engine_in_plaintext() {
    let addr = serve(Http2Engine::Wirecall, None).await;
    let report = run(addr, false).await;
    eprintln!(
        "h2spec, our engine, plaintext: {} of {} passed",
        report.passed, report.total
    );
    assert_eq!(report.total, 147, "146 cases and the strict one");
    assert_eq!(report.failed, 0, "{}", failures(&report));
    assert_eq!(report.passed, report.total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_on_our_engine_over_tls() {
    let addr = serve(Http2Engine::Wirecall, Some(tls_config())).await;
    let report = run(addr, true).await;
    assert_eq!(report.total, 147, "146 cases and the strict one");
    assert_eq!(report.failed, 0, "{}", failures(&report));
    assert_eq!(report.passed, report.total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_on_h2_in_plaintext() {
    let addr = serve(Http2Engine::H2, None).await;
    let report = run(addr, false).await;
    assert_eq!(report.total, 147, "146 cases and the strict one");
    assert_eq!(report.failed, 0, "{}", failures(&report));
    assert_eq!(report.passed, report.total);
}
