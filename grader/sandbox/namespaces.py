"""The worker's private view of the machine, built in the forked child before any student code.

Runs on the worker side, as root (or as root of a user namespace of its own),
in two steps around one fork:

- ``enter`` (in the child the fork server made): join the worker's cgroups,
  then new PID, mount, network, IPC and UTS namespaces. The next fork is the
  namespace's init: when it ends, the kernel kills every process left in the
  namespace, whatever it did to its session, parent or environment.
- ``build_root`` (in that init): a fresh root on a small tmpfs holding only
  what a worker needs (the system's programs and libraries, Python and its
  packages, read-only; the submission's own folder; private size-limited
  ``/tmp``, ``/var/tmp`` and ``/dev/shm``; a few device nodes; its own
  ``/proc``), then ``pivot_root`` and the old root detached, so nothing else
  on the machine (the class folder, ``--out``, other students, the grader's
  checkout) has a path at all.

bubblewrap and nsjail build the same view, but only around a program they
execute: a worker forked from the warm fork server would then import torch
again (about 1 s per submission instead of about 0.03 s).
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 0x1000, 0x4000, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")
SCRATCH_MIB = 64  # each of /tmp, /var/tmp and /dev/shm (memory, charged to the worker's cgroup)

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class Refused(OSError):
    """A step of confinement the kernel refused (no privilege, no namespaces in this container)."""


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise Refused(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str, kind: str | None, flags: int, options: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    _check(libc().mount(encode(source), encode(target), encode(kind), flags, encode(options)), f"mount {target}")


def enter(cgroup_procs: list[str], user_namespace: bool) -> None:
    """Join the cgroups (so every descendant is counted and killed with them), then unshare."""
    for path in cgroup_procs:
        with open(path, "w") as f:
            f.write(str(os.getpid()))
    flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    _check(libc().unshare(flags | (CLONE_NEWUSER if user_namespace else 0)), "unshare")
    if user_namespace:  # root inside, the invoking user outside
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)


def _bind(source: str, root: str, writable: bool = False) -> None:
    """Bind ``source`` at the same path under ``root``; a link is recreated as the same link."""
    target = root + source
    if os.path.islink(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    locked = MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
    mount(None, target, None, MS_REMOUNT | MS_BIND | locked)


def python_dirs(hidden: list[str]) -> list[str]:
    """Python's own files and the packages it imports from, minus anything holding the grader."""
    import sysconfig

    wanted = {sys.base_prefix, sys.prefix, sys.exec_prefix, os.path.dirname(sys.executable),
              os.path.dirname(os.path.realpath(sys.executable)), *sysconfig.get_paths().values(), *sys.path}
    found = []
    for path in sorted(p for p in wanted if p and os.path.isdir(p)):
        real = os.path.realpath(path)
        if any(_within(h, real) for h in hidden):  # the checkout itself (an editable install puts it on sys.path)
            continue
        found.append(path)
    return _outermost(found)


def _within(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith(ancestor.rstrip("/") + "/")


def _outermost(paths: list[str]) -> list[str]:
    kept: list[str] = []
    for path in sorted(paths, key=len):
        if not any(_within(path, k) for k in kept):
            kept.append(path)
    return sorted(kept)


def build_root(new_root: str, workdir: str, keep: list[str], hidden: list[str], devices: list[str]) -> list[str]:
    """Make ``new_root`` the root of this mount namespace; returns the grader paths covered inside it."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for name in ("tmp", "var/tmp"):  # first: Python or its packages may live under /tmp (a CI checkout's venv)
        os.makedirs(f"{new_root}/{name}", exist_ok=True)
        mount("tmpfs", f"{new_root}/{name}", "tmpfs", MS_NOSUID | MS_NODEV, f"size={SCRATCH_MIB}m,mode=1777")
    for path in SYSTEM_DIRS:
        if os.path.lexists(path):
            _bind(path, new_root)
    for path in keep:
        _bind(path, new_root)
    os.makedirs(f"{new_root}/dev", exist_ok=True)
    mount("tmpfs", f"{new_root}/dev", "tmpfs", MS_NOSUID, "size=64k,mode=0755")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            open(f"{new_root}/dev/{name}", "a").close()
            mount(f"/dev/{name}", f"{new_root}/dev/{name}", None, MS_BIND)
    for path in devices:  # a GPU's nodes, where the worker computes on one
        _bind(path, new_root, writable=True)
    os.makedirs(f"{new_root}/dev/shm")
    mount("tmpfs", f"{new_root}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={SCRATCH_MIB}m,mode=1777")
    os.makedirs(f"{new_root}/dev/pts")  # a private instance: IPython's `!command` runs in a pseudo-terminal
    mount("devpts", f"{new_root}/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
    for name, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{new_root}/dev/{name}")
    os.makedirs(f"{new_root}/proc")
    mount("proc", f"{new_root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if os.path.isdir("/sys/devices/system"):  # CPU topology, which torch reads at start
        _bind("/sys/devices/system", new_root)
    _bind(workdir, new_root, writable=True)
    covered = []
    for path in hidden:  # grader packages installed inside a kept tree (a non-editable install)
        if os.path.isdir(new_root + path):
            mount("tmpfs", new_root + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
            covered.append(path)
    os.makedirs(f"{new_root}/.old", exist_ok=True)
    os.chdir(new_root)
    _check(libc().syscall(SYS_PIVOT_ROOT[platform.machine()], b".", b".old"), "pivot_root")
    _check(libc().umount2(b"/.old", MNT_DETACH), "detach the old root")
    os.rmdir("/.old")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(workdir)
    return covered


def no_new_privileges() -> None:
    """No set-user-id program (su, sudo, ping) can give a worker more rights than it has."""
    libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def drop_capabilities() -> None:
    """Leave root of the user namespace: a nested one where this process is an ordinary user, with no
    rights over the mounts it was given (they belong to the outer namespace), nor over anything else."""
    uid, gid = os.geteuid(), os.getegid()
    _check(libc().unshare(CLONE_NEWUSER), "unshare a nested user namespace")
    for name, text in (("setgroups", "deny"), ("uid_map", f"1000 {uid} 1"), ("gid_map", f"1000 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
