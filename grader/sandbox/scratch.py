"""A worker's folder on a size-capped tmpfs of its own, so no submission can fill the machine's disk.

Mounted by the controller (as root on Linux) before the submission is staged into it, and
detached when the worker stops. The worker's own writes there are charged to its memory cgroup
too. Where mounting is refused (no root, a container without the right), the folder is a plain
directory, and only the per-file cap (``RLIMIT_FSIZE``) applies.
"""

from __future__ import annotations

import os
import sys

from grader.sandbox import namespaces

SCRATCH_BYTES = 320 << 20  # the staged submission (at most 64 MiB) and what it writes


OWNER = ".owner"  # in the tmpfs's root, beside the worker's folder: "pid start-time" of the grading process
_cleaned = False


def mount_scratch(path: str, size: int = SCRATCH_BYTES) -> bool:
    """Mount the tmpfs (False where refused), first unmounting those of grading processes that died."""
    global _cleaned
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    if not _cleaned:
        _cleaned = True
        remove_stale()
    try:
        namespaces.mount("tmpfs", path, "tmpfs", namespaces.MS_NOSUID | namespaces.MS_NODEV, f"size={size},mode=0711")
    except OSError:
        return False
    with open(os.path.join(path, OWNER), "w") as f:
        f.write(_identity(os.getpid()))
    return True


def _identity(pid: int) -> str:
    """A process as pid and start time, so that a reused pid is not taken for it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f"{pid} {f.read().rsplit(')', 1)[1].split()[19]}"
    except (OSError, IndexError):
        return ""


def remove_stale() -> int:
    """Unmount and delete the folders a killed grading process left mounted (it could not clean up)."""
    removed = 0
    try:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if " - tmpfs " in line]
    except OSError:
        return 0
    for point in points:
        point = point.replace("\\040", " ")
        if not os.path.basename(point).startswith("propgrade-"):
            continue
        try:
            with open(os.path.join(point, OWNER)) as f:
                owner = f.read().strip()
        except OSError:
            continue
        pid = owner.split(" ")[0]
        if pid.isdigit() and _identity(int(pid)) == owner:
            continue  # its grading process is alive: still in use
        unmount_scratch(point)
        import shutil

        shutil.rmtree(point, ignore_errors=True)
        removed += 1
    return removed


def unmount_scratch(path: str) -> None:
    namespaces.libc().umount2(os.fsencode(path), namespaces.MNT_DETACH)
