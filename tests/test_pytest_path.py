"""The pytest path: ``propgrade pytest`` started inside a student's folder reads nothing from it, and the
plain plugin refuses to grade where pytest took something from the student's folder.

Each ``submissions/hostile/pytest_*`` folder is a student's repository: a homework whose step(0) is 0 (so
``step_of_zero_is_one`` fails) beside files that try to turn that failure into exit status 0. Each run
starts in a copy of the folder, as CI does on a student's repository, and checks that one property.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli import main

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "submissions" / "hostile"
PROPGRADE = Path(sys.executable).with_name("propgrade")
ONE_FAILING_PROPERTY = ["-q", "-k", "step_of_zero_is_one"]
REFUSED = int(pytest.ExitCode.USAGE_ERROR)
INI_FILES = ["pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"]


def student_repository(tmp_path: Path, name: str) -> Path:
    repo = tmp_path / name
    shutil.copytree(HOSTILE / name, repo)
    return repo


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without pytest's own variables (an xdist worker's, a developer's PYTEST_ADDOPTS)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_") and name != "PYTHONPATH"}
    return {**env, "OMP_NUM_THREADS": "1", "PROPGRADE_FORKSERVER": "0", **extra}


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def plain_pytest(cwd: Path, submission: str = "homework.py", *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--propgrade-submission", submission, *ONE_FAILING_PROPERTY, *extra]
    return run(command, cwd, env or environment())


@pytest.mark.slow
@pytest.mark.parametrize(
    "folder",
    ["pytest_conftest_passes_failures", "pytest_conftest_exits_zero", "pytest_ini_collect_only", "pytest_hypothesis_shadow", "pytest_pytest_shadow", "pytest_sitecustomize"],
)
def test_propgrade_pytest_started_in_the_students_folder_checks_the_property(tmp_path, folder):
    repo = student_repository(tmp_path, folder)
    # what a CI job could have set: pytest options and plugins from the environment, the student's folder on PYTHONPATH
    # (only where the attack needs it: with it, every Python process imports the folder's modules, propgrade's own included)
    env = environment(PYTEST_ADDOPTS="--collect-only", PYTEST_PLUGINS="conftest")
    if folder == "pytest_sitecustomize":
        env["PYTHONPATH"] = "."
    done = run([str(PROPGRADE), "pytest", "homework.py", *ONE_FAILING_PROPERTY], repo, env)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "1 failed" in done.stdout and "step(0) is 1" in done.stdout, output[-3000:]
    assert "99 passed in 1.00s" not in done.stdout  # the student's pytest.py never ran


@pytest.mark.parametrize("ini", INI_FILES)
def test_plain_plugin_refuses_an_ini_file_of_the_students(tmp_path, ini):
    repo = student_repository(tmp_path, "pytest_ini_collect_only")
    for other in INI_FILES:
        if other != ini:
            (repo / other).unlink()
    done = plain_pytest(repo)
    assert done.returncode == REFUSED, (done.stdout + done.stderr)[-3000:]
    assert "propgrade: refusing" in done.stderr and "--collect-only" in done.stderr


@pytest.mark.parametrize("folder, named", [("pytest_conftest_passes_failures", "conftest.py"), ("pytest_hypothesis_shadow", "rootdir")])
def test_plain_plugin_refuses_to_grade_in_the_students_folder(tmp_path, folder, named):
    repo = student_repository(tmp_path, folder)
    done = plain_pytest(repo)
    assert done.returncode == REFUSED, (done.stdout + done.stderr)[-3000:]
    assert "propgrade: refusing to grade homework.py" in done.stderr and named in done.stderr
    assert "propgrade pytest homework.py" in done.stderr  # says what to run instead


def test_plain_plugin_refuses_to_grade_started_above_the_students_folder(tmp_path):
    """A class folder or a repository holding the homework in a sub-folder: pytest's discovery reads there too."""
    student_repository(tmp_path, "pytest_conftest_passes_failures")
    done = plain_pytest(tmp_path, "pytest_conftest_passes_failures/homework.py")
    assert done.returncode == REFUSED and "propgrade: refusing to grade" in done.stderr, (done.stdout + done.stderr)[-3000:]


@pytest.mark.slow
def test_no_file_is_collected_and_options_that_end_without_checking_are_refused(tmp_path):
    """pytest collects none of the paths it is given (a student's test module is never imported), and
    --collect-only from PYTEST_ADDOPTS is refused by the plain plugin started outside the student's folder."""
    student, neutral = tmp_path / "student", tmp_path / "neutral"
    (student / "tests").mkdir(parents=True)
    neutral.mkdir()
    (student / "homework.py").write_text("def step(z)\n    return z\n")  # a syntax error: every property fails, no worker needed
    marker = tmp_path / "imported"
    (student / "tests" / "test_student.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    done = run([str(PROPGRADE), "pytest", "homework.py", "tests", *ONE_FAILING_PROPERTY], student, environment())
    assert done.returncode == 1 and "1 failed" in done.stdout, (done.stdout + done.stderr)[-3000:]
    assert not marker.exists()
    done = plain_pytest(neutral, str(student / "homework.py"), env=environment(PYTEST_ADDOPTS="--collect-only"))
    assert done.returncode == REFUSED and "refusing --collect-only" in done.stderr, (done.stdout + done.stderr)[-3000:]


def test_propgrade_pytest_needs_an_existing_submission(tmp_path, capsys):
    assert main(["pytest", str(tmp_path / "missing.ipynb"), "-q"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_propgrade_pytest_keeps_and_replays_what_it_learned_in_the_store(tmp_path):
    """As ``propgrade grade`` does: the first run writes the store, the next replays from it with the same
    outcome, and ``--propgrade-no-store`` neither reads nor writes one."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "submissions" / "correct" / "modern_module.py", work / "homework.py")
    store = tmp_path / "store"
    env = environment(PROPGRADE_STORE=str(store))
    chosen = ["-q", "-k", "relu_matches_definition or step_of_zero_is_one"]
    alone = run([str(PROPGRADE), "pytest", "homework.py", *chosen, "--propgrade-no-store"], work, env)
    assert alone.returncode == 0 and "2 passed" in alone.stdout and not store.exists(), alone.stdout + alone.stderr
    first = run([str(PROPGRADE), "pytest", "homework.py", *chosen], work, env)
    assert first.returncode == 0 and "2 passed" in first.stdout, first.stdout + first.stderr
    (written,) = store.glob("*.store")
    learned = written.stat().st_size
    again = run([str(PROPGRADE), "pytest", "homework.py", *chosen], work, env)
    assert again.returncode == 0 and "2 passed" in again.stdout, again.stdout + again.stderr
    assert [p.stat().st_size for p in store.glob("*.store")] == [learned]  # nothing new to learn: replayed
    written.write_bytes(written.read_bytes()[:-1] + b"!")  # read, it is refused and said so; the run goes on
    spoiled = run([str(PROPGRADE), "pytest", "homework.py", *chosen], work, env)
    assert spoiled.returncode == 0 and "2 passed" in spoiled.stdout and "was not used" in spoiled.stdout, spoiled.stdout + spoiled.stderr
