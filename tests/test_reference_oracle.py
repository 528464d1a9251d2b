"""The reference's data and helpers beyond the contract: what the grader and the lesson take from them.

``tests/test_reference.py`` checks the lesson's claims; the facts here are the ones
mutation testing (``docs/mutation.md``) found that nothing checked: changing them left
every test passing. Each is stated in the lesson, the README or a docstring, and the
catalogue relies on most of them as its oracle (initial weights, XOR points, flower
data, the logistic-regression baseline).

Run single-threaded: ``OMP_NUM_THREADS=1 python -m pytest tests/test_reference_oracle.py``.
"""

from __future__ import annotations

import pytest
import torch

from reference.data import GATE_INPUTS, flower, xor_points
from reference.experiments import initial_state, run_experiment
from reference.training import logistic_regression_accuracy

torch.set_num_threads(1)

FLOATS = [torch.float32, torch.float64]
LESSON_ROWS = [[0, 0], [1, 0], [0, 1], [1, 1]]


def test_gate_inputs_are_the_lesson_rows_with_the_bias_input_one():
    assert GATE_INPUTS.dtype == torch.float32
    assert GATE_INPUTS.tolist() == [[1, *row] for row in LESSON_ROWS]


@pytest.mark.parametrize("dtype", FLOATS)
def test_xor_points_are_the_four_inputs_of_the_truth_table(dtype):
    x, y = xor_points(dtype)
    assert x.tolist() == LESSON_ROWS
    assert y.flatten().tolist() == [0, 1, 1, 0]


def test_flower_defaults_to_the_lessons_seed_and_size():
    x, y = flower()
    x1, y1 = flower(1, 400)
    assert torch.equal(x, x1) and torch.equal(y, y1)


def test_flower_with_an_odd_size_leaves_the_last_row_at_the_origin():
    """The lesson's recipe with m = 401: two classes of 200 points, the last row (0, 0) with label 0."""
    x, y = flower(1, 401)
    assert x.shape == (401, 2) and y.shape == (401, 1)
    assert x[-1].tolist() == [0.0, 0.0] and y[-1].item() == 0.0
    x400, y400 = flower(1, 400)
    assert torch.equal(x[:400], x400) and torch.equal(y[:400], y400)


def test_initial_state_is_uniform_on_minus_one_to_one():
    """"drawn uniformly from (-1, 1)": both signs, the whole range, centred."""
    w = initial_state({"w": (100, 100)}, seed=0)["w"]
    assert w.dtype == torch.float32
    assert -1.0 <= w.min().item() < -0.99 and 0.99 < w.max().item() < 1.0
    assert abs(w.mean().item()) < 0.02
    assert 0.48 < (w < 0).to(torch.float64).mean().item() < 0.52


@pytest.mark.parametrize("output", ["step", "sigmoid", "identity", "tanh"])
def test_a_step_hidden_layer_gives_xor_whatever_output_activation_reads_it(output):
    """'g only changes the output's form': with 0/1 hidden values the AND unit computes XOR,
    read at the middle of g's range (0.5 for sigmoid, 0 for identity and tanh)."""
    assert run_experiment("step", output)


def test_the_graders_logistic_baseline_runs_with_its_defaults_and_stays_near_chance():
    """trained_seq_net_beats_logistic_regression calls logistic_regression_accuracy with its
    default settings: they must train (a valid learning rate) and a straight line cannot
    separate the flower, so the baseline stays near 50%."""
    x, y = flower(1)
    x_test, y_test = flower(100)
    accuracy = logistic_regression_accuracy(x, y, x_test, y_test)
    assert 0.35 <= accuracy <= 0.65
