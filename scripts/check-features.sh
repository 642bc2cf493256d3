#!/usr/bin/env bash
# Lints the `wirecall` crate in every feature combination a user is likely to build, with
# warnings as errors: no default features, each feature alone (every feature of
# wirecall/Cargo.toml but `fuzzing`, read from the manifest), the default set, all of them;
# then its docs with every feature (rustdoc warnings as errors too).
#
# One line per combination; stops at the first failure and prints its output. Every run
# shares one target directory (CARGO_TARGET_DIR, or the workspace's `target/`), so only
# `wirecall` itself is rebuilt between combinations. `--all-targets` because the crate's unit
# tests have code of their own for each feature.
set -euo pipefail
cd "$(dirname "$0")/.."

features=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
package = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == "wirecall")
print(" ".join(f for f in package["features"] if f not in ("default", "fuzzing")))
')

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)

# Runs one command quietly, printing `label: ok (Ns)`, or its output and the failure.
run() {
    local label=$1
    shift
    local began
    began=$(date +%s)
    if "$@" >"$log" 2>&1; then
        echo "check-features: $label: ok ($(($(date +%s) - began))s)"
    else
        cat "$log"
        echo "check-features: $label: FAILED: $*" >&2
        exit 1
    fi
}

clippy() {
    run "clippy ${*:-(default features)}" cargo clippy -p wirecall --all-targets "$@" -- -D warnings
}

clippy --no-default-features
for feature in $features; do
    clippy --no-default-features --features "$feature"
done
clippy
clippy --all-features
run "doc --all-features" env RUSTDOCFLAGS="-D warnings" cargo doc -p wirecall --no-deps --all-features
# The other published crates' docs, as docs.rs builds them.
run "doc wirecall-build, wirecall-cli" env RUSTDOCFLAGS="-D warnings" cargo doc -p wirecall-build -p wirecall-cli --no-deps --all-features

echo "check-features: done in $(($(date +%s) - start))s"
