"""The example corpus is enforced: correct work gets full marks, every buggy submission is caught.

* every submission in ``submissions/correct`` gets full marks on the whole
  catalogue (a property that fails correct work is a wrong property);
* every submission in ``submissions/buggy`` fails at least the properties it
  declares on its first line (``# propgrade-expect: ...``); to stay quick it is
  graded with only those properties;
* the declarations parse, name existing properties, and together cover every
  property family and every contract name;
* the corpus is big enough: at least 8 correct and 45 buggy submissions.

The full kill matrix (every submission against every property, undeclared
failures, properties that catch nothing) is ``propgrade selftest``.
Run with ``-n 2``: each submission is one test, graded in its own worker.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader.cli import main
from grader.grade import Options, grade
from grader.load import load_all
from grader.properties import CATALOGUE, TOPICS, contract_names
from grader.selftest import FAILING, DeclarationError, corpus_paths, expected_failures, render, run

try:
    from student_facing import grader_traces
except ImportError:  # run from the repository root
    from tests.student_facing import grader_traces

ROOT = Path(__file__).resolve().parents[1]
CORRECT = corpus_paths("correct")
BUGGY = corpus_paths("buggy")
PROFILE = "ci"


def name(path: Path) -> str:
    return path.name


def graded(path: Path, properties=None):
    (submission,) = load_all([str(path)])
    return grade(submission, Options(profile=PROFILE, device="cpu", properties=properties))


# -- the corpus itself -----------------------------------------------------------------------------


def test_the_corpus_is_big_enough():
    assert len(CORRECT) >= 8, [p.name for p in CORRECT]
    assert len(BUGGY) >= 45, [p.name for p in BUGGY]
    kinds = {p.suffix for p in CORRECT}, {p.suffix for p in BUGGY}
    assert kinds[0] >= {".py", ".ipynb"} and kinds[1] >= {".py", ".ipynb"}


@pytest.mark.parametrize("path", BUGGY, ids=name)
def test_declarations_parse_and_name_existing_properties(path):
    declared = expected_failures(path)
    assert declared, f"{path.name} declares nothing"
    unknown = [pid for pid in declared if pid not in CATALOGUE]
    assert unknown == [], f"{path.name} declares unknown properties {unknown}"


def test_correct_submissions_declare_no_failures():
    assert {p.name: expected_failures(p) for p in CORRECT if expected_failures(p)} == {}


def test_declarations_cover_every_family_and_every_contract_name():
    declared = {pid for path in BUGGY for pid in expected_failures(path)}
    families = {CATALOGUE[pid].topic for pid in declared if pid in CATALOGUE}
    assert set(TOPICS) - families == set()
    needed = {name for pid in declared if pid in CATALOGUE for name in CATALOGUE[pid].needs}
    assert set(contract_names()) - needed == set()


def test_each_buggy_submission_has_its_own_mistake():
    """No two buggy submissions are the same file, and each differs from every correct one."""
    texts = {p.name: p.read_bytes() for p in BUGGY}
    assert len(set(texts.values())) == len(texts)
    assert not set(texts.values()) & {p.read_bytes() for p in CORRECT if p.is_file()}


# -- the declaration reader ------------------------------------------------------------------------


def test_expected_failures_reads_modules_and_notebooks(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("# propgrade-expect: step_of_zero_is_one,  relu_matches_definition\nimport torch\n")
    assert expected_failures(module) == ["step_of_zero_is_one", "relu_matches_definition"]
    long = tmp_path / "long.py"
    long.write_text("# propgrade-expect: AND_truth_table, OR_truth_table\n# propgrade-expect: XOR_truth_table\n# mistake: x\n")
    assert expected_failures(long) == ["AND_truth_table", "OR_truth_table", "XOR_truth_table"]
    plain = tmp_path / "plain.py"
    plain.write_text("import torch\n# propgrade-expect: step_of_zero_is_one\n")
    assert expected_failures(plain) == []
    for make in (nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell):
        notebook = nbformat.v4.new_notebook(cells=[make("# propgrade-expect: AND_truth_table\n# mistake: x"), nbformat.v4.new_code_cell("1")])
        path = tmp_path / "n.ipynb"
        nbformat.write(notebook, str(path))
        assert expected_failures(path) == ["AND_truth_table"]
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "work.py").write_text("# propgrade-expect: OR_truth_table\n")
    assert expected_failures(folder) == ["OR_truth_table"]
    broken = tmp_path / "broken.py"
    broken.write_text("# propgrade-expect: not an id, AND_truth_table\n")
    with pytest.raises(DeclarationError):
        expected_failures(broken)
    (tmp_path / "empty.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert expected_failures(tmp_path / "empty.ipynb") == []


# -- grading the corpus ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path", CORRECT, ids=name)
def test_correct_submission_gets_full_marks(path):
    result = graded(path)
    assert result.status == "graded"
    lost = {v.property: f"{v.kind}: {v.message.render('en')}" for v in result.verdicts if v.kind not in ("passed", "skipped")}
    assert lost == {}
    assert result.score == result.max_score > 0
    assert grader_traces(result) == []


@pytest.mark.slow
@pytest.mark.parametrize("path", BUGGY, ids=name)
def test_buggy_submission_fails_what_it_declares(path):
    declared = expected_failures(path)
    result = graded(path, properties=[CATALOGUE[pid] for pid in declared])
    assert result.status == "graded", f"{path.name} did not get graded: {result.status}"
    kinds = {v.property: v.kind for v in result.verdicts}
    assert {pid: kind for pid, kind in kinds.items() if kind not in FAILING} == {}
    assert grader_traces(result) == [], "a student-facing message shows the grader's own code"


# -- the selftest command --------------------------------------------------------------------------


def _tiny_corpus(root: Path) -> None:
    (root / "correct").mkdir(parents=True)
    (root / "buggy").mkdir()
    (root / "correct" / "good.py").write_text((ROOT / "submissions/correct/modern_module.py").read_text())
    base = (ROOT / "submissions/correct/modern_module.py").read_text()
    strict = base.replace("torch.where(z >= 0, torch.ones_like(z)", "torch.where(z > 0, torch.ones_like(z)")
    (root / "buggy" / "caught.py").write_text("# propgrade-expect: step_of_zero_is_one\n" + strict)
    (root / "buggy" / "not_caught.py").write_text("# propgrade-expect: relu_matches_definition\n" + strict)


def test_selftest_report_counts_catches_and_misses(tmp_path):
    _tiny_corpus(tmp_path)
    ids = ["step_of_zero_is_one", "relu_matches_definition", "AND_truth_table"]
    report = run(Options(profile=PROFILE, device="cpu", properties=[CATALOGUE[i] for i in ids]), jobs=1, root=tmp_path)
    rows = {r.id: r for r in report.rows}
    assert rows["good"].ok and rows["caught"].ok and not rows["not_caught"].ok
    assert rows["not_caught"].missed == ["relu_matches_definition"]
    assert rows["not_caught"].undeclared == ["step_of_zero_is_one"]
    assert report.share_caught == 0.5 and not report.passed
    assert report.silent == ["relu_matches_definition", "AND_truth_table"]
    # one point lost on a declared property (caught), one beyond a declaration (not_caught)
    assert rows["caught"].lost == rows["not_caught"].lost_undeclared == 1 and report.blame_precision == 0.5
    text = render(report)
    assert "caught: 1/2 (50%)" in text and "declared but NOT failed: relu_matches_definition" in text
    assert "blame precision: 50.0% (1 of 2 points" in text and "also: step_of_zero_is_one" in text


def test_a_failure_beyond_the_declaration_fails_the_selftest(tmp_path):
    """Declarations are exact: failing more than declared is blame on a fact the code gets right (or a stale declaration)."""
    _tiny_corpus(tmp_path)
    (tmp_path / "buggy" / "not_caught.py").unlink()
    (tmp_path / "buggy" / "caught.py").write_text((tmp_path / "buggy" / "caught.py").read_text().replace("# propgrade-expect: step_of_zero_is_one\n", "# propgrade-expect: step_matches_definition\n"))
    ids = ["step_of_zero_is_one", "step_matches_definition"]
    report = run(Options(profile=PROFILE, device="cpu", properties=[CATALOGUE[i] for i in ids]), jobs=1, root=tmp_path)
    (row,) = report.of("buggy")
    assert row.undeclared == ["step_of_zero_is_one"] and not row.missed and not row.ok and not report.passed
    assert report.caught == [row] and report.blame_precision == pytest.approx(2 / 3)  # 2 points declared, 1 beyond
    assert "OVER caught" in render(report)


def test_selftest_command_fails_when_correct_work_loses_points(tmp_path, capsys):
    (tmp_path / "correct").mkdir()
    (tmp_path / "buggy").mkdir()
    (tmp_path / "correct" / "defines_nothing.py").write_text("x = 1\n")
    (tmp_path / "buggy" / "bad_declaration.py").write_text("# propgrade-expect: no_such_property\nx = 1\n")
    out = tmp_path / "out"
    status = main(["selftest", "--corpus", str(tmp_path), "--out", str(out), "--device", "cpu"])
    text = capsys.readouterr().out
    assert status == 1
    assert "LOSS defines_nothing" in text and "unknown properties: no_such_property" in text and "result: FAIL" in text
    matrix = (out / "kill_matrix.csv").read_text().splitlines()
    assert matrix[0].startswith("category,submission,ok,score,max_score,") and len(matrix) == 3
    assert json.loads((out / "selftest.json").read_text())["passed"] is False
