"""Memory and process count for a worker and all its descendants together (cgroups).

A per-process limit (``RLIMIT_AS``) multiplies with the number of processes;
a cgroup does not: the kernel charges every descendant of the worker to it,
kills inside it when it is full, and no process can leave it without rights
the worker does not have. v2 (``memory.max``, ``pids.max``, ``cgroup.kill``)
and v1 (``memory.limit_in_bytes``, ``pids.max``) hierarchies are both used,
each for what it can do here; where none is writable (no root, no
delegation), ``Cgroups.create`` returns None and the caller says so.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

CGROUP_ROOT = "/sys/fs/cgroup"
CAP_SLACK = 1 << 20  # a peak this close to the cap reached it (charges are made in batches of pages)


def _mounts() -> dict[str, str]:
    """Hierarchy name ('unified', or a v1 controller) -> its mount point."""
    found: dict[str, str] = {}
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                _, point, kind, options, *_ = line.split()
                if kind == "cgroup2":
                    found.setdefault("unified", point)
                elif kind == "cgroup":
                    for option in options.split(","):
                        if option in ("memory", "pids"):
                            found.setdefault(option, point)
    except OSError:
        pass
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup in each hierarchy ('unified' for v2)."""
    paths: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                number, controllers, path = line.rstrip("\n").split(":", 2)
                if number == "0" and not controllers:
                    paths["unified"] = path
                for controller in controllers.split(","):
                    paths.setdefault(controller, path)
    except OSError:
        pass
    return paths


def _write(path: str, text: str) -> bool:
    try:
        with open(path, "w") as f:
            f.write(text)
        return True
    except OSError:
        return False


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


STALE_SECONDS = 600  # an empty worker cgroup this old belongs to no live worker (one joins its cgroups at once)
PREFIX = "propgrade-"


def remove_stale(parent: str, older_than: float = STALE_SECONDS) -> int:
    """Remove the empty cgroups of workers whose controller died before it could (killed, out of memory): a
    live worker's cgroups hold its processes from their first milliseconds, and a cgroup that holds any
    process cannot be removed anyway. How many went."""
    removed, now = 0, time.time()
    try:
        entries = os.scandir(parent)
    except OSError:
        return 0
    with entries:
        for entry in entries:
            try:
                if entry.name.startswith(PREFIX) and entry.is_dir(follow_symlinks=False) and now - entry.stat().st_mtime > older_than \
                        and not _read(os.path.join(entry.path, "cgroup.procs")).strip():
                    os.rmdir(entry.path)
                    removed += 1
            except OSError:  # busy, gone meanwhile, or not ours to remove
                continue
    return removed


@dataclass
class Cgroups:
    dirs: dict[str, str] = field(default_factory=dict)  # 'unified' / 'memory' / 'pids' -> directory
    limits: set[str] = field(default_factory=set)  # what is capped: 'memory', 'pids'

    @classmethod
    def create(cls, name: str, memory_bytes: int, pids: int) -> "Cgroups | None":
        mounts, own = _mounts(), _own_paths()
        made = cls()
        for hierarchy, point in mounts.items():
            parent = os.path.join(point, own.get(hierarchy, "/").lstrip("/"))
            remove_stale(parent)
            path = os.path.join(parent, name)
            try:
                os.mkdir(path)
            except OSError:
                continue
            made.dirs[hierarchy] = path
            if hierarchy == "unified":
                _write(os.path.join(parent, "cgroup.subtree_control"), "+memory +pids")
                if _write(os.path.join(path, "memory.max"), str(memory_bytes)):
                    _write(os.path.join(path, "memory.swap.max"), "0")
                    made.limits.add("memory")
                if _write(os.path.join(path, "pids.max"), str(pids)):
                    made.limits.add("pids")
            elif hierarchy == "memory" and "memory" not in made.limits:
                if _write(os.path.join(path, "memory.limit_in_bytes"), str(memory_bytes)):
                    _write(os.path.join(path, "memory.memsw.limit_in_bytes"), str(memory_bytes))
                    made.limits.add("memory")
            elif hierarchy == "pids" and "pids" not in made.limits:
                if _write(os.path.join(path, "pids.max"), str(pids)):
                    made.limits.add("pids")
        if not made.dirs:
            return None
        return made

    def procs_files(self) -> list[str]:
        """Where the worker writes its pid, before it starts anything."""
        return [os.path.join(d, "cgroup.procs") for d in self.dirs.values()]

    def _pids(self) -> set[int]:
        found = set()
        for directory in self.dirs.values():
            found.update(int(p) for p in _read(os.path.join(directory, "cgroup.procs")).split())
        return found

    def kill(self) -> None:
        """Kill every process in the worker's cgroups (``cgroup.kill`` where the kernel has it)."""
        unified = self.dirs.get("unified")
        if unified and _write(os.path.join(unified, "cgroup.kill"), "1"):
            return
        for _ in range(20):
            pids = self._pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.005)

    def memory_used(self) -> int:
        """Bytes charged to the worker and its descendants now (0 where not measured)."""
        for hierarchy, name in (("unified", "memory.current"), ("memory", "memory.usage_in_bytes")):
            text = _read(os.path.join(self.dirs.get(hierarchy, "/nonexistent"), name)).strip()
            if text.isdigit():
                return int(text)
        return 0

    def peak(self) -> int:
        for hierarchy, name in (("unified", "memory.peak"), ("memory", "memory.max_usage_in_bytes")):
            text = _read(os.path.join(self.dirs.get(hierarchy, "/nonexistent"), name)).strip()
            if text.isdigit():
                return int(text)
        return 0

    def out_of_memory(self) -> bool:
        """The kernel killed inside the worker's cgroup because the worker's own memory cap was reached.

        A kill for a limit above it (the grading machine's, a container's) is counted in the victim's
        cgroup too, but the cap itself was not reached: that is the machine running out, not the worker."""
        killed = False
        for hierarchy, name in (("unified", "memory.events"), ("memory", "memory.oom_control")):
            for line in _read(os.path.join(self.dirs.get(hierarchy, "/nonexistent"), name)).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                    killed = True
        return killed and self.reached_cap()

    def reached_cap(self) -> bool:
        """Whether the worker's memory use ever reached its own cap: v2 ``memory.events`` max, v1
        ``memory.failcnt``, or the recorded peak at the cap (kernels that no longer count v1 failures).
        Killed for a smaller limit above it, the worker's cgroup stays short of its own cap."""
        for line in _read(os.path.join(self.dirs.get("unified", "/nonexistent"), "memory.events")).splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip().isdigit() and int(value) > 0:
                return True
        failures = _read(os.path.join(self.dirs.get("memory", "/nonexistent"), "memory.failcnt")).strip()
        if failures.isdigit() and int(failures) > 0:
            return True
        for hierarchy, peak_file, cap_file in (("unified", "memory.peak", "memory.max"), ("memory", "memory.max_usage_in_bytes", "memory.limit_in_bytes")):
            directory = self.dirs.get(hierarchy, "/nonexistent")
            peak, cap = _read(os.path.join(directory, peak_file)).strip(), _read(os.path.join(directory, cap_file)).strip()
            if peak.isdigit() and cap.isdigit() and int(peak) >= int(cap) - CAP_SLACK:
                return True
        return False

    def remove(self) -> None:
        """Remove the cgroups, killing what is left first (a cgroup with processes cannot be removed)."""
        for attempt in range(200):
            for hierarchy, directory in list(self.dirs.items()):
                try:
                    os.rmdir(directory)
                    del self.dirs[hierarchy]
                except FileNotFoundError:
                    del self.dirs[hierarchy]
                except OSError:
                    pass
            if not self.dirs:
                return
            self.kill()
            time.sleep(0.002)
