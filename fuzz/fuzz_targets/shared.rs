//! What the server-connection fuzz targets share: the test service, the server they run,
//! and how an input becomes the client's writes.

use wirecall::{Request, Response, Status, Streaming};

#[allow(dead_code)]
mod pb {
    wirecall::include_proto!("fuzz");
}

pub use pb::{Echo, EchoServer, Msg};

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The test service: answers at once, fails on request.
pub struct FuzzEcho;

fn answer(msg: Msg) -> Result<Msg, Status> {
    if msg.code != 0 {
        let detail = wirecall::status::details::ErrorInfo {
            reason: "FUZZ".into(),
            domain: "fuzz.test".into(),
            metadata: [("text".to_owned(), msg.text.clone())].into(),
        };
        return Err(Status::new(wirecall::Code::from_i32(msg.code), msg.text).with_detail(detail));
    }
    Ok(msg)
}

impl Echo for FuzzEcho {
    async fn unary(&self, request: Request<Msg>) -> Result<Response<Msg>, Status> {
        answer(request.into_inner()).map(Response::new)
    }

    async fn repeat(
        &self,
        request: Request<Msg>,
    ) -> Result<Response<impl wirecall::Stream<Item = Result<Msg, Status>> + Send + 'static>, Status>
    {
        let msg = request.into_inner();
        let count = msg.count.min(4) as usize;
        let items: Vec<Result<Msg, Status>> = std::iter::repeat_n(msg, count).map(answer).collect();
        Ok(Response::new(wirecall::message_stream::iter(items)))
    }

    async fn collect(&self, request: Request<Streaming<Msg>>) -> Result<Response<Msg>, Status> {
        let mut stream = request.into_inner();
        let mut all = Msg::default();
        while let Some(msg) = stream.message().await? {
            let msg = answer(msg)?;
            all.text.push_str(&msg.text);
            all.blob.extend_from_slice(&msg.blob);
            all.count += 1;
        }
        Ok(Response::new(all))
    }

    async fn chat(
        &self,
        request: Request<Streaming<Msg>>,
    ) -> Result<Response<impl wirecall::Stream<Item = Result<Msg, Status>> + Send + 'static>, Status>
    {
        let mut incoming = request.into_inner();
        let (tx, rx) = wirecall::message_stream::channel(2);
        tokio::spawn(async move {
            loop {
                let reply = match incoming.message().await {
                    Ok(Some(msg)) => answer(msg),
                    Ok(None) => return,
                    Err(status) => Err(status),
                };
                let failed = reply.is_err();
                if tx.send(reply).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Response::new(rx))
    }
}

/// The bytes the client writes, in the writes it makes them in.
pub fn client_writes(data: &[u8]) -> Vec<Vec<u8>> {
    if let Some((0xff, raw)) = data.split_first() {
        return vec![raw.to_vec()];
    }
    let mut writes = Vec::new();
    let mut out = PREFACE.to_vec();
    let mut input = data;
    let mut take = |n: usize| {
        let (head, tail) = input.split_at(n.min(input.len()));
        input = tail;
        head
    };
    while let Some(&tag) = take(1).first() {
        match tag & 3 {
            0 | 1 => {
                let head = take(3);
                let [kind, flags, id] = [0, 1, 2].map(|i| head.get(i).copied().unwrap_or(0));
                let stream_id = if tag & 0x80 != 0 {
                    let wide = take(4);
                    let mut id = [0u8; 4];
                    id[..wide.len()].copy_from_slice(wide);
                    u32::from_be_bytes(id)
                } else {
                    u32::from(id)
                };
                let lie = (tag & 3 == 1).then(|| {
                    let field = take(3);
                    field.iter().fold(0u32, |n, b| n << 8 | u32::from(*b))
                });
                let len = take(2).iter().fold(0usize, |n, b| n << 8 | usize::from(*b));
                let payload = take(len);
                let declared = lie.unwrap_or(payload.len() as u32);
                out.extend_from_slice(&declared.to_be_bytes()[1..]);
                out.extend_from_slice(&[kind, flags]);
                out.extend_from_slice(&stream_id.to_be_bytes());
                out.extend_from_slice(payload);
            }
            2 => {
                let len = take(1).first().copied().unwrap_or(0);
                out.extend_from_slice(take(usize::from(len)));
            }
            _ => writes.push(std::mem::take(&mut out)),
        }
    }
    writes.push(out);
    writes
}

/// The server the targets run: the test service, health, reflection, gRPC-Web, Connect
/// and REST, on `engine` (else the default: WIRECALL_HTTP2_ENGINE's).
pub fn server(engine: Option<wirecall::server::Http2Engine>) -> wirecall::server::ServerBuilder {
    let health = wirecall::health::HealthReporter::new();
    let builder = wirecall::Server::builder();
    let builder = match engine {
        Some(engine) => builder.http2_engine(engine),
        None => builder,
    };
    builder
        .add_service(EchoServer::new(FuzzEcho))
        .add_health(&health)
        .add_reflection()
        .accept_grpc_web(wirecall::web::Cors::any_origin())
        .accept_connect()
        .accept_rest()
}

/// A current-thread runtime with a paused clock (timers cost no wall time).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
}
