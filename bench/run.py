#!/usr/bin/env python3
"""Side-by-side benchmark: wirecall vs tonic vs a raw h2 echo server, in one run.

    python3 bench/run.py                 # full run (>= 5 repetitions), writes bench/RESULTS.md
    python3 bench/run.py --quick         # 3 repetitions, shorter runs
    python3 bench/run.py --smoke         # every server and client once, a few seconds, no file
    python3 bench/run.py --profile debug # build and run the debug binaries (CI smoke)

It builds the `wirecall-bench` binaries itself (`cargo build --profile PROFILE`), pins each
server to core 0 and every load generator (h2load, bench-client, iperf3 and sockperf
clients) to core 1 with `taskset`, and interleaves the servers: every repetition starts a
fresh process of each server in turn (the order rotates) and runs the whole scenario list on
it. Figures are medians with min-max over the repetitions. Server CPU time comes from
/proc/PID/stat (utime + stime) around each measured window; peak RSS is VmHWM.

Errors: h2load only sees HTTP statuses, so every h2load run uses a fixed request count and
is checked exactly: all requests succeeded with 2xx and the DATA bytes received equal
count x the echoed body (a gRPC error is a trailers-only response without the message).
bench-client checks every response itself; the servers count non-OK statuses of their
handlers and print them when stopped. Any error is shown in the table and listed.

Only 127.0.0.1 is ever contacted. Every process started here is stopped by its PID.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# "wirecall" runs on h2, "wirecall-own" on wirecall's own HTTP/2 engine (the same binary);
# "pajamax" (bench/pajamax-echo, a crate of its own) serves the unary h2load rows only.
SERVERS = ["wirecall", "wirecall-own", "tonic", "h2", "pajamax"]
SERVER_BINARIES = {"wirecall": "wirecall-echo", "wirecall-own": "wirecall-echo",
                   "tonic": "tonic-echo", "h2": "h2-echo", "pajamax": "pajamax-echo"}
SERVER_TITLES = {"wirecall": "wirecall on h2", "wirecall-own": "wirecall, own HTTP/2",
                 "tonic": "tonic 0.14", "h2": "raw h2", "pajamax": "pajamax 0.3"}
SERVER_ENV = {"wirecall-own": {"WIRECALL_HTTP2_ENGINE": "wirecall"}}
# Servers that answer the unary h2load rows and nothing else (no streaming, no bench-client).
UNARY_ONLY = {"pajamax"}
PAJAMAX_DIR = os.path.join(HERE, "pajamax-echo")
CLIENTS = ["wirecall", "tonic"]
GRID_CONNS = [1, 4, 16, 50]
GRID_STREAMS = [1, 10, 100]
SERVER_CORE, LOAD_CORE = 0, 1

# Every process this script started and has not yet stopped, by PID.
RUNNING = {}


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------
# Settings


class Settings:
    """How long and how often: the full run, --quick and --smoke."""

    def __init__(self, args):
        self.smoke = args.smoke
        if args.smoke:
            self.reps, self.h2load_secs, self.client_secs, self.client_warmup = 1, 0.0, 0.1, 0.02
            self.calibrate_secs = 0.0
            self.idle_conns, self.hold_streams, self.settle = 5, 10, 0.05
            self.ref_secs = 1
        elif args.quick:
            self.reps, self.h2load_secs, self.client_secs, self.client_warmup = 3, 0.5, 0.5, 0.1
            self.calibrate_secs = 0.25
            self.idle_conns, self.hold_streams, self.settle = 200, 1000, 0.3
            self.ref_secs = 1
        else:
            self.reps, self.h2load_secs, self.client_secs, self.client_warmup = 5, 1.0, 1.0, 0.2
            self.calibrate_secs = 0.3
            self.idle_conns, self.hold_streams, self.settle = 200, 1000, 0.3
            self.ref_secs = 2
        if args.reps:
            self.reps = args.reps
        # pajamax only in measured runs (its release build is a crate of its own).
        default = [n for n in SERVERS if n != "pajamax" or not args.smoke]
        # (Other harnesses build these settings with only smoke, quick and reps.)
        chosen = getattr(args, "servers", None)
        self.servers = chosen.split(",") if chosen else default
        unknown = [n for n in self.servers if n not in SERVERS]
        if unknown:
            sys.exit(f"unknown server(s) {unknown}: pick from {SERVERS}")
        cores = len(os.sched_getaffinity(0))
        self.pin = cores >= 2 and shutil.which("taskset") is not None
        if not self.pin:
            log("fewer than 2 cores (or no taskset): nothing is pinned")

    def pinned(self, core):
        return ["taskset", "-c", str(core)] if self.pin else []


# ----------------------------------------------------------------------------------------
# Processes


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """Reads lines from a pipe with a deadline (no buffering surprises with select)."""

    def __init__(self, pipe):
        self.fd = pipe.fileno()
        self.buf = b""
        self.eof = False

    def read(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                if self.buf:
                    line, self.buf = self.buf, b""
                    return line.decode(errors="replace")
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line in time")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self.eof = True
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")


def start(cmd, **kwargs):
    proc = subprocess.Popen(cmd, **kwargs)
    RUNNING[proc.pid] = proc
    return proc


def stop(proc, sig=signal.SIGTERM, timeout=10):
    """Stops one process we started, by PID: `sig`, then SIGKILL after `timeout`."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
    RUNNING.pop(proc.pid, None)


def stop_all(*_):
    for proc in list(RUNNING.values()):
        stop(proc, timeout=3)


def run(cmd, timeout):
    """Runs a load process to completion; returns (stdout, stderr, returncode)."""
    proc = start(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc, signal.SIGKILL)
        out, err = proc.communicate()
        return out, err + f"\n(killed after {timeout}s)", -9
    RUNNING.pop(proc.pid, None)
    return out, err, proc.returncode


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the whole process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, name, bindir, settings, extra=()):
        self.name = name
        self.binary = os.path.join(bindir, SERVER_BINARIES[name])
        if name == "pajamax":
            self.binary = os.path.join(PAJAMAX_DIR, "target", "release", "pajamax-echo")
        self.settings = settings
        self.extra = list(extra)
        self.proc = None
        self.addr = None
        self.counters = {}

    def start(self):
        port = free_port()
        self.addr = f"127.0.0.1:{port}"
        self.stderr = tempfile.TemporaryFile()
        cmd = [*self.settings.pinned(SERVER_CORE), self.binary, "--addr", self.addr, *self.extra]
        env = dict(os.environ, **SERVER_ENV.get(self.name, {}))
        env.pop("WIRECALL_HTTP2_ENGINE", None) if self.name not in SERVER_ENV else None
        self.proc = start(cmd, stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        line = Lines(self.proc.stdout).read(30)
        if not line or not line.startswith("listening on"):
            raise RuntimeError(f"{self.name}: expected 'listening on', got {line!r}")

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def rss_kib(self):
        return status_kib(self.proc.pid, "VmRSS")

    def stop(self):
        """Stops the server; returns its peak RSS (KiB) and reads its counters."""
        hwm = status_kib(self.proc.pid, "VmHWM")
        stop(self.proc)
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace")
        for line in text.splitlines():
            if line.startswith("counters "):
                self.counters = json.loads(line[len("counters "):])
        if not self.counters:
            log(f"{self.name}: no counters on stderr: {text[-500:]!r}")
        return hwm


# ----------------------------------------------------------------------------------------
# Load: h2load


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(p * len(sorted_values) / 100 - 1e-9)))
    return sorted_values[rank - 1]


class H2load:
    def __init__(self, settings, bodies, tmp):
        self.settings = settings
        self.bodies = bodies  # name -> (path, length)
        self.tmp = tmp

    def run(self, server, path, body, conns, streams, n=None, duration=None, latency=False):
        body_path, body_len = self.bodies[body]
        cmd = [*self.settings.pinned(LOAD_CORE), "h2load", "-c", str(conns), "-m", str(streams),
               "-H", "content-type: application/grpc", "-H", "te: trailers", "-d", body_path]
        if n is not None:
            cmd += ["-n", str(n)]
        else:
            cmd += ["-D", f"{int(duration * 1000)}ms"]
        log_path = os.path.join(self.tmp, "h2load.log")
        if latency:
            # h2load appends to its log file: start from an empty one.
            if os.path.exists(log_path):
                os.remove(log_path)
            cmd += ["--log-file", log_path]
        cmd.append(f"http://{server.addr}{path}")
        cpu0 = server.cpu()
        out, err, code = run(cmd, timeout=120)
        cpu1 = server.cpu()
        result = {"cpu_s": cpu1 - cpu0}
        m = re.search(r"finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s", out)
        req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded", out)
        codes = re.search(r"status codes: (\d+) 2xx", out)
        data = re.search(r"\((\d+)\) data", out)
        if code != 0 or not (m and req and codes and data):
            raise RuntimeError(f"h2load failed ({code}): {' '.join(cmd)}\n{out}\n{err}")
        secs = float(m.group(1)) / {"us": 1e6, "ms": 1e3, "s": 1.0}[m.group(2)]
        succeeded, ok2xx, data_bytes = int(req.group(4)), int(codes.group(1)), int(data.group(1))
        result.update(secs=secs, rate=float(m.group(3)), requests=succeeded)
        errors = 0
        if n is not None:
            # Exact check: every request answered 200 with the full echo in its DATA.
            errors = max(n - succeeded, n - ok2xx)
            missing = ok2xx * body_len - data_bytes
            if missing > 0:
                errors = max(errors, -(-missing // body_len))
        result["errors"] = errors
        result["mb_per_s"] = data_bytes / secs / 1e6 if secs else 0.0
        if latency:
            with open(log_path) as f:
                times = sorted(int(line.split("\t")[2]) for line in f if line.strip())
            result.update(p50_us=percentile(times, 50), p99_us=percentile(times, 99),
                          p999_us=percentile(times, 99.9))
        return result


# ----------------------------------------------------------------------------------------
# Syscalls per request (strace -c)

# (field, conns, streams, requests in a measured run); the run is separate from the timed
# ones, since a traced server is several times slower.
SYSCALL_SCENARIOS = [("sys_1x1", 1, 1, 5000), ("sys_1x100", 1, 100, 20000),
                     ("sys_16x10", 16, 10, 20000)]


def strace_total(path):
    """The `calls` column of the total line of a `strace -c` summary."""
    with open(path) as f:
        for line in f:
            fields = line.split()
            if fields and fields[-1] == "total":
                return int(fields[3])
    raise RuntimeError(f"no total line in {path}")


def syscalls_per_request(settings, h2load, server, tmp):
    """Attaches `strace -c -f` to every thread of the running server, runs each unary
    h2load scenario of SYSCALL_SCENARIOS with a fixed request count, and divides the
    syscalls the server made by the requests served."""
    result = {}
    for field, conns, streams, n in SYSCALL_SCENARIOS:
        n = max(conns * streams, 20) if settings.smoke else n
        out_path = os.path.join(tmp, "strace.out")
        tracer = start(["strace", "-c", "-f", "-o", out_path, "-p", str(server.proc.pid)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            # strace says "Process PID attached (with N threads)" once it holds them all.
            lines = Lines(tracer.stderr)
            while True:
                line = lines.read(30)
                if line is None:
                    raise RuntimeError("strace ended before attaching (is ptrace allowed?)")
                if "attached" in line:
                    break
            r = h2load.run(server, "/bench.Echo/Unary", "echo100", conns, streams, n=n)
        finally:
            stop(tracer, signal.SIGINT, timeout=30)
        if r["errors"]:
            raise RuntimeError(f"{r['errors']} errors under strace at {conns} x {streams}")
        result[field] = strace_total(out_path) / r["requests"]
    return result


# ----------------------------------------------------------------------------------------
# Load: bench-client


class Client:
    def __init__(self, settings, binary):
        self.settings = settings
        self.binary = binary

    def cmd(self, server, impl, scenario, extra=(), secs=None, warmup=None):
        s = self.settings
        return [*s.pinned(LOAD_CORE), self.binary, "run", "--impl", impl, "--addr", server.addr,
                "--scenario", scenario,
                "--secs", str(s.client_secs if secs is None else secs),
                "--warmup", str(s.client_warmup if warmup is None else warmup), *extra]

    def run(self, server, impl, scenario, extra=(), secs=None, warmup=None):
        """One client run; the server's CPU time is taken over the measured window only."""
        cmd = self.cmd(server, impl, scenario, extra, secs, warmup)
        proc = start(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines = Lines(proc.stdout)
        cpu0, result = server.cpu(), None
        try:
            while True:
                line = lines.read(120)
                if line is None:
                    break
                data = json.loads(line)
                if data.get("mark") == "start":
                    cpu0 = server.cpu()
                else:
                    result = data
                    result["cpu_s"] = server.cpu() - cpu0
                    break
            proc.wait(timeout=60)
        finally:
            stop(proc, signal.SIGKILL)
        if result is None or "fatal" in result or proc.returncode != 0:
            err = proc.stderr.read().decode(errors="replace")
            raise RuntimeError(f"bench-client failed: {' '.join(cmd)}\n{result}\n{err}")
        return result

    def memory(self, server):
        """Idle-connection and per-stream memory of a fresh server (RSS deltas)."""
        s = self.settings
        self.run(server, "wirecall", "unary", secs=0.05, warmup=0)  # one-time setup first
        time.sleep(s.settle)
        base = server.rss_kib()
        cmd = [*s.pinned(LOAD_CORE), self.binary, "run", "--impl", "wirecall", "--addr",
               server.addr, "--scenario", "hold", "--conns", str(s.idle_conns),
               "--hold-streams", str(s.hold_streams)]
        proc = start(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines = Lines(proc.stdout)
        try:
            if json.loads(lines.read(60)).get("stage") != "conns":
                raise RuntimeError("hold: expected the conns stage")
            time.sleep(s.settle)
            with_conns = server.rss_kib()
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            if json.loads(lines.read(60)).get("stage") != "streams":
                raise RuntimeError("hold: expected the streams stage")
            time.sleep(s.settle)
            with_streams = server.rss_kib()
            proc.stdin.write(b"done\n")
            proc.stdin.close()
            final = json.loads(lines.read(60))
            proc.wait(timeout=30)
        finally:
            stop(proc, signal.SIGKILL)
        if final.get("stage") != "done" or proc.returncode != 0:
            raise RuntimeError(f"hold failed: {final}")
        return {
            "base_mib": base / 1024,
            "conn_kib": (with_conns - base) / s.idle_conns,
            "stream_kib": (with_streams - with_conns) / s.hold_streams,
        }


# ----------------------------------------------------------------------------------------
# Loopback references


def iperf3(settings):
    port = free_port()
    server = start([*settings.pinned(SERVER_CORE), "iperf3", "-s", "-1", "--forceflush", "-p",
                    str(port), "-B", "127.0.0.1"], stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT)
    try:
        lines = Lines(server.stdout)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = lines.read(10)
            if line is None or "listening" in line:
                break
        out, err, code = run([*settings.pinned(LOAD_CORE), "iperf3", "-c", "127.0.0.1",
                              "-p", str(port), "-t", str(settings.ref_secs), "-J"], timeout=60)
    finally:
        stop(server)
    if code != 0:
        raise RuntimeError(f"iperf3 failed: {out}\n{err}")
    report = json.loads(out)["end"]
    return {"gbit_s": report["sum_received"]["bits_per_second"] / 1e9}


def sockperf(settings):
    port = free_port()
    server = start([*settings.pinned(SERVER_CORE), "sockperf", "server", "--tcp", "-i",
                    "127.0.0.1", "-p", str(port)], stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT)
    try:
        lines = Lines(server.stdout)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = lines.read(10)
            if line is None or "block on socket" in line:
                break
        out, err, code = run([*settings.pinned(LOAD_CORE), "sockperf", "ping-pong", "--tcp",
                              "-i", "127.0.0.1", "-p", str(port), "-t", str(settings.ref_secs),
                              "-m", "107", "--full-rtt"], timeout=60)
    finally:
        stop(server)
    text = out + err
    avg = re.search(r"avg-rtt=([\d.]+)", text)
    pcts = {float(p): float(v) for p, v in
            re.findall(r"percentile ([\d.]+) =\s*([\d.]+)", text)}
    if code != 0 or not avg or 50.0 not in pcts:
        raise RuntimeError(f"sockperf failed: {text}")
    return {"avg_us": float(avg.group(1)), "p50_us": pcts[50.0], "p99_us": pcts[99.0],
            "p999_us": pcts.get(99.9, 0.0)}


# ----------------------------------------------------------------------------------------
# The scenario list


def h2load_scenarios(server_name=None):
    """(key, title, rpc path, body, conns, streams, latency log?)"""
    items = []
    for c in GRID_CONNS:
        for m in GRID_STREAMS:
            # The grid's 1 x 1 cell is also the unary latency scenario (with its log).
            key = "unary-latency" if (c, m) == (1, 1) else f"grid-{c}x{m}"
            title = (f"Unary echo 100 B, {c} conn{'s' if c > 1 else ''} x {m} "
                     f"stream{'s' if m > 1 else ''} (h2load)")
            items.append((key, title, "/bench.Echo/Unary", "echo100", c, m, (c, m) == (1, 1)))
    items += [
        ("streams-1000", "Unary echo 100 B, 1 conn x 1000 streams (h2load)",
         "/bench.Echo/Unary", "echo100", 1, 1000, True),
        ("complex", "Complex message echo, 16 conn x 10 streams (h2load)",
         "/bench.Echo/Complex", "complex", 16, 10, False),
        ("unary-1mib", "Unary echo 1 MiB, 1 conn x 1 stream (h2load)",
         "/bench.Echo/Unary", "payload1m", 1, 1, False),
    ]
    if server_name in UNARY_ONLY:
        # pajamax: the 100 B unary grid. Not 1 x 1000: it reads each DATA frame as one whole
        # message and keeps its connection window at 65,535 until it first answers, so
        # about 600 of 1000 requests pass before one is split and the connection fails;
        # not the large payloads either, for the same reason.
        items = [i for i in items if i[3] == "echo100" and i[0] != "streams-1000"]
    return items


def client_scenarios(server_name):
    """(key suffix, title, scenario, extra args); h2-echo cannot serve ServerStream."""
    items = [
        ("unary", "Unary latency, 100 B, sequential", "unary", []),
        ("concurrent", "1 conn x 1000 concurrent unary streams", "concurrent", ["--streams", "1000"]),
        ("pingpong", "Bidi ping-pong, 100 B", "pingpong", []),
    ]
    if server_name != "h2":
        items += [
            ("stream-1k", "Server streaming, 1 KiB messages", "stream", ["--size", "1024"]),
            ("stream-64k", "Server streaming, 64 KiB messages", "stream", ["--size", "65536"]),
        ]
    return items


class Bench:
    def __init__(self, settings, bindir, tmp):
        self.settings = settings
        self.bindir = bindir
        self.tmp = tmp
        client_bin = os.path.join(bindir, "bench-client")
        body_dir = os.path.join(tmp, "bodies")
        out = subprocess.run([client_bin, "bodies", "--out", body_dir], check=True,
                             capture_output=True, text=True).stdout
        sizes = json.loads(out)
        bodies = {name: (os.path.join(body_dir, f"{name}.bin"), size)
                  for name, size in sizes.items()}
        self.h2load = H2load(settings, bodies, tmp)
        self.client = Client(settings, client_bin)
        self.calibrated = {}  # (server, key) -> h2load request count
        # results[key][server] = list of dicts, one per repetition
        self.results = {}
        self.titles = {}
        self.errors = []

    def record(self, key, title, server, result):
        self.titles[key] = title
        self.results.setdefault(key, {}).setdefault(server, []).append(result)
        if result.get("errors"):
            self.errors.append(f"{key} on {server}: {result['errors']} errors "
                               f"{result.get('first_error', '')}".strip())

    def count_for(self, server, key, conns, streams):
        if self.settings.smoke:
            return max(conns * streams, 20)
        floor = max(conns * streams * 2, 50)
        return max(floor, self.calibrated.get((server, key), floor))

    def calibrate(self, name):
        """Short timed h2load runs fix each scenario's request count for ~h2load_secs."""
        server = Server(name, self.bindir, self.settings)
        server.start()
        try:
            for key, _, path, body, c, m, _ in h2load_scenarios(name):
                r = self.attempt(f"calibrating {key} on {name}", lambda: self.h2load.run(
                    server, path, body, c, m, duration=self.settings.calibrate_secs))
                if r:
                    self.calibrated[(name, key)] = int(r["rate"] * self.settings.h2load_secs)
        finally:
            server.stop()

    def attempt(self, what, fn):
        """Runs one measurement; a failure is listed with the errors and the run goes on."""
        try:
            return fn()
        except (RuntimeError, TimeoutError, ValueError, OSError) as e:
            log(f"FAILED: {what}: {str(e)[:2000]}")
            self.errors.append(f"{what} failed: {str(e).splitlines()[0][:300]}")
            return None

    def one_server(self, name):
        s = self.settings
        server = Server(name, self.bindir, s)
        server.start()
        memory = None
        try:
            if name not in UNARY_ONLY:
                memory = self.attempt(f"memory on {name}", lambda: self.client.memory(server))
            # Warm-up: a burst of unary calls on several connections.
            warm = self.attempt(f"warm-up on {name}", lambda: self.h2load.run(
                server, "/bench.Echo/Unary", "echo100", 4, 10, n=200 if s.smoke else 20000))
            if warm and warm["errors"]:
                self.errors.append(f"warm-up on {name}: {warm['errors']} errors")
            for key, title, path, body, c, m, latency in h2load_scenarios(name):
                n = self.count_for(name, key, c, m)
                result = self.attempt(f"{key} on {name}", lambda: self.h2load.run(
                    server, path, body, c, m, n=n, latency=latency))
                if result:
                    self.record(key, title, name, result)
            for impl in CLIENTS if name not in UNARY_ONLY else []:
                for suffix, title, scenario, extra in client_scenarios(name):
                    key = f"client-{impl}-{suffix}"
                    result = self.attempt(f"{key} on {name}", lambda: self.client.run(
                        server, impl, scenario, extra))
                    if result:
                        self.record(key, f"{title} (bench-client, {impl} client)", name, result)
            if shutil.which("strace"):
                result = self.attempt(f"syscalls on {name}", lambda: syscalls_per_request(
                    s, self.h2load, server, self.tmp))
                if result:
                    self.record("syscalls", "Syscalls per request (strace -c -f, h2load unary "
                                "100 B; a separate run)", name, result)
        finally:
            hwm = server.stop()
        if memory is not None:
            memory["peak_mib"] = hwm / 1024
            self.record("memory", "Memory (fresh server; wirecall client)", name, memory)
        errors = server.counters.get("errors", 0)
        if errors:
            self.errors.append(f"{name} server counted {errors} non-OK statuses")
        self.record("server-errors", "Server-reported non-OK statuses", name,
                    {"errors_counted": errors})

    def references(self):
        for key, title, fn in (("iperf3", "TCP loopback throughput (iperf3, 1 stream)", iperf3),
                               ("sockperf", "TCP loopback ping-pong, 107 B (sockperf)", sockperf)):
            try:
                self.record(key, title, "ref", fn(self.settings))
            except (RuntimeError, OSError, KeyError, json.JSONDecodeError) as e:
                log(f"{key}: skipped: {str(e)[:300]}")

    def run(self):
        s = self.settings
        servers = s.servers
        if not s.smoke:
            for name in servers:
                log(f"calibrating {name}")
                self.calibrate(name)
        for rep in range(s.reps):
            order = servers[rep % len(servers):] + servers[:rep % len(servers)]
            for name in order:
                log(f"repetition {rep + 1}/{s.reps}: {name}")
                self.one_server(name)
            if shutil.which("iperf3") or shutil.which("sockperf"):
                log(f"repetition {rep + 1}/{s.reps}: loopback references")
                self.references()


# ----------------------------------------------------------------------------------------
# Report

# (metric field, label, unit format, higher is better)
H2LOAD_METRICS = [("rate", "req/s", "{:,.0f}", True),
                  ("per_cpu", "req per server CPU-s", "{:,.0f}", True)]
LATENCY_METRICS = [("p50_us", "p50 latency (µs)", "{:,.0f}", False),
                   ("p99_us", "p99 latency (µs)", "{:,.0f}", False),
                   ("p999_us", "p99.9 latency (µs)", "{:,.0f}", False)]


def metrics_for(key):
    if key == "memory":
        return [("conn_kib", "server RSS per idle connection (KiB)", "{:,.1f}", False),
                ("stream_kib", "server RSS per open stream (KiB)", "{:,.1f}", False),
                ("base_mib", "server RSS at start (MiB)", "{:,.1f}", False),
                ("peak_mib", "server peak RSS, VmHWM (MiB)", "{:,.1f}", False)]
    if key == "syscalls":
        return [(field, f"server syscalls per request, {c} conn{'s' if c > 1 else ''} x {m}",
                 "{:,.2f}", False) for field, c, m, _ in SYSCALL_SCENARIOS]
    if key == "server-errors":
        return [("errors_counted", "non-OK statuses", "{:,.0f}", False)]
    if key == "iperf3":
        return [("gbit_s", "Gbit/s", "{:,.1f}", True)]
    if key == "sockperf":
        return [("p50_us", "round trip p50 (µs)", "{:,.1f}", False),
                ("p99_us", "round trip p99 (µs)", "{:,.1f}", False),
                ("avg_us", "round trip mean (µs)", "{:,.1f}", False)]
    if key in ("unary-latency", "streams-1000"):
        return [H2LOAD_METRICS[0]] + LATENCY_METRICS + [H2LOAD_METRICS[1]]
    if key == "unary-1mib":
        return H2LOAD_METRICS + [("mb_per_s", "response MB/s", "{:,.0f}", True)]
    if key.startswith("client-") and key.endswith(("stream-1k", "stream-64k")):
        return [("mb_per_s", "MB/s (payload)", "{:,.0f}", True),
                ("msgs_per_s", "messages/s", "{:,.0f}", True),
                ("mb_per_cpu", "MB per server CPU-s", "{:,.0f}", True)]
    if key.startswith("client-"):
        return [("rate", "calls/s" if "pingpong" not in key else "round trips/s",
                 "{:,.0f}", True)] + LATENCY_METRICS + [
                    ("per_cpu", "calls per server CPU-s", "{:,.0f}", True)]
    return H2LOAD_METRICS


def derive(result):
    """Adds the per-server-CPU-second figures."""
    cpu = result.get("cpu_s")
    if cpu:
        if "requests" in result:
            result["per_cpu"] = result["requests"] / cpu
        elif "calls" in result and "bytes" not in result:
            result["per_cpu"] = result["calls"] / cpu
        if "bytes" in result:
            result["mb_per_cpu"] = result["bytes"] / 1e6 / cpu
    return result


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def cell(summary, fmt, errors):
    if summary is None:
        return "–"
    med, lo, hi = summary
    text = fmt.format(med)
    if lo != hi:
        text += f" ({fmt.format(lo)}–{fmt.format(hi)})"
    if errors:
        text += f" **{errors} errors**"
    return text


def ratio(a, b):
    if a is None or b is None or not b[0]:
        return None
    return a[0] / b[0]


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return model, os.cpu_count()


def versions():
    found = {}
    try:
        lock = open(os.path.join(ROOT, "Cargo.lock")).read()
        for name in ("tonic", "h2", "hyper", "prost", "tokio"):
            m = re.search(r'name = "%s"\nversion = "([^"]+)"' % re.escape(name), lock)
            if m:
                found[name] = m.group(1)
    except OSError:
        pass
    for tool, cmd in (("rustc", ["rustc", "--version"]), ("h2load", ["h2load", "--version"]),
                      ("iperf3", ["iperf3", "--version"]), ("sockperf", ["sockperf", "--version"])):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            found[tool] = (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            pass
    return found


def report(bench, args, wall):
    s = bench.settings
    model, cores = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    v = versions()
    lines = [
        "# wirecall (on h2 and on its own HTTP/2) vs tonic vs raw h2 vs pajamax: benchmark results",
        "",
        f"Generated by `python3 bench/run.py{' ' + ' '.join(args) if args else ''}` on {now}; "
        f"do not edit by hand.",
        "",
        f"- Machine: {model}, {cores} cores, Linux {platform.release()}"
        f"{'' if s.pin else ' (not pinned: fewer than 2 cores)'}",
        f"- Build: profile `{bench.profile}`; {v.get('rustc', 'rustc ?')}; tonic {v.get('tonic', '?')}, "
        f"hyper {v.get('hyper', '?')}, h2 {v.get('h2', '?')}, prost {v.get('prost', '?')}, "
        f"tokio {v.get('tokio', '?')}",
        f"- Load: {v.get('h2load', 'h2load')}; {v.get('iperf3', 'iperf3')}; "
        f"{v.get('sockperf', 'sockperf')}",
        f"- {s.reps} repetition(s), servers interleaved (a fresh process of each server per "
        f"repetition, order rotating); wall time {wall:.0f} s",
        "- Server on core 0, every load generator on core 1 (`taskset`); the servers run "
        "tokio's multi-thread runtime, which sees one core. HTTP/2 windows 1 MiB per stream "
        "and 4 MiB per connection, up to 1024 streams per connection, TCP_NODELAY, on all "
        "three servers and both clients.",
        "- Each figure: median over the repetitions, (min–max) when they differ. Ratios are of "
        "medians. Latency, memory and syscall rows: lower is better; every other row: higher "
        "is better. `per server CPU-s`: work done per second of server CPU time (utime + stime "
        "from /proc/PID/stat over the measured window).",
        "- h2load rows: fixed request counts (sized for about "
        f"{s.h2load_secs:g} s per run), every run checked for 2xx and the full echoed bytes. "
        "bench-client rows: each call is checked (status and echoed sizes); "
        f"{s.client_secs:g} s measured after {s.client_warmup:g} s of warm-up. "
        "The raw h2 server has no ServerStream.",
        f"- Memory: a fresh server, one call, then {s.idle_conns} idle connections (one unary "
        f"call each) and then {s.hold_streams} open bidi streams (one message echoed each) "
        "over 4 of them; RSS deltas divided by the count.",
        "- Syscalls: `strace -c -f` attached to every thread of the server for a separate "
        "h2load run with a fixed request count (tracing slows the server, so these runs are "
        "not timed); all syscalls the server made, divided by the requests.",
        "",
    ]
    servers = s.servers
    # The ratios: each wirecall engine to tonic, ours to pajamax and to wirecall on h2.
    ratio_pairs = [(a, b) for a, b in (("wirecall", "tonic"), ("wirecall-own", "tonic"),
                                       ("wirecall-own", "pajamax"), ("wirecall-own", "wirecall"),
                                       ("wirecall", "h2"))
                   if a in servers and b in servers]
    short = {"wirecall": "wirecall", "wirecall-own": "own", "tonic": "tonic", "h2": "raw h2",
             "pajamax": "pajamax"}
    lines += [
        "| scenario | metric | " + " | ".join(SERVER_TITLES[n] for n in servers) + " | "
        + " | ".join(f"{short[a]}/{short[b]}" for a, b in ratio_pairs) + " |",
        "| --- | --- |" + " ---: |" * (len(servers) + len(ratio_pairs)),
    ]
    trailing = []
    order = [k for k, *_ in h2load_scenarios()]
    order += [f"client-{impl}-{suffix}" for impl in CLIENTS
              for suffix, *_ in client_scenarios("wirecall")]
    order += ["memory", "syscalls", "server-errors"]
    for key in order:
        if key not in bench.results:
            continue
        per_server = bench.results[key]
        for field, label, fmt, higher in metrics_for(key):
            sums, errs = {}, {}
            for name in servers:
                runs = [derive(r) for r in per_server.get(name, [])]
                sums[name] = summarize([r.get(field) for r in runs])
                errs[name] = sum(r.get("errors", 0) or 0 for r in runs)
            if all(v is None for v in sums.values()):
                continue
            cols = [cell(sums[n], fmt, errs[n]) for n in servers]
            fmt_r = lambda r: "–" if r is None else f"{r:.2f}"
            ratios = [fmt_r(ratio(sums[a], sums[b])) for a, b in ratio_pairs]
            lines.append(f"| {bench.titles[key]} | {label} | {' | '.join(cols)} | "
                         f"{' | '.join(ratios)} |")
            for name in ("wirecall", "wirecall-own"):
                if name not in servers or "tonic" not in servers or key == "server-errors":
                    continue
                r_t = ratio(sums[name], sums["tonic"])
                if r_t is None:
                    continue
                worse = (r_t < 0.97) if higher else (r_t > 1.03)
                if worse:
                    w, t = sums[name], sums["tonic"]
                    overlap = w[1] <= t[2] and t[1] <= w[2]
                    trailing.append(
                        f"- {bench.titles[key]}, {label}: {SERVER_TITLES[name]} "
                        f"{fmt.format(w[0])} vs tonic {fmt.format(t[0])} (ratio {r_t:.2f})"
                        f"{'; ranges overlap' if overlap else ''}")
    refs = [k for k in ("iperf3", "sockperf") if k in bench.results]
    if refs:
        lines += ["", "TCP loopback references, same run, same pinning:", "",
                  "| reference | metric | value |", "| --- | --- | ---: |"]
        for key in refs:
            runs = bench.results[key].get("ref", [])
            for field, label, fmt, _ in metrics_for(key):
                lines.append(f"| {bench.titles[key]} | {label} | "
                             f"{cell(summarize([r.get(field) for r in runs]), fmt, 0)} |")
        iperf = summarize([r.get("gbit_s") for r in bench.results.get("iperf3", {}).get("ref", [])])
        stream = bench.results.get("client-wirecall-stream-64k", {})
        if iperf and stream:
            lines += ["", "Server streaming of 64 KiB messages (wirecall client) against iperf3's "
                      "loopback throughput, medians:", "", "| server | payload Gbit/s | % of iperf3 |",
                      "| --- | ---: | ---: |"]
            for name in servers:
                mb = summarize([r.get("mb_per_s") for r in stream.get(name, [])])
                if mb:
                    gbit = mb[0] * 8 / 1000
                    lines.append(f"| {SERVER_TITLES[name]} | {gbit:,.1f} | "
                                 f"{100 * gbit / iperf[0]:.0f}% |")
    # Client comparison: the same server, wirecall client vs tonic client.
    lines += ["", "Clients side by side (same server; ratio wirecall client / tonic client):", "",
              "| scenario | metric | server | wirecall client | tonic client | ratio |",
              "| --- | --- | --- | ---: | ---: | ---: |"]
    for suffix, title, _, _ in client_scenarios("wirecall"):
        kw, kt = f"client-wirecall-{suffix}", f"client-tonic-{suffix}"
        if kw not in bench.results or kt not in bench.results:
            continue
        for field, label, fmt, _ in metrics_for(kw):
            for name in servers:
                a = summarize([derive(r).get(field) for r in bench.results[kw].get(name, [])])
                b = summarize([derive(r).get(field) for r in bench.results[kt].get(name, [])])
                if a is None or b is None:
                    continue
                r = ratio(a, b)
                lines.append(f"| {title} | {label} | {SERVER_TITLES[name]} | {cell(a, fmt, 0)} | "
                             f"{cell(b, fmt, 0)} | {'–' if r is None else f'{r:.2f}'} |")
    lines += ["", "## Where wirecall trails tonic (median worse by more than 3%)", ""]
    lines += trailing or ["- nowhere"]
    lines += ["", "## Errors", ""]
    lines += [f"- {e}" for e in bench.errors] or ["- none: every h2load run and every client "
                                                  "call checked out, and no server counted a "
                                                  "non-OK status"]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------
# Main


def ensure_tools():
    wanted = {"h2load": "nghttp2-client", "iperf3": "iperf3", "sockperf": "sockperf"}
    missing = [pkg for tool, pkg in wanted.items() if not shutil.which(tool)]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing {' '.join(missing)} with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env, check=False)
    if not shutil.which("h2load"):
        sys.exit("h2load not found: install Debian's nghttp2-client")
    for tool in ("iperf3", "sockperf"):
        if not shutil.which(tool):
            log(f"{tool} not found: its loopback reference is skipped")


# The server configurations --interceptor-overhead compares: (row label, wirecall-echo
# arguments). The first is the baseline of the "vs none" column.
OVERHEAD_CONFIGS = [
    ("0", ["--interceptors", "0"]),
    ("1", ["--interceptors", "1"]),
    ("4", ["--interceptors", "4"]),
    ("metrics: OpenTelemetry SDK", ["--metrics", "opentelemetry"]),
    ("metrics: prometheus-client", ["--metrics", "prometheus"]),
]


def interceptor_overhead(settings, bindir, tmp, path):
    """wirecall with 0, 1 and 4 do-nothing server interceptors, and with the A66 metrics
    interceptor alone (into an OpenTelemetry SDK, into a prometheus-client registry),
    interleaved: unary latency (1 conn x 1 stream) and throughput per server CPU-second
    (1 conn x 10 streams)."""
    bodies_dir = os.path.join(tmp, "bodies")
    subprocess.run([os.path.join(bindir, "bench-client"), "bodies", "--out", bodies_dir],
                   check=True, capture_output=True)
    h2load = H2load(settings, {"echo100": (os.path.join(bodies_dir, "echo100.bin"), 107)}, tmp)
    labels = [label for label, _ in OVERHEAD_CONFIGS]
    n = 2000 if settings.smoke else 20000
    runs = {label: {"p50": [], "p99": [], "per_cpu": []} for label in labels}
    for rep in range(settings.reps):
        turn = rep % len(OVERHEAD_CONFIGS)
        for label, args in OVERHEAD_CONFIGS[turn:] + OVERHEAD_CONFIGS[:turn]:
            server = Server("wirecall", bindir, settings, args)
            server.start()
            try:
                h2load.run(server, "/bench.Echo/Unary", "echo100", 1, 1, n=n // 4)
                lat = h2load.run(server, "/bench.Echo/Unary", "echo100", 1, 1, n=n, latency=True)
                thr = h2load.run(server, "/bench.Echo/Unary", "echo100", 1, 10, n=5 * n)
            finally:
                server.stop()
            if lat["errors"] or thr["errors"]:
                raise RuntimeError(f"{label}: h2load saw errors")
            runs[label]["p50"].append(lat["p50_us"])
            runs[label]["p99"].append(lat["p99_us"])
            runs[label]["per_cpu"].append(thr["requests"] / thr["cpu_s"] if thr["cpu_s"] else 0.0)
            log(f"interceptors={label}: p50 {lat['p50_us']} us, "
                f"{runs[label]['per_cpu'][-1]:,.0f} req/CPU-s")
    med = lambda xs: sorted(xs)[len(xs) // 2]
    base = {k: med(v) for k, v in runs[labels[0]].items()}
    lines = [
        "# Interceptor overhead (wirecall server, h2load, unary echo 100 B)",
        "",
        f"Generated by `python3 bench/run.py --interceptor-overhead` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {settings.reps} interleaved "
        "repetitions, medians; server on core 0, h2load on core 1. The numbered rows' "
        "interceptors do nothing (every hook at its default), so they are the price of the "
        "chain itself; the metrics rows run `wirecall::metrics`' server interceptor alone, "
        "recording the gRFC A66 instruments into an OpenTelemetry SDK (every measurement "
        "aggregated; its periodic export, every 60 s, does not fall in a run) or a "
        "prometheus-client registry.",
        "",
        "| interceptors | p50 latency 1x1 (µs) | p99 latency 1x1 (µs) | req per server CPU-s, 1x10 | vs none |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for label in labels:
        m = {k: med(v) for k, v in runs[label].items()}
        ratio_text = f"{m['per_cpu'] / base['per_cpu']:.2f}" if base["per_cpu"] else "–"
        lines.append(f"| {label} | {m['p50']:.0f} | {m['p99']:.0f} | {m['per_cpu']:,.0f} | {ratio_text} |")
    text = "\n".join(lines) + "\n"
    if path:
        with open(path, "w") as f:
            f.write(text)
        log(f"wrote {path}")
    print(text)


def build(profile):
    cmd = ["cargo", "build", "--profile", profile, "-p", "wirecall-bench", "--bins"]
    log(" ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout
    target = json.loads(meta)["target_directory"]
    return os.path.join(target, "debug" if profile in ("dev", "debug", "test") else profile)


def build_pajamax():
    """pajamax-echo: a crate of its own (pajamax 0.3 needs prost 0.13), release + fat LTO."""
    cmd = ["cargo", "build", "--release", "--manifest-path",
           os.path.join(PAJAMAX_DIR, "Cargo.toml")]
    log(" ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="release-lto",
                        help="cargo profile to build and run: release-lto (default) or debug")
    parser.add_argument("--smoke", action="store_true",
                        help="every server and client once, briefly; no thresholds, no file")
    parser.add_argument("--quick", action="store_true", help="3 repetitions, shorter runs")
    parser.add_argument("--reps", type=int, help="repetitions (default 5; 3 with --quick)")
    parser.add_argument("--out", help="where to write the markdown (default bench/RESULTS.md; "
                                      "with --smoke: only printed)")
    parser.add_argument("--no-build", action="store_true", help="use the binaries as built")
    parser.add_argument("--servers", help=f"comma-separated subset of {','.join(SERVERS)} "
                                          "(default: all; pajamax not with --smoke)")
    parser.add_argument("--interceptor-overhead", action="store_true",
                        help="only measure wirecall with 0, 1 and 4 empty interceptors, and "
                             "with the metrics interceptor (writes bench/INTERCEPTORS.md)")
    args = parser.parse_args()
    if args.reps is not None and args.reps < 5 and not (args.quick or args.smoke):
        parser.error("fewer than 5 repetitions needs --quick")

    started = time.monotonic()
    profile = "dev" if args.profile == "debug" else args.profile
    signal.signal(signal.SIGTERM, lambda *_: (stop_all(), sys.exit(143)))
    ensure_tools()
    if args.no_build:
        meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                              cwd=ROOT, check=True, capture_output=True, text=True).stdout
        target = json.loads(meta)["target_directory"]
        bindir = os.path.join(target, "debug" if profile == "dev" else profile)
    else:
        bindir = build(profile)
    settings = Settings(args)
    if "pajamax" in settings.servers and not args.no_build:
        build_pajamax()
    if settings.pin:
        # Keep this script off the server's core too.
        os.sched_setaffinity(0, {LOAD_CORE})
    if args.interceptor_overhead:
        with tempfile.TemporaryDirectory(prefix="wirecall-bench-") as tmp:
            out = args.out or (None if args.smoke else os.path.join(HERE, "INTERCEPTORS.md"))
            try:
                interceptor_overhead(settings, bindir, tmp, out)
            finally:
                stop_all()
        return
    with tempfile.TemporaryDirectory(prefix="wirecall-bench-") as tmp:
        bench = Bench(settings, bindir, tmp)
        bench.profile = args.profile
        try:
            bench.run()
        finally:
            stop_all()
    wall = time.monotonic() - started
    text = report(bench, sys.argv[1:], wall)
    out = args.out or (None if args.smoke else os.path.join(HERE, "RESULTS.md"))
    if out:
        with open(out, "w") as f:
            f.write(text)
        log(f"wrote {out}")
    print(text)
    log(f"done in {wall:.0f} s")
    if bench.errors:
        # No performance thresholds, but a call that failed is a failure (CI's smoke run).
        log(f"{len(bench.errors)} error(s): see the Errors section")
        sys.exit(1)


if __name__ == "__main__":
    main()
