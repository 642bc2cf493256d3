//! A peer the fault tests (`tests/faults.rs`) run as a process of its own, so that they can
//! kill it with SIGKILL in the middle of its calls:
//!
//! - `fault-peer serve [MAX_CONNECTIONS [HANDSHAKE_TIMEOUT_MS]]`: serves the `Echo` service
//!   on 127.0.0.1 (a free port) and prints `listening ADDR`. `ServerStream` sends `repeat` messages (forever when 0), `sleep_ms`
//!   apart; `Unary` answers after `sleep_ms`; `Bidi` echoes every message.
//! - `fault-peer streams ADDR N`: opens N server streams and N bidi calls on one connection,
//!   reads a first message from each, prints `ready`, then reads on until killed.

use std::time::Duration;

use wirecall::{message_stream, Request, Response, Status, Streaming};
use wirecall_tests::echo::{Echo, EchoClient, EchoRequest, EchoResponse, EchoServer};

struct Peer;

impl Echo for Peer {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let msg = request.into_inner();
        tokio::time::sleep(Duration::from_millis(msg.sleep_ms.max(0) as u64)).await;
        Ok(Response::new(EchoResponse {
            message: msg.message,
            ..EchoResponse::default()
        }))
    }

    async fn server_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<EchoResponse, Status>> + Send + 'static>,
        Status,
    > {
        let msg = request.into_inner();
        let (tx, rx) = message_stream::channel(4);
        tokio::spawn(async move {
            let mut index = 0;
            while msg.repeat == 0 || index < msg.repeat {
                let response = EchoResponse {
                    message: msg.message.clone(),
                    payload: msg.payload.clone(),
                    index,
                };
                if tx.send(Ok(response)).await.is_err() {
                    return;
                }
                index += 1;
                tokio::time::sleep(Duration::from_millis(msg.sleep_ms.max(0) as u64)).await;
            }
        });
        Ok(Response::new(rx))
    }

    async fn client_stream(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let mut stream = request.into_inner();
        let mut count = 0;
        while stream.message().await?.is_some() {
            count += 1;
        }
        Ok(Response::new(EchoResponse {
            index: count,
            ..EchoResponse::default()
        }))
    }

    async fn bidi(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<EchoResponse, Status>> + Send + 'static>,
        Status,
    > {
        let mut incoming = request.into_inner();
        let (tx, rx) = message_stream::channel(4);
        tokio::spawn(async move {
            while let Ok(Some(msg)) = incoming.message().await {
                let response = EchoResponse {
                    message: msg.message,
                    ..EchoResponse::default()
                };
                if tx.send(Ok(response)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(rx))
    }
}

async fn serve(max_connections: Option<usize>, handshake_timeout: Option<Duration>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    println!(
        "listening {}",
        listener.local_addr().expect("local address")
    );
    let mut builder = wirecall::Server::builder().add_service(EchoServer::new(Peer));
    if let Some(limit) = max_connections {
        builder = builder.max_connections(limit);
    }
    if let Some(timeout) = handshake_timeout {
        builder = builder.handshake_timeout(timeout);
    }
    builder
        .serve_with_listener(listener, std::future::pending())
        .await
        .expect("serve");
}

async fn streams(addr: &str, n: usize) {
    let client = EchoClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let mut calls = Vec::new();
    // The bidi calls' senders stay open: those calls go on until the process dies.
    let mut senders = Vec::new();
    for i in 0..n {
        let request = EchoRequest {
            message: format!("stream {i}"),
            sleep_ms: 5,
            ..EchoRequest::default()
        };
        let stream = client.server_stream(request).await.expect("server stream");
        calls.push(stream.into_inner());
        let (tx, rx) = message_stream::channel(4);
        let bidi = client.bidi(rx).await.expect("bidi").into_inner();
        let hello = EchoRequest {
            message: format!("bidi {i}"),
            ..EchoRequest::default()
        };
        tx.send(hello).await.expect("first bidi message");
        calls.push(bidi);
        senders.push(tx);
    }
    for call in &mut calls {
        call.message().await.expect("a first message").expect("one");
    }
    println!("ready");
    loop {
        for call in &mut calls {
            let _ = tokio::time::timeout(Duration::from_millis(1), call.message()).await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve"] => serve(None, None).await,
        ["serve", max] => serve(Some(max.parse().expect("a count")), None).await,
        ["serve", max, ms] => {
            let timeout = Duration::from_millis(ms.parse().expect("milliseconds"));
            serve(Some(max.parse().expect("a count")), Some(timeout)).await
        }
        ["streams", addr, n] => streams(addr, n.parse().expect("a count")).await,
        _ => {
            eprintln!("usage: fault-peer serve [MAX_CONNECTIONS [HANDSHAKE_TIMEOUT_MS]] | fault-peer streams ADDR N");
            std::process::exit(2);
        }
    }
}
