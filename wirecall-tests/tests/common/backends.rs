//! Echo servers that can be killed like crashed processes: each runs on a runtime of its
//! own, and killing it shuts that runtime down, closing its listener and every connection
//! at once (no GOAWAY, no graceful end). A killed backend can be started again on the same
//! address.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpSocket;
use tokio::runtime::Runtime;

use super::{start_on, State, TestServer};

/// A killable Echo server.
pub struct Backend {
    /// Where it listens (a 127.0.0.x address).
    pub addr: SocketAddr,
    state: Arc<State>,
    server: Option<TestServer>,
    runtime: Option<Runtime>,
}

impl Backend {
    /// Starts a backend on `addr` (port 0 picks one), reusing the address of a killed one.
    pub fn start(addr: SocketAddr) -> Backend {
        assert!(addr.ip().is_loopback(), "tests listen on loopback only");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a backend runtime");
        let server = {
            let _entered = runtime.enter();
            let socket = TcpSocket::new_v4().expect("a socket");
            socket.set_reuseaddr(true).expect("SO_REUSEADDR");
            socket
                .bind(addr)
                .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
            start_on(socket.listen(1024).expect("listen"), |builder| builder)
        };
        Backend {
            addr: server.addr,
            state: server.state.clone(),
            server: Some(server),
            runtime: Some(runtime),
        }
    }

    /// Starts a backend on `ip`, any port.
    pub fn on(ip: [u8; 4]) -> Backend {
        Backend::start(SocketAddr::from((ip, 0)))
    }

    /// How many calls its handlers have seen since it (last) started.
    pub fn calls(&self) -> usize {
        self.state.seen().len()
    }

    /// Kills it: the listener and every connection close at once.
    pub fn kill(&mut self) {
        drop(self.server.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// Waits (bounded) until its handlers start another call made with
    /// [`sleeping`](super::sleeping) (the only calls that announce their start).
    pub async fn next_start(&mut self) {
        let server = self.server.as_mut().expect("a running backend");
        while !matches!(server.next_event().await, super::Event::Started(_)) {}
    }

    /// Shuts it down gracefully, as a pod is on SIGTERM: GOAWAY, the calls in flight
    /// finish, the listener closes.
    pub async fn drain(&mut self) {
        if let Some(mut server) = self.server.take() {
            let task = server.begin_shutdown();
            super::bounded("a graceful shutdown", task)
                .await
                .expect("the serve task did not panic")
                .expect("serve returned Ok");
        }
        self.kill();
    }

    /// Starts it again on the same address (with a fresh call count).
    pub fn restart(&mut self) {
        self.kill();
        *self = Backend::start(self.addr);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `ipv4:` target naming `backends`.
pub fn ipv4_target(backends: &[&Backend]) -> String {
    let list: Vec<String> = backends.iter().map(|b| b.addr.to_string()).collect();
    format!("ipv4:{}", list.join(","))
}

/// An address on `ip` that nothing listens on (bound once, then released). Give each test
/// an `ip` of its own, other than 127.0.0.1 where every other server binds port 0, so no
/// other server takes the port meanwhile.
pub fn free_addr(ip: [u8; 4]) -> SocketAddr {
    let listener = std::net::TcpListener::bind(SocketAddr::from((ip, 0))).expect("bind");
    listener.local_addr().expect("address")
}
