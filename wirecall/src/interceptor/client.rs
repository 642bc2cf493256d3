//! Client interceptors: async code that runs around every call a channel makes.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use http::uri::PathAndQuery;

use super::{Direction, MessageHook, Totals};
use crate::metadata::MetadataMap;
use crate::Status;

/// What every client interceptor hook knows about the call.
#[derive(Debug)]
pub struct ClientCallInfo {
    pub(crate) path: PathAndQuery,
    /// The channel's target, shared by its calls.
    pub(crate) target: Arc<str>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) started: Instant,
    pub(crate) sent: Totals,
    pub(crate) received: Totals,
    /// The attempt that committed the call, told `on_attempt_end` with the call's end.
    pub(crate) committed: OnceLock<AttemptInfo>,
}

impl ClientCallInfo {
    /// The method's path, e.g. `/order.OrderService/GetOrder`.
    pub fn path(&self) -> &str {
        self.path.as_str()
    }

    /// The channel's target (gRFC A66's `grpc.target`): a name-resolving target or a Unix
    /// socket as written (`dns:///orders:50051`, `unix:/run/orders.sock`), a plain one with
    /// its scheme and port (`http://127.0.0.1:50051`), `in-process` for an in-process
    /// listener.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The service part of the path, e.g. `order.OrderService`.
    pub fn service(&self) -> &str {
        self.split().0
    }

    /// The method part of the path, e.g. `GetOrder`.
    pub fn method(&self) -> &str {
        self.split().1
    }

    fn split(&self) -> (&str, &str) {
        let path = self.path.as_str().trim_start_matches('/');
        path.split_once('/').unwrap_or((path, ""))
    }

    /// The call's deadline (its own timeout, the channel's, or the one it inherited).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// When the call started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The request messages sent so far.
    pub fn sent(&self) -> &Totals {
        &self.sent
    }

    /// The response messages received so far.
    pub fn received(&self) -> &Totals {
        &self.received
    }
}

/// One attempt of a call, as [`ClientInterceptor::on_attempt`] and
/// [`ClientInterceptor::on_attempt_end`] see it. A call has one attempt, or more when the
/// service config retries or hedges its method, or when the server refused a stream before
/// its application saw it and the attempt was resent transparently.
#[derive(Debug)]
pub struct AttemptInfo {
    pub(crate) previous: u32,
    pub(crate) transparent: bool,
    pub(crate) started: Instant,
    pub(crate) sent: Totals,
    pub(crate) received: Totals,
}

impl AttemptInfo {
    /// How many attempts came before this one, as sent in `grpc-previous-rpc-attempts`: 0
    /// for the first; a transparent resend keeps the number of the attempt it resends.
    pub fn previous_attempts(&self) -> u32 {
        self.previous
    }

    /// Whether this attempt resends one the server refused before its application saw it
    /// (`REFUSED_STREAM`), which the retry policy does not count.
    pub fn is_transparent(&self) -> bool {
        self.transparent
    }

    /// When the attempt started, before a connection was picked for it.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The request messages the attempt was sent, once it has ended (every attempt is sent
    /// every request message of the call so far: a retry replays them); 0 before.
    pub fn sent(&self) -> &Totals {
        &self.sent
    }

    /// The response messages the attempt received, once it has ended: only the attempt
    /// that committed the call receives any.
    pub fn received(&self) -> &Totals {
        &self.received
    }
}

/// The call as [`ClientInterceptor::on_call`] sees it, before anything is sent.
#[derive(Debug)]
pub struct OutgoingCall {
    pub(crate) info: Arc<ClientCallInfo>,
    pub(crate) metadata: MetadataMap,
}

impl OutgoingCall {
    /// The method, deadline and start time.
    pub fn info(&self) -> &ClientCallInfo {
        &self.info
    }

    /// The request metadata.
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The request metadata, to add to (credentials, a request id, a trace context).
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }
}

/// Code that runs around every call of a channel
/// ([`Endpoint::interceptor`](crate::Endpoint::interceptor)), in the order added: `on_call`
/// first to last (the first refusal stops the call before it is sent), `on_end` last to first
/// for every interceptor whose `on_call` ran. In between, `on_attempt` and `on_attempt_end`
/// for each attempt of the call (retries and hedges are attempts; `on_call` runs once per
/// call, and its metadata goes with every attempt). Every hook has a default that does
/// nothing.
pub trait ClientInterceptor: Send + Sync + 'static {
    /// Runs before the request is sent. `Err` fails the call with that status, locally.
    fn on_call(&self, call: &mut OutgoingCall) -> impl Future<Output = Result<(), Status>> + Send {
        let _ = call;
        std::future::ready(Ok(()))
    }

    /// A message of `size` bytes (framed, compressed if it was) was sent (`Sent`) or
    /// received (`Received`).
    fn on_message(&self, call: &ClientCallInfo, direction: Direction, size: usize) {
        let _ = (call, direction, size);
    }

    /// An attempt of the call starts, before a connection is picked for it: once per call
    /// unless the service config retries or hedges the method (or a refused stream is
    /// resent transparently). Only for calls whose `on_call` this interceptor ran.
    fn on_attempt(&self, call: &ClientCallInfo, attempt: &AttemptInfo) {
        let _ = (call, attempt);
    }

    /// The attempt ended with `status`: a failed one as it fails (a retry or hedge may
    /// follow), a hedge another attempt won with `CANCELLED`, and the attempt that committed
    /// the call with the call's own status, just before `on_end`.
    fn on_attempt_end(&self, call: &ClientCallInfo, attempt: &AttemptInfo, status: &Status) {
        let _ = (call, attempt, status);
    }

    /// The call ended with `status` (`OK` included). A streaming call ends when its response
    /// stream finishes, or with `CANCELLED` when it is dropped before that.
    fn on_end(&self, call: &ClientCallInfo, status: &Status) {
        let _ = (call, status);
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub(crate) trait DynClientInterceptor: Send + Sync {
    fn on_call<'a>(&'a self, call: &'a mut OutgoingCall) -> BoxFuture<'a, Result<(), Status>>;
    fn on_message(&self, call: &ClientCallInfo, direction: Direction, size: usize);
    fn on_attempt(&self, call: &ClientCallInfo, attempt: &AttemptInfo);
    fn on_attempt_end(&self, call: &ClientCallInfo, attempt: &AttemptInfo, status: &Status);
    fn on_end(&self, call: &ClientCallInfo, status: &Status);
}

impl<I: ClientInterceptor> DynClientInterceptor for I {
    fn on_call<'a>(&'a self, call: &'a mut OutgoingCall) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(ClientInterceptor::on_call(self, call))
    }

    fn on_message(&self, call: &ClientCallInfo, direction: Direction, size: usize) {
        ClientInterceptor::on_message(self, call, direction, size);
    }

    fn on_attempt(&self, call: &ClientCallInfo, attempt: &AttemptInfo) {
        ClientInterceptor::on_attempt(self, call, attempt);
    }

    fn on_attempt_end(&self, call: &ClientCallInfo, attempt: &AttemptInfo, status: &Status) {
        ClientInterceptor::on_attempt_end(self, call, attempt, status);
    }

    fn on_end(&self, call: &ClientCallInfo, status: &Status) {
        ClientInterceptor::on_end(self, call, status);
    }
}

/// The interceptors of a channel.
#[derive(Clone, Default)]
pub(crate) struct ClientInterceptors(pub(crate) Vec<Arc<dyn DynClientInterceptor>>);

impl std::fmt::Debug for ClientInterceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} interceptor(s)", self.0.len())
    }
}

/// One call's interceptors; tells them `on_end` when dropped.
pub(crate) struct ClientObserver {
    chain: Arc<[Arc<dyn DynClientInterceptor>]>,
    info: Arc<ClientCallInfo>,
    entered: usize,
    outcome: Option<Status>,
}

impl std::fmt::Debug for ClientObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientObserver")
            .field("path", &self.info.path)
            .finish_non_exhaustive()
    }
}

impl ClientObserver {
    /// An observer for a call to `path` on a channel to `target`, or `None` when the
    /// channel has no interceptors.
    pub(crate) fn new(
        interceptors: &ClientInterceptors,
        target: &Arc<str>,
        path: &PathAndQuery,
        deadline: Option<Instant>,
    ) -> Option<Box<Self>> {
        if interceptors.0.is_empty() {
            return None;
        }
        Some(Box::new(ClientObserver {
            chain: interceptors.0.iter().cloned().collect(),
            info: Arc::new(ClientCallInfo {
                path: path.clone(),
                target: target.clone(),
                deadline,
                started: Instant::now(),
                sent: Totals::default(),
                received: Totals::default(),
                committed: OnceLock::new(),
            }),
            entered: 0,
            outcome: None,
        }))
    }

    /// Runs every `on_call` on `metadata`; a refusal is recorded and returned.
    pub(crate) async fn on_call(&mut self, metadata: &mut MetadataMap) -> Result<(), Status> {
        let mut call = OutgoingCall {
            info: self.info.clone(),
            metadata: std::mem::take(metadata),
        };
        let mut result = Ok(());
        for interceptor in self.chain.iter() {
            self.entered += 1;
            result = interceptor.on_call(&mut call).await;
            if result.is_err() {
                break;
            }
        }
        *metadata = call.metadata;
        if let Err(status) = &result {
            self.record(status.clone());
        }
        result
    }

    /// Notes how the call ended (the first outcome counts).
    pub(crate) fn record(&mut self, status: Status) {
        self.outcome.get_or_insert(status);
    }

    /// Notes the result of a call that ends here.
    pub(crate) fn record_result<T>(&mut self, result: &Result<T, Status>) {
        match result {
            Ok(_) => self.record(Status::ok("")),
            Err(status) => self.record(status.clone()),
        }
    }

    /// A hook that reports messages to the interceptors that entered.
    pub(crate) fn hook(&self) -> MessageHook {
        let chain: Vec<_> = self.chain[..self.entered].to_vec();
        let info = self.info.clone();
        MessageHook::new(move |direction, size| {
            match direction {
                Direction::Sent => info.sent.add(size),
                Direction::Received => info.received.add(size),
            }
            for interceptor in &chain {
                interceptor.on_message(&info, direction, size);
            }
        })
    }

    /// A hook that tells the interceptors that entered about each attempt.
    pub(crate) fn attempts(&self) -> AttemptHook {
        AttemptHook {
            chain: self.chain.clone(),
            entered: self.entered,
            info: self.info.clone(),
        }
    }
}

impl Drop for ClientObserver {
    fn drop(&mut self) {
        let status = self
            .outcome
            .take()
            .unwrap_or_else(|| Status::cancelled("the call was dropped before it ended"));
        let committed = self.info.committed.get();
        if let Some(attempt) = committed {
            attempt.sent.copy_from(&self.info.sent);
            attempt.received.copy_from(&self.info.received);
        }
        for interceptor in self.chain[..self.entered].iter().rev() {
            if let Some(attempt) = committed {
                interceptor.on_attempt_end(&self.info, attempt, &status);
            }
            interceptor.on_end(&self.info, &status);
        }
    }
}

/// Tells a call's interceptors about its attempts: cheap to clone, one per call.
#[derive(Clone)]
pub(crate) struct AttemptHook {
    chain: Arc<[Arc<dyn DynClientInterceptor>]>,
    entered: usize,
    info: Arc<ClientCallInfo>,
}

impl std::fmt::Debug for AttemptHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttemptHook").finish_non_exhaustive()
    }
}

impl AttemptHook {
    fn interceptors(&self) -> impl DoubleEndedIterator<Item = &Arc<dyn DynClientInterceptor>> {
        self.chain[..self.entered].iter()
    }
}

/// One attempt in flight: ended with its status when it fails ([`end`](Self::end)),
/// handed to the call when it commits ([`commit`](Self::commit)), and ended as cancelled
/// (or past the deadline) when dropped before either. Does nothing without a hook.
pub(crate) struct StartedAttempt(Option<(AttemptHook, AttemptInfo)>);

impl StartedAttempt {
    /// Attempt `previous` (0 for the first) starts; `transparent` for a resend of a refused
    /// stream.
    pub(crate) fn start(hook: Option<&AttemptHook>, previous: u32, transparent: bool) -> Self {
        StartedAttempt(hook.map(|hook| {
            let attempt = AttemptInfo {
                previous,
                transparent,
                started: Instant::now(),
                sent: Totals::default(),
                received: Totals::default(),
            };
            for interceptor in hook.interceptors() {
                interceptor.on_attempt(&hook.info, &attempt);
            }
            (hook.clone(), attempt)
        }))
    }

    /// The attempt failed with `status` before it committed the call.
    pub(crate) fn end(&mut self, status: &Status) {
        if let Some((hook, attempt)) = self.0.take() {
            // Every attempt is sent the call's messages so far; one that did not commit
            // received none.
            attempt.sent.copy_from(&hook.info.sent);
            for interceptor in hook.interceptors().rev() {
                interceptor.on_attempt_end(&hook.info, &attempt, status);
            }
        }
    }

    /// Ends the attempt with the error of `result`, if it is one; passes `result` on.
    pub(crate) fn ended_by<T>(&mut self, result: Result<T, Status>) -> Result<T, Status> {
        if let Err(status) = &result {
            self.end(status);
        }
        result
    }

    /// The attempt committed the call: it ends with the call.
    pub(crate) fn commit(mut self) {
        if let Some((hook, attempt)) = self.0.take() {
            // Only one attempt commits a call.
            let _ = hook.info.committed.set(attempt);
        }
    }
}

impl Drop for StartedAttempt {
    fn drop(&mut self) {
        if self.0.is_some() {
            let deadline = self.0.as_ref().and_then(|(hook, _)| hook.info.deadline);
            let status = if deadline.is_some_and(|d| Instant::now() >= d) {
                crate::deadline::exceeded()
            } else {
                Status::cancelled("the attempt was cancelled")
            };
            self.end(&status);
        }
    }
}
