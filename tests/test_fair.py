"""Lesson-style work loses only generality: ``submissions/fair/`` holds the lesson's gates, activations,
models and training loop written as the lesson texts write them (float32 weights built inside the gate,
``torch.mv``, a list threshold, an XOR of four rows, ``loss.data[0]`` in the training print). Each is
right in the lesson's terms, so it must earn every property whose fact it gets right: graded on the whole
catalogue, it fails exactly the generality properties it declares (``# propgrade-expect:``)."""

from __future__ import annotations

import pytest

from grader.grade import Options, grade
from grader.load import load_all
from grader.selftest import FAILING, corpus_paths, expected_failures, is_generality

try:
    from student_facing import grader_traces
except ImportError:  # run from the repository root
    from tests.student_facing import grader_traces

FAIR = corpus_paths("fair")


def test_the_fair_corpus_covers_the_lessons_code_in_both_forms():
    names = {p.stem for p in FAIR}
    assert {"lesson_gates", "lesson_activations", "lesson_models_and_training", "lesson_notebook"} <= names
    assert {p.suffix for p in FAIR} >= {".py", ".ipynb"}


@pytest.mark.parametrize("path", FAIR, ids=lambda p: p.name)
def test_fair_declarations_name_only_generality_properties(path):
    declared = expected_failures(path)
    assert declared and [pid for pid in declared if not is_generality(pid)] == []


def test_generality_is_reach_not_facts():
    assert is_generality("AND_works_on_any_batch") and is_generality("sigmoid_works_in_float64")
    assert is_generality("XOR_runs_on_meta_device") and is_generality("functions_on_cuda_match_cpu")
    assert not is_generality("AND_truth_table") and not is_generality("relu_is_monotone") and not is_generality("no_such_property")


@pytest.mark.slow
@pytest.mark.parametrize("path", FAIR, ids=lambda p: p.name)
def test_fair_submission_fails_exactly_its_generality_properties(path):
    (submission,) = load_all([str(path)])
    result = grade(submission, Options(profile="ci", device="cpu"))
    assert result.status == "graded"
    skipped = {v.property for v in result.verdicts if v.kind == "skipped"}
    failed = {v.property: f"{v.kind}: {v.message.render('en')}" for v in result.verdicts if v.kind in FAILING}
    assert set(failed) == set(expected_failures(path)) - skipped, failed
    assert grader_traces(result) == []
