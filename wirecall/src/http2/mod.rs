//! wirecall's own HTTP/2 (RFC 9113, RFC 7541), written for gRPC and free of I/O: bytes and
//! time in, events and bytes out. Servers and channels run on it when [`Http2Engine`] says
//! so (h2 stays the default until it is proven against it, issue 22); the drivers that do
//! its I/O are `server::own_http2` and `client::own_http2`, the calls' side of it
//! `wire::own`.
//!
//! - [`hpack`]: header compression;
//! - [`frame`]: frames read by their types' rules, and written;
//! - [`flow`]: flow-control windows;
//! - [`stream`]: a stream's states;
//! - [`endpoint`]: what both sides of a connection do alike;
//! - [`connection`]: the server side of a connection;
//! - [`client`]: the client side of a connection.

pub(crate) mod client;
pub(crate) mod connection;
pub(crate) mod endpoint;
pub(crate) mod flow;
pub(crate) mod frame;
pub(crate) mod hpack;
pub(crate) mod message;
pub(crate) mod stream;
#[cfg(test)]
mod testing;

/// The HTTP/2 implementation a server or a channel runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Http2Engine {
    /// The `h2` crate: the default while wirecall's own engine is proven against it.
    #[default]
    H2,
    /// wirecall's own HTTP/2 engine (sans-IO, written for gRPC): every protocol decision
    /// is ours, e.g. keepalive enforcement's GOAWAY carries `too_many_pings`.
    Wirecall,
}

impl Http2Engine {
    /// The engine `WIRECALL_HTTP2_ENGINE` names, else the default; how a whole test suite
    /// runs on either engine, servers and clients, without a change to its code.
    pub(crate) fn from_env() -> Http2Engine {
        match std::env::var("WIRECALL_HTTP2_ENGINE").as_deref() {
            Ok("wirecall") => Http2Engine::Wirecall,
            Ok("h2") | Err(_) => Http2Engine::H2,
            Ok(other) => {
                tracing::warn!(
                    engine = other,
                    "WIRECALL_HTTP2_ENGINE is neither `h2` nor `wirecall`: h2 it is"
                );
                Http2Engine::H2
            }
        }
    }
}

/// A map keyed by stream identifier.
pub(crate) type StreamMap<V> =
    std::collections::HashMap<u32, V, std::hash::BuildHasherDefault<StreamIdHasher>>;

/// Hashes a stream identifier with one multiplication. Identifiers are chosen by the peer,
/// but a map never holds more than SETTINGS_MAX_CONCURRENT_STREAMS of them, so a crafted
/// set costs no more than that many probes; SipHash cost 5% of a request.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StreamIdHasher(u64);

/// An odd constant with well-spread bits (2^64 divided by the golden ratio).
const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;

impl std::hash::Hasher for StreamIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = ((self.0 << 8) | u64::from(byte)).wrapping_mul(SPREAD);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(SPREAD);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
