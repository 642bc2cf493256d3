//! Faults, with a peer process (`fault-peer`) killed by SIGKILL in the middle of its calls:
//! - a killed server: every call in flight (unary, server streaming, bidi) fails with
//!   UNAVAILABLE promptly, nothing hangs;
//! - a killed client: the server cancels every handler of its calls, and after repeated
//!   rounds the server's tasks are back to their baseline and its memory is flat;
//! - handlers that panic, under concurrent load: the calls that panicked fail INTERNAL, all
//!   the others succeed, and the server keeps serving.
//!
//! A network that pauses (keepalive detecting a silent peer) is tested in `keepalive.rs`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::bounded;
use wirecall::{message_stream, Code, Request, Response, Status, Streaming};
use wirecall_tests::echo::{Echo, EchoClient, EchoRequest, EchoResponse, EchoServer};

/// How long a killed peer's calls may take to fail: "promptly".
const PROMPTLY: Duration = Duration::from_secs(2);

/// Starts `fault-peer` with `args`; returns the process and its stdout lines.
fn peer(args: &[&str]) -> (Child, std::io::Lines<BufReader<std::process::ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fault-peer"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start fault-peer");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// The next stdout line of a peer, read off the runtime's threads.
async fn next_line(lines: &mut std::io::Lines<BufReader<std::process::ChildStdout>>) -> String {
    tokio::task::block_in_place(|| lines.next().expect("a line").expect("stdout"))
}

/// Reads `stream` to its end, which must be an error; the error and when it came, counted
/// from `since`.
async fn failure_of(stream: &mut Streaming<EchoResponse>, since: Instant) -> (Status, Duration) {
    loop {
        match stream.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the call ended cleanly after a kill"),
            Err(status) => return (status, since.elapsed()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_the_calls_in_flight_with_unavailable_promptly() {
    let (mut server, mut lines) = peer(&["serve"]);
    let line = bounded("the peer's address", next_line(&mut lines)).await;
    let addr = line
        .strip_prefix("listening ")
        .expect("listening ADDR")
        .to_owned();
    let client = EchoClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");

    let forever = EchoRequest {
        message: "s".into(),
        sleep_ms: 10,
        ..EchoRequest::default()
    };
    let mut stream = client.server_stream(forever).await.unwrap().into_inner();
    let (tx, rx) = message_stream::channel(4);
    let mut bidi = client.bidi(rx).await.unwrap().into_inner();
    tx.send(EchoRequest {
        message: "b".into(),
        ..EchoRequest::default()
    })
    .await
    .unwrap();
    let slow = EchoRequest {
        message: "slow".into(),
        sleep_ms: 60_000,
        ..EchoRequest::default()
    };
    let unary_client = client.clone();
    let unary = tokio::spawn(async move {
        let result = unary_client.unary(slow).await;
        (result.map(|_| ()), Instant::now())
    });
    for _ in 0..3 {
        stream.message().await.unwrap().expect("a message");
    }
    bidi.message().await.unwrap().expect("the echo");

    server.kill().expect("SIGKILL the server");
    let killed = Instant::now();
    let _ = server.wait();
    let stream_error = bounded("the stream's end", failure_of(&mut stream, killed)).await;
    let bidi_error = bounded("the bidi call's end", failure_of(&mut bidi, killed)).await;
    let (unary_result, unary_at) = bounded("the unary call", unary).await.unwrap();
    let unary_status = unary_result.expect_err("the unary call fails");
    let unary_after = unary_at.duration_since(killed);
    for (what, status, after) in [
        ("server stream", &stream_error.0, stream_error.1),
        ("bidi", &bidi_error.0, bidi_error.1),
        ("unary", &unary_status, unary_after),
    ] {
        eprintln!(
            "{what}: {:?} {:?} after {after:?}",
            status.code(),
            status.message()
        );
        assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
        assert!(after < PROMPTLY, "{what} took {after:?}");
    }
}

/// An `Echo` whose handlers count themselves while they live.
#[derive(Clone, Default)]
struct Counted {
    live: Arc<AtomicUsize>,
    panics: Arc<AtomicUsize>,
}

/// Counts a handler as live until dropped (returned or cancelled).
struct Live(Arc<AtomicUsize>);

impl Live {
    fn new(counter: &Arc<AtomicUsize>) -> Live {
        counter.fetch_add(1, Ordering::SeqCst);
        Live(counter.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Echo for Counted {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let msg = request.into_inner();
        if msg.fail_code == -1 {
            self.panics.fetch_add(1, Ordering::SeqCst);
            panic!("a handler bug for {}", msg.message);
        }
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
        let live = Live::new(&self.live);
        let msg = request.into_inner();
        let (tx, rx) = message_stream::channel(4);
        tokio::spawn(async move {
            let _live = live;
            let mut index = 0;
            loop {
                let response = EchoResponse {
                    message: msg.message.clone(),
                    index,
                    ..EchoResponse::default()
                };
                if tx.send(Ok(response)).await.is_err() {
                    return;
                }
                index += 1;
                tokio::time::sleep(Duration::from_millis(msg.sleep_ms.max(1) as u64)).await;
            }
        });
        Ok(Response::new(rx))
    }

    async fn client_stream(
        &self,
        _request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn bidi(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<EchoResponse, Status>> + Send + 'static>,
        Status,
    > {
        let live = Live::new(&self.live);
        let mut incoming = request.into_inner();
        let (tx, rx) = message_stream::channel(4);
        tokio::spawn(async move {
            let _live = live;
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

/// This process's resident memory, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Waits (bounded) until `check` holds, polling every few milliseconds; returns how long.
async fn until(what: &str, limit: Duration, check: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    common::within(limit, what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_client_cancels_its_handlers_and_leaks_nothing() {
    const ROUNDS: usize = 10;
    const CALLS: usize = 50; // server streams, and as many bidi calls, per round
    let service = Counted::default();
    let live = service.live.clone();
    let listener = common::local_listener().await;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        wirecall::Server::builder()
            .add_service(EchoServer::new(service))
            .serve_with_listener(listener, std::future::pending()),
    );
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline_tasks = metrics.num_alive_tasks();
    let mut rss = Vec::new();
    let mut cancel_times = Vec::new();
    for round in 0..ROUNDS {
        let (mut client, mut lines) = peer(&["streams", &addr.to_string(), &CALLS.to_string()]);
        let ready = bounded("the client's calls", next_line(&mut lines)).await;
        assert_eq!(ready, "ready");
        assert_eq!(
            live.load(Ordering::SeqCst),
            2 * CALLS,
            "round {round}: every handler live"
        );
        client.kill().expect("SIGKILL the client");
        let _ = client.wait();
        let took = until("the handlers' cancellation", Duration::from_secs(5), || {
            live.load(Ordering::SeqCst) == 0
        })
        .await;
        cancel_times.push(took);
        until(
            "the tasks back to the baseline",
            Duration::from_secs(5),
            || metrics.num_alive_tasks() <= baseline_tasks,
        )
        .await;
        rss.push(rss_kib());
    }
    eprintln!("handlers cancelled after the kill in {cancel_times:?}");
    eprintln!(
        "RSS after each round (KiB): {rss:?}; tasks {} (baseline {baseline_tasks})",
        metrics.num_alive_tasks()
    );
    // Flat memory: the last round within 10% (and 4 MiB) of the second (the first pays
    // for one-time allocations).
    let (second, last) = (rss[1], rss[ROUNDS - 1]);
    assert!(
        last <= second + (second / 10).max(4096),
        "memory grew over the rounds: {rss:?}"
    );
}

/// Keeps the planned handler panics out of the test output (the server logs them); every
/// other panic, an assertion's above all, is printed as usual.
fn quiet_handler_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let planned = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|text| text.starts_with("a handler bug"));
        if !planned {
            default(info);
        }
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_handlers_never_take_the_server_down() {
    const WORKERS: usize = 8;
    const CALLS: usize = 100;
    quiet_handler_panics();
    let service = Counted::default();
    let panics = service.panics.clone();
    let listener = common::local_listener().await;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        wirecall::Server::builder()
            .add_service(EchoServer::new(service))
            .serve_with_listener(listener, std::future::pending()),
    );
    let client = EchoClient::connect(format!("http://{addr}")).await.unwrap();
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let client = client.clone();
        workers.push(tokio::spawn(async move {
            let (mut ok, mut internal) = (0, 0);
            for i in 0..CALLS {
                let request = EchoRequest {
                    message: format!("{worker}/{i}"),
                    fail_code: if i % 7 == 3 { -1 } else { 0 },
                    ..EchoRequest::default()
                };
                match client.unary(request).await {
                    Ok(reply) => {
                        assert_eq!(reply.get_ref().message, format!("{worker}/{i}"));
                        ok += 1;
                    }
                    Err(status) => {
                        assert_eq!(status.code(), Code::Internal, "{status:?}");
                        assert_eq!(i % 7, 3, "only the panicking calls fail: {status:?}");
                        internal += 1;
                    }
                }
            }
            (ok, internal)
        }));
    }
    let (mut ok, mut internal) = (0, 0);
    for worker in workers {
        let (o, i) = bounded("a worker", worker).await.unwrap();
        ok += o;
        internal += i;
    }
    let panicking = (0..CALLS).filter(|i| i % 7 == 3).count() * WORKERS;
    eprintln!("{ok} calls succeeded, {internal} panicked (INTERNAL)");
    assert_eq!(internal, panicking);
    assert_eq!(panics.load(Ordering::SeqCst), panicking);
    assert_eq!(ok, WORKERS * CALLS - panicking);
    // A new connection is served as well.
    let fresh = EchoClient::connect(format!("http://{addr}")).await.unwrap();
    let reply = fresh
        .unary(EchoRequest {
            message: "after".into(),
            ..EchoRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(reply.get_ref().message, "after");
}
