//! Calls every method of the `order.OrderService` at `--addr TARGET` (default
//! 127.0.0.1:50051) with the article's retry service config, checks every answer and prints
//! it. Expects a freshly started server.
//!
//! `--service-config JSON` replaces the article's service config (e.g. to add
//! `"loadBalancingConfig": [{"round_robin": {}}]` for a `dns:///` target naming several
//! replicas). `--calls N [--interval-ms MS]` makes N reader calls of `GetOrder(ord-1)`
//! instead of the walkthrough, and prints how many each replica answered (`deploy/` runs
//! it this way: the walkthrough needs one server, as each replica keeps its own orders).

use std::process::ExitCode;
use std::time::Duration;

use example_support::cli::arg;

#[tokio::main]
async fn main() -> ExitCode {
    let target = example_support::cli::client_target();
    let service_config =
        arg("service-config").unwrap_or_else(|| order_service::SERVICE_CONFIG.to_owned());
    let result = match arg("calls") {
        None => order_service::walkthrough::run_with(&target, &service_config).await,
        Some(calls) => {
            let (calls, interval) = match (calls.parse(), number("interval-ms")) {
                (Ok(calls), Ok(interval)) => (calls, Duration::from_millis(interval)),
                (Err(e), _) => return usage(&format!("--calls {calls}: {e}")),
                (_, Err(e)) => return usage(&e),
            };
            order_service::load::run(&target, &service_config, calls, interval).await
        }
    };
    example_support::steps::report(result)
}

/// The number given as `--name`, 0 when absent.
fn number(name: &str) -> Result<u64, String> {
    arg(name).map_or(Ok(0), |v| {
        v.parse().map_err(|e| format!("--{name} {v}: {e}"))
    })
}

fn usage(error: &str) -> ExitCode {
    eprintln!("order-client: {error}");
    ExitCode::from(2)
}
