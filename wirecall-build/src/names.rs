//! The Rust names the generator gives a service and its RPCs, chosen so that every valid
//! `.proto` file compiles: a generated name never repeats another item of the package module
//! (prost's messages, enums and nested-type modules, other services' items), an RPC's method
//! never repeats another RPC's or one of the names a client already answers to.
//!
//! The rule is one, and stable across versions: start from prost's name (`UpperCamel` for
//! types, `snake_case` for methods, keywords already escaped by prost), and while it is taken,
//! append `_`. Names are given in declaration order, prost's items first, so the first comer
//! keeps the plain name.

use std::collections::HashSet;

/// Method names an RPC may not take: the client's own inherent methods (those of today and
/// those reserved for tomorrow, so that adding one never renames an RPC), and the methods of
/// the traits a client implements or gets from the prelude, which an inherent method of the
/// same name would shadow (`rpc Clone` would make `client.clone()` call the RPC). The server
/// trait uses the same names, so that a handler type that is also `Clone` or `Debug` never sees
/// two methods of one name.
pub(crate) const RESERVED_METHODS: &[&str] = &[
    // The client's inherent methods, present and reserved.
    "new",
    "connect",
    "channel",
    "into_channel",
    "with_channel",
    "with_interceptor",
    // Traits every client implements (Clone, Debug) and blanket traits of the prelude.
    "clone",
    "clone_from",
    "clone_into",
    "to_owned",
    "fmt",
    "into",
    "try_into",
    "from",
    "try_from",
    "borrow",
    "borrow_mut",
    "type_id",
    // Traits a client may implement later (PartialEq, Hash, Default, Drop, AsRef) and
    // `ToString`, reserved so that a new derive never renames an RPC.
    "eq",
    "ne",
    "hash",
    "default",
    "drop",
    "as_ref",
    "as_mut",
    "to_string",
];

/// The Rust names of one service's generated items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceNames {
    /// The server trait (the service's own name unless taken).
    pub(crate) service: String,
    /// The server type that wraps an implementation (`FooServer`).
    pub(crate) server: String,
    /// The client type (`FooClient`).
    pub(crate) client: String,
    /// One method name per RPC, in declaration order.
    pub(crate) methods: Vec<String>,
}

/// The names already given in one package module, compared without the `r#` of raw
/// identifiers.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    taken: HashSet<String>,
}

impl Scope {
    /// The top-level items of a module as prost wrote it, before formatting: each one starts
    /// a line with `pub <kind> <name>`, at column 0 (nested items are indented).
    pub(crate) fn of_module(code: &str) -> Self {
        let mut scope = Scope::default();
        for line in code.lines() {
            let Some(rest) = line.strip_prefix("pub ") else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let kind = words.next();
            let name = words.next();
            if let (Some("struct" | "enum" | "mod" | "trait" | "type" | "union"), Some(name)) =
                (kind, name)
            {
                let end = name
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '#'))
                    .unwrap_or(name.len());
                scope.take(&name[..end]);
            }
        }
        scope
    }

    fn contains(&self, name: &str) -> bool {
        self.taken.contains(bare(name))
    }

    fn take(&mut self, name: &str) {
        self.taken.insert(bare(name).to_string());
    }

    /// Gives `wanted` if free, else `wanted` with `_` appended as often as needed; either way
    /// the name is taken afterwards.
    pub(crate) fn claim(&mut self, wanted: &str) -> String {
        let name = if self.contains(wanted) {
            let mut name = bare(wanted).to_string();
            while self.contains(&name) {
                name.push('_');
            }
            name
        } else {
            wanted.to_string()
        };
        self.take(&name);
        name
    }
}

/// `r#type` compares as `type`.
fn bare(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
}

/// Names the items of `services` (prost's `UpperCamel` service name and `snake_case` method
/// names, in declaration order) in a module whose other items are in `scope`.
pub(crate) fn name_services<'a>(
    scope: &mut Scope,
    services: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>,
) -> Vec<ServiceNames> {
    let services: Vec<_> = services.into_iter().collect();
    // Traits first: a service's own name is part of its contract and beats another service's
    // generated `FooServer` or `FooClient`.
    let traits: Vec<String> = services.iter().map(|(name, _)| scope.claim(name)).collect();
    services
        .into_iter()
        .zip(traits)
        .map(|((name, methods), service)| {
            let server = scope.claim(&format!("{}Server", bare(name)));
            let client = scope.claim(&format!("{}Client", bare(name)));
            let mut method_scope = Scope::default();
            for reserved in RESERVED_METHODS {
                method_scope.take(reserved);
            }
            let methods = methods.iter().map(|m| method_scope.claim(m)).collect();
            ServiceNames {
                service,
                server,
                client,
                methods,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(scope: &mut Scope, service: &str, methods: &[&str]) -> ServiceNames {
        name_services(scope, [(service, methods.to_vec())]).remove(0)
    }

    #[test]
    fn free_names_are_kept() {
        let n = names(&mut Scope::default(), "Greeter", &["say_hello", "r#type"]);
        assert_eq!(n.service, "Greeter");
        assert_eq!(n.server, "GreeterServer");
        assert_eq!(n.client, "GreeterClient");
        assert_eq!(n.methods, ["say_hello", "r#type"]);
    }

    #[test]
    fn rpcs_named_like_client_methods_get_an_underscore() {
        let n = names(
            &mut Scope::default(),
            "S",
            &["connect", "new", "clone", "channel", "into", "fmt", "get"],
        );
        assert_eq!(
            n.methods,
            ["connect_", "new_", "clone_", "channel_", "into_", "fmt_", "get"]
        );
    }

    #[test]
    fn rpcs_that_meet_in_snake_case_are_told_apart_in_order() {
        // `GetUser`, `get_user` and `getUser_` all become prost's `get_user` or `get_user_`.
        let n = names(
            &mut Scope::default(),
            "S",
            &["get_user", "get_user", "get_user_", "clone_", "clone"],
        );
        assert_eq!(
            n.methods,
            ["get_user", "get_user_", "get_user__", "clone_", "clone__"]
        );
    }

    #[test]
    fn generated_types_yield_to_messages_and_to_other_services() {
        let prost = "pub struct FooClient {\n}\npub mod foo_client {\n    pub struct Inner {}\n}\n\
                     pub enum BarServer {\n}\npub struct FooBar {\n}\n";
        let mut scope = Scope::of_module(prost);
        let all = name_services(
            &mut scope,
            [
                ("Foo", vec![]),
                ("Bar", vec![]),
                // `service foo_bar` beside `message FooBar`; and a service named like the
                // client another service would get.
                ("FooBar", vec![]),
                ("BarClient", vec![]),
            ],
        );
        let got: Vec<_> = all
            .iter()
            .map(|n| (n.service.as_str(), n.server.as_str(), n.client.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Foo", "FooServer", "FooClient_"),
                ("Bar", "BarServer_", "BarClient_"),
                ("FooBar_", "FooBarServer", "FooBarClient"),
                ("BarClient", "BarClientServer", "BarClientClient"),
            ]
        );
    }

    #[test]
    fn module_scan_sees_top_level_items_only() {
        let scope = Scope::of_module(
            "/// doc\npub struct A {\n    pub b: i32,\n}\npub mod r#type {\n    pub enum C {}\n}\n\
             pub enum D {\n}\nimpl A {}\npub trait E<T> {}\n",
        );
        for name in ["A", "type", "r#type", "D", "E"] {
            assert!(scope.contains(name), "{name}");
        }
        for name in ["b", "C", "i32"] {
            assert!(!scope.contains(name), "{name}");
        }
    }

    #[test]
    fn escaped_raw_identifiers_drop_the_prefix() {
        let mut scope = Scope::default();
        scope.take("type");
        assert_eq!(scope.claim("r#type"), "type_");
    }
}
