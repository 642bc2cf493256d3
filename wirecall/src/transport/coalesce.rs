//! Write coalescing under h2: one socket write per turn of the connection task, not one
//! per DATA frame.
//!
//! h2 (0.4) keeps at most one DATA frame of over 256 bytes queued in its encoder and
//! flushes the socket before it takes the next (h2 issue #902), so a stream of 16 KiB
//! frames costs one `writev` each, and on loopback the kernel's per-write work (the
//! receiving side's softirq included) dominates the server's CPU time. [`Coalesced`]
//! sits between h2 and the socket: writes land in a buffer, the flushes h2 asks for
//! between frames are noted but deferred, and [`Flusher::turn`], around every poll of h2
//! by the task that drives the connection, writes what gathered when h2 has done all it
//! can (and the first answers of a turn as soon as there are some). A buffer past
//! [`FLUSH_AT`] is written at once, so memory stays bounded and large responses do not
//! wait.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many buffered bytes make a write happen without waiting for the end of the turn.
pub(crate) const FLUSH_AT: usize = 64 * 1024;

/// Sees the bytes of a connection go by, both ways (the server's ping policy).
pub(crate) trait Observe: Send {
    /// Bytes read from the peer.
    fn read(&mut self, bytes: &[u8]);
    /// Bytes handed to the socket (or its buffer), in order.
    fn wrote(&mut self, bytes: &[u8]);
}

/// The socket and what is waiting to be written to it.
struct Shared<IO> {
    io: IO,
    observer: Option<Box<dyn Observe>>,
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    written: usize,
    /// A deferred write that failed: h2 gets it from its next read or write.
    failed: Option<io::ErrorKind>,
    /// Whether this turn wrote its first answers already.
    wrote_early: bool,
}

impl<IO: AsyncWrite + Unpin> Shared<IO> {
    fn pending(&self) -> usize {
        self.buf.len() - self.written
    }

    /// Writes out everything buffered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buf.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Makes room for `len` more bytes: drains first if they would pass [`FLUSH_AT`].
    fn poll_room(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<()>> {
        if self.pending() > 0 && self.pending() + len > FLUSH_AT {
            ready!(self.poll_drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO> std::fmt::Debug for Shared<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("pending", &(self.buf.len() - self.written))
            .finish_non_exhaustive()
    }
}

/// The socket as h2 sees it; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Coalesced<IO> {
    shared: Arc<Mutex<Shared<IO>>>,
}

/// The handle that writes out what [`Coalesced`] gathered.
#[derive(Debug)]
pub(crate) struct Flusher<IO> {
    shared: Arc<Mutex<Shared<IO>>>,
}

/// Wraps `io`; drive the returned [`Flusher`] from the same task as the connection.
pub(crate) fn coalesce<IO>(io: IO) -> (Coalesced<IO>, Flusher<IO>) {
    coalesce_observed(io, None)
}

/// Like [`coalesce`], with `observer` shown every byte read and written.
pub(crate) fn coalesce_observed<IO>(
    io: IO,
    observer: Option<Box<dyn Observe>>,
) -> (Coalesced<IO>, Flusher<IO>) {
    let shared = Arc::new(Mutex::new(Shared {
        io,
        observer,
        buf: Vec::new(),
        written: 0,
        failed: None,
        wrote_early: false,
    }));
    (
        Coalesced {
            shared: shared.clone(),
        },
        Flusher { shared },
    )
}

fn lock<IO>(shared: &Mutex<Shared<IO>>) -> MutexGuard<'_, Shared<IO>> {
    // Nothing panics while holding the lock but the socket itself; its state stays usable.
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl<IO: AsyncWrite + Unpin> Flusher<IO> {
    /// Writes out and flushes whatever has been gathered; `Pending` until the socket took
    /// it all (the task is woken when it can take more).
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut shared = lock(&self.shared);
        if shared.pending() == 0 {
            return Poll::Ready(Ok(()));
        }
        ready!(shared.poll_drain(cx))?;
        Pin::new(&mut shared.io).poll_flush(cx)
    }

    /// One step of the task that drives the connection: runs `poll` (h2's) and decides
    /// whether what h2 wrote meanwhile goes out now. When `poll` is `Pending`, h2 has done
    /// all it can: the end of the turn, everything is written. While h2 keeps answering
    /// `Ready` (a server accepting one stream after another, each answered at once), writes
    /// gather, except that the first answers of a turn go out as soon as there are some,
    /// so that the peer can work on them while this side answers the rest (a client and a
    /// server would otherwise take turns idling). A failed write is kept for h2's next read
    /// or write, and the task is woken so that h2 meets it.
    pub(crate) fn turn<T>(
        &self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let turn = poll(cx);
        let write_now = {
            let mut shared = lock(&self.shared);
            if turn.is_pending() {
                shared.wrote_early = false;
                true
            } else if !shared.wrote_early && shared.pending() > 0 {
                shared.wrote_early = true;
                true
            } else {
                false
            }
        };
        if write_now {
            if let Poll::Ready(Err(err)) = self.poll_flush(cx) {
                lock(&self.shared).failed = Some(err.kind());
                cx.waker().wake_by_ref();
            }
        }
        turn
    }
}

/// The most a closing connection reads and drops before it closes anyway.
const LINGER_BYTES: usize = 1024 * 1024;
/// How much it reads in one poll before it lets other tasks run.
const LINGER_BYTES_PER_POLL: usize = 64 * 1024;

impl<IO: AsyncRead + AsyncWrite + Unpin> Flusher<IO> {
    /// Closes the connection once h2 is done with it: writes what is left, shuts the
    /// write side, then reads and drops whatever the peer still sends until it closes too,
    /// `limit` passes or [`LINGER_BYTES`] have been dropped. Closing with unread data would
    /// make the kernel answer with a reset, and a reset can destroy the GOAWAY the peer has
    /// not read yet. The reading yields every [`LINGER_BYTES_PER_POLL`], so that a peer
    /// flooding a closing connection cannot hold the thread.
    pub(crate) async fn linger(&self, limit: std::time::Duration) {
        let mut dropped = 0;
        let close = std::future::poll_fn(|cx| {
            let mut shared = lock(&self.shared);
            if shared.poll_drain(cx).is_pending() {
                return Poll::Pending;
            }
            if Pin::new(&mut shared.io).poll_shutdown(cx).is_pending() {
                return Poll::Pending;
            }
            let mut scratch = [0u8; 4096];
            let mut this_poll = 0;
            loop {
                let mut buf = ReadBuf::new(&mut scratch);
                match Pin::new(&mut shared.io).poll_read(cx, &mut buf) {
                    Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(()),
                    Poll::Ready(Ok(())) => {
                        dropped += buf.filled().len();
                        this_poll += buf.filled().len();
                        if dropped >= LINGER_BYTES {
                            return Poll::Ready(());
                        }
                        if this_poll >= LINGER_BYTES_PER_POLL {
                            cx.waker().wake_by_ref();
                            return Poll::Pending;
                        }
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            }
        });
        let _ = tokio::time::timeout(limit, close).await;
    }
}

impl<IO> Shared<IO> {
    fn check(&self) -> io::Result<()> {
        match self.failed {
            Some(kind) => Err(io::Error::new(kind, "a coalesced write failed")),
            None => Ok(()),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Coalesced<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut shared = lock(&self.shared);
        shared.check()?;
        let before = buf.filled().len();
        let result = ready!(Pin::new(&mut shared.io).poll_read(cx, buf));
        if let Some(observer) = &mut shared.observer {
            observer.read(&buf.filled()[before..]);
        }
        Poll::Ready(result)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Coalesced<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(data)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut shared = lock(&self.shared);
        shared.check()?;
        let len: usize = data.iter().map(|d| d.len()).sum();
        ready!(shared.poll_room(cx, len))?;
        if shared.pending() == 0 && len >= FLUSH_AT {
            // Too large to be worth a copy: straight to the socket.
            let n = ready!(Pin::new(&mut shared.io).poll_write_vectored(cx, data))?;
            if let Some(observer) = &mut shared.observer {
                let mut left = n;
                for slice in data {
                    let take = left.min(slice.len());
                    observer.wrote(&slice[..take]);
                    left -= take;
                }
            }
            return Poll::Ready(Ok(n));
        }
        let shared = &mut *shared;
        for slice in data {
            shared.buf.extend_from_slice(slice);
            if let Some(observer) = &mut shared.observer {
                observer.wrote(slice);
            }
        }
        Poll::Ready(Ok(len))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Noted, not done: the [`Flusher`] writes at the end of the connection's turn. A
    /// buffer past [`FLUSH_AT`] is written now.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut shared = lock(&self.shared);
        if shared.pending() >= FLUSH_AT {
            ready!(shared.poll_drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut shared = lock(&self.shared);
        ready!(shared.poll_drain(cx))?;
        Pin::new(&mut shared.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A socket stand-in that records each write it is handed.
    #[derive(Debug, Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writes.push(data.to_vec());
            Poll::Ready(Ok(data.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn writes(flusher: &Flusher<Recorder>) -> Vec<Vec<u8>> {
        lock(&flusher.shared).io.writes.clone()
    }

    #[tokio::test]
    async fn writes_and_flushes_between_them_become_one_write() {
        let (mut io, flusher) = coalesce(Recorder::default());
        for chunk in [&b"head"[..], b"data", b"more"] {
            io.write_all(chunk).await.unwrap();
            io.flush().await.unwrap();
        }
        assert!(
            writes(&flusher).is_empty(),
            "nothing written before the turn ends"
        );
        poll_fn(|cx| flusher.poll_flush(cx)).await.unwrap();
        assert_eq!(writes(&flusher), [b"headdatamore".to_vec()]);
        // Nothing new: no write.
        poll_fn(|cx| flusher.poll_flush(cx)).await.unwrap();
        assert_eq!(writes(&flusher).len(), 1);
    }

    #[tokio::test]
    async fn a_full_buffer_is_written_at_once_and_large_writes_pass_through() {
        let (mut io, flusher) = coalesce(Recorder::default());
        let frame = vec![7u8; FLUSH_AT / 2 + 1];
        io.write_all(&frame).await.unwrap();
        io.write_all(&frame).await.unwrap(); // would pass FLUSH_AT: the first goes out
        assert_eq!(writes(&flusher), std::slice::from_ref(&frame));
        io.flush().await.unwrap(); // under FLUSH_AT: deferred
        assert_eq!(writes(&flusher).len(), 1);
        poll_fn(|cx| flusher.poll_flush(cx)).await.unwrap();
        assert_eq!(writes(&flusher).len(), 2);

        let large = vec![1u8; FLUSH_AT];
        io.write_all(&large).await.unwrap();
        assert_eq!(
            writes(&flusher).last(),
            Some(&large),
            "no copy for a large write"
        );
    }

    /// Buffers `data` the way h2 does (a write, then a flush that is deferred).
    async fn h2_writes(io: &mut Coalesced<Recorder>, data: &[u8]) {
        io.write_all(data).await.unwrap();
        io.flush().await.unwrap();
    }

    /// One step of the connection task whose h2 poll answers `answer`.
    async fn step(flusher: &Flusher<Recorder>, answer: Poll<()>) {
        poll_fn(|cx| {
            let _ = flusher.turn(cx, |_| answer);
            Poll::Ready(())
        })
        .await
    }

    #[tokio::test]
    async fn a_turn_writes_its_first_answers_early_and_the_rest_at_its_end() {
        let (mut io, flusher) = coalesce(Recorder::default());
        step(&flusher, Poll::Ready(())).await; // a stream accepted, nothing written yet
        assert!(writes(&flusher).is_empty());
        h2_writes(&mut io, b"first").await;
        step(&flusher, Poll::Ready(())).await; // the first answer goes out at once
        h2_writes(&mut io, b"second").await;
        step(&flusher, Poll::Ready(())).await;
        h2_writes(&mut io, b"third").await;
        step(&flusher, Poll::Ready(())).await; // the rest gathers
        assert_eq!(writes(&flusher), [b"first".to_vec()]);
        step(&flusher, Poll::Pending).await; // the end of the turn writes it
        assert_eq!(
            writes(&flusher),
            [b"first".to_vec(), b"secondthird".to_vec()]
        );
        h2_writes(&mut io, b"next").await;
        step(&flusher, Poll::Ready(())).await; // a new turn writes early again
        assert_eq!(writes(&flusher).len(), 3);
    }

    #[tokio::test]
    async fn shutdown_writes_what_is_left_and_reads_pass_through() {
        let (client, server) = tokio::io::duplex(1024);
        let (mut io, _flusher) = coalesce(client);
        io.write_all(b"bye").await.unwrap();
        io.shutdown().await.unwrap();
        let mut got = Vec::new();
        let mut server = server;
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");

        let (client, mut server) = tokio::io::duplex(1024);
        let (mut io, _flusher) = coalesce(client);
        server.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        io.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
    }
}
