"""What the tests read of other processes in /proc (Linux): their files, and whether they still run."""

from __future__ import annotations


def read_proc(pid: int, name: str) -> bytes:
    """/proc/PID/NAME, or b"" once the process (or the file) is gone."""
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: exists and is no zombie."""
    stat = read_proc(pid, "stat")
    return bool(stat) and stat.rsplit(b")", 1)[1].split()[0] != b"Z"
