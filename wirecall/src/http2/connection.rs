//! The server side of an HTTP/2 connection (RFC 9113): bytes in, events and the bytes to
//! answer with out. No I/O, no clock, no tasks: a driver feeds it what the socket read and
//! writes what it wrote.
//!
//! What both sides do alike is [`Endpoint`]'s: checking the client preface, sending our
//! SETTINGS and acknowledging the client's, answering PINGs, joining and decoding header
//! blocks, keeping each stream's state and both directions' flow-control windows, and on
//! any connection error sending GOAWAY with the code and stopping. What is the server's is
//! here: a header block opens a stream (refused past SETTINGS_MAX_CONCURRENT_STREAMS, or
//! after our GOAWAY) or ends one as trailers, and a request's data must add up to its
//! `content-length`. What it hands up: requests, their data and trailers, resets, PINGs (so
//! keepalive can see them), the client's GOAWAY.

use bytes::Bytes;

use super::endpoint::{Closed, Endpoint, Failure, Incoming, Phase, Role, Side};
use super::frame::{write, Reason};
use super::hpack;
use super::message::Field;
use super::stream::State;

pub(crate) use super::endpoint::Limits;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use super::endpoint::PREFACE;

/// The server side of a connection.
pub(crate) type Connection = Endpoint<ServerSide>;

/// What happened on the connection, for the layer above.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A new stream's request head.
    Request {
        stream: u32,
        fields: Vec<(Bytes, Bytes)>,
        end_stream: bool,
    },
    /// Request data.
    Data {
        stream: u32,
        data: Bytes,
        end_stream: bool,
    },
    /// The request's trailers (they end it).
    Trailers {
        stream: u32,
        fields: Vec<(Bytes, Bytes)>,
    },
    /// A stream handed up is gone: the client reset it, or we did, for a stream error it
    /// made (`reason` says which code went with it).
    Reset { stream: u32, reason: Reason },
    /// A PING from the client (already answered).
    Ping { payload: [u8; 8] },
    /// The client acknowledged one of our PINGs.
    PingAck { payload: [u8; 8] },
    /// The client is going away.
    GoAway { last_stream: u32, reason: Reason },
}

/// The server's side of the rules: it takes requests.
pub(crate) struct ServerSide;

/// What a server keeps of a request as it comes: its `content-length`, less the data
/// received so far (8.1.1: DATA that does not add up to it makes the request malformed).
pub(crate) struct Request {
    content_left: Option<u64>,
}

impl Side for ServerSide {
    const ROLE: Role = Role::Server;
    type Message = Request;
    type Event = Event;

    fn check_data(request: &mut Request, len: u64, end_stream: bool) -> Result<(), &'static str> {
        let Some(left) = request.content_left.as_mut() else {
            return Ok(());
        };
        if len > *left || (end_stream && len != *left) {
            return Err("DATA not adding up to the content-length");
        }
        *left -= len;
        Ok(())
    }

    fn check_trailers(request: &Request) -> Result<(), &'static str> {
        match request.content_left {
            Some(left) if left > 0 => Err("trailers before the content-length's data"),
            _ => Ok(()),
        }
    }

    fn data(stream: u32, data: Bytes, end_stream: bool) -> Event {
        Event::Data {
            stream,
            data,
            end_stream,
        }
    }

    fn trailers(stream: u32, fields: Vec<Field>) -> Event {
        Event::Trailers { stream, fields }
    }

    fn reset(stream: u32, reason: Reason) -> Event {
        Event::Reset { stream, reason }
    }

    fn ping(payload: [u8; 8]) -> Event {
        Event::Ping { payload }
    }

    fn ping_ack(payload: [u8; 8]) -> Event {
        Event::PingAck { payload }
    }

    fn take(connection: &mut Connection, incoming: Incoming) -> Result<(), Failure> {
        match incoming {
            Incoming::Headers {
                stream,
                end_stream,
                block,
            } => connection.request_block(stream, end_stream, block),
            Incoming::GoAway {
                last_stream,
                reason,
                ..
            } => {
                connection.events.push_back(Event::GoAway {
                    last_stream,
                    reason,
                });
                Ok(())
            }
            Incoming::PushPromise => Err((Reason::PROTOCOL_ERROR, "PUSH_PROMISE from a client")),
            // The client's limit is on pushed streams, which we never open.
            Incoming::MaxConcurrentStreams(_) => Ok(()),
        }
    }
}

impl Connection {
    /// A whole header block: a request, or a stream's trailers.
    fn request_block(
        &mut self,
        stream: u32,
        end_stream: bool,
        block: hpack::Block,
    ) -> Result<(), Failure> {
        if self.streams.contains_key(&stream) {
            return self.trailers(stream, end_stream, block.fields);
        }
        if stream <= self.last_stream && stream % 2 == 1 {
            return match self.closed_how(stream) {
                // In flight when we reset it: ignored (its block was decoded, for HPACK).
                Some(Closed::ByUs) => Ok(()),
                Some(Closed::Known) => Err((Reason::STREAM_CLOSED, "HEADERS on a closed stream")),
                None => Err((
                    Reason::PROTOCOL_ERROR,
                    "a client stream identifier not increasing",
                )),
            };
        }
        if stream % 2 == 0 {
            return Err((Reason::PROTOCOL_ERROR, "an even client stream identifier"));
        }
        self.last_stream = stream;
        if let Phase::Draining { last_stream } = self.phase {
            if stream > last_stream {
                tracing::debug!(stream, "a stream opened after our GOAWAY: not served");
                self.remember(stream, Closed::ByUs);
                return Ok(());
            }
        }
        if self.streams.len() >= self.limits.max_concurrent_streams as usize {
            write::reset(stream, Reason::REFUSED_STREAM, &mut self.output);
            self.remember(stream, Closed::ByUs);
            return Ok(());
        }
        if block.too_large {
            // The header list passed SETTINGS_MAX_HEADER_LIST_SIZE: 431 (RFC 9113 10.5.1),
            // and a request still coming is told to stop.
            tracing::debug!(stream, "a header list past the limit: 431");
            self.write_headers(stream, [(&b":status"[..], &b"431"[..])], true);
            if !end_stream {
                write::reset(stream, Reason::NO_ERROR, &mut self.output);
            }
            self.remember(stream, Closed::ByUs);
            return Ok(());
        }
        let content_left = match content_length(&block.fields) {
            Ok(length) => length,
            Err(()) => {
                tracing::debug!(stream, "a malformed content-length: stream reset");
                write::reset(stream, Reason::PROTOCOL_ERROR, &mut self.output);
                self.remember(stream, Closed::ByUs);
                return Ok(());
            }
        };
        if end_stream && content_left.is_some_and(|left| left > 0) {
            tracing::debug!(stream, "content-length without the data: stream reset");
            write::reset(stream, Reason::PROTOCOL_ERROR, &mut self.output);
            self.remember(stream, Closed::ByUs);
            return Ok(());
        }
        let mut state = State::Idle;
        let _ = state.recv_headers(end_stream);
        let entry = self.new_stream(state, Request { content_left });
        self.streams.insert(stream, entry);
        self.events.push_back(Event::Request {
            stream,
            fields: block.fields,
            end_stream,
        });
        Ok(())
    }
}

/// The `content-length` among a request's fields, if it has one; `Err` if it is not a
/// number (or comes twice with different values).
fn content_length(fields: &[(Bytes, Bytes)]) -> Result<Option<u64>, ()> {
    let mut length = None;
    for (name, value) in fields {
        if &name[..] != b"content-length" {
            continue;
        }
        let parsed = std::str::from_utf8(value)
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or(())?;
        if length.is_some_and(|earlier| earlier != parsed) {
            return Err(());
        }
        length = Some(parsed);
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::frame::{self, Frame, Setting};
    use crate::http2::testing::{events, frames, resets, Peer};

    /// A client's side of the test: the preface, SETTINGS, then requests and their data.
    struct Client(Peer);

    impl Client {
        fn new() -> Client {
            let mut peer = Peer::new();
            peer.bytes.extend_from_slice(PREFACE);
            write::settings(&[], &mut peer.bytes);
            Client(peer)
        }

        /// A client that has written nothing yet (its preface went to the connection before).
        fn later() -> Client {
            Client(Peer::new())
        }

        fn request(&mut self, stream: u32, path: &str, end_stream: bool) -> &mut Client {
            self.request_at(stream, path.as_bytes(), &[], end_stream)
        }

        /// A request head with `extra` fields after the usual four.
        fn request_with(
            &mut self,
            stream: u32,
            extra: &[(&[u8], &[u8])],
            end_stream: bool,
        ) -> &mut Client {
            self.request_at(stream, b"/a", extra, end_stream)
        }

        fn request_at(
            &mut self,
            stream: u32,
            path: &[u8],
            extra: &[(&[u8], &[u8])],
            end_stream: bool,
        ) -> &mut Client {
            let fields: [(&[u8], &[u8]); 4] = [
                (b":method", b"POST"),
                (b":scheme", b"http"),
                (b":path", path),
                (b"content-type", b"application/grpc"),
            ];
            let all = fields.into_iter().chain(extra.iter().copied());
            self.0.headers(stream, all, end_stream);
            self
        }

        fn data(&mut self, stream: u32, data: &[u8], end_stream: bool) -> &mut Client {
            self.0.data(stream, data, end_stream);
            self
        }

        fn take(&mut self) -> Vec<u8> {
            self.0.take()
        }
    }

    #[test]
    fn a_request_arrives_whole_fed_byte_by_byte() {
        let mut connection = Connection::new(Limits::default());
        let mut client = Client::new();
        let bytes = client
            .request(1, "/svc/Method", false)
            .data(1, b"hello", true)
            .take();
        for byte in bytes {
            connection.receive(&[byte]).unwrap();
        }
        let got = events(&mut connection);
        assert_eq!(got.len(), 2, "{got:?}");
        let Event::Request {
            stream: 1,
            fields,
            end_stream: false,
        } = &got[0]
        else {
            panic!("{got:?}");
        };
        assert_eq!(
            fields[2],
            (
                Bytes::from_static(b":path"),
                Bytes::from_static(b"/svc/Method")
            )
        );
        assert_eq!(
            got[1],
            Event::Data {
                stream: 1,
                data: Bytes::from_static(b"hello"),
                end_stream: true
            }
        );
        // Our SETTINGS, then the ACK of the client's.
        let out = frames(&connection.take_output());
        assert_eq!(
            out,
            [
                (frame::kind::SETTINGS, 0, 0),
                (frame::kind::SETTINGS, frame::flag::ACK, 0)
            ]
        );
    }

    #[test]
    fn pings_are_answered_and_seen() {
        let mut connection = Connection::new(Limits::default());
        let mut bytes = Client::new().take();
        write::ping(false, *b"pingpong", &mut bytes);
        connection.receive(&bytes).unwrap();
        assert_eq!(
            events(&mut connection),
            [Event::Ping {
                payload: *b"pingpong"
            }]
        );
        let out = frames(&connection.take_output());
        assert_eq!(out.last(), Some(&(frame::kind::PING, frame::flag::ACK, 0)));
    }

    #[test]
    fn connection_errors_end_with_goaway_and_the_code() {
        // Not HTTP/2 at all: our SETTINGS and GOAWAY, nothing else.
        let mut connection = Connection::new(Limits::default());
        let http1 = b"GET / HTTP/1.1\r\n\r\n";
        assert_eq!(connection.receive(http1), Err(Reason::PROTOCOL_ERROR));
        let out = frames(&connection.take_output());
        assert_eq!(
            out,
            [(frame::kind::SETTINGS, 0, 0), (frame::kind::GOAWAY, 0, 0)]
        );
        assert!(connection.is_finished());

        let cases: Vec<(Vec<u8>, Reason)> = vec![
            (
                {
                    let mut bytes = PREFACE.to_vec();
                    write::ping(false, [0; 8], &mut bytes);
                    bytes
                },
                Reason::PROTOCOL_ERROR,
            ),
            (
                Client::new().data(1, b"x", false).take(),
                Reason::PROTOCOL_ERROR,
            ),
            (
                Client::new().request(2, "/a", true).take(),
                Reason::PROTOCOL_ERROR,
            ),
            (
                Client::new()
                    .request(3, "/a", true)
                    .request(1, "/b", true)
                    .take(),
                Reason::PROTOCOL_ERROR,
            ),
            (
                {
                    let mut client = Client::new();
                    let mut bytes = client.take();
                    write::window_update(0, frame::MAX_WINDOW, &mut bytes);
                    bytes
                },
                Reason::FLOW_CONTROL_ERROR,
            ),
        ];
        for (bytes, reason) in cases {
            let mut connection = Connection::new(Limits::default());
            assert_eq!(connection.receive(&bytes), Err(reason), "{bytes:x?}");
            let out = frames(&connection.take_output());
            assert_eq!(
                out.last().map(|f| f.0),
                Some(frame::kind::GOAWAY),
                "{bytes:x?}"
            );
            assert_eq!(
                connection.receive(&[0]),
                Err(reason),
                "nothing more is read"
            );
            connection.release(1, 1 << 20);
            assert!(
                connection.take_output().is_empty(),
                "nothing written after GOAWAY"
            );
        }
    }

    #[test]
    fn a_header_block_in_pieces_is_joined_and_a_flood_of_pieces_refused() {
        let mut encoder = hpack::Encoder::new();
        let mut block = Vec::new();
        encoder.encode(
            [
                (&b":method"[..], &b"POST"[..]),
                (b":path", b"/x"),
                (b"x-pad", &[b'a'; 64][..]),
            ],
            &mut block,
        );
        let mut bytes = Client::new().take();
        write::headers(1, &block, true, 8, &mut bytes);
        let mut connection = Connection::new(Limits::default());
        connection.receive(&bytes).unwrap();
        assert!(matches!(
            events(&mut connection)[..],
            [Event::Request {
                stream: 1,
                end_stream: true,
                ..
            }]
        ));

        let mut bytes = Client::new().take();
        write::headers(1, &block, true, 2, &mut bytes); // dozens of CONTINUATIONs
        let mut connection = Connection::new(Limits::default());
        assert_eq!(connection.receive(&bytes), Err(Reason::ENHANCE_YOUR_CALM));

        // Another frame inside the block is a connection error.
        let mut bytes = Client::new().take();
        frame::Head {
            len: 1,
            kind: frame::kind::HEADERS,
            flags: 0,
            stream: 1,
        }
        .write(&mut bytes);
        bytes.push(block[0]);
        write::ping(false, [0; 8], &mut bytes);
        let mut connection = Connection::new(Limits::default());
        assert_eq!(connection.receive(&bytes), Err(Reason::PROTOCOL_ERROR));
    }

    #[test]
    fn streams_past_the_limit_are_refused_and_windows_are_kept() {
        let limits = Limits {
            max_concurrent_streams: 1,
            initial_window: 10,
            ..Limits::default()
        };
        let mut connection = Connection::new(limits);
        let bytes = Client::new()
            .request(1, "/a", false)
            .request(3, "/b", false)
            .take();
        connection.receive(&bytes).unwrap();
        assert_eq!(events(&mut connection).len(), 1);
        let out = frames(&connection.take_output());
        assert_eq!(
            out.last(),
            Some(&(frame::kind::RST_STREAM, 0, 3)),
            "REFUSED_STREAM"
        );

        // Stream 1's window is 10: 11 octets are its FLOW_CONTROL_ERROR, not the connection's.
        let mut client = Client::later();
        connection
            .receive(&client.data(1, &[0; 11], false).take())
            .unwrap();
        let out = frames(&connection.take_output());
        assert_eq!(out, [(frame::kind::RST_STREAM, 0, 1)]);
        // The application that has stream 1 hears it is gone.
        assert_eq!(
            events(&mut connection),
            [Event::Reset {
                stream: 1,
                reason: Reason::FLOW_CONTROL_ERROR
            }]
        );
    }

    #[test]
    fn credit_comes_back_as_data_is_taken() {
        let limits = Limits {
            initial_window: 100,
            ..Limits::default()
        };
        let mut connection = Connection::new(limits);
        let bytes = Client::new()
            .request(1, "/a", false)
            .data(1, &[7; 60], false)
            .take();
        connection.receive(&bytes).unwrap();
        connection.take_output();
        connection.release(1, 60);
        // The stream's 60 of 100 pass half its window; the connection's do not (of 65,535).
        assert_eq!(
            frames(&connection.take_output()),
            [(frame::kind::WINDOW_UPDATE, 0, 1)]
        );
    }

    #[test]
    fn a_response_goes_out_within_the_windows_and_its_end_closes_the_stream() {
        let mut connection = Connection::new(Limits::default());
        let mut client = Client::new();
        // The client allows 10 octets per stream and frames of the minimum size.
        client.0.bytes.clear();
        client.0.bytes.extend_from_slice(PREFACE);
        write::settings(&[Setting::InitialWindowSize(10)], &mut client.0.bytes);
        connection
            .receive(&client.request(1, "/a", true).take())
            .unwrap();
        connection.take_output();
        assert!(connection.send_headers(1, [(&b":status"[..], &b"200"[..])], false));
        assert_eq!(connection.sendable(1), 10);
        assert_eq!(connection.send_data(1, b"0123456789abcdef", false), 10);
        assert_eq!(connection.sendable(1), 0);
        let mut update = Vec::new();
        write::window_update(1, 100, &mut update);
        connection.receive(&update).unwrap();
        assert_eq!(connection.send_data(1, b"abcdef", false), 6);
        assert!(connection.send_headers(1, [(&b"grpc-status"[..], &b"0"[..])], true));
        assert!(
            !connection.send_headers(1, [(&b"grpc-status"[..], &b"0"[..])], true),
            "ended"
        );
        assert_eq!(connection.sendable(1), 0, "a closed stream is forgotten");

        let out = connection.take_output();
        let mut decoder = hpack::Decoder::new(4096, 16 << 10);
        let mut rest = out.as_slice();
        let mut seen = Vec::new();
        while let Some((head, payload, used)) =
            frame::split(rest, frame::MAX_MAX_FRAME_SIZE).unwrap()
        {
            match frame::parse(head, payload).unwrap() {
                Frame::Headers {
                    block, end_stream, ..
                } => {
                    let fields = decoder.decode(block).unwrap().fields;
                    seen.push(format!(
                        "headers {} end={end_stream}",
                        String::from_utf8_lossy(&fields[0].1)
                    ));
                }
                Frame::Data {
                    data, end_stream, ..
                } => {
                    seen.push(format!(
                        "data {} end={end_stream}",
                        String::from_utf8_lossy(data)
                    ));
                }
                other => seen.push(format!("{other:?}")),
            }
            rest = &rest[used..];
        }
        assert_eq!(
            seen,
            [
                "headers 200 end=false",
                "data 0123456789 end=false",
                "data abcdef end=false",
                "headers 0 end=true"
            ]
        );
    }

    #[test]
    fn a_large_stream_window_widens_the_connection_window_at_once() {
        let mut connection = Connection::new(Limits {
            initial_window: 1 << 20,
            ..Limits::default()
        });
        assert!(
            connection.take_output().is_empty(),
            "nothing before the preface"
        );
        connection.receive(PREFACE).unwrap();
        let out = frames(&connection.take_output());
        assert_eq!(
            out,
            [
                (frame::kind::SETTINGS, 0, 0),
                (frame::kind::WINDOW_UPDATE, 0, 0)
            ]
        );
    }

    #[test]
    fn frames_on_closed_streams_are_stream_closed_unless_we_reset_them() {
        let mut connection = Connection::new(Limits::default());
        let mut client = Client::new();
        connection
            .receive(&client.request(1, "/a", true).request(3, "/b", false).take())
            .unwrap();
        events(&mut connection);
        // Stream 1 ends both ways; stream 3 we reset.
        connection.send_headers(1, [(&b":status"[..], &b"200"[..])], true);
        connection.cancel(3, Reason::CANCEL);
        connection.take_output();
        // DATA the client had in flight for 3 is ignored; on 1 it is STREAM_CLOSED.
        connection
            .receive(
                &client
                    .data(3, b"late", false)
                    .data(1, b"late", false)
                    .take(),
            )
            .unwrap();
        assert_eq!(resets(&connection.take_output()), [(1, 0x5)]);
        assert!(events(&mut connection).is_empty());
        // HEADERS on stream 1, which the client knows is closed: a connection error.
        assert_eq!(
            connection.receive(&client.request(1, "/a", true).take()),
            Err(Reason::STREAM_CLOSED)
        );
    }

    #[test]
    fn a_header_list_past_the_limit_is_answered_431() {
        let mut connection = Connection::new(Limits {
            max_header_list_size: 300,
            ..Limits::default()
        });
        let big = [b'x'; 400];
        let mut client = Client::new();
        let bytes = client.request_with(1, &[(b"x-big", &big)], false).take();
        connection.receive(&bytes).unwrap();
        assert!(events(&mut connection).is_empty(), "not handed up");
        let out = connection.take_output();
        let kinds: Vec<_> = frames(&out).into_iter().skip(2).collect();
        assert_eq!(
            kinds,
            [
                (
                    frame::kind::HEADERS,
                    frame::flag::END_STREAM | frame::flag::END_HEADERS,
                    1
                ),
                (frame::kind::RST_STREAM, 0, 1)
            ]
        );
        // The 431 decodes as such.
        let mut decoder = hpack::Decoder::new(4096, 1024);
        let mut rest = &out[..];
        while let Some((head, payload, used)) =
            frame::split(rest, frame::MAX_MAX_FRAME_SIZE).unwrap()
        {
            if head.kind == frame::kind::HEADERS {
                let fields = decoder.decode(payload).unwrap().fields;
                assert_eq!(fields[0].1, Bytes::from_static(b"431"));
            }
            rest = &rest[used..];
        }
        // The connection goes on.
        connection
            .receive(&client.request(3, "/a", true).take())
            .unwrap();
        assert_eq!(events(&mut connection).len(), 1);
    }

    #[test]
    fn data_must_add_up_to_the_content_length() {
        /// A content-length, the DATA frames (with END_STREAM?), whether it adds up.
        type Case = (&'static [u8], Vec<(&'static [u8], bool)>, bool);
        let cases: [Case; 4] = [
            (b"5", vec![(b"hello", true)], true),
            (b"5", vec![(b"hel", false), (b"lo", true)], true),
            (b"5", vec![(b"hello!", true)], false),
            (b"5", vec![(b"hell", true)], false),
        ];
        for (length, data, fine) in cases {
            let mut connection = Connection::new(Limits::default());
            let mut client = Client::new();
            client.request_with(1, &[(b"content-length", length)], false);
            for (chunk, end) in &data {
                client.data(1, chunk, *end);
            }
            connection.receive(&client.take()).unwrap();
            let reset = resets(&connection.take_output());
            if fine {
                assert!(reset.is_empty(), "{data:?}");
            } else {
                assert_eq!(reset, [(1, 0x1)], "{data:?}: PROTOCOL_ERROR");
            }
        }
        // Not a number: the stream is refused before it is handed up.
        let mut connection = Connection::new(Limits::default());
        let bytes = Client::new()
            .request_with(1, &[(b"content-length", b"5x")], false)
            .take();
        connection.receive(&bytes).unwrap();
        assert!(events(&mut connection).is_empty());
        assert_eq!(resets(&connection.take_output()), [(1, 0x1)]);
    }

    #[test]
    fn a_flood_of_frames_that_ask_for_no_work_is_calmed() {
        let limits = Limits {
            max_empty_frames: 10,
            ..Limits::default()
        };
        // Ten in a row pass; the eleventh is one too many.
        let mut connection = Connection::new(limits);
        let mut bytes = Client::new().take();
        for _ in 0..9 {
            write::ping(false, [1; 8], &mut bytes);
        }
        connection.receive(&bytes).unwrap();
        let mut more = Vec::new();
        write::window_update(0, 1, &mut more);
        write::settings(&[], &mut more);
        assert_eq!(connection.receive(&more), Err(Reason::ENHANCE_YOUR_CALM));

        // A request, or our answer, starts the count again.
        let mut connection = Connection::new(limits);
        let mut client = Client::new();
        connection
            .receive(&client.request(1, "/a", false).take())
            .unwrap();
        for _ in 0..3 {
            let mut pings = Vec::new();
            for _ in 0..8 {
                write::ping(false, [2; 8], &mut pings);
            }
            connection.receive(&pings).unwrap();
            connection.send_data(1, b"x", false);
        }
        connection
            .receive(&client.data(1, b"y", false).take())
            .unwrap();

        // So does a new period: a quiet connection's keepalive PINGs never add up.
        let mut connection = Connection::new(limits);
        connection.receive(&Client::new().take()).unwrap();
        connection.new_period();
        for _ in 0..5 {
            let mut pings = Vec::new();
            for _ in 0..10 {
                write::ping(false, [3; 8], &mut pings);
            }
            connection.receive(&pings).unwrap();
            connection.new_period();
        }
        let mut pings = Vec::new();
        for _ in 0..11 {
            write::ping(false, [4; 8], &mut pings);
        }
        assert_eq!(connection.receive(&pings), Err(Reason::ENHANCE_YOUR_CALM));
    }

    #[test]
    fn a_cancelled_stream_is_reset_and_takes_no_more() {
        let mut connection = Connection::new(Limits::default());
        connection
            .receive(&Client::new().request(1, "/a", false).take())
            .unwrap();
        connection.take_output();
        assert_eq!(events(&mut connection).len(), 1, "the request");
        connection.cancel(1, Reason(0x8));
        assert_eq!(
            frames(&connection.take_output()),
            [(frame::kind::RST_STREAM, 0, 1)]
        );
        assert!(!connection.send_headers(1, [(&b":status"[..], &b"200"[..])], false));
        assert_eq!(connection.send_data(1, b"x", true), 0);
        // What the client had in flight is dropped without an answer.
        let mut client = Client::later();
        connection
            .receive(&client.data(1, b"late", true).take())
            .unwrap();
        assert!(events(&mut connection).is_empty());
    }

    #[test]
    fn a_graceful_goaway_finishes_the_streams_it_has_and_serves_no_new_one() {
        let mut connection = Connection::new(Limits::default());
        let mut client = Client::new();
        connection
            .receive(&client.request(1, "/a", false).take())
            .unwrap();
        assert_eq!(events(&mut connection).len(), 1);
        connection.take_output();
        connection.go_away(Reason::NO_ERROR, b"");
        let out = connection.take_output();
        assert_eq!(frames(&out), [(frame::kind::GOAWAY, 0, 0)]);
        assert_eq!(&out[9..13], &1u32.to_be_bytes(), "last stream 1");
        assert!(!connection.is_finished(), "stream 1 is still open");

        // Stream 3 comes after the GOAWAY: not served. Stream 1 goes on.
        connection
            .receive(&client.request(3, "/b", true).data(1, b"x", true).take())
            .unwrap();
        let got = events(&mut connection);
        assert_eq!(
            got,
            [Event::Data {
                stream: 1,
                data: Bytes::from_static(b"x"),
                end_stream: true
            }]
        );
        assert!(connection.send_headers(1, [(&b":status"[..], &b"200"[..])], false));
        assert!(!connection.is_finished());
        assert!(connection.send_headers(1, [(&b"grpc-status"[..], &b"0"[..])], true));
        assert!(connection.is_finished());
    }

    #[test]
    fn too_many_pings_is_a_goaway_with_its_debug_data_and_the_end() {
        let mut connection = Connection::new(Limits::default());
        connection.receive(&Client::new().take()).unwrap();
        connection.take_output();
        connection.go_away(Reason::ENHANCE_YOUR_CALM, b"too_many_pings");
        let out = connection.take_output();
        let (head, payload, _) = frame::split(&out, frame::DEFAULT_MAX_FRAME_SIZE)
            .unwrap()
            .unwrap();
        assert_eq!(
            frame::parse(head, payload),
            Ok(Frame::GoAway {
                last_stream: 0,
                reason: Reason::ENHANCE_YOUR_CALM,
                debug: b"too_many_pings"
            })
        );
        assert!(connection.is_finished());
        assert_eq!(connection.receive(&[0]), Err(Reason::ENHANCE_YOUR_CALM));
    }
}
