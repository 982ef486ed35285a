#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's:
#   1. install what the tests need and start the servers they talk to
#      (MariaDB, Redis, a Docker engine, the workshop's images, the test
#      Kubernetes cluster);
#   2. ruff;
#   3. pytest on the embedded defaults (SQLite, in-memory channel layer);
#   4. pytest again on MariaDB + the Redis channel layer (everything but the
#      Docker, browser and cluster tests, which do not depend on the database).
# Extra arguments go to both pytest runs (e.g. scripts/test.sh -k follow).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[test]\033[0m %s\n' "$*"; }
started=$(date +%s)

scripts/setup.sh test
scripts/services-up.sh
scripts/docker-up.sh

say "test Kubernetes cluster (built from Debian's source once per machine; see tests/cluster/README.md)"
cluster_started=0
if ! tests/cluster/up.sh --check >/dev/null 2>&1; then
    tests/cluster/up.sh
    cluster_started=1
fi
# shellcheck disable=SC2317  # called by the trap
# Bounded: a wedged Docker engine must not turn a finished run into a CI timeout.
cluster_stop() { if [[ $cluster_started == 1 ]]; then timeout 300 tests/cluster/down.sh >/dev/null 2>&1 || say "stopping the test cluster failed or took over 300 s"; fi; }
trap cluster_stop EXIT
export PODIUM_CLUSTER_KEEP=1

# Images, workspace, mirror and the sandbox firewall. The firewall lets workspaces reach the
# Kubernetes API only of the cluster PODIUM_KUBECONFIG names: here the test cluster's.
say "preparing workshop images (built locally when no registry answers) and the sandbox firewall"
PODIUM_KUBECONFIG="${PODIUM_CLUSTER_DIR:-/var/lib/podium-cluster}/admin.kubeconfig" .venv/bin/python manage.py sandbox prepare
PODIUM_SANDBOX_SECURITY=$(scripts/sandbox-security.sh)
export PODIUM_SANDBOX_SECURITY
say "sandbox security mode: $(scripts/sandbox-security.sh --describe "$PODIUM_SANDBOX_SECURITY")"

say "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { .venv/bin/ruff format --check .; exit 1; }

export PODIUM_ENV=test
mkdir -p tests/artifacts

pytest_run() {  # label, pytest args...
    local label=$1; shift
    say "pytest: $label"
    set +e
    .venv/bin/pytest --durations=15 "$@"  # the slowest tests, for keeping CI within its time
    local rc=$?
    set -e
    # 5 = no test collected: a filter that matched nothing is not a failure of the suite.
    if [[ $rc -ne 0 && $rc -ne 5 ]]; then
        say "FAILED: $label (exit $rc)"; exit $rc
    fi
}

pytest_run "SQLite + in-memory channel layer" "$@"

DATABASE_URL="mysql://root@127.0.0.1:3306/podium" REDIS_URL="redis://127.0.0.1:6379/5" \
    pytest_run "MariaDB + Redis channel layer" -m "not docker and not browser and not cluster" "$@"

say "all green in $(( $(date +%s) - started )) s"
