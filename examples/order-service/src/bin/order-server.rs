//! Serves the OrderService: `order-server [--addr 127.0.0.1:50052] [--metrics-addr ADDR]`.
//! Prints "OrderService listening on HOST:PORT" (and the metrics address) once it accepts
//! connections. Stops on Ctrl-C.

use order_service::Orders;
use wirecall::metrics::Metrics;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The Logging interceptor's one line per call, on stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let addr = order_service::arg("addr").unwrap_or_else(|| "127.0.0.1:50052".into());
    // The A66 call metrics in a prometheus-client registry; a service with an HTTP server
    // of its own would encode the registry there instead of serving it here.
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Metrics::prometheus(&mut registry);
    if let Some(metrics_addr) = order_service::arg("metrics-addr") {
        let listener = tokio::net::TcpListener::bind(&metrics_addr).await?;
        println!("metrics on http://{}/metrics", listener.local_addr()?);
        tokio::spawn(wirecall::metrics::serve(
            std::sync::Arc::new(registry),
            listener,
        ));
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("OrderService listening on {}", listener.local_addr()?);
    order_service::server(Orders::new(), &metrics)
        .serve_with_listener(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
