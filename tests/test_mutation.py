"""The mutation campaign's machinery (``mutation/``, ``docs/mutation.md``), without the campaign.

A handful of known mutants of the reference go through the same killer the campaign uses
(forked child, mutated package graded as the subject against the pristine reference): each
must die, by the catalogue for contract code and by the theorem tests for oracle/data code,
while the unmutated reference must survive everything (so the killer cannot simply kill
all). Among them are the gaps the first campaign found and this change closed. About 30 s,
single-threaded.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # mutation/ lives beside grader/, not installed

import grader.check  # noqa: F401 - imported once here, shared by every forked judge
import grader.properties  # noqa: F401
import grader.subject  # noqa: F401
from grader.properties import CATALOGUE
from mutation import paths
from mutation.deps import Package, change_between
from mutation.equivalent import equivalent_by_annotations
from mutation.killer import Killer, in_child

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="the killer judges each mutant in a forked child"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning"),
]

# (file, original text, mutated text, category, what must kill it: "catalogue" or "theorems")
MUTANTS = {
    # cosmic-ray ReplaceComparisonOperator_GtE_Gt: step(0) becomes 0
    "step_strict": ("activations.py", "torch.where(z >= 0, ", "torch.where(z > 0, ", "contract", "catalogue"),
    # NumberReplacer on a gate weight's sign: NAND(1, 0) becomes 0
    "nand_weight_sign": ("gates.py", "NAND_WEIGHTS: tuple[float, float, float] = (0.23, -0.15, -0.15)",
                         "NAND_WEIGHTS: tuple[float, float, float] = (0.23, 0.15, -0.15)", "contract", "catalogue"),
    # ZeroIterationForLoop: train never steps and returns []
    "train_no_epochs": ("training.py", "    for _ in range(epochs):", "    for _ in []:", "contract", "catalogue"),
    # NumberReplacer: softmax over the batch instead of the classes
    "model_softmax_dim0": ("models.py", "F.softmax(self.output(sigma2), dim=1)", "F.softmax(self.output(sigma2), dim=0)",
                           "contract", "catalogue"),
    # gaps the first campaign found, now closed (docs/mutation.md)
    "collapse_is_not": ("collapse.py", "if prev.out_features != nxt.in_features:",
                        "if prev.out_features is not nxt.in_features:", "contract", "catalogue"),
    "train_refuses_zero_epochs": ("training.py", "if epochs < 0:", "if epochs <= 0:", "contract", "catalogue"),
    "xor_points_moved": ("data.py", "x = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]]",
                         "x = torch.tensor([[0, 0], [1, 0], [0, 1], [2, 1]]", "oracle", "theorems"),
    "initial_state_negative": ("experiments.py", "generator=gen, dtype=dtype) * 2 - 1",
                               "generator=gen, dtype=dtype) * 1 - 1", "oracle", "theorems"),
}


@pytest.fixture(scope="module")
def killer(tmp_path_factory):
    root = tmp_path_factory.mktemp("target")
    shutil.copytree(paths.SOURCE, root / "reference", ignore=shutil.ignore_patterns("__pycache__"))
    return Killer(root, paths.SOURCE, catalogue_timeout=240, theorem_timeout=240)


def mutate(killer: Killer, file: str, old: str, new: str):
    path = killer.target / file
    source = path.read_text()
    assert source.count(old) == 1, f"{old!r} is not in reference/{file} exactly once: update the test"
    path.write_text(source.replace(old, new))
    return path, source


def test_the_unmutated_reference_survives_the_catalogue_and_the_theorems(killer):
    change = killer.change()
    assert change.category == "unmutated" and not change.files
    assert killer.judge(change, stage="catalogue")["outcome"] == "survived"
    assert killer.judge(change, stage="theorems")["outcome"] == "survived"


@pytest.mark.parametrize("name", list(MUTANTS))
def test_known_mutant_is_killed(killer, name):
    file, old, new, category, stage = MUTANTS[name]
    path, source = mutate(killer, file, old, new)
    try:
        change = killer.change()
        result = killer.judge(change)
    finally:
        path.write_text(source)
    assert change.files == (file.removesuffix(".py"),)
    assert result["category"] == category and result["stage"] == stage, result
    assert result["outcome"] == "killed", result
    if stage == "catalogue":
        assert result["by"] in CATALOGUE, result
        assert set(CATALOGUE[result["by"]].needs) & set(change.contract), result
    else:
        assert result["by"].startswith("test_reference"), result


def test_cosmic_ray_makes_the_same_mutant():
    """The hand-written mutants are the tool's own: cosmic-ray's first GtE -> Gt in activations.py is step_strict."""
    cosmic_ray = pytest.importorskip("cosmic_ray.plugins")
    from cosmic_ray.mutating import mutate_code

    source = (paths.SOURCE / "activations.py").read_text()
    operator = cosmic_ray.get_operator("core/ReplaceComparisonOperator_GtE_Gt")()
    file, old, new, _, _ = MUTANTS["step_strict"]
    assert mutate_code(source, operator, 0) == source.replace(old, new)


def test_changes_are_placed_in_contract_or_oracle_code(tmp_path):
    package = Package(paths.SOURCE)
    target = tmp_path / "reference"
    shutil.copytree(paths.SOURCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    gates = (target / "gates.py").read_text()
    (target / "gates.py").write_text(gates.replace("return activation(X @ w_t)", "return activation(X @ -w_t)"))
    change = change_between(package, target)
    assert change.definitions == (("gates", "perceptron"),) and set(change.contract) == {"AND", "OR", "NAND", "XOR"}
    (target / "gates.py").write_text(gates)
    data = (target / "data.py").read_text()
    (target / "data.py").write_text(data.replace("radius_scale = 4", "radius_scale = 5"))
    change = change_between(package, target)
    assert change.category == "oracle" and change.definitions == (("data", "flower"),) and "flower" in change.names


def test_annotation_only_mutants_are_equivalent_and_nothing_else():
    future = "from __future__ import annotations\n"
    original = future + "def f(x: int | None = None) -> str | None:\n    return str(x) if x else None\nT: int | str = 1\n"
    assert equivalent_by_annotations(original, original.replace("int | None", "int & None"))
    assert equivalent_by_annotations(original, original.replace("-> str | None", "-> str - None"))
    assert equivalent_by_annotations(original, original.replace("T: int | str", "T: int >> str"))
    assert not equivalent_by_annotations(original, original.replace("if x else", "if not x else"))
    assert not equivalent_by_annotations(original, original.replace("= 1", "= 2"))
    assert not equivalent_by_annotations(original.removeprefix(future), original.removeprefix(future).replace("int | None", "int & None"))
    typed = future + "class P(NamedTuple):\n    a: int | None\n"
    assert not equivalent_by_annotations(typed, typed.replace("int | None", "int & None"))  # NamedTuple fields read them


def test_a_judge_that_runs_out_of_time_is_killed_and_counts_as_a_timeout():
    started = time.perf_counter()
    result = in_child(lambda: time.sleep(60), timeout=1.0)
    assert result["outcome"] == "timeout" and time.perf_counter() - started < 30


def test_a_judge_that_dies_counts_as_crashed():
    result = in_child(lambda: os._exit(3), timeout=30)
    assert result["outcome"] == "crashed"
