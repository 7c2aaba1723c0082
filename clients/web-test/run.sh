#!/usr/bin/env bash
# Usage: TIPGRANTS_URL=http://127.0.0.1:PORT TIPGRANTS_TOKEN=tg_... clients/web-test/run.sh
#
# Runs the gRPC-Web client check (src/test.ts) against a server with grpc_web.enabled = true:
#   1. npm ci: the exact packages of package-lock.json (skipped when node_modules already holds
#      exactly them, i.e. npm's own record node_modules/.package-lock.json is newer than the lock);
#   2. buf generate (TypeScript from ../../proto and google/rpc/error_details.proto) and tsc
#      (skipped when dist/test.js is newer than every input);
#   3. node dist/test.js.
# tests/api/browser.rs runs it against a fresh server; it needs node and npm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
# Node ignores the system CA store; trust it too (TLS-inspecting proxies).
if [[ -z "${NODE_EXTRA_CA_CERTS:-}" && -r /etc/ssl/certs/ca-certificates.crt ]]; then
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

if [[ ! node_modules/.package-lock.json -nt package-lock.json || package.json -nt node_modules/.package-lock.json ]]; then
    echo "web-test: npm ci" >&2
    npm ci --prefer-offline --loglevel=error >&2
fi

if [[ ! -f dist/test.js ]] || [[ -n "$(find ../../proto src/test.ts buf.gen.yaml tsconfig.json package-lock.json -newer dist/test.js -print -quit)" ]]; then
    echo "web-test: buf generate, tsc" >&2
    npx --no-install buf generate
    npx --no-install tsc
fi

exec node dist/test.js
