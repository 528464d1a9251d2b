"""Verdicts to a score: points for what holds, skipped properties left out of both sides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grader.messages import Message

if TYPE_CHECKING:  # in annotations only: grader.check imports Hypothesis and the catalogue (torch), which the class report, using percent, does without
    from grader.check import Verdict


@dataclass
class SubmissionResult:
    submission: str
    id: str
    kind: str
    score: float
    max_score: float
    status: str  # "graded", "unreadable" (could not be read), "crashed" (never got far enough to be checked),
    # "grader_failed" (not gradable: the grader or the machine failed, nothing charged; grader/machine.py)
    seconds: float
    verdicts: list[Verdict]
    points: dict[str, float]
    cells: list = field(default_factory=list)
    output: str = ""
    problem: Message | None = None
    seed: int = 0
    device: str = "cpu"
    profile: str = "default"
    versions: dict = field(default_factory=dict)
    sha256: str = ""
    isolation: dict = field(default_factory=dict)  # what the worker could apply: import hook, hidden paths, user
    seq_net: dict | None = None  # the student's seq_net weights after their work ran, as plain numbers
    peak_memory: int = 0  # bytes: the largest resident size a worker of this submission reached
    key: dict = field(default_factory=dict)  # settings the grade depends on (grade.grading_key); empty: never reused
    visibility: dict[str, str] = field(default_factory=dict)  # property id -> who sees its result (Gradescope's names)
    assignment: dict = field(default_factory=dict)  # the assignment graded against: name and fingerprint
    spellings: dict[str, str] = field(default_factory=dict)  # contract name -> the alias the submission used
    notes: list[Message] = field(default_factory=list)  # for the student beside the verdicts, e.g. folder entries not staged

    @property
    def skipped(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.kind == "skipped"]


def percent(score: float, max_score: float) -> float:
    """A score as a percentage of its maximum (0 when nothing could be scored)."""
    return 100 * score / max_score if max_score else 0.0


def score(submission, verdicts, properties, cells, output, seconds, options, versions, status: str = "graded") -> SubmissionResult:
    points = {p.id: p.points for p in properties}
    earned = sum(points[v.property] for v in verdicts if v.kind == "passed")
    possible = sum(points[v.property] for v in verdicts if v.counts_toward_score)
    return SubmissionResult(
        submission=submission.path,
        id=submission.id,
        kind=submission.kind,
        score=round(earned, 6),
        max_score=round(possible, 6),
        status=status,
        seconds=seconds,
        verdicts=verdicts,
        points=points,
        cells=cells,
        output=output,
        problem=submission.problem,
        seed=options.seed,
        device=options.device,
        profile=options.profile,
        versions=versions,
        sha256=submission.sha256,
        visibility={p.id: options.assignment.visibility(p.id) for p in properties},
        assignment={"name": options.assignment.name, "fingerprint": options.assignment.fingerprint()},
    )
