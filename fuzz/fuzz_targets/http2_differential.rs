//! Differential: the same client bytes (the server_connection target's input format) to
//! one server on h2 and one on wirecall's own HTTP/2 engine, in-process; every stream both
//! answer whole must get the same `:status`, `grpc-status` and body, our engine must write
//! whole frames whose header blocks decode, and both must close once the client has.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use wirecall::fuzzing::ServerHarness;
use wirecall::server::Http2Engine;

#[path = "shared.rs"]
mod shared;

thread_local! {
    static SERVERS: RefCell<Option<(ServerHarness, ServerHarness)>> = const { RefCell::new(None) };
}

fn servers() -> (ServerHarness, ServerHarness) {
    let on = |engine| ServerHarness::new(shared::runtime(), shared::server(Some(engine)));
    (on(Http2Engine::H2), on(Http2Engine::Wirecall))
}

fuzz_target!(|data: &[u8]| {
    let writes = shared::client_writes(data);
    SERVERS.with(|servers_slot| {
        let mut slot = servers_slot.borrow_mut();
        let (h2, own) = slot.get_or_insert_with(servers);
        let (h2_outcome, h2_bytes) = h2.run_capturing(&writes);
        let (own_outcome, own_bytes) = own.run_capturing(&writes);
        assert!(h2_outcome.closed_by_server, "h2 kept the connection open");
        assert!(
            own_outcome.closed_by_server,
            "our engine kept the connection open {:?} after the client closed its side",
            ServerHarness::BUDGET
        );
        wirecall::fuzzing::engines_agree(&h2_bytes, &own_bytes);
        // Tasks a connection leaves behind are the server_connection target's to find;
        // here they are let go so that each input starts alike.
        if h2_outcome.tasks_left + own_outcome.tasks_left > 0 {
            h2.forget_leftover_tasks();
            own.forget_leftover_tasks();
        }
    });
});
