//! The client side: a [`Channel`] to one server, shared by every call and every generated
//! client made from it, and the four call patterns on top of it.

mod call;
mod channel;
pub(crate) mod endpoint;
pub(crate) mod head;
mod sender;

pub(crate) use sender::RequestSender;

pub use channel::Channel;
pub(crate) use channel::InFlight;
pub use endpoint::Endpoint;
