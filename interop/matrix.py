#!/usr/bin/env python3
"""The interop matrix: every official test case, both directions, plaintext and TLS.

wirecall's client runs against the Go, C++, Python, Ruby, Node and wirecall servers; the Go,
C++, Python, Ruby and Node clients run against the wirecall server. Prints a markdown table
(case x pair: PASS, FAIL, or N/A with the reason), writes it to target/interop-matrix.md, and
exits 1 on any FAIL. Expects the peers in target/interop-peers (scripts/setup-interop.sh) and
the wirecall binaries built (cargo build -p wirecall-interop).
"""
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
W = os.path.join(ROOT, "target", "interop-peers")
BIN = os.path.join(W, "bin")
CERTS = os.path.join(W, "certs")
WIRECALL = os.path.join(ROOT, "target", "debug")
NODE = os.path.join(ROOT, "interop", "node")

CORE = [
    "empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong",
    "empty_stream", "custom_metadata", "status_code_and_message", "special_status_message",
    "unimplemented_method", "unimplemented_service", "cancel_after_begin",
    "cancel_after_first_response", "timeout_on_sleeping_server",
]
COMPRESSION = [
    "client_compressed_unary", "server_compressed_unary", "client_compressed_streaming",
    "server_compressed_streaming",
]
EXTRA = ["pick_first_unary", "half_duplex", "slow_consumer", "rpc_soak", "channel_soak"]
CASES = CORE + COMPRESSION + EXTRA

# What each client implements (read from its source), credentials cases left out.
CLIENT_CASES = {
    "wirecall": CORE + COMPRESSION + EXTRA,
    "go": CORE + ["pick_first_unary"],
    "cpp": CORE + COMPRESSION + EXTRA,
    "python": [c for c in CORE if c != "custom_metadata"],
    "ruby": [c for c in CORE if c != "special_status_message"]
    + ["client_compressed_unary", "client_compressed_streaming"],
    "node": CORE,
}

# Cases a peer SERVER cannot pass because it does not implement what the case checks.
SERVER_NA = {
    "go": {c: "the Go server ignores expect_compressed/response_compressed" for c in COMPRESSION},
    "python": {c: "the Python server ignores expect_compressed/response_compressed" for c in COMPRESSION},
    "ruby": {c: "the Ruby server ignores expect_compressed/response_compressed" for c in COMPRESSION},
    "node": {c: "grpc-js cannot see or set a message's compressed flag" for c in COMPRESSION},
}
for peer in ("go", "python", "ruby", "node"):
    SERVER_NA[peer]["half_duplex"] = f"the {peer} server has no HalfDuplexCall"


def server_command(name, port, tls):
    tls_flags = ["--use_tls=true"] if tls else []
    if name == "wirecall":
        return [os.path.join(WIRECALL, "interop-server"), f"--port={port}"] + tls_flags
    if name == "node":
        return ["node", os.path.join(NODE, "server.js"), f"--port={port}"] + tls_flags
    cmd = [os.path.join(BIN, f"{'py' if name == 'python' else name}-interop-server"), f"--port={port}"]
    cmd += tls_flags
    if tls and name == "go":
        cmd += [f"--tls_cert_file={CERTS}/server1.pem", f"--tls_key_file={CERTS}/server1.key"]
    return cmd


def client_command(name, port, case, tls):
    if name == "wirecall":
        cmd = [os.path.join(WIRECALL, "interop-client")]
    elif name == "node":
        cmd = ["node", os.path.join(NODE, "client.js")]
    else:
        cmd = [os.path.join(BIN, f"{'py' if name == 'python' else name}-interop-client")]
    cmd += ["--server_host=127.0.0.1", f"--server_port={port}", f"--test_case={case}"]
    if case in ("rpc_soak", "channel_soak"):
        cmd += ["--soak_iterations=100"]
    if tls:
        cmd += ["--use_tls=true", "--use_test_ca=true", "--server_host_override=foo.test.google.fr"]
        if name in ("wirecall", "node"):
            cmd += [f"--ca_file={CERTS}/ca.pem"]
    elif name == "ruby":
        cmd += ["--use_tls=false"]
    return cmd


def wait_for_port(port, proc, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    def __init__(self, name, port, tls):
        self.name, self.port = name, port
        env = dict(os.environ, INTEROP_CERTS_DIR=CERTS)
        self.proc = subprocess.Popen(
            server_command(name, port, tls), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        if not wait_for_port(port, self.proc):
            self.stop()
            raise RuntimeError(f"{name} server did not start on {port}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_case(client, port, case, tls):
    env = dict(os.environ, INTEROP_CERTS_DIR=CERTS)
    if client == "cpp":
        env["GRPC_VERBOSITY"] = "DEBUG"
    try:
        out = subprocess.run(
            client_command(client, port, case, tls), capture_output=True, text=True,
            timeout=120, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return "FAIL", "timed out after 120 s"
    text = out.stdout + out.stderr
    if out.returncode == 0 and "probe failed" not in text.lower():
        return "PASS", ""
    last = [l for l in text.strip().splitlines() if l.strip()][-3:]
    return "FAIL", f"exit {out.returncode}: " + " | ".join(last)[:300]


def main():
    started = time.time()
    results = {}  # (pair, case) -> (verdict, reason)
    pairs = []
    port = 47600
    plan = [("wirecall", s) for s in ("go", "cpp", "python", "ruby", "node", "wirecall")]
    plan += [(c, "wirecall") for c in ("go", "cpp", "python", "ruby", "node")]
    for tls in (False, True):
        for client, server in plan:
            pair = f"{client}→{server}{' tls' if tls else ''}"
            pairs.append(pair)
            port += 1
            srv = Server(server, port, tls)
            try:
                for case in CASES:
                    if case not in CLIENT_CASES[client]:
                        results[(pair, case)] = ("N/A", f"the {client} client does not implement it")
                    elif case in SERVER_NA.get(server, {}):
                        results[(pair, case)] = ("N/A", SERVER_NA[server][case])
                    else:
                        results[(pair, case)] = run_case(client, port, case, tls)
                        if results[(pair, case)][0] == "FAIL":
                            print(f"FAIL {pair} {case}: {results[(pair, case)][1]}", file=sys.stderr)
            finally:
                srv.stop()
            print(f"[matrix] {pair} done ({int(time.time() - started)} s)", file=sys.stderr)

    lines = ["| case | " + " | ".join(pairs) + " |", "|---" * (len(pairs) + 1) + "|"]
    reasons = {}
    for case in CASES:
        cells = []
        for pair in pairs:
            verdict, reason = results[(pair, case)]
            if verdict == "N/A":
                key = reasons.setdefault(reason, len(reasons) + 1)
                cells.append(f"N/A[{key}]")
            else:
                cells.append(verdict)
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    lines.append("")
    for reason, key in reasons.items():
        lines.append(f"- N/A[{key}]: {reason}")
    counts = {v: sum(1 for r in results.values() if r[0] == v) for v in ("PASS", "FAIL", "N/A")}
    lines.append("")
    lines.append(f"Matrix time: {int(time.time() - started)} s.")
    table = "\n".join(lines)
    with open(os.path.join(ROOT, "target", "interop-matrix.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    print(f"interop: {counts['PASS']} passed, {counts['FAIL']} failed, {counts['N/A']} skipped")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
