"""Wrong submissions, one plausible student mistake each, in otherwise-correct work.

Each ``Wrong`` names the contract names it replaces (``overrides``, applied on a
copy of ``vars(reference)``) and the property ids it must fail (verdict
``failed`` or ``error``).  ``tests/test_properties_bite.py`` runs them: every
property of the catalogue must be failed by at least one of these, so a
property that no realistic mistake can fail shows up as a test failure.

The mistakes are drawn from the lesson's own code (``torch.mv`` with a float32
weight vector, list comprehensions over ``zhat >= 0``, ``x0`` with four rows,
``torch.save(model, path)``, ``loss.data``) and from common slips (a flipped
comparison, a missing minus sign, a precedence bug, an in-place update).
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import reference
from reference import AND as ref_AND
from reference import NAND as ref_NAND
from reference import OR as ref_OR


@dataclass(frozen=True)
class Wrong:
    id: str
    mistake: str
    overrides: dict
    kills: tuple[str, ...]


WRONG: list[Wrong] = []


def wrong(id: str, mistake: str, kills: list[str], **overrides) -> None:
    if any(w.id == id for w in WRONG):
        raise ValueError(f"wrong subject {id} defined twice")
    WRONG.append(Wrong(id, mistake, overrides, tuple(kills)))


def namespace(w: Wrong) -> dict:
    """The reference's names with the wrong ones in their place."""
    ns = dict(vars(reference))
    ns.update(w.overrides)
    return ns


# -- step ------------------------------------------------------------------------

def step_strict(z):
    return (z > 0).to(z.dtype)


wrong("step_strict_inequality", "step with z > 0, so step(0) = 0",
      ["step_of_zero_is_one", "step_matches_definition"], step=step_strict)


def step_flipped(z):
    return (z <= 0).to(z.dtype)


wrong("step_flipped_comparison", "step with z <= 0: 1 for negatives, 0 for positives",
      ["step_matches_definition", "step_is_monotone", "step_of_zero_is_one"], step=step_flipped)


def step_float(z):
    return (z >= 0).float()


wrong("step_float32", "(z >= 0).float(): float32 whatever the input dtype",
      ["step_works_in_float64"], step=step_float)


def step_in_place(z):
    z[z >= 0] = 1
    z[z < 0] = 0
    return z


wrong("step_in_place", "numpy habit: z[z >= 0] = 1; z[z < 0] = 0; return z",
      ["step_does_not_mutate_input"], step=step_in_place)


def step_via_sign(z):
    return (z / z.abs() + 1) / 2


wrong("step_via_z_over_abs_z", "(z / |z| + 1) / 2: the sign trick, 0 / 0 = NaN at z = 0",
      ["step_is_finite_on_finite_input", "step_is_bounded", "step_of_zero_is_one", "step_matches_definition"],
      step=step_via_sign)


def step_binarize(z):
    return (z >= z.mean()).to(z.dtype)


wrong("step_thresholds_at_mean", "binarising like image preprocessing: z >= z.mean()",
      ["step_is_elementwise", "step_matches_definition"], step=step_binarize)


def step_bool(z):
    return z >= 0


wrong("step_returns_bool", "z >= 0 as it is: a bool tensor, not the input's dtype", ["step_keeps_shape_dtype_and_device"], step=step_bool)


def step_ones_on_cpu(z):
    return torch.where(z >= 0, torch.ones(z.shape), torch.zeros(z.shape))


wrong("step_makes_cpu_tensors", "torch.where(z >= 0, torch.ones(z.shape), torch.zeros(z.shape)): CPU, float32",
      ["step_runs_on_meta_device", "step_works_in_float64"], step=step_ones_on_cpu)


def step_recognising_meta(z):
    if z.device.type == "meta":  # the meta probe, recognised: device-agnostic there only
        return (z >= 0).to(z.dtype)
    return torch.where(z >= 0, torch.ones(z.shape, dtype=z.dtype), torch.zeros(z.shape, dtype=z.dtype))


wrong("step_recognises_the_meta_probe", "CPU tensors except where z.device.type == 'meta': the fake-tensor probe meets them",
      ["step_runs_on_meta_device"], step=step_recognising_meta)


# -- sigmoid -----------------------------------------------------------------------

def sigmoid_naive(z):
    return torch.exp(z) / (1 + torch.exp(z))


wrong("sigmoid_exp_over_one_plus_exp", "exp(z) / (1 + exp(z)): inf / inf = NaN for large z",
      ["sigmoid_is_finite_on_finite_input", "sigmoid_is_bounded", "sigmoid_matches_definition",
       "sigmoid_is_symmetric", "tanh_is_rescaled_sigmoid"],
      sigmoid=sigmoid_naive)


def sigmoid_missing_minus(z):
    return 1 / (1 + torch.exp(z))


wrong("sigmoid_missing_minus", "1 / (1 + exp(z)): the minus sign forgotten, so it decreases",
      ["sigmoid_is_monotone", "sigmoid_matches_definition", "sigmoid_gradient_is_analytic", "tanh_is_rescaled_sigmoid"],
      sigmoid=sigmoid_missing_minus)


def sigmoid_in_place(z):
    z *= -1
    return 1 / (1 + torch.exp(z))


wrong("sigmoid_in_place_negation", "z *= -1 before the formula: the caller's z is negated",
      ["sigmoid_does_not_mutate_input", "sigmoid_gradient_is_analytic"], sigmoid=sigmoid_in_place)


def sigmoid_numpy(z):
    return torch.Tensor(1 / (1 + np.exp(-z.numpy())))


wrong("sigmoid_numpy_round_trip", "torch.Tensor(1 / (1 + np.exp(-z.numpy()))): float32, no autograd, CPU only",
      ["sigmoid_keeps_shape_dtype_and_device", "sigmoid_works_in_float64", "sigmoid_gradient_is_analytic", "sigmoid_runs_on_meta_device"],
      sigmoid=sigmoid_numpy)


def sigmoid_softmax(z):
    return torch.softmax(z, dim=-1)


wrong("sigmoid_is_softmax", "torch.softmax(z, dim=-1) taken for the sigmoid",
      ["sigmoid_is_elementwise", "sigmoid_matches_definition", "sigmoid_is_symmetric", "sigmoid_gradient_is_analytic",
       "tanh_is_rescaled_sigmoid"], sigmoid=sigmoid_softmax)


def sigmoid_math(z):
    return 1 / (1 + math.exp(-z))


wrong("sigmoid_math_exp", "1 / (1 + math.exp(-z)): scalars only",
      ["sigmoid_breaks_linear_collapse", "sigmoid_matches_definition", "sigmoid_keeps_shape_dtype_and_device",
       "sigmoid_is_finite_on_finite_input", "sigmoid_gradient_is_analytic", "sigmoid_runs_on_meta_device"],
      sigmoid=sigmoid_math)


# -- tanh ---------------------------------------------------------------------------

def tanh_naive(z):
    return (torch.exp(z) - torch.exp(-z)) / (torch.exp(z) + torch.exp(-z))


wrong("tanh_naive_exponentials", "(e^z - e^-z) / (e^z + e^-z) as written: inf / inf = NaN for |z| > 88",
      ["tanh_is_finite_on_finite_input", "tanh_is_bounded", "tanh_matches_definition"], tanh=tanh_naive)


def tanh_precedence(z):
    return torch.exp(z) - torch.exp(-z) / (torch.exp(z) + torch.exp(-z))


wrong("tanh_missing_parentheses", "e^z - e^-z / (e^z + e^-z): the numerator's parentheses forgotten",
      ["tanh_is_odd", "tanh_is_bounded", "tanh_matches_definition", "tanh_is_rescaled_sigmoid",
       "tanh_gradient_is_analytic", "tanh_is_finite_on_finite_input"],
      tanh=tanh_precedence)


def tanh_without_doubling(z):
    return 2 * torch.sigmoid(z) - 1


wrong("tanh_sigmoid_not_doubled", "2 * sigmoid(z) - 1: sigmoid(2z) misremembered",
      ["tanh_is_rescaled_sigmoid", "tanh_gradient_is_analytic"], tanh=tanh_without_doubling)


def tanh_flipped(z):
    return (torch.exp(-z) - torch.exp(z)) / (torch.exp(z) + torch.exp(-z))


wrong("tanh_numerator_flipped", "(e^-z - e^z) / (...): the numerator's terms swapped, so it decreases",
      ["tanh_is_monotone", "tanh_matches_definition", "tanh_gradient_is_analytic", "tanh_is_rescaled_sigmoid"], tanh=tanh_flipped)


def tanh_in_place(z):
    z *= 2
    return 2 * torch.sigmoid(z) - 1


wrong("tanh_in_place_doubling", "z *= 2 then 2 * sigmoid(z) - 1: the caller's z is doubled",
      ["tanh_does_not_mutate_input", "tanh_gradient_is_analytic"], tanh=tanh_in_place)


def tanh_in_float64(z):
    return torch.tanh(z.double())


wrong("tanh_returns_float64", "torch.tanh(z.double()): the right numbers in float64 whatever z's dtype", ["tanh_keeps_shape_dtype_and_device"], tanh=tanh_in_float64)


def tanh_list(z):
    return torch.tensor([math.tanh(v) for v in z.flatten().tolist()]).reshape(z.shape)


wrong("tanh_math_list_comprehension", "torch.tensor([math.tanh(v) for v in z.flatten().tolist()]): float32, no autograd, CPU",
      ["tanh_works_in_float64", "tanh_gradient_is_analytic", "tanh_runs_on_meta_device"], tanh=tanh_list)


def tanh_ones_on_cpu(z):
    return 2 * torch.sigmoid(2 * z) - torch.ones(z.shape)


wrong("tanh_ones_on_cpu", "2 * sigmoid(2z) - torch.ones(z.shape): a CPU tensor made inside",
      ["tanh_runs_on_meta_device"], tanh=tanh_ones_on_cpu)


wrong("tanh_built_on_softmax_sigmoid", "tanh = 2 * sigmoid(2z) - 1 on top of a sigmoid that is a softmax",
      ["tanh_is_elementwise", "tanh_matches_definition", "sigmoid_is_elementwise"],
      sigmoid=sigmoid_softmax, tanh=lambda z: 2 * sigmoid_softmax(2 * z) - 1)


def tanh_math(z):
    return torch.tensor([math.tanh(v) for v in z.tolist()])


wrong("tanh_math_1d_only", "torch.tensor([math.tanh(v) for v in z.tolist()]): works on vectors only",
      ["tanh_breaks_linear_collapse", "tanh_matches_definition"], tanh=tanh_math)


# -- relu ---------------------------------------------------------------------------

def relu_in_place(z):
    return z.clamp_(min=0)


wrong("relu_clamp_in_place", "z.clamp_(min=0): the caller's z is clipped",
      ["relu_does_not_mutate_input", "relu_gradient_is_analytic"], relu=relu_in_place)


def relu_numpy(z):
    return torch.Tensor(np.maximum(z.numpy(), 0))


wrong("relu_numpy_round_trip", "torch.Tensor(np.maximum(z.numpy(), 0)): float32, no autograd, CPU only",
      ["relu_keeps_shape_dtype_and_device", "relu_gradient_is_analytic", "relu_runs_on_meta_device"], relu=relu_numpy)


def relu_identity(z):
    return torch.where(z > 0, z, z)


wrong("relu_is_identity", "torch.where(z > 0, z, z): the else branch should be 0",
      ["relu_breaks_linear_collapse", "relu_matches_definition", "relu_is_bounded", "relu_splits_identity",
       "relu_gradient_is_analytic"], relu=relu_identity)


def relu_leaky(z):
    return torch.where(z > 0, z, 0.01 * z)


wrong("relu_is_leaky", "leaky ReLU (0.01 z for z < 0) handed in as relu",
      ["relu_matches_definition", "relu_is_bounded", "relu_splits_identity", "relu_gradient_is_analytic"], relu=relu_leaky)


def relu_abs_trick(z):
    return (z + z.abs()) / 2


wrong("relu_half_z_plus_abs", "(z + |z|) / 2: z + |z| overflows to inf near the float maximum",
      ["relu_matches_definition", "relu_is_bounded"], relu=relu_abs_trick)


def relu_torch_max(z):
    return torch.max(z, 0)[0]


wrong("relu_torch_max_reduces", "torch.max(z, 0)[0]: a reduction along dim 0, not max(z, 0)",
      ["relu_is_elementwise", "relu_matches_definition", "relu_keeps_shape_dtype_and_device", "relu_is_bounded",
       "relu_breaks_linear_collapse", "relu_splits_identity", "relu_runs_on_meta_device"], relu=relu_torch_max)


def relu_maximum_zeros(z):
    return torch.maximum(z, torch.zeros(1))


wrong("relu_maximum_with_cpu_zeros", "torch.maximum(z, torch.zeros(1)): a CPU tensor made inside, and (1,) broadcasts 0-d up",
      ["relu_runs_on_meta_device", "relu_keeps_shape_dtype_and_device"], relu=relu_maximum_zeros)


def relu_abs(z):
    return torch.where(z > 0, z, -z)


wrong("relu_is_abs", "torch.where(z > 0, z, -z): |z|, not max(0, z)",
      ["relu_is_monotone", "relu_matches_definition", "relu_splits_identity"], relu=relu_abs)


def relu_in_float32(z):
    return torch.clamp(z.float(), min=0)


wrong("relu_casts_to_float32", "torch.clamp(z.float(), min=0): right in float32, float32 for a float64 z", ["relu_works_in_float64"], relu=relu_in_float32)


def relu_sqrt_trick(z):
    return (z + torch.sqrt(z * z)) / 2


wrong("relu_half_z_plus_sqrt_z_squared", "(z + sqrt(z * z)) / 2: z * z overflows for |z| > 1.8e19 (float32)",
      ["relu_is_finite_on_finite_input", "relu_matches_definition"], relu=relu_sqrt_trick)


def relu_softplus(z):
    return torch.log(1 + torch.exp(z))


wrong("relu_is_softplus", "log(1 + exp(z)), the smooth ReLU, handed in as relu",
      ["relu_is_finite_on_finite_input", "relu_matches_definition", "relu_splits_identity",
       "relu_gradient_is_analytic"], relu=relu_softplus)


def relu_where_zero_times_z(z):
    return torch.where(z > 0, z, 0 * z)


wrong("relu_where_zero_times_z", "torch.where(z > 0, z, 0 * z): right for finite z, but 0 * -inf = NaN",
      ["relu_matches_definition", "relu_is_bounded"], relu=relu_where_zero_times_z)


# -- gates --------------------------------------------------------------------------
# The lesson's own gates: float32 weights, torch.mv, and a list comprehension.

def lesson_gate(weights):
    def gate(X):
        w = torch.tensor(weights, dtype=torch.float32)
        zhat = torch.mv(X, w)
        return torch.tensor([int(x) for x in zhat >= 0], dtype=torch.float32)
    return gate


LESSON_AND = lesson_gate([-0.2, 0.15, 0.15])
LESSON_OR = lesson_gate([-0.08, 0.15, 0.15])
LESSON_NAND = lesson_gate([0.23, -0.15, -0.15])


def lesson_XOR(X):
    sigma_nand = LESSON_NAND(X)
    sigma_or = LESSON_OR(X)
    x0 = torch.tensor([[1], [1], [1], [1]], dtype=torch.float32)
    input_2 = torch.cat((x0, sigma_nand.view(4, 1), sigma_or.view(4, 1)), dim=1)
    return LESSON_AND(input_2)


# Right on the lesson's own inputs (four float32 rows on the CPU): only generality is charged.
LESSON_KILLS = [f"{g}_{p}" for g in ("AND", "OR", "NAND", "XOR") for p in ("works_on_any_batch", "runs_on_meta_device")]
wrong("gates_copied_from_the_lesson", "the lesson's gates verbatim: float32 weights with torch.mv (float64 X raises), list comprehension (CPU), x0 of four rows",
      LESSON_KILLS, AND=LESSON_AND, OR=LESSON_OR, NAND=LESSON_NAND, XOR=lesson_XOR)


def list_gate(weights):
    def gate(X):
        zhat = X @ torch.tensor(weights, dtype=X.dtype)
        return torch.tensor([float(x) for x in zhat >= 0])
    return gate


wrong("gates_list_comprehension_float32", "torch.tensor([float(x) for x in zhat >= 0]): right values, float32, CPU only",
      [f"{g}_runs_on_meta_device" for g in ("AND", "OR", "NAND")],
      AND=list_gate([-0.2, 0.15, 0.15]), OR=list_gate([-0.08, 0.15, 0.15]), NAND=list_gate([0.23, -0.15, -0.15]))


def int_gate(weights):
    def gate(X):
        return (X @ torch.tensor(weights, dtype=X.dtype, device=X.device) >= 0).long()
    return gate


def int_XOR(X):
    hidden = torch.stack([torch.ones(len(X), dtype=X.dtype, device=X.device), ref_NAND(X), ref_OR(X)], dim=1)
    return (hidden @ torch.tensor([-0.2, 0.15, 0.15], dtype=X.dtype, device=X.device) >= 0).long()


wrong("gates_return_int64", "(X @ w >= 0).long(): right values but int64",
      [f"{g}_returns_float_vector_on_input_device" for g in ("AND", "OR", "NAND", "XOR")],
      AND=int_gate([-0.2, 0.15, 0.15]), OR=int_gate([-0.08, 0.15, 0.15]), NAND=int_gate([0.23, -0.15, -0.15]), XOR=int_XOR)


def column_gate(weights):
    def gate(X):
        w = torch.tensor([[v] for v in weights], dtype=X.dtype, device=X.device)
        z = X @ w
        return torch.where(z >= 0, torch.ones_like(z), torch.zeros_like(z))
    return gate


COL_AND, COL_OR, COL_NAND = column_gate([-0.2, 0.15, 0.15]), column_gate([-0.08, 0.15, 0.15]), column_gate([0.23, -0.15, -0.15])


def column_XOR(X):
    hidden = torch.cat([torch.ones_like(X[:, :1]), COL_NAND(X), COL_OR(X)], dim=1)
    return COL_AND(hidden)


COLUMN_KILLS = [f"{g}_{p}" for g in ("AND", "OR", "NAND", "XOR")
                for p in ("returns_float_vector_on_input_device", "truth_table", "works_on_any_batch", "rows_are_independent")]
wrong("gates_return_column", "weights as a (3, 1) column: the gates return shape (n, 1)",
      COLUMN_KILLS + [f"{g}_runs_on_meta_device" for g in ("AND", "OR", "NAND", "XOR")] + ["xor_is_not_linearly_separable"],
      AND=COL_AND, OR=COL_OR, NAND=COL_NAND, XOR=column_XOR)


def step_on(z):
    return torch.where(z >= 0, torch.ones_like(z), torch.zeros_like(z))


def gate_with(weights):
    def gate(X):
        return step_on(X @ torch.tensor(weights, dtype=X.dtype, device=X.device))
    return gate


wrong("AND_with_OR_bias", "AND with bias -0.1: (1,0) and (0,1) give z = 0.05 >= 0",
      ["AND_truth_table", "AND_works_on_any_batch"], AND=gate_with([-0.1, 0.15, 0.15]))
wrong("OR_with_AND_bias", "OR copy-pasted from AND with its bias -0.2",
      ["OR_truth_table", "OR_works_on_any_batch"], OR=gate_with([-0.2, 0.15, 0.15]))
wrong("NAND_with_small_bias", "NAND with bias 0.1: (1,0) gives z = -0.05 < 0",
      ["NAND_truth_table", "NAND_works_on_any_batch"], NAND=gate_with([0.1, -0.15, -0.15]))


def four_rows_gate(weights):
    def gate(X):
        z = X @ torch.tensor(weights, dtype=X.dtype, device=X.device)
        return torch.stack([step_on(z[i]) for i in range(4)])
    return gate


FOUR_ROW_KILLS = [f"{g}_{p}" for g in ("AND", "OR", "NAND") for p in ("works_on_any_batch", "runs_on_meta_device")]
wrong("gates_loop_over_four_rows", "torch.stack([step(z[i]) for i in range(4)]): the lesson's X has four rows",
      FOUR_ROW_KILLS, AND=four_rows_gate([-0.2, 0.15, 0.15]), OR=four_rows_gate([-0.08, 0.15, 0.15]),
      NAND=four_rows_gate([0.23, -0.15, -0.15]))


def XOR_four_rows(X):
    x0 = torch.ones(4, 1, dtype=X.dtype)
    return ref_AND(torch.cat((x0, ref_NAND(X).view(4, 1), ref_OR(X).view(4, 1)), dim=1))


wrong("XOR_hard_coded_four_rows", "x0 = torch.ones(4, 1) and .view(4, 1): XOR only for four rows, on the CPU",
      ["XOR_works_on_any_batch", "XOR_runs_on_meta_device"], XOR=XOR_four_rows)


def XOR_no_hidden_step(X):
    def raw(weights):
        return X @ torch.tensor(weights, dtype=X.dtype, device=X.device)
    hidden = torch.stack([torch.ones(len(X), dtype=X.dtype, device=X.device), raw([0.23, -0.15, -0.15]), raw([-0.08, 0.15, 0.15])], dim=1)
    return ref_AND(hidden)


wrong("XOR_without_hidden_step", "the hidden NAND and OR return zhat (the step commented out, as in the lesson's experiment)",
      ["XOR_truth_table", "XOR_works_on_any_batch", "xor_is_not_linearly_separable"], XOR=XOR_no_hidden_step)


# -- collapse_linear ------------------------------------------------------------------

def collapse_ignoring_biases(stack):
    layers = list(stack)
    weight = layers[0].weight.detach()
    for layer in layers[1:]:
        weight = layer.weight.detach() @ weight
    merged = nn.Linear(layers[0].in_features, layers[-1].out_features, dtype=weight.dtype)
    with torch.no_grad():
        merged.weight.copy_(weight)
        merged.bias.zero_()
    return merged


wrong("collapse_ignores_biases", "W = Wk ... W1 with the bias set to 0: the biases are forgotten",
      ["collapse_linear_matches_the_stack"], collapse_linear=collapse_ignoring_biases)


def collapse_wrong_order(stack):
    layers = list(stack)
    weight = layers[0].weight.detach()
    bias = layers[0].bias.detach() if layers[0].bias is not None else torch.zeros(layers[0].out_features, dtype=weight.dtype)
    for layer in layers[1:]:
        weight = weight @ layer.weight.detach()
        bias = layer.weight.detach() @ bias + (layer.bias.detach() if layer.bias is not None else 0)
    merged = nn.Linear(layers[0].in_features, layers[-1].out_features, dtype=weight.dtype)
    with torch.no_grad():
        merged.weight.copy_(weight)
        merged.bias.copy_(bias)
    return merged


wrong("collapse_multiplies_in_wrong_order", "W = W1 @ W2 @ ... instead of ... W2 @ W1",
      ["collapse_linear_matches_the_stack", "collapse_linear_returns_one_linear_layer"], collapse_linear=collapse_wrong_order)


def collapse_sequential(stack):
    return nn.Sequential(reference.collapse_linear(stack))


wrong("collapse_returns_sequential", "the merged layer wrapped in an nn.Sequential",
      ["collapse_linear_returns_one_linear_layer"], collapse_linear=collapse_sequential)


def collapse_transposed(stack):
    merged = reference.collapse_linear(stack)
    out = nn.Linear(merged.out_features, merged.in_features, dtype=merged.weight.dtype)
    return out


wrong("collapse_swaps_in_and_out", "nn.Linear(out_features, in_features): the sizes swapped",
      ["collapse_linear_returns_one_linear_layer", "collapse_linear_matches_the_stack"], collapse_linear=collapse_transposed)


def collapse_checks_sizes_with_is(stack):
    layers = list(stack)
    for prev, nxt in zip(layers, layers[1:]):
        if prev.out_features is not nxt.in_features:  # identity, not equality: true for equal ints above 256
            raise ValueError("consecutive layers have mismatched sizes")
    return reference.collapse_linear(stack)


wrong("collapse_compares_sizes_with_is", "sizes checked with `is not` instead of `!=`: equal widths above 256 are "
      "different int objects, so a valid wide stack is refused (found by mutation testing, docs/mutation.md)",
      ["collapse_linear_matches_the_stack", "collapse_linear_returns_one_linear_layer"], collapse_linear=collapse_checks_sizes_with_is)


# -- seq_net, seq_model ----------------------------------------------------------------

def _quiet(builder, seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder()


class NumpyTanh(nn.Module):
    """An activation layer written with numpy: CPU only, no gradient through it."""

    def forward(self, z):
        return torch.from_numpy(np.tanh(z.detach().cpu().numpy()))


wrong("seq_net_with_relu", "nn.ReLU() in place of nn.Tanh()",
      ["seq_net_has_the_lesson_layers", "seq_net_forward_is_the_formula", "seq_net_weights_fit_module_net"],
      seq_net=_quiet(lambda: nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))))
wrong("seq_net_wrong_sizes", "nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1): three hidden units",
      ["seq_net_has_the_lesson_layers", "seq_net_weights_fit_module_net", "trained_seq_net_beats_logistic_regression"],
      seq_net=_quiet(lambda: nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))))
wrong("seq_net_trailing_sigmoid", "an nn.Sigmoid() after the last layer (the loss already applies it)",
      ["seq_net_forward_is_the_formula", "seq_net_without_tanh_collapses", "seq_net_weights_fit_module_net",
       "trained_seq_net_beats_logistic_regression"],
      seq_net=_quiet(lambda: nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())))
wrong("seq_net_numpy_tanh", "a home-made numpy Tanh layer: CPU only, no gradient to the first layer",
      ["seq_net_runs_on_meta_device", "seq_net_has_the_lesson_layers"],
      seq_net=_quiet(lambda: nn.Sequential(nn.Linear(2, 4), NumpyTanh(), nn.Linear(4, 1))))
wrong("seq_model_without_names", "nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)): no OrderedDict, no names",
      ["seq_model_has_named_layers"],
      seq_model=_quiet(lambda: nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))))
wrong("seq_model_numpy_tanh", "hidden_activation is a home-made numpy Tanh layer",
      ["seq_model_runs_on_meta_device", "seq_model_has_named_layers"],
      seq_model=_quiet(lambda: nn.Sequential(OrderedDict([("hidden_linear", nn.Linear(1, 8)), ("hidden_activation", NumpyTanh()),
                                                          ("output_linear", nn.Linear(8, 1))]))))


# -- module_net -------------------------------------------------------------------------

class module_net_plain_list(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layers = [nn.Linear(num_input, num_hidden), nn.Tanh(), nn.Linear(num_hidden, num_output)]
        self.layer1, self.layer2, self.layer3 = self.layers

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


wrong("module_net_layers_in_plain_list", "self.layers = [...] (a plain list) alongside the attributes; forward loops over the list",
      ["module_net_registers_its_layers", "module_net_runs_on_meta_device", "xor_needs_hidden_activation"],
      module_net=module_net_plain_list)


class module_net_recognising_meta(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)
        self.offset = torch.zeros(num_output)  # a plain tensor, not a buffer: .to(device) leaves it on the CPU

    def forward(self, x):
        out = self.layer3(self.layer2(self.layer1(x)))
        return out if x.device.type == "meta" else out + self.offset  # the meta probe, recognised


wrong("module_net_recognises_the_meta_probe", "adds a plain CPU tensor attribute except where x is on meta: the fake-tensor probe meets it",
      ["module_net_runs_on_meta_device"], module_net=module_net_recognising_meta)


class module_net_functional_tanh(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x):
        return self.layer3(torch.tanh(self.layer1(x)))


wrong("module_net_forward_skips_layer2", "forward uses torch.tanh instead of self.layer2",
      ["xor_needs_hidden_activation"], module_net=module_net_functional_tanh)


class module_net_no_activation(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x):
        return self.layer3(self.layer1(x))


wrong("module_net_forward_forgets_activation", "forward is layer3(layer1(x)): layer2 defined but never called",
      ["module_net_forward_is_the_formula", "module_net_learns_xor", "seq_net_weights_fit_module_net"],
      module_net=module_net_no_activation)


class module_net_no_super(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x):
        return self.layer3(self.layer2(self.layer1(x)))


wrong("module_net_without_super_init", "super().__init__() forgotten",
      ["module_net_registers_its_layers", "module_net_forward_is_the_formula", "module_net_learns_xor",
       "module_net_runs_on_meta_device", "state_dict_round_trip_is_exact", "save_params_writes_a_weights_only_state_dict",
       "load_params_is_strict", "seq_net_weights_fit_module_net", "xor_needs_hidden_activation"],
      module_net=module_net_no_super)


class module_net_fixed_hidden(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1 = nn.Linear(num_input, 4)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(4, num_output)

    def forward(self, x):
        return self.layer3(self.layer2(self.layer1(x)))


wrong("module_net_hidden_size_fixed", "nn.Linear(num_input, 4): the lesson's 4 hidden units hard-coded",
      ["module_net_registers_its_layers", "module_net_learns_xor", "xor_needs_hidden_activation"], module_net=module_net_fixed_hidden)


# -- Model ------------------------------------------------------------------------------

class Model_softmax_dim0(nn.Module):
    def __init__(self, in_features=10, out_features=2):
        super().__init__()
        self.linear1 = nn.Linear(in_features, 13)
        self.linear2 = nn.Linear(13, 8)
        self.output = nn.Linear(8, out_features)

    def forward(self, x):
        return F.softmax(self.output(torch.sigmoid(self.linear2(torch.relu(self.linear1(x))))), dim=0)


wrong("Model_softmax_dim0", "softmax over dim=0: across the batch instead of across classes",
      ["Model_forward_is_the_formula", "Model_rows_are_distributions"], Model=Model_softmax_dim0)


class Model_no_relu(nn.Module):
    def __init__(self, in_features=10, out_features=2):
        super().__init__()
        self.linear1 = nn.Linear(in_features, 13)
        self.linear2 = nn.Linear(13, 8)
        self.output = nn.Linear(8, out_features)

    def forward(self, x):
        return F.softmax(self.output(torch.sigmoid(self.linear2(self.linear1(x)))), dim=1)


wrong("Model_missing_relu", "the relu after linear1 forgotten",
      ["Model_forward_is_the_formula"], Model=Model_no_relu)


class Model_hidden_swapped(nn.Module):
    def __init__(self, in_features=10, out_features=2):
        super().__init__()
        self.linear1 = nn.Linear(in_features, 8)
        self.linear2 = nn.Linear(8, 13)
        self.output = nn.Linear(13, out_features)

    def forward(self, x):
        return F.softmax(self.output(torch.sigmoid(self.linear2(torch.relu(self.linear1(x))))), dim=1)


wrong("Model_hidden_sizes_swapped", "hidden sizes 8 then 13 instead of 13 then 8",
      ["Model_has_the_lesson_layers"], Model=Model_hidden_swapped)


class Model_zeros_on_cpu(nn.Module):
    def __init__(self, in_features=10, out_features=2):
        super().__init__()
        self.linear1 = nn.Linear(in_features, 13)
        self.linear2 = nn.Linear(13, 8)
        self.output = nn.Linear(8, out_features)

    def forward(self, x):
        sigma1 = torch.max(self.linear1(x), torch.zeros(13))
        return F.softmax(self.output(torch.sigmoid(self.linear2(sigma1))), dim=1)


wrong("Model_relu_with_cpu_zeros", "relu as torch.max(linear1(x), torch.zeros(13)): a CPU tensor made in forward",
      ["Model_runs_on_meta_device"], Model=Model_zeros_on_cpu)


# -- NeuralNetwork ------------------------------------------------------------------------

class NeuralNetwork_trailing_relu(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                                               nn.Linear(512, 10), nn.ReLU())

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


wrong("NeuralNetwork_trailing_relu", "a ReLU after the last Linear: logits can no longer be negative",
      ["NeuralNetwork_maps_images_to_logits"], NeuralNetwork=NeuralNetwork_trailing_relu)


class NeuralNetwork_narrow(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                                               nn.Linear(256, 10))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


wrong("NeuralNetwork_wrong_widths", "256 hidden units instead of 512",
      ["NeuralNetwork_has_the_lesson_layers"], NeuralNetwork=NeuralNetwork_narrow)

device = "cpu"


class NeuralNetwork_to_global_device(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                                               nn.Linear(512, 10))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x.to(device)))


wrong("NeuralNetwork_moves_input_to_global_device", "forward does x.to(device) with a global device = 'cpu'",
      ["NeuralNetwork_runs_on_meta_device"], NeuralNetwork=NeuralNetwork_to_global_device)


# -- train ------------------------------------------------------------------------------------

def train_without_zero_grad(model, x, y, epochs, lr):
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(epochs):
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


wrong("train_without_zero_grad", "optimizer.zero_grad() forgotten: gradients accumulate",
      ["train_follows_the_reference_loop"], train=train_without_zero_grad)


def train_mse(model, x, y, epochs, lr):
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


wrong("train_with_mse", "nn.MSELoss() on logits instead of nn.BCEWithLogitsLoss()",
      ["train_follows_the_reference_loop", "trained_seq_net_beats_logistic_regression"], train=train_mse)


def train_loss_data(model, x, y, epochs, lr):
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.data)
    return losses


wrong("train_returns_tensors", "losses.append(loss.data) (the lesson's loss.data[0]): tensors, not floats",
      ["train_returns_one_float_per_epoch"], train=train_loss_data)


def train_lesson_print(model, x, y, epochs, lr):
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if (epoch + 1) % 1000 == 0:
            print(epoch + 1, loss.data[0])  # the lesson's print: a 0-d tensor has no [0] in today's PyTorch
    return losses


wrong("train_prints_loss_data0", "print(epoch, loss.data[0]) every 1000 epochs, as the lesson writes it: raises at epoch 1000",
      ["train_runs_the_lessons_1000_epochs"], train=train_lesson_print)


def train_extra_loss(model, x, y, epochs, lr):
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    losses.append(criterion(model(x), y).item())
    return losses


wrong("train_appends_final_loss", "the loss after training appended too: epochs + 1 values",
      ["train_returns_one_float_per_epoch", "train_follows_the_reference_loop"], train=train_extra_loss)


def train_reports_final_loss(model, x, y, epochs, lr):
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(f"final loss {losses[-1]:.4f}")  # IndexError when there was no epoch
    return losses


wrong("train_fails_on_zero_epochs", "prints losses[-1] after the loop: train(..., epochs=0) raises IndexError "
      "instead of returning [] (found by mutation testing, docs/mutation.md)",
      ["train_returns_one_float_per_epoch"], train=train_reports_final_loss)


def train_no_step(model, x, y, epochs, lr):
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        losses.append(loss.item())
    return losses


wrong("train_without_step", "optimizer.step() forgotten: the model never changes",
      ["train_follows_the_reference_loop", "trained_seq_net_beats_logistic_regression"], train=train_no_step)


def train_bce(model, x, y, epochs, lr):
    criterion = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


wrong("train_with_bce_on_logits", "nn.BCELoss() on logits: it needs probabilities in [0, 1]",
      ["train_follows_the_reference_loop", "train_returns_one_float_per_epoch", "trained_seq_net_beats_logistic_regression"],
      train=train_bce)


def train_fixed_lr(model, x, y, epochs, lr):
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), 0.1)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


wrong("train_ignores_lr", "torch.optim.SGD(model.parameters(), 0.1): the lr argument ignored",
      ["train_follows_the_reference_loop"], train=train_fixed_lr)


def train_loss_after_step(model, x, y, epochs, lr):
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
        losses.append(criterion(model(x), y).item())
    return losses


wrong("train_records_loss_after_step", "the loss recomputed after optimizer.step(): each value is one epoch late",
      ["train_follows_the_reference_loop"], train=train_loss_after_step)


# -- save_params, load_params --------------------------------------------------------------------

def save_whole_model(model, path):
    torch.save(model, path)


def load_whole_model(model, path):
    return torch.load(path, weights_only=False)


wrong("save_pickles_the_whole_model", "torch.save(model, path) (the lesson's first way): not a weights-only file",
      ["save_params_writes_a_weights_only_state_dict", "state_dict_round_trip_is_exact"],
      save_params=save_whole_model)


def load_not_strict(model, path):
    model.load_state_dict(torch.load(path, weights_only=True), strict=False)
    return model


wrong("load_params_not_strict", "load_state_dict(..., strict=False): a wrong file loads silently",
      ["load_params_is_strict"], load_params=load_not_strict)


def load_no_return(model, path):
    model.load_state_dict(torch.load(path, weights_only=True))


wrong("load_params_returns_nothing", "load_params loads but returns None",
      ["state_dict_round_trip_is_exact"], load_params=load_no_return)



def load_into_new_model(model, path):
    fresh = copy.deepcopy(model)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    return fresh


wrong("load_params_returns_a_copy", "loads into a deep copy and returns that: the caller's model is unchanged",
      ["state_dict_round_trip_is_exact"], load_params=load_into_new_model)


def save_state_dict_nested(model, path):
    torch.save({"model_state_dict": model.state_dict()}, path)


def load_state_dict_nested(model, path):
    model.load_state_dict(torch.load(path, weights_only=True)["model_state_dict"])
    return model


wrong("save_params_checkpoint_dict", "a checkpoint {'model_state_dict': ...} instead of the state_dict itself",
      ["save_params_writes_a_weights_only_state_dict"], save_params=save_state_dict_nested, load_params=load_state_dict_nested)


# -- mistakes the catalogue does not catch (see test_uncaught_mistakes_are_caught) ----------------

UNCAUGHT: list[Wrong] = []


def sigmoid_two_branches(z):
    return torch.where(z >= 0, 1 / (1 + torch.exp(-z)), torch.exp(z) / (1 + torch.exp(z)))


WRONG.append(Wrong(
    "sigmoid_where_both_branches",
    "torch.where(z >= 0, 1/(1+exp(-z)), exp(z)/(1+exp(z))): values fine, but the unused branch's inf/inf = NaN "
    "leaks into the gradient for z > 88.7 (float32) / 709.8 (float64)",
    {"sigmoid": sigmoid_two_branches}, ("sigmoid_gradient_is_analytic",)))
