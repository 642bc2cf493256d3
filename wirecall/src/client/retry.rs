//! Retries and hedging of calls (gRFC A6): attempts until the response headers commit the
//! call, the `grpc-previous-rpc-attempts` header, server pushback (`grpc-retry-pushback-ms`),
//! throttling by a token bucket shared by the channel, `perAttemptRecvTimeout`, and
//! transparent retry of attempts the server refused before its application saw them
//! (`REFUSED_STREAM`). A call of one request message sends it whole to each attempt; a
//! streaming call's messages go to every attempt through the replaying sender
//! ([`super::replay`]).

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Uri;

use super::backoff::retry_wait;
use super::call::Attempt;
use super::replay::Replay;
use super::Channel;
use crate::compression::Encoding;
use crate::in_flight::InFlight;
use crate::interceptor::{AttemptHook, StartedAttempt};
use crate::metadata::MetadataMap;
use crate::service_config::{HedgingPolicy, MethodConfig, RetryPolicy, RetryThrottling};
use crate::streaming::head::Head;
use crate::streaming::{Committed, RetriedHead};
use crate::wire::{PendingResponse, RecvBody, StreamError};
use crate::Status;

/// The request header telling the server how many attempts came before this one.
pub(crate) const PREVIOUS_ATTEMPTS: http::HeaderName =
    http::HeaderName::from_static("grpc-previous-rpc-attempts");
/// The trailer a server sets to ask for a retry after some milliseconds, or none (< 0).
const PUSHBACK: &str = "grpc-retry-pushback-ms";
/// How many times one attempt may be resent transparently after REFUSED_STREAM.
const TRANSPARENT_RETRIES: u32 = 3;

/// The retry throttle of gRFC A6: failures spend a token, successes earn `token_ratio`;
/// below half the bucket, no retry or hedge is sent.
#[derive(Debug)]
pub(crate) struct Throttle {
    config: RetryThrottling,
    tokens: Mutex<f64>,
}

impl Throttle {
    /// The settings it follows.
    pub(crate) fn config(&self) -> RetryThrottling {
        self.config
    }

    pub(crate) fn new(config: RetryThrottling) -> Self {
        Throttle {
            config,
            tokens: Mutex::new(config.max_tokens),
        }
    }

    fn failed(&self) {
        let mut tokens = self.tokens.lock().expect("throttle lock");
        *tokens = (*tokens - 1.0).max(0.0);
    }

    fn succeeded(&self) {
        let mut tokens = self.tokens.lock().expect("throttle lock");
        *tokens = (*tokens + self.config.token_ratio).min(self.config.max_tokens);
    }

    fn allows_retry(&self) -> bool {
        *self.tokens.lock().expect("throttle lock") > self.config.max_tokens / 2.0
    }
}

/// How one call's attempts are made.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Plan<'a> {
    /// One attempt (resent only transparently).
    Once,
    Retry(&'a RetryPolicy),
    Hedge(&'a HedgingPolicy),
}

impl<'a> Plan<'a> {
    pub(crate) fn of(method: Option<&'a MethodConfig>) -> Self {
        match method {
            Some(MethodConfig {
                retry: Some(policy),
                ..
            }) => Plan::Retry(policy),
            Some(MethodConfig {
                hedging: Some(policy),
                ..
            }) => Plan::Hedge(policy),
            _ => Plan::Once,
        }
    }

    /// The policy a streaming call's attempt loop takes along; `None` for [`Plan::Once`].
    pub(crate) fn policy(self) -> Option<Policy> {
        match self {
            Plan::Once => None,
            Plan::Retry(policy) => Some(Policy::Retry(policy.clone())),
            Plan::Hedge(policy) => Some(Policy::Hedge(policy.clone())),
        }
    }
}

/// A streaming call's retry or hedging policy, owned by its attempt loop.
#[derive(Debug, Clone)]
pub(crate) enum Policy {
    Retry(RetryPolicy),
    Hedge(HedgingPolicy),
}

impl Policy {
    /// When an attempt starting now runs out of `perAttemptRecvTimeout`, if the policy has
    /// one.
    pub(crate) fn recv_by(&self) -> Option<Instant> {
        match self {
            Policy::Retry(policy) => recv_by(policy),
            Policy::Hedge(_) => None,
        }
    }
}

/// When an attempt of `policy` starting now runs out of `perAttemptRecvTimeout`, if set.
fn recv_by(policy: &RetryPolicy) -> Option<Instant> {
    policy
        .per_attempt_recv_timeout
        .and_then(|timeout| Instant::now().checked_add(timeout))
}

/// Awaits `attempt` until `by` (the end of its `perAttemptRecvTimeout`, if any); `None` when
/// the time ran out first, which drops (cancels) the attempt.
async fn within<T>(by: Option<Instant>, attempt: impl Future<Output = T>) -> Option<T> {
    match by {
        Some(by) => tokio::time::timeout_at(by.into(), attempt).await.ok(),
        None => Some(attempt.await),
    }
}

/// Why an attempt of a retried call did not commit it.
#[derive(Debug)]
enum Failure {
    /// The attempt failed with this status.
    Status(Status),
    /// No response head within `perAttemptRecvTimeout`: the attempt was cancelled. Worth a
    /// retry whatever `retryableStatusCodes` says.
    RecvTimeout,
}

impl Failure {
    /// The status the call fails with when this failure is the last.
    fn into_status(self) -> Status {
        match self {
            Failure::Status(status) => status,
            Failure::RecvTimeout => Status::cancelled("retry perAttemptRecvTimeout exceeded"),
        }
    }
}

/// A running attempt of a hedged call, until its response head.
type Hedge<'a> = Pin<Box<dyn Future<Output = Result<Committed, Status>> + Send + 'a>>;

/// What a hedged call's attempt loop woke up for.
enum Hedged {
    /// The next hedge is due.
    Due,
    /// The streaming call's buffers overflowed; the replaying sender kept this attempt.
    Overflowed(Option<u32>),
    /// Running attempt `index` ended.
    Ended(usize, Result<Committed, Status>),
}

/// A request of one message, ready to be sent as often as the plan needs.
pub(crate) struct Prepared {
    pub(crate) uri: Uri,
    pub(crate) metadata: MetadataMap,
    pub(crate) encoding: Option<Encoding>,
    pub(crate) body: Bytes,
    /// The first attempt.
    pub(crate) attempt: Attempt,
    /// Tells the interceptors about each attempt.
    pub(crate) attempts: Option<AttemptHook>,
}

/// Where a call is in its retry backoff.
struct RetryBackoff {
    /// 1 before the first retry; back to 1 after a pushback.
    step: u32,
}

impl RetryBackoff {
    fn new() -> Self {
        RetryBackoff { step: 1 }
    }
}

/// What an attempt's response head says.
enum Outcome {
    /// Messages (or a trailers-only OK) follow: the call is committed to this attempt.
    Commit(Head, RecvBody),
    /// The server refused the stream before its application saw it.
    Refused(Status),
    /// The attempt failed with this status.
    Failed(Status),
}

fn outcome(result: Result<http::Response<RecvBody>, StreamError>) -> Outcome {
    match result {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            match crate::streaming::head::parse(parts.status, parts.headers) {
                Ok(head) => Outcome::Commit(head, body),
                Err(status) => Outcome::Failed(status),
            }
        }
        Err(StreamError {
            status,
            refused: true,
        }) => Outcome::Refused(status),
        Err(StreamError { status, .. }) => Outcome::Failed(status),
    }
}

/// The server's pushback: `None` without one, `Some(None)` for "do not retry".
fn pushback(status: &Status) -> Option<Option<Duration>> {
    let value = status.metadata().get(PUSHBACK)?;
    Some(value.trim().parse::<u64>().ok().map(Duration::from_millis))
}

/// Keeps a call's request bytes counted against the channel's retry buffer.
struct Reserved<'a>(&'a Channel, usize);

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        self.0
            .inner
            .retry_buffered
            .fetch_sub(self.1, Ordering::AcqRel);
    }
}

impl Channel {
    /// Sends `prepared` by `plan` until an attempt commits; the last failure otherwise.
    pub(crate) async fn send_attempts(
        &self,
        prepared: &Prepared,
        plan: Plan<'_>,
    ) -> Result<Committed, Status> {
        if matches!(plan, Plan::Once) {
            return self.try_once(prepared, 0).await;
        }
        // A request too large for the retry buffers is sent once.
        let Some(_reserved) = self.reserve(prepared.body.len()) else {
            return self.try_once(prepared, 0).await;
        };
        // Boxed: their futures are large, and inline they would size every call's.
        match plan {
            Plan::Once => self.try_once(prepared, 0).await,
            Plan::Retry(policy) => Box::pin(self.retry(prepared, policy)).await,
            Plan::Hedge(policy) => Box::pin(self.hedge(prepared, policy)).await,
        }
    }

    /// Counts `bytes` against the retry buffers, or `None` when they are full.
    fn reserve(&self, bytes: usize) -> Option<Reserved<'_>> {
        let config = &self.inner.endpoint.config;
        if bytes > config.per_rpc_buffer_limit {
            return None;
        }
        let before = self.inner.retry_buffered.fetch_add(bytes, Ordering::AcqRel);
        let reserved = Reserved(self, bytes);
        (before + bytes <= config.retry_buffer_size).then_some(reserved)
    }

    /// Retries by `policy`: a retryable failure (or an attempt past `perAttemptRecvTimeout`)
    /// is followed, after a jittered exponential backoff (or the server's pushback), by the
    /// next attempt, up to `maxAttempts`.
    async fn retry(&self, prepared: &Prepared, policy: &RetryPolicy) -> Result<Committed, Status> {
        let mut backoff = RetryBackoff::new();
        let mut previous = 0;
        loop {
            let failure = match within(recv_by(policy), self.try_once(prepared, previous)).await {
                Some(Ok(committed)) => {
                    self.inner.throttle().inspect(|t| t.succeeded());
                    return Ok(committed);
                }
                Some(Err(status)) => Failure::Status(status),
                None => Failure::RecvTimeout,
            };
            let deadline = prepared.attempt.deadline;
            let Some(wait) = self.retry_wait(&failure, policy, previous, deadline, &mut backoff)
            else {
                return Err(failure.into_status());
            };
            tokio::time::sleep(wait).await;
            previous += 1;
        }
    }

    /// After attempt `previous` failed: how long to wait before the next one, or `None` to
    /// give up (not retryable, out of attempts, throttled, pushed back for good, or the wait
    /// would outlast the deadline).
    fn retry_wait(
        &self,
        failure: &Failure,
        policy: &RetryPolicy,
        previous: u32,
        deadline: Option<Instant>,
        backoff: &mut RetryBackoff,
    ) -> Option<Duration> {
        let throttle = self.inner.throttle();
        let throttle = throttle.as_deref();
        let (retryable, pushed) = match failure {
            Failure::Status(status) => (
                policy.retryable_status_codes.contains(&status.code()),
                pushback(status),
            ),
            Failure::RecvTimeout => (true, None),
        };
        if retryable || pushed.is_some() {
            throttle.inspect(|t| t.failed());
        }
        if !retryable || previous + 1 >= policy.max_attempts {
            return None;
        }
        if throttle.is_some_and(|t| !t.allows_retry()) {
            return None;
        }
        let wait = match pushed {
            Some(pushed) => {
                backoff.step = 1;
                pushed?
            }
            None => {
                let wait = retry_wait(
                    policy.initial_backoff,
                    policy.backoff_multiplier,
                    policy.max_backoff,
                    backoff.step,
                );
                backoff.step += 1;
                wait
            }
        };
        if deadline.is_some_and(|deadline| Instant::now() + wait >= deadline) {
            return None;
        }
        tracing::debug!(?failure, ?wait, attempt = previous + 1, "retrying");
        Some(wait)
    }

    /// Hedges a call of one request message by `policy` (see [`Channel::hedge_attempts`]).
    async fn hedge(
        &self,
        prepared: &Prepared,
        policy: &HedgingPolicy,
    ) -> Result<Committed, Status> {
        let launch = |n| -> Hedge<'_> { Box::pin(self.try_once(prepared, n)) };
        self.hedge_attempts(policy, None, launch, None).await
    }

    /// Hedges by `policy`: a new attempt (`launch(n)`, `n` the attempts before it) every
    /// `hedgingDelay` (at once after a non-fatal failure) while none has committed, up to
    /// `maxAttempts`; the first to commit wins and the others are cancelled (RST_STREAM
    /// CANCEL, as their streams are dropped). A fatal status ends the call.
    ///
    /// A streaming call starts with its `first` attempt already open, and has its `replay`:
    /// attempts that end are dropped from it, the winner is committed to it, and once its
    /// buffers overflow only the attempt it kept runs on and no hedge follows.
    async fn hedge_attempts<'a>(
        &self,
        policy: &HedgingPolicy,
        first: Option<Hedge<'a>>,
        mut launch: impl FnMut(u32) -> Hedge<'a>,
        replay: Option<&'a Replay>,
    ) -> Result<Committed, Status> {
        let throttle = self.inner.throttle();
        let throttle = throttle.as_deref();
        let mut running: Vec<(u32, Hedge<'a>)> = first.into_iter().map(|a| (0, a)).collect();
        let mut sent = running.len() as u32;
        let mut next_at = Instant::now();
        if sent > 0 {
            next_at += policy.hedging_delay;
        }
        let mut last_failure = None;
        let mut overflow = replay.map(|replay| Box::pin(replay.overflowed()));
        loop {
            if sent < policy.max_attempts && Instant::now() >= next_at {
                let throttled = sent > 0 && throttle.is_some_and(|t| !t.allows_retry());
                if throttled || replay.is_some_and(|r| !r.can_retry()) {
                    sent = policy.max_attempts;
                } else {
                    running.push((sent, launch(sent)));
                    sent += 1;
                    next_at = Instant::now() + policy.hedging_delay;
                }
            }
            if running.is_empty() {
                return Err(last_failure
                    .unwrap_or_else(|| Status::unavailable("no hedged attempt was sent")));
            }
            let mut timer = (sent < policy.max_attempts)
                .then(|| Box::pin(tokio::time::sleep_until(next_at.into())));
            let event = poll_fn(|cx| {
                if let Some(Poll::Ready(kept)) = overflow.as_mut().map(|o| o.as_mut().poll(cx)) {
                    return Poll::Ready(Hedged::Overflowed(kept));
                }
                for (i, (_, attempt)) in running.iter_mut().enumerate() {
                    if let Poll::Ready(result) = attempt.as_mut().poll(cx) {
                        return Poll::Ready(Hedged::Ended(i, result));
                    }
                }
                match timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                    Some(Poll::Ready(())) => Poll::Ready(Hedged::Due),
                    _ => Poll::Pending,
                }
            })
            .await;
            let (index, result) = match event {
                Hedged::Due => continue,
                Hedged::Overflowed(kept) => {
                    // Committed to the attempt the sender kept: the others are cancelled.
                    overflow = None;
                    sent = policy.max_attempts;
                    running.retain(|(n, _)| kept.is_none_or(|kept| *n == kept));
                    continue;
                }
                Hedged::Ended(index, result) => (index, result),
            };
            let (n, _) = running.swap_remove(index);
            let status = match result {
                Ok(committed) => {
                    replay.inspect(|r| r.commit(n));
                    // Dropping the other attempts cancels them.
                    drop(running);
                    throttle.inspect(|t| t.succeeded());
                    return Ok(committed);
                }
                Err(status) => status,
            };
            replay.inspect(|r| r.cancel(n));
            if !policy.non_fatal_status_codes.contains(&status.code()) {
                return Err(status);
            }
            throttle.inspect(|t| t.failed());
            match pushback(&status) {
                Some(None) => sent = policy.max_attempts,
                Some(Some(wait)) => next_at = Instant::now() + wait,
                None => next_at = Instant::now(),
            }
            last_failure = Some(status);
        }
    }

    /// One attempt (the `previous`-th retry; 0 for the first), resent transparently while
    /// the server refuses its stream, until its response head arrives.
    async fn try_once(&self, prepared: &Prepared, previous: u32) -> Result<Committed, Status> {
        let mut resent = 0;
        loop {
            let mut attempt =
                StartedAttempt::start(prepared.attempts.as_ref(), previous, resent > 0);
            let (response, in_flight) = attempt.ended_by(self.attempt(prepared, previous).await)?;
            match outcome(response.await) {
                Outcome::Commit(head, body) => {
                    attempt.commit();
                    return Ok(Committed {
                        head,
                        body,
                        in_flight,
                    });
                }
                Outcome::Refused(status) if resent < TRANSPARENT_RETRIES => {
                    tracing::debug!(%status, "stream refused before it was seen; resending");
                    attempt.end(&status);
                    resent += 1;
                }
                Outcome::Refused(status) | Outcome::Failed(status) => {
                    attempt.end(&status);
                    return Err(status);
                }
            }
        }
    }

    /// Opens one attempt and sends its message.
    async fn attempt(
        &self,
        prepared: &Prepared,
        previous: u32,
    ) -> Result<(PendingResponse, InFlight), Status> {
        let attempt = Attempt {
            previous,
            ..prepared.attempt
        };
        let (response, mut send, in_flight) = self
            .open(
                prepared.uri.clone(),
                prepared.metadata.clone(),
                prepared.encoding,
                attempt,
            )
            .await?;
        if let Err(err) = send.send_now(prepared.body.clone(), true) {
            // The server may already have answered from the headers alone (e.g.
            // UNIMPLEMENTED): its answer is in the response.
            tracing::debug!(%err, "request message not sent; reading the server's answer");
        }
        Ok((response, in_flight))
    }
}

/// An attempt of a streaming call, open: its response head to come, its place in the
/// connection's count of calls in flight, and its report to the interceptors.
pub(crate) type Opened = (PendingResponse, InFlight, StartedAttempt);

/// A streaming call with a retry or hedging policy, as its attempt loop has it: what it
/// takes to open another attempt, and the replaying sender that feeds each attempt the
/// request messages.
pub(crate) struct Replayed {
    pub(crate) channel: Channel,
    pub(crate) uri: Uri,
    pub(crate) metadata: MetadataMap,
    pub(crate) encoding: Option<Encoding>,
    /// The first attempt's settings.
    pub(crate) attempt: Attempt,
    /// Tells the interceptors about each attempt.
    pub(crate) attempts: Option<AttemptHook>,
    pub(crate) replay: Replay,
}

impl Replayed {
    /// The call's response head by `policy`: the attempt loop, from the `first` attempt
    /// (started with `perAttemptRecvTimeout` to end by `first_by`), until one commits.
    pub(crate) fn head(
        self,
        first: Opened,
        first_by: Option<Instant>,
        policy: Policy,
    ) -> RetriedHead {
        match policy {
            Policy::Retry(policy) => Box::pin(self.retry(first, first_by, policy)),
            Policy::Hedge(policy) => Box::pin(self.hedge(first, policy)),
        }
    }

    /// Retries by `policy`: after a retryable failure (or an attempt past
    /// `perAttemptRecvTimeout`) and the backoff, the next attempt, to which the sender
    /// replays the messages sent so far, until one commits.
    async fn retry(
        self,
        first: Opened,
        first_by: Option<Instant>,
        policy: RetryPolicy,
    ) -> Result<Committed, Status> {
        let deadline = self.attempt.deadline;
        let mut backoff = RetryBackoff::new();
        let (mut previous, mut opened, mut by) = (0, Some(first), first_by);
        loop {
            let failure = match within(by, self.answer(previous, opened.take())).await {
                Some(Ok(committed)) => {
                    self.replay.commit(previous);
                    self.channel.inner.throttle().inspect(|t| t.succeeded());
                    return Ok(committed);
                }
                Some(Err(status)) => Failure::Status(status),
                None => Failure::RecvTimeout,
            };
            self.replay.cancel(previous);
            if !self.replay.can_retry() {
                return Err(failure.into_status());
            }
            let wait = self
                .channel
                .retry_wait(&failure, &policy, previous, deadline, &mut backoff);
            let Some(wait) = wait else {
                return Err(failure.into_status());
            };
            tokio::time::sleep(wait).await;
            previous += 1;
            by = recv_by(&policy);
        }
    }

    /// Hedges by `policy` (see [`Channel::hedge_attempts`]); the sender feeds every attempt
    /// running, late ones from the start.
    async fn hedge(self, first: Opened, policy: HedgingPolicy) -> Result<Committed, Status> {
        let first: Hedge<'_> = Box::pin(self.answer(0, Some(first)));
        let launch = |n| -> Hedge<'_> { Box::pin(self.answer(n, None)) };
        self.channel
            .hedge_attempts(&policy, Some(first), launch, Some(&self.replay))
            .await
    }

    /// The response head of attempt `previous`, opening it first unless it is `opened`;
    /// resent transparently while the server refuses its stream.
    async fn answer(&self, previous: u32, opened: Option<Opened>) -> Result<Committed, Status> {
        let mut current = match opened {
            Some(opened) => opened,
            None => self.open(previous, false).await?,
        };
        let mut resent = 0;
        loop {
            let (response, in_flight, mut started) = current;
            match outcome(response.await) {
                Outcome::Commit(head, body) => {
                    started.commit();
                    return Ok(Committed {
                        head,
                        body,
                        in_flight,
                    });
                }
                Outcome::Refused(status)
                    if resent < TRANSPARENT_RETRIES && self.replay.can_retry() =>
                {
                    tracing::debug!(%status, "stream refused before it was seen; resending");
                    started.end(&status);
                    resent += 1;
                    current = self.open(previous, true).await?;
                }
                Outcome::Refused(status) | Outcome::Failed(status) => {
                    started.end(&status);
                    return Err(status);
                }
            }
        }
    }

    /// Opens attempt `previous` (`transparent`: a resend of a refused one) and hands its
    /// request stream to the sender.
    async fn open(&self, previous: u32, transparent: bool) -> Result<Opened, Status> {
        let mut started = StartedAttempt::start(self.attempts.as_ref(), previous, transparent);
        let attempt = Attempt {
            previous,
            ..self.attempt
        };
        let (uri, metadata) = (self.uri.clone(), self.metadata.clone());
        let opened = self
            .channel
            .open(uri, metadata, self.encoding, attempt)
            .await;
        let (response, send, in_flight) = started.ended_by(opened)?;
        self.replay.add(previous, send);
        Ok((response, in_flight, started))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    #[test]
    fn the_throttle_stops_retries_below_half_and_recovers_with_successes() {
        let throttle = Throttle::new(RetryThrottling {
            max_tokens: 4.0,
            token_ratio: 0.5,
        });
        assert!(throttle.allows_retry());
        throttle.failed();
        assert!(throttle.allows_retry(), "3 tokens > 2");
        throttle.failed();
        assert!(!throttle.allows_retry(), "2 tokens is not above half");
        throttle.succeeded();
        assert!(throttle.allows_retry(), "2.5 tokens");
        for _ in 0..10 {
            throttle.failed();
        }
        assert_eq!(*throttle.tokens.lock().unwrap(), 0.0);
        for _ in 0..20 {
            throttle.succeeded();
        }
        assert_eq!(
            *throttle.tokens.lock().unwrap(),
            4.0,
            "capped at max_tokens"
        );
    }

    #[test]
    fn pushback_is_a_delay_or_a_refusal() {
        let mut status = Status::unavailable("busy");
        assert_eq!(pushback(&status), None);
        status.metadata_mut().insert(PUSHBACK, "250").unwrap();
        assert_eq!(pushback(&status), Some(Some(Duration::from_millis(250))));
        status.metadata_mut().insert(PUSHBACK, "-1").unwrap();
        assert_eq!(pushback(&status), Some(None));
        status.metadata_mut().insert(PUSHBACK, "soon").unwrap();
        assert_eq!(pushback(&status), Some(None));
    }

    #[test]
    fn plans_follow_the_method_config() {
        assert!(matches!(Plan::of(None), Plan::Once));
        assert!(matches!(
            Plan::of(Some(&MethodConfig::default())),
            Plan::Once
        ));
        let hedged = MethodConfig {
            hedging: Some(HedgingPolicy {
                max_attempts: 2,
                hedging_delay: Duration::ZERO,
                non_fatal_status_codes: vec![Code::Unavailable],
            }),
            ..MethodConfig::default()
        };
        assert!(matches!(Plan::of(Some(&hedged)), Plan::Hedge(_)));
    }
}
