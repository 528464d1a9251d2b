"""A large class's report: report.html stays small (feedback on numbered pages beside it), each
distinct decision-boundary picture is drawn once, student text stays escaped on every page, and
submissions the grader failed are counted apart from students' crashes."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader import report
from grader.check import Verdict
from grader.messages import say
from grader.properties import CATALOGUE
from grader.report import BoundaryPictures, seq_net_state, write_class_report
from grader.results import write_submission
from grader.score import SubmissionResult

HOSTILE = "<script>alert(1)</script>"
ALWAYS_ONE = {"0.weight": [[0.0, 0.0]] * 4, "0.bias": [0.0] * 4, "2.weight": [[0.0] * 4], "2.bias": [1.0]}
ALWAYS_ONE_AGAIN = {**ALWAYS_ONE, "2.bias": [2.0]}  # other numbers, the same picture
SPLIT_X = {"0.weight": [[1.0, 0.0]] * 4, "0.bias": [0.0] * 4, "2.weight": [[1.0] * 4], "2.bias": [0.0]}


def result(sid: str, *, status: str = "graded", failing: str | None = None, output: str = "") -> SubmissionResult:
    message = say("not_tensor", doing="relu(x)", got=output or "None")
    verdicts = [Verdict(pid, "failed" if pid == failing else "passed", message if pid == failing else say("passed")) for pid in CATALOGUE]
    points = {pid: prop.points for pid, prop in CATALOGUE.items()}
    return SubmissionResult(
        submission=f"class/{sid}.py", id=sid, kind="module", score=sum(points.values()), max_score=sum(points.values()), status=status,
        seconds=1.0, verdicts=verdicts, points=points, output=output, versions={"propgrade": "0.1.0"}, profile="ci",
    )


def write(result_: SubmissionResult, out: Path, seq_net: dict | None = None) -> None:
    path = write_submission(result_, out) / "results.json"
    data = json.loads(path.read_text())
    data["extra_data"]["propgrade"]["seq_net"] = {"state_dict": seq_net} if seq_net is not None else None
    path.write_text(json.dumps(data))


class Tags(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def large_class(tmp_path_factory):
    """Seven students, with the thresholds lowered so that they count as a large class: pages of three."""
    patch = pytest.MonkeyPatch()
    patch.setattr(report, "INLINE_STUDENTS", 4)
    patch.setattr(report, "STUDENTS_PER_PAGE", 3)
    out = tmp_path_factory.mktemp("class")
    for n in range(5):
        write(result(f"s{n}", failing="relu_matches_definition" if n % 2 else None), out, seq_net=[ALWAYS_ONE, ALWAYS_ONE_AGAIN, SPLIT_X][n % 3])
    write(result("mallory", failing="relu_matches_definition", output=HOSTILE), out, seq_net=ALWAYS_ONE)
    write(result("zed", status="grader_failed"), out)
    (out / "report-students").mkdir()
    (out / "report-students" / "students-009.html").write_text("left by an earlier, larger report")
    paths = write_class_report([out], out)
    patch.undo()
    return out, paths


def test_a_large_class_gets_a_small_main_page_and_numbered_pages(large_class):
    out, paths = large_class
    assert paths["students"] == out / "report-students"
    assert sorted(p.name for p in (out / "report-students").iterdir()) == ["students-001.html", "students-002.html", "students-003.html"]
    page = paths["html"].read_text()
    assert '<section class="student"' not in page
    links = {attrs["href"] for tag, attrs in Tags(page).tags if tag == "a" and attrs["href"].startswith("report-students/")}
    assert "report-students/students-003.html#s-zed" in links and "report-students/students-002.html#s-s3" in links


def test_every_link_to_a_student_reaches_their_section(large_class):
    out, paths = large_class
    for tag, attrs in Tags(paths["html"].read_text()).tags:
        href = attrs.get("href", "#")
        if tag == "a" and not href.startswith("#"):
            file, anchor = href.split("#")
            assert f'id="{anchor}"' in (out / file).read_text(), href


def test_student_pages_are_self_contained_and_escape_student_text(large_class):
    out, _ = large_class
    for page in (out / "report-students").iterdir():
        text = page.read_text()
        assert "<script" not in text
        for tag, attrs in Tags(text).tags:
            assert tag not in ("script", "link", "iframe", "object")
            for name in ("src", "href"):
                if name in attrs:
                    assert attrs[name].startswith(("data:image/png;base64,", "#", "../report.html")), attrs[name][:80]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (out / "report-students" / "students-001.html").read_text()


def test_one_picture_per_distinct_boundary(large_class):
    out, _ = large_class
    pictures = set()
    for page in (out / "report-students").iterdir():
        pictures |= set(re.findall(r'src="(data:image/png;base64,[^"]+)"', page.read_text()))
    assert len(pictures) == 2  # ALWAYS_ONE and ALWAYS_ONE_AGAIN look the same; SPLIT_X differs
    drawn = BoundaryPictures()
    first, _ = drawn(ALWAYS_ONE)
    again, accuracy = drawn(ALWAYS_ONE_AGAIN)
    assert first is again and len(drawn.drawn) == 1 and accuracy == pytest.approx(50.0)
    assert drawn(SPLIT_X)[0] != first and len(drawn.drawn) == 2


def test_a_picture_is_the_lessons_size_and_colours():
    import base64
    import io

    from PIL import Image

    picture, _ = BoundaryPictures()(seq_net_state({"seq_net": {"state_dict": SPLIT_X}}))
    image = Image.open(io.BytesIO(base64.b64decode(picture.removeprefix("data:image/png;base64,")))).convert("RGB")
    assert image.size == (210, 210)
    colours = {colour for _, colour in image.getcolors()}
    assert {(209, 223, 254), (250, 213, 201)} <= colours  # both classes' regions: seq_net splits the plane at x = 0


def test_grader_failures_are_counted_apart_from_crashes(large_class):
    _, paths = large_class
    assert "6 graded · 0 unreadable · 0 crashed · 1 not graded (the grader failed)" in paths["markdown"].read_text()
    assert "1 not graded (the grader failed)" in paths["html"].read_text()


def test_a_class_back_on_one_page_leaves_no_earlier_pages(large_class, tmp_path):
    out, _ = large_class
    (tmp_path / "s0").mkdir()
    (tmp_path / "s0" / "results.json").write_bytes((out / "s0" / "results.json").read_bytes())
    (tmp_path / "report-students").mkdir()
    (tmp_path / "report-students" / "students-001.html").write_text("an earlier, larger class")
    paths = write_class_report([tmp_path], tmp_path)
    assert "students" not in paths and list((tmp_path / "report-students").iterdir()) == []
    assert '<section class="student" id="s-s0">' in paths["html"].read_text()


def test_a_picture_written_directly_has_the_pixels_pillow_would_write():
    """Boundary pictures are PNGs written by propgrade itself (faster than Pillow): any reader sees the same pixels."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    plane = report.flower_plane()
    regions = (report.seq_net_outputs(SPLIT_X, plane.grid) > 0).reshape(report.GRID_CELLS, report.GRID_CELLS)
    uri = report.boundary_png(regions, plane)
    ours = Image.open(io.BytesIO(base64.b64decode(uri.removeprefix("data:image/png;base64,"))))
    pixels = np.repeat(np.repeat(regions.astype(np.uint8), 2, axis=0), 2, axis=1)
    pixels[plane.dots] = 2 + plane.dot_classes
    pixels[[0, -1], :] = pixels[:, [0, -1]] = report.FRAME
    pillows = Image.fromarray(pixels, mode="P")
    pillows.putpalette(report.BOUNDARY_PALETTE)
    assert np.array_equal(np.asarray(ours.convert("RGB")), np.asarray(pillows.convert("RGB")))
    assert len(set(np.asarray(ours).ravel().tolist())) == 5  # both regions, both classes' points, the frame
