//! The trait generated servers implement, and its type-erased form kept by the router.

use std::future::Future;
use std::sync::Arc;

use super::ServerCall;

/// A gRPC service: a name, its methods, and a way to run one call. Generated code implements
/// it for `FooServer<T>`; users implement the generated `Foo` trait instead.
pub trait Service: Send + Sync + 'static {
    /// The fully qualified service name, e.g. `user.UserService`.
    const NAME: &'static str;
    /// The method names, in the order `call` numbers them.
    const METHODS: &'static [&'static str];

    /// Runs the call to `METHODS[method]` to completion, response included.
    fn call(self: Arc<Self>, method: usize, call: ServerCall) -> impl Future<Output = ()> + Send;
}

/// A service with its type erased, so services of different types share one router.
pub(crate) trait DynService: Send + Sync {
    /// Spawns the call as its own task, in its call context: one allocation per call, no
    /// boxed future.
    fn spawn(&self, method: usize, call: ServerCall);

    /// The service's name and the name of `method`.
    fn names(&self, method: usize) -> (&'static str, &'static str);
}

pub(crate) struct Erased<S>(pub(crate) Arc<S>);

impl<S: Service> DynService for Erased<S> {
    fn spawn(&self, method: usize, call: ServerCall) {
        let context = call.context().clone();
        // Boxed first: tokio moves a spawned future by value several times, and a call's
        // future is kilobytes (the profile showed 8% of a unary call in those copies).
        let fut = Box::pin(context.scope(self.0.clone().call(method, call)));
        tokio::spawn(fut);
    }

    fn names(&self, method: usize) -> (&'static str, &'static str) {
        (S::NAME, S::METHODS.get(method).copied().unwrap_or(""))
    }
}
