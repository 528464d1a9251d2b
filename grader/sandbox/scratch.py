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


def mount_scratch(path: str, size: int = SCRATCH_BYTES) -> bool:
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    try:
        namespaces.mount("tmpfs", path, "tmpfs", namespaces.MS_NOSUID | namespaces.MS_NODEV, f"size={size},mode=0711")
    except OSError:
        return False
    return True


def unmount_scratch(path: str) -> None:
    namespaces.libc().umount2(os.fsencode(path), namespaces.MNT_DETACH)
