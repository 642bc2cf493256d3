#!/usr/bin/env bash
# Installs everything the build and the tests need beyond Rust: Debian packages (Node.js,
# npm, python3-venv, grpc-proto for the interop protos, h2load, iperf3, sockperf and strace for
# the benchmark, dnsmasq for the DNS tests, curl for the HTTP/1.1 gRPC-Web, Connect and REST tests), the contract examples'
# Node, Python and Go peers (scripts/install-peers.sh), Chromium and the npm packages of the
# UserService's browser test, the Node interop peer, and the official interop peers built by
# ../shared/interop/setup-peers.sh (Go, C++, Python, Ruby). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
[ -f /usr/share/grpc-proto/grpc/testing/test.proto ] || missing+=(grpc-proto)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v iperf3 >/dev/null || missing+=(iperf3)
command -v sockperf >/dev/null || missing+=(sockperf)
command -v curl >/dev/null || missing+=(curl)
command -v strace >/dev/null || missing+=(strace)
# The DNS server of the DNS resolver's tests (wirecall-tests/tests/dns.rs).
[ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing ${missing[*]}; install them (apt-get install -y ${missing[*]})" >&2
        exit 1
    fi
    # A new machine's package lists may be missing or stale: refresh them once.
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

bash scripts/install-peers.sh
# Debian's chromium and the npm packages of the UserService's browser test.
bash scripts/install-browser.sh
# @connectrpc/connect-node for the UserService's connect-node test (pinned by its lock file).
(cd examples/user-service/node-connect && npm ci --silent --no-audit --no-fund)

SETUP=${INTEROP_SETUP:-../shared/interop/setup-peers.sh}
if [ ! -f "$SETUP" ]; then
    echo "install-deps: $SETUP not found: the official interop peers cannot be built" >&2
    exit 1
fi
W=target/interop-peers bash "$SETUP" 2> target/setup-peers.log || {
    tail -n 30 target/setup-peers.log >&2
    exit 1
}
(cd interop/node && npm ci --silent --no-audit --no-fund)
