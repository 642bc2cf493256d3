#!/usr/bin/env bash
# The main job: the users' own contracts (../shared/seeds, completed in examples/), each served
# by its wirecall example and called by its wirecall client, which checks and prints every
# answer. First user.proto's user.UserService, then users.UserService, order.OrderService,
# math.Calculator and Example in turn; then a look at the user.UserService with the `wirecall`
# command (reflection and health, as grpcurl would) and over REST and Connect with curl.
#   ADDR=127.0.0.1:50051 scripts/demo.sh   # where user-server listens; default a free port
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p user-service -p users-service -p order-service -p calculator \
    -p example-service --bins -p wirecall-cli

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT

# start NAME ADDR: starts target/debug/NAME on ADDR and sets SERVER_ADDR from its
# "<service> listening on HOST:PORT" line.
start() {
    local out
    exec {out}< <(exec "target/debug/$1" --addr "$2" 2>/dev/null)
    PIDS+=($!)
    if ! read -r -t 30 line <&"$out"; then
        echo "demo: $1 did not start" >&2
        exit 1
    fi
    echo "$line"
    SERVER_ADDR=${line##* }
}

start user-server "${ADDR:-127.0.0.1:0}"
USER_ADDR=$SERVER_ADDR
echo "\$ user-client --addr $USER_ADDR"
target/debug/user-client --addr "$USER_ADDR"

for pair in users-server:users-client order-server:order-client \
    calculator-server:calculator-client example-server:example-client; do
    echo
    start "${pair%%:*}" 127.0.0.1:0
    echo "\$ ${pair##*:} --addr $SERVER_ADDR"
    "target/debug/${pair##*:}" --addr "$SERVER_ADDR"
    kill -TERM "${PIDS[-1]}"
done

echo
echo "\$ wirecall --plaintext list $USER_ADDR"
target/debug/wirecall --plaintext list "$USER_ADDR"
echo "\$ wirecall --plaintext call $USER_ADDR user.UserService/GetUser -d '{\"user_id\": \"2\"}'"
target/debug/wirecall --plaintext call "$USER_ADDR" user.UserService/GetUser -d '{"user_id": "2"}'
echo "\$ wirecall --plaintext health $USER_ADDR"
target/debug/wirecall --plaintext health "$USER_ADDR"
if command -v curl >/dev/null; then
    # The same server answers REST (user.proto's google.api.http rules) and Connect.
    echo "\$ curl http://$USER_ADDR/v1/users/2"
    curl -sS "http://$USER_ADDR/v1/users/2"
    echo
    echo "\$ curl -H 'content-type: application/json' -d '{\"user_id\": \"3\"}' http://$USER_ADDR/user.UserService/GetUser"
    curl -sS -H 'content-type: application/json' -d '{"user_id": "3"}' "http://$USER_ADDR/user.UserService/GetUser"
    echo
fi
