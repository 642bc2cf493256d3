//! Serves the UserService: `user-server [--addr 127.0.0.1:50051]`. Stops on Ctrl-C. Native
//! gRPC, gRPC-Web (HTTP/2 and HTTP/1.1, pages of any origin), the Connect protocol and the
//! REST mapping of user.proto (`curl http://ADDR/v1/users/1`) on the same port.

use user_service::pb::UserServiceServer;
use user_service::Users;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = user_service::arg("addr").unwrap_or_else(|| "127.0.0.1:50051".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("UserService listening on {}", listener.local_addr()?);
    wirecall::Server::builder()
        .add_service(UserServiceServer::new(Users::new()))
        .add_health(&wirecall::health::HealthReporter::new())
        .add_reflection()
        .accept_grpc_web(wirecall::web::Cors::any_origin())
        .accept_connect()
        .accept_rest()
        .serve_with_listener(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
