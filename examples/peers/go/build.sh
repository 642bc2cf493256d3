#!/bin/bash
# Builds the Go peers of order.proto and math.proto with Debian's grpc-go 1.33.3 in GOPATH mode
# (no modules, no network), the way shared/interop/setup-peers.sh builds the Go interop peers.
#
# Needs (Debian packages): golang-go, golang-google-grpc-dev, golang-google-protobuf-dev,
# golang-github-golang-protobuf-1-5-dev, golang-google-genproto-dev, protobuf-compiler.
#
# Result, under <repo>/target/peers/go/:
#   bin/{order-server,order-client,math-server,math-client}
#   bin/{protoc-gen-go,protoc-gen-go-grpc}      the two protoc plugins, built from /usr/share/gocode
#   gopath/src/wirecall.example/{orderpb,mathpb} the generated code
#   gopath/src/wirecall.example/peercommon      a copy of ./common
#   gocache/                                    the go build cache
# Idempotent, run from anywhere: it regenerates and rebuilds every time (go's cache makes a warm
# run take about a second); files are only replaced when their content changed. Silent on
# success except one summary line; non-zero exit on any error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT=$ROOT/target/peers/go
ORDER_PROTO=$ROOT/examples/order-service/proto/order.proto
MATH_PROTO=$ROOT/examples/calculator/proto/math.proto

for tool in go protoc flock; do
  command -v "$tool" >/dev/null || { echo "go peers: '$tool' not found (install golang-go, protobuf-compiler, util-linux)" >&2; exit 1; }
done
for dir in google.golang.org/grpc google.golang.org/protobuf github.com/golang/protobuf google.golang.org/genproto/googleapis/rpc/errdetails; do
  [ -d "/usr/share/gocode/src/$dir" ] || { echo "go peers: /usr/share/gocode/src/$dir missing (install the Debian golang-*-dev packages)" >&2; exit 1; }
done

mkdir -p "$OUT/bin" "$OUT/gopath/src/wirecall.example" "$OUT/gocache"
# One build at a time (two test runs may call this concurrently).
exec 9>"$OUT/.build.lock"
flock 9

export GO111MODULE=off GOPATH=$OUT/gopath:/usr/share/gocode GOCACHE=$OUT/gocache GOFLAGS= CGO_ENABLED=0
unset GOROOT GOBIN

# 1. The protoc plugins (protoc-gen-go 1.28.1 and protoc-gen-go-grpc 1.0 as Debian ships them).
go build -o "$OUT/bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$OUT/bin/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc

# 2. Generated code. The protos carry no go_package option and must not be edited: the import
#    path comes from M options. Generated into a scratch dir, then copied where it changed.
TMP=$(mktemp -d "$OUT/gen.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
gen() { # gen <proto file> <go import path>
  local dir file
  dir=$(dirname "$1"); file=$(basename "$1")
  protoc -I "$dir" \
    --plugin=protoc-gen-go="$OUT/bin/protoc-gen-go" \
    --plugin=protoc-gen-go-grpc="$OUT/bin/protoc-gen-go-grpc" \
    --go_out="$TMP" --go_opt="M$file=$2" \
    --go-grpc_out="$TMP" --go-grpc_opt="M$file=$2" \
    "$1"
}
gen "$ORDER_PROTO" wirecall.example/orderpb
gen "$MATH_PROTO" wirecall.example/mathpb
mkdir -p "$TMP/wirecall.example/peercommon"
cp "$HERE"/common/*.go "$TMP/wirecall.example/peercommon/"
sync_dir() { # sync_dir <from> <to>: make <to> hold exactly the files of <from>
  local f
  mkdir -p "$2"
  for f in "$2"/*; do
    if [ -e "$f" ] && [ ! -e "$1/$(basename "$f")" ]; then rm -f "$f"; fi
  done
  for f in "$1"/*; do
    if ! cmp -s "$f" "$2/$(basename "$f")"; then cp "$f" "$2/"; fi
  done
}
for pkg in orderpb mathpb peercommon; do
  sync_dir "$TMP/wirecall.example/$pkg" "$OUT/gopath/src/wirecall.example/$pkg"
done

# 3. The four programs (their main packages build in place; their imports resolve in GOPATH).
cd "$HERE"
for prog in order/server:order-server order/client:order-client math/server:math-server math/client:math-client; do
  go build -o "$OUT/bin/${prog#*:}" "./${prog%%:*}"
done
echo "go peers built in $OUT/bin: order-server order-client math-server math-client"
