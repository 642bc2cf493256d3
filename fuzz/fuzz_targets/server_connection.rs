//! A whole server connection fed arbitrary client bytes: the HTTP/2 preface, then frames
//! built from the input, over an in-memory pipe to a real server (health, reflection, a
//! test service, with gRPC-Web, Connect and REST on). Whatever the client sends, the
//! server must not panic, and must close the connection once the client has closed its
//! side.
//!
//! Input: records, each starting with a tag byte; `tag & 3` says what follows:
//! - 0: a frame: type, flags, stream id (1 byte; 4 bytes big-endian when `tag & 0x80`),
//!   payload length (2 bytes big-endian), payload; the 9-byte header gets the true length;
//! - 1: the same with a 3-byte length field of its own after the stream id (a lying
//!   header);
//! - 2: raw bytes: a length byte, then that many bytes;
//! - 3: a flush: what was built so far is written and the server runs before the rest.
//!
//! An input whose first byte is 0xFF is written raw, without the HTTP/2 preface (HTTP/1.1
//! requests: gRPC-Web, Connect and REST, or garbage).
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use wirecall::fuzzing::ServerHarness;
use wirecall::{Request, Response, Status, Streaming};

#[allow(dead_code)]
mod pb {
    wirecall::include_proto!("fuzz");
}

use pb::{Echo, EchoServer, Msg};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The test service: answers at once, fails on request.
struct FuzzEcho;

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
fn client_writes(data: &[u8]) -> Vec<Vec<u8>> {
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

/// Set (to anything) to go on fuzzing past connections that leave tasks behind (a known
/// leak while it is being fixed): leaked tasks are then counted instead of failing the run.
const IGNORE_TASK_LEAKS: &str = "WIRECALL_FUZZ_IGNORE_TASK_LEAKS";

/// Past this many leaked tasks, the server is started anew (dropping its runtime ends them).
const MAX_LEAKED_TASKS: usize = 1000;

struct Server {
    harness: ServerHarness,
    leaked: usize,
}

thread_local! {
    static SERVER: RefCell<Option<Server>> = const { RefCell::new(None) };
    static IGNORE_LEAKS: bool = std::env::var_os(IGNORE_TASK_LEAKS).is_some();
}

fn harness() -> Server {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let health = wirecall::health::HealthReporter::new();
    let server = wirecall::Server::builder()
        .add_service(EchoServer::new(FuzzEcho))
        .add_health(&health)
        .add_reflection()
        .accept_grpc_web(wirecall::web::Cors::any_origin())
        .accept_connect()
        .accept_rest();
    Server {
        harness: ServerHarness::new(runtime, server),
        leaked: 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let writes = client_writes(data);
    SERVER.with(|server| {
        let mut slot = server.borrow_mut();
        let server = slot.get_or_insert_with(harness);
        let outcome = server.harness.run(&writes);
        assert!(
            outcome.closed_by_server,
            "the server kept the connection open {:?} after the client closed its side",
            ServerHarness::BUDGET
        );
        if outcome.tasks_left > 0 && IGNORE_LEAKS.with(|ignore| *ignore) {
            server.leaked += outcome.tasks_left;
            if server.leaked > MAX_LEAKED_TASKS {
                eprintln!(
                    "LEAK: {} tasks outlived their connections by {:?}; starting the server anew",
                    server.leaked,
                    ServerHarness::WIND_DOWN
                );
                *slot = None;
            } else {
                server.harness.forget_leftover_tasks();
            }
            return;
        }
        assert_eq!(
            outcome.tasks_left,
            0,
            "tasks still alive {:?} after the connection closed",
            ServerHarness::WIND_DOWN
        );
    });
});
