"""The platforms' own rules for their result files, re-implemented for the tests.

Classroom 50: ``validate_result`` of its runner (foundation50/classroom50,
``cli/gh-teacher/skeleton/dotgithub/scripts/runner.py`` at commit 0c499034f24703425496698992fedc41fbc1162f),
rule for rule; the runner stamps ``owner``, ``assignment_type`` and ``datetime`` itself before it validates
(``finalize_result``). PrairieLearn: the external-grading results format
(https://prairielearn.readthedocs.io/en/latest/externalGrading/).
"""

from __future__ import annotations

import json


def classroom50_error(data, *, classroom: str, assignment: str, expected_type: str = "individual", owner: str | None = None) -> str | None:
    """runner.py's validate_result: None if ``data`` is a v1 result for this identity, else why not."""
    if not isinstance(data, dict):
        return "not a JSON object"
    if data.get("schema") != "classroom50/result/v1":
        return "schema"
    if data.get("classroom") != classroom or data.get("assignment") != assignment:
        return "identity"
    if not isinstance(data.get("owner"), str) or not data["owner"] or (owner is not None and data["owner"].lower() != owner.lower()):
        return "owner"
    if data.get("assignment_type") != expected_type:
        return "assignment_type"
    if not isinstance(data.get("submission"), str) or not data["submission"].startswith("submit/"):
        return "submission"
    for field in ("commit", "release", "review", "datetime"):
        if not isinstance(data.get(field), str) or not data[field]:
            return field
    score, top = data.get("score"), data.get("max-score")
    for value in (score, top):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return "score must be a non-negative integer"
    if score > top:
        return "score > max-score"
    if not isinstance(data.get("tests"), list):
        return "tests"
    for i, test in enumerate(data["tests"]):
        if not isinstance(test, dict):
            return f"tests[{i}]"
        if not isinstance(test.get("test-name"), str) or not test["test-name"]:
            return f"tests[{i}].test-name"
        if not isinstance(test.get("passed"), bool):
            return f"tests[{i}].passed"
        for value in (test.get("score"), test.get("max-score")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return f"tests[{i}] score must be a non-negative integer"
        if test["score"] > test["max-score"]:
            return f"tests[{i}].score > max-score"
    submitted_by = data.get("submitted_by")
    if submitted_by is not None and (not isinstance(submitted_by, dict) or not submitted_by.get("username")):
        return "submitted_by"
    return None


def prairielearn_error(data) -> str | None:
    """PrairieLearn's results format: None if ``data`` is one, else why not."""
    if not isinstance(data, dict) or not isinstance(data.get("gradable"), bool):
        return "gradable must be a boolean"
    if data["gradable"]:
        score = data.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
            return "score must be a number in [0, 1]"
    for key in ("message", "output"):
        if key in data and not isinstance(data[key], str):
            return key
    for i, test in enumerate(data.get("tests", [])):
        if not isinstance(test.get("name"), str) or not test["name"]:
            return f"tests[{i}].name"
        for key in ("points", "max_points"):
            if isinstance(test.get(key), bool) or not isinstance(test.get(key), (int, float)) or test[key] < 0:
                return f"tests[{i}].{key}"
        if test["points"] > test["max_points"]:
            return f"tests[{i}].points > max_points"
        for key in ("description", "message", "output"):
            if key in test and not isinstance(test[key], str):
                return f"tests[{i}].{key}"
    if len(json.dumps(data).encode()) > 1_000_000:
        return "over 1 MB"
    return None
