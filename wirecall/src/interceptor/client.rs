//! Client interceptors: async code that runs around every call a channel makes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use http::uri::PathAndQuery;

use super::{Direction, MessageHook, Totals};
use crate::metadata::MetadataMap;
use crate::Status;

/// What every client interceptor hook knows about the call.
#[derive(Debug)]
pub struct ClientCallInfo {
    pub(crate) path: PathAndQuery,
    pub(crate) deadline: Option<Instant>,
    pub(crate) started: Instant,
    pub(crate) sent: Totals,
    pub(crate) received: Totals,
}

impl ClientCallInfo {
    /// The method's path, e.g. `/order.OrderService/GetOrder`.
    pub fn path(&self) -> &str {
        self.path.as_str()
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
/// for every interceptor whose `on_call` ran. Every hook has a default that does nothing.
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
    fn on_end(&self, call: &ClientCallInfo, status: &Status);
}

impl<I: ClientInterceptor> DynClientInterceptor for I {
    fn on_call<'a>(&'a self, call: &'a mut OutgoingCall) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(ClientInterceptor::on_call(self, call))
    }

    fn on_message(&self, call: &ClientCallInfo, direction: Direction, size: usize) {
        ClientInterceptor::on_message(self, call, direction, size);
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
    /// An observer for a call to `path`, or `None` when the channel has no interceptors.
    pub(crate) fn new(
        interceptors: &ClientInterceptors,
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
                deadline,
                started: Instant::now(),
                sent: Totals::default(),
                received: Totals::default(),
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
}

impl Drop for ClientObserver {
    fn drop(&mut self) {
        let status = self
            .outcome
            .take()
            .unwrap_or_else(|| Status::cancelled("the call was dropped before it ended"));
        for interceptor in self.chain[..self.entered].iter().rev() {
            interceptor.on_end(&self.info, &status);
        }
    }
}
