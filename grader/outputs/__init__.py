"""Result files for the platforms that collect grades, each one view of ``SubmissionResult``.

``grader/results.py`` writes Gradescope's ``results.json`` (with propgrade's own record, which
reports and regrades read back) for every submission; the modules here write what another
platform reads: ``classroom50`` (Classroom 50's ``result.json`` and release body) and
``prairielearn`` (PrairieLearn's external-grading ``results.json``). Students see what these files
hold, so only visible properties are named; the others count in one row per visibility.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.messages import say
from grader.properties import CATALOGUE
from grader.results import details
from grader.score import SubmissionResult

FORMATS = ("gradescope", "classroom50", "prairielearn")
GROUP_NAMES = {
    "hidden": ("hidden checks", "隐藏的检查"),
    "after_due_date": ("checks shown after the due date", "截止日期后公布的检查"),
    "after_published": ("checks shown once grades are published", "成绩公布后可见的检查"),
}


@dataclass
class Row:
    """One line of a student-facing result: a visible property, or the not-visible ones of a visibility together."""

    name: str
    description: str
    passed: bool
    points: float
    max_points: float
    message: str
    output: str


def student_rows(result: SubmissionResult, lang: str = "en") -> list[Row]:
    """Visible properties one by one, every other visibility as one row; skipped properties are left out
    (they count in neither the score nor its maximum)."""
    rows, groups = [], {}
    for verdict in result.verdicts:
        if verdict.kind == "skipped":
            continue
        pid, points = verdict.property, result.points[verdict.property]
        earned = points if verdict.kind == "passed" else 0.0
        visibility = result.visibility.get(pid, "visible")
        if visibility == "visible":
            prop = CATALOGUE[pid]
            text = "" if verdict.kind == "passed" else "\n".join(details(result, verdict, lang))
            rows.append(Row(pid, prop.statement_in(lang), verdict.kind == "passed", earned, points, verdict.message.render(lang), text))
        else:
            groups.setdefault(visibility, []).append((verdict.kind == "passed", earned, points))
    for visibility, members in groups.items():
        title = GROUP_NAMES[visibility][0 if lang == "en" else 1]
        passed = sum(1 for ok, _, _ in members if ok)
        summary = f"{passed} / {len(members)}"
        rows.append(Row(f"{title} ({len(members)})", title, passed == len(members), sum(e for _, e, _ in members), sum(p for _, _, p in members), summary, ""))
    return rows


def headline(result: SubmissionResult, lang: str = "en") -> str:
    """The submission's one-line outcome: why nothing could be checked, or the score."""
    if result.problem is not None:
        return result.problem.render(lang)
    return say("self_check_score", score=result.score, max=result.max_score).render(lang)
