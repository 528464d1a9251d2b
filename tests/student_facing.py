"""Everything a graded submission shows its student, and the check that none of it is the grader's own."""

from __future__ import annotations

import json
from pathlib import Path

import grader
from grader.results import feedback, overview

GRADER_DIR = str(Path(grader.__file__).resolve().parent)
# Paths and frames that belong to the grader or to the libraries it runs on, never to the student.
GRADER_TRACES = ("grader/", "grader\\", "remote.py", "site-packages/hypothesis", "hypothesis/", GRADER_DIR)


def student_texts(result) -> list[str]:
    """The feedback in both languages, the errors as the student sees them, cell messages and notes."""
    texts = []
    for lang in ("en", "zh"):
        texts.append(overview(result, lang))
        texts += [feedback(result, verdict, lang) for verdict in result.verdicts]
    texts += [json.dumps(verdict.student_error, ensure_ascii=False) for verdict in result.verdicts if verdict.student_error]
    texts += [cell.message.render("en") for cell in result.cells if cell.message is not None]
    return texts


def grader_traces(result) -> list[str]:
    """Every student-facing text that shows a path or frame of the grader's own code."""
    return [text for text in student_texts(result) if any(trace in text for trace in GRADER_TRACES)]
