"""Replaying the examples of properties that held: the same verdicts as Hypothesis, in less time.

``replay.PassingExamples`` rests on one premise: with a fixed seed, Hypothesis
generates the same examples for every subject on which a property holds. The
first test checks that premise; the others check that a class run's verdicts
(examples replayed) are those of grading each subject alone (no replay).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import strategies as st

import reference
from grader import wire
from grader.check import PROFILES, check
from grader.outcomes import StudentError, fail
from grader.properties import CATALOGUE, Property, catalogue, contract_names
from grader.replay import Example, PassingExamples
from grader.strategies import tensors
from grader.subject import Channel, Model, Subject

try:
    import wrong_subjects
except ImportError:  # run with the repository root on sys.path only
    from tests import wrong_subjects

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")

SEED, PROFILE = 0, "ci"
ROOT = Path(__file__).resolve().parents[1]
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
        runs.append([example.draws for example in examples.get(PassingExamples.key(CATALOGUE[pid], given, SEED, PROFILE))])
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
    examples.keep(key, [Example([("not a label the property uses", 1)], [])])
    assert check(prop, given, seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    assert examples.get(key)[0].draws[0][0] == "z"  # re-recorded from Hypothesis (its first draw)


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


def test_a_class_that_mixes_spellings_keeps_a_recording_for_each():
    """Requests carry the name a submission spells (``and_gate`` for AND): a recording made under one
    spelling is not replaced by, or replayed for, a submission that uses another."""
    prop = CATALOGUE["AND_truth_table"]
    examples = PassingExamples()
    contract = reference_subject()
    aliased = subject({**dict(vars(reference)), "and_gate": reference.AND})
    aliased.spellings = {"AND": "and_gate"}
    assert PassingExamples.key(prop, contract, SEED, PROFILE) != PassingExamples.key(prop, aliased, SEED, PROFILE)
    for given in (contract, aliased):
        assert check(prop, given, seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    recorded = examples.get(PassingExamples.key(prop, contract, SEED, PROFILE))
    again, counter = counted(dict(vars(reference)), contract_names())
    assert check(prop, again, seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    assert examples.get(PassingExamples.key(prop, contract, SEED, PROFILE)) is recorded and counter.sends == 1


# -- requests sent ahead (ScriptedChannel) -------------------------------------------------------

F_THEN_G = Property("f_then_g_is_g_of_f", "activations", "g(f(x)) is f(x) + 1", "g(f(x)) 等于 f(x) + 1", ("f", "g"), 1.0,
                    check=lambda subject, data: _f_then_g(subject, data), max_examples=10)


def _f_then_g(subject, data):
    """A property whose second request carries the first one's answer: it differs between subjects."""
    x = data.draw(tensors(torch.float64, st.tuples(st.integers(1, 4)), bound=100.0), label="x")
    y = subject.call("f", x).tensor("f(x)")
    z = subject.call("g", y).tensor("g(f(x))")
    if not torch.equal(z, y + 1):
        raise fail("unchecked", type="mismatch", message=f"g({y.tolist()}) = {z.tolist()}")


class CountingChannel(Channel):
    """A channel that counts hand-overs (``send`` calls) and the requests they carry."""

    def __init__(self, channel):
        self.channel, self.sends, self.requests = channel, 0, 0

    def send(self, frames, *, doing):
        self.sends, self.requests = self.sends + 1, self.requests + len(frames)
        self.channel.send(frames, doing=doing)

    def receive(self, *, doing):
        return self.channel.receive(doing=doing)


def counted(namespace: dict, names: list[str]) -> tuple[Subject, CountingChannel]:
    given = Subject.in_process(namespace, names)
    counter = CountingChannel(given.channel)
    given.channel = counter
    return given, counter


def test_a_replay_hands_recorded_requests_over_in_runs():
    prop = CATALOGUE["step_matches_definition"]
    examples = PassingExamples()
    assert check(prop, reference_subject(), seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    given, counter = counted(dict(vars(reference)), contract_names())
    assert check(prop, given, seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    assert counter.requests == PROFILES[PROFILE] and counter.sends == 1


class InFlightChannel(CountingChannel):
    """Also notes, at each hand-over, how many requests were still unanswered and how many it adds."""

    def __init__(self, channel):
        super().__init__(channel)
        self.unanswered, self.hand_overs = 0, []

    def send(self, frames, *, doing):
        self.hand_overs.append((self.unanswered, len(frames)))
        self.unanswered += len(frames)
        super().send(frames, doing=doing)

    def receive(self, *, doing):
        self.unanswered -= 1
        return super().receive(doing=doing)


def test_a_long_replay_is_topped_up_before_the_worker_runs_dry(monkeypatch):
    """The run sent ahead is refilled while replies are still owed (the worker never waits for the property
    to take the last one), and no more than the window is ever in flight."""
    from grader import replay as replay_module

    monkeypatch.setattr(replay_module, "AHEAD_REQUESTS", 6)
    prop = CATALOGUE["step_matches_definition"]
    examples = PassingExamples()
    assert check(prop, reference_subject(), seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    given = Subject.in_process(dict(vars(reference)), contract_names())
    channel = given.channel = InFlightChannel(given.channel)
    assert check(prop, given, seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    assert channel.requests == PROFILES[PROFILE] and channel.unanswered == 0
    assert len(channel.hand_overs) > 1 and all(owed > 0 for owed, _ in channel.hand_overs[1:])
    assert max(owed + added for owed, added in channel.hand_overs) <= 6


def test_a_property_answered_by_its_recording_builds_no_hypothesis_test(monkeypatch):
    from grader import check as check_module

    prop = CATALOGUE["relu_matches_definition"]
    examples = PassingExamples()
    assert check(prop, reference_subject(), seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    monkeypatch.setattr(check_module, "hypothesis_test", lambda *args: pytest.fail("Hypothesis was asked"))
    assert check(prop, reference_subject(), seed=SEED, profile=PROFILE, examples=examples).kind == "passed"


def test_a_request_that_differs_from_the_recording_sends_the_property_to_hypothesis():
    """Subject B's f doubles, so its g requests differ from A's recording: the replies sent ahead
    for A's requests are dropped, and every g(f(x)) B is asked is answered for B's own f(x)."""
    examples = PassingExamples()
    a = {"f": lambda x: x, "g": lambda y: y + 1}
    b = {"f": lambda x: 2 * x, "g": lambda y: y + 1}
    recorded, _ = counted(a, ["f", "g"])
    assert check(F_THEN_G, recorded, seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    key = PassingExamples.key(F_THEN_G, recorded, SEED, PROFILE)
    first_recording = examples.get(key)
    replayed, counter = counted(b, ["f", "g"])
    assert check(F_THEN_G, replayed, seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    assert counter.sends > 1 and counter.requests > counter.sends  # a run went ahead, then Hypothesis asked one by one
    assert examples.get(key) is not first_recording  # recorded again, from B


def test_each_example_counts_handles_from_one():
    given = reference_subject()
    first = given.new("seq_net")
    assert given.new("seq_net").ref == first.ref + 1
    given.begin_example()
    assert given.new("seq_net").ref == 1
    with pytest.raises(StudentError):
        given.forward(Model(2, "x"), torch.zeros(1, 2), doing="forward")  # an earlier example's model is gone


# -- sent ahead to a worker: each request still answered, timed and blamed on its own ------------

CORRECT_STEP = "import torch\n\ndef step(z):\n    return (z >= 0).to(z.dtype)\n"


def a_later_example(prop) -> tuple[int, torch.Tensor]:
    """The first recorded example, after the first two, whose z has a dtype and shape no earlier one has."""
    examples = PassingExamples()
    given = subject({"step": reference.step})
    assert check(prop, given, seed=SEED, profile=PROFILE, examples=examples).kind == "passed"
    zs = [dict(example.draws)["z"] for example in examples.get(PassingExamples.key(prop, given, SEED, PROFILE))]
    seen = {(z.dtype, tuple(z.shape)) for z in zs[:2]}
    for index, z in enumerate(zs[2:], start=2):
        if (z.dtype, tuple(z.shape)) not in seen:
            return index, z
        seen.add((z.dtype, tuple(z.shape)))
    raise AssertionError("every later example repeats an earlier dtype and shape")


@pytest.mark.parametrize("misbehaviour, kind", [("while True:\n            pass", "timeout"), ("os._exit(3)", "crashed")])
def test_a_request_sent_ahead_that_hangs_or_crashes_is_blamed_on_itself(tmp_path, monkeypatch, misbehaviour, kind):
    from grader import grade as engine
    from grader.compare import call, show
    from grader.load import load_all
    from grader.workermanage import Limits

    prop = CATALOGUE["step_matches_definition"]
    index, z = a_later_example(prop)
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "good" / "step.py").write_text(CORRECT_STEP)
    (tmp_path / "bad" / "step.py").write_text(CORRECT_STEP.replace("def step(z):\n", (
        f"import os\n\ndef step(z):\n    if z.dtype == {z.dtype} and tuple(z.shape) == {tuple(z.shape)}:\n"
        f"        {misbehaviour}\n")))
    monkeypatch.setattr(engine, "PASSING_EXAMPLES", PassingExamples())
    sent = []
    send = engine.Session.send
    monkeypatch.setattr(engine.Session, "send", lambda self, frames, *, doing: (sent.append(len(frames)), send(self, frames, doing=doing))[1])
    options = engine.Options(profile=PROFILE, properties=[prop], limits=Limits(call_seconds=2, total_seconds=60))
    good, bad = load_all([str(tmp_path / "good" / "step.py"), str(tmp_path / "bad" / "step.py")])
    assert engine.grade(good, options).verdicts[0].kind == "passed"
    sent.clear()
    (verdict,) = engine.grade(bad, options).verdicts
    assert max(sent) > index  # the misbehaving request went with the ones before it
    assert verdict.kind == kind
    assert call("step", show(z)).render("en") in verdict.message.render("en"), (index, verdict.message.render("en"))


def test_requests_sent_ahead_never_wait_on_a_full_reply_pipe(tmp_path):
    """Megabytes of requests in one send: the worker's replies are taken in while the requests go out."""
    from grader.workermanage import Limits, Worker

    (tmp_path / "echo.py").write_text("def echo(x):\n    return x\n")
    worker = Worker(tmp_path, limits=Limits(call_seconds=20), seed=0, device="cpu")
    try:
        worker.start()
        assert worker.request("run_module", {"source": "def echo(x):\n    return x\n", "filename": "echo.py"}, doing="echo.py")["ok"]
        inputs = [torch.full((4096,), float(i), dtype=torch.float64) for i in range(400)]
        worker.send([wire.encode({"op": "call", "args": {"name": "echo", "args": [x]}}) for x in inputs], doing="echo")
        for x in inputs:
            assert torch.equal(worker.receive(doing="echo")["result"]["value"], x)
    finally:
        worker.stop()


def test_a_worker_on_standard_streams_replays_with_requests_sent_ahead(monkeypatch):
    """Where there are no POSIX process limits (Windows), workers talk over their standard streams:
    a class graded there replays with requests sent ahead and gets the verdicts of grading alone."""
    import grader.workermanage
    from grader import grade as engine
    from grader.load import load_all

    monkeypatch.setattr(grader.workermanage, "posix_process_limits", lambda: False)
    monkeypatch.setattr(engine, "PASSING_EXAMPLES", PassingExamples())
    ids = ["relu_matches_definition", "AND_truth_table", "XOR_works_on_any_batch", "seq_net_forward_is_the_formula", "collapse_linear_matches_the_stack"]
    chosen = [CATALOGUE[i] for i in ids]
    correct, buggy = load_all([str(ROOT / "submissions" / "correct" / "modern_module.py"), str(ROOT / "submissions" / "buggy" / "gates_column_weights.py")])
    sent = []
    send = engine.Session.send
    monkeypatch.setattr(engine.Session, "send", lambda self, frames, *, doing: (sent.append(len(frames)), send(self, frames, doing=doing))[1])
    replay_on = engine.Options(profile=PROFILE, properties=chosen)
    assert all(v.kind == "passed" for v in engine.grade(correct, replay_on).verdicts)
    sent.clear()
    replayed = engine.grade(correct, replay_on)
    assert all(v.kind == "passed" for v in replayed.verdicts) and max(sent) > 1
    with_replay = engine.grade(buggy, replay_on)
    alone = engine.grade(buggy, engine.Options(profile=PROFILE, properties=chosen, replay=False))
    assert [verdict_text(v) for v in with_replay.verdicts] == [verdict_text(v) for v in alone.verdicts]
    assert any(v.kind == "passed" for v in with_replay.verdicts) and any(v.kind != "passed" for v in with_replay.verdicts)
