//! Calls every method of the `order.OrderService` at `--addr HOST:PORT` (default
//! 127.0.0.1:50051) with the article's retry service config, checks every answer and prints
//! it. Expects a freshly started server.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let target = example_support::cli::client_target();
    example_support::steps::report(order_service::walkthrough::run(&target).await)
}
