"""Classroom 50 (foundation50/classroom50, GitHub Classroom's successor): ``result.json`` and ``release-body.md``.

Classroom 50's runner (``cli/gh-teacher/skeleton/dotgithub/scripts/runner.py``) runs the teacher's
``autograder.py`` in the student's checkout and then reads ``result.json`` from there: schema
``classroom50/result/v1``, the submission's identity (from the environment the runner sets),
``score``/``max-score`` and per-test ``score``/``max-score`` as non-negative integers, and
``tests`` entries with ``test-name`` and ``passed``. Points that are not whole numbers are scaled by
the smallest power of ten that makes every one whole. ``release-body.md`` (optional) is the
release's text; each failure's details are capped at 2,000 characters as the runner caps
captured output, and fenced so that nothing a submission printed is read as Markdown.

``python -I -m grader.outputs.classroom50 NOTEBOOK`` grades one submission and writes both files
into the current folder: what the assignment's ``autograder.py`` runs. ``propgrade classroom50 --out DIR``
writes that bundle folder: ``autograder.py`` (from ``classroom50_autograder.py`` beside this file),
``assignment.toml`` and a propgrade wheel.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grader.outputs import Row, headline, student_rows
from grader.results import atomic_write
from grader.score import SubmissionResult

SCHEMA = "classroom50/result/v1"
RESULT_FILE = "result.json"
BODY_FILE = "release-body.md"
MAX_CAPTURED_CHARS = 2000
IDENTITY_ENV = {  # result.json field -> the variable the runner sets (runner.py: main() and run_entrypoint())
    "classroom": "CLASSROOM",
    "assignment": "ASSIGNMENT",
    "owner": "OWNER",
    "assignment_type": "ASSIGNMENT_TYPE",
    "submission": "SUBMISSION_TAG",
    "commit": "COMMIT_URL",
    "release": "RELEASE_URL",
    "review": "REVIEW_URL",
}


def identity(env: dict | None = None, assignment: str = "propgrade") -> dict:
    """The submission's identity as the runner tells it; outside Classroom 50, stand-ins of the same shape
    (the runner itself overwrites ``owner``, ``assignment_type`` and ``datetime``)."""
    env = os.environ if env is None else env
    fallback = {"classroom": "local", "assignment": assignment, "owner": env.get("USERNAME") or "student", "assignment_type": "individual",
                "submission": "submit/local", "commit": "local", "release": "local", "review": ""}
    found = {field: (env.get(variable) or "").strip() or fallback[field] for field, variable in IDENTITY_ENV.items()}
    found["review"] = found["review"] or found["commit"]
    found["datetime"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return found


def scale_for(values: list[float]) -> int:
    """The smallest power of ten (up to 1000) that makes every value whole."""
    for scale in (1, 10, 100, 1000):
        if all(abs(v * scale - round(v * scale)) < 1e-9 for v in values):
            return scale
    return 1000


def result_json(result: SubmissionResult, who: dict, lang: str = "en") -> dict:
    rows = student_rows(result, lang)
    scale = scale_for([value for row in rows for value in (row.points, row.max_points)])
    tests = [{"test-name": test_name(row), "passed": row.passed, "score": round(row.points * scale), "max-score": round(row.max_points * scale)} for row in rows]
    return {
        "schema": SCHEMA,
        **who,
        "score": sum(t["score"] for t in tests),
        "max-score": sum(t["max-score"] for t in tests),
        "tests": tests,
        "points_scale": scale,
    }


def test_name(row: Row) -> str:
    """One line with no control characters: the runner prints names into the Actions log."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", f"{row.name}: {row.description}")


def release_body(result: SubmissionResult, document: dict, lang: str = "en") -> str:
    lines = [f"### propgrade: {document['score']}/{document['max-score']}", "", headline(result, lang), "",
             "| Test | Result | Score |", "|---|---|---|"]
    for test in document["tests"]:
        name = test["test-name"].replace("|", "\\|")
        lines.append(f"| {name} | {'PASS' if test['passed'] else 'FAIL'} | {test['score']} / {test['max-score']} |")
    failed = [row for row in student_rows(result, lang) if not row.passed and row.output]
    if failed:
        lines += ["", "<details><summary>Failure details</summary>", ""]
        for row in failed:
            detail = clip(row.output)
            fence = "`" * max(3, longest_run(detail, "`") + 1)
            lines += [f"**{row.name}**", "", fence, detail, fence, ""]
        lines.append("</details>")
    return "\n".join(lines) + "\n"


def clip(text: str, limit: int = MAX_CAPTURED_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 15] + "\n... (clipped)"


def longest_run(text: str, char: str) -> int:
    return max((len(run) for run in re.findall(f"{re.escape(char)}+", text)), default=0)


def write(result: SubmissionResult, folder: Path, lang: str = "en", who: dict | None = None) -> dict[str, Path]:
    """``result.json`` and ``release-body.md`` in ``folder``."""
    document = result_json(result, who or identity(assignment=result.assignment.get("name") or "propgrade"), lang)
    paths = {"result": folder / RESULT_FILE, "body": folder / BODY_FILE}
    atomic_write(paths["result"], (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode())
    atomic_write(paths["body"], release_body(result, document, lang).encode())
    return paths


TEMPLATE = "classroom50_autograder.py"


def autograder_source(notebook: str = "homework.ipynb", lang: str = "en") -> str:
    """The bundle's ``autograder.py``: the template with the notebook's name and the feedback's language filled in."""
    text = resources.files("grader.outputs").joinpath(TEMPLATE).read_text(encoding="utf-8")
    text = re.sub(r'^NOTEBOOK = "[^"\n]*"', lambda _: f"NOTEBOOK = {json.dumps(notebook)}", text, count=1, flags=re.MULTILINE)
    return re.sub(r'^LANG = "[^"\n]*"', lambda _: f"LANG = {json.dumps(lang)}", text, count=1, flags=re.MULTILINE)


def build_bundle_folder(out: Path, assignment_file: Path | None = None, lang: str = "en", notebook: str = "homework.ipynb") -> list[Path]:
    """An assignment's bundle folder for Classroom 50: ``autograder.py``, ``assignment.toml`` and the propgrade wheel
    it installs. The assignment is checked first, so a bad file never reaches the students' runs."""
    from grader.assignment import default_source, load_assignment
    from grader.gradescope import build_wheel

    load_assignment(assignment_file)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "autograder.py", out / "assignment.toml"]
    written[0].write_text(autograder_source(notebook, lang), encoding="utf-8")
    written[1].write_bytes(Path(assignment_file or default_source()).read_bytes())
    for old in out.glob("propgrade-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="propgrade-wheel-") as scratch:
        wheel = build_wheel(Path(scratch))
        written.append(Path(shutil.copy2(wheel, out / wheel.name)))
    return written


def main(argv: list[str] | None = None) -> int:
    """Grade one submission where Classroom 50's runner started us, and leave the two files in the current folder."""
    parser = argparse.ArgumentParser(prog="python -I -m grader.outputs.classroom50", description="Grade one submission for Classroom 50.")
    parser.add_argument("submission", help="the notebook, module or folder to grade (relative to the student's checkout)")
    parser.add_argument("--assignment", type=Path, default=None, metavar="FILE")
    parser.add_argument("--lang", choices=["en", "zh"], default="en")
    parser.add_argument("--out", type=Path, default=Path.cwd(), help="where result.json and release-body.md go (default: here)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from grader.assignment import load_assignment
    from grader.cli import resolve_device
    from grader.grade import grade, platform_options
    from grader.load import load

    assignment = load_assignment(args.assignment)
    options = platform_options(assignment, resolve_device("auto"))
    result = grade(load(args.submission, "submission"), options)
    paths = write(result, args.out, args.lang, identity(assignment=assignment.name))
    print(f"propgrade: {result.score:g}/{result.max_score:g} ({result.status}); wrote {paths['result']} and {paths['body']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
