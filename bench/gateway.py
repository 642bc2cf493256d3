#!/usr/bin/env python3
"""Gateway protocols vs native gRPC (issue 21): what a unary echo costs the wirecall server
when it arrives as Connect (proto, JSON), REST (a `google.api.http` GET) or gRPC-Web over
HTTP/1.1, next to native gRPC over HTTP/2, on one server process in one run.

    python3 bench/gateway.py                  # 5 interleaved repetitions, release-lto; prints the table
    python3 bench/gateway.py --write          # ... and writes its section of bench/RESULTS.md
    python3 bench/gateway.py --reps 7 --secs 2
    python3 bench/gateway.py --smoke          # CI: debug build, one short repetition, checks, prints, writes nothing

One `wirecall-echo --gateway` process (gRPC-Web, Connect and REST on, plus the
`bench.gateway.EchoRest` service of proto/gateway.proto whose `Get` is
`GET /v1/echo/{text}`) runs pinned to core 0; h2load runs on core 1. The message is run.py's
100-byte string echo (`EchoMessage { text: "abc...z" x 100 chars }`): 102 bytes of proto,
107 with the gRPC 5-byte prefix.

Rows (protocol x transport x scenario); HTTP/2 rows run 1 conn x 1 stream and 1 conn x 10
streams, HTTP/1.1 rows (`h2load --h1`, no pipelining: one request in flight per connection)
1 conn and 10 conns; native gRPC also runs 10 conns x 1 stream, the baseline of the 10-conn
HTTP/1.1 rows. Every ratio is to native gRPC with the same conns x streams.

Each repetition runs every row once, in an order that rotates per repetition, each with a
fixed request count (calibrated once per row for about --secs seconds). Server CPU time is
utime + stime from /proc/PID/stat before and after each h2load run.

Checks: before measuring, one response per protocol and transport is fetched (curl for
HTTP/2, Python's http.client for HTTP/1.1) and its content checked (status 200, content
type, the echoed message, gRPC-Web's trailer frame with grpc-status 0); its body length is
then the expected DATA bytes per response, and every h2load run must have all requests 2xx
and exactly count x that many DATA bytes. At the end the server's own count of handled
calls must equal every request sent, and it must have counted no error.

Only 127.0.0.1 is ever contacted. Every process started here is stopped by its PID.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run as harness  # noqa: E402  (bench/run.py: processes, pinning, CPU time, summaries)

RESULTS = os.path.join(HERE, "RESULTS.md")
SECTION = "## Gateway protocols vs native gRPC (issue 21)"
SERVER_CORE, LOAD_CORE = harness.SERVER_CORE, harness.LOAD_CORE
log = harness.log

# The 100-byte string echo of run.py (wirecall_bench::text()): "abc...z" repeated.
TEXT = "".join(chr(ord("a") + i % 26) for i in range(100))
UNARY = "/bench.Echo/Unary"

# protocol key -> (title, path, request headers, body name or None for a GET)
PROTOCOLS = {
    "grpc": ("native gRPC", UNARY,
             ["content-type: application/grpc", "te: trailers"], "framed"),
    "connect-proto": ("Connect unary, proto", UNARY,
                      ["content-type: application/proto", "connect-protocol-version: 1"], "bare"),
    "connect-json": ("Connect unary, JSON", UNARY,
                     ["content-type: application/json", "connect-protocol-version: 1"], "json"),
    "rest-get": ("REST GET `/v1/echo/{text}`", f"/v1/echo/{TEXT}", [], None),
    "grpc-web": ("gRPC-Web, proto", UNARY,
                 ["content-type: application/grpc-web+proto", "x-grpc-web: 1"], "framed"),
}

# (protocol, HTTP/1.1?, conns, streams), in table order. The first three are the baselines.
ROWS = [
    ("grpc", False, 1, 1), ("grpc", False, 1, 10), ("grpc", False, 10, 1),
    ("connect-proto", False, 1, 1), ("connect-proto", False, 1, 10),
    ("connect-json", False, 1, 1), ("connect-json", False, 1, 10),
    ("rest-get", False, 1, 1), ("rest-get", False, 1, 10),
    ("grpc-web", True, 1, 1), ("grpc-web", True, 10, 1),
    ("connect-proto", True, 1, 1), ("connect-proto", True, 10, 1),
]


def row_key(row):
    proto, h1, c, m = row
    return f"{proto}-{'h1' if h1 else 'h2'}-{c}x{m}"


def scenario_title(row):
    _, h1, c, m = row
    if h1:
        return f"{c} conn{'s' if c > 1 else ''}"
    return f"{c} conn{'s' if c > 1 else ''} x {m} stream{'s' if m > 1 else ''}"


def baseline_of(row):
    _, _, c, m = row
    return ("grpc", False, c, m)


# ----------------------------------------------------------------------------------------
# Bodies and the reference responses


def proto_message():
    """`EchoMessage { text: TEXT }` in protobuf: field 1, length-delimited."""
    text = TEXT.encode()
    return bytes([0x0A, len(text)]) + text


def write_bodies(tmp):
    message = proto_message()
    bodies = {
        "bare": message,
        "framed": b"\x00" + len(message).to_bytes(4, "big") + message,
        "json": json.dumps({"text": TEXT}, separators=(",", ":")).encode(),
    }
    paths = {}
    for name, data in bodies.items():
        paths[name] = os.path.join(tmp, f"{name}.bin")
        with open(paths[name], "wb") as f:
            f.write(data)
    return bodies, paths


def fetch_h2(addr, proto, body_path):
    """One HTTP/2 (prior knowledge) request with curl: (status, headers incl. trailers, body)."""
    _, path, headers, body = PROTOCOLS[proto]
    with tempfile.TemporaryDirectory() as tmp:
        head, out = os.path.join(tmp, "head"), os.path.join(tmp, "body")
        cmd = ["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10", "-D", head,
               "-o", out]
        for h in headers:
            cmd += ["-H", h]
        if body is not None:
            cmd += ["--data-binary", "@" + body_path]
        cmd.append(f"http://{addr}{path}")
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"curl failed ({done.returncode}): {done.stderr.strip()}")
        with open(head, encoding="latin-1") as f:
            lines = f.read().splitlines()
        with open(out, "rb") as f:
            data = f.read()
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:  # headers, then (HTTP/2) the trailers after an empty line
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
    return status, fields, data


def fetch_h1(addr, proto, body):
    """One HTTP/1.1 request with http.client: (status, headers, de-chunked body)."""
    _, path, headers, body_name = PROTOCOLS[proto]
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST" if body_name else "GET", path, body=body if body_name else None,
                     headers=dict(h.split(": ", 1) for h in headers))
        response = conn.getresponse()
        data = response.read()
        fields = {k.lower(): v for k, v in response.getheaders()}
        return response.status, fields, data
    finally:
        conn.close()


def check_response(proto, status, fields, data, bodies):
    """Raises unless the response is the correct echo for `proto`; returns a description."""
    ctype = fields.get("content-type", "")
    problems = []
    if status != 200:
        problems.append(f"status {status}")
    if proto == "grpc":
        if ctype != "application/grpc" or data != bodies["framed"] or \
                fields.get("grpc-status") != "0":
            problems.append(f"content-type {ctype!r}, grpc-status {fields.get('grpc-status')!r}, "
                            f"body {data[:40]!r}")
        what = "the request's 5-byte-prefixed message; trailers grpc-status 0"
    elif proto == "connect-proto":
        if ctype != "application/proto" or data != bodies["bare"]:
            problems.append(f"content-type {ctype!r}, body {data[:40]!r}")
        what = "the bare message"
    elif proto in ("connect-json", "rest-get"):
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if ctype != "application/json" or parsed != {"text": TEXT}:
            problems.append(f"content-type {ctype!r}, body {data[:60]!r}")
        what = '`{"text":"..."}`'
    elif proto == "grpc-web":
        framed = bodies["framed"]
        trailer = data[len(framed):]
        ok = ctype.startswith("application/grpc-web") and data.startswith(framed) and \
            len(trailer) >= 5 and trailer[0] == 0x80 and \
            int.from_bytes(trailer[1:5], "big") == len(trailer) - 5
        statuses = [line.split(":", 1)[1].strip() for line in
                    trailer[5:].decode(errors="replace").split("\r\n")
                    if line.lower().startswith("grpc-status:")]
        if not ok or statuses != ["0"]:
            problems.append(f"content-type {ctype!r}, body {data!r}")
        what = f"message frame + trailer frame ({len(trailer)} B, grpc-status 0)"
    else:
        raise ValueError(proto)
    if problems:
        raise RuntimeError(f"{proto}: unexpected response: {'; '.join(problems)}")
    return f"200, `{ctype}`, {what}"


# ----------------------------------------------------------------------------------------
# h2load


def h2load(settings, server, row, n, paths):
    """One fixed-count h2load run of `row`, checked exactly; returns the figures."""
    proto, h1, conns, streams = row
    _, path, headers, body = PROTOCOLS[proto]
    cmd = [*settings.pinned(LOAD_CORE), "h2load", "-n", str(n), "-c", str(conns),
           "-m", str(streams)]
    if h1:
        cmd.append("--h1")
    for h in headers:
        cmd += ["-H", h]
    if body is not None:
        cmd += ["-d", paths[body]]
    cmd.append(f"http://{server.addr}{path}")
    cpu0 = server.cpu()
    out, err, code = harness.run(cmd, timeout=300)
    cpu1 = server.cpu()
    m = re.search(r"finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s", out)
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded", out)
    codes = re.search(r"status codes: (\d+) 2xx", out)
    data = re.search(r"\((\d+)\) data", out)
    if code != 0 or not (m and req and codes and data):
        raise RuntimeError(f"h2load failed ({code}): {' '.join(cmd)}\n{out}\n{err}")
    secs = float(m.group(1)) / {"us": 1e6, "ms": 1e3, "s": 1.0}[m.group(2)]
    return {
        "secs": secs, "rate": float(m.group(3)), "cpu_s": cpu1 - cpu0,
        "succeeded": int(req.group(4)), "ok2xx": int(codes.group(1)),
        "data": int(data.group(1)), "n": n,
    }


def verify(result, expected_bytes):
    """Errors of one run: requests not answered 2xx, or DATA bytes other than expected."""
    n = result["n"]
    errors = max(n - result["succeeded"], n - result["ok2xx"])
    if result["data"] != n * expected_bytes:
        # At least this many responses were not the expected echo (run.py's estimate).
        wrong = -(-abs(n * expected_bytes - result["data"]) // expected_bytes)
        errors = max(errors, min(n, max(1, wrong)))
        return errors, (f"{result['data']} DATA bytes, expected {n} x {expected_bytes} = "
                        f"{n * expected_bytes}")
    return errors, "" if not errors else f"{result['ok2xx']}/{n} answered 2xx"


# ----------------------------------------------------------------------------------------
# The run


class Gateway:
    def __init__(self, settings, bindir, tmp, secs):
        self.settings = settings
        self.bindir = bindir
        self.secs = secs
        self.bodies, self.paths = write_bodies(tmp)
        self.expected = {}   # (proto, h1) -> DATA bytes per response
        self.checked = {}    # (proto, h1) -> description of the reference response
        self.counts = {}     # row -> request count per run
        self.results = {}    # row -> list of results
        self.errors = []
        self.sent = 0        # requests answered 2xx, for the server's own count
        self.server = None

    def reference(self):
        """One checked response per protocol and transport: the expected DATA bytes."""
        for proto, h1 in dict.fromkeys((p, h) for p, h, _, _ in ROWS):
            body_name = PROTOCOLS[proto][3]
            if h1:
                status, fields, data = fetch_h1(self.server.addr, proto,
                                                self.bodies.get(body_name))
            else:
                status, fields, data = fetch_h2(self.server.addr, proto,
                                                self.paths.get(body_name))
            self.checked[(proto, h1)] = check_response(proto, status, fields, data, self.bodies)
            self.expected[(proto, h1)] = len(data)
            self.sent += 1
            log(f"reference {proto} over {'HTTP/1.1' if h1 else 'HTTP/2'}: "
                f"{len(data)} bytes per response ({self.checked[(proto, h1)]})")

    def measure(self, row, n, record=True):
        result = h2load(self.settings, self.server, row, n, self.paths)
        self.sent += result["ok2xx"]
        errors, why = verify(result, self.expected[row[:2]])
        result["errors"] = errors
        if errors:
            self.errors.append(f"{row_key(row)}: {errors} error(s): {why}")
        if record:
            self.results.setdefault(row, []).append(result)
        return result

    def calibrate(self, smoke):
        for row in ROWS:
            c, m = row[2], row[3]
            if smoke:
                self.counts[row] = max(c * m * 5, 1000)
                continue
            probe = max(c * m * 50, 2000)
            r = self.measure(row, probe, record=False)
            rate = probe / r["secs"] if r["secs"] else probe
            self.counts[row] = max(c * m * 20, int(rate * self.secs))
            log(f"calibrated {row_key(row)}: {rate:,.0f} req/s -> n = {self.counts[row]}")

    def run(self, reps, smoke):
        self.server = harness.Server("wirecall", self.bindir, self.settings, ["--gateway"])
        self.server.start()
        try:
            self.reference()
            # Warm-up: every row once, untimed.
            for row in ROWS:
                self.measure(row, max(row[2] * row[3] * 10, 50 if smoke else 2000), record=False)
            self.calibrate(smoke)
            for rep in range(reps):
                turn = rep % len(ROWS)
                for row in ROWS[turn:] + ROWS[:turn]:
                    r = self.measure(row, self.counts[row])
                    log(f"rep {rep + 1}/{reps} {row_key(row)}: {r['rate']:,.0f} req/s, "
                        f"{r['n'] / r['cpu_s'] if r['cpu_s'] else 0:,.0f} req/CPU-s"
                        f"{', ' + str(r['errors']) + ' errors' if r['errors'] else ''}")
        finally:
            self.server.stop()
        counters = self.server.counters
        if not counters:
            self.errors.append("the server printed no counters")
        else:
            if counters.get("errors"):
                self.errors.append(f"the server counted {counters['errors']} non-OK statuses")
            if counters.get("unary") != self.sent:
                self.errors.append(f"the server handled {counters.get('unary')} calls, "
                                   f"{self.sent} requests were answered 2xx")
        log(f"server counters: {counters}; requests answered 2xx: {self.sent}")


# ----------------------------------------------------------------------------------------
# Report


def summaries(runs):
    rates = harness.summarize([r["rate"] for r in runs])
    per_cpu = harness.summarize([r["n"] / r["cpu_s"] for r in runs if r["cpu_s"]])
    return rates, per_cpu


def transport_title(h1):
    return "HTTP/1.1" if h1 else "HTTP/2"


def section(bench, args, wall, load_before, profile):
    s = bench.settings
    model, cores = harness.machine()
    v = harness.versions()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    reps = len(next(iter(bench.results.values()), []))
    lines = [
        SECTION,
        "",
        f"Generated by `python3 bench/gateway.py{' ' + ' '.join(args) if args else ''}` on "
        f"{now}; do not edit by hand.",
        "",
        f"- Machine: {model}, {cores} cores, Linux {platform.release()}; load average before "
        f"the run {load_before}{'' if s.pin else ' (not pinned: fewer than 2 cores)'}",
        f"- Build: profile `{profile}`; {v.get('rustc', 'rustc ?')}; load: "
        f"{v.get('h2load', 'h2load')}",
        "- One `wirecall-echo --gateway` process for the whole run (gRPC-Web, Connect and "
        "REST accepted on its one port) on core 0, h2load on core 1. The call: the 100-byte "
        "string echo (`bench.Echo/Unary`; REST: `bench.gateway.EchoRest/Get`, the same "
        "handler body, reached by `GET /v1/echo/{text}`). Connect requests carry "
        "`connect-protocol-version: 1`, gRPC-Web requests `x-grpc-web: 1`.",
        "- HTTP/1.1 rows: `h2load --h1`, no pipelining (one request in flight per "
        "connection), so `10 conns` is their concurrency of 10; native gRPC runs 10 conns x "
        "1 stream as their baseline. Every ratio is to native gRPC over HTTP/2 with the same "
        "connections x streams.",
        f"- {reps} repetition(s); each runs every row once, the order rotating per repetition; "
        f"fixed request counts (calibrated for about {bench.secs:g} s per run). Figures: "
        "median (min–max); ratios of medians. `req per server CPU-s`: requests per second of "
        "server CPU time (utime + stime from /proc/PID/stat around each h2load run). Wall "
        f"time {wall:.0f} s.",
        "- Checked: every h2load run all 2xx with exactly count x the bytes per response "
        "below in DATA; the server's own count of handled calls equals the requests sent "
        "and it counted no error.",
        *(["- Smoke run: a check of the harness, not a measurement."] if s.smoke else []),
        "",
        "| protocol | transport | scenario | req/s | req per server CPU-s | "
        "req/s vs gRPC | per CPU-s vs gRPC |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    fmt = "{:,.0f}"
    for row in ROWS:
        runs = bench.results.get(row, [])
        rates, per_cpu = summaries(runs)
        base_rates, base_cpu = summaries(bench.results.get(baseline_of(row), []))
        errors = sum(r["errors"] for r in runs)
        r_rate = harness.ratio(rates, base_rates)
        r_cpu = harness.ratio(per_cpu, base_cpu)
        show = lambda r: "–" if r is None else f"{r:.2f}"
        lines.append(
            f"| {PROTOCOLS[row[0]][0]} | {transport_title(row[1])} | {scenario_title(row)} | "
            f"{harness.cell(rates, fmt, errors)} | {harness.cell(per_cpu, fmt, 0)} | "
            f"{show(r_rate)} | {show(r_cpu)} |")
    lines += [
        "",
        "Responses checked before the run (one of each, fetched with curl for HTTP/2 and "
        "Python's http.client for HTTP/1.1); their body length is the DATA bytes expected "
        "per response:",
        "",
        "| protocol | transport | request body | response | bytes per response |",
        "| --- | --- | --- | --- | ---: |",
    ]
    for (proto, h1), what in bench.checked.items():
        body = PROTOCOLS[proto][3]
        req = "none (GET)" if body is None else f"{len(bench.bodies[body])} B"
        lines.append(f"| {PROTOCOLS[proto][0]} | {transport_title(h1)} | {req} | {what} | "
                     f"{bench.expected[(proto, h1)]} |")
    lines += ["", "Errors:", ""]
    lines += [f"- {e}" for e in bench.errors] or ["- none"]
    return "\n".join(lines) + "\n"


def write_section(text):
    """Replaces this section of RESULTS.md (up to the next `## ` heading), or appends it;
    the rest of the file stays as it is (as build_cost.py does)."""
    old = ""
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            old = f.read()
    if old.startswith(SECTION + "\n"):
        start = 0
    else:
        start = old.find("\n" + SECTION + "\n")
        if start >= 0:
            start += 1
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text if old else text
    else:
        following = old.find("\n## ", start + len(SECTION))
        rest = old[following + 1:] if following >= 0 else ""
        new = old[:start] + text + ("\n" + rest if rest else "")
    with open(RESULTS, "w") as f:
        f.write(new)


# ----------------------------------------------------------------------------------------
# Main


def target_dir():
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                          cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(meta)["target_directory"]


def build(profile, no_build):
    if not no_build:
        cmd = ["cargo", "build", "--profile", profile, "-p", "wirecall-bench",
               "--bin", "wirecall-echo"]
        if shutil.which("nice"):
            cmd = ["nice", "-n", "10", *cmd]
        log(" ".join(cmd))
        subprocess.run(cmd, cwd=ROOT, check=True)
    return os.path.join(target_dir(), "debug" if profile == "dev" else profile)


def ensure_tools():
    wanted = {"h2load": "nghttp2-client", "curl": "curl"}
    missing = [pkg for tool, pkg in wanted.items() if not shutil.which(tool)]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing {' '.join(missing)} with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env, check=False)
    for tool, pkg in wanted.items():
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: install Debian's {pkg}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", help="cargo profile: release-lto (default) or debug "
                                          "(the default with --smoke)")
    parser.add_argument("--smoke", action="store_true",
                        help="debug build, one short repetition: checks and prints, writes nothing")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--secs", type=float, default=1.0,
                        help="about how long each measured h2load run lasts (default 1)")
    parser.add_argument("--write", action="store_true",
                        help=f"replace or append the section '{SECTION}' of bench/RESULTS.md")
    parser.add_argument("--no-build", action="store_true", help="use wirecall-echo as built")
    args = parser.parse_args()
    if args.smoke and args.write:
        parser.error("--smoke writes nothing")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    profile_name = args.profile or ("debug" if args.smoke else "release-lto")
    profile = "dev" if profile_name == "debug" else profile_name
    reps = 1 if args.smoke else args.reps

    started = time.monotonic()
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    log(f"load average before: {load_before}")
    signal.signal(signal.SIGTERM, lambda *_: (harness.stop_all(), sys.exit(143)))
    ensure_tools()
    bindir = build(profile, args.no_build)
    settings = harness.Settings(argparse.Namespace(smoke=args.smoke, quick=False, reps=reps))
    if settings.pin:
        os.sched_setaffinity(0, {LOAD_CORE})  # keep this script off the server's core
    with tempfile.TemporaryDirectory(prefix="wirecall-gateway-") as tmp:
        bench = Gateway(settings, bindir, tmp, args.secs)
        try:
            bench.run(reps, args.smoke)
        except (RuntimeError, TimeoutError, OSError, ValueError) as e:
            harness.stop_all()
            log(f"FAILED: {e}")
            sys.exit(1)
        finally:
            harness.stop_all()
    wall = time.monotonic() - started
    text = section(bench, sys.argv[1:], wall, load_before, profile_name)
    print(text)
    if args.write:
        write_section(text)
        log(f"wrote the section '{SECTION}' of {RESULTS}")
    log(f"done in {wall:.0f} s")
    if bench.errors:
        log(f"{len(bench.errors)} error(s): see the Errors list")
        sys.exit(1)


if __name__ == "__main__":
    main()
