//! The users' `order.OrderService` (`proto/order.proto`, completed with the four messages
//! its article uses but does not print) on wirecall: the service ([`Orders`], in memory)
//! behind the interceptor chain a production server runs ([`server`]: request ids, logging,
//! metrics, the metadata echo, then the article's bearer-token check), and a client that
//! calls every method with the article's retry service config and checks every answer
//! ([`walkthrough`]). `examples/README.md` says what each does. For several replicas behind
//! one name (`deploy/`), the client's [`load`] mode and the server's [`ServedBy`] header.

pub mod load;
pub mod walkthrough;

mod orders;

pub use orders::{Orders, DOMAIN};

use example_support::EchoMetadata;
use wirecall::interceptor::{
    Access, BearerAuth, IncomingCall, Intercepted, Interceptor, Logging, RequestId,
};
use wirecall::metrics::Metrics;
use wirecall::server::ServerBuilder;
use wirecall::Status;

/// The generated code for `package order;`.
#[allow(missing_docs)]
pub mod pb {
    wirecall::include_proto!("order");
}

/// The article's client service config (`service_config.json`): every OrderService method
/// is retried on `UNAVAILABLE` and `DEADLINE_EXCEEDED`, at most 3 attempts, the backoff
/// starting at 0.1 s and doubling up to 1 s.
pub const SERVICE_CONFIG: &str = include_str!("../service_config.json");

/// The token that may call every method.
pub const ADMIN_TOKEN: &str = "admin-token";
/// The token that may only read: `GetOrder` and `ListOrders`.
pub const READER_TOKEN: &str = "reader-token";

/// Who may call what: the admin everything, the reader the two read methods.
fn access(token: &str, method: &str) -> Access {
    match token {
        ADMIN_TOKEN => Access::Allowed,
        READER_TOKEN if matches!(method, "GetOrder" | "ListOrders") => Access::Allowed,
        READER_TOKEN => Access::Denied,
        _ => Access::Unknown,
    }
}

/// The OrderService server: request ids, logging, metrics and the metadata echo for every
/// call (refused ones included, since they run first), then the bearer-token check of the
/// OrderService; and the health and reflection services (no token needed: probes have none).
pub fn server(orders: Orders, metrics: &Metrics) -> ServerBuilder {
    let auth = BearerAuth::from_fn(|token, call| access(token, call.method()));
    wirecall::Server::builder()
        .interceptor(RequestId::new())
        .interceptor(Logging::new())
        .interceptor(metrics.server())
        .interceptor(EchoMetadata)
        .add_service(Intercepted::new(pb::OrderServiceServer::new(orders)).with(auth))
        .add_health(&wirecall::health::HealthReporter::new())
        .add_reflection()
}

/// Names the replica that answers: the response headers of every call carry
/// [`load::SERVED_BY`] with this name (`order-server --instance NAME`; in `deploy/`, the
/// pod's name), so that a client can count how its calls spread.
#[derive(Debug, Clone)]
pub struct ServedBy(String);

impl ServedBy {
    /// The header for `name`, which must be printable ASCII without spaces.
    pub fn new(name: &str) -> Result<Self, String> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "--instance {name:?}: expected printable ASCII without spaces"
            ));
        }
        Ok(ServedBy(name.to_owned()))
    }
}

impl Interceptor for ServedBy {
    async fn on_call(&self, call: &mut IncomingCall) -> Result<(), Status> {
        // Checked in `new`, so the insert succeeds.
        let _ = call
            .response_metadata_mut()
            .insert(load::SERVED_BY, &self.0);
        Ok(())
    }
}
