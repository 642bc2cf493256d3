//! One HTTP/2 connection, served by h2: accepts streams and hands each to
//! [`dispatch`](super::connection::dispatch), enforces the connection's limits (ping policy,
//! rapid reset, idle and age limits, keepalive), and drains on shutdown. Where the connection
//! is in its life is one [`Phase`], with its transitions written down there.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use super::activity::Activity;
use super::connection::{dispatch, start, Peer, Serving, Shutdown};
use super::ping_policy::PingWatch;
use super::ServerConfig;
use crate::wire::{RecvBody, Respond};

/// How long a closing connection keeps reading what its peer still sends (see
/// `Flusher::linger`).
pub(super) const LINGER: Duration = Duration::from_secs(1);

/// Where a connection is in its life. The transitions:
///
/// | from | event | to | sent |
/// |---|---|---|---|
/// | `Serving` | server shutdown, `max_connection_idle`, `max_connection_age` | `Draining` | GOAWAY NO_ERROR; calls in flight finish |
/// | `Draining(Shutdown or Idle)` | `max_connection_age` | `Draining(Age)` | (the grace timer starts) |
/// | `Draining(Age)` | the age's grace is over | `Closing` | GOAWAY NO_ERROR, streams reset |
/// | `Serving`, `Draining` | too many pings, too many resets | `Calmed` | GOAWAY ENHANCE_YOUR_CALM |
/// | any but `Aborted` | the server's grace period is over | `Aborted` | GOAWAY NO_ERROR, streams reset |
///
/// The connection ends when h2 says it is done (the peer closed, or every stream ended after
/// a GOAWAY), whatever the phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Taking new calls.
    Serving,
    /// GOAWAY sent: no new calls; those in flight finish.
    Draining(Drain),
    /// The age's grace is over: closed at once.
    Closing,
    /// The peer abused the connection: closed with ENHANCE_YOUR_CALM.
    Calmed,
    /// The server's grace period is over: closed at once.
    Aborted,
}

/// Why a connection drains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drain {
    /// The server shuts down.
    Shutdown,
    /// `max_connection_idle`: no calls for that long.
    Idle,
    /// `max_connection_age`.
    Age,
}

impl Phase {
    /// Whether a graceful GOAWAY may still be sent (nothing is closing the connection yet).
    pub(super) fn serving(self) -> bool {
        self == Phase::Serving
    }

    /// Whether the age timer still matters: before the age, or in its grace.
    pub(super) fn ages(self) -> bool {
        matches!(self, Phase::Serving | Phase::Draining(_))
    }

    /// Whether an ENHANCE_YOUR_CALM GOAWAY may still be sent.
    pub(super) fn calmable(self) -> bool {
        matches!(self, Phase::Serving | Phase::Draining(_))
    }
}

/// The ping policy's view of a connection's bytes.
struct PingObserver {
    watch: PingWatch,
    activity: Arc<Activity>,
    abuse: Arc<AtomicBool>,
}

impl crate::transport::Observe for PingObserver {
    fn read(&mut self, bytes: &[u8]) {
        if self
            .watch
            .read(bytes, crate::clock::now(), self.activity.has_calls())
        {
            self.abuse.store(true, Ordering::Release);
        }
    }

    fn wrote(&mut self, bytes: &[u8]) {
        self.watch.wrote(bytes);
    }
}

/// Serves one connection until it closes; on `shutdown` it sends GOAWAY and lets in-flight
/// calls finish, and closes at once when told to abort.
pub(crate) async fn serve<IO>(io: IO, serving: Serving)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let peer = Peer::new(&serving);
    let Serving {
        remote_addr,
        router,
        config,
        shutdown,
        ..
    } = serving;
    // The ping policy watches the connection's bytes, knowing whether calls are in flight.
    let pinged_too_often = Arc::new(AtomicBool::new(false));
    let watch = PingObserver {
        watch: PingWatch::new(config.ping_policy),
        activity: peer.activity.clone(),
        abuse: pinged_too_often.clone(),
    };
    // One socket write per turn of this task (see transport::coalesce): every poll of h2
    // below ends with the flusher.
    let (io, flusher) = crate::transport::coalesce_observed(io, Some(Box::new(watch)));
    let mut handshake = pin!(builder(&config).handshake::<_, Bytes>(io));
    let handshake = poll_fn(|cx| flusher.turn(cx, |cx| handshake.as_mut().poll(cx)));
    let Some(mut conn) = within_handshake_timeout(handshake, &config, remote_addr).await else {
        return;
    };
    let Shutdown {
        graceful: mut shutdown,
        mut abort,
    } = shutdown;
    let mut phase = Phase::Serving;
    if *shutdown.borrow() {
        phase = Phase::Draining(Drain::Shutdown);
        conn.graceful_shutdown();
    }
    let pings = config.keepalive.zip(conn.ping_pong());
    let mut keepalive =
        pings.map(|(keepalive, pings)| Box::pin(crate::keepalive::watch(pings, keepalive, None)));
    // max_connection_idle: a look every quarter of the limit at the connection's calls.
    let idle_limit = config
        .max_connection_idle
        .unwrap_or(Duration::from_secs(3600));
    let mut idle_check = tokio::time::interval(idle_limit / 4);
    // max_connection_age: GOAWAY at the age (±10%), closed after the grace.
    let mut age = config
        .max_connection_age
        .map(|(age, _)| Box::pin(tokio::time::sleep(jittered(age))));
    loop {
        tokio::select! {
            next = poll_fn(|cx| flusher.turn(cx, |cx| {
                let next = conn.poll_accept(cx);
                if pinged_too_often.swap(false, Ordering::AcqRel) && phase.calmable() {
                    phase = Phase::Calmed;
                    tracing::warn!(?remote_addr, policy = ?config.ping_policy, "too many pings: GOAWAY ENHANCE_YOUR_CALM");
                    conn.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                    // h2 sends it on its next poll.
                    cx.waker().wake_by_ref();
                }
                next
            })) => match next {
                Some(Ok((request, respond))) => {
                    if peer.resets.exceeded(crate::clock::now()) {
                        if phase.calmable() {
                            phase = Phase::Calmed;
                            tracing::warn!(?remote_addr, limit = ?config.max_resets, "too many cancelled calls (rapid reset?): GOAWAY ENHANCE_YOUR_CALM");
                            conn.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                        }
                        continue;
                    }
                    let (parts, body) = request.into_parts();
                    let (body, respond) = (RecvBody::H2(body), Respond::H2(respond));
                    if let Some(work) = dispatch(parts, body, respond, &router, &config, &peer) {
                        start(work, config.inline_first_poll).await;
                    }
                }
                Some(Err(err)) => {
                    tracing::debug!(?remote_addr, %err, "connection error");
                    break;
                }
                None => break,
            },
            changed = shutdown.changed(), if phase.serving() => {
                phase = Phase::Draining(Drain::Shutdown);
                if changed.is_ok() {
                    conn.graceful_shutdown();
                }
            }
            _ = idle_check.tick(), if config.max_connection_idle.is_some() && phase.serving() => {
                let idle_since = peer.activity.idle_since();
                if idle_since.is_some_and(|since| crate::clock::now() - since >= idle_limit) {
                    tracing::debug!(?remote_addr, ?idle_limit, "idle connection: GOAWAY");
                    phase = Phase::Draining(Drain::Idle);
                    conn.graceful_shutdown();
                }
            }
            () = expired(&mut age), if age.is_some() && phase.ages() => {
                if phase == Phase::Draining(Drain::Age) {
                    phase = Phase::Closing;
                    age = None;
                    conn.abrupt_shutdown(h2::Reason::NO_ERROR);
                } else {
                    tracing::debug!(?remote_addr, "connection at its maximum age: GOAWAY");
                    phase = Phase::Draining(Drain::Age);
                    conn.graceful_shutdown();
                    let grace = config.max_connection_age.map_or(Duration::ZERO, |(_, grace)| grace);
                    age = Some(Box::pin(tokio::time::sleep(grace)));
                }
            }
            ended = expired(&mut keepalive), if keepalive.is_some() => {
                keepalive = None;
                if ended == crate::keepalive::Ended::PeerSilent {
                    tracing::warn!(?remote_addr, "no keepalive pong: closing the connection");
                    break;
                }
            }
            changed = abort.changed(), if phase != Phase::Aborted => {
                phase = Phase::Aborted;
                if changed.is_ok() {
                    // The last GOAWAY; streams still open fail, and their handlers are
                    // dropped as they see it.
                    conn.abrupt_shutdown(h2::Reason::NO_ERROR);
                }
            }
        }
    }
    drop(conn);
    flusher.linger(LINGER).await;
}

/// h2's server settings from the server's.
fn builder(config: &ServerConfig) -> h2::server::Builder {
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(config.limits.initial_stream_window_size)
        .initial_connection_window_size(config.limits.initial_connection_window_size)
        .max_concurrent_streams(config.max_concurrent_streams)
        .max_header_list_size(config.limits.max_header_list_size)
        .max_frame_size(config.max_frame_size)
        // As on the client: small DATA frames may wait unread up to the connection window
        // (h2's default follows the 64 KiB initial window).
        .data_frame_budget(config.limits.initial_connection_window_size as usize);
    builder
}

/// The handshake's connection, or `None` (logged) when it failed or took longer than the
/// handshake timeout.
async fn within_handshake_timeout<T>(
    handshake: impl Future<Output = Result<T, h2::Error>>,
    config: &ServerConfig,
    remote_addr: Option<SocketAddr>,
) -> Option<T> {
    let limit = config.handshake_timeout;
    match tokio::time::timeout(limit, handshake).await {
        Ok(Ok(conn)) => Some(conn),
        Ok(Err(err)) => {
            tracing::debug!(?remote_addr, %err, "HTTP/2 handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(
                ?remote_addr,
                ?limit,
                "no HTTP/2 preface within the handshake timeout: closed"
            );
            None
        }
    }
}

/// The output of an optional future; pending forever without one.
pub(super) async fn expired<F: Future + ?Sized>(future: &mut Option<Pin<Box<F>>>) -> F::Output {
    match future {
        Some(future) => future.as_mut().await,
        None => std::future::pending().await,
    }
}

/// `age`, 10% more or less at random.
pub(super) fn jittered(age: Duration) -> Duration {
    let unit = 2.0 * crate::random::random_unit() - 1.0; // -1.0..1.0
    age.mul_f64(1.0 + 0.1 * unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::router::Router;
    use crate::server::Http2Engine;
    use crate::server::ServerCall;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::sync::watch;
    use tokio::time::Instant as Clock;

    /// A service whose one method answers an empty message after `SLEEP`.
    struct Slow;

    const SLEEP: Duration = Duration::from_secs(5);

    impl crate::server::Service for Slow {
        const NAME: &'static str = "t.Slow";
        const METHODS: &'static [&'static str] = &["Call"];

        async fn call(self: Arc<Self>, _: usize, call: ServerCall) {
            call.unary(|_: crate::Request<()>| async {
                tokio::time::sleep(SLEEP).await;
                Ok(crate::Response::new(()))
            })
            .await;
        }
    }

    /// The server's end of an in-memory connection served with `config`, and its shutdown
    /// switches (graceful, abort); the client's end is returned.
    fn serve_with(
        config: ServerConfig,
    ) -> (DuplexStream, watch::Sender<bool>, watch::Sender<bool>) {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut router = Router::default();
        router.add(Slow);
        router.add(Big);
        let (graceful_tx, graceful) = watch::channel(false);
        let (abort_tx, abort) = watch::channel(false);
        let serving = Serving {
            remote_addr: None,
            extensions: http::Extensions::new(),
            router: Arc::new(router),
            config: Arc::new(config),
            shutdown: Shutdown { graceful, abort },
        };
        tokio::spawn(crate::server::connection::serve_http2(server, serving));
        (client, graceful_tx, abort_tx)
    }

    /// An h2 client on `io`: its sender, and a signal that fires when the connection ends.
    async fn client(
        io: DuplexStream,
    ) -> (
        h2::client::SendRequest<Bytes>,
        tokio::sync::oneshot::Receiver<()>,
    ) {
        let (sender, connection) = h2::client::handshake(io).await.expect("handshake");
        let (ended_tx, ended) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let _ = connection.await;
            let _ = ended_tx.send(());
        });
        (sender, ended)
    }

    /// Starts a call of `Slow`: its response, to await.
    async fn call(sender: &h2::client::SendRequest<Bytes>) -> h2::client::ResponseFuture {
        call_to(sender, "t.Slow").await
    }

    /// Starts a call of `service`'s `Call` with an empty message: its response, to await.
    async fn call_to(
        sender: &h2::client::SendRequest<Bytes>,
        service: &str,
    ) -> h2::client::ResponseFuture {
        let mut sender = sender.clone().ready().await.expect("ready");
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("http://in-memory/{service}/Call"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let (response, mut body) = sender.send_request(request, false).expect("send");
        body.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true)
            .expect("an empty message");
        response
    }

    /// The `grpc-status` a whole response ends with.
    async fn status_of(response: h2::client::ResponseFuture) -> Result<String, h2::Error> {
        let mut body = response.await?.into_body();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        let trailers = body.trailers().await?.expect("trailers");
        Ok(trailers["grpc-status"].to_str().unwrap().to_owned())
    }

    async fn an_idle_connection_is_sent_away_within_a_quarter_of_its_limit(engine: Http2Engine) {
        let config = ServerConfig {
            http2_engine: engine,
            max_connection_idle: Some(Duration::from_secs(60)),
            ..ServerConfig::default()
        };
        let (io, _graceful, _abort) = serve_with(config);
        let (sender, ended) = client(io).await;
        // A call keeps it busy: idle time counts from its end.
        assert_eq!(status_of(call(&sender).await).await.unwrap(), "0");
        let start = Clock::now();
        ended.await.expect("the connection ends");
        let idle = start.elapsed();
        assert!(
            idle >= Duration::from_secs(60) && idle <= Duration::from_secs(75),
            "sent away after {idle:?} idle"
        );
    }

    async fn an_old_connection_drains_its_calls_then_closes_after_the_grace(engine: Http2Engine) {
        let config = ServerConfig {
            http2_engine: engine,
            max_connection_age: Some((Duration::from_secs(100), Duration::from_secs(30))),
            ..ServerConfig::default()
        };
        let (io, _graceful, _abort) = serve_with(config);
        let (sender, ended) = client(io).await;
        let start = Clock::now();
        // Calls keep coming until the age's GOAWAY turns new ones away.
        let mut served = 0;
        loop {
            let Ok(ready) = sender.clone().ready().await else {
                break;
            };
            let response = call(&ready).await;
            match status_of(response).await {
                Ok(status) => {
                    assert_eq!(status, "0");
                    served += 1;
                }
                Err(err) => {
                    assert!(err.is_go_away() || err.is_remote(), "{err:?}");
                    break;
                }
            }
        }
        let goaway = start.elapsed();
        // The age is 100 s, give or take 10%; a call in flight then finishes.
        assert!(
            goaway >= Duration::from_secs(90) && goaway <= Duration::from_secs(110) + SLEEP,
            "GOAWAY after {goaway:?}"
        );
        assert!(served >= 90 / 5, "{served} calls before the GOAWAY");
        ended.await.expect("the connection ends");
        assert!(start.elapsed() <= Duration::from_secs(110 + 30) + SLEEP);
    }

    async fn a_graceful_shutdown_lets_the_call_in_flight_finish(engine: Http2Engine) {
        let (io, graceful, _abort) = serve_with(ServerConfig {
            http2_engine: engine,
            ..ServerConfig::default()
        });
        let (sender, ended) = client(io).await;
        let response = call(&sender).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let start = Clock::now();
        graceful.send(true).unwrap();
        assert_eq!(
            status_of(response).await.unwrap(),
            "0",
            "the call in flight finished"
        );
        assert_eq!(start.elapsed(), SLEEP - Duration::from_secs(1));
        ended
            .await
            .expect("the connection ends once its last call does");
    }

    async fn an_abort_resets_the_call_in_flight(engine: Http2Engine) {
        let (io, graceful, abort) = serve_with(ServerConfig {
            http2_engine: engine,
            ..ServerConfig::default()
        });
        let (sender, ended) = client(io).await;
        let response = call(&sender).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        graceful.send(true).unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        abort.send(true).expect("the connection drains its call");
        let failed = status_of(response).await.expect_err("the call is cut off");
        // A reset stream, or the connection closed under it: either way, not an answer.
        assert!(
            failed.is_go_away() || failed.is_reset() || failed.is_io(),
            "{failed:?}"
        );
        ended.await.expect("the connection ends");
    }

    async fn a_peer_that_never_answers_pings_is_closed_after_the_keepalive_timeout(
        engine: Http2Engine,
    ) {
        let config = ServerConfig {
            http2_engine: engine,
            keepalive: Some(crate::keepalive::Keepalive {
                interval: Duration::from_secs(30),
                timeout: Duration::from_secs(10),
                while_idle: true,
            }),
            ..ServerConfig::default()
        };
        let (mut io, _graceful, _abort) = serve_with(config);
        // The client's preface and SETTINGS, then silence: it reads but never answers.
        io.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        io.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
        let start = Clock::now();
        let mut sink = Vec::new();
        let _ = io.read_to_end(&mut sink).await;
        let closed = start.elapsed();
        assert!(
            closed >= Duration::from_secs(40) && closed <= Duration::from_secs(41),
            "closed after {closed:?}"
        );
        // Among what it sent: a PING (type 6) that was never answered.
        assert!(
            sink.windows(4).any(|w| w[..3] == [0, 0, 8] && w[3] == 6),
            "no PING sent"
        );
    }

    /// Each test above, on each engine.
    macro_rules! on_both_engines {
        ($($test:ident),* $(,)?) => {
            mod h2_engine {
                $(
                    #[tokio::test(start_paused = true)]
                    async fn $test() {
                        super::$test(super::Http2Engine::H2).await;
                    }
                )*
            }
            mod own_engine {
                $(
                    #[tokio::test(start_paused = true)]
                    async fn $test() {
                        super::$test(super::Http2Engine::Wirecall).await;
                    }
                )*
            }
        };
    }

    on_both_engines!(
        an_idle_connection_is_sent_away_within_a_quarter_of_its_limit,
        an_old_connection_drains_its_calls_then_closes_after_the_grace,
        a_graceful_shutdown_lets_the_call_in_flight_finish,
        an_abort_resets_the_call_in_flight,
        a_peer_that_never_answers_pings_is_closed_after_the_keepalive_timeout,
    );

    /// The client's preface and `count` empty SETTINGS frames.
    fn settings_flood(count: usize) -> Vec<u8> {
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        for _ in 0..count {
            bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        }
        bytes
    }

    #[tokio::test(start_paused = true)]
    async fn our_engine_calms_a_flood_of_frames_that_ask_for_no_work() {
        let config = ServerConfig {
            http2_engine: Http2Engine::Wirecall,
            ..ServerConfig::default()
        };
        let (mut io, _graceful, _abort) = serve_with(config);
        // 2000 SETTINGS in a row: past the default 1000.
        io.write_all(&settings_flood(2000)).await.unwrap();
        let mut sink = Vec::new();
        let _ = io.read_to_end(&mut sink).await;
        // The last frame is GOAWAY (type 7) ENHANCE_YOUR_CALM (0xb).
        let goaway = sink
            .windows(17)
            .rposition(|w| w[3] == 7)
            .map(|at| u32::from_be_bytes(sink[at + 13..at + 17].try_into().unwrap()));
        assert_eq!(goaway, Some(0xb));
    }

    /// A service whose one method answers `BIG` bytes at once.
    struct Big;

    const BIG: usize = 1 << 20;

    impl crate::server::Service for Big {
        const NAME: &'static str = "t.Big";
        const METHODS: &'static [&'static str] = &["Call"];

        async fn call(self: Arc<Self>, _: usize, call: ServerCall) {
            call.unary(|_: crate::Request<()>| async { Ok(crate::Response::new(vec![1u8; BIG])) })
                .await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn our_engine_reads_again_once_its_writes_made_room() {
        // A send buffer far smaller than the response and a socket that takes it all: the
        // connection stops reading when a window's worth waits, writes it at once, and must
        // then read the client's WINDOW_UPDATEs again (nothing else will wake it: no read
        // is pending), or the response stalls halfway.
        let (client_io, server_io) = tokio::io::duplex(4 << 20);
        let mut router = Router::default();
        router.add(Big);
        let (_graceful_tx, graceful) = watch::channel(false);
        let (_abort_tx, abort) = watch::channel(false);
        let serving = Serving {
            remote_addr: None,
            extensions: http::Extensions::new(),
            router: Arc::new(router),
            config: Arc::new(ServerConfig {
                http2_engine: Http2Engine::Wirecall,
                max_send_buffer: 16 * 1024,
                ..ServerConfig::default()
            }),
            shutdown: Shutdown { graceful, abort },
        };
        tokio::spawn(crate::server::connection::serve_http2(server_io, serving));
        let (sender, _ended) = client(client_io).await;
        let response = call_to(&sender, "t.Big").await;
        let mut body = tokio::time::timeout(Duration::from_secs(30), response)
            .await
            .expect("a response head")
            .expect("no error")
            .into_body();
        let mut received = 0;
        let read_all = async {
            while let Some(chunk) = body.data().await {
                let chunk = chunk.expect("data");
                received += chunk.len();
                let _ = body.flow_control().release_capacity(chunk.len());
            }
        };
        tokio::time::timeout(Duration::from_secs(30), read_all)
            .await
            .expect("the whole response, not a stall");
        assert_eq!(received, 5 + BIG + 4, "the message, its prefix and length");
    }

    /// The h2 error a response's body ends with, and when, for a client that reads its
    /// first chunk and then nothing (it gives no credit back), within `limit`.
    async fn reset_of_an_unread_response(
        config: ServerConfig,
        service: &str,
        limit: Duration,
    ) -> Option<(h2::Reason, Duration)> {
        let (io, _graceful, _abort) = serve_with(config);
        let (sender, _ended) = client(io).await;
        let start = Clock::now();
        let response = call_to(&sender, service).await;
        let outcome = async {
            let mut body = match response.await {
                Ok(response) => response.into_body(),
                Err(err) => return err.reason(),
            };
            loop {
                match body.data().await {
                    Some(Ok(_)) => {} // read, and no credit given back
                    Some(Err(err)) => return err.reason(),
                    None => return None,
                }
            }
        };
        let reason = tokio::time::timeout(limit, outcome).await.ok()??;
        Some((reason, start.elapsed()))
    }

    #[tokio::test(start_paused = true)]
    async fn our_engine_resets_a_stream_stalled_on_a_client_that_never_reads() {
        let config = |stalled| ServerConfig {
            http2_engine: Http2Engine::Wirecall,
            stalled_stream_timeout: stalled,
            ..ServerConfig::default()
        };
        // The response waits for credit that never comes: reset within a quarter past the
        // limit.
        let limit = Duration::from_secs(20);
        let (reason, after) =
            reset_of_an_unread_response(config(Some(limit)), "t.Big", Duration::from_secs(600))
                .await
                .expect("the stalled stream is reset");
        assert_eq!(reason, h2::Reason::CANCEL);
        assert!(
            after >= limit && after <= limit * 5 / 4,
            "reset after {after:?}"
        );
        // Without the limit it waits as long as the client does.
        let kept =
            reset_of_an_unread_response(config(None), "t.Big", Duration::from_secs(600)).await;
        assert_eq!(kept, None, "no limit, no reset");
    }

    #[tokio::test(start_paused = true)]
    async fn our_engine_resets_an_idle_stream_only_when_told_to() {
        // `Slow` answers after 5 s: a stream with nothing moving for that long.
        let config = |idle| ServerConfig {
            http2_engine: Http2Engine::Wirecall,
            idle_stream_timeout: idle,
            ..ServerConfig::default()
        };
        let limit = Duration::from_secs(2);
        let (reason, after) =
            reset_of_an_unread_response(config(Some(limit)), "t.Slow", Duration::from_secs(60))
                .await
                .expect("the idle stream is reset");
        assert_eq!(reason, h2::Reason::CANCEL);
        assert!(
            after >= limit && after <= limit * 5 / 4,
            "reset after {after:?}"
        );
        // By default quiet streams are left alone: the call is answered.
        let (io, _graceful, _abort) = serve_with(config(None));
        let (sender, _ended) = client(io).await;
        assert_eq!(status_of(call(&sender).await).await.unwrap(), "0");
    }

    #[tokio::test(start_paused = true)]
    async fn our_engine_stops_reading_a_client_that_does_not_read() {
        // Frames that each need an answer (SETTINGS ACKs), from a client that never reads:
        // the server reads no more once 1 MiB waits to be written, and the client's writes
        // block instead of the server's memory growing.
        let config = ServerConfig {
            http2_engine: Http2Engine::Wirecall,
            max_empty_frames: u32::MAX,
            ..ServerConfig::default()
        };
        let (mut io, _graceful, _abort) = serve_with(config);
        let flood = settings_flood(1_000_000); // 9 MB, 9 MB of ACKs
        let written = tokio::time::timeout(Duration::from_secs(60), io.write_all(&flood)).await;
        assert!(written.is_err(), "the server kept reading");
    }

    #[test]
    fn the_phases_allow_what_their_table_says() {
        let draining = [Drain::Shutdown, Drain::Idle, Drain::Age].map(Phase::Draining);
        assert!(Phase::Serving.serving() && Phase::Serving.ages() && Phase::Serving.calmable());
        for phase in draining {
            assert!(
                !phase.serving(),
                "{phase:?} sends no second graceful GOAWAY"
            );
            assert!(phase.ages() && phase.calmable(), "{phase:?}");
        }
        for phase in [Phase::Closing, Phase::Calmed, Phase::Aborted] {
            assert!(
                !phase.serving() && !phase.ages() && !phase.calmable(),
                "{phase:?}"
            );
        }
    }

    #[test]
    fn a_jittered_age_stays_within_ten_percent() {
        let age = Duration::from_secs(100);
        for _ in 0..1000 {
            let jittered = jittered(age);
            assert!(jittered >= Duration::from_secs(90) && jittered <= Duration::from_secs(110));
        }
    }
}
