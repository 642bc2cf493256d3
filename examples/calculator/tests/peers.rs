//! `math.Calculator` across implementations: the wirecall client and server, and the peers in
//! Node, Python and Go, both directions (see `example_support::contract_tests!`).

example_support::contract_tests! {
    contract: "math",
    service: "math.Calculator",
    server: "calculator-server",
    client: "calculator-client",
    peers: [node: Node, python: Python, go: Go],
}
