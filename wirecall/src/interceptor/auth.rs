//! Credential checks: a bearer token in `authorization`, or an API key in a header of its
//! own. A call without credentials (or with ones nobody issued) is `UNAUTHENTICATED`; one
//! whose credentials are known but not allowed this method is `PERMISSION_DENIED`.
//!
//! The client side: [`BearerToken`] sends `authorization: Bearer <token>` on every call of
//! a channel (`Endpoint::interceptor`).

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use super::{CallInfo, ClientInterceptor, IncomingCall, Interceptor, OutgoingCall};
use crate::Status;

/// What a credential check decided. More answers may come (`non_exhaustive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// Known and allowed: the call goes on.
    Allowed,
    /// Known but not allowed this call: `PERMISSION_DENIED`.
    Denied,
    /// Not a credential this server knows: `UNAUTHENTICATED`.
    Unknown,
}

type Check = Arc<dyn Fn(&str, &CallInfo) -> Access + Send + Sync>;

/// Checks `authorization: Bearer <token>`.
#[derive(Clone)]
pub struct BearerAuth {
    check: Check,
}

impl BearerAuth {
    /// Allows any of `tokens`, for every method.
    pub fn new<T: Into<String>>(tokens: impl IntoIterator<Item = T>) -> Self {
        let tokens: HashSet<String> = tokens.into_iter().map(Into::into).collect();
        Self::from_fn(move |token, _| {
            if tokens.contains(token) {
                Access::Allowed
            } else {
                Access::Unknown
            }
        })
    }

    /// Decides with `check(token, call)`, e.g. allowing some tokens only some methods.
    pub fn from_fn(check: impl Fn(&str, &CallInfo) -> Access + Send + Sync + 'static) -> Self {
        BearerAuth {
            check: Arc::new(check),
        }
    }
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth").finish_non_exhaustive()
    }
}

impl Interceptor for BearerAuth {
    fn on_call(&self, call: &mut IncomingCall) -> impl Future<Output = Result<(), Status>> + Send {
        let token = call
            .metadata()
            .get("authorization")
            .and_then(|value| value.strip_prefix("Bearer "));
        let result = match token {
            None => Err(Status::unauthenticated("missing bearer token")),
            Some(token) => decide(&self.check, token.trim(), call.info(), "bearer token"),
        };
        std::future::ready(result)
    }
}

/// Checks an API key sent in a header (`x-api-key` unless told otherwise).
#[derive(Clone)]
pub struct ApiKeyAuth {
    header: String,
    check: Check,
}

impl ApiKeyAuth {
    /// Allows any of `keys`, sent in `x-api-key`, for every method.
    pub fn new<T: Into<String>>(keys: impl IntoIterator<Item = T>) -> Self {
        let keys: HashSet<String> = keys.into_iter().map(Into::into).collect();
        Self::from_fn(move |key, _| {
            if keys.contains(key) {
                Access::Allowed
            } else {
                Access::Unknown
            }
        })
    }

    /// Decides with `check(key, call)`.
    pub fn from_fn(check: impl Fn(&str, &CallInfo) -> Access + Send + Sync + 'static) -> Self {
        ApiKeyAuth {
            header: "x-api-key".to_owned(),
            check: Arc::new(check),
        }
    }

    /// Reads the key from `header` instead of `x-api-key`.
    pub fn header(mut self, header: &str) -> Self {
        self.header = header.to_ascii_lowercase();
        self
    }
}

impl std::fmt::Debug for ApiKeyAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyAuth")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Interceptor for ApiKeyAuth {
    fn on_call(&self, call: &mut IncomingCall) -> impl Future<Output = Result<(), Status>> + Send {
        let result = match call.metadata().get(&self.header) {
            None => Err(Status::unauthenticated(format!("missing {}", self.header))),
            Some(key) => decide(&self.check, key, call.info(), "API key"),
        };
        std::future::ready(result)
    }
}

fn decide(check: &Check, credential: &str, call: &CallInfo, what: &str) -> Result<(), Status> {
    match check(credential, call) {
        Access::Allowed => Ok(()),
        Access::Denied => {
            tracing::debug!(method = call.method(), "{what} not allowed this method");
            Err(Status::permission_denied(format!(
                "the {what} may not call {}/{}",
                call.service(),
                call.method()
            )))
        }
        Access::Unknown => {
            tracing::debug!(method = call.method(), "unknown {what}");
            Err(Status::unauthenticated(format!("invalid {what}")))
        }
    }
}

/// Sends `authorization: Bearer <token>` on every call of a channel, unless the call set
/// its own `authorization`: the client half of [`BearerAuth`].
#[derive(Clone)]
pub struct BearerToken {
    header: String,
}

impl BearerToken {
    /// Sends `token` on every call.
    pub fn new(token: &str) -> Self {
        BearerToken {
            header: format!("Bearer {token}"),
        }
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in logs.
        f.debug_struct("BearerToken").finish_non_exhaustive()
    }
}

impl ClientInterceptor for BearerToken {
    fn on_call(&self, call: &mut OutgoingCall) -> impl Future<Output = Result<(), Status>> + Send {
        let result = if call.metadata().contains_key("authorization") {
            Ok(())
        } else {
            call.metadata_mut()
                .insert("authorization", &self.header)
                .map_err(|e| Status::invalid_argument(format!("bearer token: {e}")))
        };
        std::future::ready(result)
    }
}
