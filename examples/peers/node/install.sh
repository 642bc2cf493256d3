#!/usr/bin/env bash
# Installs the Node peers' dependencies (package-lock.json, exactly) into node_modules, unless
# node_modules is already newer than the lock file. Idempotent; runs from anywhere.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
command -v npm >/dev/null || { echo "install.sh: npm not found" >&2; exit 1; }

if [[ ! -d node_modules/@grpc/grpc-js || node_modules -ot package-lock.json ]]; then
    echo "install.sh: npm ci in $(pwd)"
    npm ci --silent --no-audit --no-fund
    touch node_modules
fi
