#!/usr/bin/env bash
# Installs what the headless-browser test of examples/user-service needs
# (examples/user-service/tests/browser.rs):
#   - Debian's chromium (/usr/bin/chromium), driven by playwright-core, since Playwright's
#     own browser download needs the internet;
#   - the page's npm packages (pinned by examples/user-service/browser/package-lock.json).
# Idempotent: installs only what is missing or out of date. Run as root on Debian (apt-get);
# run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

BROWSER_DIR=examples/user-service/browser

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-browser: /usr/bin/chromium missing; install it (apt-get install -y chromium)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    packages=(chromium fonts-liberation)
    # A new machine's package lists may be missing (no candidate) or stale (the listed
    # version gone from the mirror): refresh them once, only then.
    candidate=$(apt-cache policy chromium 2>/dev/null | sed -n 's/^ *Candidate: *//p')
    updated=no
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
        echo "install-browser: apt-get update"
        apt-get update -q >/dev/null
        updated=yes
    fi
    echo "install-browser: apt-get install ${packages[*]}"
    if ! apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null; then
        [ "$updated" = no ] || exit 1
        echo "install-browser: apt-get install failed; apt-get update and retry"
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null
    fi
fi
# (Debian's launcher script prints a harmless shell warning on stderr: hidden.)
echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null)"

command -v npm >/dev/null || { echo "install-browser: npm not found (apt-get install -y npm)" >&2; exit 1; }
# npm ci wipes node_modules: skip it when the lockfile installed last time is unchanged.
STAMP="$BROWSER_DIR/node_modules/.installed-package-lock.json"
if ! cmp -s "$BROWSER_DIR/package-lock.json" "$STAMP"; then
    echo "install-browser: npm ci in $BROWSER_DIR"
    (cd "$BROWSER_DIR" && npm ci --silent --no-audit --no-fund)
    cp "$BROWSER_DIR/package-lock.json" "$STAMP"
fi
echo "install-browser: done"
