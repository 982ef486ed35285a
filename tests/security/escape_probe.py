"""Escape attempts, run as the attendee's process inside a real sandbox (the code of one `python` run).

The test prepends `PARAMS = {...}` (what to aim at on the host) and reads the last stdout line: one JSON
object {attempt: [status, detail]}, status "possible", "blocked" or "absent" (the kernel lacks the
feature, so the attempt cannot even be made; the detail says why).

Never harmful: host-global knobs are only opened for writing (O_WRONLY, closed unwritten); the host
disk is only read; init_module gets a NULL image, so nothing could be loaded. The one write is to the
sandbox's *own* device cgroup (devices.allow), the second step of the mknod attempt.
"""

import ctypes
import errno
import glob
import json
import os
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PARAMS: dict = globals().get("PARAMS", {})  # noqa: PLW0603 - set by the test above this text
RESULTS: dict = {}


def result(name: str, status: str, detail: str) -> None:
    RESULTS[name] = [status, detail]


def error_name(error: OSError) -> str:
    return errno.errorcode.get(error.errno or 0, str(error))


def write_open(path: str) -> str:
    """ "ok" when `path` opens for writing (nothing is written), else the errno's name."""
    try:
        os.close(os.open(path, os.O_WRONLY))
    except OSError as error:
        return error_name(error)
    return "ok"


def capability_in_initial_namespace(bit: int) -> tuple[bool, str]:
    uid_map = Path("/proc/self/uid_map").read_text().split()
    initial = uid_map[:3] == ["0", "0", "4294967295"]
    status = dict(line.split(":\t", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":\t" in line)
    effective = int(status["CapEff"], 16)
    detail = f"uid_map {' '.join(uid_map[:3])}{' ...' if len(uid_map) > 3 else ''}, CapEff {status['CapEff'].strip()}"
    return initial and bool(effective & (1 << bit)), detail


def attempt_capabilities() -> None:
    held, detail = capability_in_initial_namespace(21)  # CAP_SYS_ADMIN
    result("caps", "possible" if held else "blocked", detail)


def attempt_core_pattern() -> None:
    outcome = write_open("/proc/sys/kernel/core_pattern")
    result("core_pattern", "possible" if outcome == "ok" else "blocked", f"open(O_WRONLY): {outcome}")


def attempt_sysrq() -> None:
    outcome = write_open("/proc/sysrq-trigger")
    status = "possible" if outcome == "ok" else "absent" if outcome == "ENOENT" else "blocked"
    result("sysrq", status, f"open(O_WRONLY): {outcome}" + (" (this kernel has no magic SysRq)" * (status == "absent")))


# /proc/sys entries that belong to a namespace the sandbox owns (network, ipc, uts, user, pid):
# writing them changes only the sandbox's own view.
OWN_NAMESPACE_KNOBS = (
    "net/",
    "kernel/hostname",
    "kernel/domainname",
    "kernel/shm",
    "kernel/msg",
    "kernel/sem",
    "kernel/auto_msgmni",
    "kernel/ns_last_pid",
    "fs/mqueue/",
    "user/",
)
# Linux 6.14 made kernel.pid_max a knob of each pid namespace (writable by the namespace's owner).
if tuple(int(part) for part in os.uname().release.split(".")[:2] if part.isdigit()) >= (6, 14):
    OWN_NAMESPACE_KNOBS += ("kernel/pid_max",)


def attempt_sysctl() -> None:
    writable = []
    for folder, _dirs, files in os.walk("/proc/sys"):
        for name in files:
            path = os.path.join(folder, name)
            knob = path[len("/proc/sys/") :]
            if not knob.startswith(OWN_NAMESPACE_KNOBS) and write_open(path) == "ok":
                writable.append(knob)
    example = f", e.g. {', '.join(sorted(writable)[:3])}" if writable else ""
    result("sysctl", "possible" if writable else "blocked", f"{len(writable)} global knobs open for writing{example}")


def attempt_release_agent() -> None:
    found = []
    for path in glob.glob("/sys/fs/cgroup/*/release_agent") + glob.glob("/sys/fs/cgroup/release_agent"):
        if write_open(path) == "ok":
            found.append(path)
    os.makedirs("/tmp/podium-cg", exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "cgroup", "-o", "rdma", "cgroup", "/tmp/podium-cg"], capture_output=True, text=True
    )
    tried = [f"mount: {' '.join(mount.stderr.split())[:60] or 'ok'}"]
    if mount.returncode == 0:
        if write_open("/tmp/podium-cg/release_agent") == "ok":
            found.append("a fresh cgroup v1 mount")
        subprocess.run(["umount", "/tmp/podium-cg"], check=False)
    # CVE-2022-0492: the same from a new user + cgroup namespace of one's own
    nested = subprocess.run(
        [
            "unshare",
            "-UrmC",
            "sh",
            "-c",
            "mount -t cgroup -o rdma cgroup /tmp/podium-cg && "
            "python3 -c \"import os; os.close(os.open('/tmp/podium-cg/release_agent', os.O_WRONLY))\" && echo WRITABLE",
        ],
        capture_output=True,
        text=True,
    )
    if "WRITABLE" in nested.stdout:
        found.append("a mount in a new user+cgroup namespace")
    tried.append(f"unshare -UrmC: {' '.join((nested.stdout + nested.stderr).split())[:60]}")
    detail = f"writable: {found}" if found else "; ".join(tried)
    result("release_agent", "possible" if found else "blocked", detail)


def attempt_other_cgroup() -> None:
    victim = PARAMS["victim_container_id"]
    visible = [p for p in glob.glob("/sys/fs/cgroup/**/" + victim + "*", recursive=True) if os.path.isdir(p)]
    writable = [
        f"{folder}/{name}"
        for folder in visible
        for name in ("freezer.state", "memory.limit_in_bytes", "cgroup.procs", "pids.max")
        if os.path.exists(f"{folder}/{name}") and write_open(f"{folder}/{name}") == "ok"
    ]
    detail = f"{len(visible)} of the other sandbox's cgroup folders visible, {len(writable)} files open for writing"
    result(
        "cgroup_other", "possible" if writable else "blocked", detail + (f", e.g. {writable[0]}" if writable else "")
    )


def read_block(path: str) -> str:
    try:
        with open(path, "rb") as disk:
            return f"read {len(disk.read(512))} bytes"
    except OSError as error:
        return f"read {error_name(error)}"


def own_devices_allow() -> str | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "devices" in controllers.split(","):
            for candidate in (f"/sys/fs/cgroup/devices{path}/devices.allow", "/sys/fs/cgroup/devices/devices.allow"):
                if os.path.exists(candidate):
                    return candidate
    return None


def attempt_mknod() -> None:
    major, minor = map(int, PARAMS["host_disk"].split(":"))
    node = "/tmp/podium-host-disk"
    if os.path.exists(node):
        os.unlink(node)
    try:
        os.mknod(node, 0o600 | 0o060000, os.makedev(major, minor))
    except OSError as error:
        result("mknod", "blocked", f"mknod {major}:{minor}: {error_name(error)}")
        return
    try:
        outcome = read_block(node)
        if "bytes" not in outcome:  # the device cgroup said no: allow it in our own cgroup, if we can
            allow = own_devices_allow()
            if allow and write_open(allow) == "ok":
                with open(allow, "w") as handle:
                    handle.write(f"b {major}:{minor} r")
                outcome = f"{outcome}; after `b {major}:{minor} r` into our own devices.allow: {read_block(node)}"
        result("mknod", "possible" if outcome.endswith("bytes") else "blocked", f"mknod ok, {outcome}")
    finally:
        os.unlink(node)


def attempt_module() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall(175, None, ctypes.c_ulong(0), b"")  # init_module(NULL, 0, ""): x86-64; never loads anything
    code = ctypes.get_errno()
    held, detail = capability_in_initial_namespace(16)  # CAP_SYS_MODULE
    status = "possible" if held or code not in (errno.EPERM, errno.ENOSYS) else "blocked"
    note = " (no module support in this kernel)" if code == errno.ENOSYS else ""
    result(
        "module",
        status,
        f"init_module: {errno.errorcode.get(code, code)}{note}; CAP_SYS_MODULE in the host's namespace: {held}",
    )


def attempt_host_processes() -> None:
    marker, seen = PARAMS["host_marker"], 0
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            seen += marker.encode() in Path(path).read_bytes()
        except OSError:
            continue
    pids = len(glob.glob("/proc/[0-9]*"))
    result(
        "host_procs",
        "possible" if seen else "blocked",
        f"{pids} processes visible, the host's marker process {'seen' if seen else 'not seen'}",
    )


def connect(host: str, port: int) -> str:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except TimeoutError:
        return "timeout"
    except OSError as error:
        return error_name(error)
    return "open"


def attempt_network(name: str, targets: list[str], extra: str = "") -> None:
    # All at once: a host with many interfaces (a bridge per sandbox network) has many addresses to try, and
    # one after another their timeouts added up past the run's own limit.
    with ThreadPoolExecutor(max_workers=32) as pool:
        tried = pool.map(lambda target: connect(target.rsplit(":", 1)[0], int(target.rsplit(":", 1)[1])), targets)
        outcomes = dict(zip(targets, tried, strict=True))
    opened = [target for target, outcome in outcomes.items() if outcome == "open"]
    shown = ", ".join(f"{t} {o}" for t, o in list(outcomes.items())[:3]) + (" ..." if len(outcomes) > 3 else "")
    result(name, "possible" if opened else "blocked", (f"open: {opened}" if opened else shown) + extra)


def attempt_docker_engine() -> None:
    info = subprocess.run(["docker", "info", "--format", "{{.ID}}"], capture_output=True, text=True)
    same = info.stdout.strip() == PARAMS["host_engine_id"]
    targets = [f"{address}:{port}" for address in PARAMS["host_addresses"] for port in (2375, 2376)]
    attempt_network(
        "docker_socket", targets, f"; /var/run/docker.sock is {'THE HOST ENGINE' if same else 'the sandbox own engine'}"
    )
    if same:
        RESULTS["docker_socket"][0] = "possible"


def attempt_kubernetes() -> None:
    tries = {
        "nodes": ["kubectl", "get", "nodes"],
        "kube-system pods": ["kubectl", "get", "pods", "-n", "kube-system"],
        "namespaces": ["kubectl", "get", "namespaces"],
        "secrets in default": ["kubectl", "get", "secrets", "-n", "default"],
    }
    allowed = []
    for label, command in tries.items():
        done = subprocess.run([*command, "--request-timeout=10s"], capture_output=True, text=True)
        if done.returncode == 0:
            allowed.append(label)
    own = subprocess.run(["kubectl", "get", "pods", "--request-timeout=10s"], capture_output=True, text=True)
    result("kube_api", "possible" if allowed else "blocked", f"allowed: {allowed or 'none'} of {list(tries)}")
    result(
        "kube_own", "possible" if own.returncode == 0 else "blocked", " ".join((own.stdout + own.stderr).split())[:90]
    )


for attempt in (
    attempt_capabilities,
    attempt_core_pattern,
    attempt_sysrq,
    attempt_sysctl,
    attempt_release_agent,
    attempt_other_cgroup,
    attempt_mknod,
    attempt_module,
    attempt_host_processes,
    attempt_docker_engine,
    lambda: attempt_network("podium_ports", PARAMS["podium_targets"]),
    lambda: attempt_network("metadata", ["169.254.169.254:80"], " (the link-local metadata address)"),
    lambda: attempt_network("other_sandbox", PARAMS["victim_targets"]),
    attempt_kubernetes,
):
    try:
        attempt()
    except Exception as error:  # noqa: BLE001 - an attempt that crashes is reported, never hidden
        result(getattr(attempt, "__name__", "attempt"), "error", repr(error)[:120])
print(json.dumps(RESULTS))
