//! Writes the Rust code for one protobuf service: the trait users implement, the server
//! type that routes calls to it, and the client.

use std::fmt::Write;

use prost_build::{Method, Service};

use crate::names::{self, Scope, ServiceNames};

/// Collects a package's services as prost meets them and writes them when the package is
/// complete, when every name of the module is known (see [`names`]).
pub(crate) struct Generator {
    pub(crate) server: bool,
    pub(crate) client: bool,
    pub(crate) pending: Vec<Service>,
}

impl prost_build::ServiceGenerator for Generator {
    fn generate(&mut self, service: Service, _buf: &mut String) {
        self.pending.push(service);
    }

    /// Called after each file prost wrote: prost's modules of nested types get the lint
    /// levels its types get through `type_attribute` (a module named like its package's
    /// last part is clippy's `module_inception`).
    fn finalize(&mut self, buf: &mut String) {
        allow_in_nested_modules(buf);
    }

    fn finalize_package(&mut self, package: &str, buf: &mut String) {
        let (services, rest) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|s| s.package == package);
        self.pending = rest;
        let services: Vec<Service> = services;
        let mut scope = Scope::of_module(buf);
        let names = names::name_services(
            &mut scope,
            services.iter().map(|s| {
                let methods = s.methods.iter().map(|m| m.name.as_str()).collect();
                (s.name.as_str(), methods)
            }),
        );
        for (service, names) in services.iter().zip(&names) {
            if self.server {
                write_trait(service, names, buf);
                write_server(service, names, buf);
            }
            if self.client {
                write_client(service, names, buf);
            }
        }
    }
}

/// Puts [`ALLOW`] before every top-level `pub mod` of `buf` that does not have it yet (the
/// buffer grows file by file, so earlier modules already have it).
fn allow_in_nested_modules(buf: &mut String) {
    if !buf.lines().any(|l| l.starts_with("pub mod ")) {
        return;
    }
    let mut out = String::with_capacity(buf.len() + 64);
    let mut previous = "";
    for line in buf.lines() {
        if line.starts_with("pub mod ") && previous != ALLOW {
            out.push_str(ALLOW);
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
        previous = line;
    }
    *buf = out;
}

fn full_name(service: &Service) -> String {
    if service.package.is_empty() {
        service.proto_name.clone()
    } else {
        format!("{}.{}", service.package, service.proto_name)
    }
}

fn response_type(method: &Method) -> String {
    if method.server_streaming {
        format!(
            "impl ::wirecall::codegen::Stream<Item = ::core::result::Result<{}, ::wirecall::Status>> + ::core::marker::Send + 'static",
            method.output_type
        )
    } else {
        method.output_type.clone()
    }
}

fn request_type(method: &Method) -> String {
    if method.client_streaming {
        format!("::wirecall::Streaming<{}>", method.input_type)
    } else {
        method.input_type.clone()
    }
}

fn pattern(method: &Method) -> &'static str {
    match (method.client_streaming, method.server_streaming) {
        (false, false) => "unary",
        (false, true) => "server_streaming",
        (true, false) => "client_streaming",
        (true, true) => "streaming",
    }
}

/// The lint levels of every generated item (see the crate docs, "Names"): generated items
/// are public for the user's crate to use, and a crate uses what it needs (a client-only
/// crate never builds the server); and clippy's advice is for code people write, not for
/// code written from a contract (the proto's comments become doc comments as they are, a
/// oneof's cases are as large as the contract makes them).
pub(crate) const ALLOW: &str = "#[allow(dead_code, clippy::all)]";

fn write_trait(service: &Service, names: &ServiceNames, buf: &mut String) {
    service.comments.append_with_indent(0, buf);
    if service.comments.leading.is_empty() {
        let _ = writeln!(
            buf,
            "/// The `{}` service, implemented by the server.",
            full_name(service)
        );
    }
    let _ = writeln!(
        buf,
        "{ALLOW}\npub trait {}: ::core::marker::Send + ::core::marker::Sync + 'static {{",
        names.service
    );
    for (method, name) in service.methods.iter().zip(&names.methods) {
        method.comments.append_with_indent(1, buf);
        if method.comments.leading.is_empty() {
            let _ = writeln!(buf, "    /// The `{}` RPC.", method.proto_name);
        }
        let _ = writeln!(
            buf,
            "    fn {name}(&self, request: ::wirecall::Request<{req}>) -> impl ::core::future::Future<Output = ::core::result::Result<::wirecall::Response<{resp}>, ::wirecall::Status>> + ::core::marker::Send;",
            req = request_type(method),
            resp = response_type(method),
        );
    }
    buf.push_str("}\n\n");
}

fn write_server(service: &Service, names: &ServiceNames, buf: &mut String) {
    let ServiceNames {
        service: trait_name,
        server,
        ..
    } = names;
    let full = full_name(service);
    let methods: Vec<String> = service
        .methods
        .iter()
        .map(|m| format!("{:?}", m.proto_name))
        .collect();
    let _ = write!(
        buf,
        r#"/// Serves a [`{trait_name}`] implementation: add it to a `wirecall::Server`.
{ALLOW}
pub struct {server}<T> {{
    inner: T,
}}

{ALLOW}
impl<T: {trait_name}> {server}<T> {{
    /// Wraps the implementation.
    pub fn new(inner: T) -> Self {{
        {server} {{ inner }}
    }}

    /// The wrapped implementation.
    pub fn get_ref(&self) -> &T {{
        &self.inner
    }}
}}

impl<T> ::core::fmt::Debug for {server}<T> {{
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{
        f.write_str("{server}")
    }}
}}

impl<T: {trait_name}> ::wirecall::server::Service for {server}<T> {{
    const NAME: &'static str = "{full}";
    const METHODS: &'static [&'static str] = &[{methods}];
    const DESCRIPTOR_SET: &'static [u8] = include_bytes!("{descriptor_set}");

    async fn call(self: ::std::sync::Arc<Self>, method: usize, call: ::wirecall::server::ServerCall) {{
"#,
        methods = methods.join(", "),
        descriptor_set = crate::DESCRIPTOR_SET_FILE,
    );
    if service.methods.is_empty() {
        // A service without RPCs is never called.
        buf.push_str("        let _ = (self, method, call);\n    }\n}\n\n");
        return;
    }
    buf.push_str("        match method {\n");
    for (i, (method, name)) in service.methods.iter().zip(&names.methods).enumerate() {
        // Called through the trait by its full path, so that a method of the same name on
        // the implementing type (or another trait of it) cannot be picked instead.
        let call = format!(
            "call.{pattern}(|request| <T as {trait_name}>::{name}(&self.inner, request))",
            pattern = pattern(method),
        );
        // A streaming call's state (streams, codecs, batching) is several times a unary
        // one's; boxed, it does not size the future of every call of the service.
        if pattern(method) == "unary" {
            let _ = writeln!(buf, "            {i} => {call}.await,");
        } else {
            let _ = writeln!(
                buf,
                "            {i} => ::std::boxed::Box::pin({call}).await,"
            );
        }
    }
    // The router passes only indices of METHODS; the last arm also keeps `call` used in a
    // service without RPCs.
    buf.push_str("            _ => ::core::mem::drop(call),\n        }\n    }\n}\n\n");
}

fn write_client(service: &Service, names: &ServiceNames, buf: &mut String) {
    let client = &names.client;
    let full = full_name(service);
    let _ = write!(
        buf,
        r#"/// A client for the `{full}` service. Cheap to clone: clones share one connection.
#[derive(Debug, Clone)]
{ALLOW}
pub struct {client} {{
    channel: ::wirecall::Channel,
}}

{ALLOW}
impl {client} {{
    /// A client over an existing channel.
    pub fn new(channel: ::wirecall::Channel) -> Self {{
        {client} {{ channel }}
    }}

    /// Connects to `target`, e.g. `http://127.0.0.1:50051`.
    pub async fn connect(target: impl ::core::convert::AsRef<str>) -> ::core::result::Result<Self, ::wirecall::Error> {{
        ::wirecall::Channel::connect(target).await.map(Self::new)
    }}

    /// The channel calls go through.
    pub fn channel(&self) -> &::wirecall::Channel {{
        &self.channel
    }}
"#
    );
    for (method, name) in service.methods.iter().zip(&names.methods) {
        buf.push('\n');
        method.comments.append_with_indent(1, buf);
        if method.comments.leading.is_empty() {
            let _ = writeln!(buf, "    /// Calls `{}`.", method.proto_name);
        }
        let path = format!("/{full}/{}", method.proto_name);
        let (param, bound) = if method.client_streaming {
            (
                "request: R".to_string(),
                format!(
                    "<R: ::wirecall::IntoStreamingRequest<Message = {}>>",
                    method.input_type
                ),
            )
        } else {
            (
                format!(
                    "request: impl ::wirecall::IntoRequest<{}>",
                    method.input_type
                ),
                String::new(),
            )
        };
        let output = if method.server_streaming {
            format!("::wirecall::Streaming<{}>", method.output_type)
        } else {
            method.output_type.clone()
        };
        let _ = write!(
            buf,
            r#"    pub async fn {name}{bound}(&self, {param}) -> ::core::result::Result<::wirecall::Response<{output}>, ::wirecall::Status> {{
        self.channel
            .{pattern}(request, ::wirecall::codegen::PathAndQuery::from_static("{path}"))
            .await
    }}
"#,
            pattern = pattern(method),
        );
    }
    buf.push_str("}\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_modules_get_the_lint_levels_once() {
        let mut buf =
            "pub struct A {}\n/// Nested in `A`.\npub mod a {\n    pub mod b {}\n}\n".to_string();
        allow_in_nested_modules(&mut buf);
        buf.push_str("pub mod c {\n}\n");
        allow_in_nested_modules(&mut buf);
        assert_eq!(
            buf,
            format!(
                "pub struct A {{}}\n/// Nested in `A`.\n{ALLOW}\npub mod a {{\n    pub mod b {{}}\n}}\n\
                 {ALLOW}\npub mod c {{\n}}\n"
            )
        );
    }
}
