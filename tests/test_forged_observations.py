"""Facts a submission cannot forge by rebinding what the worker calls (issue 11, class 5; issue 12's probes).

Each hostile file of ``submissions/hostile/`` here carries a forgery section between
``# --- forgery ---`` and ``# --- end of forgery ---``; without it the file is its honest twin,
the same mistake written plainly. The forgery must gain nothing: the properties whose facts it
forges fail, and its score is no higher than the twin's. A correct classmate graded after it
keeps full marks. The clean reader that reads saved files is tested on its own below.
"""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import pytest
import torch

from grader.clean_reader import CleanReader, Refused, load_weights, scratch_bytes
from grader.grade import Options, grade
from grader.load import load_all
from grader.properties import CATALOGUE, catalogue
from grader.workermanage import Limits

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "submissions" / "hostile"
CORRECT = ROOT / "submissions" / "correct" / "modern_module.py"
LIMITS = Limits(call_seconds=5, cell_seconds=10, total_seconds=120, memory_bytes=2 << 30)
FORGERY = re.compile(r"# --- forgery ---\n.*?# --- end of forgery ---\n", re.S)

catalogue()

SAVELOAD = ["save_params_writes_a_weights_only_state_dict", "state_dict_round_trip_is_exact"]
MUTATION = ["sigmoid_does_not_mutate_input", "tanh_does_not_mutate_input", "relu_does_not_mutate_input"]
LAYERS = ["seq_net_has_the_lesson_layers", "module_net_registers_its_layers"]
DEVICES = ["step_runs_on_meta_device", "AND_runs_on_meta_device", "module_net_runs_on_meta_device"]
DEVICE_VALUES = ["step_matches_definition", "AND_truth_table", "module_net_forward_is_the_formula"]

# file -> (properties graded, the properties it forges, which must fail, the properties that must hold)
CASES = {
    "forged_weights_only_load.py": (SAVELOAD, SAVELOAD, []),
    "load_params_loads_nothing.py": (SAVELOAD, ["state_dict_round_trip_is_exact"], ["save_params_writes_a_weights_only_state_dict"]),
    "inplace_activation_forged_views.py": (MUTATION + ["sigmoid_matches_definition", "relu_matches_definition"], MUTATION,
                                           ["sigmoid_matches_definition", "relu_matches_definition"]),
    "relu_named_tanh.py": (LAYERS + ["module_net_forward_is_the_formula"], LAYERS + ["module_net_forward_is_the_formula"], []),
    "recognises_xor_points.py": (["module_net_learns_xor"], ["module_net_learns_xor"], []),
    "forged_wire_bytes.py": (["relu_matches_definition", "sigmoid_matches_definition"], ["relu_matches_definition"], ["sigmoid_matches_definition"]),
    "recognises_identity_probe.py": (["xor_needs_hidden_activation", "module_net_forward_is_the_formula"], ["xor_needs_hidden_activation"],
                                     ["module_net_forward_is_the_formula"]),
    "recognises_meta_probe.py": (DEVICES + DEVICE_VALUES, DEVICES, DEVICE_VALUES),
}
# Facts a forgery may make fail by raising in student code (the fixed-device tensor meets the probe's): "error" counts as lost.
LOST = {"failed", "error"}


def run(path: Path, ids: list[str]):
    (submission,) = load_all([str(path)])
    return grade(submission, Options(profile="ci", properties=[CATALOGUE[i] for i in ids], limits=LIMITS))


def kinds(result) -> dict[str, str]:
    return {v.property: v.kind for v in result.verdicts}


def twin_of(path: Path, folder: Path) -> Path:
    source = path.read_text()
    assert FORGERY.search(source), f"{path.name} has no forgery section"
    twin = folder / path.name
    twin.write_text(FORGERY.sub("", source))
    return twin


@pytest.mark.parametrize("name", sorted(CASES))
def test_forgery_gains_nothing(name, tmp_path):
    ids, forged, holding = CASES[name]
    hostile = run(HOSTILE / name, ids)
    twin = run(twin_of(HOSTILE / name, tmp_path), ids)
    got = kinds(hostile)
    messages = {v.property: v.message.render("en") for v in hostile.verdicts}
    for pid in forged:
        assert got[pid] in LOST, (pid, messages[pid])
    for pid in holding:
        assert got[pid] == "passed", (pid, messages[pid])
    assert hostile.score <= twin.score, (kinds(hostile), kinds(twin))
    assert kinds(twin) == got


def test_classmate_after_forgeries_keeps_full_marks():
    ids = sorted({pid for case in CASES.values() for pid in case[0]})
    run(HOSTILE / "load_params_loads_nothing.py", SAVELOAD)
    run(HOSTILE / "relu_named_tanh.py", LAYERS)
    correct = run(CORRECT, ids)
    assert set(kinds(correct).values()) == {"passed"}, {v.property: v.message.render("en") for v in correct.verdicts if v.kind != "passed"}
    assert correct.score == correct.max_score


def test_recognised_meta_probe_meets_the_fake_tensor_probe():
    """The forgery passes the meta probe (that is what it recognises) and is caught by the fake tensors,
    which report another device and hold no data; the honest twin is caught on meta already."""
    messages = {v.property: v.message.render("en") for v in run(HOSTILE / "recognises_meta_probe.py", DEVICES).verdicts}
    for pid in DEVICES:
        assert "fake tensor" in messages[pid] and "lazy:0" in messages[pid] and "meta device" not in messages[pid], (pid, messages[pid])


def test_whole_model_pickle_is_refused_where_the_worker_cannot_reach():
    message = {v.property: v.message.render("en") for v in run(HOSTILE / "forged_weights_only_load.py", SAVELOAD[:1]).verdicts}
    assert "weights_only=True" in message[SAVELOAD[0]] and "refuses" in message[SAVELOAD[0]]


# -- the clean reader ----------------------------------------------------------------------------


def saved_bytes(value) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def test_clean_reader_answers_as_torch_load_does(tmp_path):
    state = torch.nn.Linear(3, 2).state_dict()
    reply = CleanReader.shared().read(saved_bytes(state), owner=str(tmp_path))
    items = reply["result"]["items"]
    assert sorted(items) == ["bias", "weight"]
    assert all(torch.equal(items[key]["value"], state[key]) for key in state)
    assert load_weights(saved_bytes(state))["result"]["items"].keys() == items.keys()


def test_clean_reader_refuses_a_whole_model_pickle_and_keeps_serving(tmp_path):
    reader = CleanReader.shared()
    refused = reader.read(saved_bytes(torch.nn.Linear(3, 2)), owner=str(tmp_path))
    assert refused["error"]["type"] == "UnpicklingError"
    assert "result" in reader.read(saved_bytes({"w": torch.ones(2)}), owner=str(tmp_path))


def test_clean_reader_answers_garbage_with_an_error(tmp_path):
    assert "error" in CleanReader.shared().read(b"\x80\x02not a zip at all", owner=str(tmp_path))


def test_clean_reader_child_is_a_user_of_its_own_as_root(tmp_path):
    reader = CleanReader.shared()
    reader.read(saved_bytes({"w": torch.ones(1)}), owner=str(tmp_path))
    uid = os.stat(f"/proc/{reader.pid}").st_uid
    assert (uid != 0) == (os.geteuid() == 0) or os.geteuid() != 0


def test_scratch_file_is_read_only_as_a_plain_file(tmp_path):
    (tmp_path / "plain.pt").write_bytes(b"data")
    assert scratch_bytes(tmp_path, "plain.pt") == b"data"
    assert scratch_bytes(tmp_path, "absent.pt") is None
    os.symlink("/etc/passwd", tmp_path / "link.pt")
    os.mkfifo(tmp_path / "fifo.pt")
    os.link(tmp_path / "plain.pt", tmp_path / "hard.pt")
    (tmp_path / "big.pt").write_bytes(b"x" * 11)
    for name in ("link.pt", "fifo.pt", "hard.pt"):
        with pytest.raises(Refused):
            scratch_bytes(tmp_path, name)
    with pytest.raises(Refused):
        scratch_bytes(tmp_path, "big.pt", cap=10)
    with pytest.raises(ValueError):
        scratch_bytes(tmp_path, "../plain.pt")


def test_a_fifo_costs_no_waiting(tmp_path):
    os.mkfifo(tmp_path / "fifo.pt")
    started = time.monotonic()
    with pytest.raises(Refused):
        scratch_bytes(tmp_path, "fifo.pt")
    assert time.monotonic() - started < 5
