#!/usr/bin/env bash
# Podium for a room on this machine, with docker-compose: the README's "Deploy" command.
#
#   scripts/compose-up.sh                       # build and start; prints the address and presenter links
#   scripts/compose-up.sh --scale web=3 --scale worker=2
#
# As root on Debian it installs and starts what is missing (Docker, docker-compose), finds the base images
# (official where a registry answers, else local stand-ins built once), writes the env file with fresh
# passwords the first time (PODIUM_ENV_FILE, default .env; never overwritten), builds Podium's images,
# starts the stack and waits until Podium answers ready. Extra arguments go to `docker-compose up -d`.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[compose]\033[0m %s\n' "$*"; }
fail() { printf '\033[1m[compose]\033[0m %s\n' "$*" >&2; exit 1; }
ENV_FILE=${PODIUM_ENV_FILE:-.env}
export PODIUM_ENV_FILE=$ENV_FILE
COMPOSE=(docker-compose --env-file "$ENV_FILE")
WAIT=${PODIUM_COMPOSE_WAIT:-600}

scripts/setup.sh serve   # the virtualenv (for the step below) and node_modules/@xterm (the image's terminal)
scripts/docker-up.sh

# The bases of Podium's images: pulled where a registry answers, else stand-ins from Debian's packages.
facts=$(.venv/bin/python manage.py sandbox prepare --images-only) || fail "the base images are not ready (above)."
fact() { sed -n "s/^$1=//p" <<<"$facts"; }
python_base=$(fact PODIUM_PYTHON_BASE)
debian_base=debian:bookworm-slim
docker image inspect podium-standin/debian:bookworm >/dev/null 2>&1 && debian_base=podium-standin/debian:bookworm
db_image=mariadb:10.11
[[ $(fact PODIUM_MYSQL_BASE_STANDIN) == 1 ]] && db_image=$(fact PODIUM_MYSQL_BASE)   # the stand-in is MariaDB
gateway=$(fact PODIUM_BRIDGE_GATEWAY)

# The env file: secrets and site settings once; the machine's facts refreshed on every run.
if [[ ! -f $ENV_FILE ]]; then
    host=$(hostname -f 2>/dev/null || hostname)
    port=${PODIUM_HTTP_BIND:-0.0.0.0:8000}; port=${port##*:}
    say "writing $ENV_FILE (fresh passwords; edit it for your site, then run this again)"
    umask 077
    cat >"$ENV_FILE" <<ENV
# Podium's docker-compose settings, written by scripts/compose-up.sh; .env.example documents every variable.
PODIUM_ENV=production
SECRET_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')
ALLOWED_HOSTS=$host,localhost,127.0.0.1
PODIUM_BASE_URL=http://$host:$port
# Plain HTTP: with TLS (deploy/compose/tls.yml, or a proxy in front) remove these three lines.
SESSION_COOKIE_SECURE=0
SECURE_SSL_REDIRECT=0
SECURE_HSTS_SECONDS=0
PODIUM_DB_PASSWORD=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
PODIUM_DB_ROOT_PASSWORD=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
PODIUM_SANDBOX_SECURITY=$(scripts/sandbox-security.sh)
# A room behind one NAT is one address.
PODIUM_RATE_SANDBOXES_PER_ADDRESS=1000/600
ENV
fi
set_fact() {  # KEY VALUE: replace the line or append it
    if grep -q "^$1=" "$ENV_FILE"; then sed -i "s|^$1=.*|$1=$2|" "$ENV_FILE"; else echo "$1=$2" >>"$ENV_FILE"; fi
}
set_fact DOCKER_GID "$(stat -c %g "${PODIUM_DOCKER_SOCKET:-/var/run/docker.sock}")"
set_fact PODIUM_PYTHON_BASE "$python_base"
set_fact PODIUM_DEBIAN_BASE "$debian_base"
grep -q '^PODIUM_DB_IMAGE=' "$ENV_FILE" || set_fact PODIUM_DB_IMAGE "$db_image"   # a database keeps its image
grep -q '^PODIUM_REGISTRY_ADDR=' "$ENV_FILE" ||
    set_fact PODIUM_REGISTRY_ADDR "$gateway:$(sed -n 's/^PODIUM_REGISTRY_PORT=//p' "$ENV_FILE" | grep . || echo 5000)"

say "building Podium's images (podium/server, podium/infra)"
"${COMPOSE[@]}" build --quiet
say "starting the stack"
"${COMPOSE[@]}" up -d "$@"

bind=$(sed -n 's/^PODIUM_HTTP_BIND=//p' "$ENV_FILE" | grep . || echo "${PODIUM_HTTP_BIND:-0.0.0.0:8000}")
probe="http://127.0.0.1:${bind##*:}/readyz"
say "waiting for $probe"
deadline=$((SECONDS + WAIT))
until curl -fsS -m 5 "$probe" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
        "${COMPOSE[@]}" ps >&2
        fail "Podium did not answer ready within ${WAIT} s: $(curl -sS -m 5 "$probe" 2>&1 | head -c 600)"
    fi
    sleep 2
done
base=$(sed -n 's/^PODIUM_BASE_URL=//p' "$ENV_FILE")
say "Podium is ready: ${base:-http://127.0.0.1:${bind##*:}}"
for deck in slides/*.md; do
    "${COMPOSE[@]}" exec -T web python manage.py talk link "$(basename "$deck" .md)" ${base:+--base-url "$base"}
done
