//! Telling HTTP/2 from HTTP/1.1 on a new connection by its first bytes (an HTTP/2 client
//! starts with the connection preface), without losing them: the bytes read are replayed
//! before the rest of the stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The HTTP/2 connection preface (RFC 9113, section 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A stream whose first bytes, already read, are read again first.
#[derive(Debug)]
pub(crate) struct Rewound<IO> {
    head: Bytes,
    io: IO,
}

/// The longest request line read to decide; a longer one is HTTP/1.1's to judge.
const MAX_REQUEST_LINE: usize = 8 * 1024;

/// Reads until the first bytes decide: `false` for HTTP/1.1 (a request line ending in
/// `HTTP/1.1` or `HTTP/1.0`), `true` for everything else: the preface (or a prefix of it
/// when the stream ended early), and bytes that are neither, which the HTTP/2 side then
/// answers as the invalid preface they are (GOAWAY PROTOCOL_ERROR, RFC 9113 3.4).
pub(crate) async fn is_http2<IO: AsyncRead + Unpin>(mut io: IO) -> io::Result<(bool, Rewound<IO>)> {
    let mut head = Vec::with_capacity(PREFACE.len());
    let http2 = loop {
        if let Some(http2) = decide(&head) {
            break http2;
        }
        let mut chunk = [0u8; 512];
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            break PREFACE.starts_with(&head) || !looks_like_http1(&head);
        }
        head.extend_from_slice(&chunk[..n]);
    };
    Ok((
        http2,
        Rewound {
            head: Bytes::from(head),
            io,
        },
    ))
}

/// What the bytes so far say, once they say it.
fn decide(head: &[u8]) -> Option<bool> {
    if head.starts_with(PREFACE) {
        return Some(true);
    }
    if PREFACE.starts_with(head) {
        return None; // the preface, so far
    }
    let end = head
        .iter()
        .position(|&b| b == b'\n' || !(b == b'\r' || (0x20..0x7f).contains(&b)));
    match end {
        Some(i) if head[i] == b'\n' => Some(!is_http1_line(&head[..i])),
        // A byte no request line has (a TLS hello, binary): not HTTP/1.1.
        Some(_) => Some(true),
        None if head.len() >= MAX_REQUEST_LINE => Some(false),
        None => None,
    }
}

/// Whether `line` (without its LF) is an HTTP/1.x request line.
fn is_http1_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0")
}

/// Whether a stream that ended after `head` may have been HTTP/1.1 (a request line cut
/// short): hyper answers it.
fn looks_like_http1(head: &[u8]) -> bool {
    !head.is_empty()
        && head
            .iter()
            .all(|&b| b == b'\r' || (0x20..0x7f).contains(&b))
}

impl<IO: AsyncRead + Unpin> AsyncRead for Rewound<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.head.has_remaining() {
            let n = self.head.len().min(buf.remaining());
            buf.put_slice(&self.head[..n]);
            self.head.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Rewound<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn sniff(sent: &'static [u8]) -> (bool, Vec<u8>) {
        let (mut client, server) = tokio::io::duplex(1024);
        client.write_all(sent).await.unwrap();
        drop(client);
        let (http2, mut rewound) = is_http2(server).await.unwrap();
        let mut all = Vec::new();
        rewound.read_to_end(&mut all).await.unwrap();
        (http2, all)
    }

    #[tokio::test]
    async fn the_preface_means_http2_and_every_byte_is_read_again() {
        let mut h2 = PREFACE.to_vec();
        h2.extend_from_slice(b"\x00\x00\x00\x04");
        let h2: &'static [u8] = Box::leak(h2.into_boxed_slice());
        assert_eq!(sniff(h2).await, (true, h2.to_vec()));
        let h1: &[u8] = b"POST /a.B/C HTTP/1.1\r\nhost: x\r\n\r\n";
        assert_eq!(sniff(h1).await, (false, h1.to_vec()));
        assert_eq!(sniff(b"PRI").await, (true, b"PRI".to_vec()));
        assert_eq!(sniff(b"").await, (true, Vec::new()));
        let h10: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
        assert_eq!(sniff(h10).await, (false, h10.to_vec()));
    }

    #[tokio::test]
    async fn neither_the_preface_nor_a_request_line_goes_to_http2() {
        // Answered there as an invalid preface: GOAWAY PROTOCOL_ERROR.
        let line: &[u8] = b"INVALID CONNECTION PREFACE\r\n\r\n";
        assert_eq!(sniff(line).await, (true, line.to_vec()));
        let tls: &[u8] = b"\x16\x03\x01\x02\x00\x01";
        assert_eq!(sniff(tls).await, (true, tls.to_vec()));
        // A request line cut short by the end of the stream: HTTP/1.1's to answer.
        assert_eq!(sniff(b"GET /a").await, (false, b"GET /a".to_vec()));
    }
}
