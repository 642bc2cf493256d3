//! Which file defines what: the lookups reflection answers, built from encoded
//! `FileDescriptorSet`s. Pure data, no I/O.

use std::collections::{HashMap, HashSet};

use prost::Message;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto, FileDescriptorSet};

/// One file: its encoded descriptor and the names of the files it imports.
#[derive(Debug)]
struct File {
    encoded: Vec<u8>,
    dependencies: Vec<String>,
}

/// Files by name, and the file of every symbol and extension in them.
#[derive(Debug, Default)]
pub(crate) struct DescriptorIndex {
    files: HashMap<String, File>,
    /// Fully qualified symbol (no leading dot) -> file name.
    symbols: HashMap<String, String>,
    /// (extended message type, field number) -> file name.
    extensions: HashMap<(String, i32), String>,
}

impl DescriptorIndex {
    /// Adds every file of an encoded `FileDescriptorSet`. A file already known by name is
    /// kept as it was (the same file compiled into two crates is the same file).
    pub(crate) fn add_set(&mut self, encoded: &[u8]) -> Result<(), prost::DecodeError> {
        let set = FileDescriptorSet::decode(encoded)?;
        for file in set.file {
            self.add_file(file);
        }
        Ok(())
    }

    fn add_file(&mut self, file: FileDescriptorProto) {
        let name = file.name().to_owned();
        if self.files.contains_key(&name) {
            return;
        }
        let package = file.package();
        if !package.is_empty() {
            self.symbols
                .entry(package.to_owned())
                .or_insert_with(|| name.clone());
        }
        let mut symbols = Vec::new();
        for message in &file.message_type {
            message_symbols(package, message, &mut symbols, &mut |extendee, number| {
                self.extensions
                    .entry((extendee, number))
                    .or_insert_with(|| name.clone());
            });
        }
        for enumeration in &file.enum_type {
            enum_symbols(package, enumeration, &mut symbols);
        }
        for extension in &file.extension {
            symbols.push(qualify(package, extension.name()));
            self.extensions
                .entry((trim_dot(extension.extendee()), extension.number()))
                .or_insert_with(|| name.clone());
        }
        for service in &file.service {
            let service_name = qualify(package, service.name());
            for method in &service.method {
                symbols.push(qualify(&service_name, method.name()));
            }
            symbols.push(service_name);
        }
        for symbol in symbols {
            self.symbols.entry(symbol).or_insert_with(|| name.clone());
        }
        let dependencies = file.dependency.clone();
        let encoded = file.encode_to_vec();
        self.files.insert(
            name,
            File {
                encoded,
                dependencies,
            },
        );
    }

    /// Whether a file of that name is known.
    pub(crate) fn has_file(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }

    /// The name of the file that defines `symbol` (fully qualified, with or without a
    /// leading dot).
    pub(crate) fn file_of_symbol(&self, symbol: &str) -> Option<&str> {
        self.symbols
            .get(symbol.strip_prefix('.').unwrap_or(symbol))
            .map(String::as_str)
    }

    /// The name of the file that defines extension `number` of `extendee`.
    pub(crate) fn file_of_extension(&self, extendee: &str, number: i32) -> Option<&str> {
        self.extensions
            .get(&(trim_dot(extendee), number))
            .map(String::as_str)
    }

    /// The field numbers of every extension of `extendee`, in increasing order.
    pub(crate) fn extension_numbers(&self, extendee: &str) -> Vec<i32> {
        let extendee = trim_dot(extendee);
        let mut numbers: Vec<i32> = self
            .extensions
            .keys()
            .filter(|(ty, _)| *ty == extendee)
            .map(|(_, number)| *number)
            .collect();
        numbers.sort_unstable();
        numbers
    }

    /// The encoded file `name` first (always), then each file it imports, directly or
    /// not, that is not in `sent`; every file returned is added to `sent`. Imports the
    /// index does not have are left out.
    pub(crate) fn file_with_imports(&self, name: &str, sent: &mut HashSet<String>) -> Vec<Vec<u8>> {
        let Some(file) = self.files.get(name) else {
            return Vec::new();
        };
        sent.insert(name.to_owned());
        let mut out = vec![file.encoded.clone()];
        let mut queue: Vec<&str> = file.dependencies.iter().map(String::as_str).collect();
        while let Some(next) = queue.pop() {
            if sent.contains(next) {
                continue;
            }
            if let Some(dependency) = self.files.get(next) {
                sent.insert(next.to_owned());
                out.push(dependency.encoded.clone());
                queue.extend(dependency.dependencies.iter().map(String::as_str));
            }
        }
        out
    }
}

fn qualify(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.{name}")
    }
}

fn trim_dot(name: &str) -> String {
    name.strip_prefix('.').unwrap_or(name).to_owned()
}

/// The symbols a message defines: itself, its fields, oneofs, nested types, enums and
/// extensions; `extension` is told each extension's extendee and number.
fn message_symbols(
    scope: &str,
    message: &DescriptorProto,
    out: &mut Vec<String>,
    extension: &mut impl FnMut(String, i32),
) {
    let full = qualify(scope, message.name());
    for field in &message.field {
        out.push(qualify(&full, field.name()));
    }
    for oneof in &message.oneof_decl {
        out.push(qualify(&full, oneof.name()));
    }
    for ext in &message.extension {
        out.push(qualify(&full, ext.name()));
        extension(trim_dot(ext.extendee()), ext.number());
    }
    for nested in &message.nested_type {
        message_symbols(&full, nested, out, extension);
    }
    for enumeration in &message.enum_type {
        enum_symbols(&full, enumeration, out);
    }
    out.push(full);
}

/// An enum and its values; as in C++, a value's name lives in the enum's enclosing scope.
fn enum_symbols(scope: &str, enumeration: &EnumDescriptorProto, out: &mut Vec<String>) {
    out.push(qualify(scope, enumeration.name()));
    for value in &enumeration.value {
        out.push(qualify(scope, value.name()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{
        EnumValueDescriptorProto, FieldDescriptorProto, MethodDescriptorProto,
        ServiceDescriptorProto,
    };

    fn field(name: &str, number: i32) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            ..Default::default()
        }
    }

    fn file(name: &str, package: &str, deps: &[&str]) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some(name.into()),
            package: Some(package.into()),
            dependency: deps.iter().map(|d| d.to_string()).collect(),
            ..Default::default()
        }
    }

    fn index() -> DescriptorIndex {
        let mut base = file("base.proto", "base", &[]);
        base.message_type.push(DescriptorProto {
            name: Some("Base".into()),
            field: vec![field("id", 1)],
            nested_type: vec![DescriptorProto {
                name: Some("Inner".into()),
                ..Default::default()
            }],
            enum_type: vec![EnumDescriptorProto {
                name: Some("Kind".into()),
                value: vec![EnumValueDescriptorProto {
                    name: Some("KIND_A".into()),
                    number: Some(0),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        let mut mid = file("mid.proto", "mid", &["base.proto"]);
        mid.extension.push(FieldDescriptorProto {
            extendee: Some(".base.Base".into()),
            ..field("note", 100)
        });
        let mut top = file(
            "top.proto",
            "top",
            &["mid.proto", "base.proto", "gone.proto"],
        );
        top.service.push(ServiceDescriptorProto {
            name: Some("Svc".into()),
            method: vec![MethodDescriptorProto {
                name: Some("Do".into()),
                ..Default::default()
            }],
            ..Default::default()
        });
        top.extension.push(FieldDescriptorProto {
            extendee: Some(".base.Base".into()),
            ..field("tag", 7)
        });
        let set = FileDescriptorSet {
            file: vec![base, mid, top],
        };
        let mut index = DescriptorIndex::default();
        index.add_set(&set.encode_to_vec()).unwrap();
        index
    }

    #[test]
    fn symbols_resolve_to_their_files() {
        let index = index();
        for (symbol, file) in [
            ("top.Svc", "top.proto"),
            ("top.Svc.Do", "top.proto"),
            (".base.Base", "base.proto"),
            ("base.Base.id", "base.proto"),
            ("base.Base.Inner", "base.proto"),
            ("base.Base.Kind", "base.proto"),
            ("base.Base.KIND_A", "base.proto"),
            ("mid.note", "mid.proto"),
            ("base", "base.proto"),
        ] {
            assert_eq!(index.file_of_symbol(symbol), Some(file), "{symbol}");
        }
        assert_eq!(index.file_of_symbol("top.Nope"), None);
        assert_eq!(index.file_of_symbol("base.Base.Kind.KIND_A"), None);
    }

    #[test]
    fn extensions_by_type_and_number() {
        let index = index();
        assert_eq!(index.file_of_extension("base.Base", 100), Some("mid.proto"));
        assert_eq!(index.file_of_extension(".base.Base", 7), Some("top.proto"));
        assert_eq!(index.file_of_extension("base.Base", 8), None);
        assert_eq!(index.extension_numbers("base.Base"), vec![7, 100]);
        assert!(index.extension_numbers("top.Svc").is_empty());
    }

    #[test]
    fn a_file_comes_with_the_imports_not_sent_yet() {
        let index = index();
        let names = |files: Vec<Vec<u8>>| -> Vec<String> {
            files
                .iter()
                .map(|f| {
                    FileDescriptorProto::decode(f.as_slice())
                        .unwrap()
                        .name()
                        .to_owned()
                })
                .collect()
        };
        let mut sent = HashSet::new();
        let first = names(index.file_with_imports("top.proto", &mut sent));
        assert_eq!(first[0], "top.proto");
        let mut rest = first[1..].to_vec();
        rest.sort();
        assert_eq!(
            rest,
            ["base.proto", "mid.proto"],
            "each import once, gone.proto skipped"
        );
        // Asked again on the same stream: the file itself, nothing already sent.
        assert_eq!(
            names(index.file_with_imports("top.proto", &mut sent)),
            ["top.proto"]
        );
        assert!(index.file_with_imports("gone.proto", &mut sent).is_empty());
    }
}
