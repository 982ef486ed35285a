# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this
# Shared settings and helpers for the test cluster scripts (sourced, not run).
#
# Every path and port can be overridden from the environment, so two clusters
# (or a developer's and CI's) never need to share a directory.

K8S_VERSION=1.20.2
CLUSTER_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CLUSTER_SCRIPTS/../.." && pwd)

# Binaries built once per machine by build.sh, outside the repository.
K8S_CACHE=${PODIUM_K8S_CACHE:-/var/cache/podium/k8s-$K8S_VERSION}
K8S_BIN=$K8S_CACHE/bin
# The binaries build.sh makes; kubectl is there so the scripts and tests use a
# client of the same version as the cluster.
K8S_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

# Everything a running cluster writes: certificates, etcd data, logs, pidfiles.
CLUSTER_DIR=${PODIUM_CLUSTER_DIR:-/var/lib/podium-cluster}
CLUSTER_NODE=${PODIUM_CLUSTER_NODE:-podium-node}
CLUSTER_DOMAIN=cluster.local
SERVICE_CIDR=${PODIUM_CLUSTER_SERVICE_CIDR:-10.96.0.0/16}
SERVICE_IP_FIRST=${PODIUM_CLUSTER_SERVICE_IP_FIRST:-10.96.0.1}
APISERVER_PORT=${PODIUM_CLUSTER_APISERVER_PORT:-6443}
ETCD_CLIENT_PORT=${PODIUM_CLUSTER_ETCD_PORT:-23790}
ETCD_PEER_PORT=$((ETCD_CLIENT_PORT + 10))
PAUSE_IMAGE=podium-cluster/pause:1
ADMIN_KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig

# Stopped in this order (reverse of start) by down.sh.
CLUSTER_PROCESSES=(cluster-dns dnsmasq kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd)

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
    printf '[cluster] ERROR: %s\n' "$*" >&2
    exit 1
}

# The docker bridge address: the node IP, where the apiserver and the cluster
# DNS listen, reachable from every container on this machine.
docker_bridge_ip() {
    local gateway interface
    gateway=$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null)
    if [ -z "$gateway" ]; then # docker leaves Gateway empty when it chose the address itself
        interface=$(docker network inspect bridge \
            --format '{{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null)
        gateway=$(ip -4 -o addr show dev "${interface:-docker0}" 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')
    fi
    printf '%s\n' "$gateway"
}

pid_alive() { # name -> 0 when its pidfile names a live process
    local pidfile=$CLUSTER_DIR/run/$1.pid state
    [ -s "$pidfile" ] || return 1
    # Not `kill -0`: a dead process whose parent has not reaped it yet (a zombie) still answers that.
    state=$(awk '{print $3}' "/proc/$(cat "$pidfile")/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

kubectl_admin() {
    "$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" --cache-dir "$CLUSTER_DIR/kubectl-cache" --request-timeout=10s "$@"
}

apt_install_missing() { # packages... ; installs those dpkg does not know as installed
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "needs Debian packages ${missing[*]}; install them as root (apt-get install ${missing[*]}) or run this script as root."
    log "installing ${missing[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        {
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        } ||
        die "apt-get could not install ${missing[*]}; check that 'apt-get update' works here."
}
