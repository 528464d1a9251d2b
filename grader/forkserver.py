"""The fork server: one process per grading process that imports torch once and forks every worker.

It lives apart from ``workermanage`` so that it imports nothing heavy: the ``propgrade`` command's
launcher starts it first and has it fork the command's controller once torch is imported
(``grader.launcher``); a grading process of its own (``grade()`` as a library) starts it before
its own imports, so that the two torch imports run on two cores.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from grader.machine import oom_first

REMOTE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "remote.py")  # what the server runs, never imported here
LIVE_WORKERS: set[int] = set()
_CHILDREN_LOCK = threading.Lock()  # no orphan hunt while a worker is being started and registered
PR_SET_CHILD_SUBREAPER = 36
ORPHANS_GO_TO: int | None = None  # the launcher's pid in a launched controller (grader/launcher.py): it adopts our workers' orphans


def become_subreaper() -> bool:
    """Adopt orphans of our workers (a daemon that left the session and cleared its environment)."""
    if sys.platform != "linux":
        return False
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def adopter() -> int:
    """The process a worker's orphans are given to: this one (a subreaper), or the launcher of this controller."""
    return ORPHANS_GO_TO or os.getpid()


def fork_server_wanted() -> bool:
    """Fork workers from a warm server on Linux (PROPGRADE_FORKSERVER=0 turns it off)."""
    return sys.platform == "linux" and hasattr(socket, "send_fds") and os.environ.get("PROPGRADE_FORKSERVER", "1") != "0"


class ForkServer:
    """A process that has imported torch once and forks a fresh worker per submission.

    One per grading process, started on first use; its children are the
    workers, each still a process of its own, discarded after its submission.
    """

    _shared: "ForkServer | None" = None
    _lock = threading.Lock()

    def __init__(self, controller: bool = False):
        """``controller``: the server first forks the command's controller (``grader.launcher``), then warms up."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            "LANG": "C.UTF-8",
        }
        for name in ("LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES"):
            if name in os.environ:
                env[name] = os.environ[name]
        with _CHILDREN_LOCK:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-u", REMOTE, "--zygote", str(theirs.fileno()), *(["--controller"] if controller else [])],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                cwd="/",
                env=env,
                start_new_session=True,
            )
            LIVE_WORKERS.add(self.process.pid)
        if not controller:  # else the server raises its own, after it forked the controller
            oom_first(self.process.pid)  # before it forks anything: its workers and readers inherit it
        theirs.close()
        self.socket = ours
        self.warmed_for_class = False

    @classmethod
    def parent(cls, fd: int) -> "ForkServer":
        """In a controller forked by the server (``grader.launcher``): the server is this process's parent."""
        server = cls.__new__(cls)
        server.socket = socket.socket(fileno=fd)
        server.process = _Parent(os.getppid())
        LIVE_WORKERS.add(server.process.pid)  # never taken for a worker's orphan
        server.warmed_for_class = False
        return server

    def start_controller(self, fds: list[int]) -> None:
        """Hand the server what the controller it forks needs (see ``grader.launcher.become_controller``)."""
        with self._lock:
            socket.send_fds(self.socket, [json.dumps({"op": "controller"}).encode()], [*fds, self.socket.fileno()])

    @classmethod
    def shared(cls) -> "ForkServer":
        with cls._lock:
            if cls._shared is None or cls._shared.process.poll() is not None:
                cls._shared = cls()
            return cls._shared

    def _ask(self, message: dict, fds: list[int] = ()) -> dict:
        with self._lock:
            try:
                socket.send_fds(self.socket, [json.dumps(message).encode()], list(fds))
                reply = self.socket.recv(1 << 16)
            except OSError as error:  # killed (the OOM killer, say): named, so the result can say whose failure it was
                raise OSError(f"the fork server has gone ({type(error).__name__})") from error
        if not reply:
            raise OSError("the fork server has gone")
        return json.loads(reply)

    def fork(self, workdir: Path, env: dict, fds: list[int], sandbox: dict | None = None, notebook: bool = True) -> int:
        """A worker; ``notebook``: it runs a notebook (the server imports IPython first, if it has not yet)."""
        return self._ask({"op": "fork", "workdir": str(workdir), "env": env, "sandbox": sandbox, "notebook": notebook}, fds)["pid"]

    def warm_for_class(self) -> None:
        """Ask the server to import what the lesson's plotting notebooks use, once for every later worker."""
        if not self.warmed_for_class:
            self.warmed_for_class = True
            self._ask({"op": "warm"})

    def status(self, pid: int, wait: bool) -> int | None:
        return self._ask({"op": "status", "pid": pid, "wait": wait})["code"]

    def reader(self, fds: list[int], uid: int | None) -> int:
        """Fork a clean reader (``grader.clean_reader.forked_reader``) answering on ``fds[0]``: a child of this
        server, which never runs student code, so no third interpreter imports torch for one grade."""
        return self._ask({"op": "reader", "uid": uid}, fds)["pid"]


class _Parent:
    """The part of ``subprocess.Popen`` ``ForkServer`` uses, for a server that is this process's parent."""

    def __init__(self, pid: int):
        self.pid = pid

    def poll(self) -> int | None:
        return None if os.getppid() == self.pid else 1
