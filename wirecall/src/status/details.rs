//! Rich error details: the `google.rpc.Status` a status carries in
//! `grpc-status-details-bin`, and the standard detail messages of `google/rpc/error_details.proto`
//! (field numbers and type URLs as every gRPC implementation uses them).
//!
//! ```
//! use wirecall::status::details::{ErrorInfo, FieldViolation, BadRequest};
//! use wirecall::{Code, Status};
//!
//! let status = Status::not_found("order 42 not found").with_detail(ErrorInfo {
//!     reason: "ORDER_NOT_FOUND".into(),
//!     domain: "orders.example.com".into(),
//!     metadata: [("order_id".to_owned(), "42".to_owned())].into(),
//! });
//! // The client side:
//! let info: ErrorInfo = status.detail().expect("an ErrorInfo");
//! assert_eq!(info.reason, "ORDER_NOT_FOUND");
//! assert!(status.detail::<BadRequest>().is_none());
//! ```

use std::collections::HashMap;

use bytes::Bytes;
use prost::Message;
use prost_types::{Any, Duration};

use super::Status;
use crate::Code;

/// An encoded `google.protobuf.FileDescriptorSet` describing `google.rpc.Status` and every
/// detail type of `google/rpc/error_details.proto` (with their imports), for tools that
/// render details as JSON with dynamic messages.
pub const DESCRIPTOR_SET: &[u8] = crate::descriptors::GOOGLE_RPC;

/// `google.rpc.Status`: what `grpc-status-details-bin` holds.
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    /// The status code (`google.rpc.Code`, the same numbers as gRPC's).
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The developer-facing message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// The details, each a packed detail message.
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

/// A standard detail message: its protobuf type name gives its `Any` type URL.
pub trait Detail: Message + Default + Sized {
    /// The fully qualified protobuf name, e.g. `google.rpc.ErrorInfo`.
    const TYPE_NAME: &'static str;

    /// Packs the message into an `Any`.
    fn to_any(&self) -> Any {
        Any {
            type_url: format!("type.googleapis.com/{}", Self::TYPE_NAME),
            value: self.encode_to_vec(),
        }
    }

    /// Unpacks `any` if it holds this type (whatever the type URL's host).
    fn from_any(any: &Any) -> Option<Self> {
        let name = any.type_url.rsplit('/').next()?;
        if name != Self::TYPE_NAME {
            return None;
        }
        Self::decode(any.value.as_slice()).ok()
    }
}

macro_rules! detail {
    ($(#[$doc:meta])* $name:ident = $type_name:literal { $($body:tt)* }) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Message)]
        pub struct $name { $($body)* }

        impl Detail for $name {
            const TYPE_NAME: &'static str = $type_name;
        }
    };
}

detail! {
    /// Why the call failed, machine-readably: a reason in UPPER_SNAKE_CASE, the domain that
    /// defines it, and context.
    ErrorInfo = "google.rpc.ErrorInfo" {
        /// The reason, e.g. `ORDER_NOT_FOUND`.
        #[prost(string, tag = "1")]
        pub reason: String,
        /// The domain the reason belongs to, e.g. `orders.example.com`.
        #[prost(string, tag = "2")]
        pub domain: String,
        /// Context, e.g. the id that was not found.
        #[prost(map = "string, string", tag = "3")]
        pub metadata: HashMap<String, String>,
    }
}

detail! {
    /// When the client may retry.
    RetryInfo = "google.rpc.RetryInfo" {
        /// Wait at least this long before retrying.
        #[prost(message, optional, tag = "1")]
        pub retry_delay: Option<Duration>,
    }
}

detail! {
    /// Debugging information for the server's developers.
    DebugInfo = "google.rpc.DebugInfo" {
        /// The stack trace.
        #[prost(string, repeated, tag = "1")]
        pub stack_entries: Vec<String>,
        /// Anything else.
        #[prost(string, tag = "2")]
        pub detail: String,
    }
}

/// One quota that was exceeded.
#[derive(Clone, PartialEq, Message)]
pub struct QuotaViolation {
    /// Whose quota, e.g. `project:123`.
    #[prost(string, tag = "1")]
    pub subject: String,
    /// What was exceeded and how to fix it.
    #[prost(string, tag = "2")]
    pub description: String,
}

detail! {
    /// Quotas the call exceeded.
    QuotaFailure = "google.rpc.QuotaFailure" {
        /// Each exceeded quota.
        #[prost(message, repeated, tag = "1")]
        pub violations: Vec<QuotaViolation>,
    }
}

/// One precondition that failed.
#[derive(Clone, PartialEq, Message)]
pub struct PreconditionViolation {
    /// The kind of precondition, e.g. `TOS`.
    #[prost(string, tag = "1")]
    pub r#type: String,
    /// What it applies to.
    #[prost(string, tag = "2")]
    pub subject: String,
    /// How it failed.
    #[prost(string, tag = "3")]
    pub description: String,
}

detail! {
    /// Preconditions that failed (with `FAILED_PRECONDITION`).
    PreconditionFailure = "google.rpc.PreconditionFailure" {
        /// Each failed precondition.
        #[prost(message, repeated, tag = "1")]
        pub violations: Vec<PreconditionViolation>,
    }
}

/// One invalid request field.
#[derive(Clone, PartialEq, Message)]
pub struct FieldViolation {
    /// The field's path, e.g. `items[2].quantity`.
    #[prost(string, tag = "1")]
    pub field: String,
    /// Why it is invalid.
    #[prost(string, tag = "2")]
    pub description: String,
}

detail! {
    /// The request's invalid fields (with `INVALID_ARGUMENT`).
    BadRequest = "google.rpc.BadRequest" {
        /// Each invalid field.
        #[prost(message, repeated, tag = "1")]
        pub field_violations: Vec<FieldViolation>,
    }
}

detail! {
    /// Which request failed, for a bug report or support ticket.
    RequestInfo = "google.rpc.RequestInfo" {
        /// The request's id (e.g. its `x-request-id`).
        #[prost(string, tag = "1")]
        pub request_id: String,
        /// Opaque serving data, e.g. a trace id.
        #[prost(string, tag = "2")]
        pub serving_data: String,
    }
}

detail! {
    /// The resource the call was about.
    ResourceInfo = "google.rpc.ResourceInfo" {
        /// Its type, e.g. `order`.
        #[prost(string, tag = "1")]
        pub resource_type: String,
        /// Its name or id.
        #[prost(string, tag = "2")]
        pub resource_name: String,
        /// Who owns it.
        #[prost(string, tag = "3")]
        pub owner: String,
        /// What went wrong with it.
        #[prost(string, tag = "4")]
        pub description: String,
    }
}

/// A link to documentation.
#[derive(Clone, PartialEq, Message)]
pub struct HelpLink {
    /// What the link is about.
    #[prost(string, tag = "1")]
    pub description: String,
    /// The URL.
    #[prost(string, tag = "2")]
    pub url: String,
}

detail! {
    /// Where to read more.
    Help = "google.rpc.Help" {
        /// The links.
        #[prost(message, repeated, tag = "1")]
        pub links: Vec<HelpLink>,
    }
}

detail! {
    /// An error message for end users, in their language.
    LocalizedMessage = "google.rpc.LocalizedMessage" {
        /// The locale, e.g. `en-US`.
        #[prost(string, tag = "1")]
        pub locale: String,
        /// The message.
        #[prost(string, tag = "2")]
        pub message: String,
    }
}

impl Status {
    /// Adds a detail message to the status's `google.rpc.Status` (made from its code and
    /// message if it has none yet).
    pub fn with_detail(self, detail: impl Detail) -> Status {
        self.with_detail_any(detail.to_any())
    }

    /// Adds an already packed detail.
    pub fn with_detail_any(mut self, any: Any) -> Status {
        let mut rpc = self.rpc_status().unwrap_or_else(|| RpcStatus {
            code: self.code().as_i32(),
            message: self.message().to_owned(),
            details: Vec::new(),
        });
        rpc.details.push(any);
        self.0.details = Bytes::from(rpc.encode_to_vec());
        self
    }

    /// The `google.rpc.Status` in the details, if they hold one that decodes.
    pub fn rpc_status(&self) -> Option<RpcStatus> {
        if self.details().is_empty() {
            return None;
        }
        RpcStatus::decode(self.details().as_ref()).ok()
    }

    /// The first detail of type `T`, if any.
    pub fn detail<T: Detail>(&self) -> Option<T> {
        self.rpc_status()?.details.iter().find_map(T::from_any)
    }

    /// Every detail, packed; use [`Detail::from_any`] to unpack.
    pub fn details_any(&self) -> Vec<Any> {
        self.rpc_status().map(|rpc| rpc.details).unwrap_or_default()
    }

    /// A status made from a `google.rpc.Status`, which it also carries as details.
    pub fn from_rpc_status(rpc: &RpcStatus) -> Status {
        let code = Code::from_i32(rpc.code);
        Status::from_details(code, rpc.message.clone(), Bytes::from(rpc.encode_to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_round_trip_through_the_header_encoding() {
        let status = Status::invalid_argument("bad order")
            .with_detail(BadRequest {
                field_violations: vec![FieldViolation {
                    field: "items[0].quantity".into(),
                    description: "must be positive".into(),
                }],
            })
            .with_detail(RetryInfo {
                retry_delay: Some(Duration {
                    seconds: 2,
                    nanos: 0,
                }),
            });
        let mut headers = http::HeaderMap::new();
        status.clone().write_to(&mut headers);
        let received = Status::from_header_map(&headers).expect("a status");
        assert_eq!(received.code(), Code::InvalidArgument);
        let rpc = received.rpc_status().expect("google.rpc.Status");
        assert_eq!(rpc.code, 3);
        assert_eq!(rpc.message, "bad order");
        assert_eq!(rpc.details.len(), 2);
        assert_eq!(
            rpc.details[0].type_url,
            "type.googleapis.com/google.rpc.BadRequest"
        );
        let bad: BadRequest = received.detail().expect("BadRequest");
        assert_eq!(bad.field_violations[0].field, "items[0].quantity");
        let retry: RetryInfo = received.detail().expect("RetryInfo");
        assert_eq!(retry.retry_delay.map(|d| d.seconds), Some(2));
        assert!(received.detail::<ErrorInfo>().is_none());
    }

    #[test]
    fn known_encoding_of_error_info() {
        // ErrorInfo{reason:"R", domain:"d"} inside google.rpc.Status{code:5, message:"m"}.
        let status = Status::not_found("m").with_detail(ErrorInfo {
            reason: "R".into(),
            domain: "d".into(),
            metadata: HashMap::new(),
        });
        let any_value = [0x0a, 1, b'R', 0x12, 1, b'd'];
        let type_url = b"type.googleapis.com/google.rpc.ErrorInfo";
        let mut any = vec![0x0a, type_url.len() as u8];
        any.extend_from_slice(type_url);
        any.extend_from_slice(&[0x12, any_value.len() as u8]);
        any.extend_from_slice(&any_value);
        let mut expected = vec![0x08, 5, 0x12, 1, b'm', 0x1a, any.len() as u8];
        expected.extend_from_slice(&any);
        assert_eq!(status.details().as_ref(), expected.as_slice());
    }

    #[test]
    fn garbage_details_are_not_a_panic() {
        let status = Status::from_details(Code::Internal, "x", Bytes::from_static(&[0xff, 0xff]));
        assert!(status.rpc_status().is_none());
        assert!(status.detail::<ErrorInfo>().is_none());
        // Adding a detail to undecodable details starts a fresh google.rpc.Status.
        let status = status.with_detail(LocalizedMessage {
            locale: "en-US".into(),
            message: "sorry".into(),
        });
        assert_eq!(
            status.detail::<LocalizedMessage>().expect("kept").message,
            "sorry"
        );
    }
}
