//! Generated code for the test protos, shared by the tests in `tests/`.
//!
//! The crate docs of `wirecall` show the quick start; it runs here as a doctest, since this
//! crate has the build script that generates `greeter.proto`'s code:
//!
//! ```
//! mod pb { wirecall::include_proto!("greeter"); }
//! use pb::{Greeter, GreeterClient, GreeterServer, HelloReply, HelloRequest};
//! use wirecall::{Request, Response, Server, Status};
//!
//! struct MyGreeter;
//!
//! impl Greeter for MyGreeter {
//!     async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
//!         Ok(Response::new(HelloReply { message: format!("Hello {}", req.get_ref().name) }))
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = Server::builder().add_service(GreeterServer::new(MyGreeter));
//!     tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
//!
//!     let client = GreeterClient::connect(format!("http://{addr}")).await?;
//!     let reply = client.say_hello(HelloRequest { name: "you".into() }).await?;
//!     assert_eq!(reply.get_ref().message, "Hello you");
//!     Ok(())
//! }
//! ```

pub mod certs;
pub mod go;

/// `package greeter`, the quick start's service.
#[allow(missing_docs, clippy::all)]
pub mod greeter {
    wirecall::include_proto!("greeter");
}

/// `package wirecall.test.echo`.
#[allow(missing_docs, clippy::all)]
pub mod echo {
    wirecall::include_proto!("wirecall.test.echo");
}

/// `package wirecall.test.common`, imported by `features`. prost-build refers to it from
/// `features` as `super::common`, so the modules nest as the package names do.
#[allow(missing_docs, clippy::all)]
pub mod wirecall {
    /// `package wirecall.test.*`.
    pub mod test {
        /// `package wirecall.test.common`.
        pub mod common {
            ::wirecall::include_proto!("wirecall.test.common");
        }
        /// `package wirecall.test.features`.
        pub mod features {
            ::wirecall::include_proto!("wirecall.test.features");
        }
    }
}
