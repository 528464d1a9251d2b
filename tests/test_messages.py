"""Every student-facing sentence exists in English and Chinese.

* each template in ``grader.messages.TEMPLATES`` has both languages, the same
  fields in both, and formats;
* a Chinese template is Chinese (or, where both languages are the same, holds
  only code around its fields);
* no call site in ``grader/`` smuggles English prose into a message through a
  field: ``say``/``fail`` arguments and ``doing=`` descriptions that are string
  literals hold code only, and ``detail=`` (kept for language-neutral details
  such as ``relu(-1.0) = -1.0``) is always a literal, so that this can be checked.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from grader.messages import LANGUAGES, TEMPLATES, say

GRADER = Path(__file__).resolve().parent.parent / "grader"

# Generic keys that carried English prose through ``detail``; gone for good.
REMOVED_KEYS = {"fact", "structure", "file"}

# Files outside the message work that still pass English prose into messages
# (load errors, lost workers, the controller's own "doing" phrases). Strict
# xfail: translating one turns its test red until it is removed from here.
KNOWN_PROSE: dict[str, str] = {}

# Two words of two or more letters next to each other: prose, not code.
PROSE = re.compile(r"[A-Za-z]{2,} [A-Za-z]{2,}")
HAN = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def fields_of(template: str) -> dict[str, str]:
    """Field name -> format spec, for every replacement field of a template."""
    return {name: spec for _, name, spec, _ in string.Formatter().parse(template) if name is not None}


def literal_text(template: str) -> str:
    """The template without its replacement fields."""
    return "".join(text for text, *_ in string.Formatter().parse(template))


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_template_has_both_languages_with_the_same_fields(key):
    pair = TEMPLATES[key]
    assert isinstance(pair, tuple) and len(pair) == len(LANGUAGES), key
    assert all(isinstance(t, str) and t.strip() for t in pair), key
    en, zh = pair
    assert fields_of(en) == fields_of(zh), f"{key}: {fields_of(en)} != {fields_of(zh)}"
    # say(key, **fields) and fail(key, **fields) take the key positionally
    assert "key" not in fields_of(en), f"{key}: a field named 'key' collides with say(key, ...)"


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_template_formats(key):
    fields = {name: 1 for name in fields_of(TEMPLATES[key][0])}  # 1 suits both {x} and {x:g}
    for lang in LANGUAGES:
        assert say(key, **fields).render(lang).strip()
    nested = {name: say("an_object", type="list") for name, spec in fields_of(TEMPLATES[key][0]).items() if not spec}
    for lang in LANGUAGES:
        assert say(key, **{**fields, **nested}).render(lang).strip()


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_chinese_template_is_chinese(key):
    en, zh = TEMPLATES[key]
    if not HAN.search(literal_text(zh)):
        # language-neutral: code and punctuation around fields, such as "{name}({args})" or "{first}; {rest}"
        assert not PROSE.search(literal_text(en)), f"{key} has no Chinese but its English is prose: {en!r}"
    # Latin words left in the Chinese are code or names shared with the English (nn.Linear, dtype, flower)
    english = set(WORD.findall(literal_text(en)))
    stray = [w for w in WORD.findall(literal_text(zh)) if w not in english and w + "s" not in english]
    assert not stray, f"{key}: {stray} in the Chinese template do not come from the English one"


def test_removed_generic_keys_are_gone():
    assert not REMOVED_KEYS & set(TEMPLATES)


def test_chinese_rendering_has_no_spaces_between_han_characters():
    message = say("raised", doing=say("model_on_meta", model="Model(6, 3)"), type="RuntimeError", message="boom")
    assert message.render("zh") == "Model(6, 3)(x)（模型和 x 都在 meta 设备上）抛出异常 RuntimeError：boom"
    assert message.render("en") == "Model(6, 3)(x) with the model and x on the meta device raised RuntimeError: boom"
    assert say("not_tensor", doing="f(x)", got=say("an_object", type="list")).render("zh") == "f(x) 返回了一个 list，应当返回张量"


# -- call sites ------------------------------------------------------------------------------------

def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _literal_parts(node: ast.expr) -> list[str] | None:
    """The literal text of a str constant or f-string; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return None


def prose_in(path: Path) -> list[str]:
    """English prose a file passes into student messages, as 'line: what'."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name in ("say", "fail") and node.args:
            key = node.args[0]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                if key.value in REMOVED_KEYS or key.value not in TEMPLATES:
                    found.append(f"{node.lineno}: {name}({key.value!r}, ...) has no template")
            for keyword in node.keywords:
                parts = _literal_parts(keyword.value)
                if keyword.arg == "detail" and parts is None:
                    found.append(f"{node.lineno}: detail= is not a literal, so it cannot be known to be code")
                if parts and any(PROSE.search(p) for p in parts):
                    found.append(f"{node.lineno}: {keyword.arg}={''.join(parts)!r}")
        else:
            for keyword in node.keywords:
                parts = _literal_parts(keyword.value)
                if keyword.arg == "doing" and parts and any(PROSE.search(p) for p in parts):
                    found.append(f"{node.lineno}: doing={''.join(parts)!r}")
    return found


def _source_cases():
    for path in sorted(GRADER.rglob("*.py")):
        relative = path.relative_to(GRADER).as_posix()
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_PROSE[relative])] if relative in KNOWN_PROSE else []
        yield pytest.param(path, id=relative, marks=marks)


@pytest.mark.parametrize("path", list(_source_cases()))
def test_no_english_prose_reaches_messages(path):
    found = prose_in(path)
    assert not found, f"{path.name} passes English prose into messages (add a template to grader/messages.py):\n" + "\n".join(found)


def test_the_prose_check_catches_prose(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'fail("fact", detail=f"{doing} has negative entries")\n'
        'say("law", law="x", detail=detail)\n'
        'subject.call("f", x, doing=f"{name}(x) on cuda now")\n'
        'fail("law", law=f"{low} <= f(z)", detail=f"f({z}) = {y}")\n',
        encoding="utf-8",
    )
    found = prose_in(sample)
    assert [line.split(":")[0] for line in found] == ["1", "1", "2", "3"], found
