//! A `users-server` told to stop while a client watches: the watch never ends by itself, so
//! the server waits its shutdown grace, closes the connection, and exits 0; the watching
//! client sees its stream end instead of hanging.

use std::time::Duration;

use example_support::peers::Server;
use tokio::process::Command;
use users_service::pb::{UserServiceClient, WatchRequest};

#[tokio::test]
async fn sigterm_ends_open_watches_after_the_grace_and_exits_0() {
    let server = Server::start(
        Command::new(env!("CARGO_BIN_EXE_users-server")),
        "users-server",
    )
    .await;
    let client = UserServiceClient::connect(format!("http://{}", server.addr()))
        .await
        .expect("connect");
    let mut watch = client
        .watch_users(WatchRequest::default())
        .await
        .expect("watching")
        .into_inner();
    let heartbeat = watch.message().await.expect("a first event");
    assert_eq!(
        heartbeat.map(|e| e.event_type).as_deref(),
        Some("heartbeat")
    );

    let exit = server.terminate().await;
    assert!(exit.success(), "users-server exited {exit} after SIGTERM");
    // Heartbeats may still be buffered; after them the stream ends, with an error or not.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = watch.message().await {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the watch still runs after the server exited"
    );
}
