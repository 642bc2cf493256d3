//! Serves the users' `user.UserService`: `user-server [--addr 127.0.0.1:50051]`. Prints
//! `user.UserService listening on HOST:PORT` once it accepts connections; stops on SIGTERM or
//! Ctrl-C. Native gRPC, gRPC-Web, Connect and REST (`curl http://ADDR/v1/users/1`) on the
//! same port.

use user_service::{server, Users};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    example_support::serve(server(Users::new()), "user.UserService").await
}
