//! HTTP/2 frames (RFC 9113, section 4 and 6): the 9-octet header, each frame type's
//! payload read and checked by the rules the RFC gives it, and frames written. No I/O:
//! [`split`] takes whole frames off the front of a buffer, [`parse`] reads one.
//!
//! Every rule broken is an [`Error`] that says what the RFC says to do about it: a
//! connection error (GOAWAY with the code) or a stream error (RST_STREAM with the code).

use std::fmt;

/// The frame header's length.
pub(crate) const HEADER_LEN: usize = 9;

/// SETTINGS_MAX_FRAME_SIZE's initial value, and the smallest it may be.
pub(crate) const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// The largest SETTINGS_MAX_FRAME_SIZE (2^24 - 1).
pub(crate) const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;

/// The largest flow-control window (2^31 - 1).
pub(crate) const MAX_WINDOW: u32 = (1 << 31) - 1;

/// The largest stream identifier (2^31 - 1).
pub(crate) const MAX_STREAM_ID: u32 = (1 << 31) - 1;

/// Frame types (section 6).
pub(crate) mod kind {
    pub(crate) const DATA: u8 = 0x0;
    pub(crate) const HEADERS: u8 = 0x1;
    pub(crate) const PRIORITY: u8 = 0x2;
    pub(crate) const RST_STREAM: u8 = 0x3;
    pub(crate) const SETTINGS: u8 = 0x4;
    pub(crate) const PUSH_PROMISE: u8 = 0x5;
    pub(crate) const PING: u8 = 0x6;
    pub(crate) const GOAWAY: u8 = 0x7;
    pub(crate) const WINDOW_UPDATE: u8 = 0x8;
    pub(crate) const CONTINUATION: u8 = 0x9;
}

/// Frame flags.
pub(crate) mod flag {
    pub(crate) const END_STREAM: u8 = 0x1;
    pub(crate) const ACK: u8 = 0x1;
    pub(crate) const END_HEADERS: u8 = 0x4;
    pub(crate) const PADDED: u8 = 0x8;
    pub(crate) const PRIORITY: u8 = 0x20;
}

/// Error codes (section 7); the constants are the ones used so far, and every code has its
/// name in `Debug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reason(pub(crate) u32);

impl Reason {
    pub(crate) const NO_ERROR: Reason = Reason(0x0);
    pub(crate) const PROTOCOL_ERROR: Reason = Reason(0x1);
    pub(crate) const FLOW_CONTROL_ERROR: Reason = Reason(0x3);
    pub(crate) const FRAME_SIZE_ERROR: Reason = Reason(0x6);
    pub(crate) const STREAM_CLOSED: Reason = Reason(0x5);
    pub(crate) const REFUSED_STREAM: Reason = Reason(0x7);
    pub(crate) const CANCEL: Reason = Reason(0x8);
    pub(crate) const COMPRESSION_ERROR: Reason = Reason(0x9);
    pub(crate) const ENHANCE_YOUR_CALM: Reason = Reason(0xb);

    fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "NO_ERROR",
            0x1 => "PROTOCOL_ERROR",
            0x2 => "INTERNAL_ERROR",
            0x3 => "FLOW_CONTROL_ERROR",
            0x4 => "SETTINGS_TIMEOUT",
            0x5 => "STREAM_CLOSED",
            0x6 => "FRAME_SIZE_ERROR",
            0x7 => "REFUSED_STREAM",
            0x8 => "CANCEL",
            0x9 => "COMPRESSION_ERROR",
            0xa => "CONNECT_ERROR",
            0xb => "ENHANCE_YOUR_CALM",
            0xc => "INADEQUATE_SECURITY",
            0xd => "HTTP_1_1_REQUIRED",
            _ => return None,
        })
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "Reason({:#x})", self.0),
        }
    }
}

/// A rule of section 6 broken by a frame, and what the RFC says to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Error {
    /// Close the connection: GOAWAY with this code.
    Connection(Reason, &'static str),
    /// Reset the stream: RST_STREAM with this code; the connection goes on.
    Stream(u32, Reason, &'static str),
}

/// A frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) len: u32,
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    /// The stream identifier, its reserved bit cleared.
    pub(crate) stream: u32,
}

impl Head {
    /// Reads a frame header.
    pub(crate) fn read(bytes: &[u8; HEADER_LEN]) -> Head {
        Head {
            len: u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]),
            kind: bytes[3],
            flags: bytes[4],
            stream: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & MAX_WINDOW,
        }
    }

    /// Appends this header.
    pub(crate) fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.len.to_be_bytes()[1..]);
        out.push(self.kind);
        out.push(self.flags);
        out.extend_from_slice(&(self.stream & MAX_WINDOW).to_be_bytes());
    }

    fn has(self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A whole frame at the front of a buffer: its header, its payload, and the bytes it took.
pub(crate) type Whole<'a> = (Head, &'a [u8], usize);

/// The next whole frame at the front of `buf`: its header and payload, and how many bytes
/// it took; `Ok(None)` until all of it has arrived. A frame longer than `max_frame_size`
/// (our SETTINGS_MAX_FRAME_SIZE) is a connection error of type FRAME_SIZE_ERROR: its
/// payload is not waited for.
pub(crate) fn split(buf: &[u8], max_frame_size: u32) -> Result<Option<Whole<'_>>, Error> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let head = Head::read(header);
    if head.len > max_frame_size {
        return Err(Error::Connection(
            Reason::FRAME_SIZE_ERROR,
            "frame larger than SETTINGS_MAX_FRAME_SIZE",
        ));
    }
    let end = HEADER_LEN + head.len as usize;
    Ok(buf.get(HEADER_LEN..end).map(|payload| (head, payload, end)))
}

/// A stream's priority as HEADERS or PRIORITY state it (parsed, then ignored: RFC 9113
/// deprecates the scheme).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Priority {
    pub(crate) depends_on: u32,
    pub(crate) exclusive: bool,
    pub(crate) weight: u8,
}

/// One setting (section 6.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setting {
    HeaderTableSize(u32),
    EnablePush(bool),
    MaxConcurrentStreams(u32),
    InitialWindowSize(u32),
    MaxFrameSize(u32),
    MaxHeaderListSize(u32),
}

/// A frame read and checked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    Data {
        stream: u32,
        /// The data without padding.
        data: &'a [u8],
        end_stream: bool,
        /// What the frame counts against flow control: its whole payload, padding included.
        flow_len: u32,
    },
    Headers {
        stream: u32,
        /// The header block fragment, without padding or priority.
        block: &'a [u8],
        end_stream: bool,
        end_headers: bool,
        priority: Option<Priority>,
    },
    Priority {
        stream: u32,
        priority: Priority,
    },
    Reset {
        stream: u32,
        reason: Reason,
    },
    Settings {
        ack: bool,
        settings: Vec<Setting>,
    },
    PushPromise {
        stream: u32,
    },
    Ping {
        ack: bool,
        payload: [u8; 8],
    },
    GoAway {
        last_stream: u32,
        reason: Reason,
        debug: &'a [u8],
    },
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
    Continuation {
        stream: u32,
        block: &'a [u8],
        end_headers: bool,
    },
    /// A type this implementation does not know: ignored (section 4.1).
    Unknown {
        kind: u8,
    },
}

/// Reads one frame's payload by the rules of its type (section 6).
pub(crate) fn parse(head: Head, payload: &[u8]) -> Result<Frame<'_>, Error> {
    use Error::{Connection, Stream};
    let on_stream = |what: &'static str| {
        if head.stream == 0 {
            Err(Connection(Reason::PROTOCOL_ERROR, what))
        } else {
            Ok(())
        }
    };
    let on_connection = |what: &'static str| {
        if head.stream != 0 {
            Err(Connection(Reason::PROTOCOL_ERROR, what))
        } else {
            Ok(())
        }
    };
    let stream = head.stream;
    match head.kind {
        kind::DATA => {
            on_stream("DATA on stream 0")?;
            let data = unpad(head, payload)?;
            Ok(Frame::Data {
                stream,
                data,
                end_stream: head.has(flag::END_STREAM),
                flow_len: head.len,
            })
        }
        kind::HEADERS => {
            on_stream("HEADERS on stream 0")?;
            let mut block = unpad(head, payload)?;
            let priority = if head.has(flag::PRIORITY) {
                let Some((fields, rest)) = block.split_first_chunk::<5>() else {
                    return Err(Connection(
                        Reason::FRAME_SIZE_ERROR,
                        "HEADERS too short for its priority",
                    ));
                };
                block = rest;
                let priority = read_priority(fields);
                if priority.depends_on == stream {
                    return Err(Stream(
                        stream,
                        Reason::PROTOCOL_ERROR,
                        "a stream that depends on itself",
                    ));
                }
                Some(priority)
            } else {
                None
            };
            Ok(Frame::Headers {
                stream,
                block,
                end_stream: head.has(flag::END_STREAM),
                end_headers: head.has(flag::END_HEADERS),
                priority,
            })
        }
        kind::PRIORITY => {
            on_stream("PRIORITY on stream 0")?;
            let Some(fields) = payload.first_chunk::<5>().filter(|_| payload.len() == 5) else {
                return Err(Stream(
                    stream,
                    Reason::FRAME_SIZE_ERROR,
                    "PRIORITY not 5 octets",
                ));
            };
            let priority = read_priority(fields);
            if priority.depends_on == stream {
                return Err(Stream(
                    stream,
                    Reason::PROTOCOL_ERROR,
                    "a stream that depends on itself",
                ));
            }
            Ok(Frame::Priority { stream, priority })
        }
        kind::RST_STREAM => {
            on_stream("RST_STREAM on stream 0")?;
            let code = exactly::<4>(payload, "RST_STREAM not 4 octets")?;
            Ok(Frame::Reset {
                stream,
                reason: Reason(u32::from_be_bytes(code)),
            })
        }
        kind::SETTINGS => {
            on_connection("SETTINGS on a stream")?;
            let ack = head.has(flag::ACK);
            if ack && !payload.is_empty() {
                return Err(Connection(
                    Reason::FRAME_SIZE_ERROR,
                    "SETTINGS ACK with a payload",
                ));
            }
            if payload.len() % 6 != 0 {
                return Err(Connection(
                    Reason::FRAME_SIZE_ERROR,
                    "SETTINGS not a multiple of 6 octets",
                ));
            }
            let settings = payload
                .chunks_exact(6)
                .filter_map(|entry| {
                    let id = u16::from_be_bytes([entry[0], entry[1]]);
                    let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
                    read_setting(id, value).transpose()
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Frame::Settings { ack, settings })
        }
        kind::PUSH_PROMISE => {
            on_stream("PUSH_PROMISE on stream 0")?;
            Ok(Frame::PushPromise { stream })
        }
        kind::PING => {
            on_connection("PING on a stream")?;
            let payload = exactly::<8>(payload, "PING not 8 octets")?;
            Ok(Frame::Ping {
                ack: head.has(flag::ACK),
                payload,
            })
        }
        kind::GOAWAY => {
            on_connection("GOAWAY on a stream")?;
            let Some((fixed, debug)) = payload.split_first_chunk::<8>() else {
                return Err(Connection(
                    Reason::FRAME_SIZE_ERROR,
                    "GOAWAY shorter than 8 octets",
                ));
            };
            Ok(Frame::GoAway {
                last_stream: u32::from_be_bytes([fixed[0], fixed[1], fixed[2], fixed[3]])
                    & MAX_WINDOW,
                reason: Reason(u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]])),
                debug,
            })
        }
        kind::WINDOW_UPDATE => {
            let increment =
                u32::from_be_bytes(exactly::<4>(payload, "WINDOW_UPDATE not 4 octets")?)
                    & MAX_WINDOW;
            if increment == 0 {
                let what = "WINDOW_UPDATE of 0";
                return Err(if stream == 0 {
                    Connection(Reason::PROTOCOL_ERROR, what)
                } else {
                    Stream(stream, Reason::PROTOCOL_ERROR, what)
                });
            }
            Ok(Frame::WindowUpdate { stream, increment })
        }
        kind::CONTINUATION => {
            on_stream("CONTINUATION on stream 0")?;
            Ok(Frame::Continuation {
                stream,
                block: payload,
                end_headers: head.has(flag::END_HEADERS),
            })
        }
        kind => Ok(Frame::Unknown { kind }),
    }
}

/// A payload of exactly `N` octets; otherwise a FRAME_SIZE_ERROR of the connection.
fn exactly<const N: usize>(payload: &[u8], what: &'static str) -> Result<[u8; N], Error> {
    payload
        .try_into()
        .map_err(|_| Error::Connection(Reason::FRAME_SIZE_ERROR, what))
}

/// The payload of a DATA or HEADERS frame without its padding (section 6.1).
fn unpad(head: Head, payload: &[u8]) -> Result<&[u8], Error> {
    if !head.has(flag::PADDED) {
        return Ok(payload);
    }
    let Some((&pad, rest)) = payload.split_first() else {
        return Err(Error::Connection(
            Reason::FRAME_SIZE_ERROR,
            "PADDED frame without its pad length",
        ));
    };
    let pad = usize::from(pad);
    if pad > rest.len() {
        // The padding's length is the payload's length or more (section 6.1).
        return Err(Error::Connection(
            Reason::PROTOCOL_ERROR,
            "padding longer than the payload",
        ));
    }
    Ok(&rest[..rest.len() - pad])
}

fn read_priority(fields: &[u8; 5]) -> Priority {
    let word = u32::from_be_bytes([fields[0], fields[1], fields[2], fields[3]]);
    Priority {
        depends_on: word & MAX_WINDOW,
        exclusive: word & !MAX_WINDOW != 0,
        weight: fields[4],
    }
}

/// One setting, checked (section 6.5.2); `None` for an identifier this implementation does
/// not know, which is ignored.
fn read_setting(id: u16, value: u32) -> Result<Option<Setting>, Error> {
    use Error::Connection;
    Ok(Some(match id {
        0x1 => Setting::HeaderTableSize(value),
        0x2 => match value {
            0 | 1 => Setting::EnablePush(value == 1),
            _ => {
                return Err(Connection(
                    Reason::PROTOCOL_ERROR,
                    "SETTINGS_ENABLE_PUSH not 0 or 1",
                ))
            }
        },
        0x3 => Setting::MaxConcurrentStreams(value),
        0x4 if value > MAX_WINDOW => {
            return Err(Connection(
                Reason::FLOW_CONTROL_ERROR,
                "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
            ));
        }
        0x4 => Setting::InitialWindowSize(value),
        0x5 if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) => {
            return Err(Connection(
                Reason::PROTOCOL_ERROR,
                "SETTINGS_MAX_FRAME_SIZE out of range",
            ));
        }
        0x5 => Setting::MaxFrameSize(value),
        0x6 => Setting::MaxHeaderListSize(value),
        _ => return Ok(None),
    }))
}

/// Writing frames.
pub(crate) mod write {
    use super::{flag, kind, Head, Reason, Setting};

    /// A SETTINGS frame.
    pub(crate) fn settings(settings: &[Setting], out: &mut Vec<u8>) {
        Head {
            len: 6 * settings.len() as u32,
            kind: kind::SETTINGS,
            flags: 0,
            stream: 0,
        }
        .write(out);
        for setting in settings {
            let (id, value): (u16, u32) = match *setting {
                Setting::HeaderTableSize(v) => (0x1, v),
                Setting::EnablePush(v) => (0x2, u32::from(v)),
                Setting::MaxConcurrentStreams(v) => (0x3, v),
                Setting::InitialWindowSize(v) => (0x4, v),
                Setting::MaxFrameSize(v) => (0x5, v),
                Setting::MaxHeaderListSize(v) => (0x6, v),
            };
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&value.to_be_bytes());
        }
    }

    /// A SETTINGS acknowledgement.
    pub(crate) fn settings_ack(out: &mut Vec<u8>) {
        Head {
            len: 0,
            kind: kind::SETTINGS,
            flags: flag::ACK,
            stream: 0,
        }
        .write(out);
    }

    /// A PING, or its acknowledgement.
    pub(crate) fn ping(ack: bool, payload: [u8; 8], out: &mut Vec<u8>) {
        let flags = if ack { flag::ACK } else { 0 };
        Head {
            len: 8,
            kind: kind::PING,
            flags,
            stream: 0,
        }
        .write(out);
        out.extend_from_slice(&payload);
    }

    /// A GOAWAY with debug data (e.g. `too_many_pings`).
    pub(crate) fn goaway(last_stream: u32, reason: Reason, debug: &[u8], out: &mut Vec<u8>) {
        Head {
            len: 8 + debug.len() as u32,
            kind: kind::GOAWAY,
            flags: 0,
            stream: 0,
        }
        .write(out);
        out.extend_from_slice(&last_stream.to_be_bytes());
        out.extend_from_slice(&reason.0.to_be_bytes());
        out.extend_from_slice(debug);
    }

    /// A WINDOW_UPDATE.
    pub(crate) fn window_update(stream: u32, increment: u32, out: &mut Vec<u8>) {
        Head {
            len: 4,
            kind: kind::WINDOW_UPDATE,
            flags: 0,
            stream,
        }
        .write(out);
        out.extend_from_slice(&increment.to_be_bytes());
    }

    /// An RST_STREAM.
    pub(crate) fn reset(stream: u32, reason: Reason, out: &mut Vec<u8>) {
        Head {
            len: 4,
            kind: kind::RST_STREAM,
            flags: 0,
            stream,
        }
        .write(out);
        out.extend_from_slice(&reason.0.to_be_bytes());
    }

    /// A DATA frame's header; its `len` bytes of data follow.
    pub(crate) fn data_head(stream: u32, len: u32, end_stream: bool, out: &mut Vec<u8>) {
        let flags = if end_stream { flag::END_STREAM } else { 0 };
        Head {
            len,
            kind: kind::DATA,
            flags,
            stream,
        }
        .write(out);
    }

    /// A header block as HEADERS and as many CONTINUATIONs as `max_frame_size` requires.
    pub(crate) fn headers(
        stream: u32,
        block: &[u8],
        end_stream: bool,
        max_frame_size: u32,
        out: &mut Vec<u8>,
    ) {
        let max = max_frame_size as usize;
        let mut chunks = block.chunks(max.max(1)).peekable();
        let first = chunks.next().unwrap_or_default();
        let mut flags = if end_stream { flag::END_STREAM } else { 0 };
        if chunks.peek().is_none() {
            flags |= flag::END_HEADERS;
        }
        Head {
            len: first.len() as u32,
            kind: kind::HEADERS,
            flags,
            stream,
        }
        .write(out);
        out.extend_from_slice(first);
        while let Some(chunk) = chunks.next() {
            let flags = if chunks.peek().is_none() {
                flag::END_HEADERS
            } else {
                0
            };
            Head {
                len: chunk.len() as u32,
                kind: kind::CONTINUATION,
                flags,
                stream,
            }
            .write(out);
            out.extend_from_slice(chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        Head {
            len: payload.len() as u32,
            kind,
            flags,
            stream,
        }
        .write(&mut out);
        out.extend_from_slice(payload);
        out
    }

    fn parsed(bytes: &[u8]) -> Result<Frame<'_>, Error> {
        let (head, payload, used) = split(bytes, DEFAULT_MAX_FRAME_SIZE)?.expect("a whole frame");
        assert_eq!(used, bytes.len());
        parse(head, payload)
    }

    #[test]
    fn frames_are_taken_whole_and_oversized_ones_refused_before_their_payload() {
        let bytes = frame(kind::PING, 0, 0, &[1; 8]);
        assert_eq!(split(&bytes[..8], 16_384), Ok(None));
        assert_eq!(split(&bytes[..12], 16_384), Ok(None));
        let mut big = Vec::new();
        Head {
            len: 16_385,
            kind: kind::DATA,
            flags: 0,
            stream: 1,
        }
        .write(&mut big);
        assert_eq!(
            split(&big, 16_384),
            Err(Error::Connection(
                Reason::FRAME_SIZE_ERROR,
                "frame larger than SETTINGS_MAX_FRAME_SIZE"
            ))
        );
        // The reserved bit of the stream identifier is ignored.
        let mut reserved = frame(kind::PING, 0, 0, &[0; 8]);
        reserved[5] |= 0x80;
        assert_eq!(Head::read(reserved.first_chunk().unwrap()).stream, 0);
    }

    #[test]
    fn data_and_headers_lose_their_padding_and_priority() {
        let bytes = frame(
            kind::DATA,
            flag::PADDED | flag::END_STREAM,
            1,
            &[2, b'h', b'i', 0, 0],
        );
        assert_eq!(
            parsed(&bytes),
            Ok(Frame::Data {
                stream: 1,
                data: b"hi",
                end_stream: true,
                flow_len: 5
            })
        );
        let payload = [1, 0x80, 0, 0, 3, 15, 0x82, 0];
        let bytes = frame(
            kind::HEADERS,
            flag::PADDED | flag::PRIORITY | flag::END_HEADERS,
            5,
            &payload,
        );
        let priority = Priority {
            depends_on: 3,
            exclusive: true,
            weight: 15,
        };
        assert_eq!(
            parsed(&bytes),
            Ok(Frame::Headers {
                stream: 5,
                block: &[0x82],
                end_stream: false,
                end_headers: true,
                priority: Some(priority)
            })
        );
    }

    #[test]
    fn each_broken_rule_gets_the_rfcs_error() {
        use Error::{Connection, Stream};
        let cases: Vec<(Vec<u8>, Reason, bool)> = vec![
            (frame(kind::DATA, 0, 0, b"x"), Reason::PROTOCOL_ERROR, true),
            (
                frame(kind::DATA, flag::PADDED, 1, &[5, 1, 2]),
                Reason::PROTOCOL_ERROR,
                true,
            ),
            (
                frame(kind::DATA, flag::PADDED, 1, &[]),
                Reason::FRAME_SIZE_ERROR,
                true,
            ),
            (
                frame(kind::HEADERS, flag::PRIORITY, 3, &[0, 0, 0, 3, 0]),
                Reason::PROTOCOL_ERROR,
                false,
            ),
            (
                frame(kind::PRIORITY, 0, 3, &[0, 0, 0, 1]),
                Reason::FRAME_SIZE_ERROR,
                false,
            ),
            (
                frame(kind::RST_STREAM, 0, 0, &[0; 4]),
                Reason::PROTOCOL_ERROR,
                true,
            ),
            (
                frame(kind::RST_STREAM, 0, 1, &[0; 3]),
                Reason::FRAME_SIZE_ERROR,
                true,
            ),
            (
                frame(kind::SETTINGS, 0, 1, &[]),
                Reason::PROTOCOL_ERROR,
                true,
            ),
            (
                frame(kind::SETTINGS, flag::ACK, 0, &[0; 6]),
                Reason::FRAME_SIZE_ERROR,
                true,
            ),
            (
                frame(kind::SETTINGS, 0, 0, &[0; 5]),
                Reason::FRAME_SIZE_ERROR,
                true,
            ),
            (
                frame(kind::SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 2]),
                Reason::PROTOCOL_ERROR,
                true,
            ),
            (
                frame(kind::SETTINGS, 0, 0, &[0, 4, 0x80, 0, 0, 0]),
                Reason::FLOW_CONTROL_ERROR,
                true,
            ),
            (
                frame(kind::SETTINGS, 0, 0, &[0, 5, 0, 0, 0x3f, 0xff]),
                Reason::PROTOCOL_ERROR,
                true,
            ),
            (
                frame(kind::PING, 0, 1, &[0; 8]),
                Reason::PROTOCOL_ERROR,
                true,
            ),
            (
                frame(kind::PING, 0, 0, &[0; 7]),
                Reason::FRAME_SIZE_ERROR,
                true,
            ),
            (
                frame(kind::GOAWAY, 0, 0, &[0; 7]),
                Reason::FRAME_SIZE_ERROR,
                true,
            ),
            (
                frame(kind::WINDOW_UPDATE, 0, 0, &[0; 4]),
                Reason::PROTOCOL_ERROR,
                true,
            ),
            (
                frame(kind::WINDOW_UPDATE, 0, 1, &[0; 4]),
                Reason::PROTOCOL_ERROR,
                false,
            ),
            (
                frame(kind::WINDOW_UPDATE, 0, 1, &[0; 5]),
                Reason::FRAME_SIZE_ERROR,
                true,
            ),
            (
                frame(kind::CONTINUATION, 0, 0, &[]),
                Reason::PROTOCOL_ERROR,
                true,
            ),
        ];
        for (bytes, reason, connection) in cases {
            match parsed(&bytes) {
                Err(Connection(got, _)) if connection => assert_eq!(got, reason, "{bytes:x?}"),
                Err(Stream(_, got, _)) if !connection => assert_eq!(got, reason, "{bytes:x?}"),
                other => panic!("{bytes:x?}: {other:?}"),
            }
        }
    }

    #[test]
    fn what_is_written_reads_back() {
        let mut out = Vec::new();
        let settings = [
            Setting::HeaderTableSize(0),
            Setting::EnablePush(false),
            Setting::MaxFrameSize(1 << 20),
            Setting::InitialWindowSize(MAX_WINDOW),
        ];
        write::settings(&settings, &mut out);
        assert_eq!(
            parsed(&out),
            Ok(Frame::Settings {
                ack: false,
                settings: settings.to_vec()
            })
        );
        // Unknown settings and frame types are ignored.
        let unknown = frame(kind::SETTINGS, 0, 0, &[0, 0x99, 0, 0, 0, 1]);
        assert_eq!(
            parsed(&unknown),
            Ok(Frame::Settings {
                ack: false,
                settings: vec![]
            })
        );
        assert_eq!(
            parsed(&frame(0x42, 0, 7, b"?")),
            Ok(Frame::Unknown { kind: 0x42 })
        );

        let mut out = Vec::new();
        write::goaway(7, Reason(0xb), b"too_many_pings", &mut out);
        assert_eq!(
            parsed(&out),
            Ok(Frame::GoAway {
                last_stream: 7,
                reason: Reason(0xb),
                debug: b"too_many_pings"
            })
        );

        let mut out = Vec::new();
        write::ping(true, *b"12345678", &mut out);
        write::window_update(3, 100, &mut out);
        write::reset(3, Reason(0x8), &mut out);
        write::settings_ack(&mut out);
        write::data_head(3, 2, true, &mut out);
        out.extend_from_slice(b"ok");
        let mut rest = out.as_slice();
        let mut frames = Vec::new();
        while let Some((head, payload, used)) = split(rest, DEFAULT_MAX_FRAME_SIZE).unwrap() {
            frames.push(format!("{:?}", parse(head, payload).unwrap()));
            rest = &rest[used..];
        }
        assert_eq!(frames.len(), 5);
        assert!(frames[0].contains("Ping { ack: true"), "{frames:?}");
        assert!(frames[2].contains("CANCEL"), "{frames:?}");
        assert!(frames[4].contains("end_stream: true"), "{frames:?}");
    }

    #[test]
    fn a_large_header_block_is_split_into_continuations() {
        let block: Vec<u8> = (0..40).collect();
        let mut out = Vec::new();
        write::headers(1, &block, true, 16, &mut out);
        let mut rest = out.as_slice();
        let mut joined = Vec::new();
        let mut kinds = Vec::new();
        while let Some((head, payload, used)) = split(rest, 16).unwrap() {
            kinds.push((
                head.kind,
                head.has(flag::END_HEADERS),
                head.has(flag::END_STREAM),
            ));
            joined.extend_from_slice(payload);
            rest = &rest[used..];
        }
        assert_eq!(joined, block);
        assert_eq!(
            kinds,
            [
                (kind::HEADERS, false, true),
                (kind::CONTINUATION, false, false),
                (kind::CONTINUATION, true, false)
            ]
        );
    }
}
