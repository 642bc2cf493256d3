//! `Example` across implementations: the wirecall client and server, and the peers in
//! Node and Python, both directions (see `example_support::contract_tests!`).

example_support::contract_tests! {
    contract: "example",
    service: "Example",
    server: "example-server",
    client: "example-client",
    peers: [node: Node, python: Python],
}
