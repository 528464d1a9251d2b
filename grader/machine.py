"""The grading machine's own memory: the limits propgrade itself runs under, and the kernel's OOM killer.

A submission is charged for what its worker does within the worker's own caps (``Limits``).
When the machine's limit (the memory cgroup of the grading process, or its ``RLIMIT_AS``)
is too small for propgrade itself, or the OOM killer ends a process because that limit
was reached, the submission was not graded fairly: the run says which limit and how much
propgrade needs, and the result is ``grader_failed``, never a student's ``crashed``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from grader.messages import Message, say

MIB = 1 << 20
# Measured (README, "Speed"; benchmarks/cold.py --memory-limit): the launched controller (it shares the fork
# server's torch), fork server, one worker and the clean reader grading submissions/correct/lesson_style.ipynb
# hold 466-479 MiB of anonymous memory at their peak with the store, and peaked at 498 MiB without one (page
# cache from cold included); each got full marks in a 512 MiB memory cgroup. The largest of them maps
# NEEDED_ADDRESS_SPACE.
NEEDED_RESIDENT = 512 * MIB
NEEDED_ADDRESS_SPACE = 2048 * MIB
UNLIMITED = 1 << 60  # cgroups write "max" or a page-rounded 2**63 for no limit


@dataclass(frozen=True)
class MemoryLimit:
    name: Message  # which limit, as an administrator would look it up
    bytes: int
    needed: int  # what propgrade needs under this kind of limit


def _cgroup_paths() -> list[tuple[str, str]]:
    """(hierarchy, path) of this process's memory cgroups: the v2 unified one and the v1 memory one."""
    found = []
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                number, controllers, path = line.rstrip("\n").split(":", 2)
                if number == "0" and not controllers:
                    found.append(("unified", path))
                elif "memory" in controllers.split(","):
                    found.append(("memory", path))
    except OSError:
        pass
    return found


LIMIT_FILES = {"unified": "memory.max", "memory": "memory.limit_in_bytes"}
PEAK_FILES = {"unified": "memory.peak", "memory": "memory.max_usage_in_bytes"}


def child_memory_cgroup(name: str, limit: int | None = None, with_peak: bool = False) -> tuple[str, str] | None:
    """A new child ``name`` of this process's memory cgroup (v2 first, else v1), limited to ``limit`` bytes, as
    (folder, hierarchy); None where this machine lets us make none (it needs root or a delegated cgroup), or,
    ``with_peak``, none that records its peak. For the tests and benchmarks that put propgrade's whole tree in one."""
    for hierarchy, path in _cgroup_paths():
        point = _mount_points().get(hierarchy)
        if point is None:
            continue
        folder = os.path.join(point, path.lstrip("/"), name)
        try:
            os.mkdir(folder)
            if limit:
                with open(os.path.join(folder, LIMIT_FILES[hierarchy]), "w") as f:
                    f.write(str(limit))
            if with_peak and not os.path.exists(os.path.join(folder, PEAK_FILES[hierarchy])):
                raise OSError("no peak recorded here")
            return folder, hierarchy
        except OSError:
            if os.path.isdir(folder):
                os.rmdir(folder)
    return None


def _mount_points() -> dict[str, str]:
    points: dict[str, str] = {}
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                _, point, kind, options, *_ = line.split()
                if kind == "cgroup2":
                    points.setdefault("unified", point)
                elif kind == "cgroup" and "memory" in options.split(","):
                    points.setdefault("memory", point)
    except OSError:
        pass
    return points


def _read_bytes(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value < UNLIMITED else None


def cgroup_limit() -> MemoryLimit | None:
    """The smallest memory limit over this process's cgroup and its ancestors (the kernel enforces each),
    v2 ``memory.max`` or v1 ``memory.limit_in_bytes``; None where there is none or none can be read."""
    points = _mount_points()
    smallest: MemoryLimit | None = None
    for hierarchy, path in _cgroup_paths():
        if hierarchy not in points:
            continue
        name = "memory.max" if hierarchy == "unified" else "memory.limit_in_bytes"
        parts = [p for p in path.split("/") if p]
        for depth in range(len(parts), -1, -1):
            file = os.path.join(points[hierarchy], *parts[:depth], name)
            value = _read_bytes(file)
            if value is not None and (smallest is None or value < smallest.bytes):
                smallest = MemoryLimit(say("limit_cgroup", file=file), value, NEEDED_RESIDENT)
    return smallest


def address_space_limit() -> MemoryLimit | None:
    try:
        import resource
    except ImportError:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else MemoryLimit(say("limit_address_space"), soft, NEEDED_ADDRESS_SPACE)


def too_small() -> list[MemoryLimit]:
    """The machine's limits that leave propgrade itself less than it needs."""
    return [limit for limit in (cgroup_limit(), address_space_limit()) if limit is not None and limit.bytes < limit.needed]


OOM_SCORE_ADJ = 500  # the fork server and everything forked from it: the OOM killer's first choice before the controller


def oom_first(pid: int, adjustment: int = OOM_SCORE_ADJ) -> bool:
    """Make ``pid`` (a process of ours: the fork server, a worker) the kernel's first choice, ahead of this
    controller, when the machine's or the cgroup's memory runs out. Only the controller can say why a
    submission was not graded; killed, it leaves no result at all. The value is inherited by what ``pid``
    forks, and only raised, which needs no privilege; False where the kernel has no such setting."""
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write(str(adjustment))
        return True
    except OSError:
        return False


def oom_kills() -> int:
    """How many processes the kernel's OOM killers have ended on this machine (``/proc/vmstat``); 0 where unknown."""
    try:
        with open("/proc/vmstat") as f:
            for line in f:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def mib(n: int) -> str:
    return f"{n / MIB:.0f} MiB"


def low_memory_warning(limit: MemoryLimit) -> Message:
    return say("machine_memory_low", limit=limit.name, have=mib(limit.bytes), need=mib(limit.needed))


def out_of_memory_problem() -> Message:
    """Why a submission was not graded when the machine's memory ran out, with the limit to raise where one is known."""
    limit = cgroup_limit()
    if limit is None:
        return say("machine_out_of_memory", need=mib(NEEDED_RESIDENT))
    return say("machine_out_of_memory_limit", limit=limit.name, have=mib(limit.bytes), need=mib(NEEDED_RESIDENT))


def warn_if_too_small(lang: str = "en") -> list[MemoryLimit]:
    """Say on stderr, before grading starts, which of the machine's limits leave propgrade too little."""
    limits = too_small()
    for limit in limits:
        print(f"propgrade: warning: {low_memory_warning(limit).render(lang)}", file=sys.stderr)
    return limits
