//! The users' `math.Calculator` (`proto/math.proto`, exactly as they wrote it) on wirecall:
//! the service ([`Calculator`]), its server ([`server`]) and a client that calls it and
//! checks every answer ([`walkthrough`]). `examples/README.md` says what each does.

pub mod walkthrough;

use example_support::EchoMetadata;
use wirecall::server::ServerBuilder;
use wirecall::{Request, Response, Status};

/// The generated code for `package math;`.
#[allow(missing_docs)]
pub mod pb {
    wirecall::include_proto!("math");
}

use pb::{AddRequest, AddResponse};

/// The calculator: adds two `int32`s, refusing a sum that does not fit one.
#[derive(Debug, Default, Clone, Copy)]
pub struct Calculator;

impl pb::Calculator for Calculator {
    async fn add(&self, request: Request<AddRequest>) -> Result<Response<AddResponse>, Status> {
        let AddRequest { a, b } = *request.get_ref();
        let result = a.checked_add(b).ok_or_else(|| {
            Status::invalid_argument(format!("{a} + {b} does not fit in an int32"))
        })?;
        Ok(Response::new(AddResponse { result }))
    }
}

/// The Calculator with the metadata echo, health and reflection.
pub fn server() -> ServerBuilder {
    wirecall::Server::builder()
        .interceptor(EchoMetadata)
        .add_service(pb::CalculatorServer::new(Calculator))
        .add_health(&wirecall::health::HealthReporter::new())
        .add_reflection()
}
