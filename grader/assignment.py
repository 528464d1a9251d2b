"""Assignments: which properties count, for how many points, who sees their results, and the limits.

The lesson's default assignment ships as ``grader/assignments/lesson.toml``. A
user's file overrides it key by key (docs/assignments.md): ``name``,
``description``, each limit and each contract name's alias list are replaced
when given; ``[topics.<topic>]`` sets ``visibility``/``enabled`` for every
property of a topic; ``[properties.<id>]`` sets ``points``/``visibility``/
``enabled`` of one property. Within one file topics apply before properties, so
a property's own entry wins. Properties that no file mentions keep the points
they were registered with, visible and enabled.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
import math
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from grader.messages import say
from grader.properties import TOPICS, Property, catalogue, contract_names
from grader.workermanage import GIB, Limits, memory_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
TOP_KEYS = ("name", "description", "limits", "aliases", "topics", "properties")
LIMIT_KEYS = {"call_seconds": "call_seconds", "cell_seconds": "cell_seconds", "total_seconds": "total_seconds", "memory_gib": "memory_bytes"}
PROPERTY_KEYS = ("points", "visibility", "enabled")
TOPIC_KEYS = ("visibility", "enabled")
DEFAULT_FILE = "lesson.toml"


class AssignmentError(ValueError):
    """What is wrong with an assignment file, said so that its author can fix it."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


@dataclass(frozen=True)
class Rule:
    """How one property counts."""

    points: float
    visibility: str = "visible"
    enabled: bool = True


# What each contract name must be, as the worker reports it (``op_names``): classes are built, models are
# instances, everything else is called.
FUNCTION_KINDS = ("function",)
CONTRACT_KINDS = {
    "module_net": ("class",),
    "Model": ("class",),
    "NeuralNetwork": ("class",),
    "seq_net": ("module",),
    "seq_model": ("module",),
}


@dataclass(frozen=True)
class Assignment:
    name: str
    description: str
    rules: dict[str, Rule]  # every property of the catalogue
    aliases: dict[str, tuple[str, ...]]  # contract name -> other spellings accepted, in order
    limits: Limits
    sources: tuple[str, ...] = ()  # the files it was read from, the default first

    def properties(self) -> list[Property]:
        """The enabled properties, in catalogue order, carrying this assignment's points."""
        return [dataclasses.replace(p, points=self.rules[p.id].points) for p in catalogue() if self.rules[p.id].enabled]

    def visibility(self, pid: str) -> str:
        return self.rules[pid].visibility

    def visible_only(self) -> "Assignment":
        """The same assignment with everything but its visible properties disabled (what students may check)."""
        rules = {pid: rule if rule.visibility == "visible" else dataclasses.replace(rule, enabled=False) for pid, rule in self.rules.items()}
        return dataclasses.replace(self, rules=rules)

    def names_to_ask(self) -> list[str]:
        """Every contract name and every accepted alias, to ask the submission which it defines."""
        return list(dict.fromkeys(spelling for name in contract_names() for spelling in self.spellings(name)))

    def spellings(self, name: str) -> tuple[str, ...]:
        return (name, *self.aliases.get(name, ()))

    def resolve(self, found: dict) -> tuple[dict, dict[str, str]]:
        """Contract name -> what the submission defines under its first present spelling of the right kind
        (``found`` maps names to the worker's ``{"kind": ...}``), and contract name -> the alias used, where
        it is one. An alias binds only a name of the contract's kind: ``and_gate`` holding a tensor of labels
        is not taken for ``AND``. The contract's own name binds whatever it holds when no spelling fits, so
        the feedback is about that name."""
        names, spelled = {}, {}
        for name in contract_names():
            spellings = [s for s in self.spellings(name) if s in found]
            fitting = [s for s in spellings if found[s].get("kind") in CONTRACT_KINDS.get(name, FUNCTION_KINDS)]
            spelling = next(iter(fitting), name if name in found else None)
            if spelling is not None:
                names[name] = found[spelling]
                if spelling != name:
                    spelled[name] = spelling
        return names, spelled

    def fingerprint(self) -> str:
        """A short hash of what decides grades (rules, aliases, limits): equal fingerprints grade alike."""
        content = {
            "rules": {pid: [float(r.points), r.visibility, r.enabled] for pid, r in sorted(self.rules.items())},
            "aliases": {name: list(spellings) for name, spellings in sorted(self.aliases.items())},
            "limits": {key: getattr(self.limits, field) for key, field in LIMIT_KEYS.items()},
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def default_source() -> str:
    return str(resources.files("grader").joinpath("assignments", DEFAULT_FILE))


@functools.cache
def default_assignment() -> Assignment:
    return load_assignment(None)


def load_assignment(path: str | Path | None = None) -> Assignment:
    """The lesson's default assignment, overridden key by key by the file at ``path`` when one is given."""
    layers = [(default_source(), read_layer(default_source()))]
    if path is not None:
        layers.append((str(path), read_layer(str(path))))
    return merge(layers)


def read_layer(source: str) -> dict:
    """One assignment file, parsed and checked; AssignmentError says what is wrong and where."""
    try:
        text = Path(source).read_bytes().decode("utf-8")
    except OSError as error:
        raise AssignmentError(source, f"cannot read it: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise AssignmentError(source, f"not UTF-8 text (byte {error.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AssignmentError(source, f"invalid TOML: {error}") from None
    try:
        validate(data)
    except ValueError as problem:
        raise AssignmentError(source, str(problem)) from None
    return data


def validate(data: dict) -> None:
    """Raise ValueError naming the first key that is unknown, of the wrong type or out of range."""
    known_keys(data, TOP_KEYS, "")
    for key in ("name", "description"):
        if key in data:
            expect(data[key], str, key)
    if "limits" in data:
        limits = expect(data["limits"], dict, "limits")
        known_keys(limits, tuple(LIMIT_KEYS), "limits")
        for key, value in limits.items():
            if expect_number(value, f"limits.{key}") <= 0:
                raise ValueError(f"limits.{key}: must be positive, got {value!r}")
    if "aliases" in data:
        check_aliases(expect(data["aliases"], dict, "aliases"))
    if "topics" in data:
        topics = expect(data["topics"], dict, "topics")
        known_keys(topics, tuple(TOPICS), "topics", what="topic")
        for topic, settings in topics.items():
            check_settings(expect(settings, dict, f"topics.{topic}"), TOPIC_KEYS, f"topics.{topic}")
    if "properties" in data:
        properties = expect(data["properties"], dict, "properties")
        known_keys(properties, tuple(p.id for p in catalogue()), "properties", what="property id")
        for pid, settings in properties.items():
            check_settings(expect(settings, dict, f"properties.{pid}"), PROPERTY_KEYS, f"properties.{pid}")


def check_settings(settings: dict, allowed: tuple[str, ...], where: str) -> None:
    known_keys(settings, allowed, where)
    if "points" in settings:
        points = expect_number(settings["points"], f"{where}.points")
        if points < 0:
            raise ValueError(f"{where}.points: must not be negative, got {points:g}")
    if "visibility" in settings:
        visibility = expect(settings["visibility"], str, f"{where}.visibility")
        if visibility not in VISIBILITIES:
            raise ValueError(f"{where}.visibility: {visibility!r} is not one of {', '.join(VISIBILITIES)}{suggestion(visibility, VISIBILITIES)}")
    if "enabled" in settings:
        expect(settings["enabled"], bool, f"{where}.enabled")


def check_aliases(aliases: dict) -> None:
    names = contract_names()
    known_keys(aliases, tuple(names), "aliases", what="contract name")
    for name, spellings in aliases.items():
        for spelling in expect(spellings, list, f"aliases.{name}"):
            expect(spelling, str, f"aliases.{name}")
            if not spelling.isidentifier():
                raise ValueError(f"aliases.{name}: {spelling!r} is not a Python name")
            if spelling in names:
                raise ValueError(f"aliases.{name}: {spelling!r} is itself a contract name")


def check_alias_owners(aliases: dict[str, tuple[str, ...]], source: str) -> None:
    """One spelling may stand for one contract name only, across all the files read."""
    owner: dict[str, str] = {}
    for name, spellings in aliases.items():
        for spelling in spellings:
            if owner.setdefault(spelling, name) != name:
                raise AssignmentError(source, f"aliases: {spelling!r} is an alias of both {owner[spelling]} and {name}")


def known_keys(table: dict, allowed: tuple[str, ...], where: str, what: str = "key") -> None:
    for key in table:
        if key not in allowed:
            place = f"{where}: " if where else ""
            raise ValueError(f"{place}unknown {what} {key!r}{suggestion(key, allowed)}")


def suggestion(given: str, choices) -> str:
    close = difflib.get_close_matches(given, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


KIND_NAMES = {bool: "a boolean", str: "a string", int: "an integer", float: "a number", dict: "a table", list: "an array"}


def expect(value, kind: type, where: str):
    if type(value) is not kind:
        raise ValueError(f"{where}: expected {KIND_NAMES[kind]}, got {describe(value)}")
    return value


def expect_number(value, where: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a number, got {describe(value)}")
    return float(value)


def describe(value) -> str:
    kind = KIND_NAMES.get(type(value), type(value).__name__)
    return kind if isinstance(value, (dict, list)) else f"{kind} ({value!r})"


def merge(layers: list[tuple[str, dict]]) -> Assignment:
    """Apply checked layers in order onto the catalogue's own points (visible, enabled)."""
    name, description = "", ""
    rules = {p.id: Rule(p.points) for p in catalogue()}
    aliases: dict[str, tuple[str, ...]] = {}
    limits = Limits()
    for _, layer in layers:
        name = layer.get("name", name)
        description = layer.get("description", description)
        limits = dataclasses.replace(limits, **{LIMIT_KEYS[key]: limit_value(key, value) for key, value in layer.get("limits", {}).items()})
        aliases.update({contract: tuple(spellings) for contract, spellings in layer.get("aliases", {}).items()})
        for topic, settings in layer.get("topics", {}).items():
            for prop in catalogue():
                if prop.topic == topic:
                    rules[prop.id] = dataclasses.replace(rules[prop.id], **settings)
        for pid, settings in layer.get("properties", {}).items():
            rules[pid] = dataclasses.replace(rules[pid], **settings)
    check_alias_owners(aliases, layers[-1][0])
    return Assignment(name, description, rules, aliases, limits, tuple(source for source, _ in layers))


def limit_value(key: str, value: float) -> float | int:
    return int(value * GIB) if key == "memory_gib" else float(value)


def rubric_text(assignment: Assignment, lang: str = "en") -> str:
    """The effective rubric as ``propgrade assignment show`` prints it: every property, totals, aliases, limits."""
    props = {p.id: p for p in catalogue()}
    width = max(map(len, props))
    columns = [say(key).render(lang) for key in ("column_property", "column_points", "column_visibility", "column_enabled", "column_statement")]
    lines = [say("rubric_title", name=assignment.name, fingerprint=assignment.fingerprint(), sources=" + ".join(assignment.sources)).render(lang)]
    for topic, titles in TOPICS.items():
        members = [pid for pid, p in props.items() if p.topic == topic]
        points = sum(assignment.rules[pid].points for pid in members if assignment.rules[pid].enabled)
        lines += ["", say("rubric_topic", topic=titles[0 if lang == "en" else 1], points=points).render(lang)]
        lines.append(f"  {columns[0]:{width}}  {columns[1]:>6}  {columns[2]:15} {columns[3]:8} {columns[4]}")
        for pid in members:
            rule = assignment.rules[pid]
            enabled = "true" if rule.enabled else "false"
            lines.append(f"  {pid:{width}}  {rule.points:>6g}  {rule.visibility:15} {enabled:8} {props[pid].statement_in(lang)}")
    lines += ["", totals_line(assignment, lang)]
    aliases = "; ".join(f"{name}: {', '.join(spellings)}" for name, spellings in assignment.aliases.items() if spellings)
    lines.append(say("rubric_aliases", aliases=aliases or say("nothing")).render(lang))
    limits = assignment.limits
    lines.append(say("rubric_limits", call=limits.call_seconds, cell=limits.cell_seconds, total=limits.total_seconds, memory=memory_text(limits.memory_bytes)).render(lang))
    return "\n".join(lines)


def totals_line(assignment: Assignment, lang: str) -> str:
    enabled = [rule for rule in assignment.rules.values() if rule.enabled]
    split = ", ".join(
        f"{visibility} {sum(r.points for r in enabled if r.visibility == visibility):g}"
        for visibility in VISIBILITIES
        if any(r.visibility == visibility for r in enabled)
    )
    return say("rubric_totals", count=len(enabled), all=len(assignment.rules), points=sum(r.points for r in enabled), split=split).render(lang)
