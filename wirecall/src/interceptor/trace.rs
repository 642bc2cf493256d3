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
        #[allow(unused_mut)]
        let mut span_context = parent.map_or_else(TraceParent::new_root, |p| p.child());
        let span = tracing::info_span!(
            "grpc.server",
            rpc.method = %format_args!("{}/{}", call.info().service(), call.info().method()),
            trace_id = %format_args!("{:032x}", span_context.trace_id),
            span_id = %format_args!("{:016x}", span_context.span_id),
            parent_span_id = %format_args!("{:016x}", parent.map_or(0, |p| p.span_id)),
        );
        #[cfg(feature = "opentelemetry")]
        otel::link(&span, parent, &mut span_context);
        if let Some(context) = CallContext::current() {
            context.set_trace(span_context);
        }
        call.extensions_mut().insert(span_context);
        call.set_span(span);
        std::future::ready(Ok(()))
    }
}

/// Client side: sends `traceparent` on every call — naming the span of the call being served
/// as the parent (when the call is made from a handler under [`TraceContext`]), else a new
/// trace. A `traceparent` already in the request metadata is left as it is.
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
            let outgoing = parent.unwrap_or_else(TraceParent::new_root);
            // Lowercase hex and dashes: always a valid header value.
            let _ = call
                .metadata_mut()
                .insert(TRACEPARENT, &outgoing.to_string());
        }
        std::future::ready(Ok(()))
    }
}

/// OpenTelemetry export (feature `opentelemetry`): the `grpc.server` span continues the
/// client's trace in OpenTelemetry too, and calls made from the handler name the exported
/// span as their parent.
#[cfg(feature = "opentelemetry")]
mod otel {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use crate::trace::TraceParent;

    /// Makes `parent` (the client's span) the OpenTelemetry parent of `span`, and takes the
    /// ids OpenTelemetry gave `span` (when an OpenTelemetry layer is installed) as the call's.
    pub(super) fn link(span: &tracing::Span, parent: Option<TraceParent>, own: &mut TraceParent) {
        if let Some(parent) = parent {
            let remote = SpanContext::new(
                TraceId::from_bytes(parent.trace_id.to_be_bytes()),
                SpanId::from_bytes(parent.span_id.to_be_bytes()),
                TraceFlags::new(parent.flags),
                true,
                TraceState::default(),
            );
            let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
        }
        let context = span.context();
        let exported = context.span().span_context().clone();
        if exported.is_valid() {
            own.trace_id = u128::from_be_bytes(exported.trace_id().to_bytes());
            own.span_id = u64::from_be_bytes(exported.span_id().to_bytes());
            own.flags = exported.trace_flags().to_u8();
        }
    }
}
