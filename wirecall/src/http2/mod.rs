//! wirecall's own HTTP/2 (RFC 9113, RFC 7541), written for gRPC and free of I/O: bytes and
//! time in, events and bytes out. Being built piece by piece (issue 22); until it is proven
//! against h2 it serves nothing, and only its tests and fuzz targets use it.

pub(crate) mod frame;
pub(crate) mod hpack;
// The connection core, the next step, drives these two; until then only their tests do.
#[cfg(test)]
pub(crate) mod flow;
#[cfg(test)]
pub(crate) mod stream;
