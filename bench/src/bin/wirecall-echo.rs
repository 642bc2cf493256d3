//! The wirecall echo server: `wirecall-echo [--addr 127.0.0.1:50051] [--interceptors N]
//! [--metrics opentelemetry|prometheus] [--gateway]` (N server-wide interceptors that do
//! nothing, to measure what an interceptor chain costs, default 0; the gRFC A66 metrics
//! interceptor recording into an OpenTelemetry SDK or a prometheus-client registry; and,
//! with `--gateway`, gRPC-Web (any origin), Connect and REST on the same port, plus the
//! `bench.gateway.EchoRest` service whose `Get` is `GET /v1/echo/{text}`, for
//! bench/gateway.py). Prints `listening on ADDR` once bound; on SIGTERM or SIGINT prints
//! its counters on stderr and exits.

use std::sync::Arc;

use wirecall::metrics::Metrics;
use wirecall::{Request, Response, Status, Streaming};
use wirecall_bench::pb::gateway::{EchoRest, EchoRestServer};
use wirecall_bench::pb::{ComplexMessage, Echo, EchoMessage, EchoServer, StreamRequest};
use wirecall_bench::{CountErrors, Counters, Repeat};

struct EchoService {
    counters: Arc<Counters>,
}

impl Echo for EchoService {
    async fn unary(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Counters::bump(&self.counters.unary);
        Ok(Response::new(request.into_inner()))
    }

    async fn server_stream(
        &self,
        request: Request<StreamRequest>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<EchoMessage, Status>> + Send + 'static>,
        Status,
    > {
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

    async fn bidi(
        &self,
        request: Request<Streaming<EchoMessage>>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<EchoMessage, Status>> + Send + 'static>,
        Status,
    > {
        Counters::bump(&self.counters.bidi);
        let incoming = request.into_inner();
        Ok(Response::new(CountErrors::new(
            incoming,
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

/// `GET /v1/echo/{text}` (with `--gateway`): echoes the message built from the path.
struct RestService {
    counters: Arc<Counters>,
}

impl EchoRest for RestService {
    async fn get(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Counters::bump(&self.counters.unary);
        Ok(Response::new(request.into_inner()))
    }
}

/// An interceptor with every hook left at its default (doing nothing).
struct Noop;

impl wirecall::interceptor::Interceptor for Noop {}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = wirecall_bench::server_addr();
    let counters = Arc::new(Counters::default());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let service = EchoServer::new(EchoService {
        counters: counters.clone(),
    });
    let mut builder = wirecall::Server::builder();
    for _ in 0..wirecall_bench::arg_or("interceptors", 0usize) {
        builder = builder.interceptor(Noop);
    }
    // Kept alive while serving: what the metrics interceptor records into.
    let mut _provider = None;
    match wirecall_bench::arg("metrics").as_deref() {
        None => {}
        Some("opentelemetry") => {
            // An SDK that aggregates every measurement, exported (in memory) every 60 s as
            // a periodic OTLP exporter would be: not within a benchmark run.
            let exporter = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
            let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
                .with_periodic_exporter(exporter)
                .build();
            builder = builder.interceptor(Metrics::opentelemetry(&provider).server());
            _provider = Some(provider);
        }
        Some("prometheus") => {
            let mut registry = prometheus_client::registry::Registry::default();
            builder = builder.interceptor(Metrics::prometheus(&mut registry).server());
        }
        Some(other) => {
            eprintln!("--metrics takes opentelemetry or prometheus, not {other:?}");
            std::process::exit(2);
        }
    }
    if std::env::args().skip(1).any(|a| a == "--gateway") {
        builder = builder
            .accept_grpc_web(wirecall::web::Cors::any_origin())
            .accept_connect()
            .accept_rest()
            .add_service(EchoRestServer::new(RestService {
                counters: counters.clone(),
            }));
    }
    let server = builder
        .add_service(service)
        .initial_stream_window_size(wirecall_bench::STREAM_WINDOW)
        .initial_connection_window_size(wirecall_bench::CONNECTION_WINDOW)
        .max_concurrent_streams(wirecall_bench::MAX_CONCURRENT_STREAMS)
        .serve_with_listener(listener, std::future::pending());
    tokio::select! {
        result = server => result?,
        () = wirecall_bench::shutdown_signal() => {}
    }
    counters.report("wirecall");
    Ok(())
}
