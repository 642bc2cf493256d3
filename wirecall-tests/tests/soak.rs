//! The short soak (60 s, a sample every 6 s, 50 connections, all four patterns) that the
//! test suite runs; the 30-minute run is `cargo run -p wirecall-tests --bin soak` (see
//! `src/bin/soak.rs`). Fails if any call fails or the server's memory is not flat.

use std::process::Command;

#[test]
fn a_minute_of_mixed_load_fails_no_call_and_keeps_memory_flat() {
    let output = Command::new(env!("CARGO_BIN_EXE_soak"))
        .args(["--secs", "60", "--sample-secs", "6", "--connections", "50"])
        .output()
        .expect("run the soak binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "the soak failed:\n{stdout}{stderr}"
    );
    assert!(stdout.contains("soak: passed"));
    let calls: u64 = stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("soak: ")?
                .split(" calls")
                .next()?
                .parse()
                .ok()
        })
        .expect("a call count");
    assert!(calls > 1000, "only {calls} calls in a minute");
}
