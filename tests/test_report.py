"""The class report, built from results.json files written for hand-made results (no grading here)."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest

from grader import lesson_index, report
from grader.check import Verdict
from grader.cli import main
from grader.grade import CellOutcome
from grader.messages import say
from grader.properties import CATALOGUE, TOPICS
from grader.report import NoResults, read_class, seq_net_state, write_class_report
from grader.results import write_submission
from grader.score import SubmissionResult

HOSTILE = "<script>alert(1)</script>"
STEP_ZERO = say("not_tensor", doing="step(tensor(0.))", got="0.0")
# predicts class 1 everywhere: half of the flower's 400 points are right
ALWAYS_ONE = {"0.weight": [[0.0, 0.0]] * 4, "0.bias": [0.0] * 4, "2.weight": [[0.0] * 4], "2.bias": [1.0]}


def result(sid: str, failures: dict | None = None, *, cells=(), output: str = "", status: str = "graded", seconds: float = 1.0, submission: str | None = None) -> SubmissionResult:
    """Every property passed except ``failures`` (property id -> message)."""
    failures = failures or {}
    verdicts = [Verdict(pid, "failed", failures[pid], counterexample="Draw 1: 0.0") if pid in failures else Verdict(pid, "passed", say("passed")) for pid in CATALOGUE]
    points = {pid: prop.points for pid, prop in CATALOGUE.items()}
    earned = sum(points[v.property] for v in verdicts if v.kind == "passed")
    return SubmissionResult(
        submission=submission or f"class/{sid}.ipynb", id=sid, kind="notebook", score=earned, max_score=sum(points.values()),
        status=status, seconds=seconds, verdicts=verdicts, points=points, cells=list(cells), output=output,
        versions={"propgrade": "0.1.0", "torch": "2.x"}, profile="ci",
    )


def write(result_: SubmissionResult, out: Path, seq_net: dict | None = None, lang: str = "en") -> Path:
    """results.json as grading writes it, with the trained seq_net's numbers where given."""
    path = write_submission(result_, out, lang) / "results.json"
    data = json.loads(path.read_text())
    data["extra_data"]["propgrade"]["seq_net"] = {"state_dict": seq_net} if seq_net is not None else None
    path.write_text(json.dumps(data))
    return path


class Tags(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def student_section(page: str, sid: str) -> str:
    match = re.search(rf'<section class="student" id="s-{re.escape(sid)}">(.*?)</section>', page, re.S)
    assert match, f"no section for {sid}"
    return match.group(1)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    out = tmp_path_factory.mktemp("class")
    broken_cell = CellOutcome(2, False, say("cell_error", cell=2, type="ValueError", message="shapes (3,) and (4,) differ"))
    write(result("alice", {"step_of_zero_is_one": STEP_ZERO}, cells=[CellOutcome(1, True), broken_cell]), out, seq_net=ALWAYS_ONE)
    write(result("bob", {"step_of_zero_is_one": STEP_ZERO, "relu_matches_definition": say("not_tensor", doing="relu(x)", got="None")}, seconds=9.0), out)
    write(result("carol"), out)
    hostile = say("not_tensor", doing="sigmoid(x)", got=HOSTILE)
    write(result("mallory", {"sigmoid_matches_definition": hostile}, output=HOSTILE, submission=f"class/{HOSTILE}.py"), out, seq_net={"0.weight": "nope"})
    paths = write_class_report([out], out)
    return out, paths, paths["html"].read_text()


def test_every_output_is_written(graded_class):
    out, paths, _ = graded_class
    assert paths == {"csv": out / "summary.csv", "markdown": out / "summary.md", "html": out / "report.html"}


def test_report_is_self_contained(graded_class):
    _, _, page = graded_class
    tags = Tags(page).tags
    assert not any(tag in ("script", "link", "iframe", "object") for tag, _ in tags)
    for tag, attrs in tags:
        for name in ("src", "href"):
            if name in attrs:
                assert attrs[name].startswith(("data:image/png;base64,", "#")), (tag, attrs[name][:80])
    assert "http://" not in page and "https://" not in page


def svg_of(text: str) -> ElementTree.Element:
    """The first inline <svg> of a page, parsed as XML (well-formed, as inline SVG need not be but this one is)."""
    match = re.search(r"<svg\b.*?</svg>", text, re.S)
    assert match, "no svg"
    return ElementTree.fromstring(match.group(0))


def test_histogram_is_inline_svg(graded_class):
    """The score histogram is SVG written into the page (no picture to decode), named by the section's heading."""
    _, _, page = graded_class
    overview = re.search(r'<section id="overview">(.*?)</section>', page, re.S).group(1)
    svg = svg_of(overview)
    assert svg.get("role") == "img" and svg.get("aria-label") == "Scores" and svg.findtext("title") == "Scores"
    assert (svg.get("width"), svg.get("height"), svg.get("viewBox")) == ("416", "192", "0 0 416 192")
    bars = svg.findall("g/rect")
    assert [int(bar.get("data-from")) for bar in bars] == list(range(0, 100, 5))
    assert sum(int(bar.get("data-count")) for bar in bars) == 4  # alice, bob, carol, mallory
    assert "<img" not in overview and "data:image/png" not in overview


def test_histogram_counts_percents_in_5_point_bands():
    """Bands [0, 5) ... [90, 95) and [95, 100] (100 in the last), as matplotlib's hist counted them: a value outside
    0 to 100, or NaN, is in none. Bar heights follow the counts; the axes are labelled with numbers only."""
    percents = [0, 4.999, 5, 12.5, 14.999999, 15, 50, 50, 50, 94.99, 95, 99.9, 100, 100, -0.1, 100.5, float("nan")]
    svg = ElementTree.fromstring(report.histogram_svg(percents, "分数"))
    bars = svg.findall("g/rect")
    counts = {int(bar.get("data-from")): int(bar.get("data-count")) for bar in bars}
    expected = dict.fromkeys(range(0, 100, 5), 0) | {0: 2, 5: 1, 10: 2, 15: 1, 50: 3, 90: 1, 95: 4}
    assert counts == expected
    assert svg.get("aria-label") == "分数" and svg.findtext("title") == "分数"
    assert [bar.findtext("title") for bar in bars][-1] == "95–100%: 4"
    heights = {int(bar.get("data-from")): float(bar.get("height")) for bar in bars}
    assert heights[95] == pytest.approx(4 * heights[5]) and heights[5] > 0 and heights[20] == 0
    for bar in bars:  # each bar stands on the x axis: y + height is the same for all
        assert float(bar.get("y")) + float(bar.get("height")) == pytest.approx(float(bars[0].get("y")) + float(bars[0].get("height")))
    assert {bar.get("x") for bar in bars} == {str(38 + 18 * i) for i in range(20)}
    labels = [text.text for text in svg.iter("text")]
    assert labels[:6] == ["0%", "20%", "40%", "60%", "80%", "100%"] and labels[6:] == ["0", "1", "2", "3", "4"]
    group = svg.find("g")
    assert (group.get("fill"), group.get("stroke")) == ("#3b6ea5", "#fff")


@pytest.mark.parametrize("most, ticks", [(0, [0, 1]), (1, [0, 1]), (5, [0, 1, 2, 3, 4, 5]), (7, [0, 2, 4, 6, 8]), (11, [0, 5, 10, 15]), (2000, [0, 500, 1000, 1500, 2000])])
def test_histogram_y_ticks_are_integers(most, ticks):
    assert report.integer_ticks(most) == ticks


def test_an_empty_histogram_is_still_a_picture():
    svg = ElementTree.fromstring(report.histogram_svg([], "Scores"))
    assert {bar.get("data-count") for bar in svg.findall("g/rect")} == {"0"}
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", value) for el in svg.iter() for name, value in el.attrib.items() if name in ("x", "y", "width", "height", "x1", "y1", "x2", "y2"))


def test_pass_rates_are_grouped_by_topic(graded_class):
    _, _, page = graded_class
    rows = re.findall(r'<tr class="(topic|prop)" id="([tp])-([^"]+)">', page)
    topics = [name for kind, _, name in rows if kind == "topic"]
    assert topics == [t for t in TOPICS if any(p.topic == t for p in CATALOGUE.values())]
    assert [name for kind, _, name in rows if kind == "prop"] == sorted(CATALOGUE, key=lambda pid: list(TOPICS).index(CATALOGUE[pid].topic))
    step_row = re.search(r'<tr class="prop" id="p-step_of_zero_is_one">(.*?)</tr>', page).group(1)
    assert html.escape(CATALOGUE["step_of_zero_is_one"].statement) in step_row
    assert "50% (2/4)" in step_row


def test_failures_are_clustered_across_students(graded_class):
    _, _, page = graded_class
    clusters = re.findall(r'<li class="cluster">(.*?)</li>', page, re.S)
    first = clusters[0]
    assert "2 submissions" in first and "step_of_zero_is_one" in first
    assert "step(tensor(0.)) returned 0.0, expected a tensor" in first
    assert 'href="#s-alice"' in first and 'href="#s-bob"' in first and "#s-carol" not in first
    assert len(clusters) == 3


def test_cells_that_raised_are_listed(graded_class):
    _, _, page = graded_class
    section = re.search(r'<section id="cells">(.*?)</section>', page, re.S).group(1)
    assert 'href="#s-alice"' in section and "<td>2</td>" in section
    assert "cell 2 raised ValueError: shapes (3,) and (4,) differ" in section
    assert "#s-bob" not in section


def test_submissions_never_checked_are_listed_not_clustered(tmp_path):
    crash = say("crashed", doing=say("grading"), how="SIGKILL")
    crashed = result("zed", status="crashed")
    crashed.verdicts = [Verdict(v.property, "crashed", crash) for v in crashed.verdicts]
    crashed.score = 0.0
    write(crashed, tmp_path)
    write(result("amy", {"step_of_zero_is_one": STEP_ZERO}), tmp_path)
    page = write_class_report([tmp_path], tmp_path)["html"].read_text()
    assert len(re.findall(r'<li class="cluster">', page)) == 1
    cells = re.search(r'<section id="cells">(.*?)</section>', page, re.S).group(1)
    assert "Submissions that could not be graded" in cells and 'href="#s-zed"' in cells and "SIGKILL" in cells


def test_grading_time_is_summarised(graded_class):
    _, _, page = graded_class
    section = re.search(r'<section id="times">(.*?)</section>', page, re.S).group(1)
    assert "median 1.0 s" in section and "max 9.0 s" in section
    assert section.index("#s-bob") < section.index("#s-alice")


def test_each_student_has_a_linkable_section_with_failed_properties_first(graded_class):
    _, _, page = graded_class
    for sid in ("alice", "bob", "carol", "mallory"):
        assert f'id="s-{sid}"' in page
    bob = student_section(page, "bob")
    assert "relu(x) returned None, expected a tensor" in bob and "Failed (2)" in bob
    assert bob.index("step_of_zero_is_one") < bob.index("Passed (")
    results = json.loads((graded_class[0] / "bob" / "results.json").read_text())
    assert results["output"].splitlines()[0] in bob
    carol = student_section(page, "carol")
    assert "Failed" not in carol and f"Passed ({len(CATALOGUE)})" in carol and "holds" in carol


def test_decision_boundary_only_where_seq_net_was_saved(graded_class):
    _, _, page = graded_class
    alice = student_section(page, "alice")
    assert '<figure class="boundary"><img src="data:image/png;base64,' in alice
    assert "accuracy on the flower data 50.0%" in alice
    assert "boundary" not in student_section(page, "carol")
    assert "boundary" not in student_section(page, "mallory")  # malformed numbers: no picture, no crash


def test_student_text_cannot_inject_markup(graded_class):
    _, paths, page = graded_class
    assert "<script" not in page
    mallory = student_section(page, "mallory")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mallory
    assert "<script" not in paths["markdown"].read_text()


def test_summary_csv_is_the_gradebook(graded_class):
    _, paths, _ = graded_class
    with paths["csv"].open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["submission", "id", "score", "max_score", "status", "seconds", *CATALOGUE]
    by_id = {row[1]: dict(zip(rows[0], row)) for row in rows[1:]}
    assert set(by_id) == {"alice", "bob", "carol", "mallory"}
    assert by_id["bob"]["step_of_zero_is_one"] == "failed" and by_id["bob"]["sigmoid_matches_definition"] == "passed"
    assert by_id["bob"]["seconds"] == "9.00" and by_id["alice"]["submission"] == "class/alice.ipynb"
    assert float(by_id["carol"]["score"]) == float(by_id["carol"]["max_score"])


def test_summary_md_fits_a_step_summary(graded_class):
    _, paths, _ = graded_class
    text = paths["markdown"].read_text()
    assert "## propgrade: 4 submissions" in text
    assert "4 graded · 0 unreadable · 0 crashed" in text and "Mean score" in text
    assert "| Activation functions |" in text
    assert "1. **2** × `step_of_zero_is_one`" in text
    table = text.split("(lowest score first)")[1]
    assert table.index("bob") < table.index("carol")


def test_summary_md_names_no_hidden_property(tmp_path):
    """A CI step summary can be a student's page (a workflow on their repository): hidden failures stay in report.html only."""
    hidden = result("erin", {"step_of_zero_is_one": STEP_ZERO})
    hidden.visibility = {"step_of_zero_is_one": "hidden"}
    write(hidden, tmp_path)
    paths = write_class_report([tmp_path], tmp_path / "report")
    assert "step_of_zero_is_one" not in paths["markdown"].read_text()
    assert "step_of_zero_is_one" in paths["html"].read_text()


def test_summary_md_table_is_capped(tmp_path):
    for n in range(53):
        write(result(f"s{n:02}"), tmp_path)
    text = write_class_report([tmp_path], tmp_path / "report")["markdown"].read_text()
    assert text.count("| s") == 50 and "and 3 more" in text


def test_headings_follow_the_language(tmp_path):
    write(result("li", {"step_of_zero_is_one": STEP_ZERO}), tmp_path, lang="zh")
    paths = write_class_report([tmp_path], tmp_path, lang="zh")
    page = paths["html"].read_text()
    assert '<html lang="zh">' in page and "各性质的通过率" in page and "激活函数" in page
    assert "得分" in student_section(page, "li")
    assert "最常见的错误" in paths["markdown"].read_text()


def test_shards_merge_and_the_last_written_duplicate_wins(tmp_path, capsys):
    first, second = tmp_path / "shard-1", tmp_path / "shard-2"
    write(result("alice", {"step_of_zero_is_one": STEP_ZERO}), first)
    write(result("bob"), first)
    older = write(result("carol", {"step_of_zero_is_one": STEP_ZERO}), first)
    newer = write(result("carol"), second)
    write(result("dave"), second)
    os.utime(older, ns=(1_000_000_000, 1_000_000_000))
    os.utime(newer, ns=(2_000_000_000, 2_000_000_000))
    assert main(["report", str(second), str(first), "--out", str(tmp_path / "merged")]) == 0
    streams = capsys.readouterr()
    assert "carol" in streams.err and str(newer) in streams.err.split("keeping")[1]
    assert "wrote" in streams.out and "report.html" in streams.out
    with (tmp_path / "merged" / "summary.csv").open() as f:
        rows = {row["id"]: row for row in csv.DictReader(f)}
    assert sorted(rows) == ["alice", "bob", "carol", "dave"]
    assert rows["carol"]["step_of_zero_is_one"] == "passed"


def test_corrupt_results_are_a_warning_not_a_crash(tmp_path, capsys):
    write(result("alice"), tmp_path)
    for name, text in (("truncated", '{"score": 1, "tests": ['), ("foreign", '{"score": 999}'), ("binary", "\udcff")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(text, errors="surrogateescape")
    paths = write_class_report([tmp_path], tmp_path / "report")
    warnings = capsys.readouterr().err
    for name in ("truncated", "foreign", "binary"):
        assert f"{name}/results.json" in warnings
    graded, _ = read_class([tmp_path])
    assert [g.id for g in graded] == ["alice"]
    assert 'id="s-alice"' in paths["html"].read_text()


def test_no_results_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(NoResults):
        write_class_report([tmp_path], tmp_path)
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "no results.json found" in capsys.readouterr().err


@pytest.mark.parametrize(
    "state",
    [
        None,
        {**ALWAYS_ONE, "2.bias": [True]},
        {**ALWAYS_ONE, "2.bias": [float("nan")]},
        {**ALWAYS_ONE, "0.weight": [[0.0, 0.0]] * 3},
        {**ALWAYS_ONE, "extra": [1.0]},
        {**ALWAYS_ONE, "2.weight": [0.0] * 4},
        {**ALWAYS_ONE, "0.bias": ["0"] * 4},
    ],
)
def test_only_plain_finite_numbers_of_the_lesson_shapes_are_drawn(state):
    assert seq_net_state({"seq_net": {"state_dict": state}}) is None


def test_well_formed_seq_net_is_accepted():
    assert seq_net_state({"seq_net": {"state_dict": ALWAYS_ONE}}) == ALWAYS_ONE
    assert seq_net_state({"seq_net": None}) is None and seq_net_state({}) is None


# -- names not defined: a table of their own, not clusters ---------------------------------------------------------


def lacking(sid: str, names: list[str], failures: dict | None = None) -> SubmissionResult:
    """``result(sid, failures)`` with every property that needs one of ``names`` missing, as grading leaves it."""
    graded = result(sid, failures)
    for n, verdict in enumerate(graded.verdicts):
        absent = [name for name in CATALOGUE[verdict.property].needs if name in names]
        if absent:
            graded.verdicts[n] = Verdict(verdict.property, "missing", say("missing", names=", ".join(absent)))
    graded.score = sum(graded.points[v.property] for v in graded.verdicts if v.kind == "passed")
    return graded


def needing(*names: str) -> set[str]:
    return {pid for pid, prop in CATALOGUE.items() if set(prop.needs) & set(names)}


@pytest.fixture(scope="module")
def class_lacking_names(tmp_path_factory):
    out = tmp_path_factory.mktemp("lacking")
    write(lacking("ann", ["collapse_linear"], {"step_of_zero_is_one": STEP_ZERO}), out)
    write(lacking("ben", ["collapse_linear"]), out)
    write(lacking("cid", ["collapse_linear", "save_params", "load_params"]), out)
    write(result("dee"), out)
    return write_class_report([out], out)


def test_missing_names_have_their_own_table_with_links(class_lacking_names):
    page = class_lacking_names["html"].read_text()
    section = re.search(r'<section id="missing">(.*?)</section>', page, re.S).group(1)
    rows = re.findall(r'<tr class="missing">(.*?)</tr>', section, re.S)
    names = [re.search(r"<code>(.*?)</code>", row).group(1) for row in rows]
    assert names == ["collapse_linear", "load_params", "save_params"]  # most often missing first, then by name
    first = rows[0]
    assert "3 submissions" in first and f'<td class="num">{len(needing("collapse_linear"))}</td>' in first
    assert all(f'href="#s-{sid}"' in first for sid in ("ann", "ben", "cid")) and "#s-dee" not in first
    assert "1 submission" in rows[1] and 'href="#s-cid"' in rows[1] and "#s-ann" not in rows[1]
    assert f'<td class="num">{len(needing("load_params"))}</td>' in rows[1]
    assert 'href="#missing"' in page  # the header's table of contents


def test_missing_names_are_not_clustered_as_failures(class_lacking_names):
    page = class_lacking_names["html"].read_text()
    clusters = re.findall(r'<li class="cluster">(.*?)</li>', page, re.S)
    assert len(clusters) == 1 and "step_of_zero_is_one" in clusters[0]
    assert "is not defined" not in "".join(clusters)
    text = class_lacking_names["markdown"].read_text()
    failures = text.split("### Most common failures")[1].split("###")[0]
    assert "1. **1** × `step_of_zero_is_one`" in failures and "not defined" not in failures
    table = text.split("### Names not defined")[1].split("###")[0]
    assert "| Name | Submissions | Properties not checked |" in table
    assert f"| `collapse_linear` | 3 | {len(needing('collapse_linear'))} |" in table
    assert f"| `save_params` | 1 | {len(needing('save_params'))} |" in table
    assert table.index("collapse_linear") < table.index("load_params") < table.index("save_params")


def test_no_missing_names_says_so(graded_class):
    _, paths, page = graded_class
    section = re.search(r'<section id="missing">(.*?)</section>', page, re.S).group(1)
    assert "Every submission defines every name." in section and "<table" not in section
    assert "Names not defined" not in paths["markdown"].read_text()


def test_missing_names_in_chinese(tmp_path):
    write(lacking("li", ["collapse_linear"]), tmp_path, lang="zh")
    paths = write_class_report([tmp_path], tmp_path, lang="zh")
    section = re.search(r'<section id="missing">(.*?)</section>', paths["html"].read_text(), re.S).group(1)
    assert "未定义的名称" in section and "无法检查的性质" in section and "1 份提交" in section and "collapse_linear" in section
    text = paths["markdown"].read_text()
    assert "### 未定义的名称" in text and "| `collapse_linear` | 1 |" in text


def test_missing_names_of_hidden_properties_stay_out_of_the_summary(tmp_path):
    hidden = lacking("erin", ["collapse_linear"])
    hidden.visibility = {pid: "hidden" for pid in needing("collapse_linear")}
    write(hidden, tmp_path)
    paths = write_class_report([tmp_path], tmp_path / "report")
    assert "collapse_linear" not in paths["markdown"].read_text()
    assert "<code>collapse_linear</code>" in re.search(r'<section id="missing">(.*?)</section>', paths["html"].read_text(), re.S).group(1)


def test_a_rewritten_missing_record_is_shown_as_text(tmp_path):
    """A record that does not say which name in the grader's words (a rewritten results.json) counts under its
    message, neutralised like any student text."""
    path = write(lacking("mallory", ["collapse_linear"]), tmp_path)
    data = json.loads(path.read_text())
    forged = "@org/team <script>alert(1)</script> | x [link](http://evil.example) is not defined"
    for record in data["extra_data"]["propgrade"]["properties"]:
        if record["verdict"] == "missing":
            record["message"] = {"en": forged, "zh": forged}
    path.write_text(json.dumps(data))
    paths = write_class_report([tmp_path], tmp_path / "report")
    page = paths["html"].read_text()
    section = re.search(r'<section id="missing">(.*?)</section>', page, re.S).group(1)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section and "<script" not in page
    assert len(re.findall(r'<tr class="missing">', section)) == 1
    text = paths["markdown"].read_text()
    table = text.split("### Names not defined")[1].split("###")[0]
    assert "<script" not in text and "http://" not in text and "](" not in table.replace("\\](", "")
    row = next(line for line in table.splitlines() if "org/team" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 4  # the student's pipe does not split a cell


# -- the report without torch, and reading results.json --------------------------------------------------------------


def test_the_lesson_index_is_the_live_catalogue():
    """grader/lesson_index_data.py, which the report reads instead of the catalogue's modules (they import torch), is
    written from the sources as they are: after a change to a property, run python -m grader.lesson_index --write."""
    stored = lesson_index.stored()
    assert stored is not None, "grader/lesson_index_data.py is missing: python -m grader.lesson_index --write"
    index, fingerprint = stored
    assert index == lesson_index.live(), "the catalogue changed: python -m grader.lesson_index --write"
    assert fingerprint == lesson_index.fingerprint(), "its sources changed: python -m grader.lesson_index --write"
    assert list(index.properties) == list(CATALOGUE) and list(index.topics) == list(TOPICS)


def test_a_stale_index_gives_way_to_the_live_catalogue(monkeypatch, capsys):
    monkeypatch.setattr(lesson_index, "fingerprint", lambda: "changed since")
    lesson_index.load.cache_clear()
    try:
        assert lesson_index.load() == lesson_index.live()
        assert "python -m grader.lesson_index --write" in capsys.readouterr().err
    finally:
        lesson_index.load.cache_clear()


def test_the_report_imports_neither_torch_nor_hypothesis(graded_class, tmp_path):
    """propgrade report on a class, in a fresh process, through the command line: torch is never imported."""
    out, _, _ = graded_class
    code = (  # the command itself, as `propgrade report DIR --out OUT` runs it
        "import sys; from grader.cli import main;"
        "code = main(['report', sys.argv[1], '--out', sys.argv[2]]);"
        "print(sorted(m for m in ('torch', 'hypothesis', 'reference', 'grader.properties', 'grader.check', 'matplotlib') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run([sys.executable, "-c", code, str(out), str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]" and "lesson_index" not in run.stderr  # nor a stale index, which would read the catalogue
    assert (tmp_path / "report.html").read_text().count('<section class="student"') == 4


def test_the_report_never_imports_matplotlib(graded_class, tmp_path):
    """import grader.report and a class report built with it (a decision boundary too), in a fresh process: the
    histogram is SVG written as text, so neither matplotlib nor PIL is imported (they cost a grading run 0.3 s or more)."""
    out, _, _ = graded_class
    code = (
        "import sys; from pathlib import Path; from grader import report;"
        "report.write_class_report([Path(sys.argv[1])], Path(sys.argv[2]));"
        "print(sorted(m for m in ('matplotlib', 'PIL') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", code, str(out), str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]"
    page = (tmp_path / "report.html").read_text()
    assert '<svg class="histogram"' in page and '<figure class="boundary"><img src="data:image/png;base64,' in page


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '{"a": NaN, "b": Infinity}',
        '{"a": 123456789012345678901234567890, "b": -9223372036854775809, "c": 18446744073709551616}',
        '{"a": "\\ud800", "b": "x\\u0000y"}',
        '{"a": 0.0037030368112027645, "b": 1e400, "c": -0.0, "d": 5e-324}',
        '{"seed": 1234567890123456789012, "id": "abc1234567890123456789"}',
        '{"a": 1, "a": 2}',
    ],
)
def test_results_are_read_as_the_json_module_reads_them(text):
    """orjson, where it is installed, reads most files; where it would read one otherwise (a NaN, a lone surrogate, an
    integer beyond 64 bits, which it makes a float), the json module does."""
    expected, got = json.loads(text), report.parse_json(text.encode())
    assert repr(got) == repr(expected) and [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def test_unreadable_results_are_warned_about_in_the_words_of_a_text_read(tmp_path, capsys):
    write(result("alice"), tmp_path)
    (tmp_path / "crlf").mkdir()
    (tmp_path / "crlf" / "results.json").write_bytes(b'{\r\n"score": 1,\r\n"tests": [')
    (tmp_path / "latin1").mkdir()
    (tmp_path / "latin1" / "results.json").write_bytes(b'{"score": "\xe9"}')
    write_class_report([tmp_path], tmp_path / "report")
    warnings = capsys.readouterr().err
    for name in ("crlf", "latin1"):
        path = tmp_path / name / "results.json"
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            assert f"skipped {path}: {error}" in warnings
