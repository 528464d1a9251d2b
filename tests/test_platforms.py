"""Each platform's result file, checked against that platform's own rules.

Classroom 50: ``validate_result`` of its runner (foundation50/classroom50,
``cli/gh-teacher/skeleton/dotgithub/scripts/runner.py`` at commit 0c499034f24703425496698992fedc41fbc1162f),
re-implemented below rule for rule, after the runner's own stamping of ``owner``, ``assignment_type`` and
``datetime`` (``finalize_result``). PrairieLearn: the external-grading results format
(https://prairielearn.readthedocs.io/en/latest/externalGrading/). Gradescope: the bundle builds from an
installed propgrade and does not pin torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.check import Verdict
from grader.cli import main
from grader.messages import say
from grader.outputs import classroom50, prairielearn
from grader.score import SubmissionResult
from platform_rules import classroom50_error, prairielearn_error

ROOT = Path(__file__).resolve().parents[1]
QUICK = Path(__file__).parent / "assignments" / "quick.toml"
CORRECT = ROOT / "submissions" / "correct" / "modern_module.py"
RUNNER_ENV = {  # what Classroom 50's workflow and runner hand the autograder (runner.py: main(), run_entrypoint())
    "CLASSROOM": "ml101", "ASSIGNMENT": "mlp", "SUBMISSION_TAG": "submit/20261201T000000Z-abc1234",
    "OWNER": "alice", "USERNAME": "alice", "ASSIGNMENT_TYPE": "individual",
    "COMMIT_URL": "https://github.com/ml101/ml101-mlp-alice/commit/abc1234",
    "RELEASE_URL": "https://github.com/ml101/ml101-mlp-alice/releases/tag/submit%2F20261201T000000Z-abc1234",
    "REVIEW_URL": "https://github.com/ml101/ml101-mlp-alice/compare/000...abc1234",
}


HOSTILE_TEXT = "a | b\n```\n::error::forged\n<script>x</script>"


def made_up_result() -> SubmissionResult:
    """A result with a failure whose text a student wrote, fractional points, a hidden and a skipped property."""
    verdicts = [
        Verdict("step_of_zero_is_one", "passed", say("passed")),
        Verdict("relu_matches_definition", "error", say("raised", doing="relu(z)", type="ValueError", message=HOSTILE_TEXT), "Draw 1: tensor([```])"),
        Verdict("sigmoid_gradient_is_analytic", "failed", say("no_grad", doing="sigmoid(z)")),
        Verdict("functions_on_cuda_match_cpu", "skipped", say("skipped", reason=say("no_cuda"))),
    ]
    points = {"step_of_zero_is_one": 1.5, "relu_matches_definition": 2.0, "sigmoid_gradient_is_analytic": 2.0, "functions_on_cuda_match_cpu": 1.0}
    visibility = {"step_of_zero_is_one": "visible", "relu_matches_definition": "visible", "sigmoid_gradient_is_analytic": "hidden", "functions_on_cuda_match_cpu": "visible"}
    return SubmissionResult("hw.ipynb", "hw", "notebook", 1.5, 5.5, "graded", 1.0, verdicts, points, visibility=visibility, assignment={"name": "mlp"})


def test_classroom50_result_passes_the_runners_validation_with_whole_points_and_no_hidden_name(tmp_path):
    paths = classroom50.write(made_up_result(), tmp_path, "en", classroom50.identity(RUNNER_ENV))
    data = json.loads(paths["result"].read_text(encoding="utf-8"))
    assert classroom50_error(data, classroom="ml101", assignment="mlp", owner="alice") is None
    assert (data["score"], data["max-score"], data["points_scale"]) == (15, 55, 10)
    names = [t["test-name"] for t in data["tests"]]
    assert len(names) == 3 and names[2].startswith("hidden checks (1)")
    assert not any("sigmoid_gradient" in name or "cuda" in name for name in names)
    assert all("\n" not in name for name in names)


def test_classroom50_release_body_fences_student_text_and_caps_it(tmp_path):
    result = made_up_result()
    result.verdicts[1].counterexample = "x" * 5000
    body = classroom50.write(result, tmp_path, "en", classroom50.identity(RUNNER_ENV))["body"].read_text(encoding="utf-8")
    assert body.startswith("### propgrade: 15/55")
    detail = body.split("**relu_matches_definition**", 1)[1]
    fence = detail.split("\n")[2]
    assert set(fence) == {"`"} and len(fence) > 3  # longer than the student's own ``` run
    inside = detail.split(fence + "\n", 1)[1].split("\n" + fence, 1)[0]
    assert len(inside) <= classroom50.MAX_CAPTURED_CHARS and "::error::forged" in inside
    assert "sigmoid_gradient" not in body


def test_classroom50_outside_the_runner_still_writes_a_v1_shape():
    data = classroom50.result_json(made_up_result(), classroom50.identity({}, assignment="mlp"))
    assert classroom50_error(data, classroom="local", assignment="mlp", owner="student") is None


def test_prairielearn_results_follow_its_format_and_name_no_hidden_property(tmp_path):
    path = prairielearn.write(made_up_result(), tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert prairielearn_error(data) is None
    assert data["gradable"] is True and data["score"] == pytest.approx(1.5 / 5.5, abs=1e-6)
    assert [t["max_points"] for t in data["tests"]] == [1.5, 2.0, 2.0]
    assert "sigmoid_gradient" not in path.read_text(encoding="utf-8")


def test_prairielearn_marks_an_unreadable_submission_not_gradable(tmp_path):
    result = made_up_result()
    result.status, result.problem, result.verdicts = "unreadable", say("load_error", why="not a notebook"), []
    data = prairielearn.results_json(result)
    assert prairielearn_error(data) is None and data["gradable"] is False and data["tests"] == []


@pytest.mark.slow
def test_grade_format_flags_write_each_platforms_file(tmp_path):
    for platform in ("classroom50", "prairielearn"):
        out = tmp_path / platform
        assert main(["grade", str(CORRECT), "--out", str(out), "--assignment", str(QUICK), "--format", platform, "-j", "1", "--device", "cpu"]) == 0
        folder = out / "modern_module"
        if platform == "classroom50":
            data = json.loads((folder / "result.json").read_text(encoding="utf-8"))
            assert classroom50_error(data, classroom="local", assignment="quick", owner=data["owner"]) is None
            assert data["score"] == data["max-score"] > 0 and (folder / "release-body.md").is_file()
        else:
            data = json.loads((folder / "prairielearn" / "results.json").read_text(encoding="utf-8"))
            assert prairielearn_error(data) is None and data["score"] == 1.0
        assert (folder / "results.json").is_file()  # Gradescope's, which reports and regrades read, stays


@pytest.mark.slow
def test_the_classroom50_autograder_template_runs_as_the_runner_runs_it(tmp_path):
    """runner.py's run_entrypoint: ``python autograder.py`` in the student's checkout with its environment;
    then finalize_result: stamp owner, assignment_type and datetime, validate."""
    bundle, checkout = tmp_path / "bundle" / "mlp", tmp_path / "checkout"
    assert main(["classroom50", "--out", str(bundle), "--assignment", str(QUICK)]) == 0
    assert {p.name for p in bundle.iterdir()} == {"autograder.py", "assignment.toml", "propgrade-0.1.0-py3-none-any.whl"}
    checkout.mkdir()
    (checkout / "homework.ipynb").write_text(notebook_of(CORRECT), encoding="utf-8")
    (checkout / "torch.py").write_text("raise SystemExit('the student folder was imported')\n")
    env = {**os.environ, **RUNNER_ENV, "CLASSROOM50_BUNDLE_DIR": str(bundle)}
    done = subprocess.run([sys.executable, str(bundle / "autograder.py")], cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((checkout / "result.json").read_text(encoding="utf-8"))
    data.update(owner="alice", assignment_type="individual", datetime="2026-12-01T00:00:00Z")
    assert classroom50_error(data, classroom="ml101", assignment="mlp", owner="alice") is None
    assert data["score"] == data["max-score"] == 12 and data["submission"] == RUNNER_ENV["SUBMISSION_TAG"]  # 10 visible, 2 not
    assert (checkout / "release-body.md").read_text(encoding="utf-8").startswith("### propgrade: 12/12")


def test_the_example_autograder_is_the_template_propgrade_classroom50_writes():
    assert (ROOT / "examples" / "classroom50" / "autograder.py").read_text(encoding="utf-8") == classroom50.autograder_source()
    chinese = classroom50.autograder_source("作业.ipynb", "zh")
    assert 'NOTEBOOK = "\\u4f5c\\u4e1a.ipynb"' in chinese and 'LANG = "zh"' in chinese
    compile(chinese, "autograder.py", "exec")


def notebook_of(module: Path) -> str:
    import nbformat

    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(module.read_text(encoding="utf-8"))]))


def test_gradescope_setup_asks_for_propgrades_torch_requirement_not_this_machines_version(tmp_path):
    from grader import gradescope

    assert gradescope.torch_requirement() == "torch>=2.1"
    script = gradescope.SETUP_SCRIPT.format(torch=gradescope.torch_requirement(), wheel="propgrade.whl", assignment=gradescope.ASSIGNMENT_NAME)
    assert 'pip install --no-cache-dir "torch>=2.1" --index-url' in script and "torch==" not in script
    assert "propgrade warm --assignment ./assignment.toml" in script and "|| echo" in script  # the store built once at set-up; a failed warm never fails the image


@pytest.mark.slow
def test_gradescope_bundle_builds_from_an_installed_propgrade(tmp_path):
    """Install propgrade's wheel into a folder (no source checkout around it) and build the bundle from there."""
    from grader import gradescope

    (tmp_path / "first").mkdir()
    wheel = gradescope.build_wheel(tmp_path / "first")
    installed = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(installed), str(wheel)], check=True)
    script = (f"import sys; sys.path.insert(0, {str(installed)!r}); import grader.gradescope as g; "
              f"assert g.checkout_root() is None, g.__file__; g.build_bundle(__import__('pathlib').Path({str(tmp_path / 'autograder.zip')!r}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(tmp_path / "autograder.zip") as bundle:
        inner = next(name for name in bundle.namelist() if name.endswith(".whl"))
        setup = bundle.read("setup.sh").decode()
        (tmp_path / inner).write_bytes(bundle.read(inner))
    with zipfile.ZipFile(tmp_path / inner) as rebuilt:
        names = set(rebuilt.namelist())
        metadata = rebuilt.read(next(n for n in names if n.endswith("METADATA"))).decode()
        entry_points = rebuilt.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert {"grader/outputs/classroom50.py", "grader/assignments/lesson.toml", "reference/models.py", "grader/sandbox/__init__.py"} <= names
    assert "Requires-Dist: torch>=2.1" in metadata and "propgrade = grader.launcher:command" in entry_points
    assert '"torch>=2.1"' in setup
