#!/usr/bin/env bash
# Build the test cluster's Kubernetes binaries from Debian's source package.
#
# Why: these machines cannot download kind, k3s or any Kubernetes binary, but
# Debian bookworm ships the complete source of Kubernetes 1.20.2 (vendor tree
# included), which builds offline with Debian's golang-go. This script:
#   1. makes sure a deb-src line for bookworm exists (copying the mirror of the
#      machine's own bookworm "deb" entry) and fetches `apt-get source kubernetes`;
#   2. replaces the vendored github.com/modern-go/reflect2 1.0.1, which crashes at
#      run time with Go >= 1.18, by Debian's 1.0.2;
#   3. applies tests/cluster/kubelet.patch (see the comments in it: OOM scores,
#      host sysctls, log directories);
#   4. runs `make WHAT=...` (GOPATH mode, as Kubernetes 1.20 builds) under
#      `nice -n 19`, because the machine's 2 cores are shared.
# The binaries land in $PODIUM_K8S_CACHE/bin (default /var/cache/podium/k8s-1.20.2/bin),
# outside the repository. A stamp file there records the version, the patch's
# hash and the component list; when it matches, the script exits at once.
# The Go build cache is kept beside it, so a rebuild after a patch change takes
# a few minutes instead of ~10.
#
# Usage: tests/cluster/build.sh [--force]     (root on Debian bookworm)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# Bump when the recipe below changes in a way that changes the binaries.
RECIPE=1
PATCH=$CLUSTER_SCRIPTS/kubelet.patch
STAMP=$K8S_BIN/.built
force=false
[ "${1:-}" = --force ] && force=true

wanted_stamp() {
    printf 'kubernetes %s\nrecipe %s\npatch %s\ncomponents %s\n' \
        "$K8S_VERSION" "$RECIPE" "$(sha256sum "$PATCH" | cut -d' ' -f1)" "${K8S_COMPONENTS[*]}"
}

binaries_current() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(wanted_stamp)" ] || return 1
    local name
    for name in "${K8S_COMPONENTS[@]}"; do [ -x "$K8S_BIN/$name" ] || return 1; done
}

if ! $force && binaries_current; then
    log "Kubernetes $K8S_VERSION binaries are up to date in $K8S_BIN (stamp matches); nothing to build."
    exit 0
fi

mkdir -p "$K8S_CACHE" || die "cannot create $K8S_CACHE; run as root or set PODIUM_K8S_CACHE to a writable folder."
# One build at a time per cache (CI and a developer may both call this).
exec 9>"$K8S_CACHE/.build.lock"
if ! flock -n 9; then
    log "another build.sh is running for $K8S_CACHE; waiting for it (up to 30 min) ..."
    flock -w 1800 9 || die "the other build did not finish within 30 minutes; look at $K8S_CACHE/build.log."
fi
if ! $force && binaries_current; then
    log "another build.sh just built the binaries in $K8S_BIN; nothing to do."
    exit 0
fi

started=$SECONDS
if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null; then
    die "building the test cluster needs Debian bookworm's source package 'kubernetes' (apt-get not found)."
fi

# --- 1. tools and source -------------------------------------------------------
apt_install_missing golang-go golang-github-modern-go-reflect2-dev dpkg-dev patch make
log "Go: $(go version)"

ensure_deb_src() {
    apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes' && return 0
    # Take the mirror from the machine's own bookworm entry (deb822 or one-line format).
    local mirror
    mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v RS='' '
        /(^|\n)Types:[^\n]*[ \t]deb([ \t]|\n|$)/ && /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ {
            if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) { s = substr($0, RSTART, RLENGTH); sub(/.*URIs:[ \t]*/, "", s); print s; exit }
        }')
    [ -n "$mirror" ] || mirror=$(grep -hs '^deb .* bookworm ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
        awk '{print ($2 ~ /^\[/) ? $3 : $2; exit}')
    [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*; add a 'deb-src <mirror> bookworm main' line yourself."
    log "adding deb-src for bookworm from $mirror (/etc/apt/sources.list.d/podium-cluster-src.sources)"
    cat >/etc/apt/sources.list.d/podium-cluster-src.sources <<EOF
# Added by podium tests/cluster/build.sh: the test cluster is built from Debian's kubernetes source.
Types: deb-src
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update -qq || die "apt-get update failed after adding the deb-src line."
    apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes' ||
        die "apt-get still knows no source package 'kubernetes' after adding deb-src for $mirror."
}
ensure_deb_src

WORK=$K8S_CACHE/work
rm -rf "$WORK"
mkdir -p "$WORK"
log "fetching Debian's source package kubernetes into $WORK"
if ! (cd "$WORK" && apt-get source --download-only -qq kubernetes) >"$K8S_CACHE/apt-source.log" 2>&1; then
    die "apt-get source kubernetes failed:
$(tail -n 5 "$K8S_CACHE/apt-source.log")"
fi
dsc=$(find "$WORK" -maxdepth 1 -name 'kubernetes_*.dsc' | head -n1)
[ -n "$dsc" ] || die "apt-get source kubernetes downloaded no .dsc file (see above)."
deb_version=$(awk '/^Version:/ {print $2; exit}' "$dsc")
# Debian's version is "1.20.5+really1.20.2-...": what matters is the upstream 1.20.2 after "really".
[[ $deb_version =~ (^|really)${K8S_VERSION//./\\.}- ]] ||
    die "Debian's kubernetes source is $deb_version, not $K8S_VERSION: this script and kubelet.patch are written for $K8S_VERSION."
log "unpacking kubernetes $deb_version (Debian's patches applied by dpkg-source)"
dpkg-source --no-check -x "$dsc" "$WORK/src" >/dev/null
SRC=$WORK/src

# --- 2. reflect2 1.0.2 ----------------------------------------------------------
reflect2_deb=$(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev)
[[ $reflect2_deb == 1.0.2* ]] || die "golang-github-modern-go-reflect2-dev is $reflect2_deb; this build expects 1.0.2."
rm -rf "$SRC/vendor/github.com/modern-go/reflect2"
cp -rL /usr/share/gocode/src/github.com/modern-go/reflect2 "$SRC/vendor/github.com/modern-go/reflect2"
log "vendor/github.com/modern-go/reflect2 replaced by Debian's $reflect2_deb"

# --- 3. the kubelet changes ------------------------------------------------------
patch -d "$SRC" -p1 --forward --quiet <"$PATCH" || die "kubelet.patch does not apply to $deb_version."
log "applied $(basename "$PATCH")"

# --- 4. compile ---------------------------------------------------------------------
# Keep Go's build cache across builds (the source tree itself is thrown away).
mkdir -p "$K8S_CACHE/gocache" "$SRC/_output/local/go"
ln -sfn "$K8S_CACHE/gocache" "$SRC/_output/local/go/cache"
what=""
for name in "${K8S_COMPONENTS[@]}"; do what+="cmd/$name "; done
log "compiling ${K8S_COMPONENTS[*]} with nice -n 19 (10-25 min on 2 shared cores the first time, ~2 min with a warm Go cache; log: $K8S_CACHE/build.log)"
unset GOFLAGS GO111MODULE GOPATH GOBIN
set +e
(cd "$SRC" && nice -n 19 make WHAT="${what% }" KUBE_VERBOSE=1) 2>&1 | tee "$K8S_CACHE/build.log" |
    while IFS= read -r line; do printf '  | %s\n' "$line"; done
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] || die "make failed (exit $rc); the end of $K8S_CACHE/build.log says why."

# --- 5. install into the cache -------------------------------------------------------
rm -rf "$K8S_BIN.new"
mkdir -p "$K8S_BIN.new"
for name in "${K8S_COMPONENTS[@]}"; do
    cp "$SRC/_output/bin/$name" "$K8S_BIN.new/$name"
    "$K8S_BIN.new/$name" --version >/dev/null 2>&1 || [ "$name" = kubectl ] ||
        die "the freshly built $name does not run ('$name --version' failed)."
done
"$K8S_BIN.new/kubectl" version --client=true >/dev/null || die "the freshly built kubectl does not run."
wanted_stamp >"$K8S_BIN.new/.built"
rm -rf "$K8S_BIN"
mv "$K8S_BIN.new" "$K8S_BIN"
[ "${PODIUM_K8S_KEEP_SOURCE:-0}" = 1 ] || rm -rf "$WORK"
log "built $("$K8S_BIN/kube-apiserver" --version) binaries in $((SECONDS - started)) s: $K8S_BIN"
