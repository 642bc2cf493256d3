#!/usr/bin/env bash
# The main job: build the example UserService, start its server, call every method with the
# example client (which prints what came back), then look at it with the `wirecall` command
# (reflection and health, as grpcurl would), then over REST and Connect with curl, then stop
# the server.
#   ADDR=127.0.0.1:50051 scripts/demo.sh   # default: a free port on 127.0.0.1
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p user-service --bins -p wirecall-cli
ADDR=${ADDR:-127.0.0.1:0}

# The server prints "UserService listening on HOST:PORT" once it accepts connections.
exec {server_out}< <(exec target/debug/user-server --addr "$ADDR")
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
if ! read -r -t 30 line <&"$server_out"; then
    echo "demo: the server did not start" >&2
    exit 1
fi
echo "$line"
target/debug/user-client --addr "http://${line##* }"
ADDR_FOUND=${line##* }
echo
echo "\$ wirecall --plaintext list $ADDR_FOUND"
target/debug/wirecall --plaintext list "$ADDR_FOUND"
echo "\$ wirecall --plaintext call $ADDR_FOUND user.UserService/GetUser -d '{\"id\": 2}'"
target/debug/wirecall --plaintext call "$ADDR_FOUND" user.UserService/GetUser -d '{"id": 2}'
echo "\$ wirecall --plaintext health $ADDR_FOUND"
target/debug/wirecall --plaintext health "$ADDR_FOUND"
if command -v curl >/dev/null; then
    # The same server answers REST (user.proto's google.api.http rules) and Connect.
    echo "\$ curl http://$ADDR_FOUND/v1/users/2"
    curl -sS "http://$ADDR_FOUND/v1/users/2"
    echo
    echo "\$ curl -H 'content-type: application/json' -d '{\"id\": 3}' http://$ADDR_FOUND/user.UserService/GetUser"
    curl -sS -H 'content-type: application/json' -d '{"id": 3}' "http://$ADDR_FOUND/user.UserService/GetUser"
    echo
fi
