"""XOR: no single perceptron computes it; a hidden layer with an activation learns it.

Training is fair and deterministic: every subject's module_net starts from the
same initial weights, loaded by parameter name (so the order in which layers
were constructed does not matter), and is trained by propgrade's fixed loop.
The subject's outcome must match the reference's from the same start.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

import torch.nn.functional as F

from grader.messages import say
from grader.outcomes import fail
from grader.properties import register
from grader.properties.common import module_net_shapes
from grader.store import remembered
from grader.strategies import gate_inputs, GATE_ROWS
from reference.data import xor_points
from reference.experiments import XOR_EPOCHS, XOR_LR, initial_state, xor_training_outcome

XOR_LABELS = (0, 1, 1, 0)
# The reference's outcome for a (hidden size, seed): the same for every submission, trained once per process.
reference_learns_xor = remembered(xor_training_outcome)


@register("xor_is_not_linearly_separable", "xor",
          "no single perceptron step(b + w1 x1 + w2 x2) reproduces XOR, whatever w1, w2, b (the lesson's four rows, float32)",
          "无论 w1、w2、b 取何值，单个感知机 step(b + w1 x1 + w2 x2) 都无法复现异或（课程的四行，float32）",
          needs=["step", "XOR"])
def xor_is_not_linearly_separable(subject, data):
    """Proof: XOR(0,0)=0 needs b < 0; XOR(1,0)=XOR(0,1)=1 need w1 + b >= 0 and w2 + b >= 0;
    adding those, w1 + w2 + b >= -b > 0, so the perceptron says 1 at (1,1) where XOR says 0.
    Here the subject's own step and XOR face drawn weights: the two must always disagree somewhere."""
    weight = st.floats(-10, 10, allow_nan=False, width=32)
    b, w1, w2 = data.draw(weight, label="b"), data.draw(weight, label="w1"), data.draw(weight, label="w2")
    X = gate_inputs(list(GATE_ROWS), torch.float32)  # the lesson's four rows, in the lesson's dtype
    perceptron = subject.call("step", X @ torch.tensor([b, w1, w2], dtype=torch.float32), doing="step(X @ w)").tensor("step(X @ w)")
    xor = subject.call("XOR", X, doing="XOR(X)").tensor("XOR(X)")
    if xor.tolist() != list(map(float, XOR_LABELS)):
        raise fail("xor_rows", got=xor.tolist(), expected=list(XOR_LABELS))
    if perceptron.tolist() == xor.tolist():
        raise fail("perceptron_is_xor", b=b, w1=w1, w2=w2, got=perceptron.tolist())


def drawn_rows(data) -> tuple[tuple[int, ...], list[int]]:
    """XOR's rows in a drawn order to train on, and drawn rows (every one, some repeated, shuffled) to answer:
    a forward that recognises the four points in the lesson's order gains nothing."""
    order = tuple(data.draw(st.permutations(range(4)), label="training order"))
    extra = data.draw(st.lists(st.integers(0, 3), min_size=0, max_size=4), label="repeated rows")
    asked = data.draw(st.permutations([0, 1, 2, 3, *extra]), label="rows asked")
    return order, list(asked)


def trained_predictions(subject, hidden: int, seed: int, factor: float | None = None,
                        order: tuple[int, ...] = (0, 1, 2, 3), asked: list[int] | None = None) -> list[float]:
    """module_net(2, hidden, 1) from the reference's initial weights, trained on XOR; with ``factor``, its layer2
    is first replaced by a grader-made layer computing ``factor * x`` (a probe of a fresh kind, see
    ``Executor.op_replace``), and its forward is checked against the formula before training, so that the
    replaced layer is known to be the one the forward goes through."""
    model = subject.new("module_net", 2, hidden, 1)
    doing = f"module_net(2, {hidden}, 1)"
    if factor is not None:
        subject.replace_with_scaled_identity(model, "layer2", factor)
        doing = say("with_scaled_identity", model=doing, layer="layer2", factor=factor)
    state = initial_state(module_net_shapes(2, hidden, 1), seed)
    subject.load_state_dict(model, state, say("load_state_dict", model=doing, weights=say("initial_weights")))
    x, y = xor_points()
    asked = list(range(4)) if asked is None else asked
    x, y, questions = x[list(order)], y[list(order)], x[asked]
    if factor is not None:
        applied = say("applied_to_x", model=doing)
        d = {name: tensor.to(torch.float64) for name, tensor in state.items()}
        hidden_out = factor * F.linear(x.to(torch.float64), d["layer1.weight"], d["layer1.bias"])
        got = subject.forward(model, x, applied).tensor(applied)
        expected = F.linear(hidden_out, d["layer3.weight"], d["layer3.bias"])
        if got.shape != expected.shape or not torch.allclose(got.to(torch.float64), expected, rtol=1e-4, atol=1e-5):
            raise fail("forward_skips_replaced_layer", model=f"module_net(2, {hidden}, 1)", layer="layer2", factor=factor,
                       got=got.reshape(-1).tolist(), expected=[round(v, 6) for v in expected.reshape(-1).tolist()])
    subject.fit(model, x, y, XOR_EPOCHS, XOR_LR, say("training_on_xor", model=doing))
    applied = say("applied_to_x", model=doing)
    out = subject.forward(model, questions, applied).tensor(applied)
    if out.shape != (len(asked), 1):
        raise fail("wrong_shape", doing=applied, got=tuple(out.shape), expected=(len(asked), 1))
    return (out.reshape(-1) > 0).to(torch.float32).tolist()


@register("module_net_learns_xor", "xor",
          "module_net(2, h, 1) trained from the reference's initial weights learns XOR (4/4) whenever the reference does, for h >= 2",
          "从与参考实现相同的初始权重开始训练，只要参考实现学会了异或（4/4），module_net(2, h, 1) 也能学会（h >= 2）",
          needs=["module_net"], points=3, examples=4)
def module_net_learns_xor(subject, data):
    hidden, seed = data.draw(st.integers(2, 6), label="h"), data.draw(st.integers(0, 7), label="seed")
    order, asked = drawn_rows(data)
    if not reference_learns_xor(hidden, seed, order=order):
        seed = next(s for s in range(100) if reference_learns_xor(hidden, s, order=order))
    got = trained_predictions(subject, hidden, seed, order=order, asked=asked)
    expected = [float(XOR_LABELS[row]) for row in asked]
    if got != expected:
        rows = [tuple(int(v) for v in point) for point in xor_points()[0][asked].tolist()]
        raise fail("xor_not_learned", hidden=hidden, seed=seed, got=got, expected=expected, rows=rows)


@register("xor_needs_hidden_activation", "xor",
          "module_net(2, h, 1) with a linear layer (c * x) in place of its Tanh computes layer3(c * layer1(x)) and never learns XOR: layer2 matters",
          "把 module_net(2, h, 1) 中的 Tanh 换成线性层（c * x）后，它计算 layer3(c * layer1(x))，永远学不会异或：layer2 是关键",
          needs=["module_net"], points=2, examples=3)
def xor_needs_hidden_activation(subject, data):
    hidden, seed = data.draw(st.integers(2, 6), label="h"), data.draw(st.integers(0, 7), label="seed")
    factor = data.draw(st.sampled_from([0.5, 0.75, 1.25, 1.5, 2.0]), label="c")
    order, asked = drawn_rows(data)
    got = trained_predictions(subject, hidden, seed, factor, order=order, asked=asked)
    if got == [float(XOR_LABELS[row]) for row in asked]:
        raise fail("xor_with_scaled_layer2", hidden=hidden, factor=factor)
