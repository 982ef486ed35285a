#!/usr/bin/env bash
# Stop the test cluster that up.sh started, and remove what it left on the machine.
#
# Stops only the processes named in $PODIUM_CLUSTER_DIR/run/*.pid (after checking
# that each pid still runs the program it was started as), then removes the
# Docker containers the kubelet created (every container carrying the
# kubelet's io.kubernetes.docker.type label), kube-proxy's iptables rules,
# the kubelet's mounts and the cluster's state (etcd data, pods' volumes).
# Certificates and logs stay, for a look after a failure. Safe to run twice.
#
# Usage: tests/cluster/down.sh [--quiet]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

quiet=false
[ "${1:-}" = --quiet ] && quiet=true
say() { $quiet || log "$@"; }

RUN=$CLUSTER_DIR/run
if [ ! -d "$CLUSTER_DIR" ]; then
    say "no test cluster here ($CLUSTER_DIR does not exist); nothing to stop."
    exit 0
fi
[ "$(id -u)" -eq 0 ] || die "stopping the test cluster needs root (it unmounts the kubelet's volumes)."
if [ "${PODIUM_CLUSTER_LOCK_HELD:-0}" != 1 ]; then # up.sh calls us holding the lock already
    exec 9>"$CLUSTER_DIR/.lock"
    flock -w 300 9 || die "another up.sh or down.sh holds $CLUSTER_DIR/.lock."
fi

# --- processes, in reverse start order -----------------------------------------------
program_of() { # pid -> the program file a pid runs (empty when gone)
    readlink "/proc/$1/exe" 2>/dev/null || true
}

stopped=()
for name in "${CLUSTER_PROCESSES[@]}"; do
    pidfile=$RUN/$name.pid
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    program=$(program_of "$pid")
    # A pid reused by an unrelated process since up.sh must not be killed.
    case "$name:$(basename "${program:-none}")" in
        etcd:etcd | dnsmasq:dnsmasq | cluster-dns:python3* | "$name:$name") ;;
        *)
            rm -f "$pidfile"
            continue
            ;;
    esac
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        [ -n "$(program_of "$pid")" ] || break
        sleep 0.2
    done
    if [ -n "$(program_of "$pid")" ]; then
        say "$name (pid $pid) ignored SIGTERM for 10 s; killing it"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    stopped+=("$name")
done
say "stopped: ${stopped[*]:-nothing was running}"

# --- what the node left behind -----------------------------------------------------------
if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then
    ids=$(docker ps -aq --filter label=io.kubernetes.docker.type)
    if [ -n "$ids" ]; then
        # shellcheck disable=SC2086 # one id per word
        docker rm -f -v $ids >/dev/null
        say "removed $(echo "$ids" | wc -w) pod container(s)"
    fi
fi

# kube-proxy's own `--cleanup` also tries IPVS (needs ipset) and leaves its canary
# and mark chains behind, so remove the KUBE-* rules and chains here, table by
# table in one iptables-restore (which parses iptables-save's quoting itself):
# the jumps from the built-in chains, then the chains. Docker's rules stay.
removed_chains=0
for table in nat filter mangle; do
    rules=$(iptables-save -t "$table" 2>/dev/null) || continue
    chains=$(printf '%s\n' "$rules" | awk '/^:KUBE-/ {print substr($1, 2)}')
    [ -n "$chains" ] || continue
    {
        echo "*$table"
        printf '%s\n' "$rules" |
            awk '$1 == "-A" && $2 ~ /^(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING)$/ && / -j KUBE-/ {sub(/^-A/, "-D"); print}'
        for chain in $chains; do echo "-F $chain"; done
        for chain in $chains; do echo "-X $chain"; done
        echo COMMIT
    } | iptables-restore --noflush || say "could not remove kube-proxy's rules from the $table table (iptables-save -t $table shows them)"
    removed_chains=$((removed_chains + $(echo "$chains" | wc -l)))
done
[ "$removed_chains" -eq 0 ] || say "removed kube-proxy's iptables rules ($removed_chains KUBE-* chains)"

if [ -f "$CLUSTER_DIR/route_localnet.saved" ]; then
    cat "$CLUSTER_DIR/route_localnet.saved" >/proc/sys/net/ipv4/conf/all/route_localnet 2>/dev/null || true
    rm -f "$CLUSTER_DIR/route_localnet.saved"
fi

# Secret and emptyDir volumes are tmpfs mounts under the kubelet's root dir; deepest first.
mounts=$(awk -v dir="$CLUSTER_DIR/" 'index($2, dir) == 1 {print $2}' /proc/mounts | sort -r)
for mount_point in $mounts; do
    umount "$mount_point" 2>/dev/null || umount -l "$mount_point" 2>/dev/null || say "could not unmount $mount_point"
done

rm -rf "$RUN" "$CLUSTER_DIR/etcd" "$CLUSTER_DIR/kubelet" "$CLUSTER_DIR/node" "$CLUSTER_DIR/dockershim" \
    "$CLUSTER_DIR/dns" "$CLUSTER_DIR/cluster.env" "$CLUSTER_DIR/kubectl-cache"
say "test cluster stopped; logs of the last run stay in $CLUSTER_DIR/logs"
