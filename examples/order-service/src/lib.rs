//! The seeds' OrderService on wirecall: an in-memory implementation ([`Orders`]) behind the
//! interceptor chain a production server runs ([`server`]: request ids, logging, metrics,
//! bearer-token auth), and a client walkthrough ([`walkthrough`]) in which every call has a
//! deadline.

pub mod walkthrough;

mod orders;

pub use orders::{Orders, DOMAIN};

use wirecall::interceptor::{Access, BearerAuth, Intercepted, Logging, RequestId};
use wirecall::metrics::Metrics;
use wirecall::server::ServerBuilder;

/// The generated code for `package order;`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    wirecall::include_proto!("order");
}

/// The OrderService's default service config (`service_config.json`): every method waits
/// for the server (`waitForReady`), has 5 s, and is retried on UNAVAILABLE up to 4
/// attempts; `GetOrder`, a read, is hedged instead (3 attempts, 50 ms apart) within 2 s;
/// retries are throttled; a name-resolving target is balanced round robin.
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

/// The OrderService server: request ids and logging and metrics for every call (refused
/// ones included, since they run first), then the bearer-token check of the OrderService;
/// and the health service (no token needed, as probes have none).
pub fn server(orders: Orders, metrics: &Metrics) -> ServerBuilder {
    let auth = BearerAuth::from_fn(|token, call| access(token, call.method()));
    wirecall::Server::builder()
        .interceptor(RequestId::new())
        .interceptor(Logging::new())
        .interceptor(metrics.server())
        .add_service(Intercepted::new(pb::OrderServiceServer::new(orders)).with(auth))
        .add_health(&wirecall::health::HealthReporter::new())
        .add_reflection()
}

/// The value of `--name VALUE` or `--name=VALUE` in the process arguments.
pub fn arg(name: &str) -> Option<String> {
    let flag = format!("--{name}");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == flag {
            return args.next();
        }
        if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            return Some(v.to_owned());
        }
    }
    None
}
