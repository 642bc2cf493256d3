//! Tower interop (feature `tower`): a wirecall service as a `tower::Service` of calls, and
//! back, so ordinary tower layers (concurrency and rate limits, load shedding, buffers,
//! your own) wrap a service without any marker trait in the way.
//!
//! ```ignore
//! use tower::ServiceBuilder;
//! use wirecall::server::tower::layered;
//!
//! let limited = layered(GreeterServer::new(MyGreeter), |service| {
//!     ServiceBuilder::new().concurrency_limit(64).service(service)
//! });
//! let server = Server::builder().add_service(limited);
//! ```
//!
//! A layer that refuses a call (returns `Err`, e.g. load shedding) makes the call answer
//! `UNAVAILABLE` with the error's text; a layer that drops the call (e.g. a timeout) cancels
//! it like a client reset would.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use super::{ServerCall, Service};
use crate::Status;

/// One call as a tower request. A layer that refuses or drops it without passing it on
/// does not lose the call: it is answered `UNAVAILABLE` with the layer's error.
#[derive(Debug)]
pub struct CallRequest {
    method: usize,
    call: Arc<Mutex<Option<ServerCall>>>,
}

impl CallRequest {
    /// Which method: an index into the service's `METHODS`.
    pub fn method(&self) -> usize {
        self.method
    }
}

/// A wirecall [`Service`] as a `tower::Service<CallRequest>` that runs each call to the end.
pub struct TowerService<S> {
    inner: Arc<S>,
}

impl<S> Clone for TowerService<S> {
    fn clone(&self) -> Self {
        TowerService {
            inner: self.inner.clone(),
        }
    }
}

impl<S> std::fmt::Debug for TowerService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TowerService").finish_non_exhaustive()
    }
}

impl<S: Service> TowerService<S> {
    /// Wraps `service`.
    pub fn new(service: S) -> Self {
        TowerService {
            inner: Arc::new(service),
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S: Service> tower_service::Service<CallRequest> for TowerService<S> {
    type Response = ();
    type Error = Infallible;
    type Future = BoxFuture<Result<(), Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: CallRequest) -> Self::Future {
        let call = request
            .call
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let inner = self.inner.clone();
        Box::pin(async move {
            if let Some(call) = call {
                inner.call(request.method, call).await;
            }
            Ok(())
        })
    }
}

/// A `tower::Service<CallRequest>` (a [`TowerService<S>`] under layers) as a wirecall
/// [`Service`] with `S`'s name and methods, ready for `ServerBuilder::add_service`. Made by
/// [`layered`].
pub struct FromTower<T, S> {
    tower: Mutex<T>,
    _service: PhantomData<fn() -> S>,
}

impl<T, S> std::fmt::Debug for FromTower<T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FromTower").finish_non_exhaustive()
    }
}

/// Wraps `service` in the tower stack `stack` builds around it, and makes the result a
/// wirecall service again: `layered(svc, |s| ServiceBuilder::new().concurrency_limit(8).service(s))`.
pub fn layered<S, T>(service: S, stack: impl FnOnce(TowerService<S>) -> T) -> FromTower<T, S>
where
    S: Service,
    T: tower_service::Service<CallRequest>,
{
    FromTower {
        tower: Mutex::new(stack(TowerService::new(service))),
        _service: PhantomData,
    }
}

impl<T, S> Service for FromTower<T, S>
where
    T: tower_service::Service<CallRequest> + Clone + Send + 'static,
    T::Future: Send,
    T::Error: std::fmt::Display,
    S: Service,
{
    const NAME: &'static str = S::NAME;
    const METHODS: &'static [&'static str] = S::METHODS;
    const DESCRIPTOR_SET: &'static [u8] = S::DESCRIPTOR_SET;

    fn call(self: Arc<Self>, method: usize, call: ServerCall) -> impl Future<Output = ()> + Send {
        let mut tower = self.tower.lock().unwrap_or_else(|e| e.into_inner()).clone();
        async move {
            let slot = Arc::new(Mutex::new(Some(call)));
            let ready = poll_fn(|cx| tower.poll_ready(cx))
                .await
                .map_err(|err| err.to_string());
            let outcome = match ready {
                Err(err) => Err(err),
                Ok(()) => {
                    let request = CallRequest {
                        method,
                        call: slot.clone(),
                    };
                    tower.call(request).await.map_err(|err| err.to_string())
                }
            };
            // Still here: no layer passed the call on to the service. Answer it.
            let left = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(call) = left {
                let why = outcome
                    .err()
                    .unwrap_or_else(|| "the tower stack did not run the call".to_owned());
                tracing::debug!(%why, "tower layer refused the call");
                call.refuse(Status::unavailable(why));
            }
        }
    }
}
