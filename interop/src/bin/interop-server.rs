//! The wirecall interop server: `interop-server --port=N [--use_tls=true]
//! [--tls_cert_file=F --tls_key_file=F]`. Listens on 127.0.0.1 only.

use wirecall_interop::flags::Flags;
use wirecall_interop::server::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flags = Flags::from_env();
    let port: u16 = flags.get("port").unwrap_or("10000").parse()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let mut server = wirecall::Server::builder().add_service(TestServer);
    if flags.bool("use_tls") {
        let certs = flags.certs_dir();
        let cert = flags
            .get("tls_cert_file")
            .map(Into::into)
            .unwrap_or_else(|| certs.join("server1.pem"));
        let key = flags
            .get("tls_key_file")
            .map(Into::into)
            .unwrap_or_else(|| certs.join("server1.key"));
        let config = wirecall::tls::server_config(&std::fs::read(cert)?, &std::fs::read(key)?)?;
        server = server.tls(config);
    }
    println!("listening on {}", listener.local_addr()?);
    server
        .serve_with_listener(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
