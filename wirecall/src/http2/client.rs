//! The client side of an HTTP/2 connection (RFC 9113): bytes in, events and the bytes to
//! send out. No I/O, no clock, no tasks: a driver writes what it gives and feeds it what
//! the socket read, to carry gRPC calls.
//!
//! What both sides do alike is [`Endpoint`]'s: the client's first output is the preface and
//! our SETTINGS (with SETTINGS_ENABLE_PUSH 0); it acknowledges the server's SETTINGS,
//! answers PINGs, joins and decodes header blocks, keeps each stream's state and both
//! directions' flow-control windows, and on any connection error sends GOAWAY with the
//! code and stops. What is the client's is here: [`ClientConnection::open`] opens a stream
//! with a request head (within the server's SETTINGS_MAX_CONCURRENT_STREAMS), and header
//! blocks are read as responses: informational (1xx) heads are skipped, the final head is
//! handed up, and a later block is the trailers.
//!
//! The rules held on what comes back:
//! - the server's first frame must be SETTINGS, and PUSH_PROMISE is a connection error
//!   PROTOCOL_ERROR (push is disabled);
//! - HEADERS, DATA, RST_STREAM or WINDOW_UPDATE on a stream we never opened (an even
//!   identifier, or one above the last we opened) are a connection error PROTOCOL_ERROR;
//! - frames on a stream we reset are ignored; DATA on one the server closed is answered
//!   with RST_STREAM STREAM_CLOSED;
//! - a response head without a valid `:status`, a 101, an informational head that ends the
//!   stream, or DATA before the head make the response malformed: the stream is reset with
//!   PROTOCOL_ERROR, and handed up as [`ClientEvent::Reset`] with that code;
//! - a response head or trailers past our SETTINGS_MAX_HEADER_LIST_SIZE are dropped and
//!   their stream reset with PROTOCOL_ERROR (the block is still decoded, to keep HPACK in
//!   step), handed up the same way;
//! - flow control: DATA past a stream's window resets it with FLOW_CONTROL_ERROR, past the
//!   connection's it is a connection error.

use bytes::Bytes;

use super::endpoint::{Closed, Endpoint, Failure, Incoming, Phase, Role, Side};
use super::frame::{Reason, MAX_STREAM_ID};
use super::hpack;
use super::message::Field;
use super::stream::State;

/// The client side of a connection. [`Endpoint::new`] makes one, whose first output is the
/// preface and our SETTINGS (and a WINDOW_UPDATE of the connection when
/// [`super::endpoint::Limits::connection_window`] is larger than 65,535).
pub(crate) type ClientConnection = Endpoint<ClientSide>;

/// What happened on the connection, for the layer above.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ClientEvent {
    /// A stream's response head (informational ones are skipped). With `end_stream` it is
    /// all the response: gRPC's trailers-only response.
    Response {
        stream: u32,
        fields: Vec<Field>,
        end_stream: bool,
    },
    /// Response data: a slice of the bytes received, not a copy.
    Data {
        stream: u32,
        data: Bytes,
        end_stream: bool,
    },
    /// The response's trailers (they end it).
    Trailers { stream: u32, fields: Vec<Field> },
    /// A stream is gone: the server reset it, or we did, for a stream error it made
    /// (`reason` says which code went with it). REFUSED_STREAM, from the server or from its
    /// GOAWAY, means the server did not process the request: it may be retried. NO_ERROR
    /// after a whole response means the server needs no more of the request (8.1).
    Reset { stream: u32, reason: Reason },
    /// A PING from the server (already answered).
    Ping { payload: [u8; 8] },
    /// The server acknowledged one of our PINGs.
    PingAck { payload: [u8; 8] },
    /// The server is going away: no stream is opened any more, the streams up to
    /// `last_stream` go on. Each stream we opened above it follows as a [`ClientEvent::Reset`]
    /// with REFUSED_STREAM, so that its call may be retried on another connection.
    GoAway {
        last_stream: u32,
        reason: Reason,
        debug: Bytes,
    },
    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS changed: a caller waiting to open a
    /// stream may try again ([`ClientConnection::room`]).
    Settings { max_concurrent_streams: u32 },
}

/// Why [`ClientConnection::open`] opened no stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS are open: wait for one to end, or for
    /// new SETTINGS ([`ClientEvent::Settings`]).
    AtLimit,
    /// A GOAWAY came from the server, or we sent one: open on another connection.
    GoingAway,
    /// The connection failed (or was closed at once).
    Closed,
    /// Every stream identifier was used: open on another connection.
    Exhausted,
}

/// The client's side of the rules: it opens streams and takes responses.
pub(crate) struct ClientSide;

/// Where a stream's response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Response {
    /// No final head yet (informational ones may have come).
    Awaited,
    /// The head came: data, then trailers, may follow.
    Started,
}

/// What a response head's `:status` makes it (8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// 1xx: another head follows.
    Informational,
    /// The response's own head.
    Final,
}

impl Side for ClientSide {
    const ROLE: Role = Role::Client;
    type Message = Response;
    type Event = ClientEvent;

    fn check_data(response: &mut Response, _: u64, _: bool) -> Result<(), &'static str> {
        match response {
            Response::Awaited => Err("DATA before the response head"),
            Response::Started => Ok(()),
        }
    }

    fn check_trailers(_: &Response) -> Result<(), &'static str> {
        // Trailers are the block after the head: nothing more to hold them to.
        Ok(())
    }

    fn data(stream: u32, data: Bytes, end_stream: bool) -> ClientEvent {
        ClientEvent::Data {
            stream,
            data,
            end_stream,
        }
    }

    fn trailers(stream: u32, fields: Vec<Field>) -> ClientEvent {
        ClientEvent::Trailers { stream, fields }
    }

    fn reset(stream: u32, reason: Reason) -> ClientEvent {
        ClientEvent::Reset { stream, reason }
    }

    fn ping(payload: [u8; 8]) -> ClientEvent {
        ClientEvent::Ping { payload }
    }

    fn ping_ack(payload: [u8; 8]) -> ClientEvent {
        ClientEvent::PingAck { payload }
    }

    fn take(connection: &mut ClientConnection, incoming: Incoming) -> Result<(), Failure> {
        match incoming {
            Incoming::Headers {
                stream,
                end_stream,
                block,
            } => connection.response_block(stream, end_stream, block),
            Incoming::GoAway {
                last_stream,
                reason,
                debug,
            } => {
                connection.server_going_away(last_stream, reason, debug);
                Ok(())
            }
            Incoming::PushPromise => Err((Reason::PROTOCOL_ERROR, "PUSH_PROMISE, push disabled")),
            Incoming::MaxConcurrentStreams(limit) => {
                connection.events.push_back(ClientEvent::Settings {
                    max_concurrent_streams: limit,
                });
                Ok(())
            }
        }
    }
}

impl ClientConnection {
    /// Opens a stream with the next odd identifier and sends its request head (`fields`,
    /// pseudo-header fields first), ending the request there if `end_stream`. The head goes
    /// as HEADERS and as many CONTINUATIONs as the server's SETTINGS_MAX_FRAME_SIZE needs.
    pub(crate) fn open<'a>(
        &mut self,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        end_stream: bool,
    ) -> Result<u32, Refused> {
        let stream = self.next_stream()?;
        let mut state = State::Idle;
        state.send_headers(end_stream);
        let entry = self.new_stream(state, Response::Awaited);
        self.streams.insert(stream, entry);
        self.last_stream = stream;
        self.send_header_block(stream, fields, end_stream);
        Ok(stream)
    }

    /// How many more streams may open now (0 while the server's
    /// SETTINGS_MAX_CONCURRENT_STREAMS are all open), or why none will on this connection.
    pub(crate) fn room(&self) -> Result<usize, Refused> {
        match self.next_stream() {
            Ok(_) => {
                Ok((self.peer_max_concurrent_streams as usize).saturating_sub(self.streams.len()))
            }
            Err(Refused::AtLimit) => Ok(0),
            Err(other) => Err(other),
        }
    }

    /// The stream [`ClientConnection::open`] would open now, or why none.
    fn next_stream(&self) -> Result<u32, Refused> {
        match self.phase {
            Phase::Closed(_) => return Err(Refused::Closed),
            Phase::Draining { .. } => return Err(Refused::GoingAway),
            Phase::Preface | Phase::FirstSettings | Phase::Open => {}
        }
        let next = match self.last_stream {
            0 => 1,
            last => last + 2,
        };
        if next > MAX_STREAM_ID {
            return Err(Refused::Exhausted);
        }
        if self.streams.len() >= self.peer_max_concurrent_streams as usize {
            return Err(Refused::AtLimit);
        }
        Ok(next)
    }

    /// A whole header block: a stream's response head, or its trailers.
    fn response_block(
        &mut self,
        stream: u32,
        end_stream: bool,
        block: hpack::Block,
    ) -> Result<(), Failure> {
        let Some(response) = self.streams.get(&stream).map(|entry| entry.message) else {
            if self.never_opened(stream) {
                return Err((
                    Reason::PROTOCOL_ERROR,
                    "HEADERS on a stream we never opened",
                ));
            }
            // Decoded all the same, for HPACK; ignored if we reset the stream.
            self.on_closed_stream(stream);
            return Ok(());
        };
        if block.too_large {
            tracing::debug!(
                stream,
                "a response header list past our limit: stream reset"
            );
            self.reset(stream, Reason::PROTOCOL_ERROR);
            return Ok(());
        }
        match response {
            Response::Started => self.trailers(stream, end_stream, block.fields),
            Response::Awaited => self.response_head(stream, end_stream, block.fields),
        }
    }

    /// A response head: skipped if informational, handed up if final.
    fn response_head(
        &mut self,
        stream: u32,
        end_stream: bool,
        fields: Vec<Field>,
    ) -> Result<(), Failure> {
        match status(&fields, end_stream) {
            Ok(Status::Informational) => Ok(()),
            Ok(Status::Final) => {
                if let Some(entry) = self.streams.get_mut(&stream) {
                    entry.message = Response::Started;
                }
                let response = ClientEvent::Response {
                    stream,
                    fields,
                    end_stream,
                };
                self.recv_headers(stream, end_stream, response)
            }
            Err(what) => {
                tracing::debug!(stream, what, "a malformed response head: stream reset");
                self.reset(stream, Reason::PROTOCOL_ERROR);
                Ok(())
            }
        }
    }

    /// The server's GOAWAY: handed up, and every stream we opened above its last is gone,
    /// unprocessed (REFUSED_STREAM); nothing more is opened.
    fn server_going_away(&mut self, last_stream: u32, reason: Reason, debug: Bytes) {
        self.events.push_back(ClientEvent::GoAway {
            last_stream,
            reason,
            debug,
        });
        let mut refused: Vec<u32> = (self.streams.keys().copied())
            .filter(|&stream| stream > last_stream)
            .collect();
        refused.sort_unstable();
        for stream in refused {
            self.streams.remove(&stream);
            // The server will send nothing on it; whatever it might is ignored.
            self.remember(stream, Closed::ByUs);
            self.events.push_back(ClientEvent::Reset {
                stream,
                reason: Reason::REFUSED_STREAM,
            });
        }
        // A later GOAWAY may lower the last stream, never raise it (6.8).
        let last_stream = match self.phase {
            Phase::Draining {
                last_stream: before,
            } => before.min(last_stream),
            _ => last_stream,
        };
        self.phase = Phase::Draining { last_stream };
    }
}

/// What a response head's `:status` makes it: three digits (8.3.2), neither 101 (HTTP/2 has
/// no upgrade, 8.6) nor informational with END_STREAM (8.1).
fn status(fields: &[Field], end_stream: bool) -> Result<Status, &'static str> {
    let value = fields
        .iter()
        .find(|(name, _)| &name[..] == b":status")
        .map(|(_, value)| value)
        .ok_or("no :status")?;
    let code = std::str::from_utf8(value)
        .ok()
        .filter(|v| v.len() == 3 && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u16>().ok())
        .ok_or("a malformed :status")?;
    match code {
        101 => Err("101 Switching Protocols"),
        100..=199 if end_stream => Err("an informational head that ends the stream"),
        100..=199 => Ok(Status::Informational),
        200..=999 => Ok(Status::Final),
        _ => Err("a :status below 100"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::endpoint::{Limits, PREFACE};
    use crate::http2::frame::{self, kind, write, Frame, Setting};
    use crate::http2::testing::{events, frames, resets, Peer};

    /// A gRPC request head.
    const REQUEST: [(&[u8], &[u8]); 5] = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/svc/Method"),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
    ];

    /// A gRPC response head.
    const OK: [(&[u8], &[u8]); 2] = [(b":status", b"200"), (b"content-type", b"application/grpc")];

    /// gRPC trailers.
    const TRAILERS: [(&[u8], &[u8]); 1] = [(b"grpc-status", b"0")];

    /// A server whose first frame, SETTINGS, carries `settings`.
    fn server(settings: &[Setting]) -> Peer {
        let mut peer = Peer::new();
        write::settings(settings, &mut peer.bytes);
        peer
    }

    /// A client past the handshake: its own first output taken, the server's SETTINGS
    /// (with `settings`) read and acknowledged, and the events that made dropped.
    fn connected(limits: Limits, settings: &[Setting]) -> ClientConnection {
        let mut client = ClientConnection::new(limits);
        client.receive(&server(settings).take()).unwrap();
        client.take_output();
        events(&mut client);
        client
    }

    fn fields(list: &[(&[u8], &[u8])]) -> Vec<Field> {
        list.iter()
            .map(|(n, v)| (Bytes::copy_from_slice(n), Bytes::copy_from_slice(v)))
            .collect()
    }

    /// What the client wrote, a line per frame; header blocks (CONTINUATIONs joined) are
    /// decoded with `decoder`, the server's.
    fn written(bytes: &[u8], decoder: &mut hpack::Decoder) -> Vec<String> {
        let mut rest = bytes;
        let mut out = Vec::new();
        let mut block = Vec::new();
        let mut end = false;
        while let Some((head, payload, used)) =
            frame::split(rest, frame::MAX_MAX_FRAME_SIZE).unwrap()
        {
            rest = &rest[used..];
            let stream = match frame::parse(head, payload).unwrap() {
                Frame::Headers {
                    stream,
                    block: fragment,
                    end_stream,
                    end_headers,
                    ..
                } => {
                    block.extend_from_slice(fragment);
                    end = end_stream;
                    if !end_headers {
                        continue;
                    }
                    stream
                }
                Frame::Continuation {
                    stream,
                    block: fragment,
                    end_headers,
                } => {
                    block.extend_from_slice(fragment);
                    if !end_headers {
                        continue;
                    }
                    stream
                }
                Frame::Data {
                    stream,
                    data,
                    end_stream,
                    ..
                } => {
                    let data = String::from_utf8_lossy(data);
                    out.push(format!("DATA {stream} {data} end={end_stream}"));
                    continue;
                }
                other => {
                    out.push(format!("{other:?}"));
                    continue;
                }
            };
            let decoded = decoder.decode(&std::mem::take(&mut block)).unwrap();
            let list: Vec<String> = (decoded.fields.iter())
                .map(|(n, v)| format!("{}={}", String::from_utf8_lossy(n), v.len()))
                .collect();
            out.push(format!("HEADERS {stream} {} end={end}", list.join(" ")));
        }
        out
    }

    fn server_decoder() -> hpack::Decoder {
        hpack::Decoder::new(4096, 1 << 20)
    }

    #[test]
    fn the_preface_and_our_settings_go_out_first() {
        let mut client = ClientConnection::new(Limits {
            initial_window: 1 << 16,
            max_header_list_size: 8192,
            ..Limits::default()
        });
        let out = client.take_output();
        assert_eq!(&out[..PREFACE.len()], PREFACE);
        let rest = &out[PREFACE.len()..];
        let (head, payload, used) = frame::split(rest, 1 << 14).unwrap().unwrap();
        assert_eq!(
            frame::parse(head, payload),
            Ok(Frame::Settings {
                ack: false,
                settings: vec![
                    Setting::InitialWindowSize(1 << 16),
                    Setting::MaxFrameSize(frame::DEFAULT_MAX_FRAME_SIZE),
                    Setting::MaxHeaderListSize(8192),
                    Setting::HeaderTableSize(4096),
                    Setting::EnablePush(false),
                ]
            })
        );
        // A stream window above 65,535 widens the connection's at once.
        let (head, payload, _) = frame::split(&rest[used..], 1 << 14).unwrap().unwrap();
        assert_eq!(
            frame::parse(head, payload),
            Ok(Frame::WindowUpdate {
                stream: 0,
                increment: (1 << 16) - 65_535
            })
        );
        assert!(!client.is_open(), "the server's SETTINGS have not come");

        // With the default windows, no WINDOW_UPDATE.
        let mut client = ClientConnection::new(Limits::default());
        let out = client.take_output();
        assert_eq!(frames(&out[PREFACE.len()..]), [(kind::SETTINGS, 0, 0)]);

        // The server's SETTINGS are acknowledged.
        client.receive(&server(&[]).take()).unwrap();
        assert!(client.is_open());
        assert_eq!(
            frames(&client.take_output()),
            [(kind::SETTINGS, frame::flag::ACK, 0)]
        );
    }

    #[test]
    fn a_call_goes_out_and_its_response_comes_back_fed_byte_by_byte() {
        let mut client = ClientConnection::new(Limits::default());
        assert_eq!(
            client.open(REQUEST, false),
            Ok(1),
            "before the server's SETTINGS"
        );
        assert_eq!(client.send_data(1, b"hello", true), 5);
        let out = client.take_output();
        assert_eq!(
            written(&out[PREFACE.len()..], &mut server_decoder())[1..],
            [
                "HEADERS 1 :method=4 :scheme=4 :path=11 content-type=16 te=8 end=false",
                "DATA 1 hello end=true"
            ]
        );

        let bytes = server(&[])
            .headers(1, OK, false)
            .data(1, b"world", false)
            .headers(1, TRAILERS, true)
            .take();
        for byte in bytes {
            client.receive(&[byte]).unwrap();
        }
        assert_eq!(
            events(&mut client),
            [
                ClientEvent::Response {
                    stream: 1,
                    fields: fields(&OK),
                    end_stream: false
                },
                ClientEvent::Data {
                    stream: 1,
                    data: Bytes::from_static(b"world"),
                    end_stream: false
                },
                ClientEvent::Trailers {
                    stream: 1,
                    fields: fields(&TRAILERS)
                }
            ]
        );
        assert_eq!(
            frames(&client.take_output()),
            [(kind::SETTINGS, frame::flag::ACK, 0)]
        );
        // Both sides ended it: forgotten, the next stream is 3.
        assert_eq!(client.sendable(1), 0);
        assert_eq!(client.open(REQUEST, true), Ok(3));
    }

    #[test]
    fn a_trailers_only_response_ends_the_stream_and_informational_heads_are_skipped() {
        let mut client = connected(Limits::default(), &[]);
        assert_eq!(client.open(REQUEST, true), Ok(1));
        client.take_output();
        let only: [(&[u8], &[u8]); 3] = [
            (b":status", b"200"),
            (b"content-type", b"application/grpc"),
            (b"grpc-status", b"12"),
        ];
        let mut server = Peer::new();
        let bytes = server
            .headers(1, [(&b":status"[..], &b"100"[..])], false)
            .headers(1, only, true)
            .take();
        client.receive(&bytes).unwrap();
        assert_eq!(
            events(&mut client),
            [ClientEvent::Response {
                stream: 1,
                fields: fields(&only),
                end_stream: true
            }]
        );
        assert!(client.take_output().is_empty());
        // The stream is closed both ways: DATA on it is STREAM_CLOSED.
        client
            .receive(&server.data(1, b"late", false).take())
            .unwrap();
        assert!(events(&mut client).is_empty());
        assert_eq!(resets(&client.take_output()), [(1, 0x5)]);
    }

    #[test]
    fn malformed_responses_reset_their_stream() {
        /// A response head, and whether it ends the stream.
        type Case = (&'static [(&'static [u8], &'static [u8])], bool);
        let cases: [Case; 5] = [
            (&[(b"content-type", b"application/grpc")], false),
            (&[(b":status", b"2000")], false),
            (&[(b":status", b"101")], false),
            (&[(b":status", b"103")], true),
            (&[(b":status", b"099")], false),
        ];
        for (head, end_stream) in cases {
            let mut client = connected(Limits::default(), &[]);
            client.open(REQUEST, false).unwrap();
            client.take_output();
            let bytes = Peer::new()
                .headers(1, head.iter().copied(), end_stream)
                .take();
            client.receive(&bytes).unwrap();
            assert_eq!(
                events(&mut client),
                [ClientEvent::Reset {
                    stream: 1,
                    reason: Reason::PROTOCOL_ERROR
                }],
                "{head:?}"
            );
            assert_eq!(resets(&client.take_output()), [(1, 0x1)], "{head:?}");
        }
        // DATA before the head.
        let mut client = connected(Limits::default(), &[]);
        client.open(REQUEST, false).unwrap();
        client.take_output();
        client
            .receive(&Peer::new().data(1, b"x", false).take())
            .unwrap();
        assert_eq!(resets(&client.take_output()), [(1, 0x1)]);
        assert_eq!(events(&mut client).len(), 1);
    }

    #[test]
    fn a_header_list_past_our_limit_resets_its_stream() {
        let mut client = connected(
            Limits {
                max_header_list_size: 300,
                ..Limits::default()
            },
            &[],
        );
        client.open(REQUEST, false).unwrap();
        client.open(REQUEST, false).unwrap();
        client.take_output();
        let big = [b'x'; 400];
        let mut server = Peer::new();
        let bytes = server
            .headers(1, [(&b":status"[..], &b"200"[..]), (b"x-big", &big)], false)
            .headers(3, OK, false)
            .headers(3, [(&b"x-big"[..], &big[..])], true)
            .take();
        client.receive(&bytes).unwrap();
        assert_eq!(
            events(&mut client),
            [
                ClientEvent::Reset {
                    stream: 1,
                    reason: Reason::PROTOCOL_ERROR
                },
                ClientEvent::Response {
                    stream: 3,
                    fields: fields(&OK),
                    end_stream: false
                },
                ClientEvent::Reset {
                    stream: 3,
                    reason: Reason::PROTOCOL_ERROR
                },
            ]
        );
        assert_eq!(resets(&client.take_output()), [(1, 0x1), (3, 0x1)]);
        // The connection goes on, its HPACK table in step.
        assert_eq!(client.open(REQUEST, true), Ok(5));
        client.receive(&server.headers(5, OK, true).take()).unwrap();
        assert_eq!(events(&mut client).len(), 1);
    }

    #[test]
    fn the_servers_max_concurrent_streams_limit_opens() {
        let mut client = ClientConnection::new(Limits::default());
        client
            .receive(&server(&[Setting::MaxConcurrentStreams(1)]).take())
            .unwrap();
        assert_eq!(
            events(&mut client),
            [ClientEvent::Settings {
                max_concurrent_streams: 1
            }]
        );
        assert_eq!(client.open(REQUEST, true), Ok(1));
        assert_eq!(client.room().unwrap_or(0), 0);
        assert_eq!(client.open(REQUEST, true), Err(Refused::AtLimit));
        // Stream 1 ends: room for one more.
        client
            .receive(&Peer::new().headers(1, OK, true).take())
            .unwrap();
        assert!(client.room().unwrap_or(0) > 0);
        assert_eq!(client.open(REQUEST, false), Ok(3));

        // New SETTINGS: none at all; the same again is no news.
        let mut bytes = Vec::new();
        write::settings(&[Setting::MaxConcurrentStreams(0)], &mut bytes);
        write::settings(&[Setting::MaxConcurrentStreams(0)], &mut bytes);
        client.receive(&bytes).unwrap();
        assert_eq!(
            events(&mut client)[1..],
            [ClientEvent::Settings {
                max_concurrent_streams: 0
            }]
        );
        client.cancel(3, Reason::CANCEL);
        assert_eq!(client.open(REQUEST, true), Err(Refused::AtLimit));
    }

    #[test]
    fn a_goaway_refuses_the_streams_above_its_last_and_every_later_open() {
        let mut client = connected(Limits::default(), &[]);
        for expected in [1, 3, 5] {
            assert_eq!(client.open(REQUEST, false), Ok(expected));
        }
        client.take_output();
        let mut bytes = Vec::new();
        write::goaway(1, Reason::NO_ERROR, b"bye", &mut bytes);
        client.receive(&bytes).unwrap();
        assert_eq!(
            events(&mut client),
            [
                ClientEvent::GoAway {
                    last_stream: 1,
                    reason: Reason::NO_ERROR,
                    debug: Bytes::from_static(b"bye")
                },
                ClientEvent::Reset {
                    stream: 3,
                    reason: Reason::REFUSED_STREAM
                },
                ClientEvent::Reset {
                    stream: 5,
                    reason: Reason::REFUSED_STREAM
                },
            ]
        );
        assert!(client.take_output().is_empty(), "nothing to answer");
        assert_eq!(client.room().unwrap_or(0), 0);
        assert_eq!(client.open(REQUEST, true), Err(Refused::GoingAway));
        assert_eq!(client.send_data(3, b"x", true), 0);

        // Stream 1 goes on to its end; then the connection is finished.
        let mut server = Peer::new();
        client
            .receive(&server.headers(1, OK, false).data(3, b"?", false).take())
            .unwrap();
        assert_eq!(
            events(&mut client).len(),
            1,
            "the head; stream 3's DATA ignored"
        );
        assert_eq!(client.send_data(1, b"x", true), 1);
        assert!(!client.is_finished());
        client
            .receive(&server.headers(1, TRAILERS, true).take())
            .unwrap();
        assert!(client.is_finished());

        // A second GOAWAY lowers the last stream, never raises it.
        let mut client = connected(Limits::default(), &[]);
        for _ in 0..3 {
            client.open(REQUEST, false).unwrap();
        }
        let mut bytes = Vec::new();
        write::goaway(frame::MAX_STREAM_ID, Reason::NO_ERROR, b"", &mut bytes);
        write::goaway(3, Reason::NO_ERROR, b"", &mut bytes);
        write::goaway(5, Reason::NO_ERROR, b"", &mut bytes);
        client.receive(&bytes).unwrap();
        let refused: Vec<_> = (events(&mut client).into_iter())
            .filter(|e| matches!(e, ClientEvent::Reset { .. }))
            .collect();
        assert_eq!(
            refused,
            [ClientEvent::Reset {
                stream: 5,
                reason: Reason::REFUSED_STREAM
            }]
        );
        assert_eq!(client.phase, Phase::Draining { last_stream: 3 });
    }

    #[test]
    fn push_promise_and_frames_on_streams_never_opened_are_connection_errors() {
        let mut push = Vec::new();
        frame::Head {
            len: 5,
            kind: kind::PUSH_PROMISE,
            flags: frame::flag::END_HEADERS,
            stream: 1,
        }
        .write(&mut push);
        push.extend_from_slice(&[0, 0, 0, 2, 0x82]);
        let mut reset = Vec::new();
        write::reset(5, Reason::CANCEL, &mut reset);
        let mut update = Vec::new();
        write::window_update(4, 1, &mut update);
        let cases: [(&str, Vec<u8>); 6] = [
            ("PUSH_PROMISE", push),
            ("HEADERS on 2", Peer::new().headers(2, OK, false).take()),
            ("HEADERS on 3", Peer::new().headers(3, OK, false).take()),
            ("DATA on 3", Peer::new().data(3, b"x", false).take()),
            ("RST_STREAM on 5", reset),
            ("WINDOW_UPDATE on 4", update),
        ];
        for (what, bytes) in cases {
            let mut client = connected(Limits::default(), &[]);
            client.open(REQUEST, false).unwrap();
            client.take_output();
            assert_eq!(
                client.receive(&bytes),
                Err(Reason::PROTOCOL_ERROR),
                "{what}"
            );
            let out = client.take_output();
            let (head, payload, _) = frame::split(&out, 1 << 14).unwrap().unwrap();
            let Ok(Frame::GoAway {
                last_stream: 0,
                reason: Reason::PROTOCOL_ERROR,
                ..
            }) = frame::parse(head, payload)
            else {
                panic!("{what}: {out:x?}");
            };
            assert_eq!(out.len(), head.len as usize + frame::HEADER_LEN, "{what}");
            nothing_more_is_written(&mut client);
        }
    }

    /// A failed connection reads nothing more and writes nothing more.
    fn nothing_more_is_written(client: &mut ClientConnection) {
        let reason = client.receive(&[0]).unwrap_err();
        assert_eq!(client.receive_owned(bytes::BytesMut::new()), Err(reason));
        assert!(client.is_finished());
        assert_eq!(client.open(REQUEST, true), Err(Refused::Closed));
        assert_eq!(client.send_data(1, b"x", true), 0);
        assert_eq!(client.sendable(1), 0);
        assert!(!client.send_headers(1, TRAILERS, true));
        client.release(1, 1 << 20);
        client.cancel(1, Reason::CANCEL);
        client.ping([1; 8]);
        client.go_away(Reason::NO_ERROR, b"");
        assert!(!client.has_output(), "nothing written after GOAWAY");
    }

    #[test]
    fn the_servers_first_frame_must_be_settings() {
        let mut client = ClientConnection::new(Limits::default());
        client.open(REQUEST, true).unwrap();
        client.take_output();
        let mut bytes = Vec::new();
        write::ping(false, [0; 8], &mut bytes);
        assert_eq!(client.receive(&bytes), Err(Reason::PROTOCOL_ERROR));
        assert_eq!(frames(&client.take_output()), [(kind::GOAWAY, 0, 0)]);
        assert!(events(&mut client).is_empty(), "the PING was not taken");
        nothing_more_is_written(&mut client);
    }

    #[test]
    fn data_past_a_window_is_an_error_of_that_window() {
        let limits = Limits {
            initial_window: 10,
            ..Limits::default()
        };
        let mut client = connected(limits, &[]);
        client.open(REQUEST, true).unwrap();
        client.open(REQUEST, true).unwrap();
        client.take_output();
        let mut server = Peer::new();
        server.headers(1, OK, false).headers(3, OK, false);
        client
            .receive(
                &server
                    .data(1, &[0; 11], false)
                    .data(3, &[0; 10], false)
                    .take(),
            )
            .unwrap();
        assert_eq!(resets(&client.take_output()), [(1, 0x3)]);
        let got = events(&mut client);
        assert_eq!(
            got[2],
            ClientEvent::Reset {
                stream: 1,
                reason: Reason::FLOW_CONTROL_ERROR
            }
        );
        assert!(matches!(got[3], ClientEvent::Data { stream: 3, .. }));

        // Past the connection's window (65,535), each stream within its own (40,000): a
        // connection error.
        let limits = Limits {
            initial_window: 40_000,
            ..Limits::default()
        };
        let mut client = connected(limits, &[]);
        client.open(REQUEST, true).unwrap();
        client.open(REQUEST, true).unwrap();
        let mut server = Peer::new();
        server.headers(1, OK, false).headers(3, OK, false);
        for stream in [1, 3] {
            server.data(stream, &[0; 16_384], false);
            server.data(stream, &[0; 16_384], false);
        }
        assert_eq!(
            client.receive(&server.take()),
            Err(Reason::FLOW_CONTROL_ERROR)
        );
        assert_eq!(
            frames(&client.take_output()).last(),
            Some(&(kind::GOAWAY, 0, 0))
        );
    }

    #[test]
    fn credit_comes_back_as_data_is_released() {
        let limits = Limits {
            initial_window: 100,
            ..Limits::default()
        };
        let mut client = connected(limits, &[]);
        client.open(REQUEST, true).unwrap();
        client.take_output();
        let bytes = Peer::new()
            .headers(1, OK, false)
            .data(1, &[7; 60], false)
            .take();
        client.receive(&bytes).unwrap();
        client.release(1, 30);
        assert!(client.take_output().is_empty(), "less than half the window");
        client.release(1, 30);
        // The stream's 60 of 100 pass half its window; the connection's do not (of 65,535).
        let out = client.take_output();
        assert_eq!(frames(&out), [(kind::WINDOW_UPDATE, 0, 1)]);
        assert_eq!(&out[frame::HEADER_LEN..], &60u32.to_be_bytes());
        // The window is whole again: 100 more octets are taken.
        client
            .receive(&Peer::new().data(1, &[8; 100], false).take())
            .unwrap();
        assert!(resets(&client.take_output()).is_empty());
    }

    #[test]
    fn data_goes_out_within_both_windows_and_the_servers_frame_size() {
        let settings = [
            Setting::InitialWindowSize(40_000),
            Setting::MaxFrameSize(20_000),
        ];
        let mut client = connected(Limits::default(), &settings);
        let one = client.open(REQUEST, false).unwrap();
        let two = client.open(REQUEST, false).unwrap();
        client.take_output();
        assert_eq!(client.sendable(one), 40_000);
        let body = vec![b'a'; 50_000];
        // Stream 1's window: 40,000 octets, in frames of 20,000; no END_STREAM yet.
        assert_eq!(client.send_data(one, &body, true), 40_000);
        // The connection's window (65,535) leaves stream 2 the rest.
        assert_eq!(client.sendable(two), 25_535);
        assert_eq!(client.send_data(two, &body, false), 25_535);
        assert_eq!(client.sendable(two), 0);
        let out = frames(&client.take_output());
        assert_eq!(
            out,
            [
                (kind::DATA, 0, 1),
                (kind::DATA, 0, 1),
                (kind::DATA, 0, 3),
                (kind::DATA, 0, 3)
            ]
        );

        // Credit for the connection and stream 1: the rest goes, END_STREAM with its last
        // byte.
        let mut bytes = Vec::new();
        write::window_update(0, 100_000, &mut bytes);
        write::window_update(one, 10_000, &mut bytes);
        client.receive(&bytes).unwrap();
        assert!(client.take_seen().credit);
        assert_eq!(client.send_data(one, &body[40_000..], true), 10_000);
        let out = client.take_output();
        assert_eq!(frames(&out), [(kind::DATA, frame::flag::END_STREAM, 1)]);
        assert_eq!(client.sendable(one), 0, "ended");
        // An empty END_STREAM needs no credit.
        assert_eq!(client.sendable(two), 14_465);
        assert_eq!(client.send_data(two, b"", true), 0);
        assert_eq!(
            frames(&client.take_output()),
            [(kind::DATA, frame::flag::END_STREAM, 3)]
        );

        // A lowered SETTINGS_INITIAL_WINDOW_SIZE leaves an open stream owing.
        let three = client.open(REQUEST, false).unwrap();
        assert_eq!(client.send_data(three, &body, false), 40_000);
        let mut bytes = Vec::new();
        write::settings(&[Setting::InitialWindowSize(30_000)], &mut bytes);
        write::window_update(three, 5_000, &mut bytes);
        client.receive(&bytes).unwrap();
        assert_eq!(client.sendable(three), 0, "at -10,000 + 5,000");
    }

    #[test]
    fn a_large_request_head_is_split_by_the_servers_frame_size() {
        let mut client = connected(Limits::default(), &[]);
        let big = vec![b'v'; 40_000];
        let fields = REQUEST.into_iter().chain([(&b"x-big"[..], &big[..])]);
        client.open(fields, true).unwrap();
        let out = client.take_output();
        assert_eq!(
            frames(&out),
            [
                (kind::HEADERS, frame::flag::END_STREAM, 1),
                (kind::CONTINUATION, 0, 1),
                (kind::CONTINUATION, frame::flag::END_HEADERS, 1)
            ]
        );
        assert_eq!(
            written(&out, &mut server_decoder()),
            ["HEADERS 1 :method=4 :scheme=4 :path=11 content-type=16 te=8 x-big=40000 end=true"]
        );
    }

    #[test]
    fn a_response_head_in_pieces_is_joined_and_a_flood_of_pieces_refused() {
        let mut encoder = hpack::Encoder::new();
        let mut block = Vec::new();
        let head = [(&b":status"[..], &b"200"[..]), (b"x-pad", &[b'a'; 64][..])];
        encoder.encode(head, &mut block);

        let mut client = connected(Limits::default(), &[]);
        client.open(REQUEST, true).unwrap();
        let mut bytes = Vec::new();
        write::headers(1, &block, false, 8, &mut bytes);
        client.receive(&bytes).unwrap();
        assert_eq!(
            events(&mut client),
            [ClientEvent::Response {
                stream: 1,
                fields: fields(&head),
                end_stream: false
            }]
        );

        let mut client = connected(Limits::default(), &[]);
        client.open(REQUEST, true).unwrap();
        let mut bytes = Vec::new();
        write::headers(1, &block, false, 2, &mut bytes); // dozens of CONTINUATIONs
        assert_eq!(client.receive(&bytes), Err(Reason::ENHANCE_YOUR_CALM));

        // Another frame inside the block is a connection error.
        let mut client = connected(Limits::default(), &[]);
        client.open(REQUEST, true).unwrap();
        let mut bytes = Vec::new();
        write::headers(1, &block, false, 8, &mut bytes);
        bytes.truncate(frame::HEADER_LEN + 8);
        write::ping(false, [0; 8], &mut bytes);
        assert_eq!(client.receive(&bytes), Err(Reason::PROTOCOL_ERROR));
    }

    #[test]
    fn a_cancelled_streams_frames_in_flight_are_ignored() {
        let mut client = connected(Limits::default(), &[]);
        client.open(REQUEST, false).unwrap();
        client.take_output();
        client.cancel(1, Reason::CANCEL);
        assert_eq!(resets(&client.take_output()), [(1, 0x8)]);
        assert_eq!(client.send_data(1, b"x", true), 0);
        assert!(!client.send_headers(1, TRAILERS, true));
        let mut update = Vec::new();
        write::window_update(1, 100, &mut update);
        let mut server = Peer::new();
        server.headers(1, OK, false);
        for _ in 0..3 {
            server.data(1, &[0; 16_000], false);
        }
        server.headers(1, TRAILERS, true);
        server.bytes.extend_from_slice(&update);
        client.receive(&server.take()).unwrap();
        assert!(events(&mut client).is_empty());
        // Nothing answered but the connection's credit, which comes back at once.
        assert_eq!(frames(&client.take_output()), [(kind::WINDOW_UPDATE, 0, 0)]);
        // The server resetting it too is no news.
        let mut reset = Vec::new();
        write::reset(1, Reason::CANCEL, &mut reset);
        client.receive(&reset).unwrap();
        assert!(events(&mut client).is_empty());
    }

    #[test]
    fn a_reset_from_the_server_is_handed_up() {
        let mut client = connected(Limits::default(), &[]);
        client.open(REQUEST, false).unwrap();
        let mut reset = Vec::new();
        write::reset(1, Reason::REFUSED_STREAM, &mut reset);
        client.receive(&reset).unwrap();
        assert_eq!(
            events(&mut client),
            [ClientEvent::Reset {
                stream: 1,
                reason: Reason::REFUSED_STREAM
            }]
        );
        assert_eq!(client.send_data(1, b"x", true), 0);
        // It knows the stream is closed: its DATA is STREAM_CLOSED.
        client.take_output();
        client
            .receive(&Peer::new().data(1, b"x", false).take())
            .unwrap();
        assert_eq!(resets(&client.take_output()), [(1, 0x5)]);
    }

    #[test]
    fn pings_are_answered_and_their_acks_handed_up() {
        let mut client = connected(Limits::default(), &[]);
        client.ping(*b"keepaliv");
        assert_eq!(frames(&client.take_output()), [(kind::PING, 0, 0)]);
        let mut bytes = Vec::new();
        write::ping(false, *b"pingpong", &mut bytes);
        write::ping(true, *b"keepaliv", &mut bytes);
        client.receive(&bytes).unwrap();
        assert_eq!(
            events(&mut client),
            [
                ClientEvent::Ping {
                    payload: *b"pingpong"
                },
                ClientEvent::PingAck {
                    payload: *b"keepaliv"
                }
            ]
        );
        let out = client.take_output();
        let (head, payload, _) = frame::split(&out, 1 << 14).unwrap().unwrap();
        assert_eq!(
            frame::parse(head, payload),
            Ok(Frame::Ping {
                ack: true,
                payload: *b"pingpong"
            })
        );
    }

    #[test]
    fn a_flood_of_frames_that_ask_for_no_work_is_calmed() {
        let limits = Limits {
            max_empty_frames: 10,
            ..Limits::default()
        };
        // The SETTINGS and nine PINGs pass; one more is one too many.
        let mut client = ClientConnection::new(limits);
        let mut bytes = server(&[]).take();
        for _ in 0..9 {
            write::ping(false, [1; 8], &mut bytes);
        }
        client.receive(&bytes).unwrap();
        let mut more = Vec::new();
        write::settings(&[], &mut more);
        assert_eq!(client.receive(&more), Err(Reason::ENHANCE_YOUR_CALM));

        // Our requests start the count again.
        let mut client = ClientConnection::new(limits);
        client.receive(&server(&[]).take()).unwrap();
        for _ in 0..3 {
            let mut pings = Vec::new();
            for _ in 0..9 {
                write::ping(false, [2; 8], &mut pings);
            }
            client.receive(&pings).unwrap();
            client.open(REQUEST, true).unwrap();
        }
    }

    #[test]
    fn our_goaway_drains_the_streams_and_then_the_connection_is_finished() {
        let mut client = connected(Limits::default(), &[]);
        client.open(REQUEST, false).unwrap();
        client.take_output();
        client.go_away(Reason::NO_ERROR, b"");
        let out = client.take_output();
        assert_eq!(frames(&out), [(kind::GOAWAY, 0, 0)]);
        assert_eq!(&out[9..17], &[0; 8], "last stream 0, NO_ERROR");
        assert_eq!(client.open(REQUEST, true), Err(Refused::GoingAway));
        assert!(!client.is_finished(), "stream 1 goes on");
        assert_eq!(client.send_data(1, b"x", true), 1);
        client
            .receive(&Peer::new().headers(1, OK, true).take())
            .unwrap();
        assert!(client.is_finished());

        // With an error code it closes at once.
        let mut client = connected(Limits::default(), &[]);
        client.open(REQUEST, false).unwrap();
        client.take_output();
        client.go_away(Reason::ENHANCE_YOUR_CALM, b"calm");
        assert_eq!(frames(&client.take_output()), [(kind::GOAWAY, 0, 0)]);
        nothing_more_is_written(&mut client);
    }

    #[test]
    fn stream_identifiers_run_out() {
        let mut client = connected(Limits::default(), &[]);
        client.last_stream = MAX_STREAM_ID - 2;
        assert_eq!(client.open(REQUEST, true), Ok(MAX_STREAM_ID));
        assert_eq!(client.room().unwrap_or(0), 0);
        assert_eq!(client.open(REQUEST, true), Err(Refused::Exhausted));
    }
}
