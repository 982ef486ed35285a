#!/usr/bin/env bash
# Start Podium's one-node test Kubernetes cluster on this machine.
#
# It exists only because these machines cannot download kind or k3s: the
# binaries come from Debian's Kubernetes 1.20.2 source (build.sh, run first;
# a no-op once built). What runs, each a plain process with a pidfile under
# $PODIUM_CLUSTER_DIR (default /var/lib/podium-cluster):
#   etcd                     Debian's etcd-server, on 127.0.0.1
#   kube-apiserver           RBAC on, on the docker bridge address (e.g.
#                            https://172.17.0.1:6443), reachable from the host
#                            and from every container on this machine; the
#                            PodSecurityPolicy admission plugin on (1.20 has no
#                            Pod Security Admission): PODIUM_CLUSTER_POD_SECURITY
#   kube-controller-manager, kube-scheduler
#   kubelet                  with its built-in Docker runtime on the local
#                            engine; pods get docker bridge addresses
#   kube-proxy               iptables mode, so Service ClusterIPs work
#   dnsmasq + cluster_dns.py the cluster DNS: <svc>.<ns>.svc.cluster.local,
#                            on the node address, fed from the apiserver
# Pods must use images already in the local engine (imagePullPolicy Never or
# IfNotPresent): nothing can be pulled here.
#
# Idempotent: when the cluster is already up it says so and exits 0. A running
# cluster whose apiserver has other admission plugins than asked for (e.g. one
# started before the PodSecurityPolicy plugin was added here) gets only its
# apiserver restarted, in seconds; pods and etcd's data stay.
# Prints the admin kubeconfig's path; stop everything with down.sh.
#
# Usage: tests/cluster/up.sh            start (or confirm) the cluster
#        tests/cluster/up.sh --check    exit 0 when it is up, 3 when not
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

RUN=$CLUSTER_DIR/run
LOGS=$CLUSTER_DIR/logs
PKI=$CLUSTER_DIR/pki
KUBECONFIGS=$CLUSTER_DIR/kubeconfigs
WAIT_SECONDS=${PODIUM_CLUSTER_WAIT:-180}
PROXY_MODE=${PODIUM_CLUSTER_PROXY_MODE:-iptables}
# "psp" (the default): the PodSecurityPolicy admission plugin is on, as on a 1.20-1.24 cluster that guards
# attendees' namespaces; every pod then needs a policy its creator or its ServiceAccount may `use`. The
# cluster's own components get one here (pod-security.yaml); Podium brings its own for attendees' and
# workspaces' namespaces. "off": no pod security at all, a cluster on which Podium refuses to serve
# attendees unless told otherwise (PODIUM_K8S_POLICY_ENGINE=none).
POD_SECURITY=${PODIUM_CLUSTER_POD_SECURITY:-psp}
case $POD_SECURITY in
psp) ADMISSION_PLUGINS=NodeRestriction,PodSecurityPolicy ;;
off) ADMISSION_PLUGINS=NodeRestriction ;;
*) die "PODIUM_CLUSTER_POD_SECURITY=$POD_SECURITY: choose psp (the default) or off." ;;
esac

node_ready() {
    [ "$(kubectl_admin get node "$CLUSTER_NODE" \
        -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

cluster_runs() { # every process alive, the apiserver ready and the node Ready, whatever its admission plugins
    local name
    [ -f "$ADMIN_KUBECONFIG" ] && [ -x "$K8S_BIN/kubectl" ] || return 1
    for name in "${CLUSTER_PROCESSES[@]}"; do pid_alive "$name" || return 1; done
    kubectl_admin get --raw /readyz >/dev/null 2>&1 && node_ready
}

admission_as_asked() { # the running apiserver's command line has exactly the admission plugins asked for
    tr '\0' '\n' <"/proc/$(cat "$RUN/kube-apiserver.pid" 2>/dev/null)/cmdline" 2>/dev/null |
        grep -qx -- "--enable-admission-plugins=$ADMISSION_PLUGINS"
}

cluster_is_up() { cluster_runs && admission_as_asked; }

if [ "${1:-}" = --check ]; then
    cluster_is_up && exit 0
    exit 3
fi

start_process() { # name command... ; detached from this shell, pid recorded by the process itself
    local name=$1
    shift
    # shellcheck disable=SC2016 # $$, $0 and $@ belong to the inner bash
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN/$name.pid" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
    local waited=0
    until [ -s "$RUN/$name.pid" ]; do
        sleep 0.05
        waited=$((waited + 1))
        [ $waited -lt 100 ] || die "$name did not start (no pidfile after 5 s)."
    done
}

wait_until() { # what seconds process command... ; fails naming the process' log when it died or timed out
    local what=$1 seconds=$2 process=$3
    shift 3
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ! pid_alive "$process"; then
            die "$process exited while waiting for $what. Last lines of $LOGS/$process.log:
$(tail -n 20 "$LOGS/$process.log")"
        fi
        if [ $SECONDS -ge $deadline ]; then
            die "$what did not happen within ${seconds}s. Last lines of $LOGS/$process.log:
$(tail -n 20 "$LOGS/$process.log")"
        fi
        sleep 0.3
    done
}

apiserver_start() { # needs NODE_IP
    start_process kube-apiserver "$K8S_BIN/kube-apiserver" \
        --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port="$APISERVER_PORT" --insecure-port=0 \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --token-auth-file="$PKI/tokens.csv" --client-ca-file="$PKI/ca.crt" \
        --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
        --authorization-mode=Node,RBAC --enable-admission-plugins="$ADMISSION_PLUGINS" \
        --service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
        --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
        --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
        --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
        --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
        --allow-privileged=true --cert-dir="$CLUSTER_DIR/certs/apiserver" --profiling=false
    wait_until "kube-apiserver /readyz" 90 kube-apiserver kubectl_admin get --raw /readyz
}

# With the PodSecurityPolicy plugin on, no pod is admitted without a policy. The cluster's own components
# (kube-system's ServiceAccounts, the node's mirror pods) may use a privileged one, bound in kube-system only:
# bound cluster-wide, the ReplicaSet controller (a kube-system ServiceAccount) could make privileged pods in
# every namespace, attendees' included. Pods created by cluster-admin (system:masters) may use every policy.
# Applied while the plugin is still off too (the API is served either way), so no component is left without.
system_policy_apply() {
    if [ "$POD_SECURITY" = psp ]; then kubectl_admin apply -f "$CLUSTER_SCRIPTS/pod-security.yaml" >/dev/null; fi
}

cluster_env_write() {
    cat >"$CLUSTER_DIR/cluster.env" <<EOF
# Written by podium tests/cluster/up.sh
PODIUM_TEST_KUBECONFIG=$ADMIN_KUBECONFIG
PODIUM_CLUSTER_SERVER=$SERVER
PODIUM_CLUSTER_NODE_IP=$NODE_IP
PODIUM_CLUSTER_KUBECTL=$K8S_BIN/kubectl
PODIUM_CLUSTER_POD_SECURITY=$POD_SECURITY
EOF
}

# A running cluster whose apiserver has other admission plugins: restart the apiserver alone. Everything
# else (etcd's data, certificates, tokens, running pods) stays; the other components reconnect by themselves.
apiserver_restart() {
    local pid restarted=$SECONDS
    NODE_IP=$(sed -n 's/^PODIUM_CLUSTER_NODE_IP=//p' "$CLUSTER_DIR/cluster.env")
    SERVER=https://$NODE_IP:$APISERVER_PORT
    [ -n "$NODE_IP" ] || die "$CLUSTER_DIR/cluster.env names no node address; stop the cluster with down.sh and start it again."
    log "restarting kube-apiserver with admission plugins $ADMISSION_PLUGINS (pod security: $POD_SECURITY)"
    system_policy_apply
    pid=$(cat "$RUN/kube-apiserver.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        [ -e "/proc/$pid" ] || break
        sleep 0.2
    done
    if [ -e "/proc/$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    rm -f "$RUN/kube-apiserver.pid"
    apiserver_start
    wait_until "node $CLUSTER_NODE Ready" 60 kubelet node_ready
    cluster_env_write
    log "kube-apiserver restarted in $((SECONDS - restarted)) s; pod security: $POD_SECURITY"
}

say_up() {
    log "kubeconfig: $ADMIN_KUBECONFIG"
    log "use it:     export KUBECONFIG=$ADMIN_KUBECONFIG; $K8S_BIN/kubectl get nodes"
}

if cluster_is_up; then
    log "the test cluster is already up (node $CLUSTER_NODE Ready)."
    say_up
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "the test cluster runs a kubelet and kube-proxy, which need root; run this as root."
mkdir -p "$CLUSTER_DIR"
exec 9>"$CLUSTER_DIR/.lock"
flock -w 300 9 || die "another up.sh or down.sh holds $CLUSTER_DIR/.lock."
if cluster_is_up; then # someone else started it while we waited
    log "the test cluster is already up (node $CLUSTER_NODE Ready)."
    say_up
    exit 0
fi
if cluster_runs; then # up, but its apiserver has other admission plugins than asked for
    apiserver_restart
    say_up
    exit 0
fi

# --- prerequisites ------------------------------------------------------------------
"$CLUSTER_SCRIPTS/build.sh"
apt_install_missing etcd-server dnsmasq-base conntrack socat iptables openssl curl gcc libc6-dev util-linux
"$REPO_ROOT/scripts/docker-up.sh"
NODE_IP=$(docker_bridge_ip)
[ -n "$NODE_IP" ] || die "the Docker engine has no default 'bridge' network with a gateway address; the node needs it (docker network inspect bridge)."
cgroup_driver=$(docker info --format '{{.CgroupDriver}}')

# Leftovers of a cluster that died without down.sh (processes, the kubelet's mounts,
# pod containers, iptables rules): down.sh removes them and is a no-op otherwise.
compgen -G "$RUN/*.pid" >/dev/null && log "stopping what is left of an earlier cluster"
PODIUM_CLUSTER_LOCK_HELD=1 "$CLUSTER_SCRIPTS/down.sh" --quiet

started=$SECONDS
rm -rf "$RUN" "$LOGS" "$CLUSTER_DIR/etcd" "$CLUSTER_DIR/kubelet" "$CLUSTER_DIR/node" "$CLUSTER_DIR/dns" \
    "$CLUSTER_DIR/dockershim" "$CLUSTER_DIR/certs"
mkdir -p "$RUN" "$LOGS" "$PKI" "$KUBECONFIGS" "$CLUSTER_DIR/kubelet" "$CLUSTER_DIR/dockershim" \
    "$CLUSTER_DIR/node/var/lib/kubelet/device-plugins" "$CLUSTER_DIR/node/var/log/pods" \
    "$CLUSTER_DIR/node/var/log/containers" "$CLUSTER_DIR/flex" "$CLUSTER_DIR/dns/hosts" "$CLUSTER_DIR/certs"
chmod 755 "$CLUSTER_DIR" "$CLUSTER_DIR/dns" "$CLUSTER_DIR/dns/hosts"
chmod 700 "$PKI" "$KUBECONFIGS"

# --- certificates and tokens (new for every start: the node address may change) -------
openssl_sign() { # name subject extensions
    local name=$1 subject=$2 extensions=$3
    openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
    printf '%s\n' "$extensions" >"$PKI/$name.ext"
    openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 365 \
        -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
    rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
rm -f "$PKI"/*
openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 \
    -subj "/CN=podium-test-cluster-ca" 2>/dev/null
apiserver_sans="IP:$NODE_IP,IP:127.0.0.1,IP:$SERVICE_IP_FIRST,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default"
apiserver_sans+=",DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
openssl_sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$apiserver_sans"
# The apiserver's client certificate for kubelet exec/logs/port-forward (kubeadm's choice of group).
openssl_sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
openssl_sign kubelet "/CN=$CLUSTER_NODE" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,DNS:$CLUSTER_NODE"
openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null

# One bearer token per identity; RBAC's built-in roles know these user names.
declare -A TOKENS
token_line() { # identity user [group]
    TOKENS[$1]=$(openssl rand -hex 24)
    printf '%s,%s,%s%s\n' "${TOKENS[$1]}" "$2" "$2" "${3:+,\"$3\"}" >>"$PKI/tokens.csv"
}
token_line admin podium-admin system:masters
token_line controller-manager system:kube-controller-manager
token_line scheduler system:kube-scheduler
token_line kubelet "system:node:$CLUSTER_NODE" system:nodes
token_line kube-proxy system:kube-proxy
token_line cluster-dns podium:cluster-dns
printf '%s\n' "${TOKENS[cluster-dns]}" >"$PKI/cluster-dns.token"

SERVER=https://$NODE_IP:$APISERVER_PORT
ca_data=$(base64 -w0 <"$PKI/ca.crt")
write_kubeconfig() { # path token
    cat >"$1" <<EOF
# Written by podium tests/cluster/up.sh; valid until the next up.sh.
apiVersion: v1
kind: Config
clusters:
  - name: podium-test
    cluster:
      server: $SERVER
      certificate-authority-data: $ca_data
users:
  - name: podium-test
    user:
      token: $2
contexts:
  - name: podium-test
    context:
      cluster: podium-test
      user: podium-test
current-context: podium-test
EOF
    chmod 600 "$1"
}
write_kubeconfig "$ADMIN_KUBECONFIG" "${TOKENS[admin]}"
for identity in controller-manager scheduler kubelet kube-proxy; do
    write_kubeconfig "$KUBECONFIGS/$identity.kubeconfig" "${TOKENS[$identity]}"
done

# --- the pause image (pod sandboxes), built from tests/cluster/pause.c -----------------
pause_sum=$(sha256sum "$CLUSTER_SCRIPTS/pause.c" | cut -c1-16)
if [ "$(docker image inspect --format '{{index .Config.Labels "podium.pause.source"}}' "$PAUSE_IMAGE" 2>/dev/null)" != "$pause_sum" ]; then
    log "building the pause image $PAUSE_IMAGE from pause.c"
    pause_dir=$(mktemp -d)
    gcc -Os -static -o "$pause_dir/pause" "$CLUSTER_SCRIPTS/pause.c" || die "gcc could not build pause.c (needs gcc and libc6-dev)."
    tar -C "$pause_dir" -c pause | docker import --change 'ENTRYPOINT ["/pause"]' \
        --change "LABEL podium.pause.source=$pause_sum" - "$PAUSE_IMAGE" >/dev/null
    rm -rf "$pause_dir"
fi

# --- processes ----------------------------------------------------------------------------
log "starting etcd and kube-apiserver ($SERVER)"
start_process etcd /usr/bin/etcd --name podium-test --data-dir "$CLUSTER_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "podium-test=http://127.0.0.1:$ETCD_PEER_PORT"
wait_until "etcd answering" 30 etcd curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

apiserver_start
log "apiserver ready after $((SECONDS - started)) s"

# The DNS feeder's only rights: read Services and Endpoints.
kubectl_admin apply -f - >/dev/null <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: podium:cluster-dns
rules:
  - apiGroups: [""]
    resources: [services, endpoints]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: podium:cluster-dns
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: podium:cluster-dns
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: User
    name: podium:cluster-dns
EOF

system_policy_apply

log "starting controller-manager, scheduler, kubelet, kube-proxy ($PROXY_MODE) and the cluster DNS"
start_process kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig="$KUBECONFIGS/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$KUBECONFIGS/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$KUBECONFIGS/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10257 --port=0 --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --cert-dir="$CLUSTER_DIR/certs/controller-manager" --flex-volume-plugin-dir="$CLUSTER_DIR/flex" --profiling=false

start_process kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig="$KUBECONFIGS/scheduler.kubeconfig" \
    --authentication-kubeconfig="$KUBECONFIGS/scheduler.kubeconfig" \
    --authorization-kubeconfig="$KUBECONFIGS/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10259 --port=0 --leader-elect=false \
    --cert-dir="$CLUSTER_DIR/certs/scheduler" --profiling=false

# Flags, and why: these VMs lack CAP_SYS_RESOURCE, so no OOM score may be lowered
# (--oom-score-adj=0, plus kubelet.patch for pod sandboxes and Guaranteed pods);
# no QoS cgroup tree and no node-allocatable enforcement (--cgroups-per-qos=false);
# leave the host's iptables to kube-proxy and docker (--make-iptables-util-chains=false);
# never delete images, they cannot be pulled back (--image-gc-high-threshold=100);
# no network plugin: pods live on the docker bridge. PODIUM_KUBELET_PATH_PREFIX
# (kubelet.patch) keeps pod logs and device-plugin sockets under the work dir.
start_process kubelet env PODIUM_KUBELET_PATH_PREFIX="$CLUSTER_DIR/node" "$K8S_BIN/kubelet" \
    --kubeconfig="$KUBECONFIGS/kubelet.kubeconfig" --hostname-override="$CLUSTER_NODE" \
    --node-ip="$NODE_IP" --address="$NODE_IP" --port=10250 --read-only-port=0 \
    --healthz-bind-address=127.0.0.1 --healthz-port=10248 \
    --anonymous-auth=false --client-ca-file="$PKI/ca.crt" --authorization-mode=Webhook \
    --tls-cert-file="$PKI/kubelet.crt" --tls-private-key-file="$PKI/kubelet.key" \
    --root-dir="$CLUSTER_DIR/kubelet" --cert-dir="$CLUSTER_DIR/certs/kubelet" \
    --container-runtime=docker --pod-infra-container-image="$PAUSE_IMAGE" \
    --experimental-dockershim-root-directory="$CLUSTER_DIR/dockershim" \
    --container-runtime-endpoint="unix://$RUN/dockershim.sock" \
    --network-plugin= --cni-bin-dir="$CLUSTER_DIR/cni/bin" --cni-conf-dir="$CLUSTER_DIR/cni/net.d" \
    --volume-plugin-dir="$CLUSTER_DIR/flex" \
    --cgroup-driver="$cgroup_driver" --cgroups-per-qos=false --enforce-node-allocatable= --fail-swap-on=false \
    --oom-score-adj=0 --make-iptables-util-chains=false \
    --image-gc-high-threshold=100 --image-gc-low-threshold=99 \
    --eviction-hard='memory.available<1Mi,nodefs.available<1%,imagefs.available<1%' \
    --cluster-dns="$NODE_IP" --cluster-domain="$CLUSTER_DOMAIN" --resolv-conf=/etc/resolv.conf \
    --max-pods=60 --serialize-image-pulls=false

# kube-proxy turns net.ipv4.conf.all.route_localnet on (for NodePorts on 127.0.0.1);
# remember the host's value so down.sh can put it back.
[ -f "$CLUSTER_DIR/route_localnet.saved" ] || cat /proc/sys/net/ipv4/conf/all/route_localnet >"$CLUSTER_DIR/route_localnet.saved"
# The conntrack-* zeros keep kube-proxy from rewriting the host's conntrack sysctls;
# NodePorts only on the node address, not on every interface of the machine.
start_process kube-proxy "$K8S_BIN/kube-proxy" \
    --kubeconfig="$KUBECONFIGS/kube-proxy.kubeconfig" --hostname-override="$CLUSTER_NODE" \
    --bind-address="$NODE_IP" --proxy-mode="$PROXY_MODE" --cluster-cidr="$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Subnet}}{{end}}')" \
    --nodeport-addresses="$NODE_IP/32" --oom-score-adj=0 \
    --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
    --healthz-bind-address=127.0.0.1:10256 --metrics-bind-address=127.0.0.1:10249 --profiling=false

# The cluster DNS: dnsmasq answers <svc>.<ns>.svc.cluster.local from the hosts file
# cluster_dns.py keeps current, refuses other cluster.local names, and forwards the
# rest to the machine's own resolvers.
start_process dnsmasq /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null --log-facility=- \
    --listen-address="$NODE_IP" --bind-interfaces --port=53 --no-hosts \
    --hostsdir="$CLUSTER_DIR/dns/hosts" --local="/$CLUSTER_DOMAIN/" --no-negcache --domain-needed
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
start_process cluster-dns "$python" "$CLUSTER_SCRIPTS/cluster_dns.py" --server "$SERVER" --ca "$PKI/ca.crt" \
    --token-file "$PKI/cluster-dns.token" --hosts-dir "$CLUSTER_DIR/dns/hosts" --domain "$CLUSTER_DOMAIN"

wait_until "node $CLUSTER_NODE Ready" "$WAIT_SECONDS" kubelet node_ready
log "node $CLUSTER_NODE Ready after $((SECONDS - started)) s"

# Pods cannot be created before their namespace's default ServiceAccount has its token.
sa_token_ready() { [ -n "$(kubectl_admin -n default get serviceaccount default -o 'jsonpath={.secrets[0].name}' 2>/dev/null)" ]; }
wait_until "the default ServiceAccount's token" 60 kube-controller-manager sa_token_ready
service_routed() { grep -q 'kubernetes.default.svc' "$CLUSTER_DIR/dns/hosts/services.hosts" && pid_alive kube-proxy; }
wait_until "the cluster DNS serving kubernetes.default" 30 cluster-dns service_routed
for name in "${CLUSTER_PROCESSES[@]}"; do
    pid_alive "$name" || die "$name has exited. Last lines of $LOGS/$name.log:
$(tail -n 20 "$LOGS/$name.log")"
done
proxier=$(grep -ohE 'Using (iptables|userspace|ipvs) [Pp]roxier' "$LOGS/kube-proxy.log" | head -n1 || true)

cluster_env_write
log "cluster up in $((SECONDS - started)) s: Kubernetes $K8S_VERSION, apiserver $SERVER, ${proxier:-kube-proxy mode unknown}, DNS on $NODE_IP:53, pod security: $POD_SECURITY"
say_up
