#!/usr/bin/env python3
"""Build cost, side by side: what a user pays to build a one-service crate with wirecall
and with tonic 0.14.

    python3 bench/build_cost.py                # 3 interleaved repetitions, release; writes bench/RESULTS.md
    python3 bench/build_cost.py --reps 5       # more repetitions
    python3 bench/build_cost.py --no-write     # print the table only
    python3 bench/build_cost.py --smoke        # CI: each app built once in the debug profile, nothing written
    python3 bench/build_cost.py --features tls # extra wirecall features for the wirecall app
    python3 bench/build_cost.py --keep         # keep the generated crates and their target dirs

It generates two crates under target/build-cost/ (each its own workspace, so neither
inherits this workspace's profiles): the same proto (a Greeter with one unary and one
server-streaming RPC) and the same tiny server, one on wirecall + wirecall-build (by path,
default features), one on tonic + tonic-prost + tonic-prost-build (crates.io, the versions
pinned in this workspace's Cargo.toml; code generated from a protox-compiled descriptor
set, so neither needs protoc). Both start from a copy of this workspace's Cargo.lock, so
the crates they share resolve to the same versions.

Per app and repetition, with the app's own CARGO_TARGET_DIR: a clean build (target dir
removed first), then an incremental rebuild after a string literal in the handler changed;
the size of the binary, and of a stripped copy; the crates compiled. Repetitions alternate
wirecall, tonic, wirecall, tonic...; figures are medians (min-max). Wall times measure the
whole `cargo build` command; run on a quiet machine.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRATCH = os.path.join(ROOT, "target", "build-cost")
RESULTS = os.path.join(HERE, "RESULTS.md")
SECTION = "## Build cost (issue 19)"
APPS = ["wirecall", "tonic"]

# Environment variables that would change what is measured (a compiler cache makes a clean
# build a cache lookup); removed for the builds.
DROPPED_ENV = ["RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER",
               "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR", "CARGO_INCREMENTAL",
               "CARGO_PROFILE_DEV_DEBUG", "CARGO_PROFILE_RELEASE_DEBUG"]


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# The two crates
# ---------------------------------------------------------------------------------------

PROTO = """\
syntax = "proto3";
package greeter;

service Greeter {
  rpc SayHello(HelloRequest) returns (HelloReply);
  rpc SayHellos(HelloRequest) returns (stream HelloReply);
}

message HelloRequest {
  string name = 1;
  uint32 count = 2;
}

message HelloReply { string message = 1; }
"""

# The handler's greeting is the literal the incremental step edits (see set_greeting).
WIRECALL_MAIN = """\
mod pb {
    wirecall::include_proto!("greeter");
}

use pb::{Greeter, GreeterServer, HelloReply, HelloRequest};
use wirecall::{Request, Response, Server, Status};

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let greeting = "Hello";
        Ok(Response::new(HelloReply { message: format!("{greeting} {}", req.get_ref().name) }))
    }

    async fn say_hellos(
        &self,
        req: Request<HelloRequest>,
    ) -> Result<Response<impl wirecall::Stream<Item = Result<HelloReply, Status>> + Send + 'static>, Status>
    {
        let HelloRequest { name, count } = req.into_inner();
        let replies: Vec<Result<HelloReply, Status>> =
            (0..count).map(|i| Ok(HelloReply { message: format!("Hello {name} #{i}") })).collect();
        Ok(Response::new(wirecall::message_stream::iter(replies)))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = "127.0.0.1:50051".parse()?;
    println!("listening on {addr}");
    Server::builder().add_service(GreeterServer::new(MyGreeter)).serve(addr).await?;
    Ok(())
}
"""

# tokio-stream is already in tonic's tree; tonic re-exports it for generated code.
TONIC_MAIN = """\
mod pb {
    tonic::include_proto!("greeter");
}

use pb::greeter_server::{Greeter, GreeterServer};
use pb::{HelloReply, HelloRequest};
use tonic::codegen::tokio_stream;
use tonic::{Request, Response, Status};

struct MyGreeter;

#[tonic::async_trait]
impl Greeter for MyGreeter {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let greeting = "Hello";
        Ok(Response::new(HelloReply { message: format!("{greeting} {}", req.get_ref().name) }))
    }

    type SayHellosStream = tokio_stream::Iter<std::vec::IntoIter<Result<HelloReply, Status>>>;

    async fn say_hellos(
        &self,
        req: Request<HelloRequest>,
    ) -> Result<Response<Self::SayHellosStream>, Status> {
        let HelloRequest { name, count } = req.into_inner();
        let replies: Vec<Result<HelloReply, Status>> =
            (0..count).map(|i| Ok(HelloReply { message: format!("Hello {name} #{i}") })).collect();
        Ok(Response::new(tokio_stream::iter(replies)))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = "127.0.0.1:50051".parse()?;
    println!("listening on {addr}");
    tonic::transport::Server::builder()
        .add_service(GreeterServer::new(MyGreeter))
        .serve(addr)
        .await?;
    Ok(())
}
"""

WIRECALL_BUILD_RS = """\
fn main() -> std::io::Result<()> {
    wirecall_build::compile_protos(&["proto/greeter.proto"], &["proto"])
}
"""

# compile_fds takes the descriptor set protox made, so protoc is never needed.
TONIC_BUILD_RS = """\
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(["proto/greeter.proto"], ["proto"])?;
    tonic_prost_build::compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto/greeter.proto");
    Ok(())
}
"""


def workspace_versions():
    """The version requirements this workspace pins in [workspace.dependencies]."""
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        deps = tomllib.load(f)["workspace"]["dependencies"]
    version = lambda d: d if isinstance(d, str) else d["version"]
    names = ["tonic", "tonic-prost", "tonic-prost-build", "prost", "protox", "tokio"]
    return {name: version(deps[name]) for name in names}


def manifest(app, versions, features):
    name = f"{app}-app"
    tokio = f'tokio = {{ version = "{versions["tokio"]}", features = ["rt-multi-thread", "macros"] }}'
    if app == "wirecall":
        wirecall = f'path = "{os.path.join(ROOT, "wirecall")}"'
        if features:
            wirecall += ", features = [" + ", ".join(f'"{f}"' for f in features) + "]"
        deps = [f"wirecall = {{ {wirecall} }}",
                f'prost = "{versions["prost"]}"',
                tokio]
        build_deps = [f'wirecall-build = {{ path = "{os.path.join(ROOT, "wirecall-build")}" }}']
    else:
        deps = [f'tonic = "{versions["tonic"]}"',
                f'tonic-prost = "{versions["tonic-prost"]}"',
                f'prost = "{versions["prost"]}"',
                tokio]
        build_deps = [f'tonic-prost-build = "{versions["tonic-prost-build"]}"',
                      f'protox = "{versions["protox"]}"']
    return "\n".join([
        "[package]",
        f'name = "{name}"',
        'version = "0.1.0"',
        'edition = "2021"',
        "publish = false",
        "",
        "# Its own workspace: cargo's default profiles, nothing inherited from wirecall's.",
        "[workspace]",
        "",
        "[dependencies]",
        *deps,
        "",
        "[build-dependencies]",
        *build_deps,
        "",
    ])


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def generate(app, versions, features):
    """Writes the app's crate (with a copy of the workspace's Cargo.lock); returns its dir."""
    crate = os.path.join(SCRATCH, f"{app}-app")
    if os.path.exists(crate):
        shutil.rmtree(crate)
    write(os.path.join(crate, "Cargo.toml"), manifest(app, versions, features))
    write(os.path.join(crate, "proto", "greeter.proto"), PROTO)
    write(os.path.join(crate, "build.rs"), WIRECALL_BUILD_RS if app == "wirecall" else TONIC_BUILD_RS)
    write(os.path.join(crate, "src", "main.rs"), WIRECALL_MAIN if app == "wirecall" else TONIC_MAIN)
    shutil.copy(os.path.join(ROOT, "Cargo.lock"), os.path.join(crate, "Cargo.lock"))
    return crate


def set_greeting(crate, greeting):
    """Rewrites the handler's string literal (the edit of the incremental step)."""
    path = os.path.join(crate, "src", "main.rs")
    with open(path) as f:
        text = f.read()
    text, n = re.subn(r'let greeting = "[^"]*";', f'let greeting = "{greeting}";', text)
    assert n == 1, f"no greeting literal in {path}"
    with open(path, "w") as f:
        f.write(text)


def locked_versions(crate, names):
    """name -> version from the crate's Cargo.lock (after the untimed `cargo fetch`)."""
    with open(os.path.join(crate, "Cargo.lock"), "rb") as f:
        packages = tomllib.load(f).get("package", [])
    found = {}
    for package in packages:
        if package["name"] in names:
            found.setdefault(package["name"], []).append(package["version"])
    return {name: ", ".join(found[name]) for name in names if name in found}


# ---------------------------------------------------------------------------------------
# Building and measuring
# ---------------------------------------------------------------------------------------

def cargo_env(target_dir):
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env["CARGO_TARGET_DIR"] = target_dir
    env["CARGO_TERM_COLOR"] = "never"
    return env


def cargo(args, crate, target_dir, log_path):
    """Runs cargo in the crate; returns (wall seconds, stdout). Stderr goes to log_path."""
    with open(log_path, "a") as log_file:
        log_file.write(f"\n$ cargo {' '.join(args)}\n")
        log_file.flush()
        started = time.monotonic()
        done = subprocess.run(["cargo", *args], cwd=crate, env=cargo_env(target_dir),
                              stdout=subprocess.PIPE, stderr=log_file, text=True)
        wall = time.monotonic() - started
    if done.returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-4000:]
        sys.exit(f"cargo {' '.join(args)} failed in {crate} (exit {done.returncode}):\n{tail}")
    return wall, done.stdout


def artifacts(stdout, log_path):
    """The compiler-artifact messages of `cargo build --message-format json`; the compiler's
    diagnostics (also in that output) go to the log, and warnings are counted on stderr."""
    found, diagnostics = [], []
    for line in stdout.splitlines():
        if line.startswith("{"):
            message = json.loads(line)
            if message.get("reason") == "compiler-artifact":
                found.append(message)
            elif message.get("reason") == "compiler-message":
                diagnostics.append(message["message"].get("rendered") or "")
    if diagnostics:
        with open(log_path, "a") as f:
            f.write("".join(diagnostics))
        log(f"  {len(diagnostics)} compiler diagnostic(s), see {log_path}")
    return found


def slowest_units(target_dir):
    """(crate name, seconds) of every unit in the report of `cargo build --timings`, or []
    when the report's format is not the one expected."""
    report = os.path.join(target_dir, "cargo-timings", "cargo-timing.html")
    try:
        with open(report) as f:
            html = f.read()
        data = re.search(r"const UNIT_DATA = (\[.*?\]);\s*$", html, re.S | re.M)
        units = json.loads(data.group(1))
        # "target" is "" for a library, " build-script", " build-script (run)", ' app "bin"'.
        label = lambda u: u["name"] + (f" [{u['target'].strip()}]" if u["target"].strip() else "")
        return [(label(u), float(u["duration"])) for u in units]
    except (OSError, AttributeError, ValueError, KeyError, TypeError):
        return []


def binary_path(target_dir, profile_dir, app):
    return os.path.join(target_dir, profile_dir, f"{app}-app")


def stripped_size(binary, workdir):
    if not shutil.which("strip"):
        return None
    copy = os.path.join(workdir, os.path.basename(binary) + ".stripped")
    subprocess.run(["strip", "-o", copy, binary], check=True)
    size = os.path.getsize(copy)
    os.remove(copy)
    return size


def measure(app, crate, release, rep):
    """One repetition of one app: clean build, binary sizes, incremental rebuild."""
    target_dir = os.path.join(crate, "target")
    log_path = os.path.join(SCRATCH, f"{app}-cargo.log")
    profile_args = ["--release"] if release else []
    profile_dir = "release" if release else "debug"

    set_greeting(crate, "Hello")
    shutil.rmtree(target_dir, ignore_errors=True)
    clean_s, stdout = cargo(["build", *profile_args, "--message-format", "json", "--timings"],
                            crate, target_dir, log_path)
    built = artifacts(stdout, log_path)
    slowest = slowest_units(target_dir)
    binary = binary_path(target_dir, profile_dir, app)
    size = os.path.getsize(binary)
    stripped = stripped_size(binary, SCRATCH)

    set_greeting(crate, f"Hello again ({rep})")
    incremental_s, stdout = cargo(["build", *profile_args, "--message-format", "json"],
                                  crate, target_dir, log_path)
    rebuilt = [a for a in artifacts(stdout, log_path) if not a.get("fresh")]
    return {
        "clean_s": clean_s,
        "incremental_s": incremental_s,
        "binary": size,
        "stripped": stripped,
        "crates": len({a["package_id"] for a in built}),
        "units": len(built),
        "rebuilt": len(rebuilt),
        "slowest": slowest,
    }


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------

def med(values):
    return statistics.median(values)


def spread(values, fmt):
    """median (min–max) when the repetitions differ."""
    text = fmt(med(values))
    if len(values) > 1 and min(values) != max(values):
        text += f" ({fmt(min(values))}–{fmt(max(values))})"
    return text


def megabytes(n):
    return f"{n / 1e6:.2f} MB"


ROWS = [
    # key, label, format of one figure; for every row lower is better
    ("clean_s", "clean build, wall time (s)", lambda v: f"{v:.1f}"),
    ("incremental_s", "rebuild after a handler edit, wall time (s)", lambda v: f"{v:.2f}"),
    ("binary", "binary size", megabytes),
    ("stripped", "binary size, stripped copy", megabytes),
    ("crates", "crates compiled (clean build)", lambda v: f"{v:.0f}"),
    ("units", "units compiled (clean build: libraries, binaries, build scripts)", lambda v: f"{v:.0f}"),
    ("rebuilt", "units rebuilt after the edit", lambda v: f"{v:.0f}"),
]

# The targets of issue 19: wirecall at most as costly as tonic.
TARGETS = [("clean_s", "clean build"), ("incremental_s", "incremental rebuild"),
           ("binary", "binary size")]


def ratios(runs):
    out = {}
    for key, _, _ in ROWS:
        w = [r[key] for r in runs["wirecall"] if r[key] is not None]
        t = [r[key] for r in runs["tonic"] if r[key] is not None]
        out[key] = med(w) / med(t) if w and t and med(t) else None
    return out


def slowest_table(runs, count=5):
    """Per app, the `count` units with the longest median build time over the repetitions."""
    lines = []
    for app in APPS:
        per_unit = {}
        for run in runs[app]:
            for name, seconds in run["slowest"]:
                per_unit.setdefault(name, []).append(seconds)
        if not per_unit:
            lines.append(f"- {app}: no `--timings` data (report format not recognised)")
            continue
        top = sorted(per_unit.items(), key=lambda item: -med(item[1]))[:count]
        lines.append(f"- {app}: " + ", ".join(f"{name} {med(s):.1f} s" for name, s in top))
    return lines


def report(runs):
    r = ratios(runs)
    lines = [
        "| metric | wirecall | tonic 0.14 | wirecall/tonic |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, label, fmt in ROWS:
        cells = []
        for app in APPS:
            values = [run[key] for run in runs[app] if run[key] is not None]
            text = spread(values, fmt) if values else "–"
            if key in ("binary", "stripped") and values:
                text += f" ({med(values):,.0f} B)"
            cells.append(text)
        ratio_text = f"{r[key]:.2f}" if r[key] is not None else "–"
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {ratio_text} |")
    verdicts = []
    for key, label in TARGETS:
        if r[key] is None:
            verdicts.append(f"{label}: no figure")
        else:
            verdicts.append(f"{label} {'met' if r[key] <= 1.0 else 'NOT met'} ({r[key]:.2f}x)")
    targets = "Targets (wirecall <= 1.0x tonic): " + "; ".join(verdicts) + "."
    slowest = slowest_table(runs)
    return lines, targets, slowest


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    cargo_v = subprocess.run(["cargo", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}", rustc, cargo_v


def section(settings, table, targets, slowest, locked, wall):
    machine_text, rustc, cargo_v = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    features = ", ".join(settings.features) or "none"
    lines = [
        SECTION,
        "",
        f"Generated by `python3 bench/build_cost.py {' '.join(settings.argv)}`".rstrip()
        + f" on {now}; do not edit by hand.",
        "",
        f"- Machine: {machine_text}; {rustc}; {cargo_v}; load average before the run "
        f"{settings.load_before}",
        f"- Two generated crates, each its own workspace with cargo's default profiles, built "
        f"with `cargo build{' --release' if settings.release else ''}` and a private "
        f"`CARGO_TARGET_DIR`: the same proto (a Greeter, one unary and one server-streaming "
        f"RPC) and the same tiny server. wirecall + wirecall-build by path, default features "
        f"(extra: {features}); tonic + tonic-prost + tonic-prost-build from crates.io, code "
        f"generated from a protox descriptor set (`compile_fds`). Both start from this "
        f"workspace's Cargo.lock.",
        "- Resolved: " + "; ".join(f"{app}-app: " + ", ".join(f"{k} {v}" for k, v in locked[app].items())
                                   for app in APPS),
        f"- {settings.reps} repetition(s), alternating wirecall, tonic; medians (min–max). "
        f"Clean build: the target dir removed first, the whole `cargo build` command timed "
        f"(sources already downloaded). Rebuild: after a string literal in the handler changed. "
        f"Crates compiled: unique packages with a `compiler-artifact` message in the clean "
        f"build's `--message-format json` output (the app, build-script and proc-macro crates "
        f"included). MB = 10^6 bytes; stripped: `strip` of a copy. Wall time {wall:.0f} s.",
        *([] if settings.release else
          ["- Smoke run: the debug profile, one build of each; a check of the harness, not a "
           "measurement."]),
        "",
        *table,
        "",
        targets,
        "",
        "Slowest units of the clean build (`cargo build --timings`, median seconds):",
        "",
        *slowest,
        "",
    ]
    return "\n".join(lines)


def write_section(text):
    """Replaces the build-cost section of RESULTS.md (up to the next `## ` heading), or
    appends it; the rest of the file stays as it is."""
    old = ""
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            old = f.read()
    start = old.find("\n" + SECTION + "\n")
    if old.startswith(SECTION + "\n"):
        start = 0
    elif start >= 0:
        start += 1
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text if old else text
    else:
        following = old.find("\n## ", start + len(SECTION))
        rest = old[following + 1:] if following >= 0 else ""
        new = old[:start] + text + ("\n" + rest if rest else "")
    with open(RESULTS, "w") as f:
        f.write(new)


# ---------------------------------------------------------------------------------------

class Settings:
    def __init__(self, args, argv):
        self.release = not args.smoke
        self.reps = 1 if args.smoke else args.reps
        self.features = [f for f in re.split(r"[\s,]+", args.features or "") if f]
        self.write = not (args.smoke or args.no_write)
        self.keep = args.keep
        self.argv = argv
        self.load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions per app (default 3)")
    parser.add_argument("--smoke", action="store_true",
                        help="each app once in the debug profile; prints the table, writes nothing")
    parser.add_argument("--features", default="",
                        help='extra wirecall features for the wirecall app, e.g. "tls"')
    parser.add_argument("--keep", action="store_true",
                        help="keep target/build-cost (the crates and their target dirs)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    settings = Settings(args, sys.argv[1:])
    started = time.monotonic()

    dropped = [k for k in DROPPED_ENV if k in os.environ]
    if dropped:
        log(f"not passed to cargo: {', '.join(dropped)}")
    log(f"load average before: {settings.load_before} (the timings need a quiet machine)")

    versions = workspace_versions()
    crates, locked = {}, {}
    for app in APPS:
        crates[app] = generate(app, versions, settings.features)
        # Untimed: completes the copied Cargo.lock for the new root package (and downloads
        # anything missing), so the timed builds never resolve or download.
        log(f"{app}: cargo fetch")
        cargo(["fetch"], crates[app], os.path.join(crates[app], "target"),
              os.path.join(SCRATCH, f"{app}-cargo.log"))
        names = ["wirecall", "tonic", "prost", "tokio", "h2", "hyper"]
        locked[app] = locked_versions(crates[app], names)

    runs = {app: [] for app in APPS}
    for rep in range(settings.reps):
        for app in APPS:
            log(f"rep {rep + 1}/{settings.reps}: {app}: clean build "
                f"({'release' if settings.release else 'debug'}), then rebuild after an edit")
            run = measure(app, crates[app], settings.release, rep)
            runs[app].append(run)
            log(f"  clean {run['clean_s']:.1f} s, rebuild {run['incremental_s']:.2f} s, "
                f"binary {megabytes(run['binary'])}, {run['crates']} crates")

    wall = time.monotonic() - started
    table, targets, slowest = report(runs)
    text = section(settings, table, targets, slowest, locked, wall)
    print(text)
    if settings.write:
        write_section(text)
        log(f"wrote the section '{SECTION}' of {RESULTS}")
    if not settings.keep:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    log(f"done in {wall:.0f} s")


if __name__ == "__main__":
    main()
