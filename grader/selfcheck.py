"""``propgrade check``: a student's quick look at their own work before handing it in.

Only the assignment's visible properties are checked, with Hypothesis's quick
profile, so hidden ones are never named, counted or described here. The output
is for a terminal: a line per fact that holds (✓) or not (✗) with its minimal
counterexample, the cells that raised, and the score on these checks.
"""

from __future__ import annotations

import sys

from grader import workermanage
from grader.assignment import Assignment
from grader.grade import Options, grade
from grader.load import Submission
from grader.messages import say
from grader.properties import CATALOGUE, TOPICS
from grader.results import details, heading
from grader.score import SubmissionResult

PROFILE = "ci"
MARKS = {"passed": "✓", "skipped": "–"}  # every other verdict: ✗
INDENT = "    "


def self_check(submission: Submission, assignment: Assignment, device: str = "cpu") -> SubmissionResult:
    options = Options(profile=PROFILE, device=device, limits=assignment.limits, assignment=assignment.visible_only())
    return grade(submission, options)


def passed_all(result: SubmissionResult) -> bool:
    return result.problem is None and result.score >= result.max_score


def feedback_text(result: SubmissionResult, lang: str = "en") -> str:
    lines = [say("self_check_start", path=result.submission, count=len(result.verdicts)).render(lang)]
    if not workermanage.posix_process_limits() or result.isolation.get("memory_cap") is False:
        lines.append(say("isolation_limited").render(lang))
    if result.problem is not None:  # nothing ran: one message instead of the same one per property
        lines += ["", result.problem.render(lang)]
    else:
        lines += topic_sections(result, lang)
    failed_cells = [c for c in result.cells if not c.ok]
    if failed_cells:
        lines += ["", heading("cells", lang), *(f"{INDENT}{c.message.render(lang)}" for c in failed_cells)]
    lines += ["", *(note.render(lang) for note in result.notes)] if result.notes else []
    lines += ["", say("self_check_score", score=result.score, max=result.max_score).render(lang)]
    return "\n".join(lines)


def topic_sections(result: SubmissionResult, lang: str) -> list[str]:
    lines = []
    for topic, titles in TOPICS.items():
        verdicts = [v for v in result.verdicts if CATALOGUE[v.property].topic == topic]
        if verdicts:
            lines += ["", titles[0 if lang == "en" else 1]]
            lines += [line for verdict in verdicts for line in verdict_lines(result, verdict, lang)]
    return lines


def verdict_lines(result: SubmissionResult, verdict, lang: str) -> list[str]:
    mark = MARKS.get(verdict.kind, "✗")
    first = f"{mark} {verdict.property}: {CATALOGUE[verdict.property].statement_in(lang)}"
    if verdict.kind == "passed":
        return [first]
    return [first, *(f"{INDENT}{line}" for text in details(result, verdict, lang) for line in text.splitlines())]


def print_text(text: str) -> None:
    """Print, replacing what a Windows console's code page cannot show rather than failing on it."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    print(text, flush=True)
