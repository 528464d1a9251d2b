"""The property catalogue: one property per fact of the lesson.

A property has a stable id (its name says the fact), a one-line statement in
English and Chinese, the contract names it needs, its points, and a check
``check(subject, data)`` that draws its inputs from Hypothesis's ``data``.
Families live in the modules beside this file and register themselves here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

TOPICS = {
    "activations": ("Activation functions", "激活函数"),
    "gates": ("Perceptron gates and XOR", "感知机逻辑门与异或"),
    "collapse": ("Linear collapse without activations", "没有激活函数时的线性坍缩"),
    "xor": ("XOR needs a hidden activation", "异或需要隐藏层激活函数"),
    "builders": ("Sequential and Module models", "Sequential 与 Module 模型"),
    "training": ("Training", "训练"),
    "saveload": ("Saving and loading parameters", "保存与加载参数"),
    "devices": ("Devices", "设备"),
}


@dataclass(frozen=True)
class Property:
    id: str
    topic: str
    statement: str
    statement_zh: str
    needs: tuple[str, ...]
    points: float
    check: Callable
    max_examples: int | None = None
    cuda: bool = False  # compares CUDA with CPU: skipped (out of score and maximum) without CUDA

    def statement_in(self, lang: str) -> str:
        return self.statement_zh if lang == "zh" else self.statement

    def __reduce__(self):
        """Properties travel between processes by id (their checks are closures)."""
        return (by_id, (self.id,))


CATALOGUE: dict[str, Property] = {}


def register(pid: str, topic: str, statement: str, zh: str, *, needs, points: float = 1.0, examples: int | None = None, cuda: bool = False):
    """Add ``check`` to the catalogue under ``pid``; ids are stable and unique."""

    def add(check: Callable) -> Callable:
        if pid in CATALOGUE:
            raise ValueError(f"property {pid} registered twice")
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic}")
        CATALOGUE[pid] = Property(pid, topic, statement, zh, tuple(needs), points, check, examples, cuda)
        return check

    return add


def by_id(pid: str) -> Property:
    return CATALOGUE[pid]


def catalogue() -> list[Property]:
    return list(CATALOGUE.values())


def contract_names() -> list[str]:
    names: dict[str, None] = {}
    for prop in catalogue():
        names.update(dict.fromkeys(prop.needs))
    return list(names)


# The families register themselves on import; importing the package loads the whole catalogue.
from grader.properties import activations, builders, collapse, devices, gates, saveload, training, xor  # noqa: E402, F401
