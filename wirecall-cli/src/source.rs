//! Where descriptors come from: the server's reflection service (v1, falling back to
//! v1alpha), or `.proto` files compiled here with protox, or encoded descriptor sets.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use prost::Message;
use prost_reflect::DescriptorPool;
use prost_types::FileDescriptorProto;
use wirecall::codegen::PathAndQuery;
use wirecall::reflection::proto::{
    MessageRequest, MessageResponse, ServerReflectionRequest, ServerReflectionResponse,
};
use wirecall::{message_stream, Channel, Code};

use crate::connect::ConnectOptions;
use crate::Failure;

/// Where the workspace keeps the `.proto` files wirecall-build bundles (the
/// `google.api.http` option), searched after the user's import paths.
const BUNDLED_PROTOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../wirecall-build/proto");

/// Where to read services and types from, instead of the server's reflection.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SourceOptions {
    /// A `.proto` file that describes the service (repeatable); no reflection is used.
    #[arg(long = "proto", value_name = "FILE", global = true)]
    pub(crate) protos: Vec<PathBuf>,
    /// Where imports of --proto files are looked up (repeatable; default: each file's
    /// directory). The well-known `google/protobuf` types are always there.
    #[arg(short = 'I', long = "import-path", value_name = "DIR", global = true)]
    pub(crate) import_paths: Vec<PathBuf>,
    /// An encoded FileDescriptorSet (e.g. what wirecall-build or `protoc -o` writes;
    /// repeatable); no reflection is used.
    #[arg(long = "protoset", value_name = "FILE", global = true)]
    pub(crate) protosets: Vec<PathBuf>,
}

/// A source of descriptors.
#[derive(Debug)]
pub(crate) enum Source {
    /// Everything known up front.
    Files(DescriptorPool),
    /// Asked of the server as needed.
    Reflection(Reflection),
}

impl Source {
    /// Files when `--proto`/`--protoset` are given, else reflection over `channel`.
    pub(crate) fn new(
        options: &SourceOptions,
        channel: &Channel,
        connect: &ConnectOptions,
    ) -> Result<Source, Failure> {
        if options.protos.is_empty() && options.protosets.is_empty() {
            return Ok(Source::Reflection(Reflection::new(
                channel.clone(),
                connect.clone(),
            )));
        }
        let mut pool = DescriptorPool::new();
        for path in &options.protosets {
            let bytes = std::fs::read(path)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
            pool.decode_file_descriptor_set(bytes.as_slice())
                .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        }
        if !options.protos.is_empty() {
            let mut includes = options.import_paths.clone();
            if includes.is_empty() {
                for proto in &options.protos {
                    let dir = proto.parent().map(PathBuf::from).unwrap_or_default();
                    let dir = if dir.as_os_str().is_empty() {
                        PathBuf::from(".")
                    } else {
                        dir
                    };
                    if !includes.contains(&dir) {
                        includes.push(dir);
                    }
                }
            }
            // Last: wirecall-build's `google/api/annotations.proto` and `http.proto`, which
            // protos with HTTP rules import (as the generated code's build found them).
            let bundled = Path::new(BUNDLED_PROTOS);
            if bundled.is_dir() {
                includes.push(bundled.to_path_buf());
            }
            let files = protox::compile(&options.protos, &includes)
                .map_err(|e| Failure::usage(format!("cannot compile the .proto files: {e}")))?;
            pool.add_file_descriptor_set(files)
                .map_err(|e| Failure::usage(format!("the .proto files: {e}")))?;
        }
        Ok(Source::Files(pool))
    }

    /// The fully qualified names of the services, sorted.
    pub(crate) async fn services(&mut self) -> Result<Vec<String>, Failure> {
        let mut names = match self {
            Source::Files(pool) => pool.services().map(|s| s.full_name().to_owned()).collect(),
            Source::Reflection(reflection) => reflection.list_services().await?,
        };
        names.sort();
        Ok(names)
    }

    /// A pool that holds `symbol` (with everything it refers to), or `NotFound`.
    pub(crate) async fn pool_with(&mut self, symbol: &str) -> Result<DescriptorPool, Failure> {
        let symbol = symbol.trim_start_matches('.');
        match self {
            Source::Files(pool) => {
                if crate::describe::lookup(pool, symbol).is_some() {
                    Ok(pool.clone())
                } else {
                    Err(Failure::usage(format!(
                        "symbol {symbol:?} is not in the given files"
                    )))
                }
            }
            Source::Reflection(reflection) => reflection.pool_with(symbol).await,
        }
    }
}

/// Which reflection protocol the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V1Alpha,
}

impl Version {
    fn path(self) -> PathAndQuery {
        PathAndQuery::from_static(match self {
            Version::V1 => "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            Version::V1Alpha => "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        })
    }
}

/// A reflection client that fetches files as they are needed, into one pool.
#[derive(Debug)]
pub(crate) struct Reflection {
    channel: Channel,
    connect: ConnectOptions,
    version: Option<Version>,
    pool: DescriptorPool,
}

impl Reflection {
    fn new(channel: Channel, connect: ConnectOptions) -> Reflection {
        Reflection {
            channel,
            connect,
            version: None,
            pool: DescriptorPool::new(),
        }
    }

    /// Asks one question; tries v1, then v1alpha if the server has no v1.
    async fn ask(&mut self, question: MessageRequest) -> Result<MessageResponse, Failure> {
        let versions: &[Version] = match self.version {
            Some(Version::V1) => &[Version::V1],
            Some(Version::V1Alpha) => &[Version::V1Alpha],
            None => &[Version::V1, Version::V1Alpha],
        };
        let mut last = None;
        for &version in versions {
            match self.ask_with(version, question.clone()).await {
                Err(status) if status.code() == Code::Unimplemented => last = Some(status),
                Err(status) => return Err(Failure::reflection(status)),
                Ok(answer) => {
                    self.version = Some(version);
                    return answer.message_response.ok_or_else(|| {
                        Failure::other("the reflection service sent an empty answer")
                    });
                }
            }
        }
        let status = last.expect("at least one version was tried");
        Err(Failure::other(format!(
            "the server does not support reflection ({}); pass --proto files instead",
            status.message()
        )))
    }

    async fn ask_with(
        &self,
        version: Version,
        question: MessageRequest,
    ) -> Result<ServerReflectionResponse, wirecall::Status> {
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(question),
        };
        let request = self
            .connect
            .request(message_stream::iter([request]))
            .map_err(|f| wirecall::Status::invalid_argument(f.message))?;
        let mut answers = self
            .channel
            .streaming::<_, ServerReflectionResponse>(request, version.path())
            .await?
            .into_inner();
        answers.message().await?.ok_or_else(|| {
            wirecall::Status::internal("the reflection stream ended without an answer")
        })
    }

    async fn list_services(&mut self) -> Result<Vec<String>, Failure> {
        match self
            .ask(MessageRequest::ListServices(String::new()))
            .await?
        {
            MessageResponse::ListServicesResponse(list) => {
                Ok(list.service.into_iter().map(|s| s.name).collect())
            }
            other => Err(unexpected(other)),
        }
    }

    /// Fetches the file that defines `symbol` and every file it needs, into the pool.
    async fn pool_with(&mut self, symbol: &str) -> Result<DescriptorPool, Failure> {
        if crate::describe::lookup(&self.pool, symbol).is_some() {
            return Ok(self.pool.clone());
        }
        let first = self
            .ask(MessageRequest::FileContainingSymbol(symbol.to_owned()))
            .await?;
        let mut files = files_of(first, symbol)?;
        let mut have: HashSet<String> = files.iter().map(|f| f.name().to_owned()).collect();
        have.extend(self.pool.files().map(|f| f.name().to_owned()));
        // Servers may leave out imports they sent before or never had: ask for each.
        let mut i = 0;
        while i < files.len() {
            for dependency in files[i].dependency.clone() {
                if have.insert(dependency.clone()) {
                    let fetched = match self
                        .ask(MessageRequest::FileByFilename(dependency.clone()))
                        .await?
                    {
                        MessageResponse::ErrorResponse(_) => well_known(&dependency)?,
                        answer => files_of(answer, &dependency)?,
                    };
                    for file in fetched {
                        have.insert(file.name().to_owned());
                        files.push(file);
                    }
                }
            }
            i += 1;
        }
        let fresh: Vec<FileDescriptorProto> = files
            .into_iter()
            .filter(|f| self.pool.get_file_by_name(f.name()).is_none())
            .collect();
        self.pool.add_file_descriptor_protos(fresh).map_err(|e| {
            Failure::other(format!("the server's descriptors do not fit together: {e}"))
        })?;
        Ok(self.pool.clone())
    }
}

/// The files of a file answer; `NotFound` for an error answer about `what`.
fn files_of(answer: MessageResponse, what: &str) -> Result<Vec<FileDescriptorProto>, Failure> {
    match answer {
        MessageResponse::FileDescriptorResponse(files) => files
            .file_descriptor_proto
            .iter()
            .map(|bytes| {
                FileDescriptorProto::decode(bytes.as_slice()).map_err(|e| {
                    Failure::other(format!("a descriptor from the server does not decode: {e}"))
                })
            })
            .collect(),
        MessageResponse::ErrorResponse(error) => Err(Failure::not_found(format!(
            "{what:?}: {}",
            error.error_message
        ))),
        other => Err(unexpected(other)),
    }
}

/// A `google/protobuf/*.proto` file the server did not send, from protox's copies.
fn well_known(name: &str) -> Result<Vec<FileDescriptorProto>, Failure> {
    let missing = || {
        Failure::other(format!(
            "the server cannot send {name:?}, which its files import"
        ))
    };
    if !name.starts_with("google/protobuf/") {
        return Err(missing());
    }
    let mut compiler =
        protox::Compiler::with_file_resolver(protox::file::GoogleFileResolver::new());
    compiler.include_imports(true);
    compiler.open_file(name).map_err(|_| missing())?;
    Ok(compiler.file_descriptor_set().file)
}

fn unexpected(answer: MessageResponse) -> Failure {
    match answer {
        MessageResponse::ErrorResponse(error) => Failure::not_found(error.error_message),
        other => Failure::other(format!(
            "the reflection service answered something else: {other:?}"
        )),
    }
}
