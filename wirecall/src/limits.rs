//! The limits and HTTP/2 windows that servers and channels share, with their defaults in
//! one place. Each has a builder knob on `ServerBuilder` and `Endpoint`.

use crate::frame::DEFAULT_MAX_RECEIVE_SIZE;

#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Largest message received; more answers `RESOURCE_EXHAUSTED`. Default 4 MiB.
    pub(crate) max_decoding_message_size: usize,
    /// Largest message sent; the frame format's limit (4 GiB - 1) by default.
    pub(crate) max_encoding_message_size: usize,
    /// HTTP/2 window of each stream. Default 1 MiB.
    pub(crate) initial_stream_window_size: u32,
    /// HTTP/2 window of each connection. Default 4 MiB.
    pub(crate) initial_connection_window_size: u32,
    /// Largest header block received, metadata included. Default 16 KiB.
    pub(crate) max_header_list_size: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decoding_message_size: DEFAULT_MAX_RECEIVE_SIZE,
            max_encoding_message_size: u32::MAX as usize,
            initial_stream_window_size: 1024 * 1024,
            initial_connection_window_size: 4 * 1024 * 1024,
            max_header_list_size: 16 * 1024,
        }
    }
}
