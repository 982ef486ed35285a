#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine, starting one if needed.
#
# Idempotent: when `docker info` already answers it says so and exits 0.
# Otherwise, as root on Debian, it installs Debian's docker.io (plus
# docker-compose, docker-registry and debootstrap, which `manage.py sandbox
# prepare` needs) and starts `dockerd` in the background - there is no
# systemd on these machines - with its log in /var/log/podium-dockerd.log.
# overlay2 is tried first; vfs (slow, disk-hungry, but works on any
# filesystem) only when overlay2 cannot start.
#
# Called by the README's serve command and by .ci/run. Prints one line of
# status; anything it cannot do is explained with the fix, and exits non-zero.
set -euo pipefail

LOG=${PODIUM_DOCKERD_LOG:-/var/log/podium-dockerd.log}
WAIT_SECONDS=${PODIUM_DOCKERD_WAIT:-30}
PACKAGES=(docker.io docker-compose docker-registry debootstrap)
started=$SECONDS

say() { echo "docker-up: $*"; }
fail() { echo "docker-up: $*" >&2; exit 1; }

engine_answers() { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }

engine_summary() {
    docker info --format 'Docker {{.ServerVersion}}, storage {{.Driver}}' 2>/dev/null || echo "Docker"
}

if engine_answers; then
    say "engine already running ($(engine_summary))."
    exit 0
fi

# --- Can we start one ourselves? ---------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    if [ -S /var/run/docker.sock ]; then
        fail "a Docker engine seems to run (/var/run/docker.sock exists) but this user may not use it. Fix: add yourself to the docker group ('sudo usermod -aG docker $(id -un)', then log in again) or run as root."
    fi
    fail "no Docker engine answers and starting one needs root. Fix: run 'sudo scripts/docker-up.sh', or start Docker yourself (Docker Desktop on macOS/Windows, 'sudo systemctl start docker' on Linux) and make sure 'docker info' works for this user."
fi
if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
    fail "no Docker engine answers, and this script only knows how to install one on Debian/Ubuntu (apt-get not found). Fix: install Docker for your system (https://docs.docker.com/engine/install/), start it, and check that 'docker info' works."
fi

# One run at a time: the README command and .ci/run may overlap.
LOCK=${PODIUM_DOCKER_UP_LOCK:-/run/podium-docker-up.lock}
exec 9>"$LOCK"
flock -w 120 9 || fail "another docker-up.sh has held $LOCK for 2 minutes; look at 'ps aux | grep dockerd' and $LOG."
if engine_answers; then
    say "engine already running ($(engine_summary))."
    exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} with apt-get ..."
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >>"$LOG" 2>&1; then
        fail "apt-get could not install ${missing[*]} (details at the end of $LOG). Fix: check that 'apt-get update' works on this machine, then run this script again."
    fi
fi
command -v dockerd >/dev/null 2>&1 || fail "dockerd is not on PATH even though docker.io is installed; check 'dpkg -L docker.io | grep bin/dockerd'."

# --- Start dockerd --------------------------------------------------------------
dockerd_pid() { pgrep -x dockerd | head -n1 || true; }

wait_for_engine() {
    # $1: pid of the dockerd we started. Succeeds when `docker info` answers;
    # fails early when that dockerd has died.
    local pid=$1 deadline=$((SECONDS + WAIT_SECONDS))
    while [ $SECONDS -lt $deadline ]; do
        engine_answers && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.5
    done
    return 1
}

start_dockerd() {
    # $1: storage driver. setsid detaches it from this script's session so it
    # outlives the terminal or CI step that started it.
    echo "=== $(date -Is) docker-up.sh starting dockerd --storage-driver $1" >>"$LOG"
    setsid dockerd --storage-driver "$1" >>"$LOG" 2>&1 </dev/null 9>&- &
    echo $!
}

stop_dockerd() {
    local pid=$1
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
}

existing=$(dockerd_pid)
if [ -n "$existing" ]; then
    # A dockerd is running but does not answer yet (just started by someone else?): give it the same wait.
    wait_for_engine "$existing" && { say "engine ready ($(engine_summary)) after $((SECONDS - started))s; it was already starting."; exit 0; }
    fail "a dockerd (pid $existing) is running but 'docker info' does not answer after ${WAIT_SECONDS}s. Look at $LOG, stop it ('kill $existing') and run this script again."
fi

for driver in overlay2 vfs; do
    pid=$(start_dockerd "$driver")
    if wait_for_engine "$pid"; then
        note=""
        [ "$driver" = vfs ] && note=" (overlay2 failed here, see $LOG; vfs uses more disk)"
        say "engine ready ($(engine_summary)) in $((SECONDS - started))s, dockerd pid $pid, log $LOG$note."
        exit 0
    fi
    stop_dockerd "$pid"
done

fail "dockerd did not answer within ${WAIT_SECONDS}s with overlay2 or vfs storage. The last lines of $LOG say why:
$(tail -n 15 "$LOG")"
