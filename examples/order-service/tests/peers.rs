//! `order.OrderService` across implementations: the wirecall client and server, and the peers in
//! Node, Python and Go, both directions (see `example_support::contract_tests!`).

example_support::contract_tests! {
    contract: "order",
    service: "order.OrderService",
    server: "order-server",
    client: "order-client",
    peers: [node: Node, python: Python, go: Go],
}
