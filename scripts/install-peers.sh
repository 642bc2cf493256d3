#!/usr/bin/env bash
# Installs the peers of the contract examples (examples/peers/, see examples/README.md):
#   - Python: a venv at target/peers/venv with examples/peers/python/requirements.txt, and
#     the grpcio stubs of every contract in target/peers/py-gen/<contract>/
#     (examples/peers/python/gen_stubs.sh);
#   - Node: @grpc/grpc-js and @grpc/proto-loader in examples/peers/node/node_modules
#     (examples/peers/node/install.sh);
#   - Go: the order.proto and math.proto peers in target/peers/go/bin, built with Debian's
#     grpc-go (examples/peers/go/build.sh; as root, the Debian packages it needs are
#     installed first).
# Idempotent; run from anywhere. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=target/peers
VENV=$OUT/venv
REQUIREMENTS=examples/peers/python/requirements.txt
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || { echo "install-peers: $PYTHON not found" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-peers: npm not found" >&2; exit 1; }
mkdir -p "$OUT"

# 1. Python: the venv (kept if it exists), its packages (pip does nothing when the pinned
#    versions are there), the stubs (regenerated every time, so they follow the protos).
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "install-peers: creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
PYTHON="$VENV/bin/python" bash examples/peers/python/gen_stubs.sh

# 2. Node.
bash examples/peers/node/install.sh

# 3. Go: Debian's grpc-go and protoc, then the build.
go_packages=(golang-go golang-google-grpc-dev golang-google-protobuf-dev
    golang-github-golang-protobuf-1-5-dev golang-google-genproto-dev protobuf-compiler)
missing=()
for package in "${go_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-peers: the Go peers need ${missing[*]} (apt-get install -y ${missing[*]})" >&2
        exit 1
    fi
    [ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -E '^(lock|partial|auxfiles)$')" ] \
        || apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
bash examples/peers/go/build.sh
echo "install-peers: done"
