"""The grading machine's own memory: its limits are read and warned about, and a run the grader or the
machine failed is "grader_failed", never the student's "crashed" and 0 points."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import grader.grade
from grader import machine
from grader.cli import GRADER_FAILED, main
from grader.grade import Options, grade, lost_result
from grader.load import load_all
from grader.machine import MIB, cgroup_limit, too_small, warn_if_too_small
from grader.properties import CATALOGUE
from grader.workermanage import ForkServer, Limits

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "submissions" / "hostile"
FAST = Limits(call_seconds=10, cell_seconds=30, total_seconds=120)
IDS = ["relu_matches_definition", "step_matches_definition"]


def options() -> Options:
    return Options(profile="ci", properties=[CATALOGUE[i] for i in IDS], limits=FAST)


def fake_hierarchy(tmp_path: Path, monkeypatch, hierarchy: str, files: dict[str, str]) -> None:
    """A cgroup mount under tmp_path with this process in /course/student, each file's text as given."""
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    monkeypatch.setattr(machine, "_mount_points", lambda: {hierarchy: str(tmp_path)})
    monkeypatch.setattr(machine, "_cgroup_paths", lambda: [(hierarchy, "/course/student")])


def test_the_smallest_limit_of_the_cgroup_and_its_ancestors_is_read_in_v2(tmp_path, monkeypatch):
    fake_hierarchy(tmp_path, monkeypatch, "unified", {"course/student/memory.max": "max\n", "course/memory.max": f"{448 * MIB}\n", "memory.max": f"{2048 * MIB}\n"})
    limit = cgroup_limit()
    assert limit.bytes == 448 * MIB and str(tmp_path / "course" / "memory.max") in limit.name.render("en")
    assert too_small() == [limit]


def test_v1_limit_and_no_limit(tmp_path, monkeypatch):
    fake_hierarchy(tmp_path, monkeypatch, "memory", {"course/student/memory.limit_in_bytes": f"{768 * MIB}\n", "course/memory.limit_in_bytes": "9223372036854771712\n"})
    assert cgroup_limit().bytes == 768 * MIB and "memory.limit_in_bytes" in cgroup_limit().name.render("en")
    (tmp_path / "course/student/memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert cgroup_limit() is None


def test_a_small_limit_is_said_before_grading_with_how_to_raise_it(tmp_path, monkeypatch, capsys):
    fake_hierarchy(tmp_path, monkeypatch, "unified", {"course/student/memory.max": f"{256 * MIB}\n"})
    assert warn_if_too_small("en")
    warning = capsys.readouterr().err
    assert "256 MiB" in warning and f"{machine.NEEDED_RESIDENT // MIB} MiB" in warning and "Autograder Settings" in warning
    assert str(tmp_path / "course" / "student" / "memory.max") in warning


def test_a_lost_controller_is_the_graders_failure(tmp_path):
    (tmp_path / "anna.py").write_text("x = 1\n")
    (submission,) = load_all([str(tmp_path / "anna.py")])
    result = lost_result(submission, options(), "BrokenProcessPool: a child process terminated abruptly")
    assert result.status == "grader_failed" and result.score == result.max_score == 0
    assert {v.kind for v in result.verdicts} == {"skipped"} and result.key == {}
    assert "not the submission's fault" in result.problem.render("en") and "BrokenProcessPool" in result.problem.render("en")
    assert "Autograder Settings" in lost_result(submission, options(), "", out_of_memory=True).problem.render("en")


def test_a_fork_server_killed_while_grading_is_the_graders_failure(tmp_path, monkeypatch):
    """As when the OOM killer takes the fork server: today's path reported it as the student's crash."""
    original = ForkServer.fork

    def killed_first(self, *args, **kwargs):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ForkServer, "fork", killed_first)
    monkeypatch.setenv("PROPGRADE_FORKSERVER", "1")
    (tmp_path / "anna.py").write_text("import torch\n\ndef relu(z):\n    return torch.relu(z)\n")
    (submission,) = load_all([str(tmp_path / "anna.py")])
    result = grade(submission, options())
    assert result.status == "grader_failed", result.problem
    assert result.score == result.max_score == 0 and {v.kind for v in result.verdicts} == {"skipped"}
    assert "fork server" in result.problem.render("en")


@pytest.fixture
def sigkilled(monkeypatch):
    """The hostile file graded without the sandbox: there the worker is no namespace's init and can SIGKILL itself."""
    monkeypatch.setenv("PROPGRADE_SANDBOX", "0")
    (submission,) = load_all([str(HOSTILE / "sigkills_itself_in_relu.py")])
    return submission


def test_a_worker_sigkilled_by_its_own_code_is_the_students_crash(sigkilled, monkeypatch):
    monkeypatch.setattr(grader.grade, "oom_kills", lambda: 7)
    result = grade(sigkilled, options())
    verdicts = {v.property: v for v in result.verdicts}
    assert result.status == "graded"
    assert verdicts["relu_matches_definition"].kind == "crashed" and "SIGKILL" in verdicts["relu_matches_definition"].message.render("en")
    assert verdicts["step_matches_definition"].kind == "passed"


def test_a_worker_sigkilled_while_the_oom_killer_acted_is_not_charged(sigkilled, monkeypatch):
    counts = iter(range(100))
    monkeypatch.setattr(grader.grade, "oom_kills", lambda: next(counts))  # the kernel killed something meanwhile
    result = grade(sigkilled, options())
    assert result.status == "grader_failed" and result.score == result.max_score == 0
    assert {v.kind for v in result.verdicts} == {"skipped"}
    assert "ran out of memory" in result.problem.render("en") and "Autograder Settings" in result.problem.render("en")


def test_propgrade_grade_exits_3_when_the_grader_failed(tmp_path, monkeypatch, capsys):
    (tmp_path / "anna.py").write_text("x = 1\n")
    monkeypatch.setattr(grader.grade, "_grade", lambda *args: (_ for _ in ()).throw(OSError("the fork server has gone")))
    assert main(["grade", str(tmp_path / "anna.py"), "--out", str(tmp_path / "out"), "--profile", "ci", "-j", "1"]) == GRADER_FAILED
    assert "not graded because the grader failed" in capsys.readouterr().err
    assert '"status": "grader_failed"' in (tmp_path / "out" / "anna" / "results.json").read_text()


def test_the_gradescope_run_warns_too(tmp_path, monkeypatch, capsys):
    import grader.gradescope

    fake_hierarchy(tmp_path, monkeypatch, "unified", {"course/student/memory.max": f"{448 * MIB}\n"})
    monkeypatch.setattr(grader.gradescope, "autograde", lambda *args: None)
    assert grader.gradescope.main(["--submission", str(tmp_path), "--results", str(tmp_path), "--assignment", str(tmp_path / "a.toml")]) == 0
    assert "448 MiB" in capsys.readouterr().err  # a container set below what propgrade needs


def test_gradescopes_default_container_is_enough():
    """768 MB, Gradescope's default: no warning (the real thing, under a cgroup, is tested below)."""
    assert machine.NEEDED_RESIDENT <= 768 * MIB


def real_memory_cgroup(limit: int) -> Path:
    """A child of this process's memory cgroup (v1 or v2) limited to ``limit`` bytes; the test is skipped where
    this machine lets us make none."""
    made = machine.child_memory_cgroup(f"propgrade-test-{os.getpid()}", limit)
    if made is None:
        pytest.skip("no writable memory cgroup here (needs root or a delegated cgroup)")
    return Path(made[0])


def test_a_process_in_a_small_memory_cgroup_is_warned(tmp_path):
    """The real thing, where the machine lets us make a memory cgroup (root): a process started in one reads its limit."""
    folder = real_memory_cgroup(384 * MIB)
    try:
        probe = "from grader.machine import warn_if_too_small; print([limit.bytes for limit in warn_if_too_small()])"
        run = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT,
            preexec_fn=lambda: (folder / "cgroup.procs").write_text(str(os.getpid())),
        )
        assert run.returncode == 0, run.stderr
        assert f"[{384 * MIB}]" in run.stdout and "384 MiB" in run.stderr and "Autograder Settings" in run.stderr
    finally:
        folder.rmdir()


def _limit_file(folder: Path) -> str:
    return machine.LIMIT_FILES["memory"] if (folder / machine.LIMIT_FILES["memory"]).exists() else machine.LIMIT_FILES["unified"]


def _remove_tree(folder: Path) -> None:
    for child in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        child.rmdir()
    folder.rmdir()


def _allocate_in(folder: Path, mib: int) -> int:
    """Run a process in ``folder``'s cgroup that touches ``mib`` MiB; its exit code (-9 when the OOM killer took it)."""
    touch = f"b = bytearray({mib} << 20)\nb[::4096] = b'x' * len(b[::4096])"
    return subprocess.run([sys.executable, "-c", touch], preexec_fn=lambda: (folder / "cgroup.procs").write_text(str(os.getpid())), timeout=120).returncode


def test_a_worker_killed_for_a_limit_above_its_own_cap_did_not_exceed_its_cap():
    """The machine's limit (a container's) smaller than the worker's cap: the kernel counts the kill in the
    victim's own cgroup too, but that is the machine running out, never "memory cap exceeded" for the student."""
    from grader.sandbox.cgroups import Cgroups

    machine_limit = real_memory_cgroup(128 * MIB)
    try:
        hierarchy = "memory" if _limit_file(machine_limit) == "memory.limit_in_bytes" else "unified"
        if hierarchy == "unified":
            (machine_limit / "cgroup.subtree_control").write_text("+memory")
        roomy, tight = machine_limit / "roomy", machine_limit / "tight"
        for folder, cap in ((roomy, 1 << 30), (tight, 64 * MIB)):
            folder.mkdir()
            (folder / _limit_file(folder)).write_text(str(cap))
        assert _allocate_in(roomy, 256) == -signal.SIGKILL
        assert not Cgroups(dirs={hierarchy: str(roomy)}).out_of_memory()
        assert _allocate_in(tight, 256) == -signal.SIGKILL
        assert Cgroups(dirs={hierarchy: str(tight)}).out_of_memory()
    finally:
        _remove_tree(machine_limit)


def _grade_in_cgroup(folder: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    run = subprocess.run(
        [sys.executable, "-m", "grader.cli", "grade", *args, "--out", str(tmp_path / "out"), "-j", "1"],
        capture_output=True, text=True, timeout=900, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
        preexec_fn=lambda: (folder / "cgroup.procs").write_text(str(os.getpid())),
    )
    found = list((tmp_path / "out").glob("*/results.json"))
    return run, (json.loads(found[0].read_text()) if found else {})


@pytest.mark.slow
def test_a_grade_in_a_memory_cgroup_too_small_for_propgrade_is_not_gradable_and_says_why(tmp_path):
    """The whole tree (controller, fork server, worker) in a real 300 MiB cgroup: the kernel ends a process of
    the fork server's (they go first, ``machine.oom_first``), the controller survives to say so, and nothing is
    charged to the student."""
    folder = real_memory_cgroup(300 * MIB)
    try:
        run, result = _grade_in_cgroup(folder, tmp_path, str(ROOT / "submissions" / "correct" / "modern_module.py"),
                                       "--assignment", str(ROOT / "tests" / "assignments" / "quick.toml"), "--profile", "ci")
    finally:
        _remove_tree(folder)
    assert run.returncode == GRADER_FAILED, (run.returncode, run.stderr[-2000:])
    assert "300 MiB" in run.stderr and "Autograder Settings" in run.stderr  # warned before grading
    assert result["extra_data"]["propgrade"]["status"] == "grader_failed" and result["score"] == result["max_score"] == 0
    assert "ran out of memory" in result["output"] and "300 MiB" in result["output"] and "Autograder Settings" in result["output"]
    assert {t["extra_data"]["verdict"] for t in result["tests"]} == {"skipped"}


@pytest.mark.slow
def test_the_lesson_notebook_is_graded_in_full_within_gradescopes_768_mb(tmp_path):
    """Gradescope's default container: controller, fork server, worker and clean reader together within
    768 MiB, the lesson's notebook (training, plots, saved parameters) getting full marks, nothing crashed."""
    folder = real_memory_cgroup(768 * MIB)
    try:
        run, result = _grade_in_cgroup(folder, tmp_path, str(ROOT / "submissions" / "correct" / "lesson_style.ipynb"), "--profile", "ci")
    finally:
        _remove_tree(folder)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    assert result["extra_data"]["propgrade"]["status"] == "graded"
    assert result["score"] == result["max_score"] > 0, [t["output"] for t in result["tests"] if t["score"] < t["max_score"]]


def test_no_process_is_left_when_the_command_has_ended(tmp_path):
    """The launcher waits for its controller, its fork server and what they left (``launcher._wait_for_the_rest``):
    a harness that removes the job's cgroup or container as soon as the command ends finds it empty."""
    folder = real_memory_cgroup(2048 * MIB)
    try:
        run, result = _grade_in_cgroup(folder, tmp_path, str(ROOT / "submissions" / "correct" / "modern_module.py"),
                                       "--assignment", str(ROOT / "tests" / "assignments" / "quick.toml"), "--profile", "ci")
        left = (folder / "cgroup.procs").read_text().split()
    finally:
        _remove_tree(folder)
    assert run.returncode == 0, run.stderr[-2000:]
    assert result["extra_data"]["propgrade"]["status"] == "graded"
    assert left == []
