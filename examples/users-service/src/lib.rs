//! The users' `users.UserService` (`proto/user_service.proto`, with the import it lacked and
//! two added methods) on wirecall: the service ([`Directory`], in memory, with watchers), its
//! server ([`server`]) and a client that calls every method and checks every answer
//! ([`walkthrough`]). `examples/README.md` says what each does.

pub mod walkthrough;

mod directory;

pub use directory::{Directory, HEARTBEAT};

use example_support::EchoMetadata;
use wirecall::server::ServerBuilder;

/// The generated code for `package users;`.
#[allow(missing_docs)]
pub mod pb {
    wirecall::include_proto!("users");
}

/// How long a stopping server lets calls finish: watches never end by themselves, so they
/// get two seconds, then their connections close.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The UserService with the metadata echo, health and reflection.
pub fn server(directory: Directory) -> ServerBuilder {
    wirecall::Server::builder()
        .shutdown_grace(SHUTDOWN_GRACE)
        .interceptor(EchoMetadata)
        .add_service(pb::UserServiceServer::new(directory))
        .add_health(&wirecall::health::HealthReporter::new())
        .add_reflection()
}
