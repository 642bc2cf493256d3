//! Protobuf bytes to canonical JSON in one pass, without building a dynamic message first:
//! the gateway's answer path, where every response message becomes JSON.
//!
//! It writes what `prost-reflect` writes (fields in field-number order, lowerCamelCase
//! names, 64-bit integers as strings, enums by name, bytes in base64, floats' special
//! values as strings, fields without presence left out at their default) for the messages
//! it knows how to read, and declines ([`None`]) the rest, which the caller then converts
//! through a dynamic message: maps, groups, extensions, well-known types (their JSON forms
//! are special), enum numbers the enum does not name, a singular field or a oneof seen
//! twice (where decoding merges or replaces), anything malformed. Declining is always safe;
//! writing something else than `prost-reflect` would is a bug (the `json_transcode` fuzz
//! target compares the two).

use base64::Engine;
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

/// How deep messages may nest before the writer declines (`prost-reflect` decodes 100).
const MAX_DEPTH: u32 = 64;

/// The JSON of `proto`, a message of type `message`; `None` when it declines.
pub(crate) fn write(message: &MessageDescriptor, proto: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(proto.len() * 2 + 16);
    write_message(message, proto, &mut out, 0)?;
    Some(out)
}

/// One field's value as it was on the wire.
#[derive(Clone, Copy)]
enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

/// One field occurrence: its number and raw value.
type Occurrence<'a> = (u32, Raw<'a>);

fn write_message(
    message: &MessageDescriptor,
    proto: &[u8],
    out: &mut Vec<u8>,
    depth: u32,
) -> Option<()> {
    if depth > MAX_DEPTH || message.full_name().starts_with("google.protobuf.") {
        return None;
    }
    let mut fields = read_fields(proto)?;
    if !fields.is_sorted_by_key(|(number, _)| *number) {
        fields.sort_by_key(|(number, _)| *number); // stable: repeated values keep their order
    }
    out.push(b'{');
    let mut first = true;
    let mut oneofs = Vec::new();
    let mut rest = fields.as_slice();
    while let Some(&(number, _)) = rest.first() {
        let count = rest.iter().take_while(|(n, _)| *n == number).count();
        let (same, after) = rest.split_at(count);
        rest = after;
        let Some(field) = message.get_field(number) else {
            if message.get_extension(number).is_some() {
                return None;
            }
            continue; // unknown fields are not written in JSON
        };
        if field.is_map() || field.is_group() {
            return None;
        }
        if let Some(oneof) = field.containing_oneof() {
            if oneofs.contains(&oneof) {
                return None; // a second member: decoding keeps the last one
            }
            oneofs.push(oneof);
        }
        let mut value = Vec::new();
        let written = if field.is_list() {
            write_list(&field, same, &mut value, depth)?
        } else {
            let [(_, raw)] = same else { return None };
            write_single(&field, *raw, &mut value, depth)?
        };
        if !written {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_str(out, field.json_name());
        out.push(b':');
        out.extend_from_slice(&value);
    }
    out.push(b'}');
    Some(())
}

/// Every field occurrence of a message, in wire order; `None` if malformed or with groups.
fn read_fields(mut proto: &[u8]) -> Option<Vec<Occurrence<'_>>> {
    let mut fields = Vec::new();
    while !proto.is_empty() {
        // A key is at most 32 bits; field number 0 is not one.
        let key = u32::try_from(varint(&mut proto)?).ok()?;
        let number = Some(key >> 3).filter(|n| *n > 0)?;
        let raw = match key & 7 {
            0 => Raw::Varint(varint(&mut proto)?),
            1 => Raw::Fixed64(u64::from_le_bytes(take(&mut proto, 8)?.try_into().ok()?)),
            2 => {
                let len = usize::try_from(varint(&mut proto)?).ok()?;
                Raw::Bytes(take(&mut proto, len)?)
            }
            5 => Raw::Fixed32(u32::from_le_bytes(take(&mut proto, 4)?.try_into().ok()?)),
            _ => return None, // groups, or not a wire type
        };
        fields.push((number, raw));
    }
    Some(fields)
}

/// A repeated field's values as a JSON array, packed or not; `false` if there are none.
fn write_list(
    field: &FieldDescriptor,
    occurrences: &[Occurrence<'_>],
    out: &mut Vec<u8>,
    depth: u32,
) -> Option<bool> {
    let kind = field.kind();
    out.push(b'[');
    let mut count = 0usize;
    let mut element = |raw: Raw<'_>, out: &mut Vec<u8>| -> Option<()> {
        if count > 0 {
            out.push(b',');
        }
        count += 1;
        write_value(&kind, raw, out, depth)
    };
    for &(_, raw) in occurrences {
        match (raw, packed_width(&kind)) {
            (Raw::Bytes(mut packed), Some(width)) => {
                while !packed.is_empty() {
                    let raw = match width {
                        Width::Varint => Raw::Varint(varint(&mut packed)?),
                        Width::Fixed32 => {
                            Raw::Fixed32(u32::from_le_bytes(take(&mut packed, 4)?.try_into().ok()?))
                        }
                        Width::Fixed64 => {
                            Raw::Fixed64(u64::from_le_bytes(take(&mut packed, 8)?.try_into().ok()?))
                        }
                    };
                    element(raw, out)?;
                }
            }
            _ => element(raw, out)?,
        }
    }
    out.push(b']');
    Some(count > 0)
}

/// How a packed repeated field of `kind` lays out its values; `None` for kinds that do not
/// pack (strings, bytes, messages).
enum Width {
    Varint,
    Fixed32,
    Fixed64,
}

fn packed_width(kind: &Kind) -> Option<Width> {
    Some(match kind {
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => Width::Fixed64,
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => Width::Fixed32,
        Kind::Int32
        | Kind::Int64
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Sint32
        | Kind::Sint64
        | Kind::Bool
        | Kind::Enum(_) => Width::Varint,
        Kind::String | Kind::Bytes | Kind::Message(_) => return None,
    })
}

/// A singular field's value; `false` when it is left out (no presence and the default).
fn write_single(
    field: &FieldDescriptor,
    raw: Raw<'_>,
    out: &mut Vec<u8>,
    depth: u32,
) -> Option<bool> {
    let kind = field.kind();
    let value = Value::read(&kind, raw)?;
    if !field.supports_presence() && value.is_default() {
        return Some(false);
    }
    value.write(out, depth)?;
    Some(true)
}

/// One value of `kind`, written; `None` when its wire type does not fit or the writer
/// declines it.
fn write_value(kind: &Kind, raw: Raw<'_>, out: &mut Vec<u8>, depth: u32) -> Option<()> {
    Value::read(kind, raw)?.write(out, depth)
}

/// A value read off the wire as its kind says, as decoding would have it.
enum Value<'a> {
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F32(f32),
    F64(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
    Enum(prost_reflect::EnumValueDescriptor),
    Message(MessageDescriptor, &'a [u8]),
}

impl<'a> Value<'a> {
    /// `raw` as a value of `kind`; `None` if the wire type does not fit the kind, or the
    /// writer declines the value.
    fn read(kind: &Kind, raw: Raw<'a>) -> Option<Value<'a>> {
        // The `as` casts truncate as protobuf decoding does.
        Some(match (kind, raw) {
            (Kind::Bool, Raw::Varint(v)) => Value::Bool(v != 0),
            (Kind::Int32, Raw::Varint(v)) => Value::I32(v as i32),
            (Kind::Sint32, Raw::Varint(v)) => Value::I32(zigzag32(v as u32)),
            (Kind::Uint32, Raw::Varint(v)) => Value::U32(v as u32),
            (Kind::Fixed32, Raw::Fixed32(v)) => Value::U32(v),
            (Kind::Sfixed32, Raw::Fixed32(v)) => Value::I32(v as i32),
            (Kind::Int64, Raw::Varint(v)) => Value::I64(v as i64),
            (Kind::Sint64, Raw::Varint(v)) => Value::I64(zigzag64(v)),
            (Kind::Uint64, Raw::Varint(v)) | (Kind::Fixed64, Raw::Fixed64(v)) => Value::U64(v),
            (Kind::Sfixed64, Raw::Fixed64(v)) => Value::I64(v as i64),
            (Kind::Float, Raw::Fixed32(v)) => Value::F32(f32::from_bits(v)),
            (Kind::Double, Raw::Fixed64(v)) => Value::F64(f64::from_bits(v)),
            (Kind::String, Raw::Bytes(b)) => Value::Str(std::str::from_utf8(b).ok()?),
            (Kind::Bytes, Raw::Bytes(b)) => Value::Bytes(b),
            (Kind::Enum(enum_type), Raw::Varint(v)) => {
                if enum_type.full_name().starts_with("google.protobuf.") {
                    return None; // NullValue's JSON is null
                }
                Value::Enum(enum_type.get_value(v as i32)?)
            }
            (Kind::Message(message), Raw::Bytes(b)) => Value::Message(message.clone(), b),
            _ => return None,
        })
    }

    /// Whether this is its kind's default for a field without presence (zero, empty or
    /// false; such fields have no other default).
    fn is_default(&self) -> bool {
        match self {
            Value::Bool(v) => !v,
            Value::I32(v) => *v == 0,
            Value::U32(v) => *v == 0,
            Value::I64(v) => *v == 0,
            Value::U64(v) => *v == 0,
            Value::F32(v) => *v == 0.0,
            Value::F64(v) => *v == 0.0,
            Value::Str(v) => v.is_empty(),
            Value::Bytes(v) => v.is_empty(),
            Value::Enum(v) => v.number() == 0,
            Value::Message(..) => false,
        }
    }

    fn write(&self, out: &mut Vec<u8>, depth: u32) -> Option<()> {
        use std::io::Write;
        // Writing into a Vec cannot fail.
        match self {
            Value::Bool(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
            Value::I32(v) => write!(out, "{v}").ok()?,
            Value::U32(v) => write!(out, "{v}").ok()?,
            Value::I64(v) => write!(out, "\"{v}\"").ok()?,
            Value::U64(v) => write!(out, "\"{v}\"").ok()?,
            Value::F32(v) if v.is_finite() => serde_json::to_writer(&mut *out, v).ok()?,
            Value::F64(v) if v.is_finite() => serde_json::to_writer(&mut *out, v).ok()?,
            Value::F32(v) => out.extend_from_slice(non_finite(f64::from(*v))),
            Value::F64(v) => out.extend_from_slice(non_finite(*v)),
            Value::Str(v) => write_str(out, v),
            Value::Bytes(v) => {
                let start = out.len() + 1;
                let len = base64::encoded_len(v.len(), true)?;
                out.push(b'"');
                out.resize(start + len, 0);
                base64::engine::general_purpose::STANDARD
                    .encode_slice(v, &mut out[start..])
                    .ok()?;
                out.push(b'"');
            }
            Value::Enum(v) => write_str(out, v.name()),
            Value::Message(message, bytes) => write_message(message, bytes, out, depth + 1)?,
        }
        Some(())
    }
}

/// `text` as a JSON string, escaped as `serde_json` escapes it: `"` and `\`, the control
/// characters (by their short escapes where JSON has one, else `\u00XX` in lower-case
/// hex); everything else as it is. Runs without escapes are copied whole.
fn write_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut rest = bytes;
    while let Some(at) = first_to_escape(rest) {
        out.extend_from_slice(&rest[..at]);
        let byte = rest[at];
        rest = &rest[at + 1..];
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
                continue;
            }
        };
        out.extend_from_slice(short);
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// Where the first byte a JSON string escapes is (`"`, `\`, a control character), eight
/// bytes at a time: most strings have none.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A high bit set in each byte of `x` that is zero (exact for the first such byte).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let special = control
            | zero(word ^ (ONES * u64::from(b'"')))
            | zero(word ^ (ONES * u64::from(b'\\')));
        if special != 0 {
            break; // the exact byte is found below
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|i| at + i)
}

/// The JSON string protobuf names a float that is not finite by.
fn non_finite(value: f64) -> &'static [u8] {
    if value.is_nan() {
        b"\"NaN\""
    } else if value > 0.0 {
        b"\"Infinity\""
    } else {
        b"\"-Infinity\""
    }
}

fn zigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

fn zigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Reads a varint (at most 10 bytes).
fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        if i == 9 && byte > 1 {
            return None; // more than 64 bits
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// Takes `len` bytes off the front.
fn take<'a>(buf: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if buf.len() < len {
        return None;
    }
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Some(head)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use prost::Message;
    use prost_reflect::{DescriptorPool, DynamicMessage};
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{
        DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
        FileDescriptorProto, FileDescriptorSet, OneofDescriptorProto,
    };

    fn field(name: &str, number: i32, kind: Type, label: Label) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            r#type: Some(kind as i32),
            label: Some(label as i32),
            ..Default::default()
        }
    }

    fn typed(mut field: FieldDescriptorProto, type_name: &str) -> FieldDescriptorProto {
        field.type_name = Some(type_name.into());
        field
    }

    /// `t.M`: a field of most kinds, a nested enum, a recursive child, a oneof.
    pub(in crate::gateway) fn message() -> MessageDescriptor {
        use Label::{Optional, Repeated};
        let mut text_in_oneof = field("pick_text", 9, Type::String, Optional);
        text_in_oneof.oneof_index = Some(0);
        let mut number_in_oneof = field("pick_number", 10, Type::Int64, Optional);
        number_in_oneof.oneof_index = Some(0);
        let m = DescriptorProto {
            name: Some("M".into()),
            field: vec![
                field("flag", 1, Type::Bool, Optional),
                field("small", 2, Type::Int32, Optional),
                field("big", 3, Type::Sint64, Optional),
                field("ratio", 4, Type::Double, Optional),
                field("user_name", 5, Type::String, Optional),
                field("blob", 6, Type::Bytes, Optional),
                typed(field("mood", 7, Type::Enum, Optional), ".t.M.Mood"),
                typed(field("child", 8, Type::Message, Optional), ".t.M"),
                text_in_oneof,
                number_in_oneof,
                field("numbers", 11, Type::Int32, Repeated),
                field("names", 12, Type::String, Repeated),
            ],
            enum_type: vec![EnumDescriptorProto {
                name: Some("Mood".into()),
                value: ["MOOD_UNSPECIFIED", "MOOD_GOOD"]
                    .iter()
                    .enumerate()
                    .map(|(number, name)| EnumValueDescriptorProto {
                        name: Some((*name).into()),
                        number: Some(number as i32),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            oneof_decl: vec![OneofDescriptorProto {
                name: Some("pick".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let file = FileDescriptorProto {
            name: Some("t.proto".into()),
            package: Some("t".into()),
            syntax: Some("proto3".into()),
            message_type: vec![m],
            ..Default::default()
        };
        let set = FileDescriptorSet { file: vec![file] };
        let pool = DescriptorPool::decode(set.encode_to_vec().as_slice()).unwrap();
        pool.get_message_by_name("t.M").unwrap()
    }

    /// The JSON both ways, checked equal; `None` when the direct writer declines.
    fn both(message: &MessageDescriptor, proto: &[u8]) -> Option<String> {
        let direct = write(message, proto)?;
        let dynamic = DynamicMessage::decode(message.clone(), proto).unwrap();
        let expected = crate::gateway::message_to_json(&dynamic);
        let direct = String::from_utf8(direct).unwrap();
        assert_eq!(direct.as_bytes(), &expected[..]);
        Some(direct)
    }

    fn dynamic(message: &MessageDescriptor, json: &str) -> Vec<u8> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        DynamicMessage::deserialize(message.clone(), &mut deserializer)
            .unwrap()
            .encode_to_vec()
    }

    #[test]
    fn writes_what_the_dynamic_message_writes() {
        let m = message();
        for json in [
            "{}",
            r#"{"flag":true,"small":-7,"big":"-9000000000","ratio":0.25}"#,
            r#"{"userName":"a \"quoted\" é\n","blob":"AAEC/w==","mood":"MOOD_GOOD"}"#,
            r#"{"child":{"child":{"small":1}},"pickText":"x"}"#,
            r#"{"pickNumber":"0","numbers":[1,-2,300],"names":["a",""]}"#,
            r#"{"ratio":"NaN"}"#,
            r#"{"userName":"0123456789abcdefé\"xyz0123456789\\\n"}"#,
            r#"{"userName":"\u0000\u0001\b\f\t\r\u001f\u007f \\ / \u2028 😀"}"#,
            r#"{"ratio":"-Infinity","child":{}}"#,
        ] {
            let proto = dynamic(&m, json);
            assert!(both(&m, &proto).is_some(), "declined {json}");
        }
    }

    #[test]
    fn defaults_on_the_wire_are_left_out_as_decoding_leaves_them() {
        let m = message();
        // small = 0, explicitly; small = 2^32 (an int32 truncates it to 0); big = 0.
        let proto = [0x10, 0x00, 0x10, 0x80, 0x80, 0x80, 0x80, 0x10, 0x18, 0x00];
        // `small` twice is a repeated singular field: declined, decoding keeps the last.
        assert_eq!(both(&m, &proto), None);
        assert_eq!(
            both(&m, &[0x10, 0x80, 0x80, 0x80, 0x80, 0x10]).unwrap(),
            "{}"
        );
        // big = 0 and ratio = -0.0 are defaults too.
        let proto = [0x18, 0x00, 0x21, 0, 0, 0, 0, 0, 0, 0, 0x80];
        assert_eq!(both(&m, &proto).unwrap(), "{}");
        // Unpacked and packed occurrences of one repeated field make one list, in order.
        let proto = [0x58, 0x01, 0x5a, 0x02, 0x02, 0x03, 0x58, 0x04];
        assert_eq!(both(&m, &proto).unwrap(), r#"{"numbers":[1,2,3,4]}"#);
        // Fields out of number order come out in number order.
        let proto = [0x38, 0x01, 0x08, 0x01];
        assert_eq!(
            both(&m, &proto).unwrap(),
            r#"{"flag":true,"mood":"MOOD_GOOD"}"#
        );
    }

    #[test]
    fn declines_what_it_does_not_write() {
        let m = message();
        for proto in [
            &[0x38, 0x05][..],               // an enum number the enum does not name
            &[0x4a, 0x01, b'x', 0x50, 0x01], // two members of one oneof
            &[0x2a, 0x01, 0xff],             // a string that is not UTF-8
            &[0x10],                         // cut short
            &[0x12, 0x00],                   // int32 with a length-delimited wire type
            &[0x0b, 0x0c],                   // a group
            &[0x42, 0x00, 0x42, 0x00],       // a singular message twice (decoding merges)
        ] {
            assert_eq!(write(&m, proto), None, "{proto:?}");
        }
        // Unknown fields are skipped, as JSON leaves them out.
        assert_eq!(
            both(&m, &[0xf8, 0x01, 0x01, 0x08, 0x01]).unwrap(),
            r#"{"flag":true}"#
        );
    }
}
