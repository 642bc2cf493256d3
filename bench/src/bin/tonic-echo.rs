//! The tonic echo server: `tonic-echo [--addr 127.0.0.1:50051]`, tuned as tonic's users tune
//! it (`TCP_NODELAY`, the same HTTP/2 windows and stream limit as the other servers).
//! Prints `listening on ADDR` once bound; on SIGTERM or SIGINT prints its counters on stderr
//! and exits.

use std::sync::Arc;

use tonic::{Request, Response, Status, Streaming};
use wirecall_bench::tonic_pb::echo_server::{Echo, EchoServer};
use wirecall_bench::tonic_pb::{ComplexMessage, EchoMessage, StreamRequest};
use wirecall_bench::{CountErrors, Counters, Repeat};

struct EchoService {
    counters: Arc<Counters>,
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Counters::bump(&self.counters.unary);
        Ok(Response::new(request.into_inner()))
    }

    type ServerStreamStream = Repeat<EchoMessage, Status>;

    async fn server_stream(
        &self,
        request: Request<StreamRequest>,
    ) -> Result<Response<Self::ServerStreamStream>, Status> {
        Counters::bump(&self.counters.server_stream);
        let StreamRequest {
            count,
            payload_size,
        } = request.into_inner();
        if payload_size > wirecall_bench::MAX_PAYLOAD {
            Counters::bump(&self.counters.errors);
            return Err(Status::invalid_argument("payload_size over 4 MiB"));
        }
        let message = EchoMessage {
            text: String::new(),
            payload: wirecall_bench::payload(payload_size as usize),
        };
        Ok(Response::new(Repeat::new(message, count)))
    }

    type BidiStream = CountErrors<Streaming<EchoMessage>>;

    async fn bidi(
        &self,
        request: Request<Streaming<EchoMessage>>,
    ) -> Result<Response<Self::BidiStream>, Status> {
        Counters::bump(&self.counters.bidi);
        Ok(Response::new(CountErrors::new(
            request.into_inner(),
            self.counters.clone(),
        )))
    }

    async fn complex(
        &self,
        request: Request<ComplexMessage>,
    ) -> Result<Response<ComplexMessage>, Status> {
        Counters::bump(&self.counters.complex);
        Ok(Response::new(request.into_inner()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = wirecall_bench::server_addr();
    let counters = Arc::new(Counters::default());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    // `tcp_nodelay` on the builder applies to `serve(addr)`; with our own listener the
    // incoming stream sets it on every accepted socket.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let service = EchoServer::new(EchoService {
        counters: counters.clone(),
    });
    let server = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .initial_stream_window_size(wirecall_bench::STREAM_WINDOW)
        .initial_connection_window_size(wirecall_bench::CONNECTION_WINDOW)
        .max_concurrent_streams(wirecall_bench::MAX_CONCURRENT_STREAMS)
        .add_service(service)
        .serve_with_incoming(incoming);
    tokio::select! {
        result = server => result?,
        () = wirecall_bench::shutdown_signal() => {}
    }
    counters.report("tonic");
    Ok(())
}
