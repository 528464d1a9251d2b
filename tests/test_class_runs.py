"""Class runs: resuming, sharding, progress, and what a run records for the report."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import reference
from grader.cli import main, shard_spec
from grader.grade import SEQ_NET_SHAPES, seq_net_weights
from grader.load import load_all, shard
from grader.progress import Progress
from grader.subject import Subject

ROOT = Path(__file__).resolve().parents[1]
RELU_ONLY = "import torch\n\n\ndef relu(z):\n    return torch.relu(z)\n"


def relu_class(folder: Path, count: int) -> list[Path]:
    """Small submissions: only ``relu``, so every other property is ``missing`` at once."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"student{number}.py"
        path.write_text(f"# student {number}\n{RELU_ONLY}")
        paths.append(path)
    return paths


def grade_cli(*args: str) -> int:
    return main(["grade", *args, "--profile", "ci", "-j", "1", "--device", "cpu"])


def stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


def test_rerun_keeps_what_was_graded_from_the_same_content_and_settings(tmp_path, capsys):
    (first, second) = relu_class(tmp_path / "class", 2)
    out = tmp_path / "out"
    assert grade_cli(str(first), str(second), "--out", str(out)) == 0
    results = {p.stem: out / p.stem / "results.json" for p in (first, second)}
    before = {name: stamp(path) for name, path in results.items()}
    capsys.readouterr()

    assert grade_cli(str(first), str(second), "--out", str(out)) == 0
    assert "2 submission(s) already graded" in capsys.readouterr().out
    assert {name: stamp(path) for name, path in results.items()} == before

    second.write_text(second.read_text() + "\n# changed\n")
    assert grade_cli(str(first), str(second), "--out", str(out)) == 0
    assert "1 submission(s) already graded" in capsys.readouterr().out
    assert stamp(results["student0"]) == before["student0"]
    assert stamp(results["student1"]) != before["student1"]

    assert grade_cli(str(first), str(second), "--out", str(out), "--seed", "7") == 0
    assert "already graded" not in capsys.readouterr().out
    assert grade_cli(str(first), str(second), "--out", str(out), "--seed", "7", "--regrade") == 0
    assert "already graded" not in capsys.readouterr().out


def test_fail_under_counts_submissions_kept_from_an_earlier_run(tmp_path):
    (path,) = relu_class(tmp_path / "class", 1)
    out = tmp_path / "out"
    assert grade_cli(str(path), "--out", str(out)) == 0
    assert grade_cli(str(path), "--out", str(out), "--fail-under", "50") == 1  # only relu: far below 50%


def test_a_run_killed_halfway_loses_only_the_submission_in_flight(tmp_path):
    paths = relu_class(tmp_path / "class", 3)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader.cli", "grade", str(tmp_path / "class"), "--out", str(out), "--profile", "ci", "-j", "1", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("*/results.json")) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    done = {p.parent.name for p in out.glob("*/results.json")}
    assert 1 <= len(done) < 3
    for path in out.glob("*/results.json"):
        json.loads(path.read_text())  # whole files only: written atomically
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert f"{len(done)} submission(s) already graded" in finished.stdout
    assert {p.parent.name for p in out.glob("*/results.json")} == {p.stem for p in paths}


def test_shards_split_the_class_deterministically():
    paths = [f"class/student{n}.py" for n in range(40)]
    submissions = load_all(paths)
    parts = [shard(submissions, index, 3) for index in (1, 2, 3)]
    ids = [[s.id for s in part] for part in parts]
    assert sorted(sum(ids, [])) == sorted(s.id for s in submissions)
    assert all(part for part in ids)
    assert [[s.id for s in shard(load_all(paths), i, 3)] for i in (1, 2, 3)] == ids
    # a student joining the class does not move anyone else to another shard
    grown = load_all(paths + ["class/latecomer.py"])
    assert [[s.id for s in shard(grown, i, 3) if s.id != "latecomer"] for i in (1, 2, 3)] == ids


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "2"])
def test_bad_shard_specs_are_usage_errors(text, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["grade", str(tmp_path), "--out", str(tmp_path / "out"), "--shard", text])
    assert exit_.value.code == 2
    assert "I/N" in capsys.readouterr().err
    assert shard_spec("2/5") == (2, 5)


def test_progress_writes_plain_lines_with_rate_and_time_left_in_logs():
    stream = io.StringIO()
    progress = Progress(3, stream=stream, terminal=False)
    for number in range(2):
        progress(SimpleNamespace(id=f"s{number}", score=3.0, max_score=4.0, status="graded", seconds=1.5))
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/3] s0: 3/4 (75%) graded in 1.5 s")
    assert lines[1].startswith("[2/3] s1:")
    assert all("/min" in line and "left" in line for line in lines)


def namespace_with(seq_net) -> Subject:
    return Subject.in_process({"seq_net": seq_net}, ["seq_net"])


def test_the_students_seq_net_weights_are_recorded_as_plain_numbers():
    torch.manual_seed(3)
    network = reference.seq_net
    weights = seq_net_weights(namespace_with(network))
    assert {name: tuple(torch.tensor(value).shape) for name, value in weights.items()} == SEQ_NET_SHAPES
    assert weights["0.weight"] == network.state_dict()["0.weight"].to(torch.float64).tolist()
    assert seq_net_weights(namespace_with(nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 1)))) is None
    assert seq_net_weights(Subject.in_process({}, ["seq_net"])) is None


def test_a_folder_submission_changes_when_a_file_beside_the_notebook_changes(tmp_path):
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "work.py").write_text(RELU_ONLY)
    (folder / "weights.txt").write_text("1")
    (before,) = load_all([str(folder)])
    (folder / "weights.txt").write_text("2")
    (after,) = load_all([str(folder)])
    assert before.sha256 and before.sha256 != after.sha256
