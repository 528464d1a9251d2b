"""The grading controller of the ``propgrade`` command and the platforms' entry points, forked from the fork
server so that it shares torch.

A command that grades runs three interpreters that all need torch: the controller, the fork server and the
worker. Imported twice (controller, fork server), torch costs two imports (about 0.9 s of CPU each) and two
copies of its 140 MiB of private memory; the worker already shares the fork server's. So ``propgrade grade``,
``check`` and ``warm``, and the platforms' graders (``python -m grader.launcher grader.gradescope ARGS``: Gradescope's
``run_autograder``, Classroom 50's ``autograder.py``, PrairieLearn's entry point), are launched in two steps:

* the launcher (the process the user started; it never imports torch) starts the fork server in a clean
  environment, as before, and hands it its standard streams, its folder and two pipes;
* the fork server imports torch, forks the controller from that state *before* it warms up for workers, and
  goes on; the controller reads the command line, environment and import path from the launcher's pipe (never
  through the fork server, whose memory every worker inherits), runs the command, and reports its exit code.

Workers are still forked from the fork server, never from the controller: nothing the controller learns
(paths of other submissions, the store, hidden inputs, the launcher's environment) is in a worker's memory.
The launcher forwards Ctrl+C and ``SIGTERM`` to the controller, adopts the orphans a worker may leave (as a
controller that forks its own fork server does), and exits with the controller's code.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import select
import signal
import sys
import threading
from typing import NoReturn

from grader.forkserver import ForkServer, become_subreaper, fork_server_wanted

ENTRY_POINTS = ("grader.cli", "grader.gradescope", "grader.outputs.classroom50", "grader.outputs.prairielearn")  # each has main(argv)
COMMANDS = ("grade", "check", "warm")  # grader.cli's commands that grade
FAILED = 3  # the exit code of a run the grader itself could not finish (as grader_failed)


def command() -> NoReturn:
    """The ``propgrade`` console command: this module is all it imports before the fork server starts."""
    run("grader.cli", sys.argv[1:])


def run(module: str, argv: list[str]) -> NoReturn:
    """``module.main(argv)``, in a controller forked from the fork server where that is wanted, else here; then
    a quick exit. Tearing down an interpreter that holds torch takes about 0.5 s (every object and module freed
    one by one) and does nothing a command needs: its files are written and closed, its workers stopped. The exit
    callbacks (logging, temporary folders) still run."""
    code = launch(module, argv) if wanted(module, argv) else None
    if code is None:
        code = importlib.import_module(module).main(argv)
    flush_and_run_exit_callbacks()
    os._exit(code)


def wanted(module: str, argv: list[str]) -> bool:
    """Launch in two steps what grades, where the fork server exists (PROPGRADE_LAUNCHER=0: never)."""
    grades = module != "grader.cli" or argv[:1] in [[c] for c in COMMANDS]
    return grades and fork_server_wanted() and os.environ.get("PROPGRADE_LAUNCHER", "1") != "0"


def flush_and_run_exit_callbacks() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said on it
            pass
    atexit._run_exitfuncs()


def launch(module: str, argv: list[str]) -> int | None:
    """Run the command in a controller forked from the fork server; its exit code, or None when no controller
    could be started (the caller then runs the command itself)."""
    become_subreaper()  # a worker's orphans come here, where its controller finds and ends them
    config_read, config_write = os.pipe()
    status_read, status_write = os.pipe()
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        server = ForkServer(controller=True)
        server.start_controller([0, 1, 2, cwd, config_read, status_write])
    except OSError:
        for fd in (config_read, config_write, status_read, status_write, cwd):
            os.close(fd)
        return None
    for fd in (config_read, status_write, cwd):
        os.close(fd)
    server.socket.close()  # the controller holds its own end now
    config = {"module": module, "argv": argv, "env": dict(os.environ), "path": sys.path, "argv0": sys.argv[0], "launcher": os.getpid()}
    try:
        data = memoryview(json.dumps(config).encode() + b"\n")
        while data:
            data = data[os.write(config_write, data):]
    except OSError:  # the fork server died before it forked the controller
        os.close(config_write)
        server.process.wait()
        return None
    code = _wait_for_controller(status_read, server.process)
    os.close(config_write)  # the controller's watch on its launcher ends with this
    if code is not None:
        _wait_for_the_rest()
    return code


def _wait_for_the_rest(seconds: float = 10) -> None:
    """The controller has answered: wait until it, the fork server and whatever they left to this subreaper have
    ended (milliseconds), so that a command that has ended has no process left: a harness that removes its
    container or cgroup right after finds it empty."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # none left
            return
        if pid == 0:
            time.sleep(0.005)


def _wait_for_controller(status_read: int, server_process) -> int | None:
    """Read the controller's pid, then its exit code, forwarding signals meanwhile and reaping adopted orphans."""
    pid: int | None = None
    received = b""
    pending: list[int] = []  # a Ctrl+C before the controller said its pid: delivered once it has

    def forward(signum, _frame):
        if pid is None:
            pending.append(signum)
            return
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                ready, _, _ = select.select([status_read], [], [], 0.5)
            except InterruptedError:
                continue
            _reap_orphans()
            if not ready:
                continue
            chunk = os.read(status_read, 4096)
            received += chunk
            lines = received.split(b"\n")
            if pid is None and len(lines) > 1:
                pid = int(lines[0])
                for signum in pending:
                    forward(signum, None)
            if len(lines) > 2:
                return int(lines[1])
            if not chunk:
                break
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        os.close(status_read)
    if pid is None:  # the fork server never forked a controller: the caller runs the command itself
        server_process.wait()
        return None
    print("propgrade: the grading process ended without finishing (killed, or out of memory); nothing was graded "
          "after that point. Run the command again, or give the machine more memory.", file=sys.stderr)
    return FAILED


def _reap_orphans() -> None:
    """Collect the exit of what has ended among this process's children: orphans of workers adopted here (the
    controller kills them; only their parent can reap them), or the fork server (its status is not needed)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def become_controller(fds: list[int]) -> None:
    """In the fork server's child, before the server warmed up: become the command's controller and never return.

    ``fds``: the launcher's standard input, output and error, its working folder, the pipe its configuration
    comes on (held open while it lives), the pipe for the controller's pid and exit code, and the socket to
    the fork server (the server is this process's parent).
    """
    import types

    from grader import forkserver

    stdin, stdout, stderr, cwd, config_read, status_write, server_socket = fds
    forkserver.ForkServer._shared = forkserver.ForkServer.parent(server_socket)
    code = FAILED
    try:
        for fd, standard in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, standard)
            os.close(fd)
        os.fchdir(cwd)
        os.close(cwd)
        os.write(status_write, f"{os.getpid()}\n".encode())
        config = json.loads(_read_line(config_read))
        os.environ.clear()
        os.environ.update(config["env"])
        sys.path[:] = config["path"]
        sys.argv[:] = [config["argv0"], *config["argv"]]
        forkserver.ORPHANS_GO_TO = config["launcher"]
        sys.modules["__main__"] = types.ModuleType("__main__")  # not the fork server's script: spawned pools import no main
        for signum in (signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        for signum in (signal.SIGINT, signal.SIGTERM):  # both end the run in order: its workers are stopped
            signal.signal(signum, signal.default_int_handler)
        threading.Thread(target=_end_with_launcher, args=(config_read,), daemon=True).start()
        if config["module"] not in ENTRY_POINTS:
            raise ValueError(f"not an entry point of propgrade: {config['module']}")
        code = importlib.import_module(config["module"]).main(config["argv"])
        flush_and_run_exit_callbacks()
    except SystemExit as done:  # argparse's own exits
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
        print("propgrade: interrupted", file=sys.stderr)
    except BaseException:  # noqa: BLE001 - said on the launcher's terminal, then the process ends
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(status_write, f"{code}\n".encode())
        finally:
            os._exit(code)


def _read_line(fd: int) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            raise OSError("the launcher went away before it said what to run")
        data += chunk
    return data


def _end_with_launcher(config_read: int) -> None:
    """The launcher holds the configuration pipe open until it exits: when it is gone (killed), so is this run,
    stopped in order (its worker is ended) or, failing that within 10 s, at once."""
    import time

    while os.read(config_read, 1 << 16):
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)
    os._exit(FAILED)


if __name__ == "__main__":  # python -m grader.launcher MODULE ARGS: how the platforms' scripts start a grade
    if len(sys.argv) < 2 or sys.argv[1] not in ENTRY_POINTS:
        print(f"usage: python -m grader.launcher {{{','.join(ENTRY_POINTS)}}} [ARGS...]", file=sys.stderr)
        sys.exit(2)
    run(sys.argv[1], sys.argv[2:])
