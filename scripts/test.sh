#!/usr/bin/env bash
# The full test suite. Installs what the tests need on a fresh machine (Node.js and npm,
# Python's venv module, the Python and Node interop peers), then runs every test of the
# workspace: unit tests, tests over real sockets, interop with the peers, and doctests.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "test: missing $*; install it (as root: apt-get install -y $*)" >&2
        exit 1
    fi
    [ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -E '^(lock|partial|auxfiles)$')" ] \
        || apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

command -v cargo >/dev/null || { echo "test: cargo is required (https://rustup.rs)" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

bash scripts/install-peers.sh
cargo test --workspace
