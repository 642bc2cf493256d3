//! A scrape endpoint for a prometheus-client registry: HTTP/1.1 through hyper, every
//! request answered with the registry in the Prometheus text format (prometheus-client's
//! encoder).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::prometheus_text::{encode, CONTENT_TYPE};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// Answers every HTTP/1.1 request on `listener` (`GET /metrics`, or any other path) with
/// `registry` in the Prometheus text format (version 0.0.4), until accepting fails.
/// Feature `prometheus`. For a service without an HTTP server of its own; one that has one
/// encodes the registry there instead (`prometheus_client::encoding::text::encode`).
///
/// ```ignore
/// let mut registry = prometheus_client::registry::Registry::default();
/// let metrics = wirecall::metrics::Metrics::prometheus(&mut registry);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9090").await?;
/// tokio::spawn(wirecall::metrics::serve(std::sync::Arc::new(registry), listener));
/// ```
pub async fn serve(registry: Arc<Registry>, listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let registry = registry.clone();
        tokio::spawn(async move {
            let answer = service_fn(move |_request: http::Request<hyper::body::Incoming>| {
                let mut body = String::new();
                let response = match encode(&mut body, &registry) {
                    Ok(()) => http::Response::builder()
                        .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
                        .body(Full::new(Bytes::from(body))),
                    Err(err) => {
                        tracing::warn!(%err, "the metrics registry could not be encoded");
                        http::Response::builder()
                            .status(http::StatusCode::INTERNAL_SERVER_ERROR)
                            .body(Full::new(Bytes::new()))
                    }
                }
                .map_err(|e| unreachable!("static response parts: {e}"));
                async move { response.map_err(|e: Infallible| e) }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), answer)
                .await
            {
                tracing::debug!(%peer, %err, "metrics scrape connection failed");
            }
        });
    }
}
