//! Canonical JSON to protobuf bytes in one pass, without building a dynamic message first:
//! the gateway's request path, where every JSON request message becomes protobuf.
//!
//! It reads the plain forms of the JSON mapping and declines ([`None`]) the rest, which the
//! caller then reads through a dynamic message (whose rules it follows): fields by their
//! JSON or proto name; strings, booleans, integers as JSON numbers (in range), doubles as
//! numbers or `"NaN"`/`"Infinity"`/`"-Infinity"`, enums by name, nested objects, arrays.
//! Declined: `null`, unknown fields, a field given twice, two members of one oneof, maps,
//! well-known types, 64-bit integers and floats written as strings, `float` and `bytes`
//! fields, enum numbers, anything malformed. The `json_transcode` fuzz target checks that
//! what it reads decodes to the dynamic message `prost-reflect` reads.

use std::fmt;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// How deep objects may nest before the reader declines.
const MAX_DEPTH: u32 = 64;

/// The protobuf encoding of the JSON `json`, a message of type `message`; `None` when the
/// reader declines.
pub(crate) fn read(message: &MessageDescriptor, json: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(json.len());
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let seed = MessageSeed {
        message,
        out: &mut out,
        depth: 0,
    };
    seed.deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(out)
}

/// Why the reader stopped: the caller falls back to the dynamic message either way.
fn decline<E: de::Error>() -> E {
    E::custom("declined")
}

/// A JSON object as the fields of `message`, appended to `out`.
struct MessageSeed<'a> {
    message: &'a MessageDescriptor,
    out: &'a mut Vec<u8>,
    depth: u32,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.depth > MAX_DEPTH || self.message.full_name().starts_with("google.protobuf.") {
            return Err(decline());
        }
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<u32> = Vec::new();
        let mut oneofs = Vec::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let field = self
                .message
                .get_field_by_json_name(&key)
                .or_else(|| self.message.get_field_by_name(&key))
                .ok_or_else(decline)?;
            if seen.contains(&field.number()) || field.is_map() || field.is_group() {
                return Err(decline());
            }
            seen.push(field.number());
            if let Some(oneof) = field.containing_oneof() {
                if oneofs.contains(&oneof) {
                    return Err(decline());
                }
                oneofs.push(oneof);
            }
            map.next_value_seed(FieldSeed {
                field: &field,
                out: &mut *self.out,
                depth: self.depth,
            })?;
        }
        Ok(())
    }
}

/// One field's JSON value: a value of its kind, or an array of them if it is repeated.
struct FieldSeed<'a> {
    field: &'a FieldDescriptor,
    out: &'a mut Vec<u8>,
    depth: u32,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let kind = self.field.kind();
        let number = self.field.number();
        if self.field.is_list() {
            deserializer.deserialize_seq(ListVisitor {
                kind: &kind,
                number,
                out: self.out,
                depth: self.depth,
            })
        } else {
            ValueSeed {
                kind: &kind,
                number,
                out: self.out,
                depth: self.depth,
            }
            .deserialize(deserializer)
        }
    }
}

/// A repeated field's JSON array, each element written as a field occurrence (unpacked:
/// decoding reads both forms).
struct ListVisitor<'a> {
    kind: &'a Kind,
    number: u32,
    out: &'a mut Vec<u8>,
    depth: u32,
}

impl<'de> Visitor<'de> for ListVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(ValueSeed {
                kind: self.kind,
                number: self.number,
                out: &mut *self.out,
                depth: self.depth,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// One value of `kind`, written as field `number`.
struct ValueSeed<'a> {
    kind: &'a Kind,
    number: u32,
    out: &'a mut Vec<u8>,
    depth: u32,
}

impl ValueSeed<'_> {
    fn key(&mut self, wire_type: u32) {
        varint(self.out, u64::from(self.number << 3 | wire_type));
    }

    fn varint(mut self, value: u64) {
        self.key(0);
        varint(self.out, value);
    }

    fn fixed64(mut self, value: u64) {
        self.key(1);
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    fn fixed32(mut self, value: u32) {
        self.key(5);
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    fn bytes(mut self, value: &[u8]) {
        self.key(2);
        varint(self.out, value.len() as u64);
        self.out.extend_from_slice(value);
    }

    /// An integer for an integer kind, if it is in the kind's range.
    fn integer<E: de::Error>(self, value: i128) -> Result<(), E> {
        let fits = |min: i128, max: i128| (min..=max).contains(&value);
        let (i32_range, u32_range) = (
            fits(i128::from(i32::MIN), i128::from(i32::MAX)),
            fits(0, i128::from(u32::MAX)),
        );
        let i64_range = fits(i128::from(i64::MIN), i128::from(i64::MAX));
        let u64_range = fits(0, i128::from(u64::MAX));
        // The `as` casts are checked by the ranges: each keeps the value.
        match self.kind {
            Kind::Int32 if i32_range => self.varint(value as i32 as i64 as u64),
            Kind::Sint32 if i32_range => self.varint(u64::from(zigzag32(value as i32))),
            Kind::Sfixed32 if i32_range => self.fixed32(value as i32 as u32),
            Kind::Uint32 if u32_range => self.varint(value as u64),
            Kind::Fixed32 if u32_range => self.fixed32(value as u32),
            Kind::Int64 if i64_range => self.varint(value as i64 as u64),
            Kind::Sint64 if i64_range => self.varint(zigzag64(value as i64)),
            Kind::Sfixed64 if i64_range => self.fixed64(value as i64 as u64),
            Kind::Uint64 if u64_range => self.varint(value as u64),
            Kind::Fixed64 if u64_range => self.fixed64(value as u64),
            Kind::Double => self.fixed64((value as f64).to_bits()),
            _ => return Err(decline()),
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.kind {
            Kind::Message(message) => {
                let message = message.clone();
                let mut inner = Vec::new();
                MessageSeed {
                    message: &message,
                    out: &mut inner,
                    depth: self.depth + 1,
                }
                .deserialize(deserializer)?;
                self.bytes(&inner);
                Ok(())
            }
            _ => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        match self.kind {
            Kind::Bool => {
                self.varint(u64::from(value));
                Ok(())
            }
            _ => Err(decline()),
        }
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.integer(i128::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.integer(i128::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        match self.kind {
            Kind::Double => {
                self.fixed64(value.to_bits());
                Ok(())
            }
            _ => Err(decline()),
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        match self.kind {
            Kind::String => {
                self.bytes(value.as_bytes());
                Ok(())
            }
            Kind::Double => {
                let special = match value {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    _ => return Err(decline()),
                };
                self.fixed64(special.to_bits());
                Ok(())
            }
            Kind::Enum(enum_type) if !enum_type.full_name().starts_with("google.protobuf.") => {
                let number = enum_type
                    .get_value_by_name(value)
                    .ok_or_else(decline)?
                    .number();
                self.varint(i64::from(number) as u64);
                Ok(())
            }
            _ => Err(decline()),
        }
    }
}

fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DynamicMessage;

    /// The protobuf both ways, decoded and checked equal; `None` when the reader declines.
    fn both(message: &MessageDescriptor, json: &str) -> Option<DynamicMessage> {
        let direct = read(message, json.as_bytes())?;
        let decoded = DynamicMessage::decode(message.clone(), direct.as_slice()).unwrap();
        let dynamic = crate::gateway::json_to_message(message, json.as_bytes()).unwrap();
        // Compared by their JSON: NaN is not equal to itself, and the Debug form of a
        // recursive message type never ends.
        let text = |m: &DynamicMessage| crate::gateway::message_to_json(m);
        assert_eq!(text(&decoded), text(&dynamic), "{json}");
        Some(decoded)
    }

    #[test]
    fn reads_what_the_dynamic_message_reads() {
        let m = super::super::to_json::tests::message();
        for json in [
            "{}",
            r#"{"flag":true,"small":-7,"big":-9000000000,"ratio":0.25}"#,
            r#"{"user_name":"a \"quoted\" é\n","mood":"MOOD_GOOD","ratio":3}"#,
            r#"{"child":{"child":{"small":1}},"pickText":"x"}"#,
            r#" { "pickNumber" : 0 , "numbers" : [1,-2,300] , "names" : ["a",""] } "#,
            r#"{"ratio":"NaN","small":2147483647,"big":-9223372036854775808}"#,
            r#"{"ratio":"-Infinity","child":{}}"#,
        ] {
            assert!(both(&m, json).is_some(), "declined {json}");
        }
    }

    #[test]
    fn declines_what_it_does_not_read() {
        let m = super::super::to_json::tests::message();
        for json in [
            r#"{"small":null}"#,
            r#"{"nope":1}"#,
            r#"{"small":1,"small":2}"#,
            r#"{"userName":"a","user_name":"b"}"#,
            r#"{"pickText":"x","pickNumber":1}"#,
            r#"{"small":2147483648}"#,
            r#"{"small":1.5}"#,
            r#"{"big":"12"}"#,
            r#"{"blob":"AAEC"}"#,
            r#"{"mood":1}"#,
            r#"{"mood":"MOOD_SAD"}"#,
            r#"{"flag":"true"}"#,
            r#"{"child":[]}"#,
            r#"{"numbers":[1,null]}"#,
            r#"{"small":1}x"#,
            r#"[1]"#,
        ] {
            assert_eq!(read(&m, json.as_bytes()), None, "{json}");
        }
    }
}
