#!/usr/bin/env bash
# Set up and serve Podium with the shipped deck on http://127.0.0.1:8000
# (embedded defaults: SQLite, in-memory channel layer, sandbox worker in-process).
# Run buttons need a Docker engine: as root on Debian this starts one and builds
# the workshop images; elsewhere the deck is still served and the Run button says
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[podium]\033[0m %s\n' "$*"; }
HOST="${PODIUM_HOST:-127.0.0.1}"
PORT="${PODIUM_PORT:-8000}"

scripts/setup.sh serve
if scripts/docker-up.sh; then
    .venv/bin/python manage.py sandbox prepare || say "images not ready: Run buttons will say so"
    PODIUM_SANDBOX_SECURITY=$(scripts/sandbox-security.sh)
    export PODIUM_SANDBOX_SECURITY
    say "sandbox security mode: $(scripts/sandbox-security.sh --describe "$PODIUM_SANDBOX_SECURITY")"
else
    say "no Docker engine: the deck is served, Run buttons will say what is missing"
fi
.venv/bin/python manage.py migrate --noinput -v 0
# Sandboxes of an earlier run of this server: keep what still exists, remove orphans.
.venv/bin/python manage.py sandbox reconcile || true
for deck in slides/*.md; do
    slug=$(basename "$deck" .md)
    .venv/bin/python manage.py talk link "$slug" --base-url "http://$HOST:$PORT"
done
# Idle sandboxes are reaped every 5 minutes (PODIUM_SANDBOX_IDLE_TTL), for as long as the server runs.
.venv/bin/python manage.py sandbox cull --every 300 >var/cull.log 2>&1 &
culler=$!
trap 'kill $culler 2>/dev/null' EXIT
say "serving on http://$HOST:$PORT  (Ctrl+C stops)"
.venv/bin/daphne -b "$HOST" -p "$PORT" config.asgi:application
