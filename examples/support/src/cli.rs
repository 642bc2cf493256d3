//! The command line every example program takes: `--addr HOST:PORT`.

use std::net::SocketAddr;

/// Where servers listen and clients call unless `--addr` says otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:50051";

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

/// The address a server binds: `--addr HOST:PORT`, else [`DEFAULT_ADDR`].
pub fn server_addr() -> Result<SocketAddr, String> {
    let addr = arg("addr").unwrap_or_else(|| DEFAULT_ADDR.into());
    addr.parse()
        .map_err(|e| format!("--addr {addr}: {e} (expected HOST:PORT)"))
}

/// The target a client calls, as a URL: `--addr HOST:PORT` (or `http://HOST:PORT`, or a
/// gRPC target such as `dns:///host:port`), else [`DEFAULT_ADDR`].
pub fn client_target() -> String {
    target(&arg("addr").unwrap_or_else(|| DEFAULT_ADDR.into()))
}

/// `addr` as an `http://` URL, unless it already has a scheme or is one of gRPC's
/// name-resolving targets (`dns:`, `ipv4:`, `ipv6:`, `unix:`; naming.md).
pub fn target(addr: &str) -> String {
    let named = ["dns:", "ipv4:", "ipv6:", "unix:"]
        .iter()
        .any(|scheme| addr.starts_with(scheme));
    if named || addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    }
}
