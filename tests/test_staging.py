"""Staging a folder submission never follows links, and nothing per submission can take down a class run
(issue 11, class 1); files too large to parse are refused before they are read (class 6).

Unit tests call ``grader.sandbox.staging.stage`` on folders built here; the class test grades a class
folder whose students try links to a "reference" outside their folder, to ``/dev/zero``, link loops,
FIFOs, too many files and too many bytes, beside a correct classmate who still gets full marks.
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import grader.sandbox.staging as staging
import grader.workermanage
from grader.grade import Options, grade
from grader.load import MAX_BYTES, load, load_all, notebook_cells
from grader.properties import CATALOGUE, catalogue
from grader.results import gradescope
from grader.sandbox.staging import Caps, StagingRefused, stage
from grader.selfcheck import feedback_text
from grader.workermanage import Limits, Worker

ROOT = Path(__file__).resolve().parents[1]
CORRECT_MODULE = (ROOT / "submissions" / "correct" / "modern_module.py").read_text()
CORRECT_NOTEBOOK = ROOT / "submissions" / "correct" / "lesson_style.ipynb"
SECRET = "REFERENCE-SECRET-0451"
IDS = ["relu_matches_definition", "step_matches_definition"]
LIMITS = Limits(call_seconds=5, cell_seconds=20, total_seconds=60, memory_bytes=2 << 30)

catalogue()


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Workers' temporary folders go under this test's own folder, so leftovers are ours to count."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("propgrade-"))


def hostile_folder(base: Path, outside: Path) -> Path:
    """A submission folder holding one of each thing staging must not copy, beside real work."""
    folder = base / "sub"
    (folder / "data").mkdir(parents=True)
    (folder / "hw.py").write_text(CORRECT_MODULE)
    (folder / "data" / "points.csv").write_text("x,y\n1,2\n")
    (folder / "empty_dir").mkdir()
    os.symlink(outside, folder / "reference.py")
    os.symlink("/dev/zero", folder / "data" / "zeros.bin")
    os.symlink("loop_b", folder / "loop_a")
    os.symlink("loop_a", folder / "loop_b")
    os.symlink(base / "nowhere", folder / "dangling")
    os.symlink(outside.parent, folder / "linked_dir")
    os.mkfifo(folder / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "sock"))
    return folder


@pytest.fixture
def outside(tmp_path) -> Path:
    secret = tmp_path / "elsewhere" / "solution.py"
    secret.parent.mkdir()
    secret.write_text(f"# {SECRET}\ndef relu(z):\n    return z.clamp(min=0)\n")
    return secret


def tree(folder: Path) -> dict[str, str]:
    """Relative path -> kind, for everything under ``folder`` (links not followed)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        found[path.relative_to(folder).as_posix()] = "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"
    return found


# -- the walk ------------------------------------------------------------------------------------


def test_only_plain_files_and_folders_are_staged_and_the_rest_is_named(tmp_path, outside):
    folder = hostile_folder(tmp_path, outside)
    target = tmp_path / "work"
    staged = stage(folder, target)
    assert tree(target) == {"data": "dir", "data/points.csv": "file", "empty_dir": "dir", "hw.py": "file"}
    assert (target / "hw.py").read_text() == CORRECT_MODULE
    assert dict(staged.skipped) == {
        "data/zeros.bin": "staging_link",
        "dangling": "staging_link",
        "linked_dir": "staging_link",
        "loop_a": "staging_link",
        "loop_b": "staging_link",
        "pipe": "staging_fifo",
        "reference.py": "staging_link",
        "sock": "staging_socket",
    }
    assert staged.files == 2 and staged.bytes == len(CORRECT_MODULE.encode()) + len("x,y\n1,2\n")
    assert not any(SECRET in p.read_text() for p in target.rglob("*") if p.is_file())


def test_the_hash_covers_exactly_what_is_staged(tmp_path, outside):
    folder = hostile_folder(tmp_path, outside)
    staged = stage(folder, tmp_path / "work")
    assert stage(folder).sha256 == staged.sha256 == load(str(folder), "sub").sha256
    assert stage(tmp_path / "work").sha256 == staged.sha256  # the copy hashes as its source
    outside.write_text("changed")  # what a link points to is not the submission
    os.remove(folder / "pipe")  # nor is a FIFO
    assert stage(folder).sha256 == staged.sha256
    (folder / "data" / "points.csv").write_text("x,y\n1,3\n")
    assert stage(folder).sha256 != staged.sha256


def test_ignored_folders_are_not_staged(tmp_path):
    folder = tmp_path / "sub"
    for name in (".git", "__pycache__", ".ipynb_checkpoints"):
        (folder / name).mkdir(parents=True)
        (folder / name / "x").write_text("x")
    (folder / "hw.py").write_text("x = 1\n")
    staged = stage(folder, tmp_path / "work")
    assert tree(tmp_path / "work") == {"hw.py": "file"} and staged.skipped == []


def test_a_file_swapped_for_a_link_after_listing_is_refused(tmp_path, outside, monkeypatch):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "weights.pt").write_text("honest")
    real_open = os.open

    def swap_then_open(path, flags, *args, **kwargs):
        if path == "weights.pt":  # opened relative to its folder's descriptor
            os.remove(folder / path)
            os.symlink(outside, folder / path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(staging.os, "open", swap_then_open)
    staged = stage(folder, tmp_path / "work")
    assert tree(tmp_path / "work") == {}
    assert staged.skipped == [("weights.pt", "staging_link")]


def test_a_file_swapped_for_a_fifo_is_refused_without_waiting(tmp_path, monkeypatch):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "data.bin").write_text("honest")
    real_open = os.open

    def swap_then_open(path, flags, *args, **kwargs):
        if path == "data.bin":
            os.remove(folder / path)
            os.mkfifo(folder / path)  # opening a FIFO for reading would block until a writer comes
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(staging.os, "open", swap_then_open)
    staged = stage(folder, tmp_path / "work")
    assert staged.skipped == [("data.bin", "staging_fifo")] and tree(tmp_path / "work") == {}


def test_unreadable_entries_are_skipped_and_named_never_raised(tmp_path, monkeypatch):
    folder = tmp_path / "sub"
    (folder / "locked").mkdir(parents=True)
    (folder / "locked" / "a.txt").write_text("a")
    (folder / "broken.bin").write_text("b")
    (folder / "hw.py").write_text("x = 1\n")
    real_open = os.open

    def failing_open(path, flags, *args, **kwargs):
        if path in ("broken.bin", "locked"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(staging.os, "open", failing_open)
    staged = stage(folder, tmp_path / "work")
    assert staged.skipped == [("broken.bin", "staging_unreadable"), ("locked", "staging_unreadable")]
    assert tree(tmp_path / "work") == {"hw.py": "file"}


def test_a_folder_swapped_for_a_link_after_listing_is_not_followed(tmp_path, outside, monkeypatch):
    folder = tmp_path / "sub"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "a.txt").write_text("a")
    real_open = os.open

    def swap_then_open(path, flags, *args, **kwargs):
        if path == "data":
            (folder / "data" / "a.txt").unlink()
            (folder / "data").rmdir()
            os.symlink(outside.parent, folder / "data")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(staging.os, "open", swap_then_open)
    staged = stage(folder, tmp_path / "work")
    assert staged.skipped == [("data", "staging_link")] and tree(tmp_path / "work") == {}


@pytest.mark.parametrize(
    "build, caps, words",
    [
        (lambda f: [(f / f"n{i}.txt").write_text("") for i in range(6)], Caps(files=5), "more than 5 files"),
        (lambda f: (f / "big.bin").write_bytes(b"x" * 3000), Caps(total_bytes=2048), "more than 2,048 bytes"),
        (lambda f: (f / "a" / "b" / "c").mkdir(parents=True), Caps(depth=2), "nested deeper than 2"),
        (lambda f: None, Caps(seconds=0), "copying took longer than 0 s"),
    ],
)
def test_caps_stop_staging_with_a_clear_reason(tmp_path, build, caps, words):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "hw.py").write_text("x = 1\n")
    build(folder)
    with pytest.raises(StagingRefused) as refused:
        stage(folder, tmp_path / "work", caps=caps)
    assert words in refused.value.message.render("en")
    assert refused.value.message.render("zh")


def test_a_sparse_file_over_the_byte_cap_is_not_read_whole(tmp_path, monkeypatch):
    folder = tmp_path / "sub"
    folder.mkdir()
    subprocess.run(["truncate", "-s", "10G", str(folder / "huge.bin")], check=True)
    read = []
    real_read = os.read
    monkeypatch.setattr(staging.os, "read", lambda fd, n: read.append(n) or real_read(fd, n))
    with pytest.raises(StagingRefused, match="more than 1.0 MiB"):
        stage(folder, tmp_path / "work", caps=Caps(total_bytes=1 << 20))
    assert sum(read) <= (1 << 20) + 1


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files away needs root")
def test_as_root_staged_files_belong_to_the_worker(tmp_path):
    folder = tmp_path / "sub"
    (folder / "d").mkdir(parents=True)
    (folder / "d" / "f.txt").write_text("f")
    stage(folder, tmp_path / "work", owner=123456)
    assert {p.lstat().st_uid for p in [tmp_path / "work", *(tmp_path / "work").rglob("*")]} == {123456}


# -- the worker's folder -------------------------------------------------------------------------


def test_a_worker_whose_staging_fails_leaves_nothing_behind(tmp_path, private_tmp, monkeypatch):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "hw.py").write_text("x = 1\n")
    monkeypatch.setattr(grader.workermanage, "stage", lambda *a, **k: stage(*a, **{**k, "caps": Caps(files=0)}))
    with pytest.raises(StagingRefused):
        Worker(folder, limits=LIMITS, seed=0, device="cpu")
    assert leftovers(private_tmp) == []


# -- loading -------------------------------------------------------------------------------------


def test_loading_never_follows_a_link(tmp_path, outside):
    notebook = tmp_path / "class" / "alice.ipynb"
    notebook.parent.mkdir()
    os.symlink(CORRECT_NOTEBOOK, notebook)  # "my notebook" is another student's
    folder = tmp_path / "class" / "bob"
    folder.mkdir()
    os.symlink(outside, folder / "hw.py")  # the entry is the reference
    fifo = tmp_path / "class" / "carol.py"
    os.mkfifo(fifo)
    loaded = {s.id: s for s in load_all([str(tmp_path / "class")])}
    assert sorted(loaded) == ["alice", "bob", "carol"]
    assert "alice.ipynb is a link, and links are not followed" in loaded["alice"].problem.render("en")
    assert "hw.py is a link, and links are not followed" in loaded["bob"].problem.render("en")
    assert "carol.py is not a plain file" in loaded["carol"].problem.render("en")
    assert all(s.cells == [] for s in loaded.values())
    (given,) = load_all([str(notebook)])  # named directly on the command line
    assert "is a link" in given.problem.render("en")


def test_a_notebook_over_the_cap_is_refused_unread(tmp_path, monkeypatch):
    notebook = tmp_path / "big.ipynb"
    subprocess.run(["truncate", "-s", "1536M", str(notebook)], check=True)  # sparse: takes no disk
    import grader.load

    read = []
    real_read = os.read
    monkeypatch.setattr(grader.load.os, "read", lambda fd, n: read.append(n) or real_read(fd, n))
    submission = load(str(notebook), "big")
    assert read == []
    assert "big.ipynb is 1536.0 MiB, over the limit of 8.0 MiB" in submission.problem.render("en")
    result = grade(submission, Options(profile="ci", properties=[CATALOGUE[i] for i in IDS], limits=LIMITS))
    assert result.status == "unreadable" and {v.kind for v in result.verdicts} == {"error"}


def test_a_module_over_the_cap_is_refused(tmp_path):
    module = tmp_path / "big.py"
    module.write_bytes(b"#" * (MAX_BYTES[".py"] + 1))
    assert "big.py is 262,145 bytes, over the limit of 262,144 bytes" in load(str(module), "big").problem.render("en")


def test_a_module_too_deep_for_the_compiler_is_unreadable_not_a_crash(tmp_path):
    module = tmp_path / "deep.py"
    module.write_text("x = " + "1+" * 100_000 + "1\n")
    problem = load(str(module), "deep").problem.render("en")
    assert problem.startswith("the submission could not be read: deep.py: line 1: SyntaxError") and "recursion" in problem


def test_outputs_are_dropped_before_nbformat_reads_the_notebook():
    import json

    notebook = json.loads(CORRECT_NOTEBOOK.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 100}] * 50
        cell["attachments"] = {"a.png": {"image/png": "AAAA"}}
    with_outputs = json.dumps(notebook).encode()
    assert notebook_cells(with_outputs) == notebook_cells(CORRECT_NOTEBOOK.read_bytes())


LARGEST_NOTEBOOK = """
import json, resource, sys
from grader.load import MAX_BYTES, notebook_cells
kind = sys.argv[1]
cap = MAX_BYTES[".ipynb"]
if kind == "outputs":  # plots and logs: long strings
    cell = {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "x = 1", "outputs": [{"output_type": "stream", "name": "stdout", "text": "y" * 60000}]}
    count = cap // 60200
else:  # the most JSON objects a file of the cap can hold
    cell = {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "x = 1", "outputs": [{}] * 6000}
    count = cap // 24200
raw = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell] * count}).encode()
assert cap - 100000 < len(raw) <= cap, len(raw)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cells = notebook_cells(raw)
assert len(cells) == count
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.parametrize("kind", ["outputs", "objects"])
def test_the_largest_notebook_allowed_parses_within_a_bounded_memory(kind):
    """Measured on the development machine: about 35 MiB (long outputs) and 170 MiB (as many JSON
    objects as 8 MiB can hold) over the process's size before parsing; the bound leaves room."""
    out = subprocess.run([sys.executable, "-c", LARGEST_NOTEBOOK, kind], cwd=ROOT, capture_output=True, text=True, check=True)
    grown_mib = int(out.stdout.strip())
    assert grown_mib < 400, grown_mib


# -- a class with hostile folders ----------------------------------------------------------------


def test_a_class_of_hostile_folders_is_graded_student_by_student(tmp_path, outside, private_tmp, monkeypatch):
    course = tmp_path / "class"
    course.mkdir()
    links = hostile_folder(tmp_path, outside)
    links.rename(course / "links")
    (course / "links" / "reference.py").rename(course / "links" / "helper.py")
    (course / "links" / "hw.py").write_text("from helper import relu\n" + CORRECT_MODULE.replace("def relu(", "def _unused_relu("))
    many = course / "many_files"
    many.mkdir()
    (many / "hw.py").write_text(CORRECT_MODULE)
    for i in range(staging.Caps().files):
        (many / f"f{i:04}.txt").write_text("")
    heavy = course / "heavy"
    heavy.mkdir()
    (heavy / "hw.py").write_text(CORRECT_MODULE)
    subprocess.run(["truncate", "-s", str(staging.Caps().total_bytes + 1), str(heavy / "weights.pt")], check=True)
    full_disk = course / "full_disk"
    full_disk.mkdir()
    (full_disk / "hw.py").write_text(CORRECT_MODULE)
    honest = course / "honest"
    honest.mkdir()
    (honest / "hw.py").write_text(CORRECT_MODULE)

    real_stage = grader.workermanage.stage

    def disk_fills_for_one(source, target, **kwargs):
        if Path(source).name == "full_disk":
            (Path(target) / "partial").mkdir(parents=True)
            raise OSError(28, "No space left on device")
        return real_stage(source, target, **kwargs)

    monkeypatch.setattr(grader.workermanage, "stage", disk_fills_for_one)
    options = Options(profile="ci", properties=[CATALOGUE[i] for i in IDS], limits=LIMITS)
    results = {r.id: r for r in (grade(s, options) for s in load_all([str(course)]))}
    assert sorted(results) == ["full_disk", "heavy", "honest", "links", "many_files"]

    assert results["honest"].status == "graded" and results["honest"].score == results["honest"].max_score > 0

    linked = results["links"]
    assert linked.status == "graded" and linked.score < results["honest"].score
    written = gradescope(linked)
    assert "helper.py (a link)" in written["output"] and "data/zeros.bin (a link)" in written["output"]
    assert "pipe (a FIFO)" in written["output"] and "loop_a (a link)" in written["output"]
    assert SECRET not in str(written)
    assert "helper.py (a link)" in feedback_text(linked)  # propgrade check says it too

    many_files = results["many_files"]
    assert many_files.status == "unreadable" and {v.kind for v in many_files.verdicts} == {"error"}
    assert f"more than {staging.Caps().files} files" in gradescope(many_files)["output"]
    assert results["heavy"].status == "unreadable"
    assert "more than 64.0 MiB" in gradescope(results["heavy"])["output"]

    failed = results["full_disk"]
    assert failed.status == "grader_failed" and {v.kind for v in failed.verdicts} == {"skipped"}  # the machine's disk, not the student
    assert "No space left on device" in failed.verdicts[0].message.render("en")
    assert failed.key == {}  # a re-run tries again

    assert leftovers(private_tmp) == []


def test_an_unexpected_error_in_grading_is_that_submissions_verdict(tmp_path, private_tmp, monkeypatch):
    import grader.grade

    module = tmp_path / "hw.py"
    module.write_text(CORRECT_MODULE)
    monkeypatch.setattr(grader.grade, "seq_net_weights", lambda subject: {}["boom"])
    result = grade(load(str(module), "hw"), Options(profile="ci", properties=[CATALOGUE[i] for i in IDS], limits=LIMITS))
    assert result.status == "grader_failed" and result.score == result.max_score == 0  # nothing charged to the student
    assert "the grader failed on this submission in grading (KeyError: 'boom')" in result.problem.render("en")
    assert leftovers(private_tmp) == []


def test_a_folder_changed_after_loading_is_not_graded_as_loaded(tmp_path, private_tmp):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "hw.py").write_text(CORRECT_MODULE)
    submission = load(str(folder), "sub")
    (folder / "weights.pt").write_bytes(b"new")
    result = grade(submission, Options(profile="ci", properties=[CATALOGUE[i] for i in IDS], limits=LIMITS))
    assert result.status == "unreadable"
    assert "changed while it was being graded" in result.problem.render("en")
    assert leftovers(private_tmp) == []


def test_staging_a_normal_submission_is_cheap(tmp_path):
    """Not timed: the staged copy of a bundled notebook folder is byte for byte its source."""
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "hw.ipynb").write_bytes(CORRECT_NOTEBOOK.read_bytes())
    staged = stage(folder, tmp_path / "work")
    assert (tmp_path / "work" / "hw.ipynb").read_bytes() == CORRECT_NOTEBOOK.read_bytes()
    assert staged.files == 1 and staged.bytes == CORRECT_NOTEBOOK.stat().st_size
    digest = hashlib.sha256(b"hw.ipynb\0" + hashlib.sha256(CORRECT_NOTEBOOK.read_bytes()).digest()).hexdigest()
    assert staged.sha256 == digest
