//! The grpc-go reflection server that the CLI's tests talk to, `interop/go/reflection_server`,
//! checked with a plain wirecall client: it builds, prints its listening line, answers
//! `grpc.testing.TestService/EmptyCall`, reports itself SERVING, and lists its services
//! over `grpc.reflection.v1alpha`.

use std::time::Duration;

use wirecall::codegen::PathAndQuery;
use wirecall::health::{HealthCheckRequest, HealthCheckResponse, ServingStatus};
use wirecall::message_stream;
use wirecall::reflection::proto::{
    MessageRequest, MessageResponse, ServerReflectionRequest, ServerReflectionResponse,
};
use wirecall::Request;
use wirecall_interop::pb::Empty;
use wirecall_tests::go;

/// At most 30 s for `what`.
async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("{what} within 30 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_go_reflection_server_answers_a_wirecall_client() {
    let dir = go::repo_root().join(format!("target/go-reflection-{}", std::process::id()));
    let scratch = dir.clone();
    let (mut child, addr) =
        tokio::task::spawn_blocking(move || go::start_reflection_server(&scratch))
            .await
            .unwrap();
    assert!(addr.ip().is_loopback(), "listens on 127.0.0.1, not {addr}");
    assert_ne!(addr.port(), 0);

    let outcome = async move {
        let channel = wirecall::Endpoint::new(format!("http://{addr}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(10))
            .connect_lazy();

        let empty: wirecall::Response<Empty> = bounded(
            "EmptyCall",
            channel.unary(
                Empty {},
                PathAndQuery::from_static("/grpc.testing.TestService/EmptyCall"),
            ),
        )
        .await
        .expect("EmptyCall answers OK");
        assert_eq!(*empty.get_ref(), Empty {});

        let health: wirecall::Response<HealthCheckResponse> = bounded(
            "Health/Check",
            channel.unary(
                HealthCheckRequest {
                    service: "grpc.testing.TestService".into(),
                },
                PathAndQuery::from_static("/grpc.health.v1.Health/Check"),
            ),
        )
        .await
        .expect("Check answers OK");
        assert_eq!(health.get_ref().status, ServingStatus::Serving as i32);

        let question = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers: wirecall::Streaming<ServerReflectionResponse> = bounded(
            "the reflection stream",
            channel.streaming(
                Request::new(message_stream::iter(vec![question])),
                PathAndQuery::from_static(
                    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                ),
            ),
        )
        .await
        .expect("the v1alpha reflection stream opens")
        .into_inner();
        let answer = bounded("the service list", answers.message())
            .await
            .expect("no error")
            .expect("an answer");
        let mut names = match answer.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
            }
            other => panic!("not a service list: {other:?}"),
        };
        names.sort();
        assert_eq!(
            names,
            [
                "grpc.health.v1.Health",
                "grpc.reflection.v1alpha.ServerReflection",
                "grpc.testing.TestService",
            ]
        );
        assert!(
            bounded("the end of the stream", answers.message())
                .await
                .expect("no error")
                .is_none(),
            "one answer to one question"
        );
    };
    // Kill the server whatever happened, then report.
    let result = tokio::spawn(outcome).await;
    child.kill().expect("kill the Go reflection server");
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}
