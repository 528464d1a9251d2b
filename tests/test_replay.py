"""Replaying the examples of properties that held: the same verdicts as Hypothesis, in less time.

``check.PassingExamples`` rests on one premise: with a fixed seed, Hypothesis
generates the same examples for every subject on which a property holds. The
first test checks that premise; the others check that a class run's verdicts
(examples replayed) are those of grading each subject alone (no replay).
"""

from __future__ import annotations

import pytest
import torch

import reference
from grader.check import PassingExamples, check
from grader.properties import CATALOGUE, catalogue, contract_names
from grader.subject import Subject

try:
    import wrong_subjects
except ImportError:  # run with the repository root on sys.path only
    from tests import wrong_subjects

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")

SEED, PROFILE = 0, "ci"
CHEAP = [p for p in catalogue() if p.topic in ("activations", "gates", "collapse", "builders", "saveload")]
WRONG = {w.id: w for w in wrong_subjects.WRONG}


@pytest.fixture(autouse=True)
def scratch_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def subject(namespace: dict) -> Subject:
    return Subject.in_process(namespace, contract_names())


def reference_subject() -> Subject:
    return subject(dict(vars(reference)))


def same(a, b) -> bool:
    """Equal values, tensors compared bit for bit with their dtype and shape, containers recursively."""
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same, a, b))
    return a == b


def verdict_text(verdict) -> tuple:
    return verdict.kind, verdict.message.render("en"), verdict.counterexample


@pytest.mark.parametrize("pid", [p.id for p in CHEAP])
def test_hypothesis_generates_the_same_examples_for_every_passing_subject(pid):
    runs = []
    for namespace in (dict(vars(reference)), wrong_subjects.namespace(WRONG["sigmoid_exp_over_one_plus_exp"])):
        examples = PassingExamples()
        given = subject(namespace)
        if check(CATALOGUE[pid], given, seed=SEED, profile=PROFILE, examples=examples).kind != "passed":
            continue
        runs.append(examples.get(PassingExamples.key(CATALOGUE[pid], given, SEED, PROFILE)))
    assert runs, pid
    assert all(len(run) == len(runs[0]) and all(map(same, run, runs[0])) for run in runs)


@pytest.mark.parametrize("wrong_id", ["step_strict_inequality", "sigmoid_exp_over_one_plus_exp", "tanh_missing_parentheses",
                                      "relu_clamp_in_place", "AND_with_OR_bias", "collapse_ignores_biases"])
def test_replayed_verdicts_are_those_of_hypothesis_alone(wrong_id):
    wrong = WRONG[wrong_id]
    examples = PassingExamples()
    first = reference_subject()
    ids = [pid for pid in {*wrong.kills, "relu_is_monotone", "OR_truth_table"} if CATALOGUE[pid].topic in ("activations", "gates", "collapse")]
    for pid in ids:
        assert check(CATALOGUE[pid], first, seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    replayed = subject(wrong_subjects.namespace(wrong))
    alone = subject(wrong_subjects.namespace(wrong))
    for pid in ids:
        with_replay = check(CATALOGUE[pid], replayed, seed=SEED, profile=PROFILE, examples=examples)
        without = check(CATALOGUE[pid], alone, seed=SEED, profile=PROFILE)
        assert verdict_text(with_replay) == verdict_text(without), pid


def test_examples_that_draw_differently_are_generated_afresh():
    prop = CATALOGUE["step_matches_definition"]
    given = reference_subject()
    examples = PassingExamples()
    key = PassingExamples.key(prop, given, SEED, PROFILE)
    examples.keep(key, [[("not a label the property uses", 1)]])
    assert check(prop, given, seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    assert examples.get(key)[0][0][0] == "dtype"  # re-recorded from Hypothesis


def test_a_replayed_failure_is_found_and_shrunk_by_hypothesis():
    prop = CATALOGUE["step_of_zero_is_one"]
    examples = PassingExamples()
    assert check(prop, reference_subject(), seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    verdict = check(prop, subject(wrong_subjects.namespace(WRONG["step_strict_inequality"])), seed=SEED, profile=PROFILE, examples=examples)
    assert verdict.kind == "failed"
    assert "0.0" in verdict.message.render("en")


def test_draws_that_depend_on_the_names_a_subject_defines_are_kept_apart():
    prop = CATALOGUE["step_matches_definition"]
    everything = reference_subject()
    only_step = subject({"step": reference.step})
    assert PassingExamples.key(prop, everything, SEED, PROFILE) != PassingExamples.key(prop, only_step, SEED, PROFILE)
