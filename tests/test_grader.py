"""End to end: grading real files through the worker, and every output format."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import junitparser
import pytest
import torch

from grader import wire
from grader.cli import main
from grader.grade import Options, grade
from grader.load import load_all, safe_id
from grader.properties import CATALOGUE, catalogue
from grader.report import read_class, write_summary
from grader.results import gradescope, junit, write_submission
from grader.workermanage import Limits

ROOT = Path(__file__).resolve().parents[1]
CORRECT = ROOT / "submissions" / "correct"
FAST = Limits(call_seconds=10, cell_seconds=30, total_seconds=300, memory_bytes=3 << 30)


def options(**kwargs) -> Options:
    return Options(profile="ci", limits=FAST, **kwargs)


@pytest.fixture(scope="module")
def correct_module():
    (submission,) = load_all([str(CORRECT / "modern_module.py")])
    return grade(submission, options())


def test_correct_module_gets_full_marks_on_what_could_be_checked(correct_module):
    failed = [(v.property, v.message.render("en")) for v in correct_module.verdicts if v.kind not in ("passed", "skipped")]
    assert failed == []
    assert correct_module.score == correct_module.max_score > 0
    skipped = {v.property for v in correct_module.verdicts if v.kind == "skipped"}
    if not torch.cuda.is_available():
        assert skipped == {"functions_on_cuda_match_cpu", "models_on_cuda_match_cpu", "params_round_trip_across_devices"}
        total = sum(p.points for p in catalogue())
        assert correct_module.max_score == total - sum(CATALOGUE[i].points for i in skipped)


def test_results_json_follows_gradescope_schema(correct_module):
    data = gradescope(correct_module, "en")
    assert set(data) >= {"score", "max_score", "execution_time", "output", "tests", "extra_data"}
    assert len(data["tests"]) == len(catalogue())
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert test.get("status", "passed") in ("passed", "failed")
        assert test["score"] <= test["max_score"] or test["max_score"] == 0
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(data["score"])
    assert sum(t["max_score"] for t in data["tests"]) == pytest.approx(data["max_score"])
    record = data["extra_data"]["propgrade"]
    assert record["seed"] == 0 and "torch" in record["versions"]
    skipped = [p for p in record["properties"] if p["verdict"] == "skipped"]
    assert all(p["max_points"] == 0 for p in skipped)
    json.dumps(data)


def test_chinese_results_speak_chinese(correct_module):
    data = gradescope(correct_module, "zh")
    assert "得分" in data["output"]
    assert any("成立" in t["output"] for t in data["tests"])


def test_junit_is_read_by_a_junit_parser(correct_module, tmp_path):
    folder = write_submission(correct_module, tmp_path)
    xml = junitparser.JUnitXml.fromfile(str(folder / "junit.xml"))
    suites = [xml] if isinstance(xml, junitparser.TestSuite) else list(xml)
    cases = [case for suite in suites for case in suite]
    assert len(cases) == len(catalogue())
    outcomes = [type(r).__name__ for case in cases for r in case.result]
    assert outcomes.count("Skipped") == len(correct_module.skipped)
    assert "Failure" not in outcomes and "Error" not in outcomes


def test_summary_csv_has_one_column_per_property(correct_module, tmp_path):
    write_submission(correct_module, tmp_path)
    path = write_summary(read_class([tmp_path])[0], tmp_path)
    rows = list(csv.DictReader(path.open()))
    assert rows[0]["submission"].endswith("modern_module.py")
    assert rows[0]["id"] == "modern_module"
    assert float(rows[0]["score"]) == correct_module.score
    assert all(rows[0][pid] in ("passed", "skipped") for pid in CATALOGUE)


def test_buggy_submission_loses_exactly_what_it_breaks():
    (submission,) = load_all([str(ROOT / "submissions" / "buggy" / "step_zero_is_zero.py")])
    ids = ["step_of_zero_is_one", "step_matches_definition", "relu_matches_definition", "AND_truth_table"]
    result = grade(submission, options(properties=[CATALOGUE[i] for i in ids]))
    kinds = {v.property: v.kind for v in result.verdicts}
    assert kinds == {"step_of_zero_is_one": "failed", "step_matches_definition": "failed", "relu_matches_definition": "passed", "AND_truth_table": "failed"} or kinds["AND_truth_table"] == "passed"
    message = next(v for v in result.verdicts if v.property == "step_of_zero_is_one").message.render("en")
    assert "step(" in message and "expected 1.0" in message
    assert result.score == CATALOGUE["relu_matches_definition"].points + (CATALOGUE["AND_truth_table"].points if kinds["AND_truth_table"] == "passed" else 0)


def test_same_seed_gives_the_same_results():
    (submission,) = load_all([str(ROOT / "submissions" / "buggy" / "step_zero_is_zero.py")])
    ids = ["step_matches_definition", "step_is_monotone", "XOR_works_on_any_batch"]
    runs = [gradescope(grade(submission, options(properties=[CATALOGUE[i] for i in ids])), "en") for _ in range(2)]
    for run in runs:
        run.pop("execution_time")
        for measured in ("seconds", "peak_memory_bytes"):  # how long and how big, not what
            run["extra_data"]["propgrade"].pop(measured)
    assert runs[0] == runs[1]


def test_ids_are_safe_and_unique():
    taken: set[str] = set()
    ids = [safe_id(p, taken) for p in ["a/小明 作业.ipynb", "b/小明 作业.ipynb", "x/../CON.py", "hw.py", "HW.py", "..."]]
    assert len(set(i.lower() for i in ids)) == len(ids)
    assert all(i and all(c.isascii() and (c.isalnum() or c in "-_.") for c in i) for i in ids)


def test_unreadable_inputs_get_a_verdict_not_a_crash(tmp_path):
    (tmp_path / "broken.ipynb").write_text("{ not json")
    (tmp_path / "syntax.py").write_text("def step(z):\n    return z +\n")
    (tmp_path / "notes.txt").write_text("ignored in a class folder")
    results = {s.id: s for s in load_all([str(tmp_path / "broken.ipynb"), str(tmp_path / "syntax.py")])}
    assert "not a readable Jupyter notebook" in results["broken"].problem.render("en")
    assert "line 2" in results["syntax"].problem.render("en")
    graded = grade(results["syntax"], options(properties=[CATALOGUE["step_of_zero_is_one"]]))
    assert graded.status == "unreadable" and graded.score == 0
    assert graded.verdicts[0].kind == "error"


def test_class_folder_expands_and_ignores_other_files(tmp_path):
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / "readme.txt").write_text("")
    student = tmp_path / "carol"
    student.mkdir()
    (student / "work.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    subs = load_all([str(tmp_path)])
    assert [s.id for s in subs] == ["a", "b", "carol"]
    assert subs[2].kind == "notebook" and subs[2].entry == "work.ipynb"


def test_wire_refuses_anything_but_plain_data():
    frame = wire.encode({"x": torch.arange(6.0).reshape(2, 3), "meta": torch.empty(2, device="meta"), "n": float("inf")})
    back = wire.decode(frame)
    assert torch.equal(back["x"], torch.arange(6.0).reshape(2, 3)) and back["meta"].device.type == "meta" and back["n"] == float("inf")
    with pytest.raises(wire.WireError):
        wire.decode(frame[:-3])
    with pytest.raises(TypeError):
        wire.encode({"f": object()})
    forged = wire.encode({"t": torch.zeros(2)}).replace(b'"float32"', b'"pickle!"')
    with pytest.raises(wire.WireError):
        wire.decode(forged)


def spelled_out_frame(message) -> bytes:
    """What the encoder's slow path (every value walked in Python) makes of ``message``."""
    blobs: list[bytes] = []
    return wire._frame(json.dumps(wire._spelled_out(message, blobs)).encode(), blobs)


def test_the_fast_encoder_writes_the_bytes_the_walk_writes():
    """Recorded requests are compared byte for byte with new ones: both ways of encoding must agree."""
    message = {"op": "call", "args": {"name": "step", "args": [torch.arange(6.0).reshape(2, 3), (1, 2.5, None, True, "x")],
                                      "device": "meta", "nested": {"t": torch.ones(2, dtype=torch.int64), "e": torch.empty(0)}}}
    assert wire.encode(message) == spelled_out_frame(message)
    back = wire.decode(wire.encode({"nan": [float("nan"), float("-inf")], "t": torch.zeros(1)}))
    assert math.isnan(back["nan"][0]) and back["nan"][1] == float("-inf") and torch.equal(back["t"], torch.zeros(1))


@pytest.mark.parametrize("damage", ["trailing", "long blob", "short header", "no blob count"])
def test_a_frame_whose_sizes_do_not_add_up_is_a_wire_error(damage):
    frame = wire.encode({"t": torch.arange(3.0)})
    header_size = int.from_bytes(frame[:8], "big")
    damaged = {
        "trailing": frame + b"\0",
        "long blob": frame[: 16 + header_size] + (10**6).to_bytes(8, "big") + frame[24 + header_size :],
        "short header": (header_size + 5).to_bytes(8, "big") + frame[8:],
        "no blob count": frame[: 8 + header_size],
    }[damage]
    with pytest.raises(wire.WireError):
        wire.decode(damaged)


COMPLEX = torch.tensor([1 + 2j, -3 - 4j])
AWKWARD_TENSORS = {
    "transposed": torch.arange(12.0).reshape(3, 4).t(),
    "strided": torch.arange(10.0)[::3],
    "0-d": torch.tensor(2.5, dtype=torch.float64),
    "empty": torch.zeros(0, 3),
    "bool": torch.tensor([True, False]),
    "bfloat16": torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
    "float16": torch.tensor([1.5, -2.0], dtype=torch.float16),
    "requires grad": torch.ones(2, requires_grad=True),
    "conjugate view": COMPLEX.conj(),
    "negative view": COMPLEX.conj().imag,
}


@pytest.mark.parametrize("name", AWKWARD_TENSORS)
def test_any_tensor_crosses_the_wire_with_its_values(name):
    tensor = AWKWARD_TENSORS[name]
    back = wire.decode(wire.encode({"t": tensor}))["t"]
    assert back.dtype == tensor.dtype and back.shape == tensor.shape
    assert torch.equal(back, tensor.detach().resolve_conj().resolve_neg())


@pytest.mark.parametrize("forgery", ['{"$tensor": [1, 2], "shape": [2], "blob": 0}', '{"$tensor": "float32", "shape": [1e400], "blob": 0}',
                                     '{"$tensor": "float32", "shape": [99999999999999999999999], "meta": true}', '{"$tensor": "float32", "shape": "2"}'])
def test_a_forged_tensor_header_is_a_wire_error_not_a_crash(forgery):
    header = forgery.encode()
    frame = len(header).to_bytes(8, "big") + header + (1).to_bytes(8, "big") + (8).to_bytes(8, "big") + bytes(8)
    with pytest.raises(wire.WireError):
        wire.decode(frame)


def test_cli_usage_errors_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", str(tmp_path)])
    assert exit_info.value.code == 2
    assert main(["grade", str(tmp_path / "a.py"), "--out", str(tmp_path / "out"), "--jobs", "0"]) == 2


def test_cli_grades_and_fail_under(tmp_path):
    module = tmp_path / "tiny.py"
    module.write_text("import torch\ndef relu(z):\n    return torch.relu(z)\n")
    out = tmp_path / "out"
    args = ["grade", str(module), "--out", str(out), "--profile", "ci", "--device", "cpu"]
    assert main(args) == 0
    assert (out / "tiny" / "results.json").exists() and (out / "tiny" / "junit.xml").exists() and (out / "summary.csv").exists()
    assert (out / "report.html").exists() and (out / "summary.md").exists()
    assert main([*args, "--fail-under", "50"]) == 1


def test_pytest_plugin_runs_one_test_per_property(tmp_path):
    module = tmp_path / "student" / "partial.py"
    module.parent.mkdir()
    module.write_text("import torch\ndef relu(z):\n    return torch.relu(z)\ndef step(z):\n    return (z > 0).to(z.dtype)\n")
    neutral = tmp_path / "neutral"  # started outside the student's folder, which the plugin refuses (tests/test_pytest_path.py)
    neutral.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--propgrade-submission", str(module), "-k", "relu_matches or step_of_zero or tanh_is_odd"],
        capture_output=True, text=True, cwd=neutral, timeout=300,
    )
    assert "1 passed" in run.stdout and "2 failed" in run.stdout, run.stdout[-3000:]
    assert "expected 1.0" in run.stdout and "tanh is not defined" in run.stdout


def test_parallel_grading_keeps_the_order_and_every_result(tmp_path):
    from grader.grade import grade_many

    for name, body in (("first", "def relu(z):\n    return torch.relu(z)\n"), ("second", "def relu(z):\n    return z\n")):
        (tmp_path / f"{name}.py").write_text("import torch\n" + body)
    subs = load_all([str(tmp_path)])
    results = grade_many(subs, options(properties=[CATALOGUE["relu_matches_definition"]]), jobs=2)
    assert [r.id for r in results] == ["first", "second"]
    assert [r.verdicts[0].kind for r in results] == ["passed", "failed"]


def test_unreadable_submissions_have_the_same_maximum_as_graded_ones(tmp_path, correct_module):
    (tmp_path / "broken.py").write_text("def step(z) return z\n")
    (submission,) = load_all([str(tmp_path / "broken.py")])
    result = grade(submission, options())
    assert result.status == "unreadable" and result.score == 0
    assert result.max_score == correct_module.max_score


def test_a_notebook_imports_modules_from_its_own_folder(tmp_path):
    import nbformat

    folder = tmp_path / "hw"
    folder.mkdir()
    (folder / "helpers.py").write_text("import torch\n\ndef relu(z):\n    return torch.relu(z)\n")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("from helpers import relu")]), folder / "hw.ipynb")
    (submission,) = load_all([str(folder)])
    result = grade(submission, options(properties=[CATALOGUE["relu_matches_definition"]]))
    assert [c.ok for c in result.cells] == [True]
    assert result.verdicts[0].kind == "passed"


def test_the_worker_training_loop_is_exactly_torch_sgd(tmp_path):
    """op_fit writes the SGD step out for speed; it must give the very numbers torch.optim.SGD gives."""
    import copy

    from grader.remote import Executor
    from reference import module_net
    from reference.data import xor_points
    from reference.training import train

    x, y = xor_points()
    torch.manual_seed(0)
    model = module_net(2, 3, 1)
    twin = copy.deepcopy(model)
    model.layer1.bias.requires_grad_(False)  # frozen parameters are left alone, as the optimiser leaves them
    twin.layer1.bias.requires_grad_(False)
    executor = Executor({}, scratch_dir=str(tmp_path))
    executor.models[1] = model
    losses = executor.op_fit(1, x, y, 200, 1.5)["losses"]
    assert losses == train(twin, x, y, 200, 1.5)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters()))


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs two cores and Linux affinity")
@pytest.mark.parametrize("pinned", [True, False])
def test_parallel_controllers_keep_their_worker_on_one_core(tmp_path, monkeypatch, pinned):
    """-j N (N up to the cores) gives each controller a core of its own, shared with its fork server
    and workers, so that their thousands of hand-overs never wait for another core; PROPGRADE_PIN=0 lets them float."""
    from grader.grade import grade_many

    monkeypatch.setenv("PROPGRADE_PIN", "1" if pinned else "0")
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.py").write_text("import os, torch\nprint('cores', sorted(os.sched_getaffinity(0)))\ndef relu(z):\n    return torch.relu(z)\n")
    results = grade_many(load_all([str(tmp_path)]), options(properties=[CATALOGUE["relu_is_bounded"]]), jobs=2)
    seen = [json.loads(r.output.split("cores ", 1)[1].splitlines()[0]) for r in results]
    if pinned:
        assert all(len(cores) == 1 for cores in seen), seen
    else:
        assert all(cores == sorted(os.sched_getaffinity(0)) for cores in seen), seen
    assert all(r.verdicts[0].kind == "passed" for r in results)


def test_more_jobs_than_cores_are_not_pinned(monkeypatch):
    from grader.workermanage import cores_to_share

    monkeypatch.delenv("PROPGRADE_PIN", raising=False)
    if hasattr(os, "sched_getaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        assert cores_to_share(len(cores)) == cores
    assert cores_to_share(10_000) is None
    monkeypatch.setenv("PROPGRADE_PIN", "0")
    assert cores_to_share(1) is None
