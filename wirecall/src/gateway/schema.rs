//! What the gateway knows of the served methods, from the descriptor sets generated code
//! carries: each method's pattern, message types and options, and the conversions between
//! protobuf bytes and the canonical protobuf JSON mapping.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use prost::Message;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, MethodDescriptor,
    ReflectMessage, SerializeOptions, Value,
};

use crate::Status;

/// The field number of `idempotency_level` in `google.protobuf.MethodOptions`.
const IDEMPOTENCY_LEVEL: u32 = 34;
/// `NO_SIDE_EFFECTS` in `MethodOptions.IdempotencyLevel`.
const NO_SIDE_EFFECTS: i32 = 1;

/// One method as the gateway sees it.
#[derive(Debug, Clone)]
pub(crate) struct Method {
    /// `/package.Service/Method`.
    pub(crate) path: String,
    pub(crate) descriptor: MethodDescriptor,
    /// Marked `option idempotency_level = NO_SIDE_EFFECTS`: Connect may call it with GET.
    pub(crate) no_side_effects: bool,
}

impl Method {
    /// The request message type.
    pub(crate) fn input(&self) -> MessageDescriptor {
        self.descriptor.input()
    }

    /// The response message type.
    pub(crate) fn output(&self) -> MessageDescriptor {
        self.descriptor.output()
    }

    /// Whether the client sends a stream.
    pub(crate) fn client_streaming(&self) -> bool {
        self.descriptor.is_client_streaming()
    }

    /// Whether the server answers with a stream.
    pub(crate) fn server_streaming(&self) -> bool {
        self.descriptor.is_server_streaming()
    }
}

/// The descriptor sets of a server's services, and the [`Schema`] made from them when it is
/// first needed (a server that never sees JSON or the gateway never builds it).
#[derive(Debug)]
pub(crate) struct Descriptors {
    sets: Vec<&'static [u8]>,
    services: Vec<&'static str>,
    schema: OnceLock<Arc<Schema>>,
}

impl Descriptors {
    pub(crate) fn new(sets: Vec<&'static [u8]>, services: Vec<&'static str>) -> Descriptors {
        Descriptors {
            sets,
            services,
            schema: OnceLock::new(),
        }
    }

    /// The schema, built on the first call.
    pub(crate) fn schema(&self) -> &Arc<Schema> {
        self.schema.get_or_init(|| {
            let services = self.services.iter().copied();
            Arc::new(Schema::new(self.sets.iter().copied(), services))
        })
    }
}

/// The served methods by path, with the pool describing their messages.
#[derive(Debug)]
pub(crate) struct Schema {
    pub(crate) pool: DescriptorPool,
    methods: HashMap<String, Method>,
}

impl Schema {
    /// The schema of the services in `sets` whose names are in `served`. Sets that do not
    /// decode are skipped with a warning (their methods then answer only native gRPC).
    pub(crate) fn new<'a>(
        sets: impl IntoIterator<Item = &'a [u8]>,
        served: impl IntoIterator<Item = &'static str>,
    ) -> Schema {
        let mut pool = DescriptorPool::new();
        for set in sets {
            if let Err(err) = pool.decode_file_descriptor_set(set) {
                tracing::warn!(%err, "a service's descriptors do not decode; JSON and REST calls to it are not served");
            }
        }
        if let Err(err) = pool.decode_file_descriptor_set(crate::status::details::DESCRIPTOR_SET) {
            tracing::warn!(%err, "the google.rpc descriptors do not decode");
        }
        let mut methods = HashMap::new();
        for name in served {
            let Some(service) = pool.get_service_by_name(name) else {
                continue;
            };
            for descriptor in service.methods() {
                let path = format!("/{}/{}", service.full_name(), descriptor.name());
                let no_side_effects = descriptor
                    .options()
                    .get_field_by_number(IDEMPOTENCY_LEVEL)
                    .is_some_and(|level| level.as_enum_number() == Some(NO_SIDE_EFFECTS));
                let method = Method {
                    path: path.clone(),
                    descriptor,
                    no_side_effects,
                };
                methods.insert(path, method);
            }
        }
        Schema { pool, methods }
    }

    /// The method served at `path`.
    pub(crate) fn method(&self, path: &str) -> Option<&Method> {
        self.methods.get(path)
    }

    /// Every method.
    pub(crate) fn methods(&self) -> impl Iterator<Item = &Method> {
        self.methods.values()
    }
}

/// Protobuf bytes of a `message` given in JSON. Unknown fields are ignored, as Connect
/// and gateways do for forward compatibility.
pub(crate) fn json_to_proto(message: &MessageDescriptor, json: &[u8]) -> Result<Bytes, Status> {
    if let Some(proto) = super::from_json::read(message, json) {
        return Ok(Bytes::from(proto));
    }
    let dynamic = json_to_message(message, json)?;
    Ok(Bytes::from(dynamic.encode_to_vec()))
}

/// A dynamic `message` from JSON.
pub(crate) fn json_to_message(
    message: &MessageDescriptor,
    json: &[u8],
) -> Result<DynamicMessage, Status> {
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let dynamic =
        DynamicMessage::deserialize_with_options(message.clone(), &mut deserializer, &options)
            .and_then(|m| deserializer.end().map(|()| m))
            .map_err(|err| {
                Status::invalid_argument(format!("invalid JSON for {}: {err}", message.full_name()))
            })?;
    Ok(dynamic)
}

/// The canonical JSON of protobuf bytes of `message`.
pub(crate) fn proto_to_json(message: &MessageDescriptor, proto: &[u8]) -> Result<Bytes, Status> {
    if let Some(json) = super::to_json::write(message, proto) {
        return Ok(Bytes::from(json));
    }
    let dynamic = DynamicMessage::decode(message.clone(), proto).map_err(|err| {
        Status::internal(format!(
            "the response is not a valid {}: {err}",
            message.full_name()
        ))
    })?;
    Ok(message_to_json(&dynamic))
}

/// The canonical JSON of a dynamic message (lowerCamelCase names, defaults left out).
pub(crate) fn message_to_json(message: &DynamicMessage) -> Bytes {
    // Room for a small message's JSON at once; larger ones grow as usual.
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::new(&mut out);
    // Serializing into memory fails only for values JSON cannot hold, which protobuf
    // messages do not have; an empty object stands in if it ever happens.
    if message
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .is_err()
    {
        return Bytes::from_static(b"{}");
    }
    Bytes::from(out)
}

/// A `google.protobuf.Any` as JSON (`{"@type": ..., fields...}`) when the pool describes
/// its type, else `None`.
pub(crate) fn any_to_json(
    pool: &DescriptorPool,
    any: &prost_types::Any,
) -> Option<serde_json::Value> {
    let name = any.type_url.rsplit('/').next()?;
    let descriptor = pool.get_message_by_name(name)?;
    let message = DynamicMessage::decode(descriptor, any.value.as_slice()).ok()?;
    let mut json: serde_json::Value = serde_json::from_slice(&message_to_json(&message)).ok()?;
    let object = json.as_object_mut()?;
    object.insert("@type".into(), any.type_url.clone().into());
    Some(json)
}

/// Sets `field_path` (`a.b.c`, protobuf names) of `message` from the text of a URL (path
/// variable or query parameter): scalars parsed by their type, repeated fields appended.
pub(crate) fn set_from_text(
    message: &mut DynamicMessage,
    field_path: &str,
    text: &str,
) -> Result<(), Status> {
    let mut target = message;
    let mut names = field_path.split('.').peekable();
    while let Some(name) = names.next() {
        let descriptor = target.descriptor();
        let field = descriptor
            .get_field_by_name(name)
            .or_else(|| descriptor.get_field_by_json_name(name))
            .ok_or_else(|| {
                Status::invalid_argument(format!(
                    "{} has no field {name:?} (from {field_path:?})",
                    descriptor.full_name()
                ))
            })?;
        if names.peek().is_some() {
            let Value::Message(_) = target.get_field(&field).as_ref() else {
                return Err(Status::invalid_argument(format!(
                    "{field_path:?}: {name} is not a message field"
                )));
            };
            target = match target.get_field_mut(&field) {
                Value::Message(inner) => inner,
                _ => unreachable!("checked to be a message above"),
            };
            continue;
        }
        let value = scalar_from_text(&field.kind(), text).ok_or_else(|| {
            Status::invalid_argument(format!(
                "{field_path:?}: {text:?} is not a valid {:?}",
                field.kind()
            ))
        })?;
        if field.is_list() {
            if let Value::List(list) = target.get_field_mut(&field) {
                list.push(value);
            }
        } else {
            target.set_field(&field, value);
        }
    }
    Ok(())
}

/// A scalar (or enum, by name or number) from URL text; messages are taken as JSON, so
/// well-known types such as `Timestamp` and wrappers work in query parameters.
fn scalar_from_text(kind: &prost_reflect::Kind, text: &str) -> Option<Value> {
    use prost_reflect::Kind;
    Some(match kind {
        Kind::Double => Value::F64(text.parse().ok()?),
        Kind::Float => Value::F32(text.parse().ok()?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(text.parse().ok()?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(text.parse().ok()?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(text.parse().ok()?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(text.parse().ok()?),
        Kind::Bool => Value::Bool(match text {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return None,
        }),
        Kind::String => Value::String(text.to_owned()),
        Kind::Bytes => {
            use base64::Engine;
            let engines = [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::URL_SAFE,
            ];
            let padded = pad(text);
            let decoded = engines.iter().find_map(|e| e.decode(&padded).ok())?;
            Value::Bytes(Bytes::from(decoded))
        }
        Kind::Enum(descriptor) => match descriptor.get_value_by_name(text) {
            Some(value) => Value::EnumNumber(value.number()),
            None => Value::EnumNumber(text.parse().ok()?),
        },
        Kind::Message(descriptor) => {
            let json = serde_json::to_vec(&serde_json::Value::String(text.to_owned())).ok()?;
            Value::Message(json_to_message(descriptor, &json).ok()?)
        }
    })
}

/// `text` with the `=` padding base64 wants.
fn pad(text: &str) -> String {
    let mut padded = text.to_owned();
    while padded.len() % 4 != 0 {
        padded.push('=');
    }
    padded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        let names = ["grpc.health.v1.Health"];
        Schema::new([crate::descriptors::BUILTIN], names)
    }

    #[test]
    fn json_round_trips_through_protobuf() {
        let schema = schema();
        let method = schema
            .method("/grpc.health.v1.Health/Check")
            .expect("Check");
        assert!(!method.server_streaming() && !method.client_streaming());
        let proto = json_to_proto(&method.input(), br#"{"service": "a.B", "unknown": 1}"#).unwrap();
        assert_eq!(proto.as_ref(), b"\x0a\x03a.B");
        let reply = proto_to_json(&method.output(), b"\x08\x01").unwrap();
        assert_eq!(reply.as_ref(), br#"{"status":"SERVING"}"#);
        let err = json_to_proto(&method.input(), b"{\"service\": 5}").unwrap_err();
        assert_eq!(err.code(), crate::Code::InvalidArgument);
        assert!(json_to_proto(&method.input(), b"{} trailing").is_err());
        let watch = schema.method("/grpc.health.v1.Health/Watch").unwrap();
        assert!(watch.server_streaming());
    }

    #[test]
    fn url_text_sets_fields_by_type() {
        let schema = schema();
        let input = schema
            .method("/grpc.health.v1.Health/Check")
            .unwrap()
            .input();
        let mut message = DynamicMessage::new(input);
        set_from_text(&mut message, "service", "x.Y").unwrap();
        assert_eq!(message.encode_to_vec(), b"\x0a\x03x.Y");
        let err = set_from_text(&mut message, "nope", "1").unwrap_err();
        assert!(err.message().contains("no field"), "{}", err.message());
        let output = schema
            .method("/grpc.health.v1.Health/Check")
            .unwrap()
            .output();
        let mut reply = DynamicMessage::new(output);
        set_from_text(&mut reply, "status", "NOT_SERVING").unwrap();
        assert_eq!(reply.encode_to_vec(), b"\x08\x02");
        set_from_text(&mut reply, "status", "1").unwrap();
        assert_eq!(reply.encode_to_vec(), b"\x08\x01");
        assert!(set_from_text(&mut reply, "status", "MAYBE").is_err());
    }
}
