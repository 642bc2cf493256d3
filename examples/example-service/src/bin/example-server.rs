//! Serves the users' `Example` service: `example-server [--addr 127.0.0.1:50051]`. Prints
//! `Example listening on HOST:PORT` once it accepts connections; stops on SIGTERM or Ctrl-C.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    example_support::serve(example_service::server(), "Example").await
}
