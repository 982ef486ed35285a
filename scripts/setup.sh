#!/usr/bin/env bash
# Install what Podium needs on a Debian machine: system packages (when root), the
# Python virtualenv, and the browser-side packages from npm. Idempotent and quiet
# when everything is already there.
#   scripts/setup.sh serve   -> what serving Podium needs
#   scripts/setup.sh test    -> that, plus what the test suite needs (Chromium, servers)
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-serve}"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

packages=(python3-venv libmariadb-dev pkg-config mariadb-client docker.io docker-compose docker-registry debootstrap curl)
# npm comes from Debian only when the machine has no node/npm of its own.
command -v npm >/dev/null || packages+=(npm)
if [[ "$purpose" == "test" ]]; then
    packages+=(chromium fonts-dejavu-core mariadb-server redis-server openssl)  # openssl: the compose TLS test
fi

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        say "installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing[*]} >/dev/null
    else
        say "missing Debian packages: ${missing[*]} (run as root on Debian, or install them yourself)"
    fi
fi

PYTHON="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    say "creating the virtualenv in .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-runtime.txt | sha256sum | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    say "installing Python packages (requirements.txt, requirements-runtime.txt)"
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -r requirements.txt
    echo "$want" >"$stamp"
fi

if [[ -f package.json ]]; then
    stamp=node_modules/.package-lock.sha256
    want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        say "installing browser packages from npm (package.json)"
        npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --loglevel=error
        echo "$want" >"$stamp"
    fi
fi
say "ready"
