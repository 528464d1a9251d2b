"""PrairieLearn external grading: ``results.json`` as PrairieLearn reads it.

The format (https://prairielearn.readthedocs.io/en/latest/externalGrading/): a JSON object with
``gradable`` (false: the submission could not be graded at all, and does not count as an
attempt), ``score`` in [0, 1], ``message`` and ``output`` for the student, and ``tests``, each
with ``name``, ``description``, ``points``, ``max_points``, ``message`` and ``output``. The file
must stay under PrairieLearn's 1 MB limit, so every output is clipped.

Inside the grading container the question's ``info.json`` names the entry point
(``externalGradingOptions.entrypoint``); it runs ``python -I -m grader.outputs.prairielearn``,
which grades ``/grade/student`` and writes ``/grade/results/results.json`` (docs/instructors.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from grader.outputs import headline, student_rows
from grader.results import atomic_write, overview
from grader.score import SubmissionResult

RESULTS_FILE = "results.json"
MAX_OUTPUT_CHARS = 8000  # per test; with ~100 tests far under PrairieLearn's 1 MB


def results_json(result: SubmissionResult, lang: str = "en") -> dict:
    gradable = result.status != "unreadable"
    return {
        "gradable": gradable,
        "score": round(result.score / result.max_score, 6) if result.max_score else 0.0,
        "message": headline(result, lang),
        "output": overview(result, lang)[:MAX_OUTPUT_CHARS],
        "tests": [
            {
                "name": row.name,
                "description": row.description,
                "points": row.points,
                "max_points": row.max_points,
                "message": row.message[:MAX_OUTPUT_CHARS],
                "output": row.output[:MAX_OUTPUT_CHARS],
            }
            for row in student_rows(result, lang)
        ] if gradable else [],
    }


def write(result: SubmissionResult, folder: Path, lang: str = "en") -> Path:
    path = folder / RESULTS_FILE
    atomic_write(path, json.dumps(results_json(result, lang), ensure_ascii=False, indent=2).encode())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -I -m grader.outputs.prairielearn", description="Grade one submission inside PrairieLearn's grading container.")
    parser.add_argument("--submission", type=Path, default=Path("/grade/student"))
    parser.add_argument("--results", type=Path, default=Path("/grade/results"))
    parser.add_argument("--assignment", type=Path, default=None, metavar="FILE")
    parser.add_argument("--lang", choices=["en", "zh"], default="en")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from grader.assignment import load_assignment
    from grader.cli import resolve_device
    from grader.grade import grade, platform_options
    from grader.load import load

    assignment = load_assignment(args.assignment)
    options = platform_options(assignment, resolve_device("auto"))
    result = grade(load(str(args.submission), "submission"), options)
    path = write(result, args.results, args.lang)
    print(f"propgrade: {result.score:g}/{result.max_score:g} ({result.status}); wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
