//! Distributed tracing across calls: W3C `traceparent` in, a `tracing` span around the
//! handler, `traceparent` out on the calls the handler makes.

use std::future::Future;

use super::{ClientInterceptor, IncomingCall, Interceptor, OutgoingCall};
use crate::context::CallContext;
use crate::trace::{TraceParent, TRACEPARENT};
use crate::Status;

/// Server side: continues the client's trace (its `traceparent`) or starts one, makes the
/// call's span current for client calls made by the handler ([`CallContext::trace`]), puts
/// it in the request's extensions, and runs the handler in a `tracing` span named
/// `grpc.server` with the fields `rpc.method`, `trace_id`, `span_id` and `parent_span_id`.
#[derive(Debug, Default, Clone)]
pub struct TraceContext;

impl TraceContext {
    /// The server tracing interceptor.
    pub fn new() -> Self {
        TraceContext
    }
}

impl Interceptor for TraceContext {
    fn on_call(&self, call: &mut IncomingCall) -> impl Future<Output = Result<(), Status>> + Send {
        let received = call.metadata().get(TRACEPARENT);
        let parent = received.and_then(TraceParent::parse);
        if let (Some(value), None) = (received, parent) {
            tracing::debug!(
                value,
                "ignoring a malformed traceparent; starting a new trace"
            );
        }
        let span_context = parent.map_or_else(TraceParent::new_root, |p| p.child());
        if let Some(context) = CallContext::current() {
            context.set_trace(span_context);
        }
        call.extensions_mut().insert(span_context);
        let span = tracing::info_span!(
            "grpc.server",
            rpc.method = %format_args!("{}/{}", call.info().service(), call.info().method()),
            trace_id = %format_args!("{:032x}", span_context.trace_id),
            span_id = %format_args!("{:016x}", span_context.span_id),
            parent_span_id = %format_args!("{:016x}", parent.map_or(0, |p| p.span_id)),
        );
        call.set_span(span);
        std::future::ready(Ok(()))
    }
}

/// Client side: sends `traceparent` on every call — a child of the span of the call being
/// served (when the call is made from a handler under [`TraceContext`]), else a new trace. A
/// `traceparent` already in the request metadata is left as it is.
#[derive(Debug, Default, Clone)]
pub struct TracePropagation;

impl TracePropagation {
    /// The client tracing interceptor.
    pub fn new() -> Self {
        TracePropagation
    }
}

impl ClientInterceptor for TracePropagation {
    fn on_call(&self, call: &mut OutgoingCall) -> impl Future<Output = Result<(), Status>> + Send {
        if !call.metadata().contains_key(TRACEPARENT) {
            let parent = CallContext::current().and_then(|c| c.trace());
            let outgoing = parent.map_or_else(TraceParent::new_root, |p| p.child());
            // Lowercase hex and dashes: always a valid header value.
            let _ = call
                .metadata_mut()
                .insert(TRACEPARENT, &outgoing.to_string());
        }
        std::future::ready(Ok(()))
    }
}
