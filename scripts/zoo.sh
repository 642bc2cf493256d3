#!/usr/bin/env bash
# Generated code as a user meets it, in crates outside this workspace (their own [workspace]),
# with wirecall's default features:
#   - wirecall-tests/zoo: awkward protos of our own (keywords, clashing names, proto2 groups
#     and extensions, every well-known type, an empty package...). Built and clippy-checked;
#     any warning fails. Its server is then called on every RPC by its own Rust client and by
#     a Python grpcio client generated from the same files by grpc_tools.protoc.
#   - wirecall-tests/realworld: every .proto of PyPI's googleapis-common-protos and of
#     Debian's grpc-proto (but one that imports Envoy's protos, which neither ships). Built
#     and clippy-checked; any warning fails.
# Needs scripts/install-deps.sh first (the Python venv, grpc-proto).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV_PY=$ROOT/target/peers/venv/bin/python
export CARGO_TARGET_DIR=$ROOT/target/user-crates

# Builds and lints one crate; fails if cargo printed a warning (from generated code or from
# wirecall itself, which as a path dependency is not capped).
check_crate() {
    local dir=$1 log
    log=$(mktemp)
    # The workspace's lock file: the same dependency versions as the workspace, no resolving.
    cp Cargo.lock "$dir/Cargo.lock"
    (cd "$dir" && cargo build --quiet 2> >(tee "$log" >&2))
    (cd "$dir" && cargo clippy --quiet --all-targets -- -D warnings 2> >(tee -a "$log" >&2))
    if grep -q '^warning' "$log"; then
        echo "zoo: $dir built with warnings (above)" >&2
        exit 1
    fi
    rm -f "$log"
    echo "zoo: $dir builds and passes clippy with no warning"
}

# The real-world set: which files, from where (protox resolves the imports).
SITE=$("$VENV_PY" -c 'import google.api, os; print(os.path.dirname(os.path.dirname(google.api.__path__[0])))')
LIST=$ROOT/target/realworld.list
mkdir -p target
: > "$LIST"
(cd "$SITE" && find google -name '*.proto' -not -path 'google/protobuf/*' | sort) | sed "s|^|$SITE\t|" >> "$LIST"
(cd /usr/share/grpc-proto && find grpc -name '*.proto' -not -path '*/meshca/*' | sort) | sed "s|^|/usr/share/grpc-proto\t|" >> "$LIST"
services=0
while IFS=$'\t' read -r dir file; do
    if grep -q '^service' "$dir/$file"; then services=$((services + 1)); fi
done < "$LIST"
echo "zoo: the real-world set has $(wc -l < "$LIST") files, $services of them with services"
export WIRECALL_REALWORLD_LIST=$LIST
check_crate wirecall-tests/realworld
check_crate wirecall-tests/zoo

# The zoo's Python stubs, from the same files.
PROTOS=(zoo/keywords.proto zoo/clash.proto zoo/legacy.proto zoo/wkt.proto nopackage.proto)
GEN=$ROOT/target/zoo-py
rm -rf "$GEN" && mkdir -p "$GEN"
(cd wirecall-tests/zoo/proto && "$VENV_PY" -m grpc_tools.protoc -I . --python_out="$GEN" --grpc_python_out="$GEN" "${PROTOS[@]}")
MODULES=()
for p in "${PROTOS[@]}"; do m=${p%.proto}_pb2; MODULES+=("${m//\//.}"); done

# Serve the zoo on a free port and call it.
OUT=$(mktemp)
"$CARGO_TARGET_DIR/debug/wirecall-zoo" serve --addr 127.0.0.1:0 > "$OUT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -f "$OUT"' EXIT
for _ in $(seq 1 100); do grep -q 'listening on' "$OUT" && break; sleep 0.1; done
ADDR=$(sed -n 's/^zoo listening on //p' "$OUT")
[ -n "$ADDR" ] || { echo "zoo: the server did not start" >&2; exit 1; }
"$CARGO_TARGET_DIR/debug/wirecall-zoo" call --addr "$ADDR"
"$VENV_PY" wirecall-tests/zoo/peer/call_all.py "$GEN" "$ADDR" "${MODULES[@]}"
