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
EXTRA = ["pick_first_unary", "half_duplex", "slow_consumer", "rpc_soak", "channel_soak",
         "long_lived_channel"]
CASES = CORE + COMPRESSION + EXTRA

# What each client implements (read from its source), credentials cases left out.
CLIENT_CASES = {
    "wirecall": CORE + COMPRESSION + EXTRA,
    "go": CORE + ["pick_first_unary"],
    "cpp": CORE + COMPRESSION + EXTRA,
    "python": [c for c in CORE if c != "custom_metadata"],
    "ruby": [c for c in CORE if c != "special_status_message"]
    + ["client_compressed_unary", "client_compressed_streaming"],
    "node": CORE + ["client_compressed_unary", "client_compressed_streaming"],
}

# Cases a peer SERVER cannot pass because it does not implement what the case checks.
SERVER_NA = {
    "go": {c: "the Go server ignores expect_compressed/response_compressed" for c in COMPRESSION},
    "python": {c: "the Python server ignores expect_compressed/response_compressed" for c in COMPRESSION},
    "ruby": {c: "the Ruby server ignores expect_compressed/response_compressed" for c in COMPRESSION},
    "node": {c: "grpc-js cannot see or set a message's compressed flag" for c in COMPRESSION},
}
SERVER_NA["ruby"]["half_duplex"] = (
    "the Ruby server's HalfDuplexCall raises ArgumentError (wrong number of arguments)")

# Cases a peer CLIENT cannot run over TLS (checked against its own server too).
CLIENT_NA_TLS = {
    ("cpp", "pick_first_unary"): "the C++ client's pick_first_unary drops "
    "--server_host_override over TLS (it fails against the C++ server too)",
}

# The negative HTTP/2 test server's cases, in the order of its ports (base_port + i).
HTTP2_CASES = [
    "data_frame_padding", "goaway", "max_streams", "no_df_padding_sanity_test", "ping",
    "rst_after_data", "rst_after_header", "rst_during_data",
]


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
    if case == "long_lived_channel":
        cmd += ["--soak_iterations=3", "--iteration_interval=1"]
    if case in ("rpc_soak", "channel_soak"):
        cmd += ["--soak_iterations=100"]
        if name == "cpp":
            cmd += ["--soak_overall_timeout_seconds=100",
                    "--soak_per_iteration_max_acceptable_latency_ms=5000"]
    if tls:
        cmd += ["--use_tls=true", "--use_test_ca=true", "--server_host_override=foo.test.google.fr"]
        if name in ("wirecall", "node"):
            cmd += [f"--ca_file={CERTS}/ca.pem"]
    elif name == "ruby":
        cmd += ["--use_tls=false"]
    return cmd


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        self.log = open(os.path.join(ROOT, "target", f"interop-{name}-server.log"), "w")
        self.proc = subprocess.Popen(
            server_command(name, port, tls), stdout=self.log, stderr=subprocess.STDOUT,
            env=env, cwd=ROOT)
        if not wait_for_port(port, self.proc):
            self.stop()
            raise RuntimeError(f"{name} server did not start on {port}: see {self.log.name}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


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


def run_negative_http2():
    """The wirecall client against grpc's misbehaving HTTP/2 server, one port per case."""
    base = None
    for candidate in range(47800, 48800, 10):
        if all(port_free(candidate + i) for i in range(len(HTTP2_CASES))):
            base = candidate
            break
    if base is None:
        return {case: ("FAIL", "no free ports for the negative server") for case in HTTP2_CASES}
    log = open(os.path.join(ROOT, "target", "interop-http2-negative-server.log"), "w")
    proc = subprocess.Popen([os.path.join(BIN, "http2-test-server"), f"--base_port={base}"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        if not all(wait_for_port(base + i, proc) for i in range(len(HTTP2_CASES))):
            return {case: ("FAIL", "negative server did not start") for case in HTTP2_CASES}
        results = {}
        for i, case in enumerate(HTTP2_CASES):
            results[case] = run_case("wirecall", base + i, case, False)
            if results[case][0] == "FAIL":
                print(f"FAIL http2-negative {case}: {results[case][1]}", file=sys.stderr)
        return results
    finally:
        proc.terminate()
        proc.wait()
        log.close()


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def main():
    started = time.time()
    results = {}  # (pair, case) -> (verdict, reason)
    pairs = []
    plan = [("wirecall", s) for s in ("go", "cpp", "python", "ruby", "node", "wirecall")]
    plan += [(c, "wirecall") for c in ("go", "cpp", "python", "ruby", "node")]
    for tls in (False, True):
        for client, server in plan:
            pair = f"{client}→{server}{' tls' if tls else ''}"
            pairs.append(pair)
            port = free_port()
            srv = Server(server, port, tls)
            try:
                for case in CASES:
                    if case not in CLIENT_CASES[client]:
                        results[(pair, case)] = ("N/A", f"the {client} client does not implement it")
                    elif case in SERVER_NA.get(server, {}):
                        results[(pair, case)] = ("N/A", SERVER_NA[server][case])
                    elif tls and (client, case) in CLIENT_NA_TLS:
                        results[(pair, case)] = ("N/A", CLIENT_NA_TLS[(client, case)])
                    else:
                        results[(pair, case)] = run_case(client, port, case, tls)
                        if results[(pair, case)][0] == "FAIL":
                            print(f"FAIL {pair} {case}: {results[(pair, case)][1]}", file=sys.stderr)
            finally:
                srv.stop()
            print(f"[matrix] {pair} done ({int(time.time() - started)} s)", file=sys.stderr)

    negative = run_negative_http2()
    for case, result in negative.items():
        results[("wirecall→http2-negative", case)] = result

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
    lines.append("| negative HTTP/2 case | wirecall client vs grpc's test/http2_test server |")
    lines.append("|---|---|")
    for case, (verdict, reason) in negative.items():
        lines.append(f"| {case} | {verdict}{' (' + reason + ')' if reason else ''} |")
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
