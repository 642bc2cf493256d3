//! The four call patterns, as methods on [`Channel`] that generated clients call.
//!
//! Every call: open a stream with the request headers, send the framed message(s), read the
//! response headers (a trailers-only response ends the call there), then the message(s) and
//! the trailers.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_core::Stream;
use http::header::{HeaderValue, CONTENT_TYPE, TE, USER_AGENT};
use http::uri::PathAndQuery;
use http::Uri;

use super::retry::{Plan, Policy, Prepared, Replayed, PREVIOUS_ATTEMPTS};
use super::Channel;
use crate::codec::{encode_frame, Decoder, Encoder, ProstCodec};
use crate::compression::{Encoding, ACCEPT_ENCODING};
use crate::context::{earliest, under_parent, CallContext};
use crate::deadline::Timer;
use crate::in_flight::InFlight;
use crate::interceptor::{AttemptHook, ClientObserver, Direction, MessageHook, StartedAttempt};
use crate::metadata::MetadataMap;
use crate::service_config::{MethodConfig, ServiceConfig};
use crate::wire::{PendingResponse, SendBody};
use crate::{IntoRequest, IntoStreamingRequest, Request, Response, Status, Streaming};

use crate::headers::{
    CONTENT_TYPE_GRPC, GRPC_ACCEPT_ENCODING, GRPC_ENCODING, GRPC_TIMEOUT, TE_TRAILERS,
};

impl Channel {
    /// A unary call with protobuf messages: one request, one response.
    pub async fn unary<Req, Resp>(
        &self,
        request: impl IntoRequest<Req>,
        path: PathAndQuery,
    ) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        self.unary_with(
            request.into_request(),
            path,
            ProstCodec::default(),
            ProstCodec::default(),
        )
        .await
    }

    /// A server-streaming call with protobuf messages.
    pub async fn server_streaming<Req, Resp>(
        &self,
        request: impl IntoRequest<Req>,
        path: PathAndQuery,
    ) -> Result<Response<Streaming<Resp>>, Status>
    where
        Req: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        self.server_streaming_with(
            request.into_request(),
            path,
            ProstCodec::default(),
            ProstCodec::default(),
        )
        .await
    }

    /// A client-streaming call with protobuf messages.
    pub async fn client_streaming<R, Resp>(
        &self,
        request: R,
        path: PathAndQuery,
    ) -> Result<Response<Resp>, Status>
    where
        R: IntoStreamingRequest,
        R::Message: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        self.client_streaming_with(
            request.into_streaming_request(),
            path,
            ProstCodec::default(),
            ProstCodec::default(),
        )
        .await
    }

    /// A bidirectional-streaming call with protobuf messages.
    pub async fn streaming<R, Resp>(
        &self,
        request: R,
        path: PathAndQuery,
    ) -> Result<Response<Streaming<Resp>>, Status>
    where
        R: IntoStreamingRequest,
        R::Message: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        self.streaming_with(
            request.into_streaming_request(),
            path,
            ProstCodec::default(),
            ProstCodec::default(),
        )
        .await
    }

    /// A unary call with any codec.
    pub async fn unary_with<E: Encoder, D: Decoder>(
        &self,
        request: Request<E::Item>,
        path: PathAndQuery,
        encoder: E,
        decoder: D,
    ) -> Result<Response<D::Item>, Status> {
        let mut request = request;
        let parent = CallContext::current();
        let mut settings = self.settings(&request, &path, parent.as_ref());
        let deadline = settings.deadline;
        let mut observer = self
            .intercept(&path, &mut settings, request.metadata_mut())
            .await?;
        let hook = observer.as_ref().map(|o| o.hook());
        // Boxed once: the deadline and parent wrappers each keep the future they wrap, so
        // inline it would be copied into each of them and size the caller's future.
        let call = Box::pin(async {
            let mut stream = self
                .send_one(request, path, encoder, decoder, &settings, hook.as_ref())
                .await?;
            if let Some(hook) = hook.clone() {
                stream.set_hook(hook);
            }
            stream.single().await
        });
        let result = under_parent(parent, with_deadline(deadline, call)).await;
        if let Some(observer) = observer.as_mut() {
            observer.record_result(&result);
        }
        result
    }

    /// A server-streaming call with any codec.
    pub async fn server_streaming_with<E: Encoder, D: Decoder>(
        &self,
        request: Request<E::Item>,
        path: PathAndQuery,
        encoder: E,
        decoder: D,
    ) -> Result<Response<Streaming<D::Item, D>>, Status> {
        let mut request = request;
        let parent = CallContext::current();
        let mut settings = self.settings(&request, &path, parent.as_ref());
        let deadline = settings.deadline;
        let observer = self
            .intercept(&path, &mut settings, request.metadata_mut())
            .await?;
        let hook = observer.as_ref().map(|o| o.hook());
        // Boxed once: the deadline and parent wrappers each keep the future they wrap, so
        // inline it would be copied into each of them and size the caller's future.
        let call = Box::pin(async {
            let mut stream = self
                .send_one(request, path, encoder, decoder, &settings, hook.as_ref())
                .await?;
            if let Some(hook) = hook.clone() {
                stream.set_hook(hook);
            }
            // Cloned: the stream's `headers()` gives them too, as for a bidirectional call.
            let headers = stream.headers().await?.clone();
            Ok((headers, stream))
        });
        let result = under_parent(parent, with_deadline(deadline, call)).await;
        let (headers, mut stream) = match result {
            Ok(parts) => parts,
            Err(status) => return Err(failed(observer, status)),
        };
        if let Some(mut observer) = observer {
            if stream.is_done() {
                // A trailers-only OK: the call ended with its headers.
                observer.record(Status::ok(""));
            } else {
                stream.set_observer(observer);
            }
        }
        stream.set_deadline(Timer::new(deadline));
        let mut response = Response::new(stream);
        *response.metadata_mut() = headers;
        Ok(response)
    }

    /// A client-streaming call with any codec.
    pub async fn client_streaming_with<S, E, D>(
        &self,
        request: Request<S>,
        path: PathAndQuery,
        encoder: E,
        decoder: D,
    ) -> Result<Response<D::Item>, Status>
    where
        S: Stream<Item = E::Item> + Send + 'static,
        E: Encoder,
        E::Item: Send,
        D: Decoder,
    {
        let mut request = request;
        let parent = CallContext::current();
        let mut settings = self.settings(&request, &path, parent.as_ref());
        let deadline = settings.deadline;
        let mut observer = self
            .intercept(&path, &mut settings, request.metadata_mut())
            .await?;
        let hook = observer.as_ref().map(|o| o.hook());
        // Boxed once: the deadline and parent wrappers each keep the future they wrap, so
        // inline it would be copied into each of them and size the caller's future.
        let call = Box::pin(async {
            let stream = self
                .start_streaming(request, path, encoder, decoder, &settings, hook)
                .await?;
            stream.single().await
        });
        let result = under_parent(parent, with_deadline(deadline, call)).await;
        if let Some(observer) = observer.as_mut() {
            observer.record_result(&result);
        }
        result
    }

    /// A bidirectional-streaming call with any codec. Returns as soon as the request
    /// headers are sent, without waiting for the server to answer (many servers send their
    /// headers only with the first response, which may wait for our first request); the
    /// response headers are then read with [`Streaming::headers`]. Requests keep flowing from
    /// `request`'s stream meanwhile.
    pub async fn streaming_with<S, E, D>(
        &self,
        request: Request<S>,
        path: PathAndQuery,
        encoder: E,
        decoder: D,
    ) -> Result<Response<Streaming<D::Item, D>>, Status>
    where
        S: Stream<Item = E::Item> + Send + 'static,
        E: Encoder,
        E::Item: Send,
        D: Decoder,
    {
        let mut request = request;
        let parent = CallContext::current();
        let mut settings = self.settings(&request, &path, parent.as_ref());
        let deadline = settings.deadline;
        let observer = self
            .intercept(&path, &mut settings, request.metadata_mut())
            .await?;
        let hook = observer.as_ref().map(|o| o.hook());
        let call = Box::pin(self.start_streaming(request, path, encoder, decoder, &settings, hook));
        let result = under_parent(parent, with_deadline(deadline, call)).await;
        let mut stream = match result {
            Ok(stream) => stream,
            Err(status) => return Err(failed(observer, status)),
        };
        if let Some(observer) = observer {
            stream.set_observer(observer);
        }
        stream.set_deadline(Timer::new(deadline));
        Ok(Response::new(stream))
    }

    /// Sends a request of one message (headers, then the message with END_STREAM) by the
    /// method's retry or hedging policy, if it has one, and reads the response head of the
    /// attempt that commits. The message is encoded first, so one over the send limit never
    /// opens a stream.
    async fn send_one<E: Encoder, D: Decoder>(
        &self,
        request: Request<E::Item>,
        path: PathAndQuery,
        mut encoder: E,
        decoder: D,
        settings: &Settings,
        hook: Option<&MessageHook>,
    ) -> Result<Streaming<D::Item, D>, Status> {
        let encoding = self.encoding(&request);
        let (parts, message) = request.into_parts();
        let metadata = parts.metadata;
        let mut buf = BytesMut::new();
        encode_frame(
            &mut encoder,
            &message,
            &mut buf,
            settings.max_send,
            encoding,
        )?;
        if let Some(hook) = hook {
            hook.report(Direction::Sent, buf.len());
        }
        let prepared = Prepared {
            uri: self.request_uri(path)?,
            metadata,
            encoding,
            body: buf.freeze(),
            attempt: settings.attempt(),
            attempts: settings.attempts.clone(),
        };
        let committed = self
            .send_attempts(&prepared, Plan::of(settings.method()))
            .await?;
        let mut stream = Streaming::answered(
            committed.head,
            committed.body,
            decoder,
            settings.max_receive,
        );
        stream.set_in_flight(committed.in_flight);
        Ok(stream)
    }

    /// Opens the stream and starts the task that sends the request messages.
    async fn start_streaming<S, E, D>(
        &self,
        request: Request<S>,
        path: PathAndQuery,
        encoder: E,
        decoder: D,
        settings: &Settings,
        hook: Option<MessageHook>,
    ) -> Result<Streaming<D::Item, D>, Status>
    where
        S: Stream<Item = E::Item> + Send + 'static,
        E: Encoder,
        E::Item: Send,
        D: Decoder,
    {
        let encoding = self.encoding(&request);
        let (parts, messages) = request.into_parts();
        let metadata = parts.metadata;
        let uri = self.request_uri(path)?;
        if let Some(policy) = Plan::of(settings.method()).policy() {
            let head = (uri, metadata, encoding);
            return self
                .start_retried_streaming(head, messages, encoder, decoder, settings, hook, policy)
                .await;
        }
        // Sent once: its one attempt commits the call as soon as it is open.
        let mut attempt = StartedAttempt::start(settings.attempts.as_ref(), 0, false);
        let (response, send, in_flight) =
            attempt.ended_by(self.open(uri, metadata, encoding, settings.attempt()).await)?;
        attempt.commit();
        let mut stream = Streaming::pending(response, decoder, settings.max_receive);
        stream.set_in_flight(in_flight);
        if let Some(hook) = hook.clone() {
            stream.set_hook(hook);
        }
        stream.set_sender(super::sender::spawn(
            send,
            messages,
            encoder,
            settings.max_send,
            encoding,
            hook,
        ));
        Ok(stream)
    }

    /// [`Channel::start_streaming`] by a retry or hedging policy: the request messages are
    /// kept for later attempts until the call commits, and the stream's head is the attempt
    /// loop.
    #[allow(clippy::too_many_arguments)]
    async fn start_retried_streaming<S, E, D>(
        &self,
        (uri, metadata, encoding): (Uri, MetadataMap, Option<Encoding>),
        messages: S,
        encoder: E,
        decoder: D,
        settings: &Settings,
        hook: Option<MessageHook>,
        policy: Policy,
    ) -> Result<Streaming<D::Item, D>, Status>
    where
        S: Stream<Item = E::Item> + Send + 'static,
        E: Encoder,
        E::Item: Send,
        D: Decoder,
    {
        let recv_by = policy.recv_by();
        let mut attempt = StartedAttempt::start(settings.attempts.as_ref(), 0, false);
        let (response, send, in_flight) = attempt.ended_by(
            self.open(uri.clone(), metadata.clone(), encoding, settings.attempt())
                .await,
        )?;
        let (sender, replay) = super::replay::spawn(
            self.clone(),
            send,
            messages,
            encoder,
            settings.max_send,
            encoding,
            hook.clone(),
        );
        let call = Replayed {
            channel: self.clone(),
            uri,
            metadata,
            encoding,
            attempt: settings.attempt(),
            attempts: settings.attempts.clone(),
            replay,
        };
        let head = call.head((response, in_flight, attempt), recv_by, policy);
        let mut stream = Streaming::retried(head, decoder, settings.max_receive);
        if let Some(hook) = hook {
            stream.set_hook(hook);
        }
        stream.set_sender(sender);
        Ok(stream)
    }

    /// Runs the channel's interceptors' `on_call` on the request metadata; returns the call's
    /// observer (none when the channel has no interceptors), or the refusal. The call's
    /// attempts are reported to the interceptors through `settings`.
    async fn intercept(
        &self,
        path: &PathAndQuery,
        settings: &mut Settings,
        metadata: &mut MetadataMap,
    ) -> Result<Option<Box<ClientObserver>>, Status> {
        let interceptors = &self.inner.endpoint.config.interceptors;
        let mut observer =
            ClientObserver::new(interceptors, &self.inner.target, path, settings.deadline);
        if let Some(observer) = observer.as_mut() {
            observer.on_call(metadata).await?;
            settings.attempts = Some(observer.attempts());
        }
        Ok(observer)
    }

    /// The call's message encoding: the request's choice, else the channel's.
    fn encoding<T>(&self, request: &Request<T>) -> Option<Encoding> {
        request
            .compression()
            .or(self.inner.endpoint.config.send_compressed)
            .filter(|e| *e != Encoding::Identity)
    }

    /// What the channel's settings and service config say for one call. The deadline is
    /// the call's own timeout (else the channel's), cut to the method config's `timeout`,
    /// and never later than the deadline of the call being served, if it is made from a
    /// handler.
    fn settings<T>(
        &self,
        request: &Request<T>,
        path: &PathAndQuery,
        parent: Option<&CallContext>,
    ) -> Settings {
        let config = &self.inner.endpoint.config;
        let source = self.inner.service_config().and_then(|config| {
            let index = config.index_for_path(path.path())?;
            Some(MethodSource { config, index })
        });
        let method = source.as_ref().map(MethodSource::get);
        let at = |timeout: Duration| Instant::now().checked_add(timeout);
        let own = request.timeout().or(config.timeout).and_then(at);
        let configured = method.and_then(|m| m.timeout).and_then(at);
        let deadline = earliest(
            earliest(own, configured),
            parent.and_then(CallContext::deadline),
        );
        let limit =
            |channel: usize, method: Option<usize>| method.map_or(channel, |m| m.min(channel));
        let wait_for_ready = request
            .wait_for_ready()
            .or_else(|| method.and_then(|m| m.wait_for_ready))
            .unwrap_or(false);
        let max_send = limit(
            config.limits.max_encoding_message_size,
            method.and_then(|m| m.max_request_message_bytes),
        );
        let max_receive = limit(
            config.limits.max_decoding_message_size,
            method.and_then(|m| m.max_response_message_bytes),
        );
        Settings {
            method: source,
            deadline,
            wait_for_ready,
            max_send,
            max_receive,
            attempts: None,
        }
    }

    /// The request URI of a call to `path`.
    fn request_uri(&self, path: PathAndQuery) -> Result<Uri, Status> {
        let endpoint = &self.inner.endpoint;
        Uri::builder()
            .scheme(endpoint.scheme.clone())
            .authority(endpoint.authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|e| Status::internal(format!("invalid request URI: {e}")))
    }

    /// Sends the request headers on a new stream: `metadata`, gRPC's own headers, the
    /// time left to `deadline`, and, on a retry, how many attempts came before.
    pub(crate) async fn open(
        &self,
        uri: Uri,
        metadata: MetadataMap,
        encoding: Option<Encoding>,
        attempt: Attempt,
    ) -> Result<(PendingResponse, SendBody, InFlight), Status> {
        let (mut sender, in_flight) = self.ready_sender(attempt.wait_for_ready).await?;
        let mut request = http::Request::new(());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        metadata.append_to(headers);
        headers.insert(CONTENT_TYPE, CONTENT_TYPE_GRPC);
        headers.insert(TE, TE_TRAILERS);
        headers.insert(USER_AGENT, self.inner.endpoint.config.user_agent.clone());
        headers.insert(GRPC_ACCEPT_ENCODING, ACCEPT_ENCODING);
        if let Some(encoding) = encoding {
            headers.insert(GRPC_ENCODING, encoding.header_value());
        }
        if let Some(deadline) = attempt.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            headers.insert(GRPC_TIMEOUT, crate::deadline::format_timeout(left));
        }
        if attempt.previous > 0 {
            headers.insert(PREVIOUS_ATTEMPTS, HeaderValue::from(attempt.previous));
        }
        let (response, send) = sender.open(request)?;
        Ok((response, send, in_flight))
    }
}

/// What one attempt of a call needs besides its request head.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    pub(crate) deadline: Option<Instant>,
    pub(crate) wait_for_ready: bool,
    /// The attempts before this one (sent as `grpc-previous-rpc-attempts` when not 0).
    pub(crate) previous: u32,
}

/// One call's settings, from the request, the channel and the method config.
pub(crate) struct Settings {
    method: Option<MethodSource>,
    deadline: Option<Instant>,
    wait_for_ready: bool,
    max_send: usize,
    max_receive: usize,
    /// Tells the interceptors about each attempt (none without interceptors).
    attempts: Option<AttemptHook>,
}

/// Where a call's method config is: its service config (which a resolver may replace
/// while the call runs) and its entry there.
struct MethodSource {
    config: Arc<ServiceConfig>,
    /// Its entry in `config`, looked up once per call.
    index: usize,
}

impl MethodSource {
    fn get(&self) -> &MethodConfig {
        self.config.method_at(self.index)
    }
}

impl Settings {
    /// The method config of the call, if the service config has one for it.
    fn method(&self) -> Option<&MethodConfig> {
        self.method.as_ref().map(MethodSource::get)
    }

    /// The call's first attempt.
    fn attempt(&self) -> Attempt {
        Attempt {
            deadline: self.deadline,
            wait_for_ready: self.wait_for_ready,
            previous: 0,
        }
    }
}

/// Tells the interceptors (if any) that the call failed with `status`, and returns it.
fn failed(observer: Option<Box<ClientObserver>>, status: Status) -> Status {
    if let Some(mut observer) = observer {
        observer.record(status.clone());
    }
    status
}

async fn with_deadline<T>(
    deadline: Option<Instant>,
    call: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    Timer::new(deadline).limit(call).await
}

#[cfg(test)]
mod tests {
    use crate::codec::BytesCodec;
    use crate::{Channel, Request};
    use bytes::Bytes;
    use http::uri::PathAndQuery;

    /// Every call's future is moved into its caller's; the call body is boxed once so the
    /// wrappers around it (deadline, parent cancellation) do not each copy it. Unboxed, a
    /// unary call's future was over 9 KiB.
    #[test]
    fn call_futures_stay_small() {
        let channel = Channel::from_static("http://127.0.0.1:1");
        let path = PathAndQuery::from_static("/a.B/C");
        let unary = channel.unary_with(
            Request::new(Bytes::new()),
            path.clone(),
            BytesCodec,
            BytesCodec,
        );
        assert!(
            std::mem::size_of_val(&unary) <= 2048,
            "{}",
            std::mem::size_of_val(&unary)
        );
        let messages = crate::message_stream::iter(Vec::<Bytes>::new());
        let bidi = channel.streaming_with(Request::new(messages), path, BytesCodec, BytesCodec);
        assert!(
            std::mem::size_of_val(&bidi) <= 2048,
            "{}",
            std::mem::size_of_val(&bidi)
        );
    }
}
