#!/usr/bin/env bash
# Start the servers the test suite talks to, when they are not already answering:
# MariaDB on 127.0.0.1:3306 and Redis on 127.0.0.1:6379. Idempotent.
set -euo pipefail

say() { printf '\033[1m[services]\033[0m %s\n' "$*"; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {  # port name
    for _ in $(seq 1 60); do answers "$1" && return 0; sleep 0.5; done
    say "$2 did not start on 127.0.0.1:$1"; return 1
}

if answers 3306; then
    say "MariaDB answers on 127.0.0.1:3306"
else
    say "starting MariaDB"
    install -d -o mysql -g mysql /run/mysqld
    [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1
    wait_for 3306 MariaDB
fi
# Tests connect as root without a password over TCP (as on these machines).
mariadb -uroot -h127.0.0.1 -e "SELECT 1" >/dev/null 2>&1 || \
    mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" || true

if answers 6379; then
    say "Redis answers on 127.0.0.1:6379"
else
    say "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/podium.log
    wait_for 6379 Redis
fi
