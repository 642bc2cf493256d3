#!/usr/bin/env bash
# Installs the non-Rust interop peers of examples/user-service:
#   - a Python venv at target/peers/venv with grpcio / grpcio-tools,
#   - generated Python stubs in target/peers/py-gen (user_pb2.py, user_pb2_grpc.py, and
#     order_pb2.py, order_pb2_grpc.py for examples/order-service),
#   - the Node peer's dependencies in examples/user-service/peers/node/node_modules.
# Idempotent; run from the repository root. Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(pwd)"
PEERS="$ROOT/examples/user-service/peers"
PROTO_DIR="$ROOT/examples/user-service/proto"
OUT="$ROOT/target/peers"
VENV="$OUT/venv"
PY_GEN="$OUT/py-gen"

if [[ ! -f "$PROTO_DIR/user.proto" || ! -d "$PEERS" ]]; then
    echo "install-peers: run me from the repository root" >&2
    exit 1
fi

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || { echo "install-peers: $PYTHON not found" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-peers: npm not found" >&2; exit 1; }

mkdir -p "$OUT"

# 1. Python venv (kept if it already exists).
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "install-peers: creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
fi

# 2. Python packages (pip is a no-op when the pinned versions are already there).
echo "install-peers: pip install -r peers/python/requirements.txt"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$PEERS/python/requirements.txt"
cp "$PEERS/python/requirements.txt" "$OUT/requirements.installed"

# 3. Python stubs, regenerated every time so they follow the protos.
echo "install-peers: generating Python stubs into $PY_GEN"
rm -rf "$PY_GEN"
mkdir -p "$PY_GEN"
# user.proto imports google/api/annotations.proto (bundled by wirecall-build; at run time
# the module comes from googleapis-common-protos).
"$VENV/bin/python" -m grpc_tools.protoc \
    -I "$PROTO_DIR" \
    -I "$ROOT/wirecall-build/proto" \
    --python_out="$PY_GEN" \
    --grpc_python_out="$PY_GEN" \
    "$PROTO_DIR/user.proto"
ORDER_PROTO_DIR="$ROOT/examples/order-service/proto"
"$VENV/bin/python" -m grpc_tools.protoc \
    -I "$ORDER_PROTO_DIR" \
    --python_out="$PY_GEN" \
    --grpc_python_out="$PY_GEN" \
    "$ORDER_PROTO_DIR/order.proto"

# 4. Node dependencies.
echo "install-peers: installing Node dependencies"
cd "$PEERS/node"
if [[ -f package-lock.json ]]; then
    npm ci --silent --no-audit --no-fund
else
    npm install --silent --no-audit --no-fund
fi

echo "install-peers: done (export USER_PY_GEN=$PY_GEN for the Python peers)"
