"""The store: what one grading process learned, used by the next only when it is the grader's own.

Its values cross as data (never pickle); a store changed, copied from elsewhere, written by another
user or under another key is refused whole; and grading with a store gives the verdicts of grading
without one, while a tampered store cannot raise a score.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from pathlib import Path

import pytest
import torch

from grader import grade as engine
from grader import store as stores
from grader.load import load_all
from grader.properties import CATALOGUE
from grader.replay import Example, PassingExamples
from grader.store import Refused, Store, Unstorable, attach, decode, encode, keep, store_key
from grader.workermanage import Limits

ROOT = Path(__file__).resolve().parents[1]
SEED, PROFILE = 0, "ci"
POSIX_OWNERSHIP = hasattr(os, "geteuid")


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and a.device == b.device and (a.device.type == "meta" or torch.equal(a, b))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


# -- values --------------------------------------------------------------------------------------

VALUES = [
    None, True, 0, -(2**70), "z", 0.5, -0.0, float("inf"), float("nan"), 1e-310,
    (), (3, 0), [(0, 1), (1, 1)], {"weight": torch.ones(2, 3), "bias": None}, {1: "a", (2, 3): [4]},
    torch.float64, torch.bfloat16, b"", b"\x00frame\xff",
    torch.tensor([-0.0, float("inf"), 1e30]), torch.zeros(0, 3, dtype=torch.float64), torch.tensor(3.5),
    torch.tensor([1, 2], dtype=torch.int64), torch.empty(2, 2, device="meta"), torch.ones(3, dtype=torch.bfloat16),
    [("z", torch.arange(6.0).reshape(2, 3)), ("rows", [(0, 0), (1, 0)]), (None, 7)],
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_every_kind_of_drawn_value_comes_back_as_it_was(value):
    assert same(decode(encode(value)), value)


@pytest.mark.parametrize("value", [len, torch.ones(2, requires_grad=True), torch.nn.Parameter(torch.ones(1)), sys, 1j, {"x": object()}],
                         ids=["function", "requires_grad", "parameter", "module", "complex", "object"])
def test_what_is_not_plain_data_is_never_stored(value):
    with pytest.raises(Unstorable):
        encode(value)


@pytest.mark.parametrize("header", [{"$tuple": 3}, {"a": 1, "b": 2}, {"$pickle": "x"}, {"$dtype": "object"}, {"$dict": [[1]]}])
def test_a_forged_value_is_refused(header):
    from grader import wire

    with pytest.raises(Refused):
        decode(wire.encode(header))


# -- the file and its seal -----------------------------------------------------------------------

def example_set() -> PassingExamples:
    examples = PassingExamples()
    key = ("relu_matches_definition", SEED, PROFILE, False, ("relu",), ())
    examples.keep(key, [Example([("z", torch.tensor([1.0, -2.0]))], [(b"frame", True)])])
    return examples


@pytest.fixture
def fresh_memo(monkeypatch):
    """The process's reference outcomes, emptied for the test and put back after it."""
    for name, table in stores.REMEMBERED.items():
        monkeypatch.setitem(stores.REMEMBERED, name, {})


def test_what_one_process_keeps_the_next_takes_in(tmp_path, fresh_memo):
    store = Store(tmp_path / "store", store_key(SEED, PROFILE, "cpu"))
    stores.REMEMBERED["grader.properties.training.logistic_baseline"][((101,), ())] = 0.75
    assert keep(store, example_set(), SEED, PROFILE) is None
    assert oct(store.folder.stat().st_mode & 0o777) == "0o700" and oct(store.path.stat().st_mode & 0o777) == "0o600"
    stores.REMEMBERED["grader.properties.training.logistic_baseline"].clear()
    later = PassingExamples()
    assert attach(store, later) is None
    ((key, found),) = later.items()
    assert key[0] == "relu_matches_definition" and same(found[0].draws, example_set().items()[0][1][0].draws)
    assert found[0].requests == [(b"frame", True)]
    assert stores.REMEMBERED["grader.properties.training.logistic_baseline"] == {((101,), ()): 0.75}


def test_stores_nobody_used_for_a_month_go_when_another_is_written(tmp_path, fresh_memo):
    """Each propgrade, PyTorch or assignment has a store of its own: the old ones do not pile up, the ones in use
    stay (reading a store marks it used), and nothing else in the folder is touched."""
    used = Store(tmp_path / "store", store_key(SEED, PROFILE, "cpu"))
    assert keep(used, example_set(), SEED, PROFILE) is None
    month_ago = time.time() - 31 * 86400
    old, other, linked = used.folder / ("a" * 24 + ".store"), used.folder / "notes.store.txt", used.folder / ("b" * 24 + ".store")
    old.write_bytes(b"old")
    other.write_bytes(b"mine")
    linked.symlink_to(other)
    for path in (used.path, old, other):
        os.utime(path, (month_ago, month_ago))
    os.utime(linked, (month_ago, month_ago), follow_symlinks=False)
    assert attach(used, PassingExamples()) is None  # read: used now
    stores.REMEMBERED["grader.properties.training.logistic_baseline"][((7,), ())] = 0.5
    assert keep(Store(tmp_path / "store", store_key(SEED, PROFILE, "meta")), example_set(), SEED, PROFILE) is None
    assert not old.exists() and used.path.exists() and other.read_bytes() == b"mine" and linked.is_symlink()


def test_a_missing_store_is_no_problem_and_one_under_other_settings_is_not_found(tmp_path, fresh_memo):
    assert attach(Store(tmp_path / "none", store_key(SEED, PROFILE, "cpu")), PassingExamples()) is None
    keep(Store(tmp_path / "s", store_key(SEED, PROFILE, "cpu")), example_set(), SEED, PROFILE)
    for other in (store_key(SEED + 1, PROFILE, "cpu"), store_key(SEED, "default", "cpu"), {**store_key(SEED, PROFILE, "cpu"), "torch": "1.0"}):
        taken = PassingExamples()
        assert attach(Store(tmp_path / "s", other), taken) is None and len(taken) == 0


def tampered(store: Store, change) -> None:
    data = bytearray(store.path.read_bytes())
    change(data)
    store.path.write_bytes(bytes(data))


@pytest.mark.parametrize("change", [
    lambda data: data.__setitem__(len(data) // 2, data[len(data) // 2] ^ 1),  # one bit of the content
    lambda data: data.__setitem__(-1, data[-1] ^ 1),  # the seal
    lambda data: data.__delitem__(slice(-40, None)),  # cut short
    lambda data: data.__setitem__(0, ord("P")),  # not a store
], ids=["content", "seal", "truncated", "magic"])
def test_a_changed_store_is_refused_whole(tmp_path, change, fresh_memo):
    store = Store(tmp_path / "s", store_key(SEED, PROFILE, "cpu"))
    keep(store, example_set(), SEED, PROFILE)
    tampered(store, change)
    taken = PassingExamples()
    problem = attach(store, taken)
    assert problem and "not used" in problem and len(taken) == 0


def test_a_store_copied_from_another_machine_is_refused(tmp_path, fresh_memo):
    """Another machine's store carries another seal key: its content cannot be checked here."""
    key = store_key(SEED, PROFILE, "cpu")
    elsewhere, here = Store(tmp_path / "elsewhere", key), Store(tmp_path / "here", key)
    keep(elsewhere, example_set(), SEED, PROFILE)
    keep(here, example_set(), SEED, PROFILE)
    shutil.copy(elsewhere.path, here.path)
    taken = PassingExamples()
    assert "seal does not match" in attach(here, taken) and len(taken) == 0


@pytest.mark.skipif(not POSIX_OWNERSHIP, reason="POSIX permissions")
@pytest.mark.parametrize("spoil", ["folder_writable", "file_readable", "key_readable", "file_link"])
def test_a_store_others_could_have_written_is_refused(tmp_path, spoil, fresh_memo):
    store = Store(tmp_path / "s", store_key(SEED, PROFILE, "cpu"))
    keep(store, example_set(), SEED, PROFILE)
    if spoil == "folder_writable":
        store.folder.chmod(0o777)
    elif spoil == "file_readable":
        store.path.chmod(0o644)
    elif spoil == "key_readable":
        (store.folder / stores.KEY_FILE).chmod(0o640)
    else:
        real = tmp_path / "real.store"
        store.path.rename(real)
        store.path.symlink_to(real)
    taken = PassingExamples()
    assert attach(store, taken) and len(taken) == 0


@pytest.mark.skipif(not POSIX_OWNERSHIP or os.geteuid() != 0, reason="needs root to make a folder of another user")
def test_a_store_of_another_user_is_refused(tmp_path, fresh_memo):
    store = Store(tmp_path / "s", store_key(SEED, PROFILE, "cpu"))
    keep(store, example_set(), SEED, PROFILE)
    os.chown(store.folder, 65534, 65534)
    assert "another user" in attach(store, PassingExamples())


def test_keep_writes_only_when_something_was_learned_and_merges_what_others_wrote(tmp_path, fresh_memo):
    key = store_key(SEED, PROFILE, "cpu")
    first, second = PassingExamples(), PassingExamples()
    store = Store(tmp_path / "s", key)
    attach(store, first), attach(store, second)  # two grading processes start from no store
    first.keep(("a", SEED, PROFILE, False, (), ()), [Example([], [])])
    second.keep(("b", SEED, PROFILE, False, (), ()), [Example([], [])])
    keep(store, first, SEED, PROFILE)
    keep(store, second, SEED, PROFILE)
    written = store.path.stat().st_mtime_ns
    keep(store, second, SEED, PROFILE)
    assert store.path.stat().st_mtime_ns == written  # nothing new: not written again
    both = PassingExamples()
    attach(Store(tmp_path / "s", key), both)
    assert sorted(k[0] for k, _ in both.items()) == ["a", "b"]


# -- grading with a store ------------------------------------------------------------------------

CORRECT_STEP = "import torch\n\ndef step(z):\n    return (z >= 0).to(z.dtype)\n"


def signature(z: torch.Tensor) -> tuple:
    return str(z.dtype), tuple(z.shape), z.flatten()[:1].tolist()


def graded(path: Path, options: engine.Options):
    (submission,) = load_all([str(path)])
    return [(v.property, v.kind, v.message.render("en"), v.counterexample) for v in engine.grade(submission, options).verdicts]


def test_a_store_gives_the_verdicts_of_grading_without_one(tmp_path, monkeypatch, fresh_memo):
    ids = ["relu_matches_definition", "AND_truth_table", "XOR_works_on_any_batch", "module_net_learns_xor", "collapse_linear_matches_the_stack"]
    chosen = [CATALOGUE[i] for i in ids]
    correct = ROOT / "submissions" / "correct" / "modern_module.py"
    buggy = [ROOT / "submissions" / "buggy" / name for name in ("gates_column_weights.py", "relu_is_leaky.py", "collapse_forgets_biases.py")]
    store = Store(tmp_path / "store", store_key(SEED, PROFILE, "cpu"))
    alone = engine.Options(profile=PROFILE, properties=chosen, replay=False)
    monkeypatch.setattr(engine, "PASSING_EXAMPLES", PassingExamples())
    with_store = engine.Options(profile=PROFILE, properties=chosen, store=store)
    assert all(kind == "passed" for _, kind, _, _ in graded(correct, with_store))
    assert store.path.exists()
    monkeypatch.setattr(engine, "PASSING_EXAMPLES", PassingExamples())  # a cold process: only the store
    for table in stores.REMEMBERED.values():
        table.clear()
    for path in [correct, *buggy]:
        assert graded(path, with_store) == graded(path, alone), path.name


def test_a_tampered_store_cannot_raise_a_score(tmp_path, monkeypatch, fresh_memo):
    """A submission that is wrong on one recorded example only: a store without that example would
    pass it. Changed in place, or re-sealed under a key of its own, the store is refused."""
    prop = CATALOGUE["step_matches_definition"]
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "step.py").write_text(CORRECT_STEP)
    key = store_key(SEED, PROFILE, "cpu")
    store = Store(tmp_path / "store", key)
    options = engine.Options(profile=PROFILE, properties=[prop], store=store, limits=Limits(call_seconds=5, total_seconds=60))
    monkeypatch.setattr(engine, "PASSING_EXAMPLES", PassingExamples())
    assert graded(tmp_path / "good" / "step.py", options)[0][1] == "passed"
    content = store.read()
    ((entry_key, examples),) = [entry for entry in content["examples"] if entry[0][0] == prop.id]
    signatures = [signature(dict(draws)["z"]) for draws, _ in examples]
    wrong_on = next(i for i, s in enumerate(signatures) if signatures.count(s) == 1)
    dtype, shape, first = signatures[wrong_on]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "step.py").write_text(CORRECT_STEP.replace("def step(z):\n", (
        f"def step(z):\n    if str(z.dtype) == {dtype!r} and tuple(z.shape) == {shape!r} and z.flatten()[:1].tolist() == {first!r}:\n"
        "        return -(z >= 0).to(z.dtype)\n")))
    honest = graded(tmp_path / "bad" / "step.py", engine.Options(profile=PROFILE, properties=[prop], replay=False))
    assert honest[0][1] == "failed"
    # the attack: every recorded example but the one the submission gets wrong; taken in, it would pass
    kept = [example for i, example in enumerate(examples) if i != wrong_on]
    attack = PassingExamples()
    attack.keep(entry_key, [Example(draws, requests) for draws, requests in kept])
    monkeypatch.setattr(engine, "PASSING_EXAMPLES", attack)
    assert graded(tmp_path / "bad" / "step.py", engine.Options(profile=PROFILE, properties=[prop]))[0][1] == "passed"
    forged = {**content, "examples": [[entry_key, kept]]}
    forged.pop("key")
    frame = stores.encode({**forged, "key": key})
    import hashlib
    import hmac

    for seal_key in (os.urandom(stores.SEAL_BYTES), None):
        if seal_key is None:  # changed in place, the seal left as it was
            data = store.path.read_bytes()
            store.path.write_bytes(stores.MAGIC + frame + data[-stores.SEAL_BYTES:])
        else:  # sealed under a key the attacker made
            store.path.write_bytes(stores.MAGIC + frame + hmac.new(seal_key, frame, hashlib.sha256).digest())
        monkeypatch.setattr(engine, "PASSING_EXAMPLES", PassingExamples())
        assert graded(tmp_path / "bad" / "step.py", options) == honest


def test_workers_do_not_see_the_store(tmp_path, monkeypatch, request, fresh_memo):
    if not (sys.platform == "linux" and POSIX_OWNERSHIP and os.geteuid() == 0):
        pytest.skip("the sandbox's private root needs root on Linux here")
    folder = Path(sys.prefix) / f"propgrade-test-store-{os.getpid()}"  # inside what workers see (Python's own folders)
    store = Store(folder, store_key(SEED, PROFILE, "cpu"))
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    keep(store, example_set(), SEED, PROFILE)
    probe = tmp_path / "sub" / "peek.py"
    probe.parent.mkdir()
    probe.write_text(
        "import os\n"
        f"SEEN = os.path.exists({str(store.path)!r}) or bool(os.path.isdir({str(store.folder)!r}) and os.listdir({str(store.folder)!r}))\n"
        "def relu(z):\n    if SEEN:\n        raise RuntimeError('the store is visible')\n    return z.clamp(min=0)\n")
    monkeypatch.setattr(engine, "PASSING_EXAMPLES", PassingExamples())
    options = engine.Options(profile=PROFILE, properties=[CATALOGUE["relu_matches_definition"]], store=store)
    ((_, kind, message, _),) = graded(probe, options)
    assert kind == "passed", message


def test_warm_then_a_cold_grade_replays_and_agrees_with_one_without_a_store(tmp_path):
    """The commands as set-up and a platform run them: ``propgrade warm``, then ``propgrade grade`` in fresh processes."""
    import json
    import subprocess

    assignment = ROOT / "tests" / "assignments" / "quick.toml"
    env = {**os.environ, "PROPGRADE_STORE": str(tmp_path / "store"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "grader.cli"]
    warmed = subprocess.run([*command, "warm", "--assignment", str(assignment), "--profile", "ci"], env=env, capture_output=True, text=True, timeout=600)
    assert warmed.returncode == 0, warmed.stderr
    assert "store" in warmed.stdout and list((tmp_path / "store").glob("*.store"))
    found = {}
    correct, buggy = ROOT / "submissions" / "correct" / "modern_module.py", ROOT / "submissions" / "buggy" / "relu_is_leaky.py"
    for name, extra, path in (("store", [], correct), ("store", [], buggy), ("alone", ["--no-store"], buggy)):
        out = tmp_path / name / path.stem
        done = subprocess.run([*command, "grade", str(path), "--out", str(out), "--assignment", str(assignment), "--profile", "ci", *extra],
                              env=env, capture_output=True, text=True, timeout=600)
        assert "was not used" not in done.stderr and "was not written" not in done.stderr, done.stderr
        record = json.loads((out / path.stem / "results.json").read_text())
        found[name, path.stem] = record["score"], record["max_score"], [(t["name"], t["score"], t["output"]) for t in record["tests"]]
    assert found["store", "modern_module"][0] == found["store", "modern_module"][1]
    assert found["store", "relu_is_leaky"] == found["alone", "relu_is_leaky"]
