#!/usr/bin/env bash
# Generates the grpcio stubs of every contract the Python peers speak, the way the tutorials do
# it (`python -m grpc_tools.protoc --python_out --grpc_python_out`), one directory per contract
# so that modules of different contracts never clash:
#
#   target/peers/py-gen/user/     user_pb2.py,         user_pb2_grpc.py          (user.proto)
#   target/peers/py-gen/users/    user_service_pb2.py, user_service_pb2_grpc.py  (user_service.proto)
#   target/peers/py-gen/order/    order_pb2.py,        order_pb2_grpc.py         (order.proto)
#   target/peers/py-gen/math/     math_pb2.py,         math_pb2_grpc.py          (math.proto)
#   target/peers/py-gen/example/  example_pb2.py,      example_pb2_grpc.py       (example.proto)
#
# Only the contract's own .proto is compiled: google/api/annotations.proto (imported by
# user.proto) comes from googleapis-common-protos and google/protobuf/* from protobuf at run
# time. Regenerates everything on every run; works from any directory.
#
# Usage: examples/peers/python/gen_stubs.sh
# Env:   PYTHON  the interpreter with grpcio-tools (default target/peers/venv/bin/python)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
py="${PYTHON:-$root/target/peers/venv/bin/python}"
out_root="$root/target/peers/py-gen"
annotations="$root/wirecall-build/proto"

if ! "$py" -c 'import grpc_tools.protoc' 2>/dev/null; then
    echo "gen_stubs.sh: $py cannot import grpc_tools (install grpcio-tools, or set PYTHON)" >&2
    exit 1
fi

# contract  proto directory  proto file
contracts=(
    "user     examples/user-service/proto     user.proto"
    "users    examples/users-service/proto    user_service.proto"
    "order    examples/order-service/proto    order.proto"
    "math     examples/calculator/proto       math.proto"
    "example  examples/example-service/proto  example.proto"
)

mkdir -p "$out_root"
for entry in "${contracts[@]}"; do
    read -r contract dir file <<<"$entry"
    # Generate next to the destination, then swap it in, so a concurrent reader never sees a
    # half-written directory.
    tmp="$(mktemp -d "$out_root/.$contract.XXXXXX")"
    if ! "$py" -m grpc_tools.protoc \
        -I "$root/$dir" \
        -I "$annotations" \
        --python_out="$tmp" \
        --grpc_python_out="$tmp" \
        "$root/$dir/$file"; then
        rm -rf "$tmp"
        echo "gen_stubs.sh: protoc failed for $dir/$file" >&2
        exit 1
    fi
    chmod 755 "$tmp"
    rm -rf "$out_root/$contract"
    if ! mv -T "$tmp" "$out_root/$contract" 2>/dev/null; then
        # A concurrent run put its (identical) stubs there in the meantime: keep them.
        rm -rf "$tmp"
    fi
    echo "generated $out_root/$contract ($file)"
done
