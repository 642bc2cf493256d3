//! The metadata behaviour every example server shares.

use wirecall::interceptor::{IncomingCall, Interceptor};
use wirecall::Status;

/// Copies every request metadata entry whose key starts with `x-echo-` into the response
/// headers, and sets the trailer `x-method` to the method's name, on every call, failed ones
/// included: what the example clients check to see metadata travel both ways.
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoMetadata;

impl Interceptor for EchoMetadata {
    async fn on_call(&self, call: &mut IncomingCall) -> Result<(), Status> {
        let echoed = call.metadata().clone();
        call.response_metadata_mut()
            .extend_with_prefix(&echoed, "x-echo-");
        let method = call.info().method();
        let _ = call.response_trailers_mut().insert("x-method", method);
        Ok(())
    }
}
