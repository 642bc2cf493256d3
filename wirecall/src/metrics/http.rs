//! The scrape endpoint: HTTP/1.1 through hyper, every request answered with the exposition.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Metrics;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) async fn serve(metrics: Metrics, listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let answer = service_fn(move |_request: http::Request<hyper::body::Incoming>| {
                let body = Full::new(Bytes::from(metrics.render()));
                let response = http::Response::builder()
                    .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
                    .body(body)
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
