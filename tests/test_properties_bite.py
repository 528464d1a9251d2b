"""Every property of the catalogue bites: some plausible wrong submission fails it.

The wrong submissions live in ``tests/wrong_subjects.py``: each replaces a few
contract names of the reference with a typical student mistake and lists the
properties it must fail.  Here we check that

* each (wrong submission, property) pair ends ``failed`` or ``error``;
* every property (but the three CUDA ones, skipped without CUDA) is failed by
  at least one wrong submission, so a property that checks nothing shows up;
* the reference passes every property;
* the failure messages say what was called, with what, and what was expected.

Runs in-process, profile "ci", seed 0.  Single-threaded and quick:
``OMP_NUM_THREADS=1 PYTHONPATH=. python -m pytest -n 2 tests/test_properties_bite.py``.
"""

from __future__ import annotations

import re

import pytest
import torch

import reference
from grader.check import check
from grader.properties import CATALOGUE, catalogue, contract_names
from grader.subject import Subject

try:
    import wrong_subjects
except ImportError:  # run with the repository root on sys.path only
    from tests import wrong_subjects

torch.set_num_threads(1)

# Student code in the wrong submissions overflows on purpose (numpy warns).
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")

SEED = 0
PROFILE = "ci"
CUDA_ONLY = {"functions_on_cuda_match_cpu", "models_on_cuda_match_cpu", "params_round_trip_across_devices"}
BITES = {"failed", "error"}

# Pairs a wrong submission should fail but that the grader gets wrong today: each
# is a defect in the grader, tracked here as a strict xfail so that fixing it
# turns the test red until the entry is removed.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}

PROPERTY_IDS = [p.id for p in catalogue()]
WRONG_BY_ID = {w.id: w for w in wrong_subjects.WRONG}
UNCAUGHT_BY_ID = {w.id: w for w in wrong_subjects.UNCAUGHT}

_subjects: dict[str, Subject] = {}


def subject_for(key: str) -> Subject:
    """One in-process subject per wrong submission (and one for the reference), built once."""
    if key not in _subjects:
        if key == "reference":
            namespace = dict(vars(reference))
        else:
            namespace = wrong_subjects.namespace(WRONG_BY_ID.get(key) or UNCAUGHT_BY_ID[key])
        _subjects[key] = Subject.in_process(namespace, contract_names())
    return _subjects[key]


def verdict_of(key: str, pid: str):
    return check(CATALOGUE[pid], subject_for(key), seed=SEED, profile=PROFILE)


@pytest.fixture(autouse=True)
def scratch_dir(tmp_path, monkeypatch):
    """save_params writes propgrade-N.pt into the working directory: keep it out of the repository."""
    monkeypatch.chdir(tmp_path)


def _bite_cases():
    for w in wrong_subjects.WRONG:
        for pid in w.kills:
            marks = []
            if (w.id, pid) in KNOWN_DEFECTS:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_DEFECTS[(w.id, pid)]))
            yield pytest.param(w.id, pid, id=f"{w.id}-{pid}", marks=marks)


def test_wrong_subjects_table_is_consistent():
    """Every listed property exists, every override is a contract name, ids are unique."""
    names = set(contract_names())
    for w in [*wrong_subjects.WRONG, *wrong_subjects.UNCAUGHT]:
        assert w.kills, w.id
        assert set(w.kills) <= set(CATALOGUE), (w.id, set(w.kills) - set(CATALOGUE))
        assert set(w.overrides) <= names, (w.id, set(w.overrides) - names)
        assert len(set(w.kills)) == len(w.kills), w.id
    ids = [w.id for w in [*wrong_subjects.WRONG, *wrong_subjects.UNCAUGHT]]
    assert len(ids) == len(set(ids))
    assert set(KNOWN_DEFECTS) <= {(w.id, pid) for w in wrong_subjects.WRONG for pid in w.kills}


@pytest.mark.parametrize(("wrong_id", "pid"), list(_bite_cases()))
def test_wrong_subject_fails_property(wrong_id, pid):
    verdict = verdict_of(wrong_id, pid)
    text = verdict.message.render("en")
    assert verdict.kind in BITES, f"{wrong_id} ({WRONG_BY_ID[wrong_id].mistake}) got {verdict.kind} on {pid}: {text}"
    assert text.strip() and verdict.message.render("zh").strip()


def _coverage_cases():
    bitten = {pid for w in wrong_subjects.WRONG for pid in w.kills if (w.id, pid) not in KNOWN_DEFECTS}
    for pid in PROPERTY_IDS:
        if pid in CUDA_ONLY:
            continue
        marks = []
        if pid not in bitten and any(p == pid for _, p in KNOWN_DEFECTS):
            reason = "; ".join(r for (_, p), r in KNOWN_DEFECTS.items() if p == pid)
            marks.append(pytest.mark.xfail(strict=True, reason=f"only killed through a known grader defect: {reason}"))
        yield pytest.param(pid, bitten, id=pid, marks=marks)


@pytest.mark.parametrize(("pid", "bitten"), list(_coverage_cases()))
def test_every_property_is_bitten_by_some_wrong_subject(pid, bitten):
    assert pid in bitten, f"no wrong subject in tests/wrong_subjects.py is expected to fail {pid}"


@pytest.mark.parametrize("pid", PROPERTY_IDS)
def test_reference_passes(pid):
    verdict = verdict_of("reference", pid)
    expected = {"skipped"} if pid in CUDA_ONLY and not torch.cuda.is_available() else {"passed"}
    assert verdict.kind in expected, f"{pid}: {verdict.kind}: {verdict.message.render('en')}\n{verdict.counterexample}"


@pytest.mark.parametrize("wrong_id", list(UNCAUGHT_BY_ID))
def test_uncaught_mistakes_are_caught(wrong_id):
    """Plausible mistakes no property fails today; strict xfail, so catching one turns this red (move it to WRONG)."""
    w = UNCAUGHT_BY_ID[wrong_id]
    kinds = {pid: verdict_of(wrong_id, pid).kind for pid in w.kills}
    if not any(kind in BITES for kind in kinds.values()):
        pytest.xfail(f"{w.mistake}: {kinds}")
    pytest.fail(f"{wrong_id} is caught now ({kinds}): move it from UNCAUGHT to WRONG in tests/wrong_subjects.py")


# -- the messages a student reads ------------------------------------------------------------------

def failing(wrong_id: str, pid: str):
    verdict = verdict_of(wrong_id, pid)
    assert verdict.kind in BITES, verdict.message.render("en")
    return verdict, verdict.message.render("en")


def test_message_step_of_zero():
    verdict, text = failing("step_strict_inequality", "step_of_zero_is_one")
    assert verdict.kind == "failed"
    assert "step(" in text and "0.0" in text and "expected 1.0" in text, text
    assert "got 0.0" in text, text


def test_message_xor_four_rows_is_minimal():
    verdict, text = failing("XOR_hard_coded_four_rows", "XOR_works_on_any_batch")
    assert verdict.kind == "error"
    # shrunk to a single row, shown in full, with the shape the student's code insisted on
    shown = re.search(r"XOR\(tensor\((\[\[.*?\]\])", text)
    assert shown, text
    assert shown.group(1).count("[") == 2, f"not a one-row counterexample: {text}"
    assert "[4, 1]" in text and "RuntimeError" in text, text


def test_message_relu_mutation_shows_the_input():
    _, text = failing("relu_clamp_in_place", "relu_does_not_mutate_input")
    assert text.startswith("relu(tensor(") and "changed its input z" in text and "it became tensor(" in text, text


def test_message_gate_dtype():
    _, text = failing("gates_return_int64", "AND_returns_float_vector_on_input_device")
    assert "AND(" in text and "torch.int64" in text and "float" in text, text


def test_message_gate_shape():
    _, text = failing("gates_return_column", "OR_returns_float_vector_on_input_device")
    assert "(4, 1)" in text and "expected (4,)" in text, text


def test_message_sigmoid_overflow_names_the_input():
    _, text = failing("sigmoid_exp_over_one_plus_exp", "sigmoid_is_finite_on_finite_input")
    assert "sigmoid(" in text and "nan" in text and "where z = " in text, text


def test_message_layers_in_a_plain_list():
    _, text = failing("module_net_layers_in_plain_list", "module_net_registers_its_layers")
    assert "plain list" in text and "layers" in text and "nn.ModuleList" in text, text


def test_message_module_net_forward_skips_layer2():
    _, text = failing("module_net_forward_skips_layer2", "xor_needs_hidden_activation")
    assert "self.layer2" in text and "* x" in text, text


def test_message_load_params_not_strict():
    _, text = failing("load_params_not_strict", "load_params_is_strict")
    assert "did not raise" in text and "strict" in text, text


def test_message_train_returns_tensors():
    _, text = failing("train_returns_tensors", "train_returns_one_float_per_epoch")
    assert "tensor" in text and "loss.item()" in text, text


def test_message_save_pickles_the_model():
    _, text = failing("save_pickles_the_whole_model", "save_params_writes_a_weights_only_state_dict")
    assert "save_params(" in text and "weights_only=True" in text, text


def test_message_softmax_over_the_batch():
    _, text = failing("Model_softmax_dim0", "Model_rows_are_distributions")
    assert "row sums of Model(" in text and "expected 1.0" in text, text


def test_message_structure_names_the_wrong_layer():
    _, text = failing("seq_net_with_relu", "seq_net_has_the_lesson_layers")
    assert "ReLU" in text and "expected Tanh" in text, text
