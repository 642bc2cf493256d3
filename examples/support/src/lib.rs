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
