//! The users' `user.UserService` (`proto/user.proto`, completed as its article implies) on
//! wirecall: the service ([`Users`], in memory), its server ([`server`]: native gRPC,
//! gRPC-Web, Connect and the REST mapping on one port) and a client that calls every method
//! and checks every answer ([`walkthrough`]). `examples/README.md` says what each does.

pub mod walkthrough;

mod users;

pub use users::{Users, DOMAIN};

use example_support::EchoMetadata;
use wirecall::server::ServerBuilder;

/// The generated code for `package user;`.
#[allow(missing_docs)]
pub mod pb {
    wirecall::include_proto!("user");
}

/// The UserService with the metadata echo, health and reflection, answering native gRPC,
/// gRPC-Web (pages of any origin), the Connect protocol and the REST mapping of user.proto
/// (`curl http://ADDR/v1/users/1`).
pub fn server(users: Users) -> ServerBuilder {
    wirecall::Server::builder()
        .interceptor(EchoMetadata)
        .add_service(pb::UserServiceServer::new(users))
        .add_health(&wirecall::health::HealthReporter::new())
        .add_reflection()
        .accept_grpc_web(wirecall::web::Cors::any_origin())
        .accept_connect()
        .accept_rest()
}
