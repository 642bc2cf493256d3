//! The client side: a [`Channel`] shared by every call and every generated client made
//! from it, and the four call patterns on top of it.
//!
//! A channel to a plain target holds one connection. A name-resolving target (`dns:`,
//! `ipv4:`, `ipv6:`, or [`Endpoint::resolver`]) gets a subchannel per backend, picked per
//! call by the balancing policy, each reconnecting with the gRPC connection backoff. The
//! service config ([`crate::service_config`]) adds per-method timeouts, `waitForReady`,
//! message limits, retries and hedging.

mod backoff;
mod balancer;
mod call;
mod channel;
mod connection;
mod connectivity;
#[cfg(feature = "dns")]
mod dns;
#[cfg(any(feature = "dns", feature = "fuzzing"))]
pub(crate) mod dns_config;
pub(crate) mod endpoint;
mod idle;
pub(crate) mod outlier;
mod own_http2;
mod replay;
pub mod resolver;
mod retry;
mod sender;
mod subchannel;

pub use backoff::BackoffConfig;
pub use channel::Channel;
pub use connectivity::ConnectivityState;
pub use endpoint::Endpoint;
pub use resolver::{Address, Resolution, Resolver};
