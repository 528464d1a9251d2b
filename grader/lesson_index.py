"""The lesson's plain data, readable without importing torch: for ``propgrade report``, which needs
the catalogue's ids, topics, statements and points, the contract's seq_net shapes and the flower
points, but none of the checks (whose modules import torch and Hypothesis: about 3 s).

They are written out of the live modules (``grader.properties``, ``grader.properties.common``,
``reference.data``) into ``grader/lesson_index_data.py`` by

    .venv/bin/python -m grader.lesson_index --write

never by hand. That file records a fingerprint of the sources it was written from
(``SOURCES``); where they have changed since (a property edited, its index not written again),
``load`` reads the live modules instead, so a report is never built from a stale catalogue, only
more slowly. ``tests/test_report.py`` checks that the stored index is the live one.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).with_name("lesson_index_data.py")
SOURCES = ("grader/properties/*.py", "reference/data.py")  # what the index is written from


@dataclass(frozen=True)
class LessonIndex:
    topics: dict[str, tuple[str, str]]  # topic -> (English title, Chinese title), in the lesson's order
    properties: dict[str, tuple[str, str, str, float]]  # id -> (topic, statement, Chinese statement, points), the catalogue's order
    seq_net_shapes: dict[str, tuple[int, ...]]  # the contract's seq_net: parameter name -> shape
    flower: tuple[tuple[float, float, int], ...]  # the lesson's 400 flower points as float32 values: x0, x1, class

    def statement(self, pid: str, lang: str) -> str:
        return self.properties[pid][2 if lang == "zh" else 1]


def fingerprint() -> str:
    """A digest of the source files the index is written from (empty where one cannot be read)."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        for pattern in SOURCES:
            for path in sorted(ROOT.glob(pattern)):
                digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return ""
    return digest.hexdigest()


def live() -> LessonIndex:
    """The index read from the live modules (imports torch)."""
    from grader.properties import CATALOGUE, TOPICS
    from grader.properties.common import seq_net_shapes
    from reference.data import flower

    x, y = flower()
    return LessonIndex(
        topics={topic: tuple(titles) for topic, titles in TOPICS.items()},
        properties={pid: (p.topic, p.statement, p.statement_zh, p.points) for pid, p in CATALOGUE.items()},
        seq_net_shapes={name: tuple(shape) for name, shape in seq_net_shapes().items()},
        flower=tuple((float(a), float(b), int(c)) for (a, b), c in zip(x.tolist(), y[:, 0].tolist())),
    )


def stored() -> tuple[LessonIndex, str] | None:
    """The index written in ``lesson_index_data.py`` and the fingerprint it was written with, or None."""
    try:
        from grader import lesson_index_data as data
    except ImportError:
        return None
    return LessonIndex(data.TOPICS, data.PROPERTIES, data.SEQ_NET_SHAPES, data.FLOWER), data.FINGERPRINT


@lru_cache(maxsize=1)
def load() -> LessonIndex:
    """The stored index where it was written from the sources as they are, else the live one."""
    saved = stored()
    if saved is not None and saved[1] and saved[1] == fingerprint():
        return saved[0]
    print("propgrade: note: grader/lesson_index_data.py is missing or older than the catalogue; reading the catalogue itself "
          "(slower: imports torch). Write it again: python -m grader.lesson_index --write", file=sys.stderr)
    return live()


def source_text(index: LessonIndex, stamp: str) -> str:
    lines = [
        '"""Written by ``python -m grader.lesson_index --write`` from the live catalogue, seq_net\'s shapes and the flower data:',
        'do not edit (grader/lesson_index.py)."""',
        "",
        f"FINGERPRINT = {stamp!r}",
        "",
        "TOPICS = {",
        *(f"    {topic!r}: {titles!r}," for topic, titles in index.topics.items()),
        "}",
        "",
        "PROPERTIES = {",
        *(f"    {pid!r}: {entry!r}," for pid, entry in index.properties.items()),
        "}",
        "",
        f"SEQ_NET_SHAPES = {index.seq_net_shapes!r}",
        "",
        "FLOWER = (",
        *(f"    {point!r}," for point in index.flower),
        ")",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = source_text(live(), fingerprint())
    if args == ["--write"]:
        DATA.write_text(text, encoding="utf-8")
        print(f"wrote {DATA}")
        return 0
    if args == ["--check"]:
        current = DATA.exists() and DATA.read_text(encoding="utf-8") == text
        print(f"{DATA} is {'current' if current else 'stale: run python -m grader.lesson_index --write'}")
        return 0 if current else 1
    print("usage: python -m grader.lesson_index --write | --check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
