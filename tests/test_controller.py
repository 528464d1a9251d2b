"""The controller process itself: how many torch threads it runs, when it starts a pool of controllers."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
from pathlib import Path

import grader.grade
from grader.grade import Options, grade_many
from grader.load import load_all

ROOT = Path(__file__).resolve().parents[1]


def test_the_propgrade_command_runs_one_torch_thread_whatever_the_environment_says():
    """torch reads OMP_NUM_THREADS when first imported, and grader.cli imports it: setting it in main() was too late."""
    probe = "import grader.cli, os, torch; print(torch.get_num_threads(), os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])"
    env = {**os.environ, "OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.split() == ["1", "1", "1"]


def fake_grade(submission, options):
    return f"graded {submission.id} in {os.getpid()}"


def no_pool(*args, **kwargs):
    raise AssertionError("a pool of controllers was started")


def test_one_submission_is_graded_in_this_process_whatever_jobs_says(tmp_path, monkeypatch):
    (tmp_path / "only.py").write_text("x = 1\n")
    monkeypatch.setattr(grader.grade, "grade", fake_grade)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    seen = []
    results = grade_many(load_all([str(tmp_path / "only.py")]), Options(), jobs=4, on_result=seen.append)
    assert results == seen == [f"graded only in {os.getpid()}"]


class CountingServer:
    warms = 0

    def warm_for_class(self):
        CountingServer.warms += 1


def test_a_class_warms_the_fork_server_after_its_first_grade_and_a_lone_grade_never(tmp_path, monkeypatch):
    """The lesson's notebooks plot: a class's fork server imports matplotlib once, after the first worker has
    been forked, so no lone grade (Gradescope, CI, a self-check) waits for it."""
    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / name).write_text("x = 1\n")
    monkeypatch.setattr(grader.grade, "grade", fake_grade)
    monkeypatch.setattr(grader.grade.ForkServer, "shared", classmethod(lambda cls: CountingServer()))
    monkeypatch.setattr(CountingServer, "warms", 0)
    grade_many(load_all([str(tmp_path / "a.py")]), Options(), jobs=1)
    assert CountingServer.warms == 0
    grade_many(load_all([str(tmp_path / n) for n in ("a.py", "b.py", "c.py")]), Options(), jobs=1)
    assert CountingServer.warms == 2  # after the first and the second; the last has nothing after it


def modules_in_workers(tmp_path, server, notebooks: list[bool], names: str) -> list[str]:
    """What a probe module prints in one worker per entry of ``notebooks`` (forked in that order from ``server``)."""
    from grader.workermanage import ForkServer, Limits, Worker

    said = []
    ForkServer._shared, kept = server, ForkServer._shared
    try:
        for index, notebook in enumerate(notebooks):
            (tmp_path / str(index)).mkdir(parents=True)
            worker = Worker(tmp_path / str(index), limits=Limits(), seed=0, device="cpu", notebook=notebook)
            try:
                worker.start()
                probe = f"import sys\nprint('found', [name in sys.modules for name in {names.split()!r}])\n"
                worker.request("run_module", {"source": probe, "filename": "probe.py"}, doing="probe")
            finally:
                said.append(worker.stop().strip())
    finally:
        ForkServer._shared = kept
        server.socket.close()
        server.process.wait(timeout=60)
    return said


def needs_fork_server():
    from grader.workermanage import fork_server_wanted

    if not fork_server_wanted():
        import pytest

        pytest.skip("no fork server on this platform")


def test_a_worker_forked_after_the_class_warm_up_finds_matplotlib_imported(tmp_path):
    from grader.workermanage import ForkServer

    needs_fork_server()
    server = ForkServer()
    server.warm_for_class()
    server.warm_for_class()  # asked once only
    assert modules_in_workers(tmp_path, server, [True], "matplotlib.pyplot") == ["found [True]"]


def test_a_lone_module_never_waits_for_ipython_and_a_notebook_always_finds_it(tmp_path):
    """The server imports IPython (0.25 s) before its first notebook worker, or right after its first module one."""
    from grader.workermanage import ForkServer

    needs_fork_server()
    assert modules_in_workers(tmp_path / "a", ForkServer(), [False, False, True], "IPython") == ["found [False]", "found [True]", "found [True]"]
    assert modules_in_workers(tmp_path / "b", ForkServer(), [True], "IPython") == ["found [True]"]


def test_the_command_exits_quickly_with_its_code_and_all_its_output(tmp_path):
    """``launcher.command`` skips the interpreter's teardown (``os._exit``): what was printed to a pipe must still all
    arrive, exit callbacks still run, and the exit code is main's."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    listed = subprocess.run([sys.executable, "-m", "grader.cli", "list"], env=env, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0 and listed.stdout.rstrip().splitlines()[-1].endswith("points")
    probe = ("import atexit, sys, grader.launcher\n"
             f"atexit.register(lambda: open({str(tmp_path / 'ran')!r}, 'w').close())\n"
             f"sys.argv = ['propgrade', 'report', {str(tmp_path)!r}, '--out', {str(tmp_path / 'out')!r}]\ngrader.launcher.command()\n")
    refused = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "no results.json" in refused.stderr
    assert (tmp_path / "ran").exists()
