"""The ``propgrade`` command's two-step launch (grader/launcher.py): a controller forked from the fork server.

What must hold: the command's results, output and exit code are the same; the launcher never imports torch;
Ctrl+C, a killed launcher or a killed controller leave nothing running; a worker's orphans are still ended;
and nothing the launcher was given (its environment, the other submissions' paths) reaches a worker's memory.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.forkserver import fork_server_wanted

try:
    from processes import alive, read_proc
except ImportError:  # run from the repository root
    from tests.processes import alive, read_proc

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not fork_server_wanted(), reason="the two-step launch needs the fork server (Linux)")

RELU = "import torch\n\n\ndef relu(z):\n    return torch.relu(z)\n"


def command(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """``propgrade ARGS`` as a user runs it: the console entry point, in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], cwd=ROOT, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=600, **kwargs)


def processes_with(marker: str) -> list[int]:
    """Live processes whose command line holds ``marker``."""
    return [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if alive(pid) and marker.encode() in read_proc(pid, "cmdline")]


def children(pid: int) -> list[int]:
    """Children of ``pid``, oldest first."""
    found = [int(p) for p in read_proc(pid, f"task/{pid}/children").split()]
    return sorted(found, key=lambda child: int(read_proc(child, "stat").rsplit(b")", 1)[1].split()[19] or 0))


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def slow_grade(tmp_path: Path) -> tuple[subprocess.Popen, int, set[int]]:
    """A launched grade of a submission that never ends, once its controller has started a worker: the
    launcher, the controller (the fork server's oldest child) and every process under the launcher."""
    (tmp_path / "slow.py").write_text("import time\nwhile True:\n    time.sleep(0.1)\n")
    launcher = subprocess.Popen([sys.executable, "-m", "grader.cli", "grade", str(tmp_path / "slow.py"), "--out", str(tmp_path / "out"), "--no-store"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        servers = children(launcher.pid)
        if servers and len(children(servers[0])) >= 2:  # the controller, then a worker
            return launcher, children(servers[0])[0], descendants(launcher.pid)
        time.sleep(0.1)
    launcher.kill()
    raise AssertionError("no worker started under the launcher")


def wait_gone(pids: set[int], seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if alive(p)]


def test_the_launcher_imports_no_torch():
    probe = "import sys, grader.cli, grader.launcher; print('torch' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.strip() == "False"


def test_launched_grade_matches_the_in_process_one(tmp_path):
    (tmp_path / "relu.py").write_text(RELU)
    launched = command("grade", str(tmp_path / "relu.py"), "--out", str(tmp_path / "a"), "--profile", "ci", "--no-store")
    in_process = command("grade", str(tmp_path / "relu.py"), "--out", str(tmp_path / "b"), "--profile", "ci", "--no-store",
                         env={"PROPGRADE_LAUNCHER": "0"})
    assert launched.returncode == in_process.returncode == 0, launched.stderr + in_process.stderr
    assert launched.stdout.replace(str(tmp_path / "a"), "OUT").splitlines()[-1] == in_process.stdout.replace(str(tmp_path / "b"), "OUT").splitlines()[-1]

    def verdicts(folder: Path) -> dict:
        (record,) = [json.loads(p.read_text()) for p in folder.glob("*/results.json")]
        return {t["name"]: (t["score"], t["max_score"]) for t in record["tests"]}

    assert verdicts(tmp_path / "a") == verdicts(tmp_path / "b")
    assert "Traceback" not in launched.stderr


def test_the_controllers_exit_code_is_the_commands(tmp_path):
    (tmp_path / "wrong.py").write_text("import torch\n\n\ndef relu(z):\n    return z\n")
    checked = command("check", str(tmp_path / "wrong.py"), "--no-store")
    assert checked.returncode == 1 and "relu_matches_definition" in checked.stdout
    refused = command("grade", str(tmp_path / "wrong.py"))  # --out is required: argparse exits 2 in the controller
    assert refused.returncode == 2 and "--out" in refused.stderr


def test_ctrl_c_ends_the_controller_its_server_and_its_worker(tmp_path):
    launcher, controller, tree = slow_grade(tmp_path)
    assert controller in tree and len(tree) >= 3
    launcher.send_signal(signal.SIGINT)
    launcher.communicate(timeout=60)
    assert launcher.returncode != 0
    assert wait_gone(tree) == []


def test_a_killed_launcher_takes_its_controller_along(tmp_path):
    """The controller is the fork server's child, not the launcher's: it watches the launcher's pipe."""
    launcher, controller, tree = slow_grade(tmp_path)
    launcher.kill()
    launcher.communicate(timeout=30)
    assert wait_gone(tree) == []


def test_a_killed_controller_is_said_and_costs_exit_code_3(tmp_path):
    launcher, controller, tree = slow_grade(tmp_path)
    os.kill(controller, signal.SIGKILL)
    _, stderr = launcher.communicate(timeout=60)
    assert launcher.returncode == 3 and "ended without finishing" in stderr, (launcher.returncode, stderr[-3000:])
    assert wait_gone(tree) == [], {pid: read_proc(pid, "cmdline") for pid in tree if alive(pid)}


@pytest.mark.parametrize("sandbox", ["1", "0"])
def test_a_workers_env_clearing_daemon_does_not_outlive_a_launched_grade(tmp_path, sandbox):
    """Without the sandbox the daemon's only trace is its parent: the launcher adopts it, the controller kills it."""
    duration = str(1004_000_000 + os.getpid() * 10 + int(sandbox))
    source = (ROOT / "submissions" / "hostile" / "escape_env_daemon.py").read_text().replace('"1002"', f'"{duration}"')
    (tmp_path / "daemon.py").write_text(source)
    done = command("grade", str(tmp_path / "daemon.py"), "--out", str(tmp_path / "out"), "--profile", "ci", "--no-store", env={"PROPGRADE_SANDBOX": sandbox})
    assert done.returncode == 0, done.stderr
    time.sleep(0.5)
    survivors = processes_with(duration)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors == []


def test_nothing_the_launcher_was_given_reaches_a_workers_memory(tmp_path):
    """A worker scans its whole memory for the launcher's environment and for a classmate's path: the controller
    reads both from the launcher's pipe, never through the fork server that every worker is forked from."""
    secret = f"launcher-secret-{secrets.token_hex(8)}"
    classmate = f"classmate-{secrets.token_hex(8)}"
    scanner = (
        "import ctypes, torch\n"
        f"HALVES = [({secret[:8]!r}, {secret[8:]!r}), ({classmate[:5]!r}, {classmate[5:]!r})]  # never joined here\n"
        "def holds(data, head, tail):\n"
        "    at = data.find(head.encode())\n"
        "    while at >= 0:\n"
        "        if data[at + len(head):at + len(head) + len(tail)] == tail.encode():\n"
        "            return True\n"
        "        at = data.find(head.encode(), at + 1)\n"
        "    return False\n"
        "found, scanned = set(), 0\n"
        "with open('/proc/self/maps') as maps:\n"
        "    regions = [line.split() for line in maps]\n"
        "for fields in regions:\n"
        "    if not fields[1].startswith('r') or (len(fields) > 5 and fields[5] in ('[vvar]', '[vsyscall]', '[vvar_vclock]')):\n"
        "        continue\n"
        "    start, end = (int(x, 16) for x in fields[0].split('-'))\n"
        "    data = ctypes.string_at(start, end - start)\n"
        "    scanned += len(data)\n"
        "    found.update(head for head, tail in HALVES if holds(data, head, tail))\n"
        "print('scanned', scanned > 100 << 20, 'found:', sorted(found) or 'nothing')\n\n\n"
        "def relu(z):\n    return torch.relu(z)\n"
    )
    (tmp_path / "scanner.py").write_text(scanner)
    (tmp_path / f"{classmate}.py").write_text(RELU)
    done = command("grade", str(tmp_path / "scanner.py"), str(tmp_path / f"{classmate}.py"), "--out", str(tmp_path / "out"),
                   "-j", "1", "--profile", "ci", "--no-store", env={"PROPGRADE_TEST_SECRET": secret})
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("scanner*/results.json")]
    output = json.dumps(record)
    assert "scanned True found: nothing" in output
    assert secret not in output and classmate not in output


def test_the_launcher_holds_no_torch_while_its_controller_shares_the_servers(tmp_path):
    launcher, controller, tree = slow_grade(tmp_path)
    try:
        assert b"libtorch" not in read_proc(launcher.pid, "maps")
        assert b"libtorch" in read_proc(controller, "maps")
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.communicate(timeout=60)
    assert wait_gone(tree) == []


def test_a_platform_entry_point_runs_launched_with_the_same_result(tmp_path):
    """PrairieLearn's run.sh (and Gradescope's run_autograder, Classroom 50's autograder.py) start their grader
    through ``python -m grader.launcher MODULE``."""
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "relu.py").write_text(RELU)
    results = {}
    for launched in ("1", "0"):
        folder = tmp_path / f"results{launched}"
        folder.mkdir()
        done = subprocess.run([sys.executable, "-I", "-m", "grader.launcher", "grader.outputs.prairielearn", "--submission", str(tmp_path / "student"),
                               "--results", str(folder)], cwd=ROOT, env={**os.environ, "PROPGRADE_LAUNCHER": launched, "PROPGRADE_STORE": "off"},
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0 and "wrote" in done.stdout, done.stderr
        results[launched] = json.loads((folder / "results.json").read_text())
    assert results["1"] == results["0"] and results["1"]["score"] > 0


def test_the_launcher_runs_only_propgrade_entry_points():
    done = subprocess.run([sys.executable, "-m", "grader.launcher", "os"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "usage" in done.stderr


def test_the_launcher_waits_for_what_it_leaves_behind():
    """After the controller's answer the launcher reaps its fork server, the controller (adopted once the server
    has gone) and any orphan, so nothing of the command outlives it; a child that never ends costs at most the wait."""
    probe = (
        "import os, subprocess, sys, time\n"
        "from grader.launcher import _wait_for_the_rest\n"
        "slow = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(0.5)'])\n"
        "started = time.monotonic()\n"
        "_wait_for_the_rest()\n"
        "waited = time.monotonic() - started\n"
        "try:\n"
        "    os.waitpid(-1, os.WNOHANG)\n"
        "    print('children left')\n"
        "except ChildProcessError:\n"
        "    print('none left', waited >= 0.3)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "none left True", done.stderr


def test_ctrl_c_before_the_controller_exists_still_ends_the_run(tmp_path):
    (tmp_path / "slow.py").write_text("import time\nwhile True:\n    time.sleep(0.1)\n")
    launcher = subprocess.Popen([sys.executable, "-m", "grader.cli", "grade", str(tmp_path / "slow.py"), "--out", str(tmp_path / "out"), "--no-store"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)  # the fork server is still importing torch: no controller yet
    launcher.send_signal(signal.SIGINT)
    _, stderr = launcher.communicate(timeout=60)  # not the submission's 120 s cell limit
    assert launcher.returncode != 0, stderr
