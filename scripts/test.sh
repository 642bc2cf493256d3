#!/usr/bin/env bash
# The full test suite. Installs what the tests need on a fresh machine (Node.js and npm,
# Python's venv, Debian's grpc-proto, the Python and Node peers, the official gRPC interop
# peers), then runs every test of the workspace (unit, real-socket, interop with the
# UserService peers, doctests) and the interop matrix against the official peers.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash scripts/install-deps.sh
cargo test --workspace

# The official interop matrix (interop/matrix.py): Go, C++, Python, Ruby and Node peers,
# both directions, plaintext and TLS.
cargo build --quiet -p wirecall-interop --bins
python3 interop/matrix.py
echo "test: done in $(( $(date +%s) - start ))s"
