//! The socket under a connection on wirecall's own HTTP/2 engine, for its driver (a server's
//! or a client's): reads into one buffer whose bytes go up without a copy, and writes what
//! the connection produced in as few writes as the socket takes.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The room each read gets: small while a connection is quiet (an idle connection holds
/// little), large once a read fills it.
const READ_SIZE: usize = 4 * 1024;
const READ_SIZE_BUSY: usize = 64 * 1024;

/// A read this small is taken as the last of a burst: with nothing more to read, the
/// buffer is let go (an idle connection holds none). After a larger one the buffer is kept
/// for the next turn: freeing and allocating it every turn costs more than the reading
/// (glibc hands the memory back to the kernel, a `madvise` per turn, and takes it again).
const SMALL_READ: usize = 1024;

/// A connection's socket and its buffers.
pub(crate) struct Socket<IO> {
    io: IO,
    /// What reads fill.
    buf: BytesMut,
    /// The room the next read gets.
    read_size: usize,
    /// How many bytes the last read took.
    last_read: usize,
    /// Bytes being written, and how many of them are.
    out: Vec<u8>,
    written: usize,
    /// The peer closed its side, or the socket failed.
    ended: bool,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Socket<IO> {
    /// `io`, with empty buffers.
    pub(crate) fn new(io: IO) -> Socket<IO> {
        Socket {
            io,
            buf: BytesMut::new(),
            read_size: READ_SIZE,
            last_read: 0,
            out: Vec::new(),
            written: 0,
            ended: false,
        }
    }

    /// Whether the peer closed its side, or the socket failed.
    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }

    /// The bytes one read took (`None` once the socket ended), or pending until it has
    /// some.
    pub(crate) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Option<BytesMut>> {
        if self.ended {
            return Poll::Ready(None);
        }
        self.buf.reserve(self.read_size);
        let room = self.buf.capacity() - self.buf.len();
        match pin!(self.io.read_buf(&mut self.buf)).poll(cx) {
            Poll::Ready(Ok(0)) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Ok(n)) => {
                self.read_size = if n == room { READ_SIZE_BUSY } else { READ_SIZE };
                self.last_read = n;
                Poll::Ready(Some(self.buf.split()))
            }
            Poll::Ready(Err(err)) => {
                tracing::debug!(%err, "connection read failed");
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if self.buf.is_empty() && self.last_read < SMALL_READ {
                    // Nothing to read for now after a small read: a quiet connection
                    // holds no buffer.
                    self.buf = BytesMut::new();
                }
                Poll::Pending
            }
        }
    }

    /// Bytes handed to [`Socket::output`] not yet written.
    pub(crate) fn unsent(&self) -> usize {
        self.out.len() - self.written
    }

    /// Where to put more bytes to write.
    pub(crate) fn output(&mut self) -> &mut Vec<u8> {
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        }
        &mut self.out
    }

    /// Writes what [`Socket::output`] holds: ready once all of it is written (or the socket
    /// failed), pending while the socket takes no more.
    pub(crate) fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while self.written < self.out.len() {
            match Pin::new(&mut self.io).poll_write(cx, &self.out[self.written..]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    tracing::debug!("connection write failed");
                    self.ended = true;
                    self.written = self.out.len();
                }
                Poll::Ready(Ok(n)) => self.written += n,
                Poll::Pending => return Poll::Pending,
            }
        }
        match Pin::new(&mut self.io).poll_flush(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(()),
        }
    }

    /// The last bytes written within `linger`, the socket shut down, then what the peer
    /// still sends read for up to `linger`, so that closing does not reset what it has not
    /// read.
    pub(crate) async fn close(mut self, linger: Duration) {
        let _ = tokio::time::timeout(linger, poll_fn(|cx| self.poll_write(cx))).await;
        let _ = self.io.shutdown().await;
        if linger.is_zero() {
            return;
        }
        // On the heap: an array here would be part of every connection's future.
        let mut sink = vec![0u8; 4096];
        let _ = tokio::time::timeout(linger, async {
            while let Ok(n) = self.io.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }
}
