//! Writes the Rust code for one protobuf service: the trait users implement, the server
//! type that routes calls to it, and the client.

use std::fmt::Write;

use prost_build::{Method, Service};

pub(crate) struct Generator {
    pub(crate) server: bool,
    pub(crate) client: bool,
}

impl prost_build::ServiceGenerator for Generator {
    fn generate(&mut self, service: Service, buf: &mut String) {
        if self.server {
            write_trait(&service, buf);
            write_server(&service, buf);
        }
        if self.client {
            write_client(&service, buf);
        }
    }
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

fn write_trait(service: &Service, buf: &mut String) {
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
        "pub trait {}: ::core::marker::Send + ::core::marker::Sync + 'static {{",
        service.name
    );
    for method in &service.methods {
        method.comments.append_with_indent(1, buf);
        let _ = writeln!(
            buf,
            "    fn {name}(&self, request: ::wirecall::Request<{req}>) -> impl ::core::future::Future<Output = ::core::result::Result<::wirecall::Response<{resp}>, ::wirecall::Status>> + ::core::marker::Send;",
            name = method.name,
            req = request_type(method),
            resp = response_type(method),
        );
    }
    buf.push_str("}\n\n");
}

fn write_server(service: &Service, buf: &mut String) {
    let name = &service.name;
    let full = full_name(service);
    let methods: Vec<String> = service
        .methods
        .iter()
        .map(|m| format!("{:?}", m.proto_name))
        .collect();
    let _ = write!(
        buf,
        r#"/// Serves a [`{name}`] implementation: add it to a `wirecall::Server`.
pub struct {name}Server<T> {{
    inner: T,
}}

impl<T: {name}> {name}Server<T> {{
    /// Wraps the implementation.
    pub fn new(inner: T) -> Self {{
        {name}Server {{ inner }}
    }}

    /// The wrapped implementation.
    pub fn get_ref(&self) -> &T {{
        &self.inner
    }}
}}

impl<T> ::core::fmt::Debug for {name}Server<T> {{
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{
        f.write_str("{name}Server")
    }}
}}

impl<T: {name}> ::wirecall::server::Service for {name}Server<T> {{
    const NAME: &'static str = "{full}";
    const METHODS: &'static [&'static str] = &[{methods}];
    const DESCRIPTOR_SET: &'static [u8] = include_bytes!("{descriptor_set}");

    async fn call(self: ::std::sync::Arc<Self>, method: usize, call: ::wirecall::server::ServerCall) {{
        match method {{
"#,
        methods = methods.join(", "),
        descriptor_set = crate::DESCRIPTOR_SET_FILE,
    );
    for (i, method) in service.methods.iter().enumerate() {
        // A streaming call's state (streams, codecs, batching) is several times a unary
        // one's; boxed, it does not size the future of every call of the service.
        let call = format!(
            "call.{pattern}(|request| self.inner.{m}(request))",
            pattern = pattern(method),
            m = method.name,
        );
        if pattern(method) == "unary" {
            let _ = writeln!(buf, "            {i} => {call}.await,");
        } else {
            let _ = writeln!(
                buf,
                "            {i} => ::std::boxed::Box::pin({call}).await,"
            );
        }
    }
    buf.push_str("            _ => {}\n        }\n    }\n}\n\n");
}

fn write_client(service: &Service, buf: &mut String) {
    let name = &service.name;
    let full = full_name(service);
    let _ = write!(
        buf,
        r#"/// A client for the `{full}` service. Cheap to clone: clones share one connection.
#[derive(Debug, Clone)]
pub struct {name}Client {{
    channel: ::wirecall::Channel,
}}

impl {name}Client {{
    /// A client over an existing channel.
    pub fn new(channel: ::wirecall::Channel) -> Self {{
        {name}Client {{ channel }}
    }}

    /// Connects to `target`, e.g. `http://127.0.0.1:50051`.
    pub async fn connect(target: impl AsRef<str>) -> ::core::result::Result<Self, ::wirecall::Error> {{
        ::wirecall::Channel::connect(target).await.map(Self::new)
    }}

    /// The channel calls go through.
    pub fn channel(&self) -> &::wirecall::Channel {{
        &self.channel
    }}
"#
    );
    for method in &service.methods {
        buf.push('\n');
        method.comments.append_with_indent(1, buf);
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
            r#"    pub async fn {m}{bound}(&self, {param}) -> ::core::result::Result<::wirecall::Response<{output}>, ::wirecall::Status> {{
        self.channel
            .{pattern}(request, ::wirecall::codegen::PathAndQuery::from_static("{path}"))
            .await
    }}
"#,
            m = method.name,
            pattern = pattern(method),
        );
    }
    buf.push_str("}\n\n");
}
