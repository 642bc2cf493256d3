//! Interceptors: async code that runs around every call of a server (or one of its
//! services), and around every call a client channel makes ([`ClientInterceptor`]).
//!
//! An [`Interceptor`] sees a call three ways: [`on_call`](Interceptor::on_call) before the
//! handler (read or change the request metadata, put values in the request's extensions,
//! add response headers, or refuse the call with a [`Status`]);
//! [`on_message`](Interceptor::on_message) for every message received and sent, streams
//! included; and [`on_end`](Interceptor::on_end) with the status the call ended with,
//! whichever way it ended (handler result, refusal, deadline, cancellation, panic).
//!
//! Placement and order: interceptors added with
//! [`ServerBuilder::interceptor`](crate::server::ServerBuilder::interceptor) run for every
//! service, before those of one service ([`Intercepted`]); within each, in the order they
//! were added. `on_call` runs first to last and stops at the first refusal; `on_end` runs
//! last to first, for every interceptor whose `on_call` ran (so an outer logging interceptor
//! sees the refusal of an inner auth interceptor).
//!
//! ```
//! use wirecall::interceptor::{BearerAuth, Intercepted, Logging, RequestId};
//! # fn build<S: wirecall::server::Service>(orders: S) -> wirecall::server::ServerBuilder {
//! wirecall::Server::builder()
//!     .interceptor(RequestId::new())
//!     .interceptor(Logging::new())
//!     .add_service(Intercepted::new(orders).with(BearerAuth::new(["secret-token"])))
//! # }
//! ```

mod auth;
mod client;
mod logging;
mod request_id;
mod trace;

pub use auth::{Access, ApiKeyAuth, BearerAuth, BearerToken};
pub(crate) use client::{AttemptHook, ClientInterceptors, ClientObserver, StartedAttempt};
pub use client::{AttemptInfo, ClientCallInfo, ClientInterceptor, OutgoingCall};
pub use logging::Logging;
pub use request_id::{RequestId, RequestIdValue, REQUEST_ID};
pub use trace::{TraceContext, TracePropagation};

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use http::Extensions;

use crate::metadata::MetadataMap;
use crate::Status;

/// What every interceptor hook knows about the call.
#[derive(Debug)]
pub struct CallInfo {
    pub(crate) service: &'static str,
    pub(crate) method: &'static str,
    pub(crate) remote_addr: Option<SocketAddr>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) started: Instant,
    pub(crate) sent: Totals,
    pub(crate) received: Totals,
}

/// Running totals of one direction of a call's messages.
#[derive(Debug, Default)]
pub struct Totals {
    messages: AtomicU64,
    bytes: AtomicU64,
}

impl Totals {
    pub(crate) fn add(&self, size: usize) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(size as u64, Ordering::Relaxed);
    }

    /// Sets these totals to `other`'s.
    pub(crate) fn copy_from(&self, other: &Totals) {
        self.messages.store(other.messages(), Ordering::Relaxed);
        self.bytes.store(other.bytes(), Ordering::Relaxed);
    }

    /// How many messages so far.
    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// Their framed size in bytes (compressed, if they were), so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl CallInfo {
    pub(crate) fn totals(&self, direction: Direction) -> &Totals {
        match direction {
            Direction::Sent => &self.sent,
            Direction::Received => &self.received,
        }
    }

    /// The fully qualified service name, e.g. `order.OrderService`.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The method name, e.g. `GetOrder`.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The client's address, when the transport has one.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// The call's deadline, from the client's `grpc-timeout`.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// When the server received the call's headers.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The response messages sent so far.
    pub fn sent(&self) -> &Totals {
        &self.sent
    }

    /// The request messages received so far.
    pub fn received(&self) -> &Totals {
        &self.received
    }
}

/// The call as [`Interceptor::on_call`] sees it, before the handler runs.
#[derive(Debug)]
pub struct IncomingCall {
    pub(crate) info: Arc<CallInfo>,
    pub(crate) metadata: MetadataMap,
    pub(crate) extensions: Extensions,
    pub(crate) response_metadata: MetadataMap,
    pub(crate) response_trailers: MetadataMap,
    pub(crate) span: Option<tracing::Span>,
}

impl IncomingCall {
    /// Runs the handler inside `span` (entered on every poll of the handler's future).
    pub fn set_span(&mut self, span: tracing::Span) {
        self.span = Some(span);
    }

    /// The method, peer, deadline and start time.
    pub fn info(&self) -> &CallInfo {
        &self.info
    }

    /// The request metadata.
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The request metadata, to change before the handler sees it.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// Values for the handler: they arrive in its `Request::extensions`.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// Metadata added to the response headers (or, for a refused call, to its status).
    pub fn response_metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.response_metadata
    }

    /// Metadata added to the response trailers, whichever way the call ends (for a refused
    /// or failed call, to its status), after what the handler put there.
    pub fn response_trailers_mut(&mut self) -> &mut MetadataMap {
        &mut self.response_trailers
    }
}

/// Which way a message went, seen from the side whose interceptor is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A message arrived from the peer.
    Received,
    /// A message was handed to HTTP/2 for the peer.
    Sent,
}

/// Code that runs around calls; see the [module docs](self) for placement and order. Every
/// hook has a default that does nothing.
pub trait Interceptor: Send + Sync + 'static {
    /// Runs before the handler. `Err` refuses the call: the client gets that status and the
    /// handler never runs.
    fn on_call(&self, call: &mut IncomingCall) -> impl Future<Output = Result<(), Status>> + Send {
        let _ = call;
        std::future::ready(Ok(()))
    }

    /// A message of `size` bytes (as framed on the wire, compressed if it was) went
    /// `direction`.
    fn on_message(&self, call: &CallInfo, direction: Direction, size: usize) {
        let _ = (call, direction, size);
    }

    /// The call ended with `status` (`OK` included). A call the client cancelled, or one
    /// that could not be answered, ends with `CANCELLED`.
    fn on_end(&self, call: &CallInfo, status: &Status) {
        let _ = (call, status);
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An interceptor with its type erased, so different ones share a chain.
pub(crate) trait DynInterceptor: Send + Sync {
    fn on_call<'a>(&'a self, call: &'a mut IncomingCall) -> BoxFuture<'a, Result<(), Status>>;
    fn on_message(&self, call: &CallInfo, direction: Direction, size: usize);
    fn on_end(&self, call: &CallInfo, status: &Status);
}

impl<I: Interceptor> DynInterceptor for I {
    fn on_call<'a>(&'a self, call: &'a mut IncomingCall) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(Interceptor::on_call(self, call))
    }

    fn on_message(&self, call: &CallInfo, direction: Direction, size: usize) {
        Interceptor::on_message(self, call, direction, size);
    }

    fn on_end(&self, call: &CallInfo, status: &Status) {
        Interceptor::on_end(self, call, status);
    }
}

/// An ordered list of interceptors.
pub(crate) type Chain = Vec<Arc<dyn DynInterceptor>>;

/// The interceptors of a whole server.
#[derive(Clone, Default)]
pub(crate) struct ServerInterceptors(pub(crate) Chain);

impl std::fmt::Debug for ServerInterceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} interceptor(s)", self.0.len())
    }
}

/// A service with interceptors of its own, added to a server like the service itself.
pub struct Intercepted<S> {
    pub(crate) service: Arc<S>,
    pub(crate) chain: Chain,
}

impl<S> std::fmt::Debug for Intercepted<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intercepted")
            .field("interceptors", &self.chain.len())
            .finish_non_exhaustive()
    }
}

// The server runs it as a service (`server::service`): its interceptors first, then the
// service's.
impl<S> Intercepted<S> {
    /// `service` with no interceptors yet.
    pub fn new(service: S) -> Self {
        Intercepted {
            service: Arc::new(service),
            chain: Vec::new(),
        }
    }

    /// Adds an interceptor after the ones already added.
    pub fn with(mut self, interceptor: impl Interceptor) -> Self {
        self.chain.push(Arc::new(interceptor));
        self
    }
}

/// A call's interceptors and what they are told: kept by the server's call while it runs.
pub(crate) struct Observer {
    pub(crate) chain: Chain,
    pub(crate) info: Arc<CallInfo>,
    /// How many interceptors' `on_call` ran (and so get `on_end`).
    entered: usize,
    /// The status the call was answered with, once it was.
    pub(crate) outcome: Option<Status>,
    /// Response metadata the interceptors asked for.
    pub(crate) response_metadata: MetadataMap,
    /// Trailer metadata the interceptors asked for.
    pub(crate) response_trailers: MetadataMap,
    /// The span the handler runs in, if an interceptor set one.
    pub(crate) span: Option<tracing::Span>,
}

impl Observer {
    pub(crate) fn new(chain: Chain, info: CallInfo) -> Self {
        Observer {
            chain,
            info: Arc::new(info),
            entered: 0,
            outcome: None,
            response_metadata: MetadataMap::new(),
            response_trailers: MetadataMap::new(),
            span: None,
        }
    }

    /// Runs every `on_call` in order; the first refusal stops the chain.
    pub(crate) async fn on_call(
        &mut self,
        metadata: &mut MetadataMap,
        extensions: &mut Extensions,
    ) -> Result<(), Status> {
        let mut call = IncomingCall {
            info: self.info.clone(),
            metadata: std::mem::take(metadata),
            extensions: std::mem::take(extensions),
            response_metadata: MetadataMap::new(),
            response_trailers: MetadataMap::new(),
            span: None,
        };
        let mut result = Ok(());
        for interceptor in &self.chain {
            self.entered += 1;
            result = interceptor.on_call(&mut call).await;
            if result.is_err() {
                break;
            }
        }
        *metadata = call.metadata;
        *extensions = call.extensions;
        self.response_metadata = call.response_metadata;
        self.response_trailers = call.response_trailers;
        self.span = call.span;
        result
    }

    /// A hook for a message stream: reports each message received or sent.
    pub(crate) fn message_hook(&self) -> MessageHook {
        let chain: Chain = self.chain[..self.entered].to_vec();
        let info = self.info.clone();
        MessageHook::new(move |direction, size| {
            info.totals(direction).add(size);
            for interceptor in &chain {
                interceptor.on_message(&info, direction, size);
            }
        })
    }

    pub(crate) fn on_message(&self, direction: Direction, size: usize) {
        self.info.totals(direction).add(size);
        for interceptor in &self.chain[..self.entered] {
            interceptor.on_message(&self.info, direction, size);
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        let status = self
            .outcome
            .take()
            .unwrap_or_else(|| Status::cancelled("the call ended without a status"));
        for interceptor in self.chain[..self.entered].iter().rev() {
            interceptor.on_end(&self.info, &status);
        }
    }
}

/// Reports messages to a call's interceptors: cheap to clone, called for every message.
#[derive(Clone)]
pub(crate) struct MessageHook(Arc<dyn Fn(Direction, usize) + Send + Sync>);

impl MessageHook {
    pub(crate) fn new(report: impl Fn(Direction, usize) + Send + Sync + 'static) -> Self {
        MessageHook(Arc::new(report))
    }

    pub(crate) fn report(&self, direction: Direction, size: usize) {
        (self.0)(direction, size);
    }
}

impl std::fmt::Debug for MessageHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageHook").finish_non_exhaustive()
    }
}
