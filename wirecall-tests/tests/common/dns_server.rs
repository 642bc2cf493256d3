//! A real DNS server for the tests: Debian's dnsmasq on 127.0.0.1 (a free port), answering
//! for names under `test.` from files the test writes, with a short TTL. A records change
//! by rewriting the hosts file (dnsmasq reads it again on SIGHUP); TXT records live in a
//! config file dnsmasq reads only at start, so changing them restarts it on the same port.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// A running dnsmasq and the files it serves.
pub struct DnsServer {
    /// Where it answers (UDP and TCP).
    pub addr: SocketAddr,
    /// The TTL of every answer, in seconds.
    pub ttl: u32,
    dir: PathBuf,
    child: Option<Child>,
    /// Its log lines (it logs every query and every file it reads).
    log: Option<mpsc::Receiver<String>>,
}

impl DnsServer {
    /// Starts dnsmasq with no records, answering with `ttl`.
    pub fn start(ttl: u32) -> DnsServer {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wirecall-dns-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a directory for the zone");
        let mut server = DnsServer {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ttl,
            dir,
            child: None,
            log: None,
        };
        std::fs::write(server.hosts_file(), "").expect("write the hosts file");
        std::fs::write(server.conf_file(), "").expect("write the config file");
        // A port free for UDP and TCP now; the tests running beside this one bind TCP ports
        // all the time, so one may take it before dnsmasq does: then another port.
        for _ in 0..5 {
            server.addr.set_port(free_port());
            match server.launch() {
                Ok(()) => return server,
                Err(why) => eprintln!("dnsmasq on {}: {why}; another port", server.addr),
            }
        }
        panic!("dnsmasq did not start on any of 5 ports");
    }

    /// The `dns://` authority of targets asking this server.
    pub fn target(&self, name: &str, port: u16) -> String {
        format!("dns://{}/{name}:{port}", self.addr)
    }

    fn hosts_file(&self) -> PathBuf {
        self.dir.join("hosts")
    }

    fn conf_file(&self) -> PathBuf {
        self.dir.join("txt.conf")
    }

    fn launch(&mut self) -> Result<(), String> {
        let mut command = Command::new(dnsmasq());
        command
            .arg("--keep-in-foreground")
            .arg(format!("--conf-file={}", self.conf_file().display()))
            .args(["--no-resolv", "--no-hosts", "--local=/test/"])
            .arg(format!("--addn-hosts={}", self.hosts_file().display()))
            .args(["--listen-address=127.0.0.1", "--bind-interfaces"])
            .arg(format!("--port={}", self.addr.port()))
            .arg(format!("--local-ttl={}", self.ttl))
            .args(["--log-queries", "--log-facility=-", "--pid-file="])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if running_as_root() {
            // Else it would drop to `nobody`, who may not read the test's files.
            command.arg("--user=root");
        }
        let mut child = command.spawn().expect("start dnsmasq");
        let stderr = child.stderr.take().expect("dnsmasq's log");
        let (lines_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        self.child = Some(child);
        self.log = Some(lines);
        // It says "started" once it listens, then reads the hosts file.
        let started = self
            .next_log("started")
            .and_then(|()| self.next_log("hosts - "));
        if started.is_err() {
            self.stop();
        }
        started
    }

    /// Waits (bounded) for a log line containing `text`.
    fn wait_for_log(&mut self, text: &str) {
        if let Err(why) = self.next_log(text) {
            panic!("{why}");
        }
    }

    /// Waits (up to 10 s) for a log line containing `text`.
    fn next_log(&mut self, text: &str) -> Result<(), String> {
        let log = self.log.as_ref().expect("dnsmasq runs");
        loop {
            match log.recv_timeout(Duration::from_secs(10)) {
                Ok(line) if line.contains(text) => return Ok(()),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("dnsmasq did not log {text:?} within 10 s"))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "dnsmasq exited before logging {text:?} (its port taken? a config \
                         error goes to syslog: check with dnsmasq --test)"
                    ))
                }
            }
        }
    }

    /// Waits (bounded) until it is asked for a record of type `kind` (`A`, `TXT`, ...).
    pub fn wait_for_query(&mut self, kind: &str) {
        self.wait_for_log(&format!("query[{kind}]"));
    }

    /// Makes `name` answer with these addresses (A records), from the next query on.
    pub fn set_addresses(&mut self, name: &str, ips: &[IpAddr]) {
        let hosts: String = ips.iter().map(|ip| format!("{ip} {name}\n")).collect();
        std::fs::write(self.hosts_file(), hosts).expect("write the hosts file");
        let pid = self.child.as_ref().expect("dnsmasq runs").id();
        let status = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "SIGHUP to dnsmasq");
        // It logs each file it (re)reads.
        self.wait_for_log("hosts - ");
    }

    /// Makes `_grpc_config.<name>` answer with one TXT record holding `text` (dnsmasq splits
    /// text over 255 bytes into several strings), or with none; restarts dnsmasq.
    pub fn set_txt(&mut self, name: &str, text: Option<&str>) {
        let conf = match text {
            Some(text) => {
                // One line (dnsmasq's config is line by line; JSON's newlines are spaces).
                let quoted = text
                    .replace('\n', " ")
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"");
                format!("txt-record=_grpc_config.{name},\"{quoted}\"\n")
            }
            None => String::new(),
        };
        std::fs::write(self.conf_file(), conf).expect("write the config file");
        self.stop();
        if let Err(why) = self.launch() {
            panic!("restarting dnsmasq on {}: {why}", self.addr);
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.log = None;
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port nothing on 127.0.0.1 uses for UDP or TCP now.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
        let port = udp.local_addr().expect("its address").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// dnsmasq's path; the test command installs it (Debian's `dnsmasq-base`).
fn dnsmasq() -> PathBuf {
    ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("dnsmasq is not installed: scripts/install-deps.sh installs Debian's dnsmasq-base")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}
