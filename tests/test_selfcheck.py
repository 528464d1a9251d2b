"""``propgrade check``: the student's self-check, here and on platforms without POSIX process limits."""

from __future__ import annotations

from pathlib import Path

import pytest

import grader.workermanage
from grader.assignment import load_assignment
from grader.cli import main
from grader.properties import CATALOGUE

ROOT = Path(__file__).resolve().parents[1]
QUICK = Path(__file__).parent / "assignments" / "quick.toml"
CORRECT = ROOT / "submissions" / "correct" / "modern_module.py"
BUGGY = ROOT / "submissions" / "buggy" / "step_zero_is_zero.py"
NOT_VISIBLE = ("sigmoid_is_symmetric", "relu_is_monotone")  # hidden and after_due_date in quick.toml

pytestmark = pytest.mark.slow


@pytest.fixture
def without_posix_process_limits(monkeypatch):
    """Grade as on Windows: plain subprocess workers, killed on their own, no memory cap."""
    monkeypatch.setattr(grader.workermanage, "posix_process_limits", lambda: False)


def check(capsys, path: Path, *extra: str) -> tuple[int, str]:
    code = main(["check", str(path), "--assignment", str(QUICK), "--device", "cpu", *extra])
    return code, capsys.readouterr().out


def assert_no_word_of_hidden_properties(text: str) -> None:
    for pid in NOT_VISIBLE:
        assert pid not in text
        assert CATALOGUE[pid].statement not in text and CATALOGUE[pid].statement_zh not in text


def test_correct_work_passes_every_visible_check_without_posix_limits(capsys, without_posix_process_limits):
    code, text = check(capsys, CORRECT)
    assert code == 0, text
    assert "isolation: no memory cap on this platform" in text
    visible = [p.id for p in load_assignment(QUICK).visible_only().properties()]
    assert all(f"✓ {pid}: " in text for pid in visible)
    assert "✗" not in text
    assert text.rstrip().endswith("score on these checks: 10 / 10 points")
    assert f"{len(visible)} checks" in text
    assert_no_word_of_hidden_properties(text)


def test_buggy_work_shows_the_minimal_counterexample_without_posix_limits(capsys, without_posix_process_limits):
    code, text = check(capsys, BUGGY)
    assert code == 1
    assert "isolation: no memory cap on this platform" in text
    lines = text.splitlines()
    failed = lines.index(next(line for line in lines if line.startswith("✗ step_of_zero_is_one: ")))
    assert "got 0.0, expected 1.0" in lines[failed + 1]
    assert "Minimal failing example:" in text and "tensor(0.)" in text
    assert "✓ relu_matches_definition: " in text
    assert text.rstrip().endswith("score on these checks: 6 / 10 points")
    assert_no_word_of_hidden_properties(text)


def test_check_speaks_chinese_and_says_nothing_about_isolation_where_it_is_complete(capsys):
    code, text = check(capsys, BUGGY, "--lang", "zh")
    assert code == 1
    assert "隔离" not in text and "isolation" not in text
    assert "最小反例" in text and "这些检查的得分：6 / 10 分" in text
    assert_no_word_of_hidden_properties(text)


def test_usage_errors_exit_2(capsys, tmp_path):
    assert main(["check", str(tmp_path / "absent.ipynb")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[properties]\nstep = 1\n", encoding="utf-8")
    assert main(["check", str(CORRECT), "--assignment", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"propgrade: error: {bad}: properties: unknown property id 'step'")


def test_an_unreadable_notebook_is_one_message_and_exit_1(capsys, tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("not json", encoding="utf-8")
    code, text = check(capsys, broken)
    assert code == 1
    assert "not a readable Jupyter notebook" in text and "✗" not in text
    assert text.rstrip().endswith("score on these checks: 0 / 10 points")
