//! Calls the `math.Calculator` at `--addr HOST:PORT` (default 127.0.0.1:50051), checks
//! every answer and prints it.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let target = example_support::cli::client_target();
    example_support::steps::report(calculator::walkthrough::run(&target).await)
}
