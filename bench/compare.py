#!/usr/bin/env python3
"""Before/after: the native gRPC unary h2load scenarios of run.py against `wirecall-echo`
built at two git revisions, interleaved in one run.

    python3 bench/compare.py --old HEAD                  # HEAD vs the working tree, release-lto, 5 repetitions
    python3 bench/compare.py --old v0.1.0 --new HEAD~1   # two revisions
    python3 bench/compare.py --old HEAD --scenarios all  # the whole conns x streams grid of run.py
    python3 bench/compare.py --old HEAD --keep           # keep the old build for the next comparison
    python3 bench/compare.py --old HEAD --smoke          # CI: debug builds, one short repetition, nothing written

The old revision (and --new, if given; else the working tree as it is, uncommitted changes
included) is checked out with `git worktree add --detach` under target/compare-<sha> and
built there with its own CARGO_TARGET_DIR (target/compare-<sha>/target); the working tree
builds in the workspace's usual target dir. Only `wirecall-echo` is built; both binaries are
copied to a temporary directory, so a rebuild during the run cannot swap one. The worktrees
are removed at the end unless --keep (a kept one is reused by the next run).

Each repetition starts a fresh server process of each build in turn, old then new, new then
old, alternating per repetition; on each: a warm-up burst, then every scenario (run.py's
h2load command, its body and its exact check: every request 2xx and the full echo in DATA)
with a fixed request count, the same for both builds (calibrated once on each for about
--secs seconds; the smaller count is used). The server runs on core 0, h2load on core 1.
Figures: requests per second of server CPU time (utime + stime from /proc/PID/stat around
each h2load run) and req/s, medians (min-max), and the ratios new/old of the medians.

Only 127.0.0.1 is ever contacted. Every process started here is stopped by its PID.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run as harness  # noqa: E402  (bench/run.py: servers, h2load, pinning, summaries)

log = harness.log
DEFAULT_SCENARIOS = ["1x1", "1x10", "1x100", "4x10", "16x10"]
UNARY = "/bench.Echo/Unary"
# run.py's echo100 body (bench-client bodies): EchoMessage { text: "abc...z" x 100 chars },
# 5-byte-prefixed.
TEXT = "".join(chr(ord("a") + i % 26) for i in range(100)).encode()
MESSAGE = bytes([0x0A, len(TEXT)]) + TEXT
ECHO100 = b"\x00" + len(MESSAGE).to_bytes(4, "big") + MESSAGE


def git(*args, cwd=ROOT):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


class Build:
    """One side of the comparison: a revision in a worktree, or the working tree."""

    def __init__(self, label, rev):
        self.label = label
        self.rev = rev
        self.worktree = None
        if rev is None:
            head = git("rev-parse", "HEAD")
            dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
            self.sha = head
            self.describe = (f"working tree (HEAD {head[:12]}"
                             f"{' + uncommitted changes' if dirty else ''})")
        else:
            self.sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
            subject = git("log", "-1", "--format=%s", self.sha)
            subject = subject if len(subject) <= 80 else subject[:79].rstrip() + "…"
            self.describe = f"`{rev}` = {self.sha[:12]} ({subject})"

    def checkout(self):
        if self.rev is None:
            return
        self.worktree = os.path.join(ROOT, "target", f"compare-{self.sha[:12]}")
        if os.path.isdir(self.worktree):
            try:
                at = git("rev-parse", "HEAD", cwd=self.worktree)
            except subprocess.CalledProcessError:
                at = None
            if at != self.sha:
                sys.exit(f"{self.worktree} exists and is not a worktree at {self.sha}: "
                         "remove it (git worktree remove --force ...)")
            log(f"{self.label}: reusing the worktree {self.worktree}")
            return
        log(f"{self.label}: git worktree add --detach {self.worktree} {self.sha[:12]}")
        git("worktree", "add", "--detach", self.worktree, self.sha)

    def build(self, profile, dest, features=None):
        """Builds wirecall-echo (with cargo `features`, if any) and copies it to
        dest/wirecall-echo; returns dest."""
        src = self.worktree or ROOT
        env = dict(os.environ)
        if self.worktree:
            env["CARGO_TARGET_DIR"] = os.path.join(self.worktree, "target")
            # A one-off build: no incremental cache (disk). Release profiles have none anyway.
            env["CARGO_INCREMENTAL"] = "0"
        cmd = ["cargo", "build", "--profile", profile, "-p", "wirecall-bench",
               "--bin", "wirecall-echo"]
        if features:
            cmd += ["--features", features]
        if shutil.which("nice"):
            cmd = ["nice", "-n", "10", *cmd]
        log(f"{self.label}: {' '.join(cmd)} (in {src})")
        started = time.monotonic()
        subprocess.run(cmd, cwd=src, env=env, check=True)
        meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                              cwd=src, env=env, check=True, capture_output=True,
                              text=True).stdout
        target = json.loads(meta)["target_directory"]
        binary = os.path.join(target, "debug" if profile == "dev" else profile,
                              "wirecall-echo")
        os.makedirs(dest, exist_ok=True)
        shutil.copy2(binary, os.path.join(dest, "wirecall-echo"))
        log(f"{self.label}: built in {time.monotonic() - started:.0f} s")
        return dest

    def remove(self, keep):
        if not self.worktree or not os.path.isdir(self.worktree):
            return
        if keep:
            log(f"{self.label}: kept {self.worktree}")
            return
        log(f"{self.label}: git worktree remove --force {self.worktree}")
        try:
            git("worktree", "remove", "--force", self.worktree)
        except subprocess.CalledProcessError as e:
            log(f"git worktree remove failed: {e.stderr.strip()}; removing the folder")
            shutil.rmtree(self.worktree, ignore_errors=True)
            git("worktree", "prune")


def scenarios(names):
    """run.py's unary echo scenarios with the wanted conns x streams, in run.py's order."""
    wanted = None if names == ["all"] else set(names)
    found = []
    for key, title, path, body, c, m, _ in harness.h2load_scenarios():
        if path == UNARY and body == "echo100" and key != "streams-1000" and \
                (wanted is None or f"{c}x{m}" in wanted):
            found.append((key, title, c, m))
    if wanted is not None:
        missing = wanted - {f"{c}x{m}" for _, _, c, m in found}
        if missing:
            sys.exit(f"no such scenario in run.py's grid: {', '.join(sorted(missing))} "
                     f"(conns {harness.GRID_CONNS} x streams {harness.GRID_STREAMS})")
    return found


class Compare:
    def __init__(self, settings, bindirs, tmp, items, secs):
        self.settings = settings
        self.bindirs = bindirs  # label -> folder holding wirecall-echo
        self.items = items
        self.secs = secs
        path = os.path.join(tmp, "echo100.bin")
        with open(path, "wb") as f:
            f.write(ECHO100)
        self.h2load = harness.H2load(settings, {"echo100": (path, len(ECHO100))}, tmp)
        self.counts = {}
        self.results = {}  # (label, key) -> list of results
        self.errors = []

    def server(self, label):
        server = harness.Server("wirecall", self.bindirs[label], self.settings)
        server.start()
        return server

    def stop(self, label, server):
        server.stop()
        errors = server.counters.get("errors", 0)
        if not server.counters:
            self.errors.append(f"{label}: the server printed no counters")
        elif errors:
            self.errors.append(f"{label}: the server counted {errors} non-OK statuses")

    def calibrate(self):
        rates = {}
        for label in self.bindirs:
            server = self.server(label)
            try:
                for key, _, c, m in self.items:
                    r = self.h2load.run(server, UNARY, "echo100", c, m,
                                        duration=self.settings.calibrate_secs)
                    rates.setdefault(key, []).append(r["rate"])
            finally:
                self.stop(label, server)
        for key, _, c, m in self.items:
            self.counts[key] = max(c * m * 2, 50, int(min(rates[key]) * self.secs))
            log(f"calibrated {key}: {', '.join(f'{r:,.0f}' for r in rates[key])} req/s "
                f"-> n = {self.counts[key]}")

    def one(self, label, rep, reps):
        s = self.settings
        server = self.server(label)
        try:
            warm = self.h2load.run(server, UNARY, "echo100", 4, 10, n=200 if s.smoke else 20000)
            if warm["errors"]:
                self.errors.append(f"warm-up on {label}: {warm['errors']} errors")
            for key, _, c, m in self.items:
                n = self.counts.get(key, max(c * m * 2, 1000))
                r = self.h2load.run(server, UNARY, "echo100", c, m, n=n)
                r["n"] = n
                self.results.setdefault((label, key), []).append(r)
                if r["errors"]:
                    self.errors.append(f"{key} on {label}: {r['errors']} errors")
                log(f"rep {rep + 1}/{reps} {label} {key}: {r['rate']:,.0f} req/s, "
                    f"{n / r['cpu_s'] if r['cpu_s'] else 0:,.0f} req/CPU-s")
        finally:
            self.stop(label, server)

    def run(self, reps):
        if not self.settings.smoke:
            self.calibrate()
        labels = list(self.bindirs)
        for rep in range(reps):
            for label in (labels if rep % 2 == 0 else labels[::-1]):
                self.one(label, rep, reps)


def report(bench, builds, args, wall, load_before, profile):
    model, cores = harness.machine()
    v = harness.versions()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    reps = len(next(iter(bench.results.values()), []))
    lines = [
        "# wirecall before/after: native gRPC unary (bench/compare.py)",
        "",
        f"Generated by `python3 bench/compare.py {' '.join(args)}` on {now}.",
        "",
        f"- old: {builds['old'].describe}",
        f"- new: {builds['new'].describe}",
        f"- Machine: {model}, {cores} cores, Linux {platform.release()}; load average before "
        f"the run {load_before}{'' if bench.settings.pin else ' (not pinned)'}",
        f"- Build: `wirecall-echo`, profile `{profile}`; {v.get('rustc', 'rustc ?')}; load: "
        f"{v.get('h2load', 'h2load')}",
        f"- {reps} repetition(s), a fresh server process of each build per repetition, old "
        "and new alternating which goes first; server on core 0, h2load on core 1; the "
        "unary echo of 100 B, the same fixed request count for both builds (for about "
        f"{bench.secs:g} s), every run checked (all 2xx, the full echo in DATA). Median "
        "(min–max); ratios new/old of the medians. `req per server CPU-s`: requests per "
        f"second of server CPU time (utime + stime from /proc/PID/stat). Wall time {wall:.0f} s "
        "(builds included).",
        *(["- Smoke run: a check of the harness, not a measurement."]
          if bench.settings.smoke else []),
        "",
        "| scenario | old: req per server CPU-s | new: req per server CPU-s | new/old | "
        "old: req/s | new: req/s | new/old |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    fmt = "{:,.0f}"
    show = lambda r: "–" if r is None else f"{r:.3f}"
    for key, _, c, m in bench.items:
        cols, ratios = [], []
        for field in ("per_cpu", "rate"):
            sums = {}
            for label in ("old", "new"):
                runs = bench.results.get((label, key), [])
                values = [(r["n"] / r["cpu_s"] if r["cpu_s"] else None) if field == "per_cpu"
                          else r["rate"] for r in runs]
                errors = sum(r["errors"] for r in runs)
                sums[label] = harness.summarize(values)
                cols.append(harness.cell(sums[label], fmt, errors))
            cols.append(show(harness.ratio(sums["new"], sums["old"])))
        scenario = (f"{c} conn{'s' if c > 1 else ''} x {m} stream{'s' if m > 1 else ''}")
        lines.append(f"| {scenario} | {' | '.join(cols)} |")
    lines += ["", "Errors:", ""]
    lines += [f"- {e}" for e in bench.errors] or ["- none"]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="the git revision to compare against")
    parser.add_argument("--new", help="a git revision (default: the working tree as it is)")
    parser.add_argument("--profile", help="cargo profile: release-lto (default) or debug "
                                          "(the default with --smoke)")
    parser.add_argument("--smoke", action="store_true",
                        help="debug builds, one short repetition; prints the table")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--secs", type=float, default=1.0,
                        help="about how long each measured h2load run lasts (default 1)")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                        help="conns x streams of run.py's grid, comma-separated, or 'all' "
                             f"(default {','.join(DEFAULT_SCENARIOS)})")
    parser.add_argument("--features", default=None,
                        help="cargo features for both builds, e.g. wirecall/web (so that both "
                             "have what the newer bench crate turns on)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the worktrees and their builds (reused next time)")
    parser.add_argument("--out", help="also write the Markdown to this file")
    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    profile_name = args.profile or ("debug" if args.smoke else "release-lto")
    profile = "dev" if profile_name == "debug" else profile_name
    reps = 1 if args.smoke else args.reps
    items = scenarios([s.strip() for s in args.scenarios.split(",") if s.strip()])

    started = time.monotonic()
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    log(f"load average before: {load_before}")
    signal.signal(signal.SIGTERM, lambda *_: (harness.stop_all(), sys.exit(143)))
    if not shutil.which("h2load"):
        harness.ensure_tools()
    builds = {"old": Build("old", args.old), "new": Build("new", args.new)}
    with tempfile.TemporaryDirectory(prefix="wirecall-compare-") as tmp:
        try:
            bindirs = {}
            for label, b in builds.items():
                b.checkout()
                bindirs[label] = b.build(profile, os.path.join(tmp, label), args.features)
        finally:
            for b in builds.values():
                b.remove(args.keep)
        settings = harness.Settings(argparse.Namespace(smoke=args.smoke, quick=False, reps=reps))
        if settings.pin:
            os.sched_setaffinity(0, {harness.LOAD_CORE})
        bench = Compare(settings, bindirs, tmp, items, args.secs)
        try:
            bench.run(reps)
        except (RuntimeError, TimeoutError, OSError, ValueError) as e:
            log(f"FAILED: {str(e)[:2000]}")
            sys.exit(1)
        finally:
            harness.stop_all()
    wall = time.monotonic() - started
    text = report(bench, builds, sys.argv[1:], wall, load_before, profile_name)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        log(f"wrote {args.out}")
    log(f"done in {wall:.0f} s")
    if bench.errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
