"""Check properties against a subject: Hypothesis drives, verdicts come out.

A verdict is plain data (no exceptions, no tensors), ready for scoring and
for every report format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky, FlakyFailure
from hypothesis.reporting import with_reporter

from grader.messages import Message, say
from grader.outcomes import PropertyFailure, SkipProperty, StudentError, WorkerLost
from grader.properties import Property

VERDICTS = ("passed", "failed", "error", "timeout", "crashed", "missing", "skipped")

PROFILES = {
    # name: default examples per property; properties may ask for fewer
    "ci": 15,
    "default": 40,
    "thorough": 200,
}


@dataclass
class Verdict:
    property: str
    kind: str  # one of VERDICTS
    message: Message
    counterexample: str = ""
    seconds: float = 0.0
    student_error: dict = field(default_factory=dict)

    @property
    def counts_toward_score(self) -> bool:
        return self.kind != "skipped"


def hypothesis_settings(prop: Property, profile: str) -> settings:
    examples = PROFILES[profile]
    if prop.max_examples is not None:
        examples = min(examples, prop.max_examples)
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )


class Diverged(BaseException):
    """A replayed example asked for a draw that was not recorded: it must be generated afresh."""


def fresh_copy(value):
    """A copy no later use can change: tensors cloned, containers rebuilt, immutable values shared
    (what ``copy.deepcopy`` gives for drawn values, several times faster)."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {key: fresh_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(fresh_copy(item) for item in value)
    return value


class RecordingData:
    """Hypothesis's ``data``, noting every value drawn (a copy, as drawn) for a later replay."""

    def __init__(self, data, draws: list):
        self._data = data
        self._draws = draws

    def draw(self, strategy, label=None):
        value = self._data.draw(strategy, label=label)
        self._draws.append((label, fresh_copy(value)))
        return value


class ReplayData:
    """Stands in for ``data`` and hands back one recorded example's values, in order."""

    def __init__(self, draws: list):
        self._draws = draws
        self._next = 0

    def draw(self, strategy, label=None):
        if self._next >= len(self._draws) or self._draws[self._next][0] != label:
            raise Diverged
        value = self._draws[self._next][1]
        self._next += 1
        return fresh_copy(value)

    @property
    def finished(self) -> bool:
        return self._next == len(self._draws)


class PassingExamples:
    """The examples Hypothesis generated for a property that held, kept for one grading process.

    With a fixed seed Hypothesis generates the same examples for every subject on
    which a property holds (the choices depend on the seed and on the draws alone),
    so the next subject of a class replays them instead of paying for generation
    again: same inputs, same verdict, a fraction of the time. A replayed example
    that fails, or that draws differently, sends the subject through Hypothesis in
    full (generation and shrinking), exactly as if nothing had been recorded.
    Draws may depend on the names a subject defines (they are part of the key),
    never on its answers.
    """

    def __init__(self):
        self._examples: dict[tuple, list[list]] = {}

    @staticmethod
    def key(prop: Property, subject, seed: int, profile: str) -> tuple:
        return prop.id, seed, profile, bool(subject.cuda), tuple(sorted(subject.names))

    def get(self, key: tuple) -> list[list] | None:
        return self._examples.get(key)

    def keep(self, key: tuple, examples: list[list]) -> None:
        self._examples[key] = examples


# One per grading process (a controller of a class run grades many subjects in turn).
PASSING_EXAMPLES = PassingExamples()


def replay(prop: Property, subject, examples: list[list]) -> bool:
    """True when the property holds on every recorded example; False sends it to Hypothesis.

    A lost worker or a skip is not a matter of inputs: it ends the check as it would under Hypothesis."""
    for draws in examples:
        data = ReplayData(draws)
        try:
            prop.check(subject, data)
        except (Exception, Diverged):  # noqa: BLE001 - any failure is Hypothesis's to find and shrink
            return False
        if not data.finished:
            return False
    return True


def check(prop: Property, subject, *, seed: int = 0, profile: str = "ci", examples: PassingExamples | None = None) -> Verdict:
    """Run one property; every way it can end becomes a Verdict.

    ``examples``: where the examples of properties that held are kept and replayed (see PassingExamples)."""
    if prop.cuda and not subject.cuda:
        return Verdict(prop.id, "skipped", say("skipped", reason=say("no_cuda")))
    missing = [name for name in prop.needs if not subject.has(name)]
    if missing:
        return Verdict(prop.id, "missing", say("missing", names=", ".join(missing)))
    key = PassingExamples.key(prop, subject, seed, profile) if examples is not None else None
    tried: list[list] = []

    @hypothesis_settings(prop, profile)
    @hypothesis_seed(seed)
    @given(data=st.data())
    def run(data):
        if examples is None:
            prop.check(subject, data)
            return
        draws: list = []
        prop.check(subject, RecordingData(data, draws))
        tried.append(draws)

    report: list[str] = []
    started = time.perf_counter()
    try:
        recorded = examples.get(key) if examples is not None else None
        if recorded is not None and replay(prop, subject, recorded):
            return Verdict(prop.id, "passed", say("passed"), "", time.perf_counter() - started)
        with with_reporter(report.append):
            run()
    except PropertyFailure as failure:
        return Verdict(prop.id, "failed", failure.message, _example(report, failure), time.perf_counter() - started)
    except StudentError as error:
        return Verdict(prop.id, "error", error.message, _example(report, error), time.perf_counter() - started, error.error)
    except WorkerLost as lost:
        kind = "timeout" if lost.reason in ("timeout",) else "crashed"
        return Verdict(prop.id, kind, lost.message, "", time.perf_counter() - started)
    except SkipProperty as skip:
        return Verdict(prop.id, "skipped", skip.message, "", time.perf_counter() - started)
    except (Flaky, FlakyFailure) as flaky:
        message = say("flaky", type=type(flaky).__name__)
        return Verdict(prop.id, "failed", message, _example(report, flaky), time.perf_counter() - started)
    except Exception as unexpected:  # noqa: BLE001 - an answer our own checking code could not digest
        message = say("unchecked", type=type(unexpected).__name__, message=str(unexpected)[:200])
        return Verdict(prop.id, "failed", message, _example(report, unexpected), time.perf_counter() - started)
    if examples is not None:
        examples.keep(key, tried)
    return Verdict(prop.id, "passed", say("passed"), "", time.perf_counter() - started)


def _example(report: list[str], error: BaseException) -> str:
    """Hypothesis's own account of the minimal failing example (its report and the notes it adds)."""
    text = "\n".join([*map(str, report), *getattr(error, "__notes__", [])])
    draws = [line.strip() for line in text.splitlines() if line.strip().startswith("Draw ")]
    return "\n".join(draws)[:4000]
