//! Runs N unary calls (client and server in one process) so a heap profiler can count what
//! one call allocates: `valgrind --tool=dhat target/release/examples/unary_allocations 1000`
//! and again with 2000; the difference in blocks divided by 1000 is the per-call figure.

use wirecall::{Request, Response, Server, Status};
use wirecall_tests::greeter::{Greeter, GreeterClient, GreeterServer, HelloReply, HelloRequest};

struct Hello;

impl Greeter for Hello {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        Ok(Response::new(HelloReply {
            message: req.into_inner().name,
        }))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = Server::builder().add_service(GreeterServer::new(Hello));
        tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
        let client = GreeterClient::connect(format!("http://{addr}")).await?;
        for _ in 0..calls {
            let reply = client
                .say_hello(HelloRequest {
                    name: "a-short-name".into(),
                })
                .await?;
            assert_eq!(reply.get_ref().message, "a-short-name");
        }
        Ok(())
    })
}
