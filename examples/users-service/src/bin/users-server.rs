//! Serves the users' `users.UserService`: `users-server [--addr 127.0.0.1:50051]`. Prints
//! `users.UserService listening on HOST:PORT` once it accepts connections; stops on SIGTERM or
//! Ctrl-C.

use users_service::{server, Directory};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    example_support::serve(server(Directory::new()), "users.UserService").await
}
