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

/// Reads until the first bytes decide: `true` for HTTP/2 (they are the preface, or a
/// prefix of it when the stream ended early), `false` for anything else.
pub(crate) async fn is_http2<IO: AsyncRead + Unpin>(mut io: IO) -> io::Result<(bool, Rewound<IO>)> {
    let mut head = Vec::with_capacity(PREFACE.len());
    while head.len() < PREFACE.len() {
        let mut byte = [0u8; 24];
        let want = PREFACE.len() - head.len();
        let n = io.read(&mut byte[..want]).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&byte[..n]);
        if !PREFACE.starts_with(&head) {
            break;
        }
    }
    let http2 = PREFACE.starts_with(&head);
    Ok((
        http2,
        Rewound {
            head: Bytes::from(head),
            io,
        },
    ))
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
    }
}
