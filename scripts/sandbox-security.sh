#!/usr/bin/env bash
# Print the PODIUM_SANDBOX_SECURITY mode to use: "userns" (the attendee's root is an unprivileged host
# uid; see README "Security") unless the operator set PODIUM_SANDBOX_SECURITY, which is never
# overridden. privileged and capabilities are host root for attendees: never picked here, opt-in only.
# Warns on stderr when a probe container cannot create the user namespace userns mode needs.
#   scripts/sandbox-security.sh --describe MODE   one line saying what MODE guarantees (for start-up logs)
set -euo pipefail
if [[ ${1:-} == --describe ]]; then  # the server's own words (sandbox/backends/config.py SECURITY_MODES)
    cd "$(dirname "$0")/.."
    exec .venv/bin/python -c 'import sys; from sandbox.backends.config import security_line; print(security_line(sys.argv[1]))' "${2:-}"
fi
if [[ -n "${PODIUM_SANDBOX_SECURITY:-}" ]]; then echo "$PODIUM_SANDBOX_SECURITY"; exit 0; fi
image=${PODIUM_WORKSPACE_IMAGE:-podium/workspace:1}
if docker image inspect "$image" >/dev/null 2>&1 &&
    ! docker run --rm --security-opt seccomp=unconfined --security-opt systempaths=unconfined \
        --entrypoint sh "$image" -c 'echo root:100000:65536 | tee /etc/subuid >/etc/subgid &&
            unshare --user --map-users=100000,0,65536 --map-groups=100000,0,65536 --setuid 0 --setgid 0 true' \
        >/dev/null 2>&1; then
    echo "sandbox-security: a container on this host cannot create userns mode's user namespace;" \
        "sandboxes will fail to start (PODIUM_SANDBOX_SECURITY=capabilities works, but is host root)" >&2
fi
echo userns
