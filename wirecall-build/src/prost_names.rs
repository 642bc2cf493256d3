//! Valid `.proto` files whose names prost would turn into one Rust name twice: messages or
//! enums of one scope that differ only in case or underscores (`message user_info` and
//! `message UserInfo` both become `UserInfo`), fields of one message (`foo` and `Foo` both
//! become `foo`), cases of one oneof. protoc accepts them; the Rust would not compile.
//!
//! The copy of the descriptors that prost reads is renamed so that every Rust name is unique:
//! in declaration order, the first keeps its name and each later one gets the smallest number
//! suffix that makes its Rust name free (`UserInfo2`, `foo2`). Only Rust identifiers change:
//! field numbers, the wire format, and the descriptor set served by reflection keep the proto
//! names.

use std::collections::{HashMap, HashSet};

use heck::{ToSnakeCase, ToUpperCamelCase};
use prost_types::{DescriptorProto, FileDescriptorSet};

/// prost's type name for a proto name (ignoring keyword escapes, which cannot make two
/// different names equal).
fn camel(name: &str) -> String {
    name.to_upper_camel_case()
}

/// prost's field and module name for a proto name.
fn snake(name: &str) -> String {
    name.to_snake_case()
}

/// Renames what would clash; returns the renamed types' full names (old, new), for messages.
pub(crate) fn make_unique(fds: &mut FileDescriptorSet) -> Vec<(String, String)> {
    let mut renamed_types = Vec::new();
    // Package scopes span files: one module per package.
    let mut package_scopes: HashMap<String, (HashSet<String>, HashSet<String>)> = HashMap::new();
    for file in &mut fds.file {
        let package = file.package().to_string();
        let prefix = if package.is_empty() {
            String::new()
        } else {
            format!(".{package}")
        };
        let (taken, modules) = package_scopes.entry(package).or_default();
        for message in &mut file.message_type {
            let module = has_module(message);
            rename_type(
                &mut message.name,
                taken,
                &prefix,
                &mut renamed_types,
                module.then_some(&mut *modules),
            );
            rename_inside(
                message,
                &format!("{prefix}.{}", message.name()),
                &mut renamed_types,
            );
        }
        for e in &mut file.enum_type {
            rename_type(&mut e.name, taken, &prefix, &mut renamed_types, None);
        }
    }
    if !renamed_types.is_empty() {
        retarget(fds, &renamed_types);
    }
    renamed_types
}

/// prost writes a module for a message's nested types, enums and oneofs.
fn has_module(message: &DescriptorProto) -> bool {
    message
        .nested_type
        .iter()
        .any(|n| !n.options.as_ref().is_some_and(|o| o.map_entry()))
        || !message.enum_type.is_empty()
        || !message.oneof_decl.is_empty()
}

/// Gives `name` a number suffix while its type name (or, for a message with nested items, its
/// module name) is taken in the scope.
fn rename_type(
    name: &mut Option<String>,
    types: &mut HashSet<String>,
    prefix: &str,
    renamed: &mut Vec<(String, String)>,
    mut modules: Option<&mut HashSet<String>>,
) {
    let original = name.clone().unwrap_or_default();
    let free =
        |candidate: &str, types: &HashSet<String>, modules: &Option<&mut HashSet<String>>| {
            !types.contains(&camel(candidate))
                && !modules
                    .as_ref()
                    .is_some_and(|m| m.contains(&snake(candidate)))
        };
    let chosen = first_free(&original, |c| free(c, types, &modules));
    types.insert(camel(&chosen));
    if let Some(modules) = modules.as_mut() {
        modules.insert(snake(&chosen));
    }
    if chosen != original {
        renamed.push((format!("{prefix}.{original}"), format!("{prefix}.{chosen}")));
        *name = Some(chosen);
    }
}

/// `name` if `free`, else `name2`, `name3`, ...
fn first_free(name: &str, free: impl Fn(&str) -> bool) -> String {
    if free(name) {
        return name.to_string();
    }
    (2..)
        .map(|n| format!("{name}{n}"))
        .find(|c| free(c))
        .expect("an unbounded range has a free name")
}

/// Fields, oneofs and oneof cases of `message`, then its nested types, recursively.
fn rename_inside(message: &mut DescriptorProto, full: &str, renamed: &mut Vec<(String, String)>) {
    // Fields outside oneofs and the oneofs themselves are the struct's fields.
    let mut fields = HashSet::new();
    let mut oneof_names: Vec<Option<String>> = Vec::new();
    let mut oneof_cases: Vec<HashSet<String>> = vec![HashSet::new(); message.oneof_decl.len()];
    // A proto3 `optional` is a synthetic oneof that prost writes as a plain field.
    let synthetic: HashSet<i32> = message
        .field
        .iter()
        .filter(|f| f.proto3_optional())
        .filter_map(|f| f.oneof_index)
        .collect();
    for field in &mut message.field {
        match field.oneof_index {
            Some(i) if !synthetic.contains(&i) => {
                let cases = &mut oneof_cases[i as usize];
                let original = field.name().to_string();
                let chosen = first_free(&original, |c| !cases.contains(&camel(c)));
                cases.insert(camel(&chosen));
                field.name = Some(chosen);
                // The oneof itself becomes one struct field, at its first case.
                if oneof_names.len() <= i as usize {
                    oneof_names.resize(i as usize + 1, None);
                }
                if oneof_names[i as usize].is_none() {
                    let decl = &mut message.oneof_decl[i as usize];
                    let original = decl.name().to_string();
                    let chosen = first_free(&original, |c| !fields.contains(&snake(c)));
                    fields.insert(snake(&chosen));
                    decl.name = Some(chosen.clone());
                    oneof_names[i as usize] = Some(chosen);
                }
            }
            _ => {
                let original = field.name().to_string();
                let chosen = first_free(&original, |c| !fields.contains(&snake(c)));
                fields.insert(snake(&chosen));
                field.name = Some(chosen);
            }
        }
    }
    let mut types = HashSet::new();
    let mut modules = HashSet::new();
    for nested in &mut message.nested_type {
        let is_map_entry = nested.options.as_ref().is_some_and(|o| o.map_entry());
        if !is_map_entry {
            let module = has_module(nested);
            rename_type(
                &mut nested.name,
                &mut types,
                full,
                renamed,
                module.then_some(&mut modules),
            );
        }
        let nested_full = format!("{full}.{}", nested.name());
        rename_inside(nested, &nested_full, renamed);
    }
    for e in &mut message.enum_type {
        rename_type(&mut e.name, &mut types, full, renamed, None);
    }
}

/// Points every reference (field types, extendees, method inputs and outputs) at the new
/// names.
fn retarget(fds: &mut FileDescriptorSet, renamed: &[(String, String)]) {
    let map: HashMap<&str, &str> = renamed
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    // A reference names a type or one nested in it. Prefixes are renamed from the shortest:
    // a nested type's recorded old name already carries its parent's new name.
    let fix = |name: &mut Option<String>| {
        let Some(current) = name.as_mut() else {
            return;
        };
        let mut end = 0;
        while end < current.len() {
            end = current[end + 1..]
                .find('.')
                .map_or(current.len(), |p| p + end + 1);
            if let Some(new) = map.get(&current[..end]) {
                *current = format!("{new}{}", &current[end..]);
                end = new.len();
            }
        }
    };
    for file in &mut fds.file {
        for message in &mut file.message_type {
            retarget_message(message, &fix);
        }
        for field in &mut file.extension {
            fix(&mut field.type_name);
            fix(&mut field.extendee);
        }
        for service in &mut file.service {
            for method in &mut service.method {
                fix(&mut method.input_type);
                fix(&mut method.output_type);
            }
        }
    }
}

fn retarget_message(message: &mut DescriptorProto, fix: &impl Fn(&mut Option<String>)) {
    for field in message.field.iter_mut().chain(&mut message.extension) {
        fix(&mut field.type_name);
        fix(&mut field.extendee);
    }
    for nested in &mut message.nested_type {
        retarget_message(nested, fix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{
        field_descriptor_proto::Type, FieldDescriptorProto, FileDescriptorProto,
        MethodDescriptorProto, OneofDescriptorProto, ServiceDescriptorProto,
    };

    fn message(name: &str, fields: &[&str]) -> DescriptorProto {
        DescriptorProto {
            name: Some(name.into()),
            field: fields
                .iter()
                .enumerate()
                .map(|(i, f)| FieldDescriptorProto {
                    name: Some(f.to_string()),
                    number: Some(i as i32 + 1),
                    r#type: Some(Type::String as i32),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn reference(name: &str, to: &str) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(99),
            r#type: Some(Type::Message as i32),
            type_name: Some(to.into()),
            ..Default::default()
        }
    }

    #[test]
    fn later_types_and_fields_that_meet_in_rust_get_numbers() {
        let mut inner_clash = message("thing", &[]);
        inner_clash.nested_type = vec![message("Leaf", &[]), message("leaf", &[])];
        let mut user = message("Holder", &["foo", "Foo", "foo2"]);
        user.field.push(reference("a", ".p.thing.leaf"));
        user.field.push(reference("b", ".p.Thing"));
        let mut fds = FileDescriptorSet {
            file: vec![FileDescriptorProto {
                package: Some("p".into()),
                message_type: vec![message("Thing", &[]), inner_clash, user],
                service: vec![ServiceDescriptorProto {
                    name: Some("S".into()),
                    method: vec![MethodDescriptorProto {
                        name: Some("M".into()),
                        input_type: Some(".p.thing".into()),
                        output_type: Some(".p.thing.leaf".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let renamed = make_unique(&mut fds);
        assert_eq!(
            renamed,
            [
                (".p.thing".to_string(), ".p.thing2".to_string()),
                (".p.thing2.leaf".to_string(), ".p.thing2.leaf2".to_string()),
            ]
        );
        let file = &fds.file[0];
        let holder = &file.message_type[2];
        let names: Vec<_> = holder.field.iter().map(|f| f.name()).collect();
        // First come, first named: `Foo` takes `foo2` (free when it came), so the field
        // declared as `foo2` moves on.
        assert_eq!(names, ["foo", "Foo2", "foo22", "a", "b"]);
        assert_eq!(holder.field[3].type_name(), ".p.thing2.leaf2");
        assert_eq!(holder.field[4].type_name(), ".p.Thing");
        let method = &file.service[0].method[0];
        assert_eq!(method.input_type(), ".p.thing2");
        assert_eq!(method.output_type(), ".p.thing2.leaf2");
    }

    #[test]
    fn oneof_cases_are_unique_within_their_oneof_and_the_oneof_among_fields() {
        let mut m = message("M", &["choice", "x", "X"]);
        m.oneof_decl = vec![OneofDescriptorProto {
            name: Some("choice".into()),
            ..Default::default()
        }];
        m.field[1].oneof_index = Some(0);
        m.field[2].oneof_index = Some(0);
        let mut fds = FileDescriptorSet {
            file: vec![FileDescriptorProto {
                message_type: vec![m],
                ..Default::default()
            }],
        };
        make_unique(&mut fds);
        let m = &fds.file[0].message_type[0];
        let names: Vec<_> = m.field.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["choice", "x", "X2"]);
        assert_eq!(m.oneof_decl[0].name(), "choice2");
    }

    #[test]
    fn names_that_do_not_meet_are_untouched() {
        let mut fds = FileDescriptorSet {
            file: vec![FileDescriptorProto {
                package: Some("p".into()),
                message_type: vec![message("A", &["a", "b"]), message("B", &["a"])],
                ..Default::default()
            }],
        };
        let before = fds.clone();
        assert!(make_unique(&mut fds).is_empty());
        assert_eq!(fds, before);
    }
}
