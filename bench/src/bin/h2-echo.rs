//! The raw HTTP/2 ceiling: `h2-echo [--addr 127.0.0.1:50051]`. No gRPC layer at all: every
//! request, whatever its path, is answered with status 200 and `content-type:
//! application/grpc`, its body is echoed back chunk by chunk as it arrives (respecting flow
//! control), and the response ends with the trailer `grpc-status: 0`. A gRPC client sees
//! an echo server for unary calls (Unary, Complex) and for Bidi; ServerStream is not
//! supported. Prints `listening on ADDR` once bound; on SIGTERM or SIGINT prints its
//! counters on stderr and exits.

use std::future::poll_fn;
use std::sync::Arc;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use http::{HeaderMap, HeaderValue, Request, Response};
use tokio::net::TcpStream;
use wirecall_bench::Counters;

async fn serve_connection(socket: TcpStream, counters: Arc<Counters>) -> Result<(), h2::Error> {
    let mut connection = h2::server::Builder::new()
        .initial_window_size(wirecall_bench::STREAM_WINDOW)
        .initial_connection_window_size(wirecall_bench::CONNECTION_WINDOW)
        .max_concurrent_streams(wirecall_bench::MAX_CONCURRENT_STREAMS)
        .handshake::<_, Bytes>(socket)
        .await?;
    while let Some(accepted) = connection.accept().await {
        let (request, respond) = accepted?;
        let counters = counters.clone();
        tokio::spawn(async move {
            if request.uri().path().ends_with("/Bidi") {
                Counters::bump(&counters.bidi);
            } else if request.uri().path().ends_with("/Complex") {
                Counters::bump(&counters.complex);
            } else {
                Counters::bump(&counters.unary);
            }
            if echo(request, respond).await.is_err() {
                Counters::bump(&counters.errors);
            }
        });
    }
    Ok(())
}

/// Answers one stream: headers at once, then every DATA chunk back, then the trailers.
async fn echo(
    request: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
) -> Result<(), h2::Error> {
    let mut response = Response::new(());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    let mut send = respond.send_response(response, false)?;
    let mut body = request.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let len = chunk.len();
        send_all(&mut send, chunk).await?;
        // The peer may send more only once this chunk went out: echo-rate backpressure.
        body.flow_control().release_capacity(len)?;
    }
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    send.send_trailers(trailers)
}

/// Sends `data` within the peer's flow-control window, waiting for capacity as needed.
async fn send_all(send: &mut SendStream<Bytes>, mut data: Bytes) -> Result<(), h2::Error> {
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let mut capacity = send.capacity();
        if capacity == 0 {
            capacity = match poll_fn(|cx| send.poll_capacity(cx)).await {
                Some(result) => result?,
                None => return Err(h2::Error::from(h2::Reason::CANCEL)),
            };
            if capacity == 0 {
                continue;
            }
        }
        let chunk = data.split_to(capacity.min(data.len()));
        send.send_data(chunk, false)?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = wirecall_bench::server_addr();
    let counters = Arc::new(Counters::default());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let accept_loop = {
        let counters = counters.clone();
        async move {
            loop {
                let (socket, _) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        eprintln!("accept failed: {err}");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = socket.set_nodelay(true);
                let counters = counters.clone();
                tokio::spawn(async move {
                    let _ = serve_connection(socket, counters).await;
                });
            }
        }
    };
    tokio::select! {
        () = accept_loop => {}
        () = wirecall_bench::shutdown_signal() => {}
    }
    counters.report("h2");
    Ok(())
}
