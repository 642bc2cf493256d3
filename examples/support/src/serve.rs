//! Serving a contract the way every example server does.

use wirecall::server::ServerBuilder;

/// Binds `--addr` (default `127.0.0.1:50051`), prints `<service> listening on HOST:PORT`
/// once it accepts connections, and serves until SIGTERM or Ctrl-C; in-flight calls get the
/// server's shutdown grace to finish.
pub async fn serve(
    builder: ServerBuilder,
    service: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let addr = crate::cli::server_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("{service} listening on {}", listener.local_addr()?);
    builder
        .serve_with_listener(listener, shutdown_signal())
        .await?;
    Ok(())
}

/// Resolves on SIGTERM (how Kubernetes, systemd and `kill` stop a process) or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
