"""Reading a file a submission saved, where no student code ever ran.

``torch.load(path, weights_only=True)`` inside the worker proves nothing: the
submission shares that process and can rebind ``torch.load`` (a whole-model
pickle then "passes" the weights-only check). So the controller takes the
file's bytes itself (``scratch_bytes``: a regular file directly in the worker's
folder, opened without following links, under a size cap) and hands them to a
*reader*: a child forked, one per read, from a small server that imports only
torch and this module and never sees student code. The child caps its memory
and CPU time, drops to a user of its own as root, runs
``torch.load(..., weights_only=True, map_location="cpu")`` on the bytes and
answers with plain data (``grader/wire.py``). A file that attacks the loader can at
worst spoil its own submission's reads.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import select
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MAX_FILE_BYTES = 64 << 20  # the lesson's largest model (NeuralNetwork) saves 2.7 MB
READ_MEMORY_BYTES = 2 << 30
READ_CPU_SECONDS = 20
READ_SECONDS = 30.0


class Refused(Exception):
    """The file is not one the grader will read (a link, a device, too large...)."""


def scratch_bytes(folder: Path, name: str, cap: int = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of the regular file ``name`` directly in ``folder``; None when there is none.

    The name is the grader's own (no separators); the file itself is the student's,
    so it is opened without following a link and without blocking on a FIFO, and
    checked by ``fstat`` to be a plain file with one name, read up to ``cap`` bytes."""
    if not name or os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise ValueError(f"not a plain file name: {name!r}")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(os.path.join(folder, name), flags)
    except FileNotFoundError:
        return None
    except OSError as error:  # ELOOP: a link where the file should be
        raise Refused(f"not a regular file ({error.strerror})") from None
    with os.fdopen(fd, "rb", buffering=0) as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not a regular file")
        if info.st_nlink != 1:
            raise Refused("a hard link to another file")
        if info.st_size > cap:
            raise Refused(f"larger than {cap >> 20} MiB")
        data = file.read(cap + 1)
    if len(data) > cap:
        raise Refused(f"larger than {cap >> 20} MiB")
    return data


def load_weights(data: bytes) -> dict:
    """What ``torch.load(weights_only=True)`` makes of ``data``, as a plain reply: ``result`` or ``error``.

    Trusted only where no student code ran: in a reader child, or for an in-process subject."""
    import torch

    from grader.remote import Executor, short_error

    try:
        loaded = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return {"error": short_error(error)}
    return {"result": Executor().describe(loaded)}


# -- the reader server and its children ----------------------------------------------


def _confine_child(uid: int | None) -> None:
    import resource

    for limit, value in ((resource.RLIMIT_AS, READ_MEMORY_BYTES), (resource.RLIMIT_CPU, READ_CPU_SECONDS), (resource.RLIMIT_FSIZE, 0)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def _answer_reads(channel: socket.socket, uid: int | None) -> None:
    """In a fresh child: confine, then for each file descriptor received, read its bytes and answer one frame."""
    from grader import wire

    _confine_child(uid)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, 16, 1)
        except OSError:
            return
        if not message or not fds:
            return
        chunks, offset = [], 0
        while chunk := os.pread(fds[0], 1 << 20, offset):
            chunks.append(chunk)
            offset += len(chunk)
        os.close(fds[0])
        try:
            frame = wire.encode(load_weights(b"".join(chunks)))
        except Exception as error:  # noqa: BLE001 - a loaded value that cannot cross is an answer too
            frame = wire.encode({"error": {"type": type(error).__name__, "message": str(error)[:2000]}})
        channel.sendall(wire.framed(frame))


def forked_reader(fd: int, uid: int | None) -> None:
    """In a child just forked from the fork server for one submission: answer its reads, then exit."""
    code = 0
    try:
        from grader import remote, wire  # noqa: F401 - before the child drops privileges (load_weights uses them)

        _answer_reads(socket.socket(fileno=fd), uid)
    except BaseException:  # noqa: BLE001 - the controller sees no answer and says so
        code = 70
    finally:
        os._exit(code)


def serve(control_fd: int) -> None:
    """The reader server: one forked child per submission, answering that submission's reads only."""
    import torch

    from grader import remote, wire  # noqa: F401 - imported once here, not in every child

    torch.set_num_threads(1)
    warm = io.BytesIO()
    torch.save(torch.nn.Linear(2, 1).state_dict(), warm)
    load_weights(warm.getvalue())  # the loader's lazy imports, paid once before any fork
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 4096, 1)
        except OSError:
            return
        if not message or not fds:
            return
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                control.close()
                _answer_reads(socket.socket(fileno=fds[0]), request.get("uid"))
            except BaseException:  # noqa: BLE001 - the parent sees no answer and says so
                code = 70
            finally:
                os._exit(code)
        os.close(fds[0])
        control.send(json.dumps({"pid": pid}).encode())


def _grader_root() -> str:
    return str(Path(__file__).resolve().parents[1])


class CleanReader:
    """The controller's side: one reader server per grading process, started on first use, and one
    reader child per submission (``owner``, the worker's folder), so that a file which subverts the
    loader can reach nothing but its own submission's later reads."""

    _shared: "CleanReader | None" = None
    _lock = threading.Lock()

    def __init__(self):
        from grader.machine import oom_first
        from grader.workermanage import _CHILDREN_LOCK, LIVE_WORKERS, ForkServer, fork_server_wanted

        self.owner: str | None = None
        self.child: socket.socket | None = None
        self.pid: int | None = None
        self.server: ForkServer | None = None
        if fork_server_wanted():  # readers are forked where the workers are: no third interpreter importing torch
            self.server = ForkServer.shared()
            self.process = self.server.process
            return
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_grader_root(), os.environ.get("PYTHONPATH")])),
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        with _CHILDREN_LOCK:  # registered as ours, so that ending a worker never takes it for that worker's orphan
            self.process = subprocess.Popen(
                [sys.executable, "-m", "grader.clean_reader", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                cwd=_grader_root(), env=env, start_new_session=True,
            )
            LIVE_WORKERS.add(self.process.pid)
        oom_first(self.process.pid)
        theirs.close()

    @classmethod
    def shared(cls) -> "CleanReader":
        with cls._lock:
            if cls._shared is None or cls._shared.process.poll() is not None or not cls._shared._server_current():
                cls._shared = cls()
            return cls._shared

    def _server_current(self) -> bool:
        """False once the fork server this reader forks from has been replaced (it was found dead)."""
        from grader.workermanage import ForkServer

        return self.server is None or ForkServer._shared is self.server

    def read(self, data: bytes, owner: str, seconds: float = READ_SECONDS) -> dict:
        """``load_weights(data)`` computed in ``owner``'s reader child; an ``error`` reply if it gives no answer in time."""
        from grader import wire
        from grader.machine import oom_kills

        kills = oom_kills()
        with self._lock, tempfile.TemporaryFile() as source:
            source.write(data)
            source.flush()
            if self.owner != owner or self.child is None:
                self._start_child(owner)
            try:
                socket.send_fds(self.child, [b"r"], [source.fileno()])
                frame = _read_frame(self.child.fileno(), time.monotonic() + seconds, 2 * MAX_FILE_BYTES + (1 << 20))
            except OSError:
                frame = None
            if frame is None:
                self._end_child()
                if oom_kills() > kills:  # the machine ran out (the reader may be what the kernel ended): not the file's answer
                    raise OSError("the clean reader gave no answer while the kernel's OOM killer acted")
                return {"error": {"type": "ReaderFailed", "message": "the file could not be read in time or within the reader's limits"}}
            return wire.decode(frame)

    def _start_child(self, owner: str) -> None:
        self._end_child()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        uid = 100_000 + secrets.randbelow(1_000_000_000)
        try:
            if self.server is not None:
                self.pid = self.server.reader([theirs.fileno()], uid)
            else:
                socket.send_fds(self.control, [json.dumps({"uid": uid}).encode()], [theirs.fileno()])
                self.pid = json.loads(self.control.recv(4096))["pid"]
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        self.child, self.owner = mine, owner

    def _end_child(self) -> None:
        if self.child is not None:
            self.child.close()
        if self.pid is not None:
            _kill(self.pid)
            if self.server is not None:  # the fork server's child: it reaps it when asked
                try:
                    self.server.status(self.pid, wait=True)
                except OSError:
                    pass
        self.child = self.pid = self.owner = None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_frame(fd: int, deadline: float, cap: int) -> bytes | None:
    """One length-prefixed frame from ``fd`` before ``deadline``; None when it ends early, is late or too large."""
    received = bytearray()
    size = None
    while size is None or len(received) < 8 + size:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return None
        received += chunk
        if size is None and len(received) >= 8:
            size = int.from_bytes(received[:8], "big")
            if size > cap:
                return None
    return bytes(received[8 : 8 + size])


if __name__ == "__main__":
    serve(int(sys.argv[1]))
