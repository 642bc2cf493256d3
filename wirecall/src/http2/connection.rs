//! The server side of an HTTP/2 connection, receiving half (RFC 9113): bytes in, events and
//! the bytes to answer with out. No I/O, no clock, no tasks: a driver feeds it what the
//! socket read and writes what it wrote.
//!
//! What it does on its own, as the RFC asks: checks the client preface, sends our SETTINGS
//! and acknowledges the client's, answers PINGs, joins a header block's CONTINUATIONs and
//! decodes it, keeps each stream's state and both directions' flow-control windows, refuses
//! streams past SETTINGS_MAX_CONCURRENT_STREAMS, and on any connection error sends GOAWAY
//! with the code and stops. What it hands up: requests, their data and trailers, resets,
//! PINGs (so keepalive can see them), the client's GOAWAY.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::flow::{FlowError, RecvWindow, SendWindow, DEFAULT_WINDOW};
use super::frame::{self, write, Frame, Reason, Setting};
use super::hpack;
use super::stream::{Received, State, Violation};
use super::StreamMap;

/// What a client sends first (section 3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The limits a server holds its clients to, each a SETTINGS value or a defence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_concurrent_streams: u32,
    pub(crate) initial_window: u32,
    /// The connection's receive window (announced at once when larger than 65,535).
    pub(crate) connection_window: u32,
    pub(crate) max_frame_size: u32,
    pub(crate) max_header_list_size: u32,
    pub(crate) header_table_size: u32,
    /// CONTINUATION frames one header block may take (the 2024 CONTINUATION floods).
    pub(crate) max_continuations: usize,
    /// Frames in a row that ask for no work, while we send nothing either: SETTINGS,
    /// PINGs, empty DATA, PRIORITY, WINDOW_UPDATEs, resets of streams already gone, unknown
    /// types. Past it, GOAWAY ENHANCE_YOUR_CALM: the 2019 floods (CVE-2019-9512 pings,
    /// -9515 settings, -9518 empty frames) cost a server work and memory for nothing.
    pub(crate) max_empty_frames: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_concurrent_streams: 100,
            initial_window: DEFAULT_WINDOW,
            connection_window: DEFAULT_WINDOW,
            max_frame_size: frame::DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: 16 << 10,
            header_table_size: 4096,
            max_continuations: 16,
            max_empty_frames: 1000,
        }
    }
}

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

/// What [`Connection::receive`] saw besides its events, for a driver to act on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    /// A WINDOW_UPDATE or new SETTINGS may have let streams waiting for credit send more.
    pub(crate) credit: bool,
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the client's preface.
    Preface,
    /// The preface came; the client's first frame must be SETTINGS.
    FirstSettings,
    Open,
    /// We sent GOAWAY without an error: the streams up to `last_stream` go on, later ones
    /// are not served (their header blocks are still decoded, to keep HPACK in step).
    Draining {
        last_stream: u32,
    },
    /// A connection error was answered with GOAWAY: nothing more is read.
    Closed(Reason),
}

/// A header block being joined from HEADERS and CONTINUATIONs.
struct Block {
    stream: u32,
    end_stream: bool,
    fragments: Vec<u8>,
    continuations: usize,
}

/// What a header block is for, once it is whole.
#[derive(Clone, Copy)]
struct BlockOf {
    stream: u32,
    end_stream: bool,
}

/// How many closed streams are remembered, to tell frames a client had in flight for a
/// stream we reset (ignored) from frames on a stream it knows is closed (STREAM_CLOSED).
const CLOSED_MEMORY: usize = 128;

/// How a remembered stream closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    /// We reset it (or refused it, or did not serve it): the client may not know yet.
    ByUs,
    /// Both sides ended it, or the client reset it: the client knows.
    Known,
}

/// One stream's receiving state.
struct Stream {
    state: State,
    recv: RecvWindow,
    send: SendWindow,
    /// The request's `content-length`, less the data received so far (8.1.1: DATA that
    /// does not add up to it makes the request malformed).
    content_left: Option<u64>,
}

/// The server side of a connection.
pub(crate) struct Connection {
    limits: Limits,
    phase: Phase,
    /// Received bytes not yet read as whole frames.
    input: BytesMut,
    /// Bytes to write to the client.
    output: Vec<u8>,
    events: VecDeque<Event>,
    decoder: hpack::Decoder,
    block: Option<Block>,
    /// The streams open (in either direction); a closed one is forgotten at once.
    streams: StreamMap<Stream>,
    /// The highest stream the client opened (GOAWAY's last stream).
    last_stream: u32,
    recv: RecvWindow,
    send: SendWindow,
    /// The client's SETTINGS_INITIAL_WINDOW_SIZE.
    peer_initial_window: u32,
    /// The client's SETTINGS_MAX_FRAME_SIZE: our frames' limit.
    peer_max_frame_size: u32,
    encoder: hpack::Encoder,
    seen: Seen,
    /// Streams closed lately, oldest first.
    closed: VecDeque<(u32, Closed)>,
    /// Whether HEADERS or DATA went out since [`Connection::take_sent`] last asked.
    sent: bool,
    /// Frames in a row that asked for no work ([`Limits::max_empty_frames`]).
    empty_frames: u32,
}

impl Connection {
    /// A connection under `limits`; our SETTINGS go out once the client's preface came.
    pub(crate) fn new(limits: Limits) -> Connection {
        // The connection window starts at 65,535 (6.9.2); a larger one is announced with
        // our SETTINGS.
        let mut recv = RecvWindow::new(DEFAULT_WINDOW);
        recv.widen(limits.initial_window.max(limits.connection_window));
        Connection {
            limits,
            phase: Phase::Preface,
            input: BytesMut::new(),
            output: Vec::new(),
            events: VecDeque::new(),
            decoder: hpack::Decoder::new(
                limits.header_table_size as usize,
                limits.max_header_list_size as usize,
            ),
            block: None,
            streams: StreamMap::default(),
            last_stream: 0,
            recv,
            send: SendWindow::new(DEFAULT_WINDOW),
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_frame_size: frame::DEFAULT_MAX_FRAME_SIZE,
            encoder: hpack::Encoder::new(),
            seen: Seen::default(),
            closed: VecDeque::new(),
            sent: false,
            empty_frames: 0,
        }
    }

    /// Our SETTINGS (and the connection window's first update), sent once the client's
    /// preface came: nothing is written to a client that does not speak HTTP/2.
    fn send_preface(&mut self) {
        let limits = self.limits;
        write::settings(
            &[
                Setting::MaxConcurrentStreams(limits.max_concurrent_streams),
                Setting::InitialWindowSize(limits.initial_window),
                Setting::MaxFrameSize(limits.max_frame_size),
                Setting::MaxHeaderListSize(limits.max_header_list_size),
                Setting::HeaderTableSize(limits.header_table_size),
                Setting::EnablePush(false),
            ],
            &mut self.output,
        );
        if let Some(increment) = self.recv.update() {
            write::window_update(0, increment, &mut self.output);
        }
    }

    /// Whether the client's preface and first SETTINGS have come (a slow client is closed by
    /// the driver's handshake timeout before this).
    pub(crate) fn is_open(&self) -> bool {
        !matches!(self.phase, Phase::Preface | Phase::FirstSettings)
    }

    /// What was seen since the last call (and forgets it).
    pub(crate) fn take_seen(&mut self) -> Seen {
        std::mem::take(&mut self.seen)
    }

    /// Whether HEADERS or DATA were sent since the last call (the ping policy forgives a
    /// PING that follows them).
    pub(crate) fn take_sent(&mut self) -> bool {
        std::mem::take(&mut self.sent)
    }

    /// How many bytes there are to write.
    pub(crate) fn output_len(&self) -> usize {
        self.output.len()
    }

    /// Whether there are bytes to write.
    pub(crate) fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Appends the bytes to write now to `out`: no allocation when `out` is empty, as the
    /// two buffers are swapped.
    pub(crate) fn output_into(&mut self, out: &mut Vec<u8>) {
        if out.is_empty() {
            std::mem::swap(out, &mut self.output);
        } else {
            out.append(&mut self.output);
        }
    }

    /// Sends a PING with `payload` (keepalive); its ACK comes as [`Event::PingAck`].
    pub(crate) fn ping(&mut self, payload: [u8; 8]) {
        if !matches!(self.phase, Phase::Closed(_)) {
            write::ping(false, payload, &mut self.output);
        }
    }

    #[cfg(any(test, feature = "fuzzing"))]
    /// Takes in bytes read from the client. `Err` once the connection failed: GOAWAY is then
    /// the last of the output.
    pub(crate) fn receive(&mut self, bytes: &[u8]) -> Result<(), Reason> {
        if let Phase::Closed(reason) = self.phase {
            return Err(reason);
        }
        self.input.extend_from_slice(bytes);
        self.read_input()
    }

    /// Takes in `bytes` read from the client, without a copy when nothing is left over
    /// from the last read (the usual case): DATA payloads handed up share its buffer.
    pub(crate) fn receive_owned(&mut self, bytes: BytesMut) -> Result<(), Reason> {
        if let Phase::Closed(reason) = self.phase {
            return Err(reason);
        }
        if self.input.is_empty() {
            self.input = bytes;
        } else {
            self.input.extend_from_slice(&bytes);
        }
        self.read_input()
    }

    /// Reads the whole frames in the input; on a connection error, GOAWAY and the end.
    fn read_input(&mut self) -> Result<(), Reason> {
        let result = self.read_frames();
        if let Err((reason, what)) = result {
            tracing::debug!(?reason, what, "HTTP/2 connection error");
            if self.phase == Phase::Preface {
                // Not an HTTP/2 client (RFC 9113 3.4): our SETTINGS, as every server
                // connection starts, then GOAWAY PROTOCOL_ERROR, nothing more.
                write::settings(&[], &mut self.output);
            }
            write::goaway(self.last_stream, reason, what.as_bytes(), &mut self.output);
            self.phase = Phase::Closed(reason);
            return Err(reason);
        }
        Ok(())
    }

    /// The next event, if any.
    pub(crate) fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    #[cfg(any(test, feature = "fuzzing"))]
    /// The bytes to write now.
    pub(crate) fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// The application took `len` octets of `stream`'s data: its credit goes back, in
    /// WINDOW_UPDATEs batched per stream and for the connection.
    pub(crate) fn release(&mut self, stream: u32, len: u32) {
        if matches!(self.phase, Phase::Closed(_)) {
            return; // GOAWAY was the last frame
        }
        self.release_connection(len);
        if let Some(entry) = self.streams.get_mut(&stream) {
            entry.recv.release(len);
            if let Some(increment) = entry.recv.update() {
                write::window_update(stream, increment, &mut self.output);
            }
        }
    }

    /// Sends GOAWAY. With NO_ERROR the connection drains: the streams the client opened so
    /// far go on, later ones are not served, and it is finished once they end
    /// ([`Connection::is_finished`]). With any other code (ENHANCE_YOUR_CALM and the
    /// `too_many_pings` debug data grpc-go clients back off on, say) it closes at once.
    pub(crate) fn go_away(&mut self, reason: Reason, debug: &[u8]) {
        if matches!(self.phase, Phase::Closed(_)) {
            return;
        }
        write::goaway(self.last_stream, reason, debug, &mut self.output);
        self.phase = if reason == Reason::NO_ERROR {
            Phase::Draining {
                last_stream: self.last_stream,
            }
        } else {
            Phase::Closed(reason)
        };
    }

    /// Closes the connection at once (the server's grace period is over): GOAWAY NO_ERROR,
    /// and every stream is dropped with it.
    pub(crate) fn abort(&mut self) {
        if !matches!(self.phase, Phase::Closed(_)) {
            write::goaway(self.last_stream, Reason::NO_ERROR, b"", &mut self.output);
            self.phase = Phase::Closed(Reason::NO_ERROR);
        }
    }

    /// Whether the connection has nothing more to do: closed, or drained of its streams.
    pub(crate) fn is_finished(&self) -> bool {
        match self.phase {
            Phase::Closed(_) => true,
            Phase::Draining { .. } => !self.streams.values().any(|s| s.state.is_active()),
            _ => false,
        }
    }

    /// Sends a response head, or trailers (`end_stream`), on `stream`. `false` if the
    /// stream can no longer be sent on (reset, ended, unknown).
    pub(crate) fn send_headers<'a>(
        &mut self,
        stream: u32,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        end_stream: bool,
    ) -> bool {
        if matches!(self.phase, Phase::Closed(_)) {
            return false;
        }
        let Some(entry) = self.streams.get_mut(&stream).filter(|e| e.state.can_send()) else {
            return false;
        };
        entry.state.send_headers(end_stream);
        self.sent = true;
        self.empty_frames = 0;
        let mut block = Vec::new();
        self.encoder.encode(fields, &mut block);
        write::headers(
            stream,
            &block,
            end_stream,
            self.peer_max_frame_size,
            &mut self.output,
        );
        self.forget_if_closed(stream);
        true
    }

    /// Sends as much of `data` as both windows allow, in frames of at most the client's
    /// SETTINGS_MAX_FRAME_SIZE; END_STREAM goes with the last byte if `end_stream`. Returns
    /// how many bytes were sent: the rest waits for WINDOW_UPDATEs ([`Connection::sendable`]).
    pub(crate) fn send_data(&mut self, stream: u32, data: &[u8], end_stream: bool) -> usize {
        if matches!(self.phase, Phase::Closed(_)) {
            return 0;
        }
        let Some(entry) = self.streams.get_mut(&stream).filter(|e| e.state.can_send()) else {
            return 0;
        };
        let mut sent = 0;
        loop {
            let room = entry.send.available().min(self.send.available()) as usize;
            let len = (data.len() - sent)
                .min(room)
                .min(self.peer_max_frame_size as usize);
            let last = sent + len == data.len();
            if len == 0 && !(last && end_stream) {
                break;
            }
            let end = last && end_stream;
            entry.send.consume(len as u32);
            self.send.consume(len as u32);
            write::data_head(stream, len as u32, end, &mut self.output);
            self.output.extend_from_slice(&data[sent..sent + len]);
            self.sent = true;
            self.empty_frames = 0;
            sent += len;
            if end {
                entry.state.send_data(true);
            }
            if last {
                break;
            }
        }
        self.forget_if_closed(stream);
        sent
    }

    #[cfg(any(test, feature = "fuzzing"))]
    /// How many bytes `stream` may send now (both windows).
    pub(crate) fn sendable(&self, stream: u32) -> u32 {
        if matches!(self.phase, Phase::Closed(_)) {
            return 0;
        }
        self.streams
            .get(&stream)
            .filter(|e| e.state.can_send())
            .map_or(0, |e| e.send.available().min(self.send.available()))
    }

    /// Resets `stream` from our side (the call was cancelled, or failed).
    pub(crate) fn cancel(&mut self, stream: u32, reason: Reason) {
        if matches!(self.phase, Phase::Closed(_)) {
            return;
        }
        if let Some(mut entry) = self.streams.remove(&stream) {
            write::reset(stream, reason, &mut self.output);
            entry.state.send_reset();
            self.remember(stream, Closed::ByUs);
        }
    }

    /// A stream both sides have ended is forgotten.
    fn forget_if_closed(&mut self, stream: u32) {
        if self
            .streams
            .get(&stream)
            .is_some_and(|e| !e.state.is_active())
        {
            self.streams.remove(&stream);
            self.remember(stream, Closed::Known);
        }
    }

    /// Remembers that `stream` closed, and how, forgetting the oldest past the memory.
    fn remember(&mut self, stream: u32, how: Closed) {
        if self.closed.len() == CLOSED_MEMORY {
            self.closed.pop_front();
        }
        self.closed.push_back((stream, how));
    }

    /// How `stream` closed, if it is remembered.
    fn closed_how(&self, stream: u32) -> Option<Closed> {
        self.closed
            .iter()
            .rev()
            .find(|(id, _)| *id == stream)
            .map(|(_, how)| *how)
    }

    fn release_connection(&mut self, len: u32) {
        self.recv.release(len);
        if let Some(increment) = self.recv.update() {
            write::window_update(0, increment, &mut self.output);
        }
    }

    fn read_frames(&mut self) -> Result<(), (Reason, &'static str)> {
        if self.phase == Phase::Preface {
            let have = self.input.len().min(PREFACE.len());
            if self.input[..have] != PREFACE[..have] {
                return Err((Reason::PROTOCOL_ERROR, "not the HTTP/2 client preface"));
            }
            if have < PREFACE.len() {
                return Ok(());
            }
            self.input.advance(PREFACE.len());
            self.phase = Phase::FirstSettings;
            self.send_preface();
        }
        loop {
            let split = frame::split(&self.input, self.limits.max_frame_size);
            let (head, len, used) = match split {
                Ok(Some((head, payload, used))) => (head, payload.len(), used),
                Ok(None) => return Ok(()),
                Err(error) => return Err(connection_error(error)),
            };
            // The frame, owned: handling it writes to `self`, and DATA is handed up as a
            // slice of it, with no copy.
            let whole = self.input.split_to(used).freeze();
            self.frame(head, &whole.slice(used - len..))?;
        }
    }

    fn frame(&mut self, head: frame::Head, payload: &Bytes) -> Result<(), (Reason, &'static str)> {
        let parsed = match frame::parse(head, payload) {
            Ok(parsed) => parsed,
            Err(frame::Error::Stream(stream, reason, what)) => {
                tracing::debug!(stream, ?reason, what, "HTTP/2 stream error");
                self.reset(stream, reason);
                return Ok(());
            }
            Err(error) => return Err(connection_error(error)),
        };
        if self.phase == Phase::FirstSettings {
            if !matches!(parsed, Frame::Settings { ack: false, .. }) {
                return Err((
                    Reason::PROTOCOL_ERROR,
                    "the client's first frame is not SETTINGS",
                ));
            }
            self.phase = Phase::Open;
        }
        if asks_for_work(&parsed) {
            self.empty_frames = 0;
        } else {
            self.empty_frames += 1;
            if self.empty_frames > self.limits.max_empty_frames {
                return Err((
                    Reason::ENHANCE_YOUR_CALM,
                    "a flood of frames that ask for no work",
                ));
            }
        }
        // Inside a header block only its CONTINUATIONs may come (section 6.10).
        if let Some(block) = &self.block {
            match parsed {
                Frame::Continuation { stream, .. } if stream == block.stream => {}
                _ => return Err((Reason::PROTOCOL_ERROR, "a frame inside a header block")),
            }
        }
        match parsed {
            Frame::Settings {
                ack: false,
                settings,
            } => self.settings(&settings)?,
            Frame::Settings { ack: true, .. } | Frame::Priority { .. } | Frame::Unknown { .. } => {}
            Frame::Ping {
                ack: false,
                payload,
            } => {
                write::ping(true, payload, &mut self.output);
                self.events.push_back(Event::Ping { payload });
            }
            Frame::Ping { ack: true, payload } => self.events.push_back(Event::PingAck { payload }),
            Frame::GoAway {
                last_stream,
                reason,
                ..
            } => {
                self.events.push_back(Event::GoAway {
                    last_stream,
                    reason,
                });
            }
            Frame::WindowUpdate {
                stream: 0,
                increment,
            } => {
                self.seen.credit = true;
                self.send.grow(increment).map_err(|FlowError| {
                    (Reason::FLOW_CONTROL_ERROR, "connection window past 2^31-1")
                })?;
            }
            Frame::WindowUpdate { stream, increment } => {
                if let Some(entry) = self.streams.get_mut(&stream) {
                    self.seen.credit = true;
                    if entry.send.grow(increment).is_err() {
                        self.reset(stream, Reason::FLOW_CONTROL_ERROR);
                    }
                } else if stream > self.last_stream {
                    return Err((Reason::PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream"));
                }
            }
            Frame::Reset { stream, reason } => {
                if stream > self.last_stream {
                    return Err((Reason::PROTOCOL_ERROR, "RST_STREAM on an idle stream"));
                }
                if let Some(entry) = self.streams.get_mut(&stream) {
                    if entry.state.recv_reset() == Ok(Received::Taken) {
                        self.events.push_back(Event::Reset { stream, reason });
                    }
                    self.streams.remove(&stream);
                    self.remember(stream, Closed::Known);
                }
            }
            Frame::PushPromise { .. } => {
                return Err((Reason::PROTOCOL_ERROR, "PUSH_PROMISE from a client"));
            }
            Frame::Headers {
                stream,
                block,
                end_stream,
                end_headers,
                ..
            } => {
                let of = BlockOf { stream, end_stream };
                if end_headers {
                    // Whole in one frame (the usual case): decoded where it lies.
                    self.end_block(of, block)?;
                } else {
                    self.block = Some(Block {
                        stream,
                        end_stream,
                        fragments: block.to_vec(),
                        continuations: 0,
                    });
                }
            }
            Frame::Continuation {
                block, end_headers, ..
            } => {
                let Some(pending) = self.block.as_mut() else {
                    return Err((
                        Reason::PROTOCOL_ERROR,
                        "CONTINUATION without a header block",
                    ));
                };
                pending.continuations += 1;
                if pending.continuations > self.limits.max_continuations {
                    return Err((Reason::ENHANCE_YOUR_CALM, "too many CONTINUATION frames"));
                }
                pending.fragments.extend_from_slice(block);
                if end_headers {
                    if let Some(whole) = self.block.take() {
                        let of = BlockOf {
                            stream: whole.stream,
                            end_stream: whole.end_stream,
                        };
                        self.end_block(of, &whole.fragments)?;
                    }
                }
            }
            Frame::Data {
                stream,
                data,
                end_stream,
                flow_len,
            } => {
                let data = payload.slice_ref(data);
                self.data(stream, data, end_stream, flow_len)?;
            }
        }
        Ok(())
    }

    fn settings(&mut self, settings: &[Setting]) -> Result<(), (Reason, &'static str)> {
        for setting in settings {
            if let Setting::InitialWindowSize(size) = *setting {
                let old = self.peer_initial_window;
                for entry in self.streams.values_mut() {
                    entry.send.resize(old, size).map_err(|FlowError| {
                        (Reason::FLOW_CONTROL_ERROR, "a stream window past 2^31-1")
                    })?;
                }
                self.peer_initial_window = size;
                self.seen.credit = true;
            }
            match *setting {
                Setting::MaxFrameSize(size) => self.peer_max_frame_size = size,
                Setting::HeaderTableSize(size) => {
                    // Our encoder's table stays within our own decoder's default, whatever
                    // more the client allows.
                    self.encoder.set_max_table_size((size as usize).min(4096));
                }
                _ => {}
            }
        }
        write::settings_ack(&mut self.output);
        Ok(())
    }

    /// A whole header block: a request, or a stream's trailers.
    fn end_block(
        &mut self,
        block: BlockOf,
        fragments: &[u8],
    ) -> Result<(), (Reason, &'static str)> {
        let decoded = self
            .decoder
            .decode(fragments)
            .map_err(|_| (Reason::COMPRESSION_ERROR, "header block does not decode"))?;
        let stream = block.stream;
        if let Some(entry) = self.streams.get_mut(&stream) {
            // Trailers: they must end the stream, and the data its content-length.
            if !block.end_stream || entry.content_left.is_some_and(|left| left > 0) {
                self.reset(stream, Reason::PROTOCOL_ERROR);
                return Ok(());
            }
            let received = entry.state.recv_headers(true);
            self.forget_if_closed(stream);
            return match received {
                Ok(Received::Taken) => {
                    self.events.push_back(Event::Trailers {
                        stream,
                        fields: decoded.fields,
                    });
                    Ok(())
                }
                Ok(Received::Ignored) => Ok(()),
                Err(violation) => self.violation(stream, violation),
            };
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
        if decoded.too_large {
            // The header list passed SETTINGS_MAX_HEADER_LIST_SIZE: 431 (RFC 9113 10.5.1),
            // and a request still coming is told to stop.
            tracing::debug!(stream, "a header list past the limit: 431");
            let mut head = Vec::new();
            self.encoder
                .encode([(&b":status"[..], &b"431"[..])], &mut head);
            write::headers(
                stream,
                &head,
                true,
                self.peer_max_frame_size,
                &mut self.output,
            );
            if !block.end_stream {
                write::reset(stream, Reason::NO_ERROR, &mut self.output);
            }
            self.remember(stream, Closed::ByUs);
            return Ok(());
        }
        let content_left = match content_length(&decoded.fields) {
            Ok(length) => length,
            Err(()) => {
                tracing::debug!(stream, "a malformed content-length: stream reset");
                write::reset(stream, Reason::PROTOCOL_ERROR, &mut self.output);
                self.remember(stream, Closed::ByUs);
                return Ok(());
            }
        };
        if block.end_stream && content_left.is_some_and(|left| left > 0) {
            tracing::debug!(stream, "content-length without the data: stream reset");
            write::reset(stream, Reason::PROTOCOL_ERROR, &mut self.output);
            self.remember(stream, Closed::ByUs);
            return Ok(());
        }
        let mut state = State::Idle;
        let _ = state.recv_headers(block.end_stream);
        self.streams.insert(
            stream,
            Stream {
                state,
                recv: RecvWindow::new(self.limits.initial_window),
                send: SendWindow::new(self.peer_initial_window),
                content_left,
            },
        );
        self.events.push_back(Event::Request {
            stream,
            fields: decoded.fields,
            end_stream: block.end_stream,
        });
        Ok(())
    }

    fn data(
        &mut self,
        stream: u32,
        data: Bytes,
        end_stream: bool,
        flow_len: u32,
    ) -> Result<(), (Reason, &'static str)> {
        self.recv.receive(flow_len).map_err(|FlowError| {
            (
                Reason::FLOW_CONTROL_ERROR,
                "DATA past the connection window",
            )
        })?;
        let Some(entry) = self.streams.get_mut(&stream) else {
            if stream > self.last_stream {
                return Err((Reason::PROTOCOL_ERROR, "DATA on an idle stream"));
            }
            // A stream we no longer keep: its credit goes back at once. What the client had in
            // flight for a stream we reset is ignored; on a stream it knows is closed (or
            // never opened) it is STREAM_CLOSED (6.1).
            self.release_connection(flow_len);
            if self.closed_how(stream) != Some(Closed::ByUs) {
                write::reset(stream, Reason::STREAM_CLOSED, &mut self.output);
            }
            return Ok(());
        };
        if entry.recv.receive(flow_len).is_err() {
            self.reset(stream, Reason::FLOW_CONTROL_ERROR);
            return Ok(());
        }
        if let Some(left) = entry.content_left.as_mut() {
            let len = data.len() as u64;
            if len > *left || (end_stream && len != *left) {
                tracing::debug!(
                    stream,
                    "DATA not adding up to the content-length: stream reset"
                );
                self.release_connection(flow_len);
                self.reset(stream, Reason::PROTOCOL_ERROR);
                return Ok(());
            }
            *left -= len;
        }
        let received = entry.state.recv_data(end_stream);
        self.forget_if_closed(stream);
        match received {
            Ok(Received::Taken) => {
                // Padding is credit the application never sees.
                let padding = flow_len - data.len() as u32;
                if padding > 0 {
                    self.release(stream, padding);
                }
                self.events.push_back(Event::Data {
                    stream,
                    data,
                    end_stream,
                });
                Ok(())
            }
            Ok(Received::Ignored) => {
                self.release(stream, flow_len);
                Ok(())
            }
            Err(violation) => self.violation(stream, violation),
        }
    }

    fn violation(
        &mut self,
        stream: u32,
        violation: Violation,
    ) -> Result<(), (Reason, &'static str)> {
        match violation {
            Violation::Stream(reason) => {
                self.reset(stream, reason);
                Ok(())
            }
            Violation::Connection(reason) => Err((reason, "a frame the stream's state forbids")),
        }
    }

    /// Resets `stream` (a stream error): RST_STREAM, and the stream is forgotten. A stream
    /// the application has (it was handed up) hears of it as [`Event::Reset`].
    fn reset(&mut self, stream: u32, reason: Reason) {
        write::reset(stream, reason, &mut self.output);
        if let Some(mut entry) = self.streams.remove(&stream) {
            entry.state.send_reset();
            self.events.push_back(Event::Reset { stream, reason });
        }
        self.remember(stream, Closed::ByUs);
    }
}

/// Whether a frame asks for work: a header block (or a piece of one), data or the end of
/// a stream. Everything else a client sends costs the server for nothing when it comes
/// in floods.
fn asks_for_work(frame: &Frame<'_>) -> bool {
    match frame {
        Frame::Headers { .. } | Frame::Continuation { .. } => true,
        Frame::Data {
            data, end_stream, ..
        } => !data.is_empty() || *end_stream,
        _ => false,
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

fn connection_error(error: frame::Error) -> (Reason, &'static str) {
    match error {
        frame::Error::Connection(reason, what) => (reason, what),
        // Not produced by `split`; a stream error here would be a bug in the caller.
        frame::Error::Stream(_, reason, what) => (reason, what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's side of the test: its HPACK encoder and the frames it writes.
    struct Client {
        encoder: hpack::Encoder,
        bytes: Vec<u8>,
    }

    impl Client {
        fn new() -> Client {
            let mut bytes = PREFACE.to_vec();
            write::settings(&[], &mut bytes);
            Client {
                encoder: hpack::Encoder::new(),
                bytes,
            }
        }

        fn request(&mut self, stream: u32, path: &str, end_stream: bool) -> &mut Client {
            let mut block = Vec::new();
            let fields: [(&[u8], &[u8]); 4] = [
                (b":method", b"POST"),
                (b":scheme", b"http"),
                (b":path", path.as_bytes()),
                (b"content-type", b"application/grpc"),
            ];
            self.encoder.encode(fields, &mut block);
            write::headers(stream, &block, end_stream, 16_384, &mut self.bytes);
            self
        }

        /// A request head with `extra` fields after the usual four.
        fn request_with(
            &mut self,
            stream: u32,
            extra: &[(&[u8], &[u8])],
            end_stream: bool,
        ) -> &mut Client {
            let mut block = Vec::new();
            let fields: [(&[u8], &[u8]); 4] = [
                (b":method", b"POST"),
                (b":scheme", b"http"),
                (b":path", b"/a"),
                (b"content-type", b"application/grpc"),
            ];
            self.encoder
                .encode(fields.into_iter().chain(extra.iter().copied()), &mut block);
            write::headers(stream, &block, end_stream, 16_384, &mut self.bytes);
            self
        }

        fn data(&mut self, stream: u32, data: &[u8], end_stream: bool) -> &mut Client {
            write::data_head(stream, data.len() as u32, end_stream, &mut self.bytes);
            self.bytes.extend_from_slice(data);
            self
        }

        fn take(&mut self) -> Vec<u8> {
            std::mem::take(&mut self.bytes)
        }
    }

    fn events(connection: &mut Connection) -> Vec<Event> {
        std::iter::from_fn(|| connection.next_event()).collect()
    }

    /// The frames in `bytes`, as (type, flags, stream).
    fn frames(bytes: &[u8]) -> Vec<(u8, u8, u32)> {
        let mut rest = bytes;
        let mut out = Vec::new();
        while let Some((head, _, used)) = frame::split(rest, frame::MAX_MAX_FRAME_SIZE).unwrap() {
            out.push((head.kind, head.flags, head.stream));
            rest = &rest[used..];
        }
        out
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
        let mut client = Client {
            encoder: hpack::Encoder::new(),
            bytes: Vec::new(),
        };
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
        client.bytes.clear();
        client.bytes.extend_from_slice(PREFACE);
        write::settings(&[Setting::InitialWindowSize(10)], &mut client.bytes);
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

    /// The RST_STREAM codes in `bytes`, by stream.
    fn resets(bytes: &[u8]) -> Vec<(u32, u32)> {
        let mut rest = bytes;
        let mut out = Vec::new();
        while let Some((head, payload, used)) =
            frame::split(rest, frame::MAX_MAX_FRAME_SIZE).unwrap()
        {
            if head.kind == frame::kind::RST_STREAM {
                out.push((head.stream, u32::from_be_bytes(payload.try_into().unwrap())));
            }
            rest = &rest[used..];
        }
        out
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
        let mut client = Client {
            encoder: hpack::Encoder::new(),
            bytes: Vec::new(),
        };
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
