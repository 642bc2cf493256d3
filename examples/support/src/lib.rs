//! What the contract examples (`examples/*`, see `examples/README.md`) share, so that each
//! example holds only its contract: the command line ([`cli`]), serving until SIGTERM or
//! Ctrl-C ([`serve`]), the metadata echo every example server performs ([`EchoMetadata`]),
//! checked client steps ([`steps`]) and, for the tests, the harness that runs the peers in
//! Node, Python and Go ([`peers`]).

pub mod cli;
pub mod peers;
pub mod steps;

mod echo;
mod serve;

pub use echo::EchoMetadata;
pub use serve::{serve, shutdown_signal};

/// The tests of one contract example, over real sockets on 127.0.0.1: the wirecall client
/// against the wirecall server (stopped with SIGINT), and for each peer language a module
/// with its client against the wirecall server and the wirecall client against its server
/// (each stopped with SIGTERM). Every server must also answer health and reflection for the
/// service, and exit 0 when stopped. Every server is
/// a process started with `--addr 127.0.0.1:0`.
///
/// ```text
/// example_support::contract_tests! {
///     contract: "math",                 // the peers' directory: examples/peers/<lang>/math
///     service: "math.Calculator",
///     server: "calculator-server",      // binaries of the crate under test
///     client: "calculator-client",
///     peers: [node: Node, python: Python, go: Go],
/// }
/// ```
#[macro_export]
macro_rules! contract_tests {
    (
        contract: $contract:literal,
        service: $service:literal,
        server: $server:literal,
        client: $client:literal,
        peers: [$($module:ident: $lang:ident),* $(,)?] $(,)?
    ) => {
        #[tokio::test]
        async fn wirecall_client_calls_the_wirecall_server() {
            $crate::peers::client_calls_server(
                env!(concat!("CARGO_BIN_EXE_", $client)),
                env!(concat!("CARGO_BIN_EXE_", $server)),
                $service,
            )
            .await;
        }

        $(
            mod $module {
                #[tokio::test]
                async fn its_client_calls_the_wirecall_server() {
                    $crate::peers::peer_client_calls(
                        env!(concat!("CARGO_BIN_EXE_", $server)),
                        $crate::peers::Lang::$lang,
                        $contract,
                    )
                    .await;
                }

                #[tokio::test]
                async fn the_wirecall_client_calls_its_server() {
                    $crate::peers::client_calls_peer(
                        env!(concat!("CARGO_BIN_EXE_", $client)),
                        $crate::peers::Lang::$lang,
                        $contract,
                        $service,
                    )
                    .await;
                }
            }
        )*
    };
}
