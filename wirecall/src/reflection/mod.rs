//! Server reflection, `grpc.reflection.v1` and `grpc.reflection.v1alpha` (older grpcurl,
//! Postman and many clients still ask the latter): what a server serves, as protobuf
//! descriptors, so that tools call it with no stubs and no `.proto` files.
//!
//! [`ServerBuilder::add_reflection`](crate::server::ServerBuilder::add_reflection) turns
//! it on. The descriptors come from the services themselves: generated code carries the
//! `FileDescriptorSet` that `wirecall-build` compiled ([`Service::DESCRIPTOR_SET`]), so
//! there is nothing else to set up; the health and reflection services bring their own.
//! Feature `reflection`, in the default set.
//!
//! ```no_run
//! # async fn f<S: wirecall::server::Service>(users: S) -> Result<(), wirecall::Error> {
//! wirecall::Server::builder()
//!     .add_service(users)
//!     .add_reflection()
//!     .serve("127.0.0.1:50051".parse().unwrap())
//!     .await
//! # }
//! ```
//!
//! What is answered: the services served (`list_services`); a file by name, and the file
//! defining a symbol (package, service, method, message, field, oneof, enum, enum value,
//! extension) or an extension, each with the files it imports that the stream has not sent
//! yet; the extension numbers of a message type. A question without an answer gets an
//! `error_response` with `NOT_FOUND` (or `INVALID_ARGUMENT` for an empty question) and the
//! stream goes on.

mod index;
pub mod proto;

use std::collections::HashSet;
use std::sync::Arc;

use index::DescriptorIndex;
use proto::{
    ErrorResponse, ExtensionNumberResponse, FileDescriptorResponse, ListServiceResponse,
    MessageRequest, MessageResponse, ServerReflectionRequest, ServerReflectionResponse,
    ServiceResponse,
};

use crate::descriptors::BUILTIN as BUILTIN_DESCRIPTOR_SET;
use crate::server::{ServerCall, Service};
use crate::status::Code;
use crate::{message_stream, Request, Response, Status, Streaming};

/// What reflection knows: the descriptor index and the names of the services served.
#[derive(Debug)]
struct Catalog {
    index: DescriptorIndex,
    services: Vec<String>,
}

/// The reflection services' shared state; clones share it.
#[derive(Debug, Clone)]
pub struct Reflection {
    catalog: Arc<Catalog>,
}

impl Reflection {
    /// Reflection over `services` (fully qualified names), described by the encoded
    /// `FileDescriptorSet`s `descriptor_sets` (wirecall's own services are always known).
    /// A set that does not decode is logged and skipped.
    pub fn new<'a>(
        services: impl IntoIterator<Item = impl Into<String>>,
        descriptor_sets: impl IntoIterator<Item = &'a [u8]>,
    ) -> Reflection {
        let mut index = DescriptorIndex::default();
        for set in descriptor_sets
            .into_iter()
            .chain(std::iter::once(BUILTIN_DESCRIPTOR_SET))
        {
            if let Err(error) = index.add_set(set) {
                tracing::warn!(%error, "reflection: a FileDescriptorSet does not decode; skipped");
            }
        }
        let mut services: Vec<String> = services.into_iter().map(Into::into).collect();
        services.sort_unstable();
        services.dedup();
        for service in &services {
            if index.file_of_symbol(service).is_none() {
                tracing::warn!(
                    service = %service,
                    "reflection: no descriptor describes this service; clients can list it but not describe it"
                );
            }
        }
        Reflection {
            catalog: Arc::new(Catalog { index, services }),
        }
    }

    /// The `grpc.reflection.v1.ServerReflection` service.
    pub fn v1(&self) -> ReflectionV1 {
        ReflectionV1(self.clone())
    }

    /// The `grpc.reflection.v1alpha.ServerReflection` service.
    pub fn v1alpha(&self) -> ReflectionV1Alpha {
        ReflectionV1Alpha(self.clone())
    }

    /// Answers each question of the stream in order, until the client ends it.
    fn info(
        &self,
        request: Request<Streaming<ServerReflectionRequest>>,
    ) -> Response<impl futures_core::Stream<Item = Result<ServerReflectionResponse, Status>>> {
        let catalog = self.catalog.clone();
        let mut questions = request.into_inner();
        let (tx, rx) = message_stream::channel(4);
        tokio::spawn(async move {
            // The files this stream has sent: imports are sent once a stream.
            let mut sent = HashSet::new();
            loop {
                let answer = match questions.message().await {
                    Ok(Some(question)) => answer(&catalog, question, &mut sent),
                    Ok(None) => return,
                    Err(status) => Err(status),
                };
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    return;
                }
            }
        });
        Response::new(rx)
    }
}

/// The answer to one question.
fn answer(
    catalog: &Catalog,
    question: ServerReflectionRequest,
    sent: &mut HashSet<String>,
) -> Result<ServerReflectionResponse, Status> {
    let index = &catalog.index;
    let files = |name: Option<&str>, sent: &mut HashSet<String>| match name {
        Some(name) => Ok(MessageResponse::FileDescriptorResponse(
            FileDescriptorResponse {
                file_descriptor_proto: index.file_with_imports(name, sent),
            },
        )),
        None => Err(()),
    };
    let response = match &question.message_request {
        None => {
            return Err(Status::invalid_argument(
                "reflection request sets none of its questions",
            ))
        }
        Some(MessageRequest::ListServices(_)) => {
            Ok(MessageResponse::ListServicesResponse(ListServiceResponse {
                service: catalog
                    .services
                    .iter()
                    .map(|name| ServiceResponse { name: name.clone() })
                    .collect(),
            }))
        }
        Some(MessageRequest::FileByFilename(name)) => {
            let known = index.has_file(name).then_some(name.as_str());
            files(known, sent).map_err(|()| format!("file {name:?} not found"))
        }
        Some(MessageRequest::FileContainingSymbol(symbol)) => {
            files(index.file_of_symbol(symbol), sent)
                .map_err(|()| format!("symbol {symbol:?} not found"))
        }
        Some(MessageRequest::FileContainingExtension(extension)) => files(
            index.file_of_extension(&extension.containing_type, extension.extension_number),
            sent,
        )
        .map_err(|()| {
            format!(
                "extension {} of {:?} not found",
                extension.extension_number, extension.containing_type
            )
        }),
        Some(MessageRequest::AllExtensionNumbersOfType(ty)) => {
            if index.file_of_symbol(ty).is_some() {
                Ok(MessageResponse::AllExtensionNumbersResponse(
                    ExtensionNumberResponse {
                        base_type_name: ty.strip_prefix('.').unwrap_or(ty).to_owned(),
                        extension_number: index.extension_numbers(ty),
                    },
                ))
            } else {
                Err(format!("type {ty:?} not found"))
            }
        }
    };
    let message_response = response.unwrap_or_else(|message| {
        tracing::debug!(%message, "reflection: no answer");
        MessageResponse::ErrorResponse(ErrorResponse {
            error_code: Code::NotFound as i32,
            error_message: message,
        })
    });
    Ok(ServerReflectionResponse {
        valid_host: question.host.clone(),
        original_request: Some(question),
        message_response: Some(message_response),
    })
}

/// `grpc.reflection.v1.ServerReflection`.
#[derive(Debug, Clone)]
pub struct ReflectionV1(Reflection);

/// `grpc.reflection.v1alpha.ServerReflection`: the same messages under the older name.
#[derive(Debug, Clone)]
pub struct ReflectionV1Alpha(Reflection);

/// Both versions: the same method on the same shared state.
macro_rules! reflection_service {
    ($ty:ident, $name:literal) => {
        impl Service for $ty {
            const NAME: &'static str = $name;
            const METHODS: &'static [&'static str] = &["ServerReflectionInfo"];
            const DESCRIPTOR_SET: &'static [u8] = BUILTIN_DESCRIPTOR_SET;

            async fn call(self: Arc<Self>, method: usize, call: ServerCall) {
                if method == 0 {
                    call.streaming(|request| async move { Ok(self.0.info(request)) })
                        .await
                }
            }
        }
    };
}

reflection_service!(ReflectionV1, "grpc.reflection.v1.ServerReflection");
reflection_service!(
    ReflectionV1Alpha,
    "grpc.reflection.v1alpha.ServerReflection"
);

impl crate::server::ServerBuilder {
    /// Serves server reflection, `grpc.reflection.v1` and `v1alpha`, describing every
    /// service of this server (added before or after this call) from the descriptors its
    /// generated code carries; see [`crate::reflection`]. Feature `reflection` (default).
    pub fn add_reflection(self) -> Self {
        self.finish_router_with(with_reflection)
    }
}

/// `router` with the reflection services added, describing every service it routes to
/// (the reflection services included).
fn with_reflection(mut router: crate::server::router::Router) -> crate::server::router::Router {
    let names = router
        .service_names()
        .chain([ReflectionV1::NAME, ReflectionV1Alpha::NAME]);
    let reflection = Reflection::new(names, router.descriptor_sets().iter().copied());
    router.add(reflection.v1());
    router.add(reflection.v1alpha());
    router
}
