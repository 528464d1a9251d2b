"""``propgrade check`` and the check inside a notebook: a student's look at their own work before handing it in.

Only the assignment's visible properties are checked, with the settings ``propgrade grade``
uses by default (profile, seed, the assignment's limits), so a pass here is a pass when graded;
hidden ones are never named, counted or described. The output is for a terminal (text) or a
notebook (an HTML table): a line per fact that holds (✓) or not (✗) with its minimal
counterexample, the cells that raised, and the score on these checks.
"""

from __future__ import annotations

import html
import sys

from grader import workermanage
from grader.assignment import Assignment
from grader.grade import Options, grade
from grader.load import Submission
from grader.messages import say
from grader.properties import CATALOGUE, TOPICS
from grader.results import details, heading
from grader.score import SubmissionResult
from grader.store import store_for

MARKS = {"passed": "✓", "skipped": "–"}  # every other verdict: ✗
INDENT = "    "


def self_check(submission: Submission, assignment: Assignment, device: str = "cpu", store_folder="default") -> SubmissionResult:
    """Grade as ``propgrade grade`` does by default (Options' profile and seed), on the visible properties only,
    with what earlier checks and grades on this machine learned (``store.py``; ``store_folder=None``: nothing)."""
    options = Options(device=device, limits=assignment.limits, assignment=assignment.visible_only())
    options.store = store_for(options.seed, options.profile, device, store_folder)
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


def feedback_html(result: SubmissionResult, lang: str = "en") -> str:
    """The same feedback as ``feedback_text``, as an HTML table for a notebook; every string is escaped."""
    parts = [f"<p>{html.escape(say('self_check_start', path=result.submission, count=len(result.verdicts)).render(lang))}</p>"]
    if result.problem is not None:
        parts.append(f"<p><b>{html.escape(result.problem.render(lang))}</b></p>")
    else:
        header = "".join(f"<th style='text-align:left'>{html.escape(say(key).render(lang))}</th>" for key in ("column_result", "column_property", "column_found"))
        rows = [verdict_row(result, verdict, lang) for topic in TOPICS for verdict in result.verdicts if CATALOGUE[verdict.property].topic == topic]
        parts.append(f"<table class='propgrade'><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    failed_cells = [c for c in result.cells if not c.ok]
    if failed_cells:
        items = "".join(f"<li>{html.escape(c.message.render(lang))}</li>" for c in failed_cells)
        parts.append(f"<p>{html.escape(heading('cells', lang))}</p><ul>{items}</ul>")
    parts += [f"<p>{html.escape(note.render(lang))}</p>" for note in result.notes]
    parts.append(f"<p><b>{html.escape(say('self_check_score', score=result.score, max=result.max_score).render(lang))}</b></p>")
    return "\n".join(parts)


def verdict_row(result: SubmissionResult, verdict, lang: str) -> str:
    mark = MARKS.get(verdict.kind, "✗")
    colour = {"✓": "#1a7f37", "–": "#6e7781"}.get(mark, "#cf222e")
    prop = CATALOGUE[verdict.property]
    found = "" if verdict.kind == "passed" else f"<pre style='white-space:pre-wrap;margin:0'>{html.escape(chr(10).join(details(result, verdict, lang)))}</pre>"
    return (f"<tr><td style='color:{colour};font-weight:bold'>{mark}</td>"
            f"<td style='text-align:left'><code>{html.escape(prop.id)}</code><br>{html.escape(prop.statement_in(lang))}</td>"
            f"<td style='text-align:left'>{found}</td></tr>")
