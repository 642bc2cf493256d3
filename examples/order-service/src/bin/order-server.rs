//! Serves the users' `order.OrderService`:
//! `order-server [--addr 127.0.0.1:50051] [--metrics-addr ADDR] [--instance NAME]`. Prints
//! `order.OrderService listening on HOST:PORT` (and, before it, the metrics address) once it
//! accepts connections; stops on SIGTERM or Ctrl-C. Tokens: `admin-token` calls everything,
//! `reader-token` only GetOrder and ListOrders. With `--instance NAME` every response carries
//! `x-served-by: NAME`, so that clients balancing over several replicas see which answered.

use order_service::{Orders, ServedBy};
use wirecall::metrics::Metrics;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The Logging interceptor's one line per call, on stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    // The A66 call metrics in a prometheus-client registry; a service with an HTTP server
    // of its own would encode the registry there instead of serving it here.
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Metrics::prometheus(&mut registry);
    if let Some(metrics_addr) = example_support::cli::arg("metrics-addr") {
        let listener = tokio::net::TcpListener::bind(&metrics_addr).await?;
        println!("metrics on http://{}/metrics", listener.local_addr()?);
        tokio::spawn(wirecall::metrics::serve(
            std::sync::Arc::new(registry),
            listener,
        ));
    }
    let mut server = order_service::server(Orders::new(), &metrics);
    if let Some(name) = example_support::cli::arg("instance") {
        server = server.interceptor(ServedBy::new(&name)?);
    }
    example_support::serve(server, "order.OrderService").await
}
