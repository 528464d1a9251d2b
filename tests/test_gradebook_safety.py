"""Student-controlled strings in the gradebook: summary.csv opens in a spreadsheet without running a formula,
summary.md (a CI step summary) shows them as plain text (no markup, HTML, link or @mention), report.html escapes them.

The strings come from results.json files: a submission's path and id (its file name), its messages (an
exception it raised), and, where a student could rewrite results.json (without root), any field at all.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.check import Verdict
from grader.cli import main
from grader.messages import say
from grader.properties import CATALOGUE, catalogue
from grader.report import FORMULA_STARTS, JOINER, spreadsheet_cell, write_class_report
from grader.results import write_submission
from grader.score import SubmissionResult

ROOT = Path(__file__).resolve().parents[1]
FORMULA_NAME = ROOT / "submissions" / "hostile" / "=HYPERLINK(CONCAT(A1,B1)).py"
QUICK = ROOT / "tests" / "assignments" / "quick.toml"
HOSTILE_MESSAGE = "@org/team see [details](http://evil.example/x) <img src=x onerror=alert(1)> | forged | cell\n## full marks\nwww.evil.example a@b.example #12"
FORMULAS = ['=HYPERLINK("http://evil.example","full marks")', "=cmd|' /C calc'!A0", "+1+cmd", "-2+3", "@SUM(A1)", "\t=1", "\r=1", " =1+1", "\uff1d1+1"]

catalogue()  # fills CATALOGUE


@pytest.mark.parametrize("cell", FORMULAS)
def test_a_formula_gets_a_leading_quote(cell):
    assert spreadsheet_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["12", "-1", "+3", "0.5", "-1.25e+06", "9.00", "failed", "class/=x.py", "alice", ""])
def test_numbers_and_plain_text_are_kept(cell):
    assert spreadsheet_cell(cell) == cell


def tampered_class(out: Path) -> None:
    """A class of two whose failures carry a hostile message (a student's exception); mallory's record has every
    other string hostile too (as a rewritten results.json could)."""
    points = {pid: prop.points for pid, prop in CATALOGUE.items()}
    message = say("not_tensor", doing="step(x)", got=HOSTILE_MESSAGE)
    for sid in ("alice", "mallory"):
        verdicts = [Verdict(pid, "failed", message) if pid == "step_of_zero_is_one" else Verdict(pid, "passed", say("passed")) for pid in CATALOGUE]
        result = SubmissionResult(
            submission=f"class/{sid}.py", id=sid, kind="module", score=sum(points.values()) - points["step_of_zero_is_one"],
            max_score=sum(points.values()), status="graded", seconds=1.0, verdicts=verdicts, points=points, output=HOSTILE_MESSAGE,
        )
        write_submission(result, out)
    path = out / "mallory" / "results.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    record = data["extra_data"]["propgrade"]
    record.update(id=FORMULAS[1], submission=FORMULAS[0], status="@evil <b>graded</b> | x")
    record["properties"].append({"id": "=1+1|`evil`", "verdict": "=2+2", "message": {"en": HOSTILE_MESSAGE}})
    path.write_text(json.dumps(data), encoding="utf-8")


def assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.lstrip(" \u00a0").startswith(FORMULA_STARTS) or re.fullmatch(r"[+-]?[\d.]+(e[+-]?\d+)?", cell), (cell, row[:2])


def assert_plain_markdown(text: str) -> None:
    for bad in ("<img", "<b>", "http://", "www.", "@org", "@evil", "@b.example", "#12", "\n## full"):
        assert bad not in text, bad
    assert not re.search(r"(?<!\\)\]\(", text)  # no Markdown link
    assert f"@{JOINER}org/team" in text
    columns = None
    for line in text.splitlines():
        pipes = len(re.findall(r"(?<!\\)\|", line))
        if line.startswith("|"):
            columns = columns or pipes
            assert pipes == columns, line  # no student pipe splits a cell
        else:
            columns = None
        assert not line.startswith(("#", "=")) or line.startswith(("## propgrade", "### ")), line


class Tags(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_hostile_records_are_neutralised_in_every_file(tmp_path):
    tampered_class(tmp_path)
    paths = write_class_report([tmp_path], tmp_path)
    rows = list(csv.reader(paths["csv"].open(encoding="utf-8", newline="")))
    assert_no_formula(rows)
    mallory = next(row for row in rows if row[1] == "'" + FORMULAS[1])
    assert mallory[0] == "'" + FORMULAS[0] and mallory[4] == "'@evil <b>graded</b> | x"
    assert mallory[2] == f"{float(rows[1][3]) - CATALOGUE['step_of_zero_is_one'].points:g}"  # the score stays a number
    assert "'=1+1|`evil`" in rows[0] and "'=2+2" in mallory
    assert_plain_markdown(paths["markdown"].read_text(encoding="utf-8"))
    page = paths["html"].read_text(encoding="utf-8")
    tags = Tags(page).tags
    assert not any(tag in ("img", "b") and (tag == "b" or "onerror" in attrs) for tag, attrs in tags)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;b&gt;graded&lt;/b&gt;" in page


@pytest.mark.slow
def test_a_file_named_like_a_formula_graded_as_dot(tmp_path, monkeypatch):
    """`propgrade grade .` in a class folder: the file name is the submission's path, the first cell of its row."""
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(FORMULA_NAME, folder / FORMULA_NAME.name)
    (folder / "alice.py").write_text("import torch\n\n\ndef relu(z):\n    return torch.relu(z)\n")
    monkeypatch.chdir(folder)
    assert main(["grade", ".", "--out", str(tmp_path / "out"), "--profile", "ci", "--device", "cpu", "--assignment", str(QUICK), "-j", "1"]) == 0
    rows = list(csv.reader((tmp_path / "out" / "summary.csv").open(encoding="utf-8", newline="")))
    assert_no_formula(rows)
    assert [row[0] for row in rows[1:]] == ["'" + FORMULA_NAME.name, "alice.py"]
    text = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "raised ValueError" in text  # the student's message did reach the summary
    assert_plain_markdown(text)
    assert not any(tag == "img" and "onerror" in attrs for tag, attrs in Tags((tmp_path / "out" / "report.html").read_text(encoding="utf-8")).tags)
