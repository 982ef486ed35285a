#!/usr/bin/env bash
# Build a small Debian bookworm root filesystem as a tarball, for `docker import`.
#
#   scripts/images/debian-rootfs.sh OUT.tar [MIRROR] [SECURITY_MIRROR]
#
# This is the local stand-in for pulling `debian:bookworm` on machines without
# a container registry. debootstrap's minbase variant (apt, dpkg, bash,
# coreutils; ~35 s), then the same kind of trimming the official slim images
# do: no apt lists or .deb cache, no docs/man pages/translations - and a dpkg
# config so later `apt-get install`s inside image builds stay trimmed too.
# The tarball is written next to OUT and renamed at the end, so an
# interrupted run never leaves a half-written OUT behind. Needs root.
set -euo pipefail

out=${1:?usage: debian-rootfs.sh OUT.tar [MIRROR] [SECURITY_MIRROR]}
mirror=${2:-http://deb.debian.org/debian}
security=${3:-}
suite=bookworm

[ "$(id -u)" -eq 0 ] || { echo "debian-rootfs: debootstrap needs root; run as root (sudo)." >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debian-rootfs: debootstrap is missing; install it with 'apt-get install debootstrap'." >&2; exit 1; }

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

echo "debootstrap --variant=minbase $suite from $mirror (about 35 s)"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2
    echo "debian-rootfs: debootstrap failed (last lines above); check that $mirror answers ('apt-get update' on this machine)." >&2
    exit 1
}

echo "trimming the root filesystem"
{
    echo "deb $mirror $suite main"
    echo "deb $mirror $suite-updates main"
    [ -n "$security" ] && echo "deb $security $suite-security main"
} >"$root/etc/apt/sources.list"

# Later package installs (inside docker build) skip docs and translations.
cat >"$root/etc/dpkg/dpkg.cfg.d/podium-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
# apt in a container: no package cache kept in image layers, no recommends.
cat >"$root/etc/apt/apt.conf.d/podium-container" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
# Services installed during a build must not try to start (there is no init).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
find "$root/var/log" -type f -delete
rm -rf "$root"/tmp/* "$root"/root/.cache "$root/debootstrap"
: >"$root/etc/machine-id"

echo "writing $out"
tar --numeric-owner -C "$root" -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$out"
echo "rootfs ready: $(du -h "$out" | cut -f1)"
