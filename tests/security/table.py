"""The attack table: attempt × security mode → blocked / possible, collected while the suite runs.

conftest.py prints it at the end of the session and writes it to tests/artifacts/security-table.md;
the README's "Security" section quotes it.
"""

from __future__ import annotations

from pathlib import Path

MODES = ("userns", "capabilities", "privileged")  # the table's columns
RUN_MODES = ("userns", "capabilities")  # attacked in full; privileged has a test of its own (test_escapes.py)

# attempt id -> what the attendee tries (the rows, in order)
ESCAPES = {
    "caps": "hold CAP_SYS_ADMIN in the host's initial user namespace",
    "core_pattern": "write-open /proc/sys/kernel/core_pattern",
    "sysrq": "write-open /proc/sysrq-trigger",
    "sysctl": "write-open any /proc/sys knob outside the sandbox's own namespaces",
    "release_agent": "mount a cgroup v1 hierarchy, write-open release_agent (CVE-2022-0492)",
    "cgroup_other": "write-open another sandbox's cgroup files (freezer.state ...)",
    "mknod": "mknod the host disk and read it",
    "module": "load a kernel module (CAP_SYS_MODULE in the initial user namespace)",
    "host_procs": "see the host's processes",
    "docker_socket": "reach the host's Docker engine (socket, :2375/:2376)",
    "podium_ports": "reach Podium's own ports on the host (0.0.0.0 and 127.0.0.1 servers)",
    "metadata": "reach 169.254.169.254",
    "other_sandbox": "reach another sandbox",
    "kube_api": "use the Kubernetes API outside the attendee's namespace",
}
ABUSES = {
    "fork_bomb": "fork bomb",
    "memory_hog": "memory hog",
    "disk_fill": "disk fill",
    "output_flood": "output flood",
    "cpu_spin": "CPU spin",
}

CELLS: dict[tuple[str, str], str] = {}  # (attempt id, mode) -> the cell's text
NOTES: list[str] = []


def record(attempt: str, mode: str, text: str) -> None:
    CELLS[(attempt, mode)] = text


def mode_not_runnable(mode: str, reason: str) -> None:
    for attempt in [*ESCAPES, *ABUSES]:
        CELLS.setdefault((attempt, mode), "not runnable")
    NOTES.append(f"{mode}: not runnable here ({reason})")


def markdown() -> str:
    """The table in Markdown, rows in the order above, one column per mode that has a cell."""
    modes = [mode for mode in MODES if any(key[1] == mode for key in CELLS)]
    lines = [
        "| attempt (as the attendee's code) | " + " | ".join(modes) + " |",
        "|---|" + "---|" * len(modes),
    ]
    for attempt, title in [
        *ESCAPES.items(),
        *((k, f"{v}, while another attendee runs `echo`") for k, v in ABUSES.items()),
    ]:
        if any((attempt, mode) in CELLS for mode in modes):
            lines.append(f"| {title} | " + " | ".join(CELLS.get((attempt, mode), "-") for mode in modes) + " |")
    return "\n".join(lines + [""] + [f"- {note}" for note in NOTES])


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Attack table (tests/security)\n\n" + markdown() + "\n")
