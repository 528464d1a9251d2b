"""Perceptron gates AND, OR, NAND and the two-layer XOR, on batches of any size and order."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from grader.compare import assert_close, call, show
from grader.messages import Message, say
from grader.outcomes import fail
from grader.properties import register
from grader.strategies import GATE_ROWS, float_dtypes, gate_inputs, gate_rows

GATES = ("AND", "OR", "NAND", "XOR")
TRUTH = {
    "AND": (0, 0, 0, 1),
    "OR": (0, 1, 1, 1),
    "NAND": (1, 1, 1, 0),
    "XOR": (0, 1, 1, 0),
}


def truth(gate: str, rows, dtype) -> torch.Tensor:
    return torch.tensor([TRUTH[gate][GATE_ROWS.index(tuple(r))] for r in rows], dtype=dtype)


def gate_call(gate: str, X: torch.Tensor) -> Message:
    """How a gate call reads in feedback: the whole X when small, its batch size otherwise."""
    return say("gate_batch", gate=gate, rows=X.shape[0]) if X.shape[0] > 4 else call(gate, show(X, 12))


def gate_answer(subject, gate: str, X: torch.Tensor) -> tuple[torch.Tensor, Message]:
    doing = gate_call(gate, X)
    return subject.call(gate, X, doing=doing).tensor(doing), doing


def _register_for(gate: str) -> None:
    table = ", ".join(str(v) for v in TRUTH[gate])

    @register(
        f"{gate}_truth_table",
        "gates",
        f"{gate} on the four rows (x1, x2) = (0,0), (1,0), (0,1), (1,1) gives {table}",
        f"{gate} 在 (x1, x2) = (0,0), (1,0), (0,1), (1,1) 四行上的输出为 {table}",
        needs=[gate],
        points=2,
        examples=4,
    )
    def truth_table(subject, data):
        dtype = data.draw(float_dtypes(), label="dtype")
        X = gate_inputs(list(GATE_ROWS), dtype)
        got, doing = gate_answer(subject, gate, X)
        assert_close(got, truth(gate, GATE_ROWS, dtype), doing, check_dtype=False, rtol=0, atol=0)

    @register(
        f"{gate}_works_on_any_batch",
        "gates",
        f"{gate}(X) is right for any n >= 1 rows, in any order, repeated, float32 or float64",
        f"{gate}(X) 对任意 n >= 1 行（任意顺序、可重复、float32 或 float64）都正确",
        needs=[gate],
        points=2,
    )
    def works_on_any_batch(subject, data):
        dtype = data.draw(float_dtypes(), label="dtype")
        rows = data.draw(gate_rows(), label="rows")
        X = gate_inputs(rows, dtype)
        got, doing = gate_answer(subject, gate, X)
        assert_close(got, truth(gate, rows, dtype), doing, check_dtype=False, rtol=0, atol=0)

    @register(
        f"{gate}_returns_float_vector_on_input_device",
        "gates",
        f"{gate}(X) returns a float tensor of shape (n,) holding only 0.0 and 1.0, on the device of X",
        f"{gate}(X) 返回形状为 (n,)、只含 0.0 和 1.0 的浮点张量，并与 X 在同一设备上",
        needs=[gate],
    )
    def returns_float_vector(subject, data):
        dtype = data.draw(float_dtypes(), label="dtype")
        rows = data.draw(gate_rows(), label="rows")
        X = gate_inputs(rows, dtype)
        doing = gate_call(gate, X)
        result = subject.call(gate, X, doing=doing)
        got = result.tensor(doing)
        if tuple(got.shape) != (len(rows),):
            raise fail("wrong_shape", doing=doing, got=tuple(got.shape), expected=(len(rows),))
        if not got.dtype.is_floating_point:
            raise fail("wrong_dtype", doing=doing, got=str(got.dtype), expected=say("a_float_dtype"))
        if not bool(((got == 0) | (got == 1)).all()):
            raise fail("not_binary", doing=doing, got=show(got, 12))
        if result.device != "cpu":
            raise fail("wrong_device", doing=doing, got=result.device, expected="cpu")

    @register(
        f"{gate}_rows_are_independent",
        "gates",
        f"row i of {gate}(X) depends on row i of X alone",
        f"{gate}(X) 的第 i 行只取决于 X 的第 i 行",
        needs=[gate],
    )
    def rows_are_independent(subject, data):
        dtype = data.draw(float_dtypes(), label="dtype")
        rows = data.draw(gate_rows(min_size=2), label="rows")
        i = data.draw(st.integers(0, len(rows) - 1), label="i")
        whole, doing = gate_answer(subject, gate, gate_inputs(rows, dtype))
        alone, alone_doing = gate_answer(subject, gate, gate_inputs([rows[i]], dtype))
        if whole.shape != (len(rows),) or alone.shape != (1,):
            raise fail("batch_shapes", doing=doing, got=tuple(whole.shape), other=alone_doing, other_got=tuple(alone.shape))
        if not torch.equal(whole[i].to(torch.float64), alone[0].to(torch.float64)):
            raise fail("row_depends_on_batch", i=i, row=rows[i], in_batch=whole[i].item(), n=len(rows), alone=alone[0].item())


for _gate in GATES:
    _register_for(_gate)
