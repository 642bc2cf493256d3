//! Calls with JSON messages (`application/grpc+json`, `application/grpc-web+json`), as
//! connect-go serves them: gRPC's framing, trailers and statuses, each message in the
//! canonical protobuf JSON mapping. The codec is translated at the wire, by the method's
//! descriptors (which generated code carries): request messages become protobuf as they are
//! read ([`crate::wire::reframe`]), response messages JSON as they are sent; the handler and
//! its interceptors see protobuf, as for any call.

use bytes::{Buf, Bytes, BytesMut};
use prost_reflect::MessageDescriptor;

use crate::compression::Encoding;
use crate::gateway::{json_to_proto, proto_to_json, Descriptors};
use crate::wire::reframe::Reframed;
use crate::wire::RecvBody;
use crate::Status;

/// The response side of a JSON call: converts the framed protobuf messages the call sends.
#[derive(Debug, Clone)]
pub(crate) struct JsonReplies {
    output: MessageDescriptor,
    max: usize,
}

/// Readies a JSON call to `path`: its request body, converted to protobuf as it is read, and
/// the converter of its responses. UNIMPLEMENTED when the method has no descriptors.
pub(crate) fn prepare(
    descriptors: &Descriptors,
    path: &str,
    body: RecvBody,
    encoding: Option<Encoding>,
    max: usize,
) -> Result<(RecvBody, JsonReplies), Status> {
    let Some(method) = descriptors.schema().method(path) else {
        tracing::debug!(path, "a JSON call to a method without descriptors");
        return Err(Status::unimplemented(format!(
            "{path}: no descriptors to read JSON messages with"
        )));
    };
    let input = method.input();
    let convert = Box::new(move |json: Bytes| json_to_proto(&input, &json));
    let body = Reframed::new(body, encoding, max, convert);
    let replies = JsonReplies {
        output: method.output(),
        max,
    };
    Ok((RecvBody::Reframed(Box::new(body)), replies))
}

impl JsonReplies {
    /// `framed`, whole gRPC frames of protobuf messages (compressed with `encoding` where
    /// flagged), as frames of JSON messages, uncompressed.
    pub(crate) fn convert(
        &self,
        mut framed: Bytes,
        encoding: Option<Encoding>,
    ) -> Result<Bytes, Status> {
        let mut out = BytesMut::with_capacity(framed.len() * 2);
        while framed.has_remaining() {
            if framed.len() < crate::frame::HEADER_LEN {
                return Err(Status::internal("a response frame cut short"));
            }
            let compressed = framed.get_u8() != 0;
            let len = framed.get_u32() as usize;
            if framed.len() < len {
                return Err(Status::internal("a response frame cut short"));
            }
            let payload = framed.split_to(len);
            let payload = if compressed {
                crate::compression::decompress_message(encoding, &payload, self.max)?
            } else {
                payload
            };
            let json = proto_to_json(&self.output, &payload)?;
            let len = u32::try_from(json.len())
                .map_err(|_| Status::resource_exhausted("a JSON message too large"))?;
            crate::frame::put_header(&mut out, false, len);
            out.extend_from_slice(&json);
        }
        Ok(out.freeze())
    }
}
