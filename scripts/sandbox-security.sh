#!/usr/bin/env bash
# Print the PODIUM_SANDBOX_SECURITY mode this host supports: "privileged" where
# `docker run --privileged` works, else "capabilities" (the explicit set that
# works on hosts lacking CAP_SYS_RESOURCE; see DESIGN.md). An operator who sets
# PODIUM_SANDBOX_SECURITY (e.g. "sysbox") is never overridden.
set -euo pipefail
if [[ -n "${PODIUM_SANDBOX_SECURITY:-}" ]]; then echo "$PODIUM_SANDBOX_SECURITY"; exit 0; fi
image=$(docker image ls -q podium-standin/debian:bookworm 2>/dev/null | head -1)
if [[ -n "$image" ]] && docker run --rm --privileged "$image" true >/dev/null 2>&1; then
    echo privileged
else
    echo capabilities
fi
