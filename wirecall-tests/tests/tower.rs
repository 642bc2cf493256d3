//! Ordinary tower layers around a wirecall service (feature `tower`), over real sockets:
//! a concurrency limit holds calls back, load shedding refuses them with UNAVAILABLE.

mod common;

use std::time::Duration;

use tower::ServiceBuilder;
use wirecall::server::tower::layered;
use wirecall::{Code, Request, Server};
use wirecall_tests::echo::{EchoClient, EchoRequest};

use common::{bounded, echo, local_listener, Event};

/// Serves the test Echo service under `stack` on a fresh port; returns a client and the
/// handler events.
async fn serve_layered<T>(
    stack: impl FnOnce(
        wirecall::server::tower::TowerService<wirecall_tests::echo::EchoServer<common::TestEcho>>,
    ) -> T,
) -> (EchoClient, common::TestServer)
where
    T: tower::Service<wirecall::server::tower::CallRequest> + Clone + Send + 'static,
    T::Future: Send,
    T::Error: std::fmt::Display,
{
    // The plain server only provides the shared handler state and its events.
    let server = common::start().await;
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let service = layered(common::echo_service(server.state.clone()), stack);
    tokio::spawn(
        Server::builder()
            .add_service(service)
            .serve_with_listener(listener, std::future::pending()),
    );
    let channel = wirecall::Endpoint::new(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    (EchoClient::new(channel), server)
}

fn sleeping(message: &str, ms: i32) -> EchoRequest {
    EchoRequest {
        sleep_ms: ms,
        ..echo(message)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrency_limit_holds_the_second_call_back() {
    let (client, mut server) =
        serve_layered(|s| ServiceBuilder::new().concurrency_limit(1).service(s)).await;
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.unary(sleeping("first", 600)).await }
    });
    assert_eq!(server.next_event().await, Event::Started("first".into()));

    // While the first call holds the only slot, the second cannot start: its deadline
    // passes with its handler never run.
    let mut second = Request::new(sleeping("second", 1));
    second.set_timeout(Duration::from_millis(150));
    let err = bounded("second call", client.unary(second))
        .await
        .expect_err("held back");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(server.state.seen_for("second").is_empty());

    bounded("first call", first)
        .await
        .unwrap()
        .expect("the first call finishes");
    // The slot is free again.
    let reply = bounded("third call", client.unary(echo("third")))
        .await
        .expect("served");
    assert_eq!(reply.get_ref().message, "third");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_shedding_refuses_with_unavailable() {
    let (client, mut server) = serve_layered(|s| {
        ServiceBuilder::new()
            .load_shed()
            .concurrency_limit(1)
            .service(s)
    })
    .await;
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.unary(sleeping("busy", 400)).await }
    });
    assert_eq!(server.next_event().await, Event::Started("busy".into()));
    let err = bounded("shed call", client.unary(echo("shed")))
        .await
        .expect_err("shed");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(server.state.seen_for("shed").is_empty());
    bounded("first call", first).await.unwrap().expect("ok");
}
