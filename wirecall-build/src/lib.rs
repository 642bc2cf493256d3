//! # wirecall-build
//!
//! Generates Rust code for `.proto` files from `build.rs`, with no `protoc` binary: `protox`
//! parses the files (imports and the well-known types included), `prost-build` writes the
//! messages, and this crate writes, for each service `Foo`, a server trait `Foo`, a
//! `FooServer<T>` to add to a `wirecall::Server`, and a `FooClient`.
//!
//! ```no_run
//! // build.rs
//! fn main() -> std::io::Result<()> {
//!     wirecall_build::compile_protos(&["proto/user.proto"], &["proto"])
//! }
//! ```
//!
//! Then `wirecall::include_proto!("user");` in the crate includes the package `user`.
//! Comments in the `.proto` files become doc comments.
//!
//! ## Names
//!
//! Every valid `.proto` file gives Rust that compiles without a warning, whatever its names.
//! The generated items stay flat in the package's module, beside prost's messages
//! (`pb::Greeter`, `pb::GreeterServer`, `pb::GreeterClient`): one `use` line imports a
//! service, and per-service modules would not remove clashes anyway (prost already writes a
//! module `foo_client` for the nested types of a `message FooClient`). Instead, one rule,
//! stable across versions, settles every clash:
//!
//! - **Start from prost's name**: `UpperCamel` for the trait (`service foo_bar` gives
//!   `FooBar`), `FooServer` and `FooClient` after it, `snake_case` for methods, Rust keywords
//!   as raw identifiers (`rpc Match` gives `r#match`) or with `_` where Rust has no raw form
//!   (`rpc Self` gives `self_`).
//! - **While the name is taken, append `_`.** Taken means: a type or module prost wrote in the
//!   package (messages and enums always keep their names), a generated name given earlier in
//!   the package (services in declaration order, each service's trait before any `FooServer` or
//!   `FooClient`), an earlier RPC of the same service with the same Rust name (`GetUser`,
//!   `get_user` and `getUser` give `get_user`, `get_user_`, `get_user__`), or a method name a
//!   client already answers to. Those are the client's own `new`, `connect` and `channel`,
//!   the reserved `into_channel`, `with_channel` and `with_interceptor`, and the methods of
//!   the traits a client has or may get (`clone`, `clone_from`, `clone_into`, `to_owned`,
//!   `fmt`, `into`, `try_into`, `from`, `try_from`, `borrow`, `borrow_mut`, `type_id`, `eq`,
//!   `ne`, `hash`, `default`, `drop`, `as_ref`, `as_mut`, `to_string`): so `rpc Connect`
//!   becomes `connect_` and `rpc Clone` becomes `clone_`, and `client.clone()` still clones.
//!   The server trait uses the same method names as the client.
//! - **Messages, enums, fields and oneof cases** that prost would give one Rust name (protoc
//!   accepts `message user_info` beside `message UserInfo`, and fields `name` and `Name` in
//!   proto2) are numbered in declaration order, the first keeping its name: `UserInfo`,
//!   `UserInfo2`, `UserInfo3`; fields `name`, `name2`. Only Rust names change: field numbers, the
//!   wire, JSON names and the descriptors served by reflection keep the proto's names.
//!
//! Generated items carry `#[allow(dead_code, clippy::all)]`: a crate that calls one RPC of a
//! service, or only serves it, does not warn about the rest of the contract it compiled, and
//! clippy's advice, meant for code people write, does not fire on code written from a
//! contract (proto comments that are not Markdown, a oneof case as large as the contract
//! makes it, a nested-type module named like its package).

mod names;
mod prost_names;
mod service;

use std::io;
use std::path::{Path, PathBuf};

/// The file name of the serialized `FileDescriptorSet` written next to the generated code.
pub const DESCRIPTOR_SET_FILE: &str = "wirecall_descriptor_set.bin";

/// The folder of the `.proto` files wirecall-build brings: `google/api/annotations.proto` and
/// `google/api/http.proto` (the `google.api.http` method option). It is searched after the
/// caller's includes; other tools compiling the same files (a peer's `protoc -I`) can use it.
pub const BUNDLED_PROTOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/proto");

/// Compiles `protos` (found under `includes`) with servers and clients, into `OUT_DIR`.
pub fn compile_protos(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> io::Result<()> {
    Builder::new().compile(protos, includes)
}

/// Code generation settings; [`compile_protos`] uses the defaults.
#[derive(Debug)]
pub struct Builder {
    server: bool,
    client: bool,
    out_dir: Option<PathBuf>,
    descriptor_set_out: Option<PathBuf>,
    prost: prost_build::Config,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

/// prost's settings for every build: messages a crate does not use are not its mistake, they
/// are part of the contract it compiled, so they do not warn.
fn prost_config() -> prost_build::Config {
    let mut config = prost_build::Config::new();
    config.type_attribute(".", service::ALLOW);
    config
}

impl Builder {
    /// Servers and clients, written to `OUT_DIR`.
    pub fn new() -> Self {
        Builder {
            server: true,
            client: true,
            out_dir: None,
            descriptor_set_out: None,
            prost: prost_config(),
        }
    }

    /// Whether to generate server traits and `FooServer` types (default on).
    pub fn build_server(mut self, yes: bool) -> Self {
        self.server = yes;
        self
    }

    /// Whether to generate `FooClient` types (default on).
    pub fn build_client(mut self, yes: bool) -> Self {
        self.client = yes;
        self
    }

    /// Writes the code to `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Adds an attribute to generated messages or enums matching `path` (prost-build's rules).
    pub fn type_attribute(mut self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.prost.type_attribute(path, attribute);
        self
    }

    /// Adds an attribute to generated fields matching `path` (prost-build's rules).
    pub fn field_attribute(mut self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.prost.field_attribute(path, attribute);
        self
    }

    /// Uses an existing Rust type for a protobuf package or type instead of generating it.
    pub fn extern_path(
        mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> Self {
        self.prost.extern_path(proto_path, rust_path);
        self
    }

    /// Also writes the serialized `FileDescriptorSet` (imports and comments included) to
    /// `path`, e.g. for a browser client: `@bufbuild/protobuf` builds its message types from
    /// it (`createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes))`), so no `protoc`
    /// plugin is needed there either. Parent directories are created.
    pub fn descriptor_set_out(mut self, path: impl Into<PathBuf>) -> Self {
        self.descriptor_set_out = Some(path.into());
        self
    }

    /// Direct access to the prost-build configuration for anything else.
    pub fn prost_config(&mut self) -> &mut prost_build::Config {
        &mut self.prost
    }

    /// Parses `protos` and writes one `<package>.rs` per protobuf package, plus
    /// [`DESCRIPTOR_SET_FILE`] with every file's descriptor (imports included).
    pub fn compile(
        mut self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> io::Result<()> {
        // After the caller's own: `google/api/annotations.proto` and `http.proto`, so that
        // methods can carry `google.api.http` rules without the caller vendoring them.
        let bundled = Path::new(BUNDLED_PROTOS);
        let includes = includes.iter().map(AsRef::as_ref).chain([bundled]);
        let mut compiler =
            protox::Compiler::new(includes).map_err(|e| io::Error::other(format!("{e:?}")))?;
        compiler.include_imports(true).include_source_info(true);
        compiler
            .open_files(protos.iter().map(AsRef::as_ref))
            .map_err(|e| io::Error::other(format!("{e:?}")))?;

        let in_build_script = std::env::var_os("CARGO_MANIFEST_DIR").is_some()
            && std::env::var_os("OUT_DIR").is_some();
        if in_build_script {
            for file in compiler.files() {
                if let Some(path) = file.path() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }

        let out_dir = match self.out_dir.clone() {
            Some(dir) => dir,
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    io::Error::other("OUT_DIR is not set: call from build.rs or set out_dir")
                })?,
        };
        std::fs::create_dir_all(&out_dir)?;
        let descriptors = compiler.encode_file_descriptor_set();
        std::fs::write(out_dir.join(DESCRIPTOR_SET_FILE), &descriptors)?;
        if let Some(path) = &self.descriptor_set_out {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, &descriptors)?;
        }

        self.prost
            .out_dir(&out_dir)
            .service_generator(Box::new(service::Generator {
                server: self.server,
                client: self.client,
                pending: Vec::new(),
            }));
        // prost reads a copy whose clashing names are made unique; the descriptor set
        // written above keeps the proto names.
        let mut for_prost = compiler.file_descriptor_set();
        prost_names::make_unique(&mut for_prost);
        self.prost.compile_fds(for_prost)
    }
}
