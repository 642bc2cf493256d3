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

#[path = "shared.rs"]
mod shared;

use shared::client_writes;

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
    // The engine of the run: WIRECALL_HTTP2_ENGINE's, as every server's default.
    let server = shared::server(None);
    Server {
        harness: ServerHarness::new(shared::runtime(), server),
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
