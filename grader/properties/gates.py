"""Perceptron gates AND, OR, NAND and the two-layer XOR.

Each fact is checked first on the lesson's own inputs: four rows of X in float32 on the CPU
(the lesson builds its weights in float32 inside the gate and its XOR stacks four rows).
Other batch sizes and float64 are the fact of ``*_works_on_any_batch``; other devices that of
the device properties. A gate written exactly as the lesson writes it loses only those.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from grader.compare import assert_close, call, show
from grader.messages import Message, say
from grader.outcomes import fail
from grader.properties import register
from grader.strategies import GATE_ROWS, float_dtypes, gate_inputs, gate_rows

LESSON_DTYPE = torch.float32
LESSON_BATCH = len(GATE_ROWS)

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
    four_rows = gate_rows(LESSON_BATCH, LESSON_BATCH)

    @register(
        f"{gate}_truth_table",
        "gates",
        f"{gate} on the lesson's four rows (x1, x2) = (0,0), (1,0), (0,1), (1,1), float32 on the CPU, gives {table}",
        f"{gate} 在课程的四行 (x1, x2) = (0,0), (1,0), (0,1), (1,1)（float32，CPU）上的输出为 {table}",
        needs=[gate],
        points=2,
        examples=1,
    )
    def truth_table(subject, data):
        X = gate_inputs(list(GATE_ROWS), LESSON_DTYPE)
        got, doing = gate_answer(subject, gate, X)
        assert_close(got, truth(gate, GATE_ROWS, LESSON_DTYPE), doing, check_dtype=False, rtol=0, atol=0)

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
        f"{gate}(X) returns a float tensor of shape (n,) holding only 0.0 and 1.0, on the device of X (four float32 rows, any order)",
        f"{gate}(X) 返回形状为 (n,)、只含 0.0 和 1.0 的浮点张量，并与 X 在同一设备上（四行 float32，任意顺序）",
        needs=[gate],
    )
    def returns_float_vector(subject, data):
        rows = data.draw(four_rows, label="rows")
        X = gate_inputs(rows, LESSON_DTYPE)
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
        f"row i of {gate}(X) depends on row i of X alone: the same row among other rows gives the same answer (four float32 rows)",
        f"{gate}(X) 的第 i 行只取决于 X 的第 i 行：同一行放在别的行中间，结果不变（四行 float32）",
        needs=[gate],
    )
    def rows_are_independent(subject, data):
        rows = data.draw(four_rows, label="rows")
        others = data.draw(four_rows, label="other rows")
        i = data.draw(st.integers(0, LESSON_BATCH - 1), label="i")
        j = data.draw(st.integers(0, LESSON_BATCH - 1), label="j")
        others = [rows[i] if k == j else row for k, row in enumerate(others)]
        first, doing = gate_answer(subject, gate, gate_inputs(rows, LESSON_DTYPE))
        second, other_doing = gate_answer(subject, gate, gate_inputs(others, LESSON_DTYPE))
        if first.shape != (LESSON_BATCH,) or second.shape != (LESSON_BATCH,):
            raise fail("batch_shapes", doing=doing, got=tuple(first.shape), other=other_doing, other_got=tuple(second.shape))
        if not torch.equal(first[i].to(torch.float64), second[j].to(torch.float64)):
            raise fail("row_depends_on_rows", row=rows[i], i=i, rows=rows, got=first[i].item(), j=j, others=others, other_got=second[j].item())


for _gate in GATES:
    _register_for(_gate)
