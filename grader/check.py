"""Check properties against a subject: Hypothesis drives, verdicts come out.

A verdict is plain data (no exceptions, no tensors), ready for scoring and
for every report format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky, FlakyFailure
from hypothesis.reporting import with_reporter

from grader.messages import Message, say
from grader.outcomes import PropertyFailure, SkipProperty, StudentError, WorkerLost
from grader.properties import Property
from grader.replay import Example, PassingExamples, RecordingChannel, RecordingData, replay

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


def check(prop: Property, subject, *, seed: int = 0, profile: str = "ci", examples: PassingExamples | None = None) -> Verdict:
    """Run one property; every way it can end becomes a Verdict.

    ``examples``: where the examples of properties that held are kept and replayed (see PassingExamples)."""
    if prop.cuda and not subject.cuda:
        return Verdict(prop.id, "skipped", say("skipped", reason=say("no_cuda")))
    missing = [name for name in prop.needs if not subject.has(name)]
    if missing:
        return Verdict(prop.id, "missing", say("missing", names=", ".join(missing)))
    key = PassingExamples.key(prop, subject, seed, profile) if examples is not None else None
    tried: list[Example] = []
    recorder = RecordingChannel(subject.channel) if examples is not None else None
    recording = replace(subject, channel=recorder) if recorder is not None else subject
    report: list[str] = []
    started = time.perf_counter()
    try:
        recorded = examples.get(key) if examples is not None else None
        if recorded is not None and replay(prop, subject, recorded):
            return Verdict(prop.id, "passed", say("passed"), "", time.perf_counter() - started)
        with with_reporter(report.append):
            hypothesis_test(prop, profile, seed, recording, recorder, tried)()
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


def hypothesis_test(prop: Property, profile: str, seed: int, subject, recorder: RecordingChannel | None, tried: list[Example]):
    """The property as a Hypothesis test, built only when no recording answers for it (building one costs
    about as much as replaying a cheap property): each example that holds is noted in ``tried``."""

    @hypothesis_settings(prop, profile)
    @hypothesis_seed(seed)
    @given(data=st.data())
    def run(data):
        subject.begin_example()
        if recorder is None:
            prop.check(subject, data)
            return
        draws: list = []
        recorder.requests = []
        prop.check(subject, RecordingData(data, draws))
        tried.append(Example(draws, recorder.requests))

    return run


def _example(report: list[str], error: BaseException) -> str:
    """Hypothesis's own account of the minimal failing example (its report and the notes it adds)."""
    text = "\n".join([*map(str, report), *getattr(error, "__notes__", [])])
    draws = [line.strip() for line in text.splitlines() if line.strip().startswith("Draw ")]
    return "\n".join(draws)[:4000]
