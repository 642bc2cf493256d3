//! wirecall's own HTTP/2 (RFC 9113, RFC 7541), written for gRPC and free of I/O: bytes and
//! time in, events and bytes out. Being built piece by piece (issue 22); until it is proven
//! against h2 it serves nothing, and only its tests and fuzz targets use it.
//!
//! - [`hpack`]: header compression;
//! - [`frame`]: frames read by their types' rules, and written;
//! - [`flow`]: flow-control windows;
//! - [`stream`]: a stream's states;
//! - [`endpoint`]: what both sides of a connection do alike;
//! - [`connection`]: the server side of a connection;
//! - [`client`]: the client side of a connection.

// Only its tests use it until the client's driver, which comes next, carries calls on it.
#[cfg_attr(not(test), allow(dead_code))]
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
