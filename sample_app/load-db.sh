#!/usr/bin/env bash
# Load dbsetup.sql into the 12factor database once the database answers.
# Same settings as the app, from the environment: DATABASE_HOST, DATABASE_PORT
# (default 3306), DATABASE_USER, DATABASE_PASSWORD, DATABASE_NAME. The database
# is created when missing. Waiting is bounded: DB_WAIT_ATTEMPTS tries (default
# 30), DB_WAIT_SECONDS apart (default 2). Loading twice leaves the same rows.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
sql_file=${DB_SETUP_SQL:-$here/dbsetup.sql}

say() { echo "load-db: $*"; }
fail() { echo "load-db: $*" >&2; exit 1; }

for var in DATABASE_HOST DATABASE_USER DATABASE_PASSWORD DATABASE_NAME; do
    [[ -n "${!var+set}" ]] || fail "missing environment variable $var"
done
host=$DATABASE_HOST
port=${DATABASE_PORT:-3306}
attempts=${DB_WAIT_ATTEMPTS:-30}
delay=${DB_WAIT_SECONDS:-2}
[[ $port =~ ^[0-9]+$ ]] || fail "DATABASE_PORT must be a port number, got '$port'"
[[ $attempts =~ ^[1-9][0-9]*$ ]] || fail "DB_WAIT_ATTEMPTS must be a positive number, got '$attempts'"
[[ $delay =~ ^[0-9]+$ ]] || fail "DB_WAIT_SECONDS must be a number of seconds, got '$delay'"
[[ -r $sql_file ]] || fail "cannot read $sql_file"

# Client settings go in a private option file so the password never shows in `ps`.
options=$(mktemp)
trap 'rm -f "$options"' EXIT
{
    echo "[client]"
    echo "host=$host"
    echo "port=$port"
    echo "protocol=TCP"
    echo "user=$DATABASE_USER"
    # Quoted, with backslashes doubled: option files treat \ as an escape.
    [[ -z $DATABASE_PASSWORD ]] || echo "password=\"${DATABASE_PASSWORD//\\/\\\\}\""
} >"$options"

sql() { mysql --defaults-extra-file="$options" --connect-timeout=5 "$@"; }

for ((attempt = 1; ; attempt++)); do
    if error=$(sql -e "SELECT 1" 2>&1 >/dev/null); then
        break
    fi
    if ((attempt >= attempts)); then
        fail "the database at $host:$port did not answer after $attempts attempts; last error: $error"
    fi
    say "waiting for the database at $host:$port (attempt $attempt/$attempts)"
    sleep "$delay"
done

name=${DATABASE_NAME//\`/\`\`}
sql -e "CREATE DATABASE IF NOT EXISTS \`$name\`"
sql --database="$DATABASE_NAME" <"$sql_file"
count=$(sql --database="$DATABASE_NAME" --batch --skip-column-names -e "SELECT COUNT(*) FROM users")
say "loaded $(basename "$sql_file") into $DATABASE_NAME at $host:$port ($count users)"
