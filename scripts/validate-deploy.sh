#!/usr/bin/env bash
# Validates the Kubernetes manifests in deploy/ (issue 23, point 6) against the API schemas
# of Kubernetes 1.30 with kubernetes-validate (PyPI; the schemas ship inside the package, so
# it runs offline once installed). --strict rejects unknown fields (a misspelt
# `readinessProbe` key, say). A kind or apiVersion it has no schema for is only a warning
# there ("Couldn't find schema"), so this script fails on that warning too.
# Installs kubernetes-validate into the peers' venv (target/peers/venv, as
# scripts/install-peers.sh makes it). Run from anywhere; exits non-zero on any problem.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.37.0
KUBERNETES=1.30
VENV=target/peers/venv
PYTHON=${PYTHON:-python3}

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "validate-deploy: creating venv $VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$VERSION"

shopt -s nullglob
manifests=(deploy/*.yaml)
if [ ${#manifests[@]} -eq 0 ]; then
    echo "validate-deploy: no manifests in deploy/" >&2
    exit 1
fi

status=0
output=$("$VENV/bin/kubernetes-validate" --strict -k "$KUBERNETES" "${manifests[@]}" 2>&1) || status=$?
echo "$output"
if [ "$status" -ne 0 ]; then
    echo "validate-deploy: FAILED: kubernetes-validate exited $status" >&2
    exit 1
fi
if grep -q "Couldn't find schema" <<<"$output"; then
    echo "validate-deploy: FAILED: a resource of a kind or apiVersion without a schema (above)" >&2
    exit 1
fi
passed=$(grep -c " passed for resource " <<<"$output" || true)
if [ "$passed" -eq 0 ]; then
    echo "validate-deploy: FAILED: no resource was validated" >&2
    exit 1
fi
echo "validate-deploy: ${#manifests[@]} files, $passed resources valid against Kubernetes $KUBERNETES"
