#!/usr/bin/env bash
# The full test suite. Installs what the tests need on a fresh machine (Node.js and npm,
# Python's venv, Debian's grpc-proto, the Python and Node peers, the official gRPC interop
# peers), then runs every test of the workspace (unit, real-socket, interop with the
# UserService peers, doctests), the interop matrix against the official peers and a smoke
# run of the benchmark harness.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash scripts/install-deps.sh
cargo test --workspace

# The official interop matrix (interop/matrix.py): Go, C++, Python, Ruby and Node peers,
# both directions, plaintext and TLS.
cargo build --quiet -p wirecall-interop --bins
python3 interop/matrix.py

# The benchmark harness (bench/run.py), once through in seconds with no thresholds, so it
# cannot rot. The measured run is `python3 bench/run.py` (see bench/README.md).
python3 bench/run.py --smoke --profile debug
python3 bench/run.py --smoke --profile debug --no-build --interceptor-overhead
echo "test: done in $(( $(date +%s) - start ))s"
