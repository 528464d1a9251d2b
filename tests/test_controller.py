"""The controller process itself: how many torch threads it runs, when it starts a pool of controllers."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
from pathlib import Path

import grader.grade
from grader.grade import Options, grade_many
from grader.load import load_all

ROOT = Path(__file__).resolve().parents[1]


def test_the_propgrade_command_runs_one_torch_thread_whatever_the_environment_says():
    """torch reads OMP_NUM_THREADS when first imported, and grader.cli imports it: setting it in main() was too late."""
    probe = "import grader.cli, os, torch; print(torch.get_num_threads(), os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])"
    env = {**os.environ, "OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.split() == ["1", "1", "1"]


def fake_grade(submission, options):
    return f"graded {submission.id} in {os.getpid()}"


def no_pool(*args, **kwargs):
    raise AssertionError("a pool of controllers was started")


def test_one_submission_is_graded_in_this_process_whatever_jobs_says(tmp_path, monkeypatch):
    (tmp_path / "only.py").write_text("x = 1\n")
    monkeypatch.setattr(grader.grade, "grade", fake_grade)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    seen = []
    results = grade_many(load_all([str(tmp_path / "only.py")]), Options(), jobs=4, on_result=seen.append)
    assert results == seen == [f"graded only in {os.getpid()}"]
