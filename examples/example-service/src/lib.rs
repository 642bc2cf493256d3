//! The users' four-pattern `Example` service (`proto/example.proto`, completed with its two
//! messages) on wirecall: the service ([`Example`]), its server ([`server`]) and a client that
//! calls every method and checks every answer ([`walkthrough`]). `examples/README.md` says
//! what each does.

pub mod walkthrough;

use example_support::EchoMetadata;
use wirecall::message_stream::{self, MessageStreamExt};
use wirecall::server::ServerBuilder;
use wirecall::{Request, Response, Status, Stream, Streaming};

/// The generated code for `example.proto`, which has no package (prost names its file `_`).
#[allow(missing_docs)]
pub mod pb {
    wirecall::include_proto!("_");
}

use pb::{Req, Resp};

/// How many answers `ServerStream` sends when the request says 0.
pub const DEFAULT_COUNT: i32 = 3;
/// The most answers `ServerStream` sends.
pub const MAX_COUNT: i32 = 100;

/// The four patterns, each answering with what it was sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct Example;

impl pb::Example for Example {
    async fn unary(&self, request: Request<Req>) -> Result<Response<Resp>, Status> {
        let message = &request.get_ref().message;
        if message.is_empty() {
            return Err(Status::invalid_argument("message is required"));
        }
        Ok(Response::new(Resp {
            message: format!("unary: {message}"),
            index: 1,
        }))
    }

    async fn server_stream(
        &self,
        request: Request<Req>,
    ) -> Result<Response<impl Stream<Item = Result<Resp, Status>> + Send + 'static>, Status> {
        let Req { message, count } = request.into_inner();
        let count = match count {
            0 => DEFAULT_COUNT,
            1..=MAX_COUNT => count,
            _ => {
                return Err(Status::invalid_argument(format!(
                    "count must be 0 to {MAX_COUNT}, not {count}"
                )))
            }
        };
        let answers = (1..=count).map(move |index| {
            Ok(Resp {
                message: format!("stream: {message}"),
                index,
            })
        });
        Ok(Response::new(message_stream::iter(answers)))
    }

    async fn client_stream(
        &self,
        request: Request<Streaming<Req>>,
    ) -> Result<Response<Resp>, Status> {
        let mut stream = request.into_inner();
        let mut messages = Vec::new();
        while let Some(req) = stream.message().await? {
            messages.push(req.message);
        }
        Ok(Response::new(Resp {
            index: i32::try_from(messages.len()).unwrap_or(i32::MAX),
            message: messages.join(","),
        }))
    }

    async fn bidirectional(
        &self,
        request: Request<Streaming<Req>>,
    ) -> Result<Response<impl Stream<Item = Result<Resp, Status>> + Send + 'static>, Status> {
        let mut index = 0;
        let answers = request.into_inner().map(move |req| {
            index += 1;
            Resp {
                message: format!("bidi: {}", req.message),
                index,
            }
        });
        Ok(Response::new(answers))
    }
}

/// The Example service with the metadata echo, health and reflection.
pub fn server() -> ServerBuilder {
    wirecall::Server::builder()
        .interceptor(EchoMetadata)
        .add_service(pb::ExampleServer::new(Example))
        .add_health(&wirecall::health::HealthReporter::new())
        .add_reflection()
}
