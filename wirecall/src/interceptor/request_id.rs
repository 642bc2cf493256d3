//! Request ids: every call gets one (the client's `x-request-id`, or a fresh one), the
//! handler can read it, and the response headers echo it.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{IncomingCall, Interceptor};
use crate::Status;

/// The metadata key of the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// Ids longer than this from a client are replaced (they are echoed in every response).
const MAX_LEN: usize = 128;

/// Makes sure every call has an `x-request-id`: keeps a sensible one from the client,
/// generates one otherwise, puts it in the request metadata and extensions (as
/// [`RequestIdValue`]) and echoes it in the response headers.
#[derive(Debug, Default)]
pub struct RequestId {
    next: AtomicU64,
    seed: RandomState,
}

/// The call's request id, in the handler's `Request::extensions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIdValue(pub String);

impl RequestId {
    /// A request-id interceptor.
    pub fn new() -> Self {
        RequestId::default()
    }

    /// A fresh id: 32 hex digits, unique within the process and unpredictable across them.
    fn generate(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let high = self.seed.hash_one(n);
        let low = self.seed.hash_one(!n);
        format!("{high:016x}{low:016x}")
    }
}

fn acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

impl Interceptor for RequestId {
    fn on_call(&self, call: &mut IncomingCall) -> impl Future<Output = Result<(), Status>> + Send {
        let id = match call.metadata().get(REQUEST_ID) {
            Some(id) if acceptable(id) => id.to_owned(),
            _ => self.generate(),
        };
        // The id is ASCII without spaces or controls, so both inserts succeed.
        let _ = call.metadata_mut().insert(REQUEST_ID, &id);
        let _ = call.response_metadata_mut().insert(REQUEST_ID, &id);
        call.extensions_mut().insert(RequestIdValue(id));
        std::future::ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_differ_and_are_valid() {
        let ids = RequestId::new();
        let a = ids.generate();
        let b = ids.generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(acceptable(&a));
        assert!(!acceptable(""));
        assert!(!acceptable("has space"));
        assert!(!acceptable(&"x".repeat(MAX_LEN + 1)));
    }
}
