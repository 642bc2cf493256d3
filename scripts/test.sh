#!/usr/bin/env bash
# The full test suite. Installs what the tests need on a fresh machine (Node.js and npm,
# Python's venv, Debian's grpc-proto, the Python and Node peers, the official gRPC interop
# peers), then runs every test of the workspace (unit, real-socket, every contract example
# against its Node, Python and Go peers in both directions, the browser test, doctests), the interop matrix against the official
# peers, a short fuzzing run of every fuzz target, a smoke run of the benchmark harness and
# the validation of the Kubernetes manifests in deploy/.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash scripts/install-deps.sh
# Tests that may skip where a peer is missing (a `cargo test` with only Rust) must not here.
export WIRECALL_REQUIRE_PEERS=1
cargo test --workspace

# Generated code in crates outside the workspace, as users build it: the zoo of awkward protos
# and the real-world sets compile with no warning; every zoo RPC is called by a Rust client and
# a Python grpcio client generated from the same files.
bash scripts/zoo.sh

# The official interop matrix (interop/matrix.py): Go, C++, Python, Ruby and Node peers,
# both directions, plaintext and TLS.
cargo build --quiet -p wirecall-interop --bins
python3 interop/matrix.py

# The whole suite again with every server and every client on wirecall's own HTTP/2 engine
# (issue 22): the workspace's tests (no rebuild: the engine is picked at run time) and the
# interop matrix (our client against every official server, our server against every
# official client), so both engines pass everything before ours may become the default.
WIRECALL_HTTP2_ENGINE=wirecall cargo test --workspace
WIRECALL_HTTP2_ENGINE=wirecall python3 interop/matrix.py

# Every fuzz target (fuzz/, cargo-fuzz on the stable toolchain) for a short while over its
# kept corpus; a crash, timeout or OOM fails the run. Longer runs: scripts/fuzz.sh 3600.
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"

# The benchmark harness (bench/run.py), once through in seconds with no thresholds, so it
# cannot rot. The measured run is `python3 bench/run.py` (see bench/README.md).
python3 bench/run.py --smoke --profile debug
python3 bench/run.py --smoke --profile debug --no-build --interceptor-overhead
# The build-cost harness (bench/build_cost.py) once in debug: a wirecall and a tonic
# one-service crate built clean side by side (the measured run is release, 3 repetitions).
python3 bench/build_cost.py --smoke
python3 bench/gateway.py --smoke
# The Kubernetes manifests of deploy/ against the API schemas of Kubernetes 1.30
# (kubernetes-validate, offline and strict; a kind without a schema fails too).
bash scripts/validate-deploy.sh
echo "test: done in $(( $(date +%s) - start ))s"
