"""Hidden properties' inputs never reach what a student sees (issue 11, class 8).

``submissions/hostile/echoes_hidden_inputs.py`` records what ``sigmoid`` is asked (only the hidden
``sigmoid_is_symmetric`` of tests/assignments/quick.toml asks it) and echoes the record into the
errors and printed output of every later call. Grading checks each visibility's properties in
workers of their own, visible first, so nothing of the record can surface in a visible result.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import grader.grade
from grader.assignment import load_assignment
from grader.grade import Options, by_visibility, grade
from grader.load import load_all
from grader.results import gradescope
from grader.workermanage import Limits

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "submissions" / "hostile" / "echoes_hidden_inputs.py"
QUICK = ROOT / "tests" / "assignments" / "quick.toml"
MARKER = "SIGMOID-SAW"
LIMITS = Limits(call_seconds=5, cell_seconds=20, total_seconds=120, memory_bytes=2 << 30)


def options() -> Options:
    return Options(profile="ci", assignment=load_assignment(QUICK), limits=LIMITS)


def student_visible(result) -> list[str]:
    """Every text of a result a student sees before any later release: the overall output, the
    visible tests' outputs, the cell messages, and the worker output kept in results.json."""
    written = gradescope(result)
    texts = [written["output"], result.output, written["extra_data"]["propgrade"]["output"]]
    texts += [test["output"] for test in written["tests"] if test["visibility"] == "visible"]
    texts += [c.message.render("en") for c in result.cells if c.message]
    return texts


def graded(monkeypatch=None, one_group: bool = False):
    if one_group:  # as before the fix: one worker serves every property in catalogue order
        monkeypatch.setattr(grader.grade, "by_visibility", lambda properties, options: [("visible", list(properties))])
    (submission,) = load_all([str(HOSTILE)])
    return grade(submission, options())


def test_visible_properties_come_first_and_hidden_ones_last():
    properties = options().checked_properties()
    groups = by_visibility(properties, options())
    assert [name for name, _ in groups] == ["visible", "later"]
    assert [p.id for p in groups[1][1]] == ["relu_is_monotone", "sigmoid_is_symmetric"]  # after_due_date, then hidden
    assert sorted(p.id for _, group in groups for p in group) == sorted(p.id for p in properties)


def test_hidden_inputs_do_not_reach_visible_feedback():
    result = graded()
    assert result.status == "graded"
    leaks = [text for text in student_visible(result) if MARKER in text]
    assert leaks == []
    assert {v.property: v.kind for v in result.verdicts} == {p.id: "passed" for p in options().checked_properties()}
    assert [v.property for v in result.verdicts] == [p.id for p in options().checked_properties()]  # catalogue order
    assert result.score == result.max_score
    assert json.dumps(gradescope(result)["tests"])  # writable as ever


def test_the_attack_leaks_when_one_worker_serves_every_property(monkeypatch):
    """The control: the same grading with every property taken as visible (so nothing is frozen before
    the hidden one) shows the record in visible results, so the test above would catch the leak."""
    result = graded(monkeypatch, one_group=True)
    leaks = [text for text in student_visible(result) if MARKER in text]
    assert leaks, "the hostile submission should echo what sigmoid saw"
    assert {v.property: v.kind for v in result.verdicts}["AND_truth_table"] == "error"


@pytest.mark.parametrize("visibility", ["visible", "hidden"])
def test_hidden_properties_cost_no_second_run_of_the_submission(monkeypatch, visibility):
    """One worker serves every property (the output is frozen before the first hidden request instead)."""
    started = []
    real = grader.grade.Session._start

    def counting(self):
        started.append(self)
        return real(self)

    monkeypatch.setattr(grader.grade.Session, "_start", counting)
    chosen = options()
    ids = ["step_of_zero_is_one", "relu_matches_definition"] if visibility == "visible" else ["step_of_zero_is_one", "sigmoid_is_symmetric"]
    chosen.properties = [p for p in chosen.assignment.properties() if p.id in ids]
    (submission,) = load_all([str(HOSTILE)])
    result = grade(submission, chosen)
    assert len(started) == 1
    assert all(v.kind == "passed" for v in result.verdicts), [(v.property, v.message.render("en")) for v in result.verdicts]


PRINTS = """
import torch

def step(z):
    print("STEP-PRINTED", flush=True)
    return (z >= 0).to(z.dtype)

def relu(z):
    print("RELU-PRINTED")
    return torch.clamp(z, min=0)

def sigmoid(z):
    print("SIGMOID-PRINTED")
    return torch.sigmoid(z)
"""


@pytest.mark.parametrize("lost", [False, True], ids=["worker_alive", "worker_lost_at_the_boundary"])
def test_the_output_keeps_everything_printed_for_visible_properties_and_nothing_later(tmp_path, lost):
    """The cut is where the visible properties end: their prints are all kept (even unflushed ones), and
    nothing printed for a hidden property, even after a worker lost on the last visible one, is."""
    source = PRINTS
    if lost:  # the last visible property's worker dies on its first call; the hidden property gets a fresh worker
        source = source.replace('    print("STEP-PRINTED", flush=True)\n', '    print("STEP-PRINTED", flush=True)\n    CALLS.append(1)\n    if len(CALLS) == 1:\n        import os\n        os._exit(1)\n')
        source += "\nCALLS = []\n"
    (tmp_path / "prints.py").write_text(source)
    chosen = options()
    chosen.properties = [p for p in chosen.assignment.properties() if p.id in ("step_of_zero_is_one", "relu_matches_definition", "sigmoid_is_symmetric")]
    (submission,) = load_all([str(tmp_path / "prints.py")])
    result = grade(submission, chosen)
    expected = {p.id: "passed" for p in chosen.properties} | ({"step_of_zero_is_one": "crashed"} if lost else {})
    assert {v.property: v.kind for v in result.verdicts} == expected
    assert "STEP-PRINTED" in result.output and "RELU-PRINTED" in result.output
    assert "SIGMOID-PRINTED" not in result.output and "propgrade:" not in result.output
