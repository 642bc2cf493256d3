//! Retries against grpc-go: a wirecall client with a retry policy calls
//! `interop/go/retry_server`, which fails the first two attempts of each call with
//! UNAVAILABLE; the third succeeds and tells which `grpc-previous-rpc-attempts` values the
//! grpc-go server saw.

use std::time::Duration;

use wirecall::codegen::PathAndQuery;
use wirecall::{Code, Request};
use wirecall_interop::pb::Empty;
use wirecall_tests::go;

const CONFIG: &str = r#"{
  "methodConfig": [{
    "name": [{"service": "grpc.testing.TestService"}],
    "retryPolicy": {
      "maxAttempts": 4, "initialBackoff": "0.05s", "maxBackoff": "0.2s",
      "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}"#;

async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("{what} within 30 s"))
}

fn empty_call(id: &str) -> Request<Empty> {
    let mut request = Request::new(Empty {});
    request.metadata_mut().insert("x-call-id", id).unwrap();
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_go_server_sees_the_attempts_header_of_wirecall_retries() {
    let dir = go::repo_root().join(format!("target/go-retry-{}", std::process::id()));
    let scratch = dir.clone();
    let (mut child, addr) =
        tokio::task::spawn_blocking(move || go::start_retry_server(&scratch, 2))
            .await
            .unwrap();
    assert!(addr.ip().is_loopback(), "listens on 127.0.0.1, not {addr}");

    let outcome = async move {
        let path = PathAndQuery::from_static("/grpc.testing.TestService/EmptyCall");
        let retrying = wirecall::Endpoint::new(format!("http://{addr}"))
            .unwrap()
            .service_config_json(CONFIG)
            .unwrap()
            .connect_lazy();
        let response: wirecall::Response<Empty> = bounded(
            "EmptyCall with retries",
            retrying.unary::<Empty, Empty>(empty_call("a"), path.clone()),
        )
        .await
        .expect("the third attempt answers OK");
        assert_eq!(
            response.metadata().get("x-seen-attempts"),
            Some("none,1,2"),
            "grpc-go saw no header on the first attempt, then 1 and 2"
        );

        // Without the policy the first failure is the answer.
        let plain = wirecall::Endpoint::new(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let status = bounded(
            "EmptyCall without retries",
            plain.unary::<Empty, Empty>(empty_call("b"), path),
        )
        .await
        .expect_err("one attempt, which fails");
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "attempt 0 fails");
    };
    let result = tokio::spawn(outcome).await;
    child.kill().expect("kill the Go retry server");
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}
