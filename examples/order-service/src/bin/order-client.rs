//! Calls every OrderService method of a fresh server and prints what came back:
//! `order-client [--addr http://127.0.0.1:50052]`. Exits 1 on the first wrong answer.

#[tokio::main]
async fn main() {
    let addr = order_service::arg("addr").unwrap_or_else(|| "http://127.0.0.1:50052".into());
    match order_service::walkthrough::run(&addr).await {
        Ok(steps) => {
            for step in steps {
                println!("{:<22} {}", step.name, step.got);
            }
        }
        Err(mismatch) => {
            eprintln!("order-client: {mismatch}");
            std::process::exit(1);
        }
    }
}
