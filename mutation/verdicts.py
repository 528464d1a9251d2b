"""Surviving mutants explained.

Key: (file, cosmic-ray operator without ``core/``, occurrence). Value: (the mutated line
as cosmic-ray's diff shows it, stripped; the argument). The line guards against stale
keys: if ``reference/`` changes and a key now names another mutant, the report counts
that survivor as an unexplained gap.

``EQUIVALENT``: no correct use can tell the mutant from the reference. Four kinds of
argument, named at the start of each reason:

* *same function*: the two programs compute the same thing on every input;
* *outside the contract*: they differ only on inputs the contract (README) excludes,
  and there the mutant still raises, only with another exception type;
* *free in the contract*: the difference is something the contract leaves to the
  student (initial weights of an instance, a default argument it never relies on);
* *same in this program*: a default or constant of oracle/data code that changes no
  value the grader or the lesson's tests ever compute (checked by running them).

``GAPS``: survivors that are not equivalent and stay open, with the reason; they count
as survived in the score.

Survivors of the first run that were gaps and are now killed (by a strengthened
property, a new wrong subject, or a new theorem in ``tests/test_reference_oracle.py``)
are listed in ``docs/mutation.md``, not here.
"""

from __future__ import annotations

OUTSIDE = "outside the contract: "
FREE = "free in the contract: "
SAME = "same function: "
PROGRAM = "same in this program: "

_SIZE_CHECK = ("only stacks with mismatched sizes, which the contract excludes, notice; they still raise "
               "(RuntimeError from the matrix product instead of ValueError)")
_INSTANCE_SEED = ("another seed for the instance's initial weights; the contract leaves them to the student "
                  "(every property loads known weights or compares the model with its own)")
_MODEL_DEFAULT = "a default the contract does not have: every use calls Model(in_features, out_features)"
_OR_WEIGHT = ("z = -0.08 + 0.15 x1 + 1.15 x2 (or 1.15 x1 + 0.15 x2) is negative only at (0, 0): the same gate "
              "on every 0/1 input, the only inputs a gate is specified on")
_XOR_DEFAULT = ("xor_success_counts's default is never used: every caller (tests/test_reference.py) passes "
                "hidden_sizes and seeds")
_XOR_OUTCOME = ("xor_training_outcome gives the same answer for every (hidden size, seed) the grader and the "
                "tests evaluate (tanh: h 2..6 x seeds 0..7, where the grader's fallback seed is always found; "
                "identity: h 2..6 x seeds 0..3): checked by running them")
_BASELINE = ("the grader's logistic-regression baseline (flower(1) against flower(100..103)) has the same "
             "accuracy on all four test sets (49.75, 48.5, 48.0, 47.75 %): training has converged; checked by running it")

EQUIVALENT: dict[tuple[str, str, int], tuple[str, str]] = {
    # -- contract code -------------------------------------------------------------------------
    ("collapse.py", "ZeroIterationForLoop", 0): (
        "for layer in []:",
        OUTSIDE + "the check that every layer is an nn.Linear goes; only a stack with another layer type, which "
        "the contract excludes, notices, and it still raises (AttributeError on .out_features instead of TypeError)"),
    ("collapse.py", "ZeroIterationForLoop", 1): ("for prev, nxt in []:", OUTSIDE + "the size check goes; " + _SIZE_CHECK),
    ("collapse.py", "ReplaceComparisonOperator_NotEq_Gt", 0): (
        "if prev.out_features > nxt.in_features:", OUTSIDE + "the size check becomes one-sided; " + _SIZE_CHECK),
    ("collapse.py", "ReplaceComparisonOperator_NotEq_Lt", 0): (
        "if prev.out_features < nxt.in_features:", OUTSIDE + "the size check becomes one-sided; " + _SIZE_CHECK),
    ("collapse.py", "NumberReplacer", 3): (
        "first = layers[ -1].weight",
        SAME + "dtype and device come from the last layer instead of the first: the same for every stack that "
        "can run at all (an nn.Sequential of Linear layers computes in one dtype on one device)"),
    ("gates.py", "NumberReplacer", 8): ("OR_WEIGHTS: tuple[float, float, float] = (-0.08, 1.15, 0.15)", SAME + _OR_WEIGHT),
    ("gates.py", "NumberReplacer", 10): ("OR_WEIGHTS: tuple[float, float, float] = (-0.08, 0.15, 1.15)", SAME + _OR_WEIGHT),
    ("models.py", "NumberReplacer", 16): ("seq_net: nn.Sequential = _build_quietly(make_seq_net, 1)", FREE + _INSTANCE_SEED),
    ("models.py", "NumberReplacer", 17): ("seq_net: nn.Sequential = _build_quietly(make_seq_net, -1)", FREE + _INSTANCE_SEED),
    ("models.py", "NumberReplacer", 18): ("seq_model: nn.Sequential = _build_quietly(make_seq_model, 2)", FREE + _INSTANCE_SEED),
    ("models.py", "NumberReplacer", 19): ("seq_model: nn.Sequential = _build_quietly(make_seq_model, 0)", FREE + _INSTANCE_SEED),
    ("models.py", "NumberReplacer", 20): ("def __init__(self, in_features: int = 11, out_features: int = 2) -> None:", FREE + _MODEL_DEFAULT),
    ("models.py", "NumberReplacer", 21): ("def __init__(self, in_features: int = 9, out_features: int = 2) -> None:", FREE + _MODEL_DEFAULT),
    ("models.py", "NumberReplacer", 22): ("def __init__(self, in_features: int = 10, out_features: int = 3) -> None:", FREE + _MODEL_DEFAULT),
    ("models.py", "NumberReplacer", 23): ("def __init__(self, in_features: int = 10, out_features: int = 1) -> None:", FREE + _MODEL_DEFAULT),
    ("params.py", "ZeroIterationForLoop", 0): (
        "for tensor in []:",
        SAME + "map_location is always the CPU; load_state_dict then copies the values onto the model's own "
        "device, so the model ends with the same state_dict, bit for bit, on every device"),
    ("params.py", "ZeroIterationForLoop", 1): (
        "for tensor in []:",
        SAME + "the buffer fallback of _model_device is reached only for a model without parameters; every "
        "contract model has parameters"),
    ("training.py", "NumberReplacer", 1): (
        "if epochs < -1:", OUTSIDE + "only epochs = -1 notices (it returns [] instead of raising ValueError); "
        "negative epoch counts are not in the contract"),
    # -- oracle/data code ---------------------------------------------------------------------------
    ("experiments.py", "ReplaceComparisonOperator_Is_Eq", 0): (
        "if fn == activation:", SAME + "functions compare by identity, so == is `is` for them"),
    ("experiments.py", "ReplaceComparisonOperator_GtE_Gt", 0): (
        "return torch.where(out > threshold, torch.ones_like(out), torch.zeros_like(out))",
        SAME + "out equals the cut only if the output unit's z is 0; with 0/1 hidden values z is -0.05 or 0.1 "
        "(AND weights), never 0, for every output activation of the experiments"),
    ("experiments.py", "ReplaceComparisonOperator_Gt_GtE", 0): ("predicted = (model(x) >= 0).to(y.dtype)", PROGRAM + _XOR_OUTCOME),
    ("experiments.py", "NumberReplacer", 24): ("predicted = (model(x) > 1).to(y.dtype)", PROGRAM + _XOR_OUTCOME),
    ("experiments.py", "NumberReplacer", 25): ("predicted = (model(x) > -1).to(y.dtype)", PROGRAM + _XOR_OUTCOME),
    ("experiments.py", "NumberReplacer", 16): ("XOR_EPOCHS = 401", PROGRAM + _XOR_OUTCOME),
    ("experiments.py", "NumberReplacer", 17): ("XOR_EPOCHS = 399", PROGRAM + _XOR_OUTCOME),
    **{("experiments.py", "NumberReplacer", n): (line, PROGRAM + _XOR_DEFAULT) for n, line in [
        (26, "hidden_sizes: Sequence[int] = ( 3, 3, 4, 5, 6),"),
        (27, "hidden_sizes: Sequence[int] = ( 1, 3, 4, 5, 6),"),
        (28, "hidden_sizes: Sequence[int] = (2, 4, 4, 5, 6),"),
        (29, "hidden_sizes: Sequence[int] = (2, 2, 4, 5, 6),"),
        (30, "hidden_sizes: Sequence[int] = (2, 3, 5, 5, 6),"),
        (31, "hidden_sizes: Sequence[int] = (2, 3, 3, 5, 6),"),
        (32, "hidden_sizes: Sequence[int] = (2, 3, 4, 6, 6),"),
        (33, "hidden_sizes: Sequence[int] = (2, 3, 4, 4, 6),"),
        (34, "hidden_sizes: Sequence[int] = (2, 3, 4, 5, 7),"),
        (35, "hidden_sizes: Sequence[int] = (2, 3, 4, 5, 5),"),
        (36, "seeds: Sequence[int] = tuple(range( 9)),"),
        (37, "seeds: Sequence[int] = tuple(range( 7)),"),
    ]},
    ("training.py", "ReplaceComparisonOperator_Gt_GtE", 0): (
        "predicted = (torch.sigmoid(logits) >= 0.5).to(y.dtype)",
        PROGRAM + "differs only for a logit that is exactly 0.0; none of the baseline's is, and for a model "
        "whose logits are all 0 both rules give 50 % on the balanced flower test sets"),
    ("training.py", "NumberReplacer", 4): ("epochs: int = 1001,", PROGRAM + _BASELINE),
    ("training.py", "NumberReplacer", 5): ("epochs: int = 999,", PROGRAM + _BASELINE),
    ("training.py", "NumberReplacer", 6): ("lr: float = 1.1,", PROGRAM + _BASELINE),
    ("training.py", "NumberReplacer", 8): ("seed: int = 1,", PROGRAM + _BASELINE),
    ("training.py", "NumberReplacer", 9): ("seed: int = -1,", PROGRAM + _BASELINE),
}

GAPS: dict[tuple[str, str, int], tuple[str, str]] = {
    ("params.py", "ReplaceTrueWithFalse", 0): (
        "state = torch.load(path, weights_only=False, map_location=_model_device(model))",
        "load_params would unpickle anything, so a foreign file could run code; on every file save_params writes "
        "it loads the same. Catching it needs a file that only a full unpickler reads, planted in the worker's "
        "scratch directory, and the worker (grader/remote.py, outside this change) has no operation that writes "
        "one safely. Open"),
    ("experiments.py", "NumberReplacer", 18): (
        "XOR_LR = 2.5",
        "a tuning constant of the XOR experiment: the outcome changes for (h 2, seed 0), yet every claim made "
        "about it (counts per hidden size) still holds; only pinning per-seed outcomes, a brittle change detector, "
        "would kill it. Open"),
    ("experiments.py", "NumberReplacer", 19): (
        "XOR_LR = 0.5",
        "a tuning constant of the XOR experiment: the outcome changes for (h 2, seed 7) and (h 3, seed 5), yet "
        "every claim made about it still holds; see XOR_LR = 2.5. Open"),
}
