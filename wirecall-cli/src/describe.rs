//! Descriptors as `.proto`-like text, for `list` and `describe`.

use std::fmt::Write as _;

use prost_reflect::{
    Cardinality, DescriptorPool, EnumDescriptor, EnumValueDescriptor, ExtensionDescriptor,
    FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, MethodDescriptor, ServiceDescriptor,
};

/// A named thing in a pool.
#[derive(Debug, Clone)]
pub(crate) enum Symbol {
    /// A service.
    Service(ServiceDescriptor),
    /// A method of a service.
    Method(MethodDescriptor),
    /// A message type.
    Message(MessageDescriptor),
    /// A field of a message.
    Field(FieldDescriptor),
    /// An enum type.
    Enum(EnumDescriptor),
    /// A value of an enum.
    EnumValue(EnumValueDescriptor),
    /// An extension field.
    Extension(ExtensionDescriptor),
}

/// Finds `name` (fully qualified, with or without a leading dot) in `pool`.
pub(crate) fn lookup(pool: &DescriptorPool, name: &str) -> Option<Symbol> {
    let name = name.trim_start_matches('.');
    if let Some(s) = pool.get_service_by_name(name) {
        return Some(Symbol::Service(s));
    }
    if let Some(m) = pool.get_message_by_name(name) {
        return Some(Symbol::Message(m));
    }
    if let Some(e) = pool.get_enum_by_name(name) {
        return Some(Symbol::Enum(e));
    }
    if let Some(x) = pool.get_extension_by_name(name) {
        return Some(Symbol::Extension(x));
    }
    let (parent, last) = name.rsplit_once('.')?;
    if let Some(service) = pool.get_service_by_name(parent) {
        return service
            .methods()
            .find(|m| m.name() == last)
            .map(Symbol::Method);
    }
    if let Some(field) = pool
        .get_message_by_name(parent)
        .and_then(|m| m.get_field_by_name(last))
    {
        return Some(Symbol::Field(field));
    }
    // An enum value lives in its enum's enclosing scope.
    pool.all_enums()
        .filter(|e| match e.parent_message() {
            Some(m) => m.full_name() == parent,
            None => e.package_name() == parent,
        })
        .find_map(|e| e.get_value_by_name(last))
        .map(Symbol::EnumValue)
}

/// `NAME is a KIND:` and the definition, as grpcurl prints it.
pub(crate) fn describe(symbol: &Symbol) -> String {
    let mut out = String::new();
    match symbol {
        Symbol::Service(s) => {
            let _ = writeln!(out, "{} is a service:", s.full_name());
            service(&mut out, s);
        }
        Symbol::Method(m) => {
            let _ = writeln!(out, "{} is a method:", m.full_name());
            comments(&mut out, &m.parent_file(), m.path(), "");
            let _ = writeln!(out, "{}", method(m));
        }
        Symbol::Message(m) => {
            let _ = writeln!(out, "{} is a message:", m.full_name());
            message(&mut out, m, "");
        }
        Symbol::Field(f) => {
            let _ = writeln!(out, "{} is a field:", f.full_name());
            comments(&mut out, &f.parent_file(), f.path(), "");
            let _ = writeln!(out, "{}", field(f));
        }
        Symbol::Enum(e) => {
            let _ = writeln!(out, "{} is an enum:", e.full_name());
            enumeration(&mut out, e, "");
        }
        Symbol::EnumValue(v) => {
            let _ = writeln!(out, "{} is an enum value:", v.full_name());
            comments(&mut out, &v.parent_file(), v.path(), "");
            let _ = writeln!(out, "{} = {};", v.name(), v.number());
        }
        Symbol::Extension(x) => {
            let _ = writeln!(out, "{} is an extension:", x.full_name());
            comments(&mut out, &x.parent_file(), x.path(), "");
            let _ = writeln!(
                out,
                "extend .{} {{\n  {}{} {} = {};\n}}",
                x.containing_message().full_name(),
                label(x.cardinality(), x.is_list()),
                kind_name(&x.kind()),
                x.name(),
                x.number()
            );
        }
    }
    out
}

/// The `.proto` comments of the element at `path` in `file`, as `//` lines: the leading
/// comment, then the trailing one. Nothing when the descriptors carry no source info (a
/// server may strip it) or the element has no comment.
fn comments(out: &mut String, file: &FileDescriptor, path: &[i32], indent: &str) {
    let proto = file.file_descriptor_proto();
    let Some(info) = proto.source_code_info.as_ref() else {
        return;
    };
    let Some(location) = info.location.iter().find(|l| l.path == path) else {
        return;
    };
    for text in [location.leading_comments(), location.trailing_comments()] {
        for line in text.trim_end().lines() {
            let line = line.strip_prefix(' ').unwrap_or(line).trim_end();
            if line.is_empty() {
                let _ = writeln!(out, "{indent}//");
            } else {
                let _ = writeln!(out, "{indent}// {line}");
            }
        }
    }
}

fn service(out: &mut String, s: &ServiceDescriptor) {
    comments(out, &s.parent_file(), s.path(), "");
    let _ = writeln!(out, "service {} {{", s.name());
    for m in s.methods() {
        comments(out, &m.parent_file(), m.path(), "  ");
        let _ = writeln!(out, "  {}", method(&m));
    }
    let _ = writeln!(out, "}}");
}

/// `rpc Name ( [stream ].pkg.In ) returns ( [stream ].pkg.Out );`
pub(crate) fn method(m: &MethodDescriptor) -> String {
    let stream = |yes: bool| if yes { "stream " } else { "" };
    format!(
        "rpc {} ( {}.{} ) returns ( {}.{} );",
        m.name(),
        stream(m.is_client_streaming()),
        m.input().full_name(),
        stream(m.is_server_streaming()),
        m.output().full_name()
    )
}

fn message(out: &mut String, m: &MessageDescriptor, indent: &str) {
    comments(out, &m.parent_file(), m.path(), indent);
    let _ = writeln!(out, "{indent}message {} {{", m.name());
    let inner = format!("{indent}  ");
    for nested in m.child_messages().filter(|n| !n.is_map_entry()) {
        message(out, &nested, &inner);
    }
    for e in m.child_enums() {
        enumeration(out, &e, &inner);
    }
    let mut oneofs_done = Vec::new();
    for f in m.fields() {
        match f.containing_oneof().filter(|o| !o.is_synthetic()) {
            Some(oneof) => {
                if oneofs_done.contains(&oneof.name().to_owned()) {
                    continue;
                }
                oneofs_done.push(oneof.name().to_owned());
                comments(out, &oneof.parent_file(), oneof.path(), &inner);
                let _ = writeln!(out, "{inner}oneof {} {{", oneof.name());
                for member in oneof.fields() {
                    comments(
                        out,
                        &member.parent_file(),
                        member.path(),
                        &format!("{inner}  "),
                    );
                    let _ = writeln!(out, "{inner}  {}", field(&member));
                }
                let _ = writeln!(out, "{inner}}}");
            }
            None => {
                comments(out, &f.parent_file(), f.path(), &inner);
                let _ = writeln!(out, "{inner}{}", field(&f));
            }
        }
    }
    let _ = writeln!(out, "{indent}}}");
}

fn enumeration(out: &mut String, e: &EnumDescriptor, indent: &str) {
    comments(out, &e.parent_file(), e.path(), indent);
    let _ = writeln!(out, "{indent}enum {} {{", e.name());
    for v in e.values() {
        comments(out, &v.parent_file(), v.path(), &format!("{indent}  "));
        let _ = writeln!(out, "{indent}  {} = {};", v.name(), v.number());
    }
    let _ = writeln!(out, "{indent}}}");
}

/// `[repeated |optional ]type name = N;`, maps as `map<K, V>`.
fn field(f: &FieldDescriptor) -> String {
    let ty = match f.kind() {
        Kind::Message(entry) if f.is_map() => {
            let key = entry.map_entry_key_field().kind();
            let value = entry.map_entry_value_field().kind();
            format!("map<{}, {}>", kind_name(&key), kind_name(&value))
        }
        kind => format!("{}{}", field_label(f), kind_name(&kind)),
    };
    format!("{ty} {} = {};", f.name(), f.number())
}

fn field_label(f: &FieldDescriptor) -> &'static str {
    if f.supports_presence() && f.containing_oneof().is_some_and(|o| o.is_synthetic()) {
        return "optional ";
    }
    label(f.cardinality(), f.is_list())
}

fn label(cardinality: Cardinality, list: bool) -> &'static str {
    match cardinality {
        _ if list => "repeated ",
        Cardinality::Required => "required ",
        _ => "",
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!(".{}", e.full_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> DescriptorPool {
        let dir =
            std::env::temp_dir().join(format!("wirecall-cli-describe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("t.proto"),
            r#"syntax = "proto3";
package t;
// S serves A and B.
//
// Two lines.
service S {
  // One answers once.
  rpc One(A) returns (B);
  rpc Many(stream A) returns (stream B); // Many answers many.
}
message A {
  enum Mode { MODE_UNSPECIFIED = 0; FAST = 1; }
  message Inner { int64 n = 1; }
  repeated string names = 1;
  map<string, Inner> by_name = 2;
  optional int32 limit = 3;
  oneof pick { string text = 4; Inner inner = 5; }
  Mode mode = 6;
}
message B {}
"#,
        )
        .unwrap();
        let mut compiler = protox::Compiler::new([&dir]).unwrap();
        compiler
            .include_source_info(true)
            .open_file("t.proto")
            .unwrap();
        let files = compiler.file_descriptor_set();
        DescriptorPool::from_file_descriptor_set(files).unwrap()
    }

    #[test]
    fn a_service_and_its_methods() {
        let pool = pool();
        let text = describe(&lookup(&pool, "t.S").unwrap());
        assert_eq!(
            text,
            "t.S is a service:\n// S serves A and B.\n//\n// Two lines.\nservice S {\n  \
             // One answers once.\n  rpc One ( .t.A ) returns ( .t.B );\n  \
             // Many answers many.\n  rpc Many ( stream .t.A ) returns ( stream .t.B );\n}\n"
        );
        let text = describe(&lookup(&pool, ".t.S.Many").unwrap());
        assert_eq!(
            text,
            "t.S.Many is a method:\n// Many answers many.\n\
             rpc Many ( stream .t.A ) returns ( stream .t.B );\n"
        );
    }

    #[test]
    fn a_message_with_every_kind_of_field() {
        let pool = pool();
        let text = describe(&lookup(&pool, "t.A").unwrap());
        for line in [
            "t.A is a message:",
            "message A {",
            "  message Inner {",
            "    int64 n = 1;",
            "  enum Mode {",
            "    FAST = 1;",
            "  repeated string names = 1;",
            "  map<string, .t.A.Inner> by_name = 2;",
            "  optional int32 limit = 3;",
            "  oneof pick {",
            "    string text = 4;",
            "    .t.A.Inner inner = 5;",
            "  .t.A.Mode mode = 6;",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert!(!text.contains("ByNameEntry"), "map entries are not shown");
    }

    #[test]
    fn fields_enum_values_and_unknowns() {
        let pool = pool();
        assert!(matches!(lookup(&pool, "t.A.names"), Some(Symbol::Field(_))));
        assert!(matches!(
            lookup(&pool, "t.A.FAST"),
            Some(Symbol::EnumValue(_))
        ));
        assert!(matches!(lookup(&pool, "t.A.Mode"), Some(Symbol::Enum(_))));
        assert!(lookup(&pool, "t.Nope").is_none());
        assert!(lookup(&pool, "t.S.Nope").is_none());
    }
}
