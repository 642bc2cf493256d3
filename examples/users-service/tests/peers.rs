//! `users.UserService` across implementations: the wirecall client and server, and the peers in
//! Node and Python, both directions (see `example_support::contract_tests!`).

example_support::contract_tests! {
    contract: "users",
    service: "users.UserService",
    server: "users-server",
    client: "users-client",
    peers: [node: Node, python: Python],
}
