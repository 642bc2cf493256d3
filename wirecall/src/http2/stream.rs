//! A stream's life (RFC 9113, section 5.1), as one state and its transitions. Server push
//! is never enabled, so the reserved states do not occur: a PUSH_PROMISE is refused by the
//! connection before a stream sees it.
//!
//! ```text
//!                     recv/send HEADERS
//!            Idle ─────────────────────────► Open
//!                                           │    │
//!              recv END_STREAM              │    │  send END_STREAM
//!        ┌──────────────────────────────────┘    └───────────────────────┐
//!        ▼                                                               ▼
//!  HalfClosedRemote ── send END_STREAM ──► Closed ◄── recv END_STREAM ── HalfClosedLocal
//!        └──────────────── send or recv RST_STREAM (any state) ─────────────┘
//! ```
//!
//! HEADERS that open a stream may carry END_STREAM themselves (a request without a body),
//! going from Idle straight to half-closed.

use super::frame::Reason;

/// Where a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Idle,
    Open,
    /// We sent END_STREAM; the peer may still send.
    HalfClosedLocal,
    /// The peer sent END_STREAM; we may still send.
    HalfClosedRemote,
    Closed(Closed),
}

/// How a stream closed: it decides what a late frame from the peer means (5.1, "closed").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// Both sides sent END_STREAM.
    Ended,
    /// We reset it: frames the peer sent before it saw our RST_STREAM are ignored.
    ResetLocally,
    /// The peer reset it.
    ResetRemotely,
}

/// What the peer did wrong by a frame on a stream, as the RFC says to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    /// Reset this stream with the code.
    Stream(Reason),
    /// Close the connection with the code.
    Connection(Reason),
}

/// What a frame received on a stream does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// Taken: the stream's state moved (or stayed) accordingly.
    Taken,
    /// Ignored: a frame the peer sent before it learned we reset the stream.
    Ignored,
}

/// The STREAM_CLOSED code (section 7).
const STREAM_CLOSED: Reason = Reason(0x5);

impl State {
    /// The peer sent HEADERS (a request, or trailers) with or without END_STREAM.
    pub(crate) fn recv_headers(&mut self, end_stream: bool) -> Result<Received, Violation> {
        match *self {
            State::Idle | State::Open | State::HalfClosedLocal => {
                // A head opens an idle stream; on an open one, only END_STREAM moves it.
                let opened = match *self {
                    State::Idle => State::Open,
                    other => other,
                };
                *self = self.after_remote_end(end_stream, opened);
                Ok(Received::Taken)
            }
            _ => self.late(),
        }
    }

    /// The peer sent DATA.
    pub(crate) fn recv_data(&mut self, end_stream: bool) -> Result<Received, Violation> {
        match *self {
            // DATA on a stream never opened is a connection error (5.1, "idle").
            State::Idle => Err(Violation::Connection(Reason::PROTOCOL_ERROR)),
            State::Open | State::HalfClosedLocal => {
                *self = self.after_remote_end(end_stream, *self);
                Ok(Received::Taken)
            }
            _ => self.late(),
        }
    }

    /// The peer reset the stream.
    pub(crate) fn recv_reset(&mut self) -> Result<Received, Violation> {
        match *self {
            State::Idle => Err(Violation::Connection(Reason::PROTOCOL_ERROR)),
            State::Closed(_) => Ok(Received::Ignored),
            _ => {
                *self = State::Closed(Closed::ResetRemotely);
                Ok(Received::Taken)
            }
        }
    }

    /// We sent HEADERS (a response, or trailers).
    pub(crate) fn send_headers(&mut self, end_stream: bool) {
        if matches!(*self, State::Idle) {
            *self = State::Open;
        }
        self.local_end(end_stream);
    }

    /// We sent DATA.
    pub(crate) fn send_data(&mut self, end_stream: bool) {
        self.local_end(end_stream);
    }

    /// We reset the stream.
    pub(crate) fn send_reset(&mut self) {
        if !matches!(*self, State::Closed(_)) {
            *self = State::Closed(Closed::ResetLocally);
        }
    }

    /// Whether we may still send on it.
    pub(crate) fn can_send(&self) -> bool {
        matches!(*self, State::Open | State::HalfClosedRemote)
    }

    /// Whether it counts against SETTINGS_MAX_CONCURRENT_STREAMS (open or half-closed).
    pub(crate) fn is_active(&self) -> bool {
        matches!(
            *self,
            State::Open | State::HalfClosedLocal | State::HalfClosedRemote
        )
    }

    fn after_remote_end(&self, end_stream: bool, otherwise: State) -> State {
        if !end_stream {
            return otherwise;
        }
        match *self {
            State::HalfClosedLocal => State::Closed(Closed::Ended),
            _ => State::HalfClosedRemote,
        }
    }

    fn local_end(&mut self, end_stream: bool) {
        if !end_stream {
            return;
        }
        *self = match *self {
            State::Open => State::HalfClosedLocal,
            State::HalfClosedRemote => State::Closed(Closed::Ended),
            other => other,
        };
    }

    /// A frame after the peer's END_STREAM or on a closed stream.
    fn late(&self) -> Result<Received, Violation> {
        match *self {
            State::Closed(Closed::ResetLocally) => Ok(Received::Ignored),
            // After the peer's own END_STREAM or RST_STREAM it knows better (5.1).
            _ => Err(Violation::Stream(STREAM_CLOSED)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unary_call_goes_idle_open_half_closed_closed() {
        let mut stream = State::Idle;
        stream.recv_headers(false).unwrap();
        assert_eq!(stream, State::Open);
        stream.recv_data(true).unwrap();
        assert_eq!(stream, State::HalfClosedRemote);
        assert!(stream.can_send() && stream.is_active());
        stream.send_headers(false);
        stream.send_data(false);
        stream.send_headers(true); // trailers
        assert_eq!(stream, State::Closed(Closed::Ended));
        assert!(!stream.can_send() && !stream.is_active());
    }

    #[test]
    fn a_request_without_a_body_half_closes_at_once_and_a_server_may_end_first() {
        let mut stream = State::Idle;
        stream.recv_headers(true).unwrap();
        assert_eq!(stream, State::HalfClosedRemote);

        let mut stream = State::Idle;
        stream.recv_headers(false).unwrap();
        stream.send_headers(true); // trailers-only while the client still sends
        assert_eq!(stream, State::HalfClosedLocal);
        assert_eq!(stream.recv_data(false), Ok(Received::Taken));
        stream.recv_headers(true).unwrap();
        assert_eq!(stream, State::Closed(Closed::Ended));
    }

    #[test]
    fn a_client_that_ended_its_request_stays_half_closed_through_the_response_head() {
        let mut stream = State::Idle;
        stream.send_headers(false);
        stream.send_data(true);
        assert_eq!(stream, State::HalfClosedLocal);
        stream.recv_headers(false).unwrap(); // the response head
        assert_eq!(stream, State::HalfClosedLocal);
        assert!(!stream.can_send() && stream.is_active());
        stream.recv_data(false).unwrap();
        stream.recv_headers(true).unwrap(); // trailers
        assert_eq!(stream, State::Closed(Closed::Ended));
    }

    #[test]
    fn late_frames_get_the_rfcs_answer() {
        let mut stream = State::Idle;
        assert_eq!(
            stream.recv_data(false),
            Err(Violation::Connection(Reason::PROTOCOL_ERROR))
        );
        assert_eq!(
            stream.recv_reset(),
            Err(Violation::Connection(Reason::PROTOCOL_ERROR))
        );

        // After the peer's END_STREAM: STREAM_CLOSED.
        stream.recv_headers(true).unwrap();
        assert_eq!(
            stream.recv_data(false),
            Err(Violation::Stream(STREAM_CLOSED))
        );
        assert_eq!(
            stream.recv_headers(false),
            Err(Violation::Stream(STREAM_CLOSED))
        );

        // After our reset: what the peer had in flight is ignored.
        stream.send_reset();
        assert_eq!(stream.recv_data(true), Ok(Received::Ignored));
        assert_eq!(stream.recv_reset(), Ok(Received::Ignored));

        // After the peer's reset: it knows the stream is closed.
        let mut stream = State::Open;
        stream.recv_reset().unwrap();
        assert_eq!(stream, State::Closed(Closed::ResetRemotely));
        assert_eq!(
            stream.recv_data(false),
            Err(Violation::Stream(STREAM_CLOSED))
        );
        stream.send_reset();
        assert_eq!(
            stream,
            State::Closed(Closed::ResetRemotely),
            "no reset of a closed stream"
        );
    }
}
