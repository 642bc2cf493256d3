//! `user.UserService` across implementations: the wirecall client and server, and the peers in
//! Node and Python, both directions (see `example_support::contract_tests!`).

example_support::contract_tests! {
    contract: "user",
    service: "user.UserService",
    server: "user-server",
    client: "user-client",
    peers: [node: Node, python: Python],
}

/// The client's checks can fail: against a server of another contract (the Node
/// `math.Calculator`) its first step fails and it exits 1, saying which step and why.
#[tokio::test]
async fn the_client_fails_against_a_server_of_another_contract() {
    use example_support::peers::{fails, Lang, Server};

    let calculator = Server::peer(Lang::Node, "math").await;
    let client = tokio::process::Command::new(env!("CARGO_BIN_EXE_user-client"));
    let failure = fails(client, calculator.addr(), "user-client").await;
    assert!(
        failure.starts_with("FAILED GetUser(\"1\"): ") && failure.contains("UNIMPLEMENTED"),
        "{failure}"
    );
    assert!(calculator.terminate().await.success());
}
