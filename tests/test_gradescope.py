"""The Gradescope bundle: built, unpacked into Gradescope's folder structure, run, results.json checked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader.assignment import load_assignment
from grader.cli import main
from grader.properties import CATALOGUE

ROOT = Path(__file__).resolve().parents[1]
QUICK = Path(__file__).parent / "assignments" / "quick.toml"
NOT_VISIBLE = ("sigmoid_is_symmetric", "relu_is_monotone")  # hidden and after_due_date in quick.toml

pytestmark = pytest.mark.slow

VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
NUMBER = {"type": "number"}
# Gradescope's autograder specification (gradescope-autograders.readthedocs.io/en/latest/specs/), as a JSON schema.
RESULTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": NUMBER,
        "max_score": NUMBER,  # not in the specification: propgrade's own, which Gradescope ignores
        "execution_time": NUMBER,
        "output": {"type": "string"},
        "output_format": FORMAT,
        "test_output_format": FORMAT,
        "test_name_format": FORMAT,
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "leaderboard": {"type": "array"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["score", "max_score", "name", "output", "visibility"],
                "properties": {
                    "score": NUMBER,
                    "max_score": NUMBER,
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "name_format": FORMAT,
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": FORMAT,
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": VISIBILITY,
                    "extra_data": {"type": "object"},
                },
            },
        },
    },
    "required": ["score", "tests"],
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    assert main(["gradescope", "--out", str(out), "--assignment", str(QUICK)]) == 0
    return out


def autograder_folder(bundle: Path, tmp_path: Path, submission: Path) -> Path:
    """/autograder as Gradescope lays it out: source/ (the zip), run_autograder, submission/, results/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    shutil.copy(submission, root / "submission" / submission.name)
    (root / "results").mkdir()
    return root


def run_autograder(root: Path) -> dict:
    env = {**os.environ, "PROPGRADE_AUTOGRADER_ROOT": str(root), "PROPGRADE_PYTHON": sys.executable}
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, RESULTS_SCHEMA)
    return data


def test_bundle_holds_the_scripts_the_assignment_and_a_wheel_with_the_default_rubric(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        assert archive.read("assignment.toml") == QUICK.read_bytes()
        (wheel,) = [n for n in names if n.startswith("propgrade-") and n.endswith(".whl")]
        wheel_path = bundle.parent / wheel
        wheel_path.write_bytes(archive.read(wheel))
    assert set(names) == {"setup.sh", "run_autograder", "assignment.toml", wheel}
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert "--index-url https://download.pytorch.org/whl/cpu" in setup and '"torch>=2.1"' in setup and "torch==" not in setup  # propgrade's requirement, not this machine's torch
    assert setup.index("\"torch>=2.1\"") < setup.index(f"./{wheel}")
    with zipfile.ZipFile(wheel_path) as built:
        assert "grader/assignments/lesson.toml" in built.namelist()


def test_setup_script_is_valid_bash_and_can_skip_its_installs(bundle, tmp_path):
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path)
    setup = tmp_path / "setup.sh"
    assert subprocess.run(["bash", "-n", str(setup)], capture_output=True).returncode == 0
    assert subprocess.run(["bash", "-n", str(tmp_path / "run_autograder")], capture_output=True).returncode == 0
    done = subprocess.run(["bash", str(setup)], env={**os.environ, "PROPGRADE_SKIP_INSTALL": "1"}, capture_output=True, text=True)
    assert done.returncode == 0 and "nothing installed" in done.stdout


def test_run_autograder_grades_a_correct_module(bundle, tmp_path):
    data = run_autograder(autograder_folder(bundle, tmp_path, ROOT / "submissions" / "correct" / "modern_module.py"))
    assert (data["score"], data["max_score"]) == (12, 12)
    visibility = {t["extra_data"]["property"]: t["visibility"] for t in data["tests"]}
    assert visibility == {p.id: load_assignment(QUICK).visibility(p.id) for p in load_assignment(QUICK).properties()}
    assert data["extra_data"]["propgrade"]["assignment"]["fingerprint"] == load_assignment(QUICK).fingerprint()


def test_run_autograder_grades_a_buggy_notebook_and_names_no_hidden_property_in_its_output(bundle, tmp_path):
    data = run_autograder(autograder_folder(bundle, tmp_path, ROOT / "submissions" / "buggy" / "nb_relu_numpy.ipynb"))
    failed = {t["extra_data"]["property"] for t in data["tests"] if t.get("status") == "failed"}
    assert "relu_matches_definition" in failed
    assert data["score"] < data["max_score"] == 12
    for pid in NOT_VISIBLE:
        assert pid not in data["output"] and CATALOGUE[pid].statement not in data["output"]


def test_an_unusable_submission_folder_still_gets_a_results_file(bundle, tmp_path):
    root = autograder_folder(bundle, tmp_path, ROOT / "submissions" / "correct" / "modern_module.py")
    shutil.copy(ROOT / "submissions" / "correct" / "stable_math_module.py", root / "submission")
    data = run_autograder(root)
    assert data["score"] == 0 and "exactly one" in data["output"]
