"""Starting, talking to, limiting and stopping worker processes.

Each worker runs ``remote.py`` in a fresh directory holding a copy of the
submission, with a scrubbed environment, in a session of its own. The parent
enforces every limit from outside: a deadline on each reply, a memory cap
(``RLIMIT_AS`` set inside the worker before student code, and a resident-size
watchdog here), capped output. Whatever happens, ``stop`` kills the session
and any stray process that carries the worker's token. Where the platform has
no POSIX process control (``posix_process_limits``: Windows), a worker is a
plain subprocess talking over its standard streams, killed on its own when a
deadline passes, with no memory cap.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from grader import remote, wire
from grader.sandbox.cgroups import Cgroups
from grader.sandbox.scratch import SCRATCH_BYTES, mount_scratch, unmount_scratch
from grader.forkserver import _CHILDREN_LOCK, LIVE_WORKERS, ForkServer, adopter, become_subreaper, fork_server_wanted  # noqa: F401 - used here and re-exported
from grader.machine import oom_first
from grader.messages import say
from grader.outcomes import WorkerLost
from grader.sandbox.staging import Staged, stage
from grader.subject import unwrap

MAX_REPLY_BYTES = 1 << 30
GIB = 1 << 30


def grader_directories() -> list[str]:
    """What a worker must not see: the grader, the reference, the repository around them, and the stores
    in use (what they hold, under a course's own seed, would tell which inputs are coming)."""
    import grader
    import reference

    from grader import store

    packages = [Path(grader.__file__).parent, Path(reference.__file__).parent]
    root = packages[0].parent
    extra = [root / name for name in ("tests", "submissions", "benchmarks", ".git") if (root / name).is_dir()]
    return [str(p) for p in packages + extra] + sorted(store.IN_USE)


def posix_process_limits() -> bool:
    """The capability check: can a worker get a session of its own, be killed with everything it
    started, and have its memory capped (fork, setsid, killpg, resource)? True on Linux and macOS;
    where False (Windows) workers are plain subprocesses, still killed when a deadline passes."""
    try:
        import resource  # noqa: F401
    except ImportError:
        return False
    return all(hasattr(os, name) for name in ("fork", "setsid", "killpg"))


def sandbox_wanted() -> bool:
    """Private namespaces for each worker (``grader.sandbox``) on Linux, unless PROPGRADE_SANDBOX=0."""
    return sys.platform == "linux" and os.environ.get("PROPGRADE_SANDBOX", "1") != "0"


def gpu_devices() -> list[str]:
    """The device nodes a worker computing on CUDA needs inside its private /dev."""
    return sorted(str(p) for p in Path("/dev").glob("nvidia*")) if os.path.isdir("/dev") else []


class ForkedProcess:
    """The part of ``subprocess.Popen`` a Worker uses, for a worker forked by the ForkServer."""

    def __init__(self, pid: int, server: ForkServer, stdout):
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._server = server

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._server.status(self.pid, wait=False)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = self._server.status(self.pid, wait=True)
        return self.returncode

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def cores_to_share(jobs: int) -> list[int] | None:
    """The cores for ``jobs`` controllers to take one each, or None where they had better float:
    more jobs than cores, no way to pin (not Linux), or PROPGRADE_PIN=0."""
    if not hasattr(os, "sched_setaffinity") or os.environ.get("PROPGRADE_PIN", "1") == "0":
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return cpus if jobs <= len(cpus) else None


def share_one_core(cpu: int) -> None:
    """Keep this controller, its fork server and every worker forked from it on one core.

    A controller and its worker take turns (one asks, the other answers; they
    never compute at once), and a grading run makes thousands of such hand-overs
    per submission. On one core a hand-over is a context switch; across cores
    each one waits for the other core to wake up, several times longer here.
    """
    os.sched_setaffinity(0, {cpu})


@dataclass(frozen=True)
class Limits:
    call_seconds: float = 10.0
    cell_seconds: float = 120.0  # per notebook cell, and for a module's whole top level
    total_seconds: float = 900.0
    start_seconds: float = 120.0
    memory_bytes: int = 4 * GIB
    output_bytes: int = 64 * 1024


def memory_text(n: int) -> str:
    return f"{n / GIB:g} GiB" if n >= GIB else f"{n / (1 << 20):g} MiB"


class Output:
    """Drains a pipe so the worker never blocks on it, keeping only the first ``cap`` bytes."""

    def __init__(self, stream, cap: int):
        self.kept = bytearray()
        self.total = 0
        self._cap = cap
        self._grown = threading.Condition()
        self._ended = False
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self._grown:
                self.total += len(chunk)
                room = self._cap - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]
                self._grown.notify_all()
        with self._grown:
            self._ended = True
            self._grown.notify_all()

    def until(self, token: str, seconds: float = 2.0) -> str:
        """The output before ``token`` once it has come through (or the cap is reached, the pipe has
        closed, or ``seconds`` have passed: then what has come so far); the token itself is dropped."""
        mark, deadline = token.encode(), time.monotonic() + seconds
        with self._grown:
            while mark not in self.kept and len(self.kept) < self._cap and not self._ended and time.monotonic() < deadline:
                self._grown.wait(max(0.0, deadline - time.monotonic()))
            kept = bytes(self.kept)
        text = kept.split(mark, 1)[0].decode("utf-8", errors="replace")
        return text if mark in kept or len(kept) < self._cap else text + "\n[... later output not kept]"

    def text(self) -> str:
        self._thread.join(timeout=3)  # the worker has ended: its pipe closes at once, but a loaded core may not run the drain thread for a while
        text = self.kept.decode("utf-8", errors="replace")
        if self.total > len(self.kept):
            text += f"\n[... {self.total - len(self.kept)} more bytes of output not kept]"
        return text


class Worker:
    """One worker process serving one submission's requests."""

    def __init__(self, source_dir: Path, *, limits: Limits, seed: int, device: str, notebook: bool = True):
        """``notebook``: it will run notebook cells (IPython), not only a module."""
        self.notebook = notebook
        self.limits = limits
        self.seed = seed
        self.device = device
        self.token = uuid.uuid4().hex
        self.uid = 100_000 + secrets.randbelow(1_000_000_000)  # a user of its own when run as root
        self.root = Path(tempfile.mkdtemp(prefix="propgrade-"))
        self.workdir = self.root / "work"
        as_root = sys.platform == "linux" and os.geteuid() == 0
        self.staged: Staged | None = None
        self.scratch_mounted = sandbox_wanted() and mount_scratch(str(self.root))
        try:
            if source_dir:
                self.staged = stage(source_dir, self.workdir, owner=self.uid if as_root else None, deadline=time.monotonic() + limits.start_seconds)
            else:
                self.workdir.mkdir()
            (self.workdir / ".tmp").mkdir(exist_ok=True)
            if as_root:
                self.root.chmod(0o711)
                for path in (self.workdir, self.workdir / ".tmp"):
                    os.chown(path, self.uid, self.uid, follow_symlinks=False)
        except BaseException:
            self._remove_folder()
            raise
        self.process: subprocess.Popen | None = None
        self.output: Output | None = None
        self.memory_exceeded = False
        self.cgroups: Cgroups | None = None  # the worker and all its descendants, where cgroups are writable
        self.sandbox_pid: int | None = None  # the init of the worker's PID namespace: killing it ends them all
        self._init_pidfd: int | None = None
        self.lost: WorkerLost | None = None
        self.isolation: dict = {}
        self.process_limits = posix_process_limits()
        self.pipes: StdioPipes | None = None  # the request and reply pipes of a plain subprocess worker
        self._received = bytearray()  # read from the reply pipe, not yet taken: a reply's length and body usually arrive in one read
        self.peak_resident = 0  # bytes, as the memory watchdog last saw them (shared pages included)
        self.children_before: set[tuple[int, int]] = set()  # our children before this worker started (see kill_strays)
        self.finished = False
        self.stopped_output: str | None = None

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "TMPDIR": str(self.workdir / ".tmp"),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            "PROPGRADE_SEED": str(self.seed),
            "PROPGRADE_TOKEN": self.token,
            "PROPGRADE_MEMORY": str(self.limits.memory_bytes if self.device == "cpu" and self.process_limits else 0),
            "PROPGRADE_HIDE": os.pathsep.join(grader_directories()),
            "MPLCONFIGDIR": str(self.workdir / ".tmp"),
            "PROPGRADE_UID": str(self.uid),
            "USER": "student",
            "LOGNAME": "student",
        }
        if self.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        for name in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "SYSTEMROOT"):
            if name in os.environ and name not in env:
                env[name] = os.environ[name]
        return env

    def start(self) -> dict:
        self.children_before = children_now()
        if self.process_limits:
            self._start_in_session()
        else:
            self._start_plain()
        deadline = time.monotonic() + self.limits.start_seconds
        ready = self._reply(deadline, say("starting_worker"))
        if isinstance(ready, dict) and ready.get("status") == "sandboxed" and isinstance(ready.get("pid"), int):
            self.sandbox_pid = ready["pid"]  # written before any student code could run
            try:
                self._init_pidfd = os.pidfd_open(self.sandbox_pid)  # that process, never a later one with its pid
            except OSError:
                pass
            ready = self._reply(deadline, say("starting_worker"))
        self.isolation = dict(ready.get("isolation", {})) if isinstance(ready, dict) else {}
        watchdog = self.process_limits and os.path.exists(f"/proc/{self.process.pid}/statm")
        self.isolation["memory_cap"] = bool(self.isolation.get("address_space_cap")) or watchdog
        if self.cgroups is not None:
            self.isolation["cgroup_limits"] = sorted(self.cgroups.limits)
        self.isolation["folder_cap"] = SCRATCH_BYTES if self.scratch_mounted else None
        return ready

    def _sandbox(self) -> dict | None:
        """What the worker needs to confine itself (``remote.enter_sandbox``), with its cgroups made here."""
        if not sandbox_wanted():
            return None
        self.cgroups = Cgroups.create(f"propgrade-{self.token}", self.limits.memory_bytes, remote.MAX_PROCESSES)
        new_root = self.root / "root"
        new_root.mkdir(mode=0o700)
        return {
            "root": str(new_root),
            "cgroups": self.cgroups.procs_files() if self.cgroups else [],
            "hide": grader_directories(),
            "devices": gpu_devices() if self.device != "cpu" else [],
        }

    def _start_plain(self) -> None:
        """A subprocess that talks over its standard streams: no pipes handed over, no memory cap."""
        with _CHILDREN_LOCK:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-u", remote.__file__, "--stdio"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.workdir,
                env=self.environment(),
                start_new_session=True,  # ignored where there are no sessions
            )
            LIVE_WORKERS.add(self.process.pid)
        self.pipes = StdioPipes(self.process.stdin, self.process.stdout)
        self.output = Output(self.process.stderr, self.limits.output_bytes)

    def _start_in_session(self) -> None:
        """A worker in a session of its own, handed its pipes (forked from the fork server on Linux)."""
        become_subreaper()
        request_read, self._request_write = os.pipe()
        self._reply_read, reply_write = os.pipe()
        if fork_server_wanted():
            output_read, output_write = os.pipe()
            server = ForkServer.shared()
            with _CHILDREN_LOCK:
                pid = server.fork(self.workdir, self.environment(), [request_read, reply_write, output_write], self._sandbox(), self.notebook)
                self.process = ForkedProcess(pid, server, os.fdopen(output_read, "rb"))
                LIVE_WORKERS.add(pid)
            os.close(output_write)
        else:
            env = self.environment()
            sandbox = self._sandbox()
            if sandbox:
                env["PROPGRADE_SANDBOX"] = json.dumps(sandbox)
            with _CHILDREN_LOCK:
                self.process = subprocess.Popen(
                    [sys.executable, "-I", "-u", remote.__file__, str(request_read), str(reply_write)],
                    pass_fds=(request_read, reply_write),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    env=env,
                    start_new_session=True,
                )
                LIVE_WORKERS.add(self.process.pid)
            oom_first(self.process.pid)
        os.close(request_read)
        os.close(reply_write)
        os.set_blocking(self._request_write, False)
        self.output = Output(self.process.stdout, self.limits.output_bytes)
        threading.Thread(target=self._watch_memory, daemon=True).start()

    def request(self, op: str, args: dict, *, doing: str, seconds: float | None = None) -> dict:
        """Send one request and wait for its reply, at most ``seconds`` in all (the per-call limit by default)."""
        seconds = self._limit(seconds)
        deadline = time.monotonic() + seconds
        self._send(wire.framed(wire.encode({"op": op, "args": args})), deadline, doing, seconds)
        return unwrap(self._reply(deadline, doing, seconds), doing)

    def send(self, frames: list[bytes], *, doing: str, seconds: float | None = None) -> None:
        """Queue encoded requests; the worker answers them in order, one reply each (see ``receive``)."""
        seconds = self._limit(seconds)
        self._send(b"".join(map(wire.framed, frames)), time.monotonic() + seconds, doing, seconds)

    def receive(self, *, doing: str, seconds: float | None = None) -> dict:
        """The reply to the oldest request not yet answered, waited for at most ``seconds``."""
        seconds = self._limit(seconds)
        return unwrap(self._reply(time.monotonic() + seconds, doing, seconds), doing)

    def _limit(self, seconds: float | None) -> float:
        """The time a request may take (the per-call limit by default), once the worker is known to be there."""
        if self.lost is not None:
            raise self.lost
        return self.limits.call_seconds if seconds is None else seconds

    def _send(self, data: bytes, deadline: float, doing: str, seconds: float) -> None:
        """Write requests without ever blocking past the deadline (a worker may stop reading), taking in
        replies meanwhile: a worker blocked on a full reply pipe reads no more requests."""
        if self.pipes is not None:
            written = self.pipes.write(data, deadline)
            if written is None:
                self._lose("timeout", doing, seconds)
            if not written:
                self._lose("crashed", doing)
            return
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            readable, writable, _ = select.select([self._reply_read], [self._request_write], [], left) if left > 0 else ([], [], [])
            if not readable and not writable:
                self._lose("timeout", doing, seconds)
            if readable:
                chunk = os.read(self._reply_read, 1 << 16)
                if not chunk:
                    self._lose("crashed", doing)
                if len(self._received) + len(chunk) > MAX_REPLY_BYTES:
                    self._lose("protocol", doing)
                self._received += chunk
            if not writable:
                continue
            try:
                written = os.write(self._request_write, view[: 1 << 16])
            except BlockingIOError:
                continue
            except OSError:
                self._lose("crashed", doing)
            view = view[written:]

    def _reply(self, deadline: float, doing: str, seconds: float | None = None) -> dict:
        size = int.from_bytes(self._read(8, deadline, doing, seconds), "big")
        if size > MAX_REPLY_BYTES:
            self._lose("protocol", doing)
        try:
            return wire.decode(self._read(size, deadline, doing, seconds))
        except wire.WireError:
            self._lose("protocol", doing)

    def _read(self, size: int, deadline: float, doing: str, seconds: float | None) -> bytes:
        if self.pipes is not None:
            data = self.pipes.read(size, deadline)
            if data is None:
                self._lose("timeout", doing, seconds)
            if len(data) < size:
                self._lose("crashed", doing)
            return data
        while len(self._received) < size:
            left = deadline - time.monotonic()
            ready = select.select([self._reply_read], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                self._lose("timeout", doing, seconds)
            chunk = os.read(self._reply_read, max(size - len(self._received), 1 << 16))
            if not chunk:
                self._lose("crashed", doing)
            self._received += chunk
        data = bytes(self._received[:size])
        del self._received[:size]
        return data

    def _lose(self, reason: str, doing: str, seconds: float | None = None):
        if reason == "crashed":  # it is ending: let it say how (in a sandbox, its waiting parent relays the code)
            ended = time.monotonic() + 0.5
            while self.process is not None and self.process.poll() is None and time.monotonic() < ended:
                time.sleep(0.005)
        self.kill()
        code = self.process.wait() if self.process else None
        if self.memory_exceeded or (self.cgroups is not None and self.cgroups.out_of_memory()):
            reason, message = "memory", say("memory", cap=memory_text(self.limits.memory_bytes), doing=doing)
        elif reason == "timeout":
            message = say("timeout", seconds=round(seconds or self.limits.start_seconds, 1), doing=doing)
        elif reason == "crashed":
            if code is not None and code >= 0:
                detail = say("exit_code", code=code)
            elif code:
                detail = say("killed_by_signal", signal=signal.Signals(-code).name)
            else:
                detail = say("no_reply")
            message = say("crashed", doing=doing, how=detail)
        else:
            message = say("protocol", doing=doing)
        self.lost = WorkerLost("timeout" if reason == "timeout" else reason, message)
        raise self.lost

    def _watch_memory(self) -> None:
        """Kill the worker when it and its descendants hold more memory than the cap.

        With a memory cgroup the kernel enforces the cap for all of them and keeps their peak (read when the
        worker stops; polled every 50 ms only where the kernel keeps none); otherwise the worker's resident size is read every 50 ms and,
        as root, that of every process of its user every half second.
        """
        page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        by_user = sys.platform == "linux" and os.geteuid() == 0
        tick = 0
        while not self.finished:
            if self.cgroups is not None and "memory" in self.cgroups.limits:
                if self.cgroups.peak():  # the kernel keeps the peak itself: read once, when the worker stops
                    return
                self.peak_resident = max(self.peak_resident, self.cgroups.memory_used())
                time.sleep(0.05)
                continue
            try:
                with open(f"/proc/{self.sandbox_pid or self.process.pid}/statm") as f:
                    resident = int(f.read().split()[1]) * page
            except (OSError, ValueError, IndexError):
                return
            if by_user and tick % 10 == 0:
                resident = max(resident, resident_of_user(self.uid))
            tick += 1
            self.peak_resident = max(self.peak_resident, resident)
            if resident > self.limits.memory_bytes:
                self.memory_exceeded = True
                self.kill()
                return
            time.sleep(0.05)

    def kill(self) -> None:
        """Kill the worker, its namespace and cgroups, and its whole session, even after it has exited."""
        if self.process is None:
            return
        if self._init_pidfd is not None:
            try:
                signal.pidfd_send_signal(self._init_pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.cgroups is not None:
            self.cgroups.kill()
        if not self.process_limits:
            if self.process.poll() is None:
                self.process.kill()
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if self.process.poll() is None:
                self.process.kill()

    def output_until(self, token: str) -> str:
        """The worker's output so far, up to ``token`` (see ``Output.until``)."""
        return self.output.until(token) if self.output is not None else ""

    def stop(self) -> str:
        """End the worker and everything it started; returns its captured output. A second call only
        returns it again (its descriptors must never be closed twice: their numbers are reused)."""
        if self.finished and self.stopped_output is not None:
            return self.stopped_output
        self.finished = True
        if self.process is not None:
            self.kill()
            self.process.wait()
            LIVE_WORKERS.discard(self.process.pid)
            if self.cgroups is not None:
                self.peak_resident = max(self.peak_resident, self.cgroups.peak())
                self.cgroups.remove()
            if self._init_pidfd is not None:
                os.close(self._init_pidfd)
                self._init_pidfd = None
            as_root = sys.platform == "linux" and os.geteuid() == 0
            kill_strays(self.token, self.children_before, uid=self.uid if as_root else None)
            if self.pipes is not None:
                self.pipes.close()
            else:
                for fd in (self._request_write, self._reply_read):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
        text = self.output.text() if self.output else ""
        self._remove_folder()
        self.stopped_output = text
        return text

    def _remove_folder(self) -> None:
        if self.scratch_mounted:
            unmount_scratch(str(self.root))
            self.scratch_mounted = False
        shutil.rmtree(self.root, ignore_errors=True)


class StdioPipes:
    """A plain subprocess's stdin and stdout as its request and reply pipes, each waited on with a
    deadline through a thread, since select() cannot watch pipes everywhere (Windows)."""

    def __init__(self, requests, replies):
        self._requests = requests
        self._chunks: queue.Queue[bytes] = queue.Queue()
        self._pending = bytearray()
        self._ended = False
        threading.Thread(target=self._pump, args=(replies,), daemon=True).start()

    def _pump(self, replies) -> None:
        for chunk in iter(lambda: replies.read1(1 << 20), b""):
            self._chunks.put(chunk)
        self._chunks.put(b"")

    def write(self, data: bytes, deadline: float) -> bool | None:
        """True once written, False when the worker has gone, None when the deadline came first."""
        outcome: list[bool] = []

        def write() -> None:
            try:
                self._requests.write(data)
                self._requests.flush()
                outcome.append(True)
            except (OSError, ValueError):
                outcome.append(False)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(max(deadline - time.monotonic(), 0))
        return outcome[0] if outcome else None

    def read(self, size: int, deadline: float) -> bytes | None:
        """``size`` bytes, fewer when the worker has gone, None when the deadline came first."""
        while len(self._pending) < size and not self._ended:
            try:
                chunk = self._chunks.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                return None
            self._ended = not chunk
            self._pending += chunk
        data = bytes(self._pending[:size])
        del self._pending[:size]
        return data

    def close(self) -> None:
        try:
            self._requests.close()
        except (OSError, ValueError):
            pass


def resident_of_user(uid: int) -> int:
    """Resident bytes of every process whose real user is ``uid`` (a worker's own user, as root)."""
    total = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _real_uid(entry) == uid:
            try:
                with open(f"/proc/{entry}/statm") as f:
                    total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError, IndexError):
                continue
    return total


def _real_uid(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def kill_strays(token: str, before: set[tuple[int, int]] = frozenset(), rounds: int = 5, uid: int | None = None) -> int:
    """Kill what a worker left behind: processes carrying its token, and orphans we adopted.

    An adopted orphan is a child of ours that is no live worker and was not
    already our child when the worker started (``before``, from
    ``children_now``): multiprocessing's resource tracker or a host's own
    helpers are not the worker's. Repeated a few times, since a daemon may be
    half-way through a double fork.
    """
    if not os.path.isdir("/proc"):
        return 0
    with _CHILDREN_LOCK:
        return _kill_strays(f"PROPGRADE_TOKEN={token}".encode(), before, rounds, uid)


def children_now() -> set[tuple[int, int]]:
    """The children of the process that adopts our workers' orphans (``forkserver.adopter``: this one, or its
    launcher) as (pid, start time in clock ticks), so that a reused pid is not mistaken for them."""
    me, found = adopter(), set()
    if not os.path.isdir("/proc"):
        return found
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(entry)
            if stat and stat[0] == me:
                found.add((int(entry), stat[1]))
    return found


def _stat(pid: str) -> tuple[int, int] | None:
    """Parent pid and start time (clock ticks) from /proc/PID/stat; None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def _kill_strays(needle: bytes, before: set[tuple[int, int]], rounds: int, uid: int | None = None) -> int:
    me, foster = os.getpid(), adopter()
    killed = 0
    for _ in range(rounds):
        found = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in LIVE_WORKERS or int(entry) in (me, foster):
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    tagged = needle in f.read()
            except OSError:
                continue
            tagged = tagged or (uid is not None and _real_uid(entry) == uid)  # the worker's own user, however it hid
            stat = _stat(entry)
            if stat is None:
                continue
            parent, started = stat
            if tagged or (parent == foster and (int(entry), started) not in before):  # an adopted orphan
                try:
                    os.kill(int(entry), signal.SIGKILL)
                    found += 1
                except ProcessLookupError:
                    continue
                if parent == me:
                    try:
                        os.waitpid(int(entry), 0)
                    except ChildProcessError:
                        pass
        killed += found
        if not found:
            break
        time.sleep(0.05)
    return killed
