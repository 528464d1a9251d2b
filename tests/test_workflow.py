"""examples/github-actions.yml: its propgrade steps, run as GitHub Actions would, on a correct and a buggy notebook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "github-actions.yml"
QUICK = Path(__file__).parent / "assignments" / "quick.toml"
PROPGRADE_COMMAND = re.compile(r"^\s*propgrade\s", re.MULTILINE)
EARLIER_SUMMARY = "## an earlier step\n"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps() -> list[dict]:
    return workflow()["jobs"]["grade"]["steps"]


def propgrade_steps() -> list[str]:
    return [step["run"] for step in steps() if PROPGRADE_COMMAND.search(step.get("run", ""))]


def run_in_repository(tmp_path: Path, notebook: Path) -> tuple[int, Path, Path]:
    """Lay out a student's repository and run the workflow's propgrade steps there, as `shell: bash` does."""
    repo = tmp_path / "repo"
    repo.mkdir()
    env_vars = {key: str(value) for key, value in workflow()["env"].items()}
    shutil.copy(notebook, repo / env_vars["NOTEBOOK"])
    shutil.copy(QUICK, repo / "assignment.toml")  # a short rubric keeps the test quick
    summary = tmp_path / "step_summary.md"
    summary.write_text(EARLIER_SUMMARY, encoding="utf-8")
    env = {
        **os.environ,
        **env_vars,
        "ASSIGNMENT": "assignment.toml",
        "FAIL_UNDER": "95",  # the buggy notebook loses a few of the rubric's 12 points
        "GITHUB_STEP_SUMMARY": str(summary),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    code = 0
    for number, script in enumerate(propgrade_steps()):
        path = tmp_path / f"step{number}.sh"
        path.write_text(script, encoding="utf-8")
        code = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)], cwd=repo, env=env, timeout=600).returncode
        if code:
            break
    return code, repo, summary


def test_workflow_installs_cpu_torch_before_propgrade_and_keeps_the_results():
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads the key `on` as true
    assert "push" in triggers
    assert data["defaults"]["run"]["shell"] == "bash"
    uses = [step.get("uses", "") for step in steps()]
    assert any(u.startswith("actions/checkout@") for u in uses) and any(u.startswith("actions/setup-python@") for u in uses)
    install = next(step["run"] for step in steps() if "pip install" in step.get("run", ""))
    assert install.index("--index-url https://download.pytorch.org/whl/cpu") < install.index('"$PROPGRADE_SPEC"')
    upload = next(step for step in steps() if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "results/"
    cache = next(step for step in steps() if step.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == "~/.cache/propgrade" and "${{ env.PROPGRADE_SPEC }}" in cache["with"]["key"]
    warm = next(step["run"] for step in steps() if "propgrade warm" in step.get("run", ""))
    assert steps().index(cache) < [s.get("run") for s in steps()].index(warm) < [s.get("run") for s in steps()].index(propgrade_steps()[0])
    assert warm.rstrip().endswith('|| echo "propgrade warm failed: grading works, only slower"')  # a failed warm never fails the job
    (grade,) = propgrade_steps()
    assert '--fail-under "$FAIL_UNDER"' in grade and '--out results' in grade and "$GITHUB_STEP_SUMMARY" in grade


def test_workflow_runs_nothing_from_the_students_repository():
    """The job runs in the student's repository: no pytest discovery there, no module of theirs in place of pip, no token left behind."""
    scripts = [step.get("run", "") for step in steps()]
    for words in (line.split() for script in scripts for line in script.splitlines()):
        assert all(words[:i][-1:] == ["propgrade"] for i, word in enumerate(words) if word == "pytest"), words  # only `propgrade pytest`
    assert all("python -I -m pip" in line for script in scripts for line in script.splitlines() if "pip install" in line)
    assert "PYTHONPATH" not in WORKFLOW.read_text(encoding="utf-8").split("\nname:", 1)[1]
    checkout = next(step for step in steps() if step.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False


@pytest.mark.slow
@pytest.mark.parametrize(
    "notebook, passes",
    [("correct/with_broken_cell.ipynb", True), ("buggy/nb_relu_numpy.ipynb", False)],
)
def test_workflow_grades_and_appends_the_summary(tmp_path, notebook, passes):
    code, repo, summary = run_in_repository(tmp_path, ROOT / "submissions" / notebook)
    assert (code == 0) is passes
    assert (repo / "results").is_dir()
    text = summary.read_text(encoding="utf-8")
    assert text.startswith(EARLIER_SUMMARY)
    if not (repo / "results" / "summary.md").exists():
        pytest.skip("propgrade grade writes no results/summary.md yet: nothing to append")
    assert text == EARLIER_SUMMARY + (repo / "results" / "summary.md").read_text(encoding="utf-8")
