"""Write one grading result in every format: Gradescope results.json and JUnit XML.

Both are views of ``SubmissionResult``; the language is chosen here. The class's
gradebook and report are built from the results.json files (``report.py``).
"""

from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from grader.messages import say
from grader.score import SubmissionResult

HEADINGS = {
    "summary": ("{score:g} / {max:g} points", "得分 {score:g} / {max:g}"),
    "skipped": ("Not checked on this machine (left out of the score): {ids}", "本机未检查（不计入总分）：{ids}"),
    "cells": ("Cells that raised while the notebook ran:", "运行 notebook 时抛出异常的单元格："),
    "example": ("Minimal failing example:", "最小反例："),
}


def _catalogue() -> dict:
    """The property catalogue, imported when a result is written, not with this module: the class report
    imports this module (for ``atomic_write``) and never needs the catalogue's checks, nor torch."""
    from grader.properties import CATALOGUE

    return CATALOGUE


def heading(key: str, lang: str, **fields) -> str:
    return HEADINGS[key][0 if lang == "en" else 1].format(**fields)


def feedback(result: SubmissionResult, verdict, lang: str) -> str:
    return "\n".join([_catalogue()[verdict.property].statement_in(lang), *details(result, verdict, lang)])


def details(result: SubmissionResult, verdict, lang: str) -> list[str]:
    """What became of a property, below its statement: the verdict's message, the student's own
    spelling of the names it needs, and the minimal failing example."""
    prop = _catalogue()[verdict.property]
    lines = [verdict.message.render(lang)]
    lines += [say("defined_as", name=name, spelling=result.spellings[name]).render(lang) for name in prop.needs if name in result.spellings]
    if verdict.counterexample and verdict.kind in ("failed", "error") and verdict.message.key != "not_implemented":  # a stub fails on any input
        lines += [heading("example", lang), verdict.counterexample]
    return lines


def overview(result: SubmissionResult, lang: str) -> str:
    lines = [heading("summary", lang, score=result.score, max=result.max_score)]
    if result.problem is not None:
        lines.append(result.problem.render(lang))
    lines += [note.render(lang) for note in result.notes]
    failed_cells = [c for c in result.cells if not c.ok]
    if failed_cells:
        lines.append(heading("cells", lang))
        lines += [f"  {c.message.render(lang)}" for c in failed_cells]
    skipped = [v.property for v in result.skipped if shown_now(result, v.property)]
    if skipped:
        lines.append(heading("skipped", lang, ids=", ".join(skipped)))
    return "\n".join(lines)


def shown_now(result: SubmissionResult, pid: str) -> bool:
    """Whether students see this property's result as soon as it is graded; the submission's overall
    output names no other property (Gradescope shows it to students, whatever each test's visibility)."""
    return result.visibility.get(pid, "visible") == "visible"


def gradescope(result: SubmissionResult, lang: str = "en") -> dict:
    tests = []
    for number, verdict in enumerate(result.verdicts, start=1):
        prop = _catalogue()[verdict.property]
        skipped = verdict.kind == "skipped"
        test = {
            "name": f"{prop.id}: {prop.statement_in(lang)}",
            "number": str(number),
            "score": result.points[prop.id] if verdict.kind == "passed" else 0.0,
            "max_score": 0.0 if skipped else result.points[prop.id],
            "output": feedback(result, verdict, lang),
            "tags": [prop.topic],
            "visibility": result.visibility.get(prop.id, "visible"),
            "extra_data": {"property": prop.id, "verdict": verdict.kind},
        }
        if not skipped:
            test["status"] = "passed" if verdict.kind == "passed" else "failed"
        tests.append(test)
    return {
        "score": result.score,
        "max_score": result.max_score,
        "execution_time": round(result.seconds, 3),
        "output": overview(result, lang),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": machine_record(result),
    }


def machine_record(result: SubmissionResult) -> dict:
    """propgrade's own record: everything a regrade or a report needs, language-neutral."""
    return {
        "propgrade": {
            "submission": result.submission,
            "id": result.id,
            "kind": result.kind,
            "status": result.status,
            "score": result.score,
            "max_score": result.max_score,
            "seconds": round(result.seconds, 3),
            "sha256": result.sha256,
            "seed": result.seed,
            "device": result.device,
            "profile": result.profile,
            "versions": result.versions,
            "isolation": result.isolation,
            "assignment": result.assignment,
            "spellings": result.spellings,
            "key": result.key,
            "peak_memory_bytes": result.peak_memory,
            "seq_net": {"state_dict": result.seq_net} if result.seq_net else None,
            "properties": [
                {
                    "id": v.property,
                    "topic": _catalogue()[v.property].topic,
                    "visibility": result.visibility.get(v.property, "visible"),
                    "verdict": v.kind,
                    "points": result.points[v.property] if v.kind == "passed" else 0.0,
                    "max_points": 0.0 if v.kind == "skipped" else result.points[v.property],
                    "message": {"key": v.message.key, "en": v.message.render("en"), "zh": v.message.render("zh")},
                    "counterexample": v.counterexample,
                    "student_error": v.student_error,
                }
                for v in result.verdicts
            ],
            "cells": [
                {"cell": c.cell, "ok": c.ok, "message": c.message.render("en") if c.message else None} for c in result.cells
            ],
            "problem": result.problem.render("en") if result.problem else None,
            "notes": [note.render("en") for note in result.notes],
            "output": result.output[-20000:],
        }
    }


def junit(result: SubmissionResult, lang: str = "en") -> ET.ElementTree:
    suite = ET.Element("testsuite", name=f"propgrade.{result.id}", tests=str(len(result.verdicts)), time=f"{result.seconds:.3f}")
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    for verdict in result.verdicts:
        prop = _catalogue()[verdict.property]
        case = ET.SubElement(suite, "testcase", classname=f"propgrade.{prop.topic}", name=prop.id, time=f"{verdict.seconds:.3f}")
        text = feedback(result, verdict, lang)
        if verdict.kind == "skipped":
            ET.SubElement(case, "skipped", message=verdict.message.render(lang))
            counts["skipped"] += 1
        elif verdict.kind in ("failed", "missing"):
            ET.SubElement(case, "failure", message=verdict.message.render(lang), type=verdict.kind).text = text
            counts["failures"] += 1
        elif verdict.kind != "passed":
            ET.SubElement(case, "error", message=verdict.message.render(lang), type=verdict.kind).text = text
            counts["errors"] += 1
    for key, value in counts.items():
        suite.set(key, str(value))
    return ET.ElementTree(suite)


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def previous_record(out: Path, sid: str) -> dict | None:
    """propgrade's record in ``out/<sid>/results.json`` from an earlier run, or None (absent or unreadable)."""
    try:
        record = json.loads((out / sid / "results.json").read_text(encoding="utf-8"))["extra_data"]["propgrade"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if isinstance(record, dict) else None


def already_graded(submission, out: Path, key: dict) -> bool:
    """True when ``out`` holds this submission's result, graded from the same content under the same key."""
    record = previous_record(out, submission.id)
    return bool(
        key and record
        and record.get("key") == key
        and record.get("sha256") == submission.sha256
        and record.get("submission") == submission.path
    )


def write_submission(result: SubmissionResult, out: Path, lang: str = "en") -> Path:
    folder = out / result.id
    atomic_write(folder / "results.json", json.dumps(gradescope(result, lang), ensure_ascii=False, indent=2).encode())
    tree = junit(result, lang)
    ET.indent(tree)
    atomic_write(folder / "junit.xml", ET.tostring(tree.getroot(), encoding="utf-8", xml_declaration=True))
    return folder

