//! The users.UserService across implementations, over real sockets on 127.0.0.1: the wirecall client
//! against the wirecall, Node and Python servers, and the Node and Python clients
//! against the wirecall server. Every server is a process started with `--addr
//! 127.0.0.1:0` and stopped with SIGTERM, which it must answer by exiting 0.

use example_support::peers::{client_calls_peer, client_calls_server, peer_client_calls, Lang};

const CONTRACT: &str = "users";
const SERVER: &str = env!("CARGO_BIN_EXE_users-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_users-client");

#[tokio::test]
async fn wirecall_client_calls_the_wirecall_server() {
    client_calls_server(CLIENT, SERVER).await;
}

#[tokio::test]
async fn node_client_calls_the_wirecall_server() {
    peer_client_calls(SERVER, Lang::Node, CONTRACT).await;
}

#[tokio::test]
async fn python_client_calls_the_wirecall_server() {
    peer_client_calls(SERVER, Lang::Python, CONTRACT).await;
}

#[tokio::test]
async fn wirecall_client_calls_the_node_server() {
    client_calls_peer(CLIENT, Lang::Node, CONTRACT).await;
}

#[tokio::test]
async fn wirecall_client_calls_the_python_server() {
    client_calls_peer(CLIENT, Lang::Python, CONTRACT).await;
}
