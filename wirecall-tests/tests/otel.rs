//! OpenTelemetry export (feature `opentelemetry`): with tracing-opentelemetry's layer and an
//! in-memory exporter installed, the `grpc.server` spans of a client -> A -> B chain are
//! exported in the client's trace, B's span a child of A's.

mod common;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use wirecall::interceptor::{TraceContext, TracePropagation};
use wirecall::trace::{TraceParent, TRACEPARENT};
use wirecall::{Endpoint, Request, Response, Server, Status};
use wirecall_tests::greeter::{Greeter, GreeterClient, GreeterServer, HelloReply, HelloRequest};

use common::{bounded, local_listener};

struct Hop(Option<GreeterClient>);

impl Greeter for Hop {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        match &self.0 {
            Some(next) => next.say_hello(request.into_inner()).await,
            None => Ok(Response::new(HelloReply::default())),
        }
    }
}

async fn serve(hop: Hop, propagate: bool) -> GreeterClient {
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .interceptor(TraceContext::new())
        .add_service(GreeterServer::new(hop));
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    let endpoint = Endpoint::new(format!("http://{addr}")).unwrap();
    let endpoint = if propagate {
        endpoint.interceptor(TracePropagation::new())
    } else {
        endpoint
    };
    GreeterClient::new(endpoint.connect_lazy())
}

// One thread: the subscriber is installed for this thread only.
#[tokio::test(flavor = "current_thread")]
async fn server_spans_are_exported_in_the_clients_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("wirecall-tests"));
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    let b = serve(Hop(None), true).await;
    let a = serve(Hop(Some(b)), false).await;
    let root = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .expect("valid");
    let mut request = Request::new(HelloRequest { name: "t".into() });
    request
        .metadata_mut()
        .insert(TRACEPARENT, &root.to_string())
        .unwrap();
    bounded("chained call", a.say_hello(request))
        .await
        .expect("ok");
    let _ = provider.force_flush();

    let spans: Vec<_> = exporter
        .get_finished_spans()
        .expect("exported spans")
        .into_iter()
        .filter(|s| s.name == "grpc.server")
        .collect();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let trace = root.trace_id.to_be_bytes();
    for span in &spans {
        assert_eq!(span.span_context.trace_id().to_bytes(), trace, "{span:#?}");
    }
    // A's span is the child of the client's; B's the child of A's.
    let a_span = spans
        .iter()
        .find(|s| s.parent_span_id.to_bytes() == root.span_id.to_be_bytes())
        .expect("A's span, child of the client's span");
    let b_span = spans
        .iter()
        .find(|s| s.parent_span_id == a_span.span_context.span_id())
        .expect("B's span, child of A's");
    assert_ne!(b_span.span_context.span_id(), a_span.span_context.span_id());
}
