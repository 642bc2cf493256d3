//! The trait generated servers implement, and its type-erased form kept by the router.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::ServerCall;

/// A gRPC service: a name, its methods, and a way to run one call. Generated code implements
/// it for `FooServer<T>`; users implement the generated `Foo` trait instead.
pub trait Service: Send + Sync + 'static {
    /// The fully qualified service name, e.g. `user.UserService`.
    const NAME: &'static str;
    /// The method names, in the order `call` numbers them.
    const METHODS: &'static [&'static str];
    /// An encoded `google.protobuf.FileDescriptorSet` that describes the service (its file
    /// and the files that imports), for server reflection (feature `reflection`) and the
    /// Connect and HTTP/JSON gateway (feature `web`). Generated code sets it to what
    /// `wirecall-build` compiled; empty means not described.
    const DESCRIPTOR_SET: &'static [u8] = &[];

    /// Runs the call to `METHODS[method]` to completion, response included.
    fn call(self: Arc<Self>, method: usize, call: ServerCall) -> impl Future<Output = ()> + Send;
}

/// A service with its type erased, so services of different types share one router.
pub(crate) trait DynService: Send + Sync {
    /// Starts the call in its call context. With `inline`, its first poll runs right here
    /// (on the connection's task, with its `cx`) and only a call that has to wait becomes a
    /// task of its own; otherwise it is spawned at once. One allocation per call either way.
    fn start(&self, method: usize, call: ServerCall, inline: Option<&mut Context<'_>>);

    /// The service's name and the name of `method`.
    fn names(&self, method: usize) -> (&'static str, &'static str);
}

pub(crate) struct Erased<S>(pub(crate) Arc<S>);

impl<S: Service> DynService for Erased<S> {
    fn start(&self, method: usize, call: ServerCall, inline: Option<&mut Context<'_>>) {
        let context = call.context().clone();
        // Boxed first: tokio moves a spawned future by value several times, and a call's
        // future is kilobytes (the profile showed 8% of a unary call in those copies).
        let fut = Box::pin(context.scope(self.0.clone().call(method, call)));
        run(fut, inline, S::NAME);
    }

    fn names(&self, method: usize) -> (&'static str, &'static str) {
        (S::NAME, S::METHODS.get(method).copied().unwrap_or(""))
    }
}

/// A boxed future that serves one request (a call, a gateway exchange).
pub(crate) type Serving = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `fut`: with `inline`, its first poll right here (on the connection's task, with its
/// `cx`), and only if it has to wait, the rest as a task of its own; otherwise as a task at
/// once. `what` names it in the log if it panics.
pub(crate) fn run(mut fut: Serving, inline: Option<&mut Context<'_>>, what: &str) {
    if let Some(cx) = inline {
        // Handler panics are caught inside the call; this guards the connection against
        // anything else, dropping the future (its stream is reset).
        match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(())) => return,
            Ok(Poll::Pending) => {}
            Err(_) => {
                tracing::error!(service = what, "a call panicked outside its handler");
                return;
            }
        }
    }
    tokio::spawn(fut);
}

/// A service with interceptors of its own: they run before the service's, after the
/// server's.
impl<S: Service> Service for crate::interceptor::Intercepted<S> {
    const NAME: &'static str = S::NAME;
    const METHODS: &'static [&'static str] = S::METHODS;
    const DESCRIPTOR_SET: &'static [u8] = S::DESCRIPTOR_SET;

    fn call(
        self: std::sync::Arc<Self>,
        method: usize,
        mut call: ServerCall,
    ) -> impl std::future::Future<Output = ()> + Send {
        call.add_interceptors(&self.chain);
        self.service.clone().call(method, call)
    }
}
