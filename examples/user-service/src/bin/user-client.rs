//! Calls every UserService method and prints what came back:
//! `user-client [--addr http://127.0.0.1:50051]`. Expects a freshly started server.

use user_service::pb::UserServiceClient;

#[tokio::main]
async fn main() {
    let addr = user_service::arg("addr").unwrap_or_else(|| "http://127.0.0.1:50051".into());
    let client = match UserServiceClient::connect(&addr).await {
        Ok(client) => client,
        Err(err) => {
            eprintln!("cannot reach the UserService at {addr}: {err}");
            std::process::exit(1);
        }
    };
    match user_service::walkthrough::run(&client).await {
        Ok(steps) => {
            for step in steps {
                println!("{:<38} {}", step.name, step.got);
            }
            println!("every UserService method answered as expected");
        }
        Err(mismatch) => {
            eprintln!("FAILED {mismatch}");
            std::process::exit(1);
        }
    }
}
