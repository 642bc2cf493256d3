//! What the two sides of an HTTP/2 connection (RFC 9113) do alike: bytes in, events and the
//! bytes to answer with out, with no I/O, no clock and no tasks.
//!
//! [`Endpoint`] reads whole frames out of the input, sends our SETTINGS and acknowledges the
//! peer's, answers PINGs, joins a header block's CONTINUATIONs (so many at most) and decodes
//! it, keeps each stream's state and both directions' flow-control windows, remembers the
//! streams closed lately, calms floods of frames that ask for no work, and on a connection
//! error sends GOAWAY with the code and stops. A [`Side`] says what differs: a server
//! ([`super::connection`]) reads the client's preface and takes requests; a client
//! ([`super::client`]) writes the preface and opens streams to take responses on.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::flow::{FlowError, RecvWindow, SendWindow, DEFAULT_WINDOW};
use super::frame::{self, write, Frame, Reason, Setting};
use super::hpack;
use super::message::Field;
use super::stream::{Received, State, Violation};
use super::StreamMap;

/// What a client sends first (section 3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The limits one side holds its peer to, each a SETTINGS value or a defence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The streams a client may have open at once (a server announces it; the streams a
    /// client's peer may open are none, as push stays disabled).
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
    /// types, counted within one period of [`Endpoint::new_period`] (the drivers start one
    /// each second). Past it, GOAWAY ENHANCE_YOUR_CALM: the 2019 floods (CVE-2019-9512
    /// pings, -9515 settings, -9518 empty frames) cost a server work and memory for
    /// nothing, while a quiet connection's keepalive PINGs, hours of them, never add up.
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

/// What [`Endpoint::receive_owned`] saw besides its events, for a driver to act on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    /// A WINDOW_UPDATE or new SETTINGS may have let streams waiting for credit send more.
    pub(crate) credit: bool,
}

/// A connection error: its code, and what was wrong (GOAWAY's debug data).
pub(crate) type Failure = (Reason, &'static str);

/// Which side of the connection this is, for the rules that tell the two apart. Only
/// clients open streams (with odd identifiers): server push is never enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Server,
    Client,
}

impl Role {
    /// Whether a frame on `stream`, which is neither kept nor remembered, is on a stream that
    /// was never opened (5.1, "idle": a connection error PROTOCOL_ERROR). `last_stream` is
    /// the highest stream opened so far: by the client on a server, by us on a client.
    fn never_opened(self, stream: u32, last_stream: u32) -> bool {
        match self {
            Role::Server => stream > last_stream,
            // Even identifiers are the server's, and it opens none.
            Role::Client => stream > last_stream || stream % 2 == 0,
        }
    }

    /// The last stream a GOAWAY of ours names: the highest the peer opened (6.8). A
    /// client's peer opens none.
    fn peer_last_stream(self, last_stream: u32) -> u32 {
        match self {
            Role::Server => last_stream,
            Role::Client => 0,
        }
    }
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// A server waits for the client's preface.
    Preface,
    /// The peer's first frame must be SETTINGS (a client may open streams meanwhile).
    FirstSettings,
    Open,
    /// A GOAWAY without an error went out (or, on a client, a GOAWAY came in): the streams
    /// up to `last_stream` go on, no later one is served or opened.
    Draining {
        last_stream: u32,
    },
    /// A connection error was answered with GOAWAY, or the connection was closed at once:
    /// nothing more is read or written.
    Closed(Reason),
}

/// What one side of a connection does its own way, for [`Endpoint`] to do the rest.
pub(crate) trait Side: Sized {
    /// Which side this is.
    const ROLE: Role;
    /// What the side keeps of each stream's incoming message, to hold it to its rules.
    type Message;
    /// What the side hands up.
    type Event;

    /// DATA of `len` octets came for `message`: `Err` with what is wrong if it makes the
    /// message malformed (8.1.1).
    fn check_data(
        message: &mut Self::Message,
        len: u64,
        end_stream: bool,
    ) -> Result<(), &'static str>;

    /// Trailers came for `message`: `Err` with what is wrong if they make it malformed.
    fn check_trailers(message: &Self::Message) -> Result<(), &'static str>;

    /// The event for data on a stream handed up.
    fn data(stream: u32, data: Bytes, end_stream: bool) -> Self::Event;

    /// The event for a stream's trailers (they end it).
    fn trailers(stream: u32, fields: Vec<Field>) -> Self::Event;

    /// The event for a stream handed up that is gone: the peer reset it, or we did, for a
    /// stream error it made (`reason` says which code went with it).
    fn reset(stream: u32, reason: Reason) -> Self::Event;

    /// The event for a PING from the peer (already answered).
    fn ping(payload: [u8; 8]) -> Self::Event;

    /// The event for the peer's acknowledgement of one of our PINGs.
    fn ping_ack(payload: [u8; 8]) -> Self::Event;

    /// Takes what a frame left to this side once the shared rules were through with it.
    fn take(connection: &mut Endpoint<Self>, incoming: Incoming) -> Result<(), Failure>;
}

/// What a frame leaves to the side that read it.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A whole header block, decoded: a request or response head, or trailers.
    Headers {
        stream: u32,
        end_stream: bool,
        block: hpack::Block,
    },
    /// The peer is going away.
    GoAway {
        last_stream: u32,
        reason: Reason,
        debug: Bytes,
    },
    /// A PUSH_PROMISE, which neither side takes: a client never pushes, and we never enable
    /// push.
    PushPromise,
    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS changed to this.
    MaxConcurrentStreams(u32),
}

/// A header block being joined from HEADERS and CONTINUATIONs.
struct Block {
    stream: u32,
    end_stream: bool,
    fragments: Vec<u8>,
    continuations: usize,
}

/// How many closed streams are remembered, to tell frames a peer had in flight for a
/// stream we reset (ignored) from frames on a stream it knows is closed (STREAM_CLOSED).
const CLOSED_MEMORY: usize = 128;

/// How a remembered stream closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// We reset it (or refused it, or did not serve it): the peer may not know yet.
    ByUs,
    /// Both sides ended it, or the peer reset it: the peer knows.
    Known,
}

/// One stream: its state, both windows, and what the side keeps of its incoming message.
pub(crate) struct Stream<M> {
    pub(super) state: State,
    pub(super) recv: RecvWindow,
    pub(super) send: SendWindow,
    pub(super) message: M,
}

/// One side of a connection; [`super::connection::Connection`] and
/// [`super::client::ClientConnection`] are its two kinds.
pub(crate) struct Endpoint<S: Side> {
    pub(super) limits: Limits,
    pub(super) phase: Phase,
    /// Received bytes not yet read as whole frames.
    input: BytesMut,
    /// Bytes to write to the peer.
    pub(super) output: Vec<u8>,
    pub(super) events: VecDeque<S::Event>,
    decoder: hpack::Decoder,
    encoder: hpack::Encoder,
    block: Option<Block>,
    /// The streams open (in either direction); a closed one is forgotten at once.
    pub(super) streams: StreamMap<Stream<S::Message>>,
    /// The highest stream opened: by the client, on either side.
    pub(super) last_stream: u32,
    recv: RecvWindow,
    send: SendWindow,
    /// The peer's SETTINGS_INITIAL_WINDOW_SIZE.
    peer_initial_window: u32,
    /// The peer's SETTINGS_MAX_FRAME_SIZE: our frames' limit.
    peer_max_frame_size: u32,
    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS: no limit until it says (6.5.2).
    pub(super) peer_max_concurrent_streams: u32,
    seen: Seen,
    /// Streams closed lately, oldest first.
    closed: VecDeque<(u32, Closed)>,
    /// Whether HEADERS or DATA went out since [`Endpoint::take_sent`] last asked.
    sent: bool,
    /// Frames in a row that asked for no work ([`Limits::max_empty_frames`]).
    empty_frames: u32,
}

impl<S: Side> Endpoint<S> {
    /// A connection under `limits`. A server's SETTINGS go out once the client's preface
    /// came; a client's preface and SETTINGS are its first output.
    pub(crate) fn new(limits: Limits) -> Endpoint<S> {
        // The connection window starts at 65,535 (6.9.2); a larger one is announced with
        // our SETTINGS.
        let mut recv = RecvWindow::new(DEFAULT_WINDOW);
        recv.widen(limits.initial_window.max(limits.connection_window));
        let mut endpoint = Endpoint {
            limits,
            phase: Phase::Preface,
            input: BytesMut::new(),
            output: Vec::new(),
            events: VecDeque::new(),
            decoder: hpack::Decoder::new(
                limits.header_table_size as usize,
                limits.max_header_list_size as usize,
            ),
            encoder: hpack::Encoder::new(),
            block: None,
            streams: StreamMap::default(),
            last_stream: 0,
            recv,
            send: SendWindow::new(DEFAULT_WINDOW),
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_frame_size: frame::DEFAULT_MAX_FRAME_SIZE,
            peer_max_concurrent_streams: u32::MAX,
            seen: Seen::default(),
            closed: VecDeque::new(),
            sent: false,
            empty_frames: 0,
        };
        if S::ROLE == Role::Client {
            endpoint.output.extend_from_slice(PREFACE);
            endpoint.send_settings();
            endpoint.phase = Phase::FirstSettings;
        }
        endpoint
    }

    /// Our SETTINGS, and the connection window's first update.
    fn send_settings(&mut self) {
        let limits = self.limits;
        // A server limits the streams its client opens; a client's server opens none.
        let streams = (S::ROLE == Role::Server)
            .then_some(Setting::MaxConcurrentStreams(limits.max_concurrent_streams));
        let settings: Vec<Setting> = streams
            .into_iter()
            .chain([
                Setting::InitialWindowSize(limits.initial_window),
                Setting::MaxFrameSize(limits.max_frame_size),
                Setting::MaxHeaderListSize(limits.max_header_list_size),
                Setting::HeaderTableSize(limits.header_table_size),
                Setting::EnablePush(false),
            ])
            .collect();
        write::settings(&settings, &mut self.output);
        if let Some(increment) = self.recv.update() {
            write::window_update(0, increment, &mut self.output);
        }
    }

    /// Whether the preface (on a server) and the peer's first SETTINGS have come (a slow
    /// peer is closed by the driver's handshake timeout before this).
    pub(crate) fn is_open(&self) -> bool {
        !matches!(self.phase, Phase::Preface | Phase::FirstSettings)
    }

    /// Whether a connection error or [`Endpoint::abort`] closed the connection.
    pub(super) fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed(_))
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

    #[cfg(any(test, feature = "fuzzing"))]
    /// The bytes to write now.
    pub(crate) fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// The next event, if any.
    pub(crate) fn next_event(&mut self) -> Option<S::Event> {
        self.events.pop_front()
    }

    /// Sends a PING with `payload` (keepalive); its ACK comes as the side's PingAck event.
    pub(crate) fn ping(&mut self, payload: [u8; 8]) {
        if !self.is_closed() {
            write::ping(false, payload, &mut self.output);
        }
    }

    #[cfg(any(test, feature = "fuzzing"))]
    /// Takes in bytes read from the peer. `Err` once the connection failed: GOAWAY is then
    /// the last of the output.
    pub(crate) fn receive(&mut self, bytes: &[u8]) -> Result<(), Reason> {
        if let Phase::Closed(reason) = self.phase {
            return Err(reason);
        }
        self.input.extend_from_slice(bytes);
        self.read_input()
    }

    /// Takes in `bytes` read from the peer, without a copy when nothing is left over from
    /// the last read (the usual case): DATA payloads handed up share its buffer. `Err` once
    /// the connection failed: GOAWAY is then the last of the output.
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
        let read = self.read_frames();
        if self.input.is_empty() {
            // Lets go of the buffer the frames came in (what was handed up keeps its part):
            // a quiet connection holds none.
            self.input = BytesMut::new();
        }
        let Err((reason, what)) = read else {
            return Ok(());
        };
        tracing::debug!(?reason, what, "HTTP/2 connection error");
        if self.phase == Phase::Preface {
            // Not an HTTP/2 client (RFC 9113 3.4): our SETTINGS, as every server connection
            // starts, then GOAWAY PROTOCOL_ERROR, nothing more.
            write::settings(&[], &mut self.output);
        }
        self.close(reason, what.as_bytes());
        Err(reason)
    }

    /// Writes GOAWAY with `reason` and `debug`, and closes: nothing more is read or written.
    fn close(&mut self, reason: Reason, debug: &[u8]) {
        let last = S::ROLE.peer_last_stream(self.last_stream);
        write::goaway(last, reason, debug, &mut self.output);
        self.phase = Phase::Closed(reason);
    }

    /// Sends GOAWAY. With NO_ERROR the connection drains: the streams opened so far go on,
    /// later ones are not served (or opened), and it is finished once they end
    /// ([`Endpoint::is_finished`]). With any other code (ENHANCE_YOUR_CALM and the
    /// `too_many_pings` debug data grpc-go clients back off on, say) it closes at once.
    pub(crate) fn go_away(&mut self, reason: Reason, debug: &[u8]) {
        if self.is_closed() {
            return;
        }
        if reason == Reason::NO_ERROR {
            let last = S::ROLE.peer_last_stream(self.last_stream);
            write::goaway(last, reason, debug, &mut self.output);
            self.phase = Phase::Draining {
                last_stream: self.last_stream,
            };
        } else {
            self.close(reason, debug);
        }
    }

    /// Closes the connection at once (a grace period is over): GOAWAY NO_ERROR, and every
    /// stream is dropped with it.
    pub(crate) fn abort(&mut self) {
        if !self.is_closed() {
            self.close(Reason::NO_ERROR, b"");
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

    /// The application took `len` octets of `stream`'s data: its credit goes back, in
    /// WINDOW_UPDATEs batched per stream and for the connection.
    pub(crate) fn release(&mut self, stream: u32, len: u32) {
        if self.is_closed() {
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

    fn release_connection(&mut self, len: u32) {
        self.recv.release(len);
        if let Some(increment) = self.recv.update() {
            write::window_update(0, increment, &mut self.output);
        }
    }

    /// A new stream in `state`, with both windows as the SETTINGS of each side have them.
    pub(super) fn new_stream(&self, state: State, message: S::Message) -> Stream<S::Message> {
        Stream {
            state,
            recv: RecvWindow::new(self.limits.initial_window),
            send: SendWindow::new(self.peer_initial_window),
            message,
        }
    }

    /// Sends a head, or trailers (`end_stream`), on `stream`. `false` if the stream can no
    /// longer be sent on (reset, ended, unknown).
    pub(crate) fn send_headers<'a>(
        &mut self,
        stream: u32,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        end_stream: bool,
    ) -> bool {
        if self.is_closed() {
            return false;
        }
        let Some(entry) = self.streams.get_mut(&stream).filter(|e| e.state.can_send()) else {
            return false;
        };
        entry.state.send_headers(end_stream);
        self.send_header_block(stream, fields, end_stream);
        self.forget_if_closed(stream);
        true
    }

    /// Writes a header block that counts as work sent (see [`Endpoint::take_sent`]); the
    /// caller moved the stream's state.
    pub(super) fn send_header_block<'a>(
        &mut self,
        stream: u32,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        end_stream: bool,
    ) {
        self.sending();
        self.write_headers(stream, fields, end_stream);
    }

    /// Encodes `fields` and writes them as HEADERS and as many CONTINUATIONs as the peer's
    /// SETTINGS_MAX_FRAME_SIZE requires.
    pub(super) fn write_headers<'a>(
        &mut self,
        stream: u32,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        end_stream: bool,
    ) {
        let mut block = Vec::new();
        self.encoder.encode(fields, &mut block);
        write::headers(
            stream,
            &block,
            end_stream,
            self.peer_max_frame_size,
            &mut self.output,
        );
    }

    /// HEADERS or DATA are going out: the peer's frames that ask for no work are counted
    /// anew.
    fn sending(&mut self) {
        self.sent = true;
        self.empty_frames = 0;
    }

    /// Sends as much of `data` as both windows allow, in frames of at most the peer's
    /// SETTINGS_MAX_FRAME_SIZE; END_STREAM goes with the last byte if `end_stream`. Returns
    /// how many bytes were sent: the rest waits for WINDOW_UPDATEs ([`Endpoint::sendable`]).
    pub(crate) fn send_data(&mut self, stream: u32, data: &[u8], end_stream: bool) -> usize {
        if self.is_closed() {
            return 0;
        }
        let Some(entry) = self.streams.get_mut(&stream).filter(|e| e.state.can_send()) else {
            return 0;
        };
        let (mut sent, written) = (0, self.output.len());
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
            sent += len;
            if end {
                entry.state.send_data(true);
            }
            if last {
                break;
            }
        }
        if self.output.len() > written {
            self.sending();
        }
        self.forget_if_closed(stream);
        sent
    }

    // The server's driver does without it (it sends what `send_data` takes); tests, the
    // fuzz targets and the client's driver to come ask first.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    /// How many bytes `stream` may send now (both windows).
    pub(crate) fn sendable(&self, stream: u32) -> u32 {
        if self.is_closed() {
            return 0;
        }
        self.streams
            .get(&stream)
            .filter(|e| e.state.can_send())
            .map_or(0, |e| e.send.available().min(self.send.available()))
    }

    /// Resets `stream` from our side (the call was cancelled, or failed). Frames the peer
    /// had in flight for it are ignored.
    pub(crate) fn cancel(&mut self, stream: u32, reason: Reason) {
        if self.is_closed() {
            return;
        }
        if let Some(mut entry) = self.streams.remove(&stream) {
            write::reset(stream, reason, &mut self.output);
            entry.state.send_reset();
            self.remember(stream, Closed::ByUs);
        }
    }

    /// Resets `stream` (a stream error): RST_STREAM, and the stream is forgotten. A stream
    /// handed up hears of it as the side's reset event.
    pub(super) fn reset(&mut self, stream: u32, reason: Reason) {
        write::reset(stream, reason, &mut self.output);
        if let Some(mut entry) = self.streams.remove(&stream) {
            entry.state.send_reset();
            self.events.push_back(S::reset(stream, reason));
        }
        self.remember(stream, Closed::ByUs);
    }

    /// A stream both sides have ended is forgotten.
    pub(super) fn forget_if_closed(&mut self, stream: u32) {
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
    pub(super) fn remember(&mut self, stream: u32, how: Closed) {
        if self.closed.len() == CLOSED_MEMORY {
            self.closed.pop_front();
        }
        self.closed.push_back((stream, how));
    }

    /// How `stream` closed, if it is remembered.
    pub(super) fn closed_how(&self, stream: u32) -> Option<Closed> {
        self.closed
            .iter()
            .rev()
            .find(|(id, _)| *id == stream)
            .map(|(_, how)| *how)
    }

    /// A frame on a stream that is closed and no longer kept: ignored if we reset it (the
    /// peer may have sent it before it knew), STREAM_CLOSED otherwise (5.1, "closed").
    pub(super) fn on_closed_stream(&mut self, stream: u32) {
        if self.closed_how(stream) != Some(Closed::ByUs) {
            write::reset(stream, Reason::STREAM_CLOSED, &mut self.output);
        }
    }

    /// Whether `stream`, neither kept nor remembered, was never opened.
    pub(super) fn never_opened(&self, stream: u32) -> bool {
        S::ROLE.never_opened(stream, self.last_stream)
    }

    fn read_frames(&mut self) -> Result<(), Failure> {
        if self.phase == Phase::Preface && !self.read_preface()? {
            return Ok(());
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
            if let Some(incoming) = self.frame(head, &whole.slice(used - len..))? {
                S::take(self, incoming)?;
            }
        }
    }

    /// Reads the client's preface, and sends our SETTINGS once it came: nothing is written
    /// to a client that does not speak HTTP/2. `false` while the preface is incomplete.
    fn read_preface(&mut self) -> Result<bool, Failure> {
        let have = self.input.len().min(PREFACE.len());
        if self.input[..have] != PREFACE[..have] {
            return Err((Reason::PROTOCOL_ERROR, "not the HTTP/2 client preface"));
        }
        if have < PREFACE.len() {
            return Ok(false);
        }
        self.input.advance(PREFACE.len());
        self.phase = Phase::FirstSettings;
        self.send_settings();
        Ok(true)
    }

    /// One frame, by the rules both sides share; what is left to the side comes back.
    fn frame(&mut self, head: frame::Head, payload: &Bytes) -> Result<Option<Incoming>, Failure> {
        let parsed = match frame::parse(head, payload) {
            Ok(parsed) => parsed,
            Err(frame::Error::Stream(stream, reason, what)) => {
                tracing::debug!(stream, ?reason, what, "HTTP/2 stream error");
                self.reset(stream, reason);
                return Ok(None);
            }
            Err(error) => return Err(connection_error(error)),
        };
        if self.phase == Phase::FirstSettings {
            if !matches!(parsed, Frame::Settings { ack: false, .. }) {
                return Err((Reason::PROTOCOL_ERROR, "the first frame is not SETTINGS"));
            }
            self.phase = Phase::Open;
        }
        self.count_work(&parsed)?;
        // Inside a header block only its CONTINUATIONs may come (section 6.10).
        if let Some(block) = &self.block {
            match parsed {
                Frame::Continuation { stream, .. } if stream == block.stream => {}
                _ => return Err((Reason::PROTOCOL_ERROR, "a frame inside a header block")),
            }
        }
        let incoming = match parsed {
            Frame::Settings {
                ack: false,
                settings,
            } => self.settings(&settings)?,
            Frame::Settings { ack: true, .. } | Frame::Priority { .. } | Frame::Unknown { .. } => {
                None
            }
            Frame::Ping {
                ack: false,
                payload,
            } => {
                write::ping(true, payload, &mut self.output);
                self.events.push_back(S::ping(payload));
                None
            }
            Frame::Ping { ack: true, payload } => {
                self.events.push_back(S::ping_ack(payload));
                None
            }
            Frame::GoAway {
                last_stream,
                reason,
                debug,
            } => Some(Incoming::GoAway {
                last_stream,
                reason,
                debug: payload.slice_ref(debug),
            }),
            Frame::WindowUpdate { stream, increment } => {
                self.window_update(stream, increment)?;
                None
            }
            Frame::Reset { stream, reason } => {
                self.peer_reset(stream, reason)?;
                None
            }
            Frame::PushPromise { .. } => Some(Incoming::PushPromise),
            Frame::Headers {
                stream,
                block,
                end_stream,
                end_headers,
                ..
            } => self.headers(stream, block, end_stream, end_headers)?,
            Frame::Continuation {
                block, end_headers, ..
            } => self.continuation(block, end_headers)?,
            Frame::Data {
                stream,
                data,
                end_stream,
                flow_len,
            } => {
                self.data(stream, payload.slice_ref(data), end_stream, flow_len)?;
                None
            }
        };
        Ok(incoming)
    }

    /// A new period begins (the drivers start one each second): frames that asked for no
    /// work are counted anew.
    pub(crate) fn new_period(&mut self) {
        self.empty_frames = 0;
    }

    /// Counts a frame that asks for no work ([`Limits::max_empty_frames`]); one that does
    /// starts the count again.
    fn count_work(&mut self, frame: &Frame<'_>) -> Result<(), Failure> {
        if asks_for_work(frame) {
            self.empty_frames = 0;
            return Ok(());
        }
        self.empty_frames += 1;
        if self.empty_frames > self.limits.max_empty_frames {
            return Err((
                Reason::ENHANCE_YOUR_CALM,
                "a flood of frames that ask for no work",
            ));
        }
        Ok(())
    }

    /// The peer's SETTINGS: applied, and acknowledged.
    fn settings(&mut self, settings: &[Setting]) -> Result<Option<Incoming>, Failure> {
        let max_streams = self.peer_max_concurrent_streams;
        for setting in settings {
            match *setting {
                Setting::InitialWindowSize(size) => {
                    let old = self.peer_initial_window;
                    for entry in self.streams.values_mut() {
                        entry.send.resize(old, size).map_err(|FlowError| {
                            (Reason::FLOW_CONTROL_ERROR, "a stream window past 2^31-1")
                        })?;
                    }
                    self.peer_initial_window = size;
                    self.seen.credit = true;
                }
                Setting::MaxFrameSize(size) => self.peer_max_frame_size = size,
                Setting::HeaderTableSize(size) => {
                    // Our encoder's table stays within our own decoder's default, whatever
                    // more the peer allows.
                    self.encoder.set_max_table_size((size as usize).min(4096));
                }
                Setting::MaxConcurrentStreams(limit) => self.peer_max_concurrent_streams = limit,
                Setting::EnablePush(_) | Setting::MaxHeaderListSize(_) => {}
            }
        }
        write::settings_ack(&mut self.output);
        let changed = self.peer_max_concurrent_streams != max_streams;
        Ok(changed.then_some(Incoming::MaxConcurrentStreams(
            self.peer_max_concurrent_streams,
        )))
    }

    /// A WINDOW_UPDATE: more credit for the connection or a stream.
    fn window_update(&mut self, stream: u32, increment: u32) -> Result<(), Failure> {
        if stream == 0 {
            self.seen.credit = true;
            return self.send.grow(increment).map_err(|FlowError| {
                (Reason::FLOW_CONTROL_ERROR, "connection window past 2^31-1")
            });
        }
        if let Some(entry) = self.streams.get_mut(&stream) {
            self.seen.credit = true;
            if entry.send.grow(increment).is_err() {
                self.reset(stream, Reason::FLOW_CONTROL_ERROR);
            }
        } else if self.never_opened(stream) {
            return Err((Reason::PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream"));
        }
        Ok(())
    }

    /// The peer reset `stream`.
    fn peer_reset(&mut self, stream: u32, reason: Reason) -> Result<(), Failure> {
        if self.never_opened(stream) {
            return Err((Reason::PROTOCOL_ERROR, "RST_STREAM on an idle stream"));
        }
        if let Some(entry) = self.streams.get_mut(&stream) {
            if entry.state.recv_reset() == Ok(Received::Taken) {
                self.events.push_back(S::reset(stream, reason));
            }
            self.streams.remove(&stream);
            self.remember(stream, Closed::Known);
        }
        Ok(())
    }

    /// HEADERS: a header block whole in one frame is decoded where it lies (the usual
    /// case); otherwise its CONTINUATIONs are waited for.
    fn headers(
        &mut self,
        stream: u32,
        block: &[u8],
        end_stream: bool,
        end_headers: bool,
    ) -> Result<Option<Incoming>, Failure> {
        if end_headers {
            return self.decode(stream, end_stream, block).map(Some);
        }
        self.block = Some(Block {
            stream,
            end_stream,
            fragments: block.to_vec(),
            continuations: 0,
        });
        Ok(None)
    }

    /// A CONTINUATION of the header block being joined (so many at most).
    fn continuation(
        &mut self,
        fragment: &[u8],
        end_headers: bool,
    ) -> Result<Option<Incoming>, Failure> {
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
        pending.fragments.extend_from_slice(fragment);
        if !end_headers {
            return Ok(None);
        }
        match self.block.take() {
            Some(whole) => self
                .decode(whole.stream, whole.end_stream, &whole.fragments)
                .map(Some),
            None => Ok(None),
        }
    }

    /// Decodes a whole header block: the tables can no longer be trusted if it does not
    /// decode (4.3), so that is a connection error.
    fn decode(
        &mut self,
        stream: u32,
        end_stream: bool,
        fragments: &[u8],
    ) -> Result<Incoming, Failure> {
        let block = self
            .decoder
            .decode(fragments)
            .map_err(|_| (Reason::COMPRESSION_ERROR, "header block does not decode"))?;
        Ok(Incoming::Headers {
            stream,
            end_stream,
            block,
        })
    }

    /// Trailers on a stream kept: they must end it, and follow its message's rules.
    pub(super) fn trailers(
        &mut self,
        stream: u32,
        end_stream: bool,
        fields: Vec<Field>,
    ) -> Result<(), Failure> {
        let Some(entry) = self.streams.get_mut(&stream) else {
            return Ok(());
        };
        let checked = if end_stream {
            S::check_trailers(&entry.message)
        } else {
            Err("trailers that do not end the stream")
        };
        if let Err(what) = checked {
            tracing::debug!(stream, what, "malformed trailers: stream reset");
            self.reset(stream, Reason::PROTOCOL_ERROR);
            return Ok(());
        }
        self.recv_headers(stream, true, S::trailers(stream, fields))
    }

    /// A head or trailers on a stream kept: its state moves, and `event` is handed up if
    /// the state took them.
    pub(super) fn recv_headers(
        &mut self,
        stream: u32,
        end_stream: bool,
        event: S::Event,
    ) -> Result<(), Failure> {
        let Some(entry) = self.streams.get_mut(&stream) else {
            return Ok(());
        };
        let received = entry.state.recv_headers(end_stream);
        self.forget_if_closed(stream);
        match received {
            Ok(Received::Taken) => {
                self.events.push_back(event);
                Ok(())
            }
            Ok(Received::Ignored) => Ok(()),
            Err(violation) => self.violation(stream, violation),
        }
    }

    /// DATA: counted against both windows, then held to the stream's state and message.
    fn data(
        &mut self,
        stream: u32,
        data: Bytes,
        end_stream: bool,
        flow_len: u32,
    ) -> Result<(), Failure> {
        self.recv.receive(flow_len).map_err(|FlowError| {
            (
                Reason::FLOW_CONTROL_ERROR,
                "DATA past the connection window",
            )
        })?;
        let Some(entry) = self.streams.get_mut(&stream) else {
            if self.never_opened(stream) {
                return Err((Reason::PROTOCOL_ERROR, "DATA on an idle stream"));
            }
            // A stream we no longer keep: its credit goes back at once.
            self.release_connection(flow_len);
            self.on_closed_stream(stream);
            return Ok(());
        };
        if entry.recv.receive(flow_len).is_err() {
            self.reset(stream, Reason::FLOW_CONTROL_ERROR);
            return Ok(());
        }
        if let Err(what) = S::check_data(&mut entry.message, data.len() as u64, end_stream) {
            tracing::debug!(stream, what, "malformed DATA: stream reset");
            self.release_connection(flow_len);
            self.reset(stream, Reason::PROTOCOL_ERROR);
            return Ok(());
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
                self.events.push_back(S::data(stream, data, end_stream));
                Ok(())
            }
            Ok(Received::Ignored) => {
                self.release(stream, flow_len);
                Ok(())
            }
            Err(violation) => self.violation(stream, violation),
        }
    }

    /// A frame the stream's state forbids: a stream error, or a connection error.
    fn violation(&mut self, stream: u32, violation: Violation) -> Result<(), Failure> {
        match violation {
            Violation::Stream(reason) => {
                self.reset(stream, reason);
                Ok(())
            }
            Violation::Connection(reason) => Err((reason, "a frame the stream's state forbids")),
        }
    }
}

/// Whether a frame asks for work: a header block (or a piece of one), data or the end of
/// a stream. Everything else costs the receiver for nothing when it comes in floods.
fn asks_for_work(frame: &Frame<'_>) -> bool {
    match frame {
        Frame::Headers { .. } | Frame::Continuation { .. } => true,
        Frame::Data {
            data, end_stream, ..
        } => !data.is_empty() || *end_stream,
        _ => false,
    }
}

fn connection_error(error: frame::Error) -> Failure {
    match error {
        frame::Error::Connection(reason, what) => (reason, what),
        // Not produced by `split`; a stream error here would be a bug in the caller.
        frame::Error::Stream(_, reason, what) => (reason, what),
    }
}
