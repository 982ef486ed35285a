#!/bin/bash
# Entrypoint of the podium-standin/mysql image: make Debian's MariaDB start the
# way the official mysql image does, so the workshop's compose file and
# `docker run -e MYSQL_ROOT_PASSWORD=... mysql:8` work unchanged.
#
# Started as root it fixes the datadir's owner and re-executes itself as the
# mysql user. On the first start (empty datadir) it initialises the database
# from the MYSQL_* variables with a temporary server that listens on the
# socket only, then execs mysqld as PID 1 so SIGTERM shuts it down cleanly.
set -Eeuo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

log() { printf '%s [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

# VAR or VAR_FILE (a file holding the value, for Docker/Kubernetes secrets).
file_env() {
    local var=$1 file_var="${1}_FILE" default=${2:-}
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        die "both $var and $file_var are set; use only one of them."
    fi
    local value=$default
    if [ -n "${!var:-}" ]; then
        value=${!var}
    elif [ -n "${!file_var:-}" ]; then
        value=$(<"${!file_var}")
    fi
    export "$var"="$value"
    unset "$file_var"
}

sql_string() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\\\'}"; }
# shellcheck disable=SC2016 # the backticks are SQL quoting, not shell
sql_name() { printf '`%s`' "${1//\`/\`\`}"; }

# `docker run mysql:8 --some-option` means `mysqld --some-option`.
if [ "${1:0:1}" = '-' ]; then
    set -- mysqld "$@"
fi
if [ "$1" != mysqld ] && [ "$1" != mariadbd ]; then
    exec "$@"
fi

# MySQL-8-only options that MariaDB would refuse to start with.
args=()
for arg in "$@"; do
    case "$arg" in
        --default-authentication-plugin=* | --default_authentication_plugin=* | --authentication-policy=*)
            log "ignoring $arg (MySQL 8 only; MariaDB uses mysql_native_password anyway)" ;;
        *) args+=("$arg") ;;
    esac
done
set -- "${args[@]}"

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$DATADIR" /run/mysqld
    find "$DATADIR" /run/mysqld \! -user mysql -exec chown mysql:mysql {} +
    exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
fi

initialise() {
    file_env MYSQL_ROOT_PASSWORD
    file_env MYSQL_DATABASE
    file_env MYSQL_USER
    file_env MYSQL_PASSWORD
    file_env MYSQL_ROOT_HOST '%'
    local allow_empty=${MYSQL_ALLOW_EMPTY_PASSWORD:-} random=${MYSQL_RANDOM_ROOT_PASSWORD:-}

    if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$allow_empty" ] && [ -z "$random" ]; then
        die "the database is uninitialised and no root password option is set.
    Set one of MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD."
    fi
    if [ "$MYSQL_USER" = root ]; then
        die "MYSQL_USER=\"root\": MYSQL_USER and MYSQL_PASSWORD create a regular user; set the root password with MYSQL_ROOT_PASSWORD."
    fi
    if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then
        die "MYSQL_USER is set but MYSQL_PASSWORD is not; set both."
    fi
    if [ -n "$random" ]; then
        MYSQL_ROOT_PASSWORD=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
        log "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
    fi

    log "initialising the database in $DATADIR (MariaDB $(mariadbd --version | awk '{print $3}'), a stand-in for MySQL)"
    mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve >/tmp/install-db.log 2>&1 \
        || { cat /tmp/install-db.log >&2; die "mariadb-install-db failed (output above)."; }

    "$@" --skip-networking --socket="$SOCKET" --datadir="$DATADIR" &
    local pid=$!
    local client=(mariadb --protocol=socket --socket="$SOCKET" -uroot)
    for _ in $(seq 1 60); do
        mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || die "the temporary server stopped during initialisation (its log is above)."
        sleep 0.5
    done
    mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1 || die "the temporary server did not answer within 30 s."

    # Only root@localhost and root@MYSQL_ROOT_HOST remain, as in the official image.
    local drop
    drop=$("${client[@]}" -N -B -e "SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user WHERE User = '' OR (User = 'root' AND Host <> 'localhost')")
    local pw
    pw=$(sql_string "$MYSQL_ROOT_PASSWORD")
    {
        echo "$drop"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $pw;"
        if [ "$MYSQL_ROOT_HOST" != localhost ]; then
            echo "CREATE USER 'root'@$(sql_string "$MYSQL_ROOT_HOST") IDENTIFIED BY $pw;"
            echo "GRANT ALL ON *.* TO 'root'@$(sql_string "$MYSQL_ROOT_HOST") WITH GRANT OPTION;"
        fi
        if [ -n "$MYSQL_DATABASE" ]; then
            echo "CREATE DATABASE IF NOT EXISTS $(sql_name "$MYSQL_DATABASE");"
        fi
        if [ -n "$MYSQL_USER" ]; then
            echo "CREATE USER $(sql_string "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_string "$MYSQL_PASSWORD");"
            if [ -n "$MYSQL_DATABASE" ]; then
                echo "GRANT ALL ON $(sql_name "$MYSQL_DATABASE").* TO $(sql_string "$MYSQL_USER")@'%';"
            fi
        fi
        echo "FLUSH PRIVILEGES;"
    } | "${client[@]}"

    # From here on root has its password. MYSQL_PWD keeps it out of argv (`ps`) and, unlike an
    # option file, needs no escaping whatever characters it holds.
    export MYSQL_PWD=$MYSQL_ROOT_PASSWORD
    client=(mariadb --protocol=socket --socket="$SOCKET" -uroot)
    [ -n "$MYSQL_DATABASE" ] && client+=("$MYSQL_DATABASE")

    local f
    for f in /docker-entrypoint-initdb.d/*; do
        [ -e "$f" ] || continue
        case "$f" in
            *.sh) log "running $f"; # shellcheck disable=SC1090
                  . "$f" ;;
            *.sql) log "running $f"; "${client[@]}" <"$f" ;;
            *.sql.gz) log "running $f"; gunzip -c "$f" | "${client[@]}" ;;
            *) log "ignoring $f" ;;
        esac
    done

    mariadb-admin --socket="$SOCKET" -uroot shutdown
    wait "$pid" || true
    unset MYSQL_PWD
    log "initialisation done; starting the server."
}

if [ ! -d "$DATADIR/mysql" ]; then
    initialise "$@"
fi
exec "$@"
