//! wirecall's own HTTP/2 (RFC 9113, RFC 7541), written for gRPC and free of I/O: bytes and
//! time in, events and bytes out. Being built piece by piece (issue 22); until it is proven
//! against h2 it serves nothing, and only its tests and fuzz targets use it.
//!
//! - [`hpack`]: header compression;
//! - [`frame`]: frames read by their types' rules, and written;
//! - [`flow`]: flow-control windows;
//! - [`stream`]: a stream's states;
//! - [`connection`]: the server side of a connection, receiving half.

pub(crate) mod connection;
pub(crate) mod flow;
pub(crate) mod frame;
pub(crate) mod hpack;
pub(crate) mod message;
pub(crate) mod stream;
