"""The class report: the gradebook (summary.csv), a step summary (summary.md) and report.html, with each
student's feedback on it (up to ``INLINE_STUDENTS``) or on numbered pages beside it (a large class:
report.html stays small and opens at once). Decision-boundary pictures are drawn once per distinct picture.

Everything is read back from the ``<id>/results.json`` files on disk, never taken from
results in memory, so one code path serves a fresh run and a merge of shards graded on
several machines (``propgrade report shard-*/ --out merged``).

Each results.json is read once: the student's feedback (most of the file) is rendered into their
section as it is read, and only what the class's pages count is kept of the rest, so a class of
2,000 fits in little memory. Neither this module nor what it imports needs torch or Hypothesis: the
catalogue's plain data comes from ``grader.lesson_index``.
"""

from __future__ import annotations

import base64
import csv
import gc
import hashlib
import html
import io
import json
import math
import re
import statistics
import struct
import sys
import unicodedata
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache, partial
from itertools import repeat
from pathlib import Path
from string import Template

from grader import __version__, lesson_index
from grader.messages import TEMPLATES
from grader.results import atomic_write
from grader.score import percent

FAILING = ("failed", "error", "timeout", "crashed", "missing")
FAILING_SET = frozenset(FAILING)
MARKDOWN_ROWS = 50
CLUSTERS_SHOWN = 25
SLOWEST_SHOWN = 10

HEADINGS = {
    "title": ("propgrade class report", "propgrade 班级报告"),
    "md_title": ("propgrade: {n} submissions", "propgrade：{n} 份提交"),
    "submissions": ("Submissions", "提交"),
    "counts": (
        "{n} graded · {unreadable} unreadable · {crashed} crashed · {grader_failed} not graded (the grader failed)",
        "已评分 {n} · 无法读取 {unreadable} · 崩溃 {crashed} · 未评分（评分程序出错）{grader_failed}",
    ),
    "scores": ("Mean score {mean:.1f}%, median {median:.1f}%", "平均分 {mean:.1f}%，中位数 {median:.1f}%"),
    "graded_at": ("Graded", "评分时间"),
    "built_at": ("Report built", "报告生成时间"),
    "version": ("propgrade version", "propgrade 版本"),
    "profile": ("Profile", "配置"),
    "seed": ("Seed", "随机种子"),
    "device": ("Device", "设备"),
    "torch": ("torch", "torch"),
    "histogram": ("Scores", "分数"),
    "histogram_caption": ("Submissions per score band (percent of the maximum).", "各分数段（占满分的百分比）的提交数。"),
    "pass_rates": ("Pass rate per property", "各性质的通过率"),
    "topic_rates": ("Pass rate per topic", "各主题的通过率"),
    "topic": ("Topic", "主题"),
    "property": ("Property", "性质"),
    "points": ("Points", "分值"),
    "pass_rate": ("Pass rate", "通过率"),
    "not_checked": ("not checked", "未检查"),
    "clusters": ("Most common failures", "最常见的错误"),
    "clusters_intro": (
        "Failing verdicts with the same property and the same minimal counterexample, across students "
        "(names a submission does not define are counted once each, under Names not defined).",
        "按性质与最小反例归并的失败结果（跨学生统计；提交中未定义的名称每个只计一次，见“未定义的名称”）。",
    ),
    "cluster_count": ("{n} submissions", "{n} 份提交"),
    "cluster_one": ("1 submission", "1 份提交"),
    "more_clusters": ("and {n} more distinct failures", "另有 {n} 种不同的错误"),
    "no_failures": ("No failures.", "没有失败的性质。"),
    "missing": ("Names not defined", "未定义的名称"),
    "missing_intro": (
        "Names of the contract that submissions do not define: each leaves the properties that need it unchecked (verdict missing).",
        "提交中没有定义的约定名称：需要它的性质都无法检查（结果为 missing）。",
    ),
    "name": ("Name", "名称"),
    "unchecked": ("Properties not checked", "无法检查的性质"),
    "no_missing": ("Every submission defines every name.", "每份提交都定义了所有名称。"),
    "more_missing": ("and {n} more names", "另有 {n} 个名称"),
    "cells": ("Notebook cells that raised", "抛出异常的单元格"),
    "cell": ("Cell", "单元格"),
    "message": ("Message", "信息"),
    "no_cells": ("No cell raised.", "没有单元格抛出异常。"),
    "not_graded": ("Submissions that could not be graded", "无法评分的提交"),
    "times": ("Grading time", "评分耗时"),
    "time_stats": ("median {median:.1f} s · p95 {p95:.1f} s · max {max:.1f} s · total {total:.0f} s", "中位数 {median:.1f} 秒 · p95 {p95:.1f} 秒 · 最长 {max:.1f} 秒 · 合计 {total:.0f} 秒"),
    "slowest": ("Slowest submissions", "耗时最长的提交"),
    "seconds": ("Seconds", "秒"),
    "students": ("Feedback per submission", "每份提交的反馈"),
    "student": ("Submission", "提交"),
    "score": ("Score", "得分"),
    "status": ("Status", "状态"),
    "failed_tests": ("Failed ({n})", "未通过（{n}）"),
    "passed_tests": ("Passed ({n})", "通过（{n}）"),
    "skipped_tests": ("Not checked ({n})", "未检查（{n}）"),
    "boundary_caption": ("seq_net's decision boundary; accuracy on the flower data {accuracy:.1f}%", "seq_net 的决策边界；在 flower 数据上的准确率 {accuracy:.1f}%"),
    "lowest_first": ("Submissions (lowest score first)", "提交（按得分从低到高）"),
    "more_rows": ("and {n} more: see summary.csv", "另有 {n} 份：见 summary.csv"),
}


def heading(key: str, lang: str, **fields) -> str:
    return HEADINGS[key][0 if lang == "en" else 1].format(**fields)


class NoResults(ValueError):
    """No results.json was found in any source folder."""


class Graded:
    """One submission's results.json as read back: the little the class's pages need of it (scores, verdicts,
    the failing properties' messages, cells that raised, how it was graded) and, once rendered, the student's
    section of feedback. The rest of the file (each test's output, the trained numbers) is not kept."""

    __slots__ = ("path", "written_ns", "id", "submission", "status", "score", "max_score", "seconds", "ids", "verdicts",
                 "problems", "topics", "failed_cells", "why_not_graded", "facts", "section")

    def __init__(self, path: Path, written_ns: int, data: dict, shared: dict | None = None):
        record = data["extra_data"]["propgrade"]
        shared = {} if shared is None else shared  # one tuple for equal ones: most records list the same properties, many with the same verdicts
        self.path = path
        self.written_ns = written_ns
        self.id: str = record["id"]
        self.submission = str(record.get("submission", ""))
        self.status = str(record.get("status", ""))
        self.score = float(data["score"])
        self.max_score = float(data["max_score"])
        self.seconds = float(data.get("execution_time", 0.0))
        properties = record["properties"]
        ids, verdicts = _each(properties, "id"), _each(properties, "verdict")
        self.ids: tuple[str, ...] = shared.setdefault(ids, ids)  # in the record's order, repeats kept
        self.verdicts: tuple[str, ...] = shared.setdefault(verdicts, verdicts)
        # failing verdicts: (id, verdict, visible to students, message), for the clusters and the names not defined
        self.problems: list[tuple[str, str, bool, dict]] = []
        if not FAILING_SET.isdisjoint(verdicts):
            for p in properties:
                if p["verdict"] in FAILING_SET:
                    message = p.get("message")
                    self.problems.append((p["id"], p["verdict"], p.get("visibility", "visible") == "visible", message if isinstance(message, dict) else {}))
        self.topics: dict[str, str] = {}  # the topic each property this catalogue lacks says it has (an older run)
        known = lesson_index.load().properties
        if not all(map(known.__contains__, ids)):
            for p in properties:
                if p["id"] not in known:
                    self.topics.setdefault(p["id"], str(p.get("topic")))
        self.failed_cells: list[dict] = [c for c in record.get("cells", []) if isinstance(c, dict) and not c.get("ok", True)]
        self.why_not_graded = "" if self.status == "graded" else _why_not_graded(record)
        versions = record.get("versions", {})
        # how it was graded, for the report's header: propgrade's version, profile, seed, device, torch's version
        self.facts = tuple(str(value) for value in (versions.get("propgrade", "?"), record.get("profile", "?"), record.get("seed", "?"),
                                                    record.get("device", "?"), versions.get("torch", "?")))
        self.section: str | None = None

    @property
    def percent(self) -> float:
        return percent(self.score, self.max_score)


def _why_not_graded(record: dict) -> str:
    """The reading problem, else the message its properties share (a crash ends them all the same way)."""
    messages = [p["message"].get("en", "") for p in record["properties"] if isinstance(p.get("message"), dict) and p["verdict"] != "skipped"]
    return str(record.get("problem") or (messages[0] if messages else ""))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _all_are(values, kind: type) -> bool:
    """Whether every value is a ``kind`` (JSON makes no subclasses: their types are compared, in C, not each one in Python)."""
    return set(map(type, values)) <= {kind}


def _each(objects: list[dict], key: str) -> tuple:
    """``tuple(o.get(key) for o in objects)``, in C."""
    return tuple(map(dict.get, objects, repeat(key)))


def _problem_with(data) -> str | None:
    """Why ``data`` is not a results.json this report can use, or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    if not (_is_number(data.get("score")) and _is_number(data.get("max_score"))):
        return "no numeric score and max_score"
    record = data.get("extra_data", {}).get("propgrade") if isinstance(data.get("extra_data"), dict) else None
    if not isinstance(record, dict):
        return "no extra_data.propgrade record"
    if not isinstance(record.get("id"), str) or not record["id"]:
        return "the record has no id"
    properties = record.get("properties")
    if not isinstance(properties, list) or not (_all_are(properties, dict) and _all_are(_each(properties, "id"), str) and _all_are(_each(properties, "verdict"), str)):
        return "the record's properties are malformed"
    if not isinstance(data.get("tests", []), list) or not _all_are(data.get("tests", []), dict):
        return "tests is not a list of objects"
    if not _is_number(data.get("execution_time", 0.0)):
        return "execution_time is not a number"
    if not isinstance(record.get("cells", []), list) or not isinstance(record.get("versions", {}), dict):
        return "the record's cells or versions are malformed"
    return None


try:  # not a dependency: where it is installed, it reads a class's results three times as fast as the json module
    import orjson
except ImportError:  # pragma: no cover - depends on the machine
    orjson = None

# Every byte as " ", but digits as "0" and the decimal point as itself: 19 digits after anything but a point may be an
# integer beyond 64 bits, which orjson reads as a float and the json module as an int (a fraction's digits are no such risk)
_DIGITS_AS_ZERO = bytes(ord("0") if chr(b).isdigit() and b < 128 else ord(".") if b == ord(".") else ord(" ") for b in range(256))
_LONG_NUMBER = b" " + b"0" * 19


def parse_json(raw: bytes):
    """JSON in UTF-8 as ``json.loads`` reads it (the reference): with orjson where it is installed and the text is one it
    reads the same way, else (NaN, a lone surrogate, a long integer, an error) with the json module."""
    if orjson is not None and _LONG_NUMBER not in raw.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw.decode("utf-8"))


def read_results(path: Path) -> dict:
    """A results.json's content, checked; ValueError or OSError says why it cannot be used."""
    raw = path.read_bytes()
    try:
        data = parse_json(raw)
    except ValueError:
        data = json.loads(path.read_text(encoding="utf-8"))  # raises again, with the words (and positions) a text read gives
    problem = _problem_with(data)
    if problem:
        raise ValueError(problem)
    return data


def load_graded(path: Path) -> Graded:
    """Read one results.json; ValueError or OSError says why it cannot be used."""
    data = read_results(path)
    return Graded(path, path.stat().st_mtime_ns, data)


def _real_path(path: Path, folder: Path) -> Path:
    """``path.resolve()`` for ``path`` = ``source/<name>/results.json`` and ``folder`` = ``source.resolve()``, with two
    look-ups instead of one a path component where neither ``<name>`` nor results.json is a link."""
    if path.parent.is_symlink() or path.is_symlink():
        return path.resolve()
    return folder / path.parent.name / path.name


def read_class(sources: list[Path], render=None) -> tuple[list[Graded], list[str]]:
    """Every usable ``DIR/<id>/results.json``, one per id (the one written last wins), and warnings.

    ``render(graded, data)``, where given, makes each student's section from the whole results.json as it is read."""
    chosen: dict[str, Graded] = {}
    warnings: list[str] = []
    seen: set[Path] = set()
    shared: dict[tuple, tuple] = {}
    for source in sources:
        folder = Path(source).resolve()
        for path in sorted(Path(source).glob("*/results.json")):
            real = _real_path(path, folder)
            if real in seen:
                continue
            seen.add(real)
            try:
                data = read_results(path)
                graded = Graded(path, path.stat().st_mtime_ns, data, shared)
            except (OSError, ValueError) as error:
                warnings.append(f"skipped {path}: {error}")
                continue
            if render is not None:
                graded.section = render(graded, data)
            del data
            previous = chosen.get(graded.id)
            if previous is not None:
                keep = graded if graded.written_ns >= previous.written_ns else previous
                warnings.append(f"{graded.id} appears in {previous.path} and {graded.path}; keeping {keep.path} (written last)")
                graded = keep
            chosen[graded.id] = graded
    return sorted(chosen.values(), key=lambda g: (g.submission, g.id)), warnings


@contextmanager
def no_cycle_collection():
    """Reading a class makes many objects and no reference cycles: Python's collector would pass
    over all of them again and again and never free one."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def write_class_report(sources: list[Path], out: Path, lang: str = "en") -> dict[str, Path]:
    """Read the graded class from ``sources`` and write summary.csv, summary.md and report.html into ``out``
    (and, for a class of more than ``INLINE_STUDENTS``, the students' pages)."""
    with no_cycle_collection():
        return _write_class_report(sources, out, lang)


def _write_class_report(sources: list[Path], out: Path, lang: str) -> dict[str, Path]:
    pictures = BoundaryPictures()
    graded, warnings = read_class(sources, render=partial(student_section, lang=lang, pictures=pictures))
    for warning in warnings:
        print(f"propgrade: warning: {warning}", file=sys.stderr)
    if not graded:
        raise NoResults(f"no results.json found under {', '.join(str(s) for s in sources)}")
    markdown = out / "summary.md"
    page = out / "report.html"
    layout = Layout.for_class(graded, pictures)
    numbers = ClassNumbers.of(graded)
    atomic_write(markdown, summary_markdown(graded, lang, numbers).encode())
    written = {"csv": write_summary(graded, out, numbers), "markdown": markdown}
    pages = write_student_pages(graded, out, lang, layout)  # none for a class on one page; an earlier report's go
    if not layout.inline:
        written["students"] = pages
    atomic_write(page, report_html(graded, lang, layout, numbers).encode())
    written["html"] = page
    return written


# ---- the gradebook and the class's numbers


def property_ids(graded: list[Graded]) -> list[str]:
    """The catalogue's ids in order, then any id a record has that this catalogue lacks (an older run)."""
    ids = dict.fromkeys(lesson_index.load().properties)
    for listed in dict.fromkeys(g.ids for g in graded):  # the distinct lists of ids: most records share one
        ids.update(dict.fromkeys(listed))
    return list(ids)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # with their full-width forms
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_cell(value) -> str:
    """A cell no spreadsheet reads as a formula (OWASP's rule against CSV injection: a leading quote before
    ``=``, ``+``, ``-``, ``@``, tab or line breaks, leading spaces ignored); a plain number stays a number."""
    text = str(value)
    risky = text.lstrip(" \u00a0").startswith(FORMULA_STARTS)
    return "'" + text if risky and not PLAIN_NUMBER.fullmatch(text) else text


def write_summary(graded: list[Graded], out: Path, numbers: ClassNumbers | None = None) -> Path:
    """The gradebook: one row per submission, one column per property holding its verdict.

    Every cell is read back from results.json files a student may have named (the submission's path and id)
    or, without root, rewritten, so every cell goes through ``spreadsheet_cell``."""
    ids = (numbers or ClassNumbers.of(graded)).ids
    every = tuple(ids)
    verdict_cells: dict[str, str] = {}  # the few verdicts there are, each made safe once

    def safe(verdict: str) -> str:
        cell = verdict_cells.get(verdict)
        if cell is None:
            cell = verdict_cells[verdict] = spreadsheet_cell(verdict)
        return cell

    rows = [[spreadsheet_cell(cell) for cell in ["submission", "id", "score", "max_score", "status", "seconds", *ids]]]
    for g in graded:
        if g.ids == every:  # the record lists each property of the class once, in the class's order
            kinds = g.verdicts
        else:
            by_id = dict(zip(g.ids, g.verdicts))  # a property listed twice: its last verdict, as a dict keeps it
            kinds = [by_id.get(i, "") for i in ids]
        first = [g.submission, g.id, f"{g.score:g}", f"{g.max_score:g}", g.status, f"{g.seconds:.2f}"]
        rows.append([*(spreadsheet_cell(cell) for cell in first), *(safe(kind) for kind in kinds)])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path = out / "summary.csv"
    atomic_write(path, buffer.getvalue().encode())
    return path


@dataclass
class Rate:
    passed: int = 0
    checked: int = 0  # skipped verdicts are not checks

    @property
    def percent(self) -> float | None:
        return 100 * self.passed / self.checked if self.checked else None


def topic_of(pid: str, graded: list[Graded]) -> str:
    known = lesson_index.load().properties
    if pid in known:
        return known[pid][0]
    return next((g.topics[pid] for g in graded if pid in g.topics), "")


def pass_rates(graded: list[Graded]) -> dict[str, dict[str, Rate]]:
    """Per topic (in the lesson's order), per property: how many submissions passed out of those checked."""
    counts: Counter = Counter()
    for g in graded:
        counts.update(zip(g.ids, g.verdicts))
    rates = {pid: Rate() for pid in property_ids(graded)}
    for (pid, verdict), n in counts.items():
        rate = rates[pid]
        rate.checked += n * (verdict != "skipped")
        rate.passed += n * (verdict == "passed")
    table: dict[str, dict[str, Rate]] = {topic: {} for topic in lesson_index.load().topics}
    for pid, rate in rates.items():
        table.setdefault(topic_of(pid, graded), {})[pid] = rate
    return {topic: rates for topic, rates in table.items() if rates}


def topic_rate(rates: dict[str, Rate]) -> Rate:
    return Rate(sum(r.passed for r in rates.values()), sum(r.checked for r in rates.values()))


def topic_title(topic: str, lang: str) -> str:
    titles = lesson_index.load().topics.get(topic)
    return titles[0 if lang == "en" else 1] if titles else topic


def statement(pid: str, lang: str) -> str:
    index = lesson_index.load()
    return index.statement(pid, lang) if pid in index.properties else pid


def points(pid: str) -> str:
    known = lesson_index.load().properties
    return f"{known[pid][3]:g}" if pid in known else ""


@dataclass
class Cluster:
    """Students whose failing verdict has the same property and the same English message."""

    property: str
    message: dict
    ids: list[str] = field(default_factory=list)

    def text(self, lang: str) -> str:
        return str(self.message.get(lang) or self.message.get("en", ""))


def failure_clusters(graded: list[Graded], visible_only: bool = False) -> list[Cluster]:
    """Most common first; submissions that were never checked (unreadable, crashed) would add noise, so they are left out,
    and so are names a submission does not define (``missing_names``: one row per name, not one per property).

    ``visible_only``: leave out properties students may not see (for summaries a student can read)."""
    clusters: dict[tuple[str, str], Cluster] = {}
    for g in graded:
        if g.status != "graded":
            continue
        for pid, verdict, visible, message in g.problems:
            if verdict == "missing" or (visible_only and not visible):
                continue
            key = (pid, str(message.get("en", "")))
            clusters.setdefault(key, Cluster(pid, message)).ids.append(g.id)
    return sorted(clusters.values(), key=lambda c: (-len(c.ids), c.property, c.text("en")))


@dataclass
class MissingName:
    """Submissions that do not define one name of the contract, and the properties left unchecked for it."""

    name: str
    ids: list[str] = field(default_factory=list)
    properties: set[str] = field(default_factory=set)


# A "missing" verdict's English message, "step, XOR is not defined, so ...": the contract's names, as the grader writes them
_BEFORE, _AFTER = TEMPLATES["missing"][0].split("{names}")
MISSING_NAMES = re.compile(re.escape(_BEFORE) + r"([A-Za-z_][A-Za-z0-9_]*(?:, [A-Za-z_][A-Za-z0-9_]*)*)" + re.escape(_AFTER))


def names_not_defined(p: dict) -> list[str]:
    """The names a "missing" verdict says are not defined; a record that does not say so in the grader's words
    (an older run, a rewritten file) counts under its message as it is (shown as text, like any message)."""
    message = p.get("message") if isinstance(p.get("message"), dict) else {}
    text = str(message.get("en", ""))
    match = MISSING_NAMES.fullmatch(text)
    return match.group(1).split(", ") if match else [text or str(p.get("id", ""))]


def missing_names(graded: list[Graded], visible_only: bool = False) -> list[MissingName]:
    """Verdicts of kind "missing", one row per name (not one per property it costs), most often missing first;
    submissions never checked are left out, as in ``failure_clusters``."""
    rows: dict[str, MissingName] = {}
    for g in graded:
        if g.status != "graded":
            continue
        for pid, verdict, visible, message in g.problems:
            if verdict != "missing" or (visible_only and not visible):
                continue
            for name in names_not_defined({"id": pid, "message": message}):
                row = rows.setdefault(name, MissingName(name))
                if not row.ids or row.ids[-1] != g.id:
                    row.ids.append(g.id)
                row.properties.add(pid)
    return sorted(rows.values(), key=lambda row: (-len(row.ids), row.name))


@dataclass
class ClassNumbers:
    """What several of the report's files show, counted once: the property columns, the pass rates,
    the failure clusters and the names not defined (all, and those students may see)."""

    ids: list[str]
    rates: dict[str, dict[str, Rate]]
    clusters: list[Cluster]
    visible_clusters: list[Cluster]
    missing: list[MissingName]
    visible_missing: list[MissingName]

    @classmethod
    def of(cls, graded: list[Graded]) -> ClassNumbers:
        return cls(property_ids(graded), pass_rates(graded), failure_clusters(graded), failure_clusters(graded, visible_only=True),
                   missing_names(graded), missing_names(graded, visible_only=True))


def distinct(graded: list[Graded], read) -> str:
    values = sorted({str(read(g)) for g in graded})
    return ", ".join(values)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# ---- pictures


HISTOGRAM_BANDS = 20  # 5-point bands from 0 to 100; the last one includes 100
HISTOGRAM_SIZE = (416, 192)  # pixels, as the PNG drawn with matplotlib was (5.2 x 2.4 in at 80 dpi)
HISTOGRAM_PLOT = (38, 10, 360, 160)  # left, top, width, height of the plot inside it: 18 px a band


def histogram_counts(percents: list[float]) -> list[int]:
    """How many percents fall in each 5-point band, ``[0, 5)`` up to ``[95, 100]``; a value outside 0 to 100 (or not
    a number) is in none, as matplotlib's ``hist`` counted them."""
    counts = [0] * HISTOGRAM_BANDS
    for value in percents:
        value = float(value)
        if 0.0 <= value <= 100.0:  # False for NaN
            counts[min(int(value // 5.0), HISTOGRAM_BANDS - 1)] += 1
    return counts


def integer_ticks(most: int, at_most: int = 5) -> list[int]:
    """Ticks 0, step, 2 step ... up to the first at or above ``most`` (at least 1): the step is the smallest of 1, 2, 5,
    10, 20, 50 ... that needs no more than ``at_most`` steps."""
    power = 1
    while True:
        for step in (power, 2 * power, 5 * power):
            steps = -(-most // step)
            if steps <= at_most:
                return list(range(0, max(1, steps) * step + 1, step))
        power *= 10


def _n(value: float) -> str:
    """A coordinate for SVG: a plain decimal number, never ``nan``, ``inf`` or an exponent."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite coordinate: {value!r}")
    return f"{value:.2f}".rstrip("0").rstrip(".")


def histogram_svg(percents: list[float], label: str) -> str:
    """Score histogram in 5-point bands as inline SVG, written as text (no matplotlib: the report of one submission
    should not pay for importing it). Only numbers go into it, besides ``label`` (escaped), its accessible name. Each
    bar carries its band and count (``data-from``, ``data-count``) and a tooltip; no words are drawn, only numbers."""
    counts = histogram_counts(percents)
    width, height = HISTOGRAM_SIZE
    left, top, plot_width, plot_height = HISTOGRAM_PLOT
    bottom, band = top + plot_height, plot_width / HISTOGRAM_BANDS
    ticks = integer_ticks(max(counts))
    scale = plot_height / ticks[-1]
    bars = []
    for index, count in enumerate(counts):
        low = 5 * index
        bar_height = count * scale
        bars.append(
            f'<rect x="{_n(left + index * band)}" y="{_n(bottom - bar_height)}" width="{_n(band)}" height="{_n(bar_height)}"'
            f' data-from="{low:d}" data-count="{count:d}"><title>{low:d}–{low + 5:d}%: {count:d}</title></rect>'
        )
    x_ticks = [(left + p / 100 * plot_width, p) for p in range(0, 101, 20)]
    y_ticks = [(bottom - t * scale, t) for t in ticks]
    tick_marks = "".join(f'<line x1="{_n(x)}" y1="{bottom}" x2="{_n(x)}" y2="{bottom + 4}"/>' for x, _ in x_ticks)
    tick_marks += "".join(f'<line x1="{left - 4}" y1="{_n(y)}" x2="{left}" y2="{_n(y)}"/>' for y, _ in y_ticks)
    labels = "".join(f'<text x="{_n(x)}" y="{bottom + 16}" text-anchor="middle">{p:d}%</text>' for x, p in x_ticks)
    labels += "".join(f'<text x="{left - 6}" y="{_n(y)}" dy=".35em" text-anchor="end">{t:d}</text>' for y, t in y_ticks)
    spines = f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/><line x1="{left}" y1="{bottom}" x2="{left + plot_width}" y2="{bottom}"/>'  # no top or right spine
    return (
        f'<svg class="histogram" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}">'
        f"<title>{esc(label)}</title>"
        f'<g fill="#3b6ea5" stroke="#fff" stroke-width="1">{"".join(bars)}</g>'
        f'<g stroke="#1f2328" stroke-width="1" shape-rendering="crispEdges">{spines}{tick_marks}</g>'
        f'<g fill="#1f2328" font-size="11">{labels}</g>'
        "</svg>"
    )


def seq_net_state(record: dict) -> dict | None:
    """The trained seq_net's numbers, or None unless they are plain finite numbers of the lesson's shapes."""
    saved = record.get("seq_net")
    state = saved.get("state_dict") if isinstance(saved, dict) else None
    shapes = lesson_index.load().seq_net_shapes  # the contract's seq_net: Linear(2, 4), Tanh, Linear(4, 1)
    if not isinstance(state, dict) or set(state) != set(shapes):
        return None
    if not all(_has_shape(state[name], shape) for name, shape in shapes.items()):
        return None
    return state


def _has_shape(value, shape: tuple[int, ...]) -> bool:
    if not shape:
        return _is_number(value)
    return isinstance(value, list) and len(value) == shape[0] and all(_has_shape(v, shape[1:]) for v in value)


@dataclass(frozen=True)
class FlowerPlane:
    """The lesson's 400 flower points, a grid over their range (one point per 2x2 pixels of the
    picture) and where each point falls on the picture: computed once, shared by every picture."""

    x: object  # (400, 2) float32
    y: object  # (400,) bool: class 1
    grid: object  # (cells * cells, 2) float32, the picture's top row first
    dots: tuple  # pixel rows and columns of each point's 2x2 dot
    dot_classes: object  # class of each dot pixel


BOUNDARY_PIXELS = 210
GRID_CELLS = BOUNDARY_PIXELS // 2
# the colours of the lesson's picture (contourf(..., cmap="coolwarm", alpha=0.4), scatter with coolwarm):
# class 0 and 1 regions, class 0 and 1 points, the frame
BOUNDARY_PALETTE = (209, 223, 254, 250, 213, 201, 59, 76, 192, 180, 4, 38, 55, 55, 55)
FRAME = 4


@lru_cache(maxsize=1)
def flower_plane() -> FlowerPlane:
    import numpy as np

    points = lesson_index.load().flower  # reference.data.flower(): float32 x and 0/1 y, as plain numbers
    x = np.array([(x0, x1) for x0, x1, _ in points], dtype=np.float32)
    y = np.array([[label] for _, _, label in points], dtype=np.float32)
    low, high = x.min(0) - 0.5, x.max(0) + 0.5
    columns = np.linspace(low[0], high[0], GRID_CELLS, dtype=np.float32)
    rows = np.linspace(high[1], low[1], GRID_CELLS, dtype=np.float32)  # the picture's top row is the highest y
    xx, yy = np.meshgrid(columns, rows)
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    scale = (BOUNDARY_PIXELS - 4) / (high - low)  # inside the frame
    left = 1 + np.round((x[:, 0] - low[0]) * scale[0]).astype(int)
    top = 1 + np.round((high[1] - x[:, 1]) * scale[1]).astype(int)
    offsets = [(0, 0), (0, 1), (1, 0), (1, 1)]
    dots = (np.concatenate([top + r for r, _ in offsets]), np.concatenate([left + c for _, c in offsets]))
    classes = y[:, 0] > 0.5
    return FlowerPlane(x.astype(np.float32), classes, grid, dots, np.tile(classes, len(offsets)))


def seq_net_outputs(state: dict, points) -> object:
    """seq_net (Linear(2, 4), Tanh, Linear(4, 1)) rebuilt from its numbers, in float32 as torch computes it."""
    import numpy as np

    w0, b0, w2, b2 = (np.asarray(state[name], dtype=np.float32) for name in ("0.weight", "0.bias", "2.weight", "2.bias"))
    return (np.tanh(points @ w0.T + b0) @ w2.T + b2)[:, 0]


class BoundaryPictures:
    """Decision-boundary pictures, each drawn once: students whose seq_net splits the picture the
    same way (many train the same weights from the lesson's seed) share one PNG."""

    def __init__(self):
        self.drawn: dict[bytes, str] = {}  # by the regions the picture shows
        self.seen: dict[str, tuple[str, float]] = {}  # by the numbers themselves

    def __call__(self, state: dict) -> tuple[str, float]:
        """The picture as a data: URI and the flower accuracy (percent) of seq_net with these numbers."""
        import numpy as np

        numbers = json.dumps(state, sort_keys=True)
        if numbers in self.seen:
            return self.seen[numbers]
        plane = flower_plane()
        accuracy = 100 * float(np.mean((seq_net_outputs(state, plane.x) > 0) == plane.y))
        regions = (seq_net_outputs(state, plane.grid) > 0).reshape(GRID_CELLS, GRID_CELLS)
        key = hashlib.blake2b(np.packbits(regions).tobytes(), digest_size=16).digest()
        if key not in self.drawn:
            self.drawn[key] = boundary_png(regions, plane)
        self.seen[numbers] = self.drawn[key], accuracy
        return self.seen[numbers]


def boundary_png(regions, plane: FlowerPlane) -> str:
    """The regions of each class in light colour, two pixels per grid cell, the flower's points on them."""
    import numpy as np

    pixels = np.repeat(np.repeat(regions.astype(np.uint8), 2, axis=0), 2, axis=1)
    pixels[plane.dots] = 2 + plane.dot_classes
    pixels[[0, -1], :] = pixels[:, [0, -1]] = FRAME
    return "data:image/png;base64," + base64.b64encode(palette_png(pixels, BOUNDARY_PALETTE)).decode("ascii")


def palette_png(pixels, palette: tuple[int, ...]) -> bytes:
    """A PNG of ``pixels`` (a uint8 array of colour numbers below 16, an even number of columns) in four bits a pixel,
    written directly: each row unfiltered, the rows deflated at level 3 (as small as Pillow's picture, five times as fast)."""
    import numpy as np

    height, width = pixels.shape
    rows = np.zeros((height, 1 + width // 2), dtype=np.uint8)  # each row: filter type 0, then two pixels a byte
    rows[:, 1:] = (pixels[:, 0::2] << 4) | pixels[:, 1::2]
    header = struct.pack(">IIBBBBB", width, height, 4, 3, 0, 0, 0)  # 4 bits, palette colours, deflate, no interlace
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"PLTE", bytes(palette)) + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 3)) + _png_chunk(b"IEND", b"")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# ---- summary.md


JOINER = "\u200d"  # zero width: invisible, yet no @mention, #reference or autolink matches across it


def md(text) -> str:
    """Student text safe inside a Markdown table cell or list item: one line, no markup, no raw HTML (escaped),
    no invisible or direction-changing characters, and nothing GitHub turns into a link or a notification:
    ``@name``, ``#12``, ``http://``, ``www.`` and e-mail addresses get a zero-width joiner inside."""
    line = " ".join(str(text).split())
    visible = "".join(ch for ch in line if unicodedata.category(ch) not in ("Cc", "Cf"))
    escaped = re.sub(r"([\\`*_\[\]|#~$!])", r"\\\1", html.escape(visible, quote=False))
    escaped = escaped.replace("@", "@" + JOINER).replace("#", "#" + JOINER).replace("://", ":" + JOINER + "//")
    return re.sub(r"(?i)\b(www|mailto|xmpp)([.:])", rf"\1{JOINER}\2", escaped)


def code(identifier: str) -> str:
    """A property id as code where it is one (ids from an older run's records are data, like any other)."""
    return f"`{identifier}`" if re.fullmatch(r"[A-Za-z0-9_.-]+", identifier) else md(identifier)


def summary_markdown(graded: list[Graded], lang: str = "en", numbers: ClassNumbers | None = None) -> str:
    """Short enough for a GitHub step summary: counts, scores, topics, top failures, the lowest scores."""
    numbers = numbers or ClassNumbers.of(graded)
    h = partial(heading, lang=lang)
    percents = [g.percent for g in graded]
    statuses = Counter(g.status for g in graded)
    lines = [
        f"## {h('md_title', n=len(graded))}",
        "",
        h("counts", n=statuses["graded"], unreadable=statuses["unreadable"], crashed=statuses["crashed"], grader_failed=statuses["grader_failed"]),
        "",
        h("scores", mean=statistics.mean(percents), median=statistics.median(percents)),
        "",
        f"### {h('topic_rates')}",
        "",
        f"| {h('topic')} | {h('pass_rate')} |",
        "| --- | ---: |",
    ]
    for topic, rates in numbers.rates.items():
        lines.append(f"| {md(topic_title(topic, lang))} | {rate_text(topic_rate(rates), lang)} |")
    lines += ["", f"### {h('clusters')}", ""]
    clusters = numbers.visible_clusters  # a CI step summary may be a student's page (a workflow on their repository)
    lines += [f"{n}. **{len(c.ids)}** × {code(c.property)}: {md(c.text(lang))}" for n, c in enumerate(clusters[:5], start=1)] or [h("no_failures")]
    missing = numbers.visible_missing
    if missing:
        lines += ["", f"### {h('missing')}", "", f"| {h('name')} | {h('submissions')} | {h('unchecked')} |", "| --- | ---: | ---: |"]
        lines += [f"| {code(row.name)} | {len(row.ids)} | {len(row.properties)} |" for row in missing[:MARKDOWN_ROWS]]
        if len(missing) > MARKDOWN_ROWS:
            lines += ["", h("more_missing", n=len(missing) - MARKDOWN_ROWS)]
    lines += ["", f"### {h('lowest_first')}", "", f"| {h('student')} | {h('score')} | {h('status')} |", "| --- | ---: | --- |"]
    lowest = sorted(graded, key=lambda g: (g.percent, g.id))
    lines += [f"| {md(g.id)} | {g.score:g} / {g.max_score:g} ({g.percent:.0f}%) | {md(g.status)} |" for g in lowest[:MARKDOWN_ROWS]]
    if len(lowest) > MARKDOWN_ROWS:
        lines += ["", h("more_rows", n=len(lowest) - MARKDOWN_ROWS)]
    return "\n".join(lines) + "\n"


def rate_text(rate: Rate, lang: str) -> str:
    if rate.percent is None:
        return heading("not_checked", lang)
    return f"{rate.percent:.0f}% ({rate.passed}/{rate.checked})"


# ---- report.html


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def attributes(values: dict) -> str:
    """Escaped attributes; a trailing underscore or inner underscores in a name (``class_``, ``data_x``) are for Python."""
    return "".join(f' {name.rstrip("_").replace("_", "-")}="{esc(value)}"' for name, value in values.items() if value is not None)


def element(tag: str, content: str = "", **attrs) -> str:
    """``<tag attrs>content</tag>``; ``content`` is HTML already (callers escape text with ``esc``)."""
    return f"<{tag}{attributes(attrs)}>{content}</{tag}>" if attrs else f"<{tag}>{content}</{tag}>"


def image(src: str, alt: str, **attrs) -> str:
    return f"<img{attributes({'src': src, 'alt': alt, **attrs})}>"


def table(header: list[str], rows: list, class_: str | None = None) -> str:
    """A table from HTML: each row a list of cells, or a whole ``<tr>`` built by the caller."""
    head = element("tr", "".join(element("th", cell) for cell in header))
    body = "".join(row if isinstance(row, str) else element("tr", "".join(element("td", cell) for cell in row)) for row in rows)
    return element("table", element("thead", head) + element("tbody", body), class_=class_)


INLINE_STUDENTS = 100  # up to this many, each student's feedback is a section of report.html: one file to share
STUDENT_FOLDER = "report-students"  # beyond, on pages here, and report.html stays small enough to open at once
STUDENTS_PER_PAGE = 50  # about 1 MB a page; pages are named by number, never by anything a student chose
CLUSTER_IDS_SHOWN = 100


@dataclass
class Layout:
    """Where each student's feedback is (report.html, or the numbered pages of ``STUDENT_FOLDER``), and the pictures drawn so far."""

    inline: bool = True
    pages: dict[str, str] = field(default_factory=dict)  # submission id -> its page, relative to report.html
    pictures: BoundaryPictures = field(default_factory=BoundaryPictures)

    @classmethod
    def for_class(cls, graded: list["Graded"], pictures: BoundaryPictures | None = None) -> "Layout":
        pictures = pictures or BoundaryPictures()
        if len(graded) <= INLINE_STUDENTS:
            return cls(pictures=pictures)
        return cls(inline=False, pages={g.id: page_file(index // STUDENTS_PER_PAGE) for index, g in enumerate(graded)}, pictures=pictures)

    def href(self, sid: str) -> str:
        return f"#s-{sid}" if self.inline else f"{self.pages[sid]}#s-{sid}"


def page_file(number: int) -> str:
    return f"{STUDENT_FOLDER}/students-{number + 1:03d}.html"


def student_link(sid: str, layout: Layout) -> str:
    return element("a", esc(sid), href=layout.href(sid))


def bar(percent: float | None) -> str:
    """A pass-rate bar drawn with CSS, coloured by how worrying the rate is."""
    if percent is None:
        return ""
    level = "good" if percent >= 80 else "fair" if percent >= 50 else "poor"
    return element("span", element("span", "", class_=level, style=f"width:{percent:.1f}%"), class_="bar")


PAGE = Template(
    """<!DOCTYPE html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;color:#1f2328;max-width:1100px;margin:0 auto;padding:24px}
h1{margin:0 0 8px;font-size:26px}h2{margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid #d0d7de;font-size:20px}
h3{margin:18px 0 6px;font-size:16px}h4{margin:12px 0 4px;font-size:14px}
table{border-collapse:collapse;margin:6px 0 12px}th,td{padding:3px 10px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
nav{margin:10px 0 0;padding:6px 0;border-top:1px solid #eaeef2}.overview{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
table.topics td:nth-child(2){white-space:nowrap;text-align:right}
table.rates{width:100%}tr.topic td{background:#f6f8fa;font-weight:600}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:8px 0}dl.facts dt{color:#59636e}dl.facts dd{margin:0}
.bar{display:inline-block;width:120px;height:10px;background:#eaeef2;border-radius:5px;overflow:hidden;vertical-align:middle}
.bar span{display:block;height:100%}.good{background:#2da44e}.fair{background:#d4a72c}.poor{background:#cf222e}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{background:#f6f8fa;padding:8px 10px;border-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0}
ol.clusters li{margin-bottom:8px}.ids{font-size:13px;color:#59636e}.ids a{margin-right:6px}
section.student{border:1px solid #d0d7de;border-radius:8px;padding:4px 16px 12px;margin:16px 0}
section.student h3 .score{font-weight:400;color:#59636e;margin-left:8px}.meta{color:#59636e;font-size:13px;margin:0}
.test h5{margin:8px 0 2px;font-size:13px}ul.brief{font-size:13px;padding-left:18px}ul.brief span{white-space:pre-line;color:#59636e}.failed h5{color:#cf222e}
figure{margin:8px 0}figcaption{font-size:13px;color:#59636e}figure.boundary{display:inline-block}figure.boundary figcaption{max-width:210px}
a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}details summary{cursor:pointer;margin:6px 0}
</style>
</head>
<body>
$body
</body>
</html>
"""
)


def report_html(graded: list[Graded], lang: str = "en", layout: Layout | None = None, numbers: ClassNumbers | None = None) -> str:
    """One self-contained page: pictures are data: URIs or inline SVG, no script, no external resource; links to
    students' pages only where ``layout`` puts their feedback there."""
    layout = layout or Layout()
    numbers = numbers or ClassNumbers.of(graded)
    sections = [
        header_section(graded, lang),
        overview_section(graded, lang, numbers),
        cluster_section(graded, lang, layout, numbers),
        missing_section(graded, lang, layout, numbers),
        cell_section(graded, lang, layout),
        pass_rate_section(graded, lang, numbers),
        time_section(graded, lang, layout),
        student_sections(graded, lang, layout),
    ]
    return PAGE.substitute(lang=esc(lang), title=esc(heading("title", lang)), body="\n".join(sections))


def student_page(students: list[Graded], lang: str, layout: Layout) -> str:
    """Some students' feedback on a page of their own, self-contained like report.html, linked back to it."""
    back = element("nav", element("a", esc(heading("title", lang)), href="../report.html#students"))
    body = back + "".join(g.section or "" for g in students)
    return PAGE.substitute(lang=esc(lang), title=esc(f"{heading('students', lang)} · {heading('title', lang)}"), body=body)


def write_student_pages(graded: list[Graded], out: Path, lang: str, layout: Layout) -> Path:
    """The students' feedback on numbered pages under ``out/report-students``; pages of an earlier, larger report are removed."""
    written = set()
    if not layout.inline:
        for start in range(0, len(graded), STUDENTS_PER_PAGE):
            page = out / page_file(start // STUDENTS_PER_PAGE)
            atomic_write(page, student_page(graded[start : start + STUDENTS_PER_PAGE], lang, layout).encode())
            written.add(page.name)
    folder = out / STUDENT_FOLDER
    for stale in folder.glob("students-*.html"):
        if stale.name not in written:
            stale.unlink(missing_ok=True)
    return folder


def minute(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def header_section(graded: list[Graded], lang: str) -> str:
    h = partial(heading, lang=lang)
    statuses = Counter(g.status for g in graded)
    percents = [g.percent for g in graded]
    written = sorted({minute(g.written_ns / 1e9) for g in graded})
    facts = [
        (h("submissions"), f"{len(graded)} ({h('counts', n=statuses['graded'], unreadable=statuses['unreadable'], crashed=statuses['crashed'], grader_failed=statuses['grader_failed'])})"),
        (h("histogram"), h("scores", mean=statistics.mean(percents), median=statistics.median(percents))),
        (h("graded_at"), written[0] if len(written) == 1 else f"{written[0]} – {written[-1]}"),
        (h("built_at"), minute(datetime.now(timezone.utc).timestamp())),
        (h("version"), distinct(graded, lambda g: g.facts[0]) + f" (report {__version__})"),
        (h("profile"), distinct(graded, lambda g: g.facts[1])),
        (h("seed"), distinct(graded, lambda g: g.facts[2])),
        (h("device"), distinct(graded, lambda g: g.facts[3])),
        (h("torch"), distinct(graded, lambda g: g.facts[4])),
    ]
    rows = "".join(element("dt", esc(name)) + element("dd", esc(value)) for name, value in facts)
    links = [("overview", "histogram"), ("clusters", "clusters"), ("missing", "missing"), ("cells", "cells"), ("pass-rates", "pass_rates"), ("times", "times"), ("students", "students")]
    nav = element("nav", " · ".join(element("a", esc(h(key)), href=f"#{anchor}") for anchor, key in links))
    return element("header", element("h1", esc(h("title"))) + element("dl", rows, class_="facts") + nav)


def overview_section(graded: list[Graded], lang: str, numbers: ClassNumbers) -> str:
    """The score histogram beside the pass rate of each topic: the class at a glance."""
    picture = histogram_svg([g.percent for g in graded], heading("histogram", lang))
    figure = element("figure", picture + element("figcaption", esc(heading("histogram_caption", lang))))
    rows = []
    for topic, rates in numbers.rates.items():
        overall = topic_rate(rates)
        rows.append([element("a", esc(topic_title(topic, lang)), href=f"#t-{topic}"), esc(rate_text(overall, lang)), bar(overall.percent)])
    topics = table([esc(heading("topic", lang)), esc(heading("pass_rate", lang)), ""], rows, class_="topics")
    return element("section", element("h2", esc(heading("histogram", lang))) + element("div", figure + topics, class_="overview"), id="overview")


def pass_rate_section(graded: list[Graded], lang: str, numbers: ClassNumbers) -> str:
    h = partial(heading, lang=lang)
    rows: list[str] = []
    for topic, rates in numbers.rates.items():
        overall = topic_rate(rates)
        rows.append(element("tr", element("td", esc(topic_title(topic, lang)), colspan=3) + element("td", esc(rate_text(overall, lang)), class_="num") + element("td", bar(overall.percent)), class_="topic", id=f"t-{topic}"))
        for pid, rate in rates.items():
            cells = element("td", element("code", esc(pid))) + element("td", esc(statement(pid, lang))) + element("td", points(pid), class_="num")
            cells += element("td", esc(rate_text(rate, lang)), class_="num") + element("td", bar(rate.percent))
            rows.append(element("tr", cells, class_="prop", id=f"p-{pid}"))
    header = [esc(h("property")), "", esc(h("points")), esc(h("pass_rate")), ""]
    return element("section", element("h2", esc(h("pass_rates"))) + table(header, rows, class_="rates"), id="pass-rates")


def cluster_section(graded: list[Graded], lang: str, layout: Layout, numbers: ClassNumbers) -> str:
    clusters = numbers.clusters
    items = []
    for cluster in clusters[:CLUSTERS_SHOWN]:
        count = heading("cluster_one", lang) if len(cluster.ids) == 1 else heading("cluster_count", lang, n=len(cluster.ids))
        line = element("strong", esc(count)) + ": "
        line += element("a", element("code", esc(cluster.property)), href=f"#p-{cluster.property}") + " — " + esc(cluster.text(lang))
        ids = " ".join(student_link(sid, layout) for sid in cluster.ids[:CLUSTER_IDS_SHOWN])
        if len(cluster.ids) > CLUSTER_IDS_SHOWN:
            ids += " " + esc(heading("more_rows", lang, n=len(cluster.ids) - CLUSTER_IDS_SHOWN))
        items.append(element("li", line + element("div", ids, class_="ids"), class_="cluster"))
    body = element("p", esc(heading("clusters_intro", lang)))
    body += element("ol", "".join(items), class_="clusters") if items else element("p", esc(heading("no_failures", lang)))
    if len(clusters) > CLUSTERS_SHOWN:
        body += element("p", esc(heading("more_clusters", lang, n=len(clusters) - CLUSTERS_SHOWN)))
    return element("section", element("h2", esc(heading("clusters", lang))) + body, id="clusters")


def missing_section(graded: list[Graded], lang: str, layout: Layout, numbers: ClassNumbers) -> str:
    """Names submissions do not define, with how many lack each and links to them (as the clusters have)."""
    h = partial(heading, lang=lang)
    rows = []
    for row in numbers.missing:
        ids = " ".join(student_link(sid, layout) for sid in row.ids[:CLUSTER_IDS_SHOWN])
        if len(row.ids) > CLUSTER_IDS_SHOWN:
            ids += " " + esc(h("more_rows", n=len(row.ids) - CLUSTER_IDS_SHOWN))
        count = h("cluster_one") if len(row.ids) == 1 else h("cluster_count", n=len(row.ids))
        rows.append(element("tr", element("td", element("code", esc(row.name))) + element("td", esc(count), class_="num")
                            + element("td", str(len(row.properties)), class_="num") + element("td", ids, class_="ids"), class_="missing"))
    body = element("p", esc(h("missing_intro")))
    header = [esc(h("name")), esc(h("submissions")), esc(h("unchecked")), ""]
    body += table(header, rows, class_="missing") if rows else element("p", esc(h("no_missing")))
    return element("section", element("h2", esc(h("missing"))) + body, id="missing")


def cell_section(graded: list[Graded], lang: str, layout: Layout) -> str:
    h = partial(heading, lang=lang)
    rows = [[student_link(g.id, layout), esc(c.get("cell", "?")), esc(c.get("message") or "")] for g in graded for c in g.failed_cells]
    body = table([esc(h("student")), esc(h("cell")), esc(h("message"))], rows, class_="cells") if rows else element("p", esc(h("no_cells")))
    not_graded = [[student_link(g.id, layout), esc(g.status), esc(g.why_not_graded)] for g in graded if g.status != "graded"]
    if not_graded:
        body += element("h3", esc(h("not_graded"))) + table([esc(h("student")), esc(h("status")), esc(h("message"))], not_graded)
    return element("section", element("h2", esc(h("cells"))) + body, id="cells")


def time_section(graded: list[Graded], lang: str, layout: Layout) -> str:
    seconds = [g.seconds for g in graded]
    stats = heading("time_stats", lang, median=statistics.median(seconds), p95=percentile(seconds, 0.95), max=max(seconds), total=sum(seconds))
    slowest = sorted(graded, key=lambda g: -g.seconds)[:SLOWEST_SHOWN]
    rows = [[student_link(g.id, layout), f"{g.seconds:.1f}"] for g in slowest]
    body = element("p", esc(stats)) + element("h3", esc(heading("slowest", lang))) + table([esc(heading("student", lang)), esc(heading("seconds", lang))], rows)
    return element("section", element("h2", esc(heading("times", lang))) + body, id="times")


def student_sections(graded: list[Graded], lang: str, layout: Layout) -> str:
    """The index of submissions, each row with an anchor its page links back to, and the feedback where it is inline."""
    h = partial(heading, lang=lang)
    index = []
    for g in graded:
        cells = [student_link(g.id, layout), f"{g.score:g} / {g.max_score:g} ({g.percent:.0f}%)", esc(g.status), f"{g.seconds:.1f}"]
        index.append(element("tr", "".join(element("td", cell) for cell in cells)))
    header = [esc(h("student")), esc(h("score")), esc(h("status")), esc(h("seconds"))]
    body = table(header, index, class_="index")
    if layout.inline:
        body += "".join(g.section or "" for g in graded)
    return element("section", element("h2", esc(h("students"))) + body, id="students")


def student_section(g: Graded, data: dict, lang: str, pictures: BoundaryPictures) -> str:
    """A student's feedback from their whole results.json (``data``), the same text, failed properties first."""
    title = esc(g.id) + element("span", esc(f"{g.score:g} / {g.max_score:g} ({g.percent:.0f}%)"), class_="score")
    parts = [element("h3", title), element("p", esc(f"{g.submission} · {g.status} · {g.seconds:.1f} s"), class_="meta")]
    parts.append(element("pre", esc(data.get("output", ""))))
    parts.append(boundary_figure(data["extra_data"]["propgrade"], lang, pictures))
    failed: list[dict] = []
    passed: list[dict] = []
    skipped: list[dict] = []
    for test in data.get("tests", []):
        status = test.get("status")
        (failed if status == "failed" else passed if status == "passed" else skipped).append(test)
    if failed:
        parts.append(element("h4", esc(heading("failed_tests", lang, n=len(failed)))) + "".join(feedback_block(t, "failed") for t in failed))
    for key, group in (("passed_tests", passed), ("skipped_tests", skipped)):
        if group:
            parts.append(element("details", element("summary", esc(heading(key, lang, n=len(group)))) + element("ul", feedback_lines(group), class_="brief")))
    return element("section", "".join(parts), class_="student", id=f"s-{g.id}")


def feedback_block(test: dict, class_: str) -> str:
    return element("div", element("h5", esc(test.get("name", ""))) + element("pre", esc(test.get("output", ""))), class_=f"test {class_}".strip())


def feedback_line(test: dict) -> str:
    """A passed or unchecked test in one line: its output already holds the statement its name repeats."""
    return feedback_lines([test])


def feedback_lines(tests: list[dict]) -> str:
    """``feedback_line`` of each test, joined (a class has some 200,000 of them: one loop, no call per line but the cache's)."""
    lines = []
    for test in tests:
        extra = test.get("extra_data")
        pid = extra.get("property") if isinstance(extra, dict) and extra.get("property") else test.get("name", "")
        lines.append(_feedback_line(str(pid), str(test.get("output", ""))))
    return "".join(lines)


@lru_cache(maxsize=1 << 14)
def _feedback_line(pid: str, output: str) -> str:
    """Cached: most students' passed lines are the same text."""
    return element("li", element("code", esc(pid)) + " " + element("span", esc(output)))


def boundary_figure(record: dict, lang: str, pictures: BoundaryPictures) -> str:
    state = seq_net_state(record)
    if state is None:
        return ""
    picture, accuracy = pictures(state)
    caption = heading("boundary_caption", lang, accuracy=accuracy)
    return element("figure", image(picture, caption, width=210, height=210) + element("figcaption", esc(caption)), class_="boundary")
