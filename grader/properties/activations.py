"""Activation functions: step, sigmoid, tanh and ReLU, checked against their definitions and laws.

Every fact is checked in float32, the lesson's dtype; float64 is a fact of its own
(``*_works_in_float64``), so code that only breaks in float64 loses only that.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from grader.compare import assert_close, assert_finite_where_finite, call, show, show_value, tolerance
from grader.messages import say
from grader.outcomes import PropertyFailure, StudentError, fail
from grader.properties import register
from grader.strategies import landmarks, tensors

ACTIVATIONS = ("step", "sigmoid", "tanh", "relu")
LESSON_DTYPE = torch.float32
INFINITIES = torch.tensor([float("-inf"), float("inf")])

# The definitions, evaluated in float64 by PyTorch itself (which also fixes the values at +-inf).
DEFINITIONS = {
    "step": lambda z: (z >= 0).to(z.dtype),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
}
DERIVATIVES = {
    "sigmoid": lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)),
    "tanh": lambda z: 1 - torch.tanh(z) ** 2,
    "relu": lambda z: (z > 0).to(z.dtype),
}
BOUNDS = {"step": (0.0, 1.0), "sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, float("inf"))}
# Gradients are checked wherever the lesson's own formulas keep finite
# intermediate values: 1 / (1 + exp(-z)) has a NaN gradient below z = -88.7
# (float32), and tanh as 2 sigmoid(2z) - 1 below half that. Above 0 there is
# no such excuse, which is where a torch.where with an exp(z) branch breaks.
GRADIENT_RANGE = {
    "sigmoid": {torch.float32: (-80.0, 1e4), torch.float64: (-700.0, 1e5)},
    "tanh": {torch.float32: (-40.0, 1e4), torch.float64: (-350.0, 1e5)},
    "relu": {torch.float32: (-1e4, 1e4), torch.float64: (-1e5, 1e5)},
}


def expected(name: str, z: torch.Tensor) -> torch.Tensor:
    return DEFINITIONS[name](z.to(torch.float64)).to(z.dtype)


def answer(subject, name: str, z: torch.Tensor) -> torch.Tensor:
    doing = call(name, show(z))
    return subject.call(name, z, doing=doing).tensor(doing)


def draw_z(data, *, infinite: bool = False, dtype: torch.dtype = LESSON_DTYPE) -> torch.Tensor:
    """Any tensor of ``dtype``, any shape, extremes (and +-inf when asked) included."""
    return data.draw(tensors(dtype, infinite=infinite), label="z")


def _register_for(name: str) -> None:
    @register(
        f"{name}_matches_definition",
        "activations",
        f"{name}(z) equals its definition elementwise for float32 tensors of any shape, +-inf included",
        f"对任意形状的 float32 张量（包括 +-inf），{name}(z) 逐元素等于定义",
        needs=[name],
        points=2,
    )
    def matches_definition(subject, data):
        z = draw_z(data, infinite=True)
        got = answer(subject, name, z)
        assert_close(got, expected(name, z), call(name, show(z)), inputs=z, check_dtype=False)

    @register(
        f"{name}_keeps_shape_dtype_and_device",
        "activations",
        f"{name}(z) returns a new tensor with the shape, dtype and device of z (float32 z)",
        f"{name}(z) 返回与 z 形状、dtype、设备都相同的新张量（float32 的 z）",
        needs=[name],
    )
    def keeps_shape_dtype_and_device(subject, data):
        z = draw_z(data)
        result = subject.call(name, z, doing=f"{name}(z)")
        got = result.tensor(call(name, show(z)))
        doing = call(name, show(z))
        if tuple(got.shape) != tuple(z.shape):
            raise fail("wrong_shape", doing=doing, got=tuple(got.shape), expected=tuple(z.shape))
        if got.dtype != z.dtype:
            raise fail("wrong_dtype", doing=doing, got=str(got.dtype), expected=str(z.dtype))
        if result.device != "cpu":
            raise fail("wrong_device", doing=doing, got=result.device, expected="cpu")

    @register(
        f"{name}_works_in_float64",
        "activations",
        f"{name}(z) works in float64 too: it returns float64 and agrees with its own float32 answer",
        f"{name}(z) 同样适用于 float64：返回 float64，且与它自己在 float32 下的结果一致",
        needs=[name],
    )
    def works_in_float64(subject, data):
        """Only the dtype is at stake here: the float64 answer is compared with the student's own float32
        answer where that one is a finite number, so a wrong formula, a crash or an overflow in float32
        costs the float32 properties, not this one."""
        narrow = draw_z(data, infinite=True)
        try:
            own = answer(subject, name, narrow).to(torch.float64)
        except (StudentError, PropertyFailure) as error:
            if getattr(error, "not_implemented", False):
                raise  # a stub has no float32 answer to agree with: it earns nothing here
            return
        wide = narrow.to(torch.float64)
        doing = call(name, show(wide))
        got = answer(subject, name, wide)
        if got.dtype != wide.dtype:
            raise fail("wrong_dtype", doing=doing, got=str(got.dtype), expected=str(wide.dtype))
        if got.shape != own.shape:
            raise fail("batch_shapes", doing=doing, got=tuple(got.shape), other=call(name, show(narrow)), other_got=tuple(own.shape))
        known = torch.isfinite(own)
        rtol, atol = tolerance(torch.float32)
        assert_close(got[known], own[known], say("against", got=doing, expected=call(name, show(narrow))),
                     inputs=wide[known] if wide.shape == own.shape else None, check_dtype=False, rtol=rtol, atol=atol)

    @register(
        f"{name}_does_not_mutate_input",
        "activations",
        f"{name}(z) leaves z unchanged",
        f"{name}(z) 不修改输入 z",
        needs=[name],
    )
    def does_not_mutate_input(subject, data):
        z = draw_z(data, infinite=True)
        _, (after,) = subject.call_keeping_args(name, z.clone(), doing=f"{name}(z)")
        after = after.tensor(say("after", what="z", doing=f"{name}(z)"))
        if not torch.equal(after, z):
            raise fail("mutated", doing=call(name, show(z)), name="z", after=show(after))

    @register(
        f"{name}_is_finite_on_finite_input",
        "activations",
        f"{name}(z) has no NaN or overflow for any finite z, however large",
        f"对任意有限的 z（无论多大），{name}(z) 都不会出现 NaN 或溢出",
        needs=[name],
    )
    def is_finite_on_finite_input(subject, data):
        """The landmarks (exp's overflow points, 1e30, the largest float32) first, every time, then a drawn z:
        an overflow is found whatever the example budget."""
        for z in (landmarks(LESSON_DTYPE), draw_z(data)):
            got = answer(subject, name, z)
            if got.shape != z.shape:
                raise fail("wrong_shape", doing=call(name, show(z)), got=tuple(got.shape), expected=tuple(z.shape))
            assert_finite_where_finite(got, z, call(name, show(z)))

    @register(
        f"{name}_is_elementwise",
        "activations",
        f"{name} acts on each element alone: {name}(cat(a, b)) = cat({name}(a), {name}(b))",
        f"{name} 逐元素作用：{name}(cat(a, b)) = cat({name}(a), {name}(b))",
        needs=[name],
    )
    def is_elementwise(subject, data):
        a = data.draw(tensors(LESSON_DTYPE, st.tuples(st.integers(1, 6)), bound=50.0), label="a")
        b = data.draw(tensors(LESSON_DTYPE, st.tuples(st.integers(1, 6)), bound=50.0), label="b")
        pieces = []
        for piece in (torch.cat([a, b]), a, b):
            got = answer(subject, name, piece)
            if got.shape != piece.shape:
                raise fail("wrong_shape", doing=call(name, show(piece)), got=tuple(got.shape), expected=tuple(piece.shape))
            pieces.append(got)
        whole, parts = pieces[0], torch.cat(pieces[1:])
        assert_close(whole, parts, say("against", got=f"{name}(cat(a, b))", expected=f"cat({name}(a), {name}(b))"), inputs=torch.cat([a, b]), rtol=0, atol=0)

    low, high = BOUNDS[name]

    @register(
        f"{name}_is_bounded",
        "activations",
        f"{name}(z) stays within [{show_value(low)}, {show_value(high)}]",
        f"{name}(z) 的值始终在 [{show_value(low)}, {show_value(high)}] 之内",
        needs=[name],
    )
    def is_bounded(subject, data):
        z = draw_z(data, infinite=True)
        got = answer(subject, name, z)
        outside = (got < low) | (got > high) | torch.isnan(got)
        if name == "step":
            outside |= (got != 0) & (got != 1)
        if bool(outside.any()):
            i = int(torch.nonzero(outside.reshape(-1))[0])
            raise fail("law", law=f"{low} <= {name}(z) <= {high}", detail=f"{name}({show_value(z.reshape(-1)[i])}) = {show_value(got.reshape(-1)[i])}")

    @register(
        f"{name}_is_monotone",
        "activations",
        f"{name} never decreases: z1 <= z2 implies {name}(z1) <= {name}(z2), from -inf to +inf",
        f"{name} 单调不减：z1 <= z2 时 {name}(z1) <= {name}(z2)，从 -inf 到 +inf",
        needs=[name],
    )
    def is_monotone(subject, data):
        drawn = data.draw(tensors(LESSON_DTYPE, st.tuples(st.integers(0, 10)), infinite=True), label="z")
        z = torch.cat([drawn, INFINITIES.to(LESSON_DTYPE)]).sort().values
        got = answer(subject, name, z)
        if got.shape != z.shape:
            raise fail("wrong_shape", doing=call(name, show(z)), got=tuple(got.shape), expected=tuple(z.shape))
        drops = torch.nonzero(~(got[1:] >= got[:-1])).reshape(-1)
        if len(drops):
            i = int(drops[0])
            raise fail("not_monotone", name=name,
                       detail=f"{name}({show_value(z[i])}) = {show_value(got[i])} > {name}({show_value(z[i + 1])}) = {show_value(got[i + 1])}")

    if name in DERIVATIVES:

        @register(
            f"{name}_gradient_is_analytic",
            "activations",
            f"autograd through {name} gives its analytic derivative, at 0 and at large |z| too ({GRADIENT_RANGE[name][torch.float32][0]:g} <= z <= {GRADIENT_RANGE[name][torch.float32][1]:g} in float32)"
            + (" (z != 0)" if name == "relu" else ""),
            f"通过 autograd 求得的 {name} 梯度等于解析导数，包括 0 处和 |z| 很大时（float32 下 {GRADIENT_RANGE[name][torch.float32][0]:g} <= z <= {GRADIENT_RANGE[name][torch.float32][1]:g}）"
            + ("（z != 0）" if name == "relu" else ""),
            needs=[name],
            points=2,
        )
        def gradient_is_analytic(subject, data):
            dtype = LESSON_DTYPE
            low, high = GRADIENT_RANGE[name][dtype]
            elements = st.floats(low, high, width=32 if dtype == torch.float32 else 64, allow_subnormal=False)
            if name == "relu":
                elements = elements.filter(lambda v: v != 0)
            z = data.draw(tensors(dtype, st.tuples(st.integers(1, 6)), elements=elements), label="z")
            doing = say("backward", call=call(name, show(z)))
            _, grad = subject.grad(name, z, doing=doing)
            if grad is None:
                raise fail("no_grad", doing=f"{name}(z)")
            got = grad.tensor(say("after", what="z.grad", doing=doing))
            want = DERIVATIVES[name](z.to(torch.float64)).to(dtype)
            assert_close(got, want, say("after", what="z.grad", doing=doing), inputs=z, check_dtype=False)


for _name in ACTIVATIONS:
    _register_for(_name)


@register("step_of_zero_is_one", "activations", "step(0) is 1: the step is 1 wherever z >= 0", "step(0) 等于 1：只要 z >= 0，阶跃函数就是 1", needs=["step"])
def step_of_zero_is_one(subject, data):
    dtype = LESSON_DTYPE
    for z in (torch.zeros((), dtype=dtype), torch.tensor([0.0, -0.0, 1e-30, -1e-30], dtype=dtype)):
        got = answer(subject, "step", z)
        assert_close(got, expected("step", z), call("step", show(z)), inputs=z, check_dtype=False)


def _law(pid, statement, zh, needs, bound, lhs, rhs, law):
    @register(pid, "activations", statement, zh, needs=needs)
    def check(subject, data):
        dtype = LESSON_DTYPE
        z = data.draw(tensors(dtype, st.tuples(st.integers(1, 8)), bound=bound), label="z")
        def f(name, t):
            return answer(subject, name, t).to(torch.float64)
        left, right = lhs(f, z), rhs(f, z)
        assert_close(left, right, say("law_with_z", law=law, z=show(z)), inputs=z, check_dtype=False, rtol=0, atol=10 * 2 ** -23 if dtype == torch.float32 else 1e-12)


_law("sigmoid_is_symmetric", "sigmoid(-z) = 1 - sigmoid(z)", "sigmoid(-z) = 1 - sigmoid(z)", ["sigmoid"], None,
     lambda f, z: f("sigmoid", -z), lambda f, z: 1 - f("sigmoid", z), "sigmoid(-z) = 1 - sigmoid(z)")
_law("tanh_is_odd", "tanh is odd: tanh(-z) = -tanh(z)", "tanh 是奇函数：tanh(-z) = -tanh(z)", ["tanh"], None,
     lambda f, z: f("tanh", -z), lambda f, z: -f("tanh", z), "tanh(-z) = -tanh(z)")
_law("tanh_is_rescaled_sigmoid", "tanh(z) = 2 sigmoid(2z) - 1", "tanh(z) = 2 sigmoid(2z) - 1", ["tanh", "sigmoid"], 1e4,
     lambda f, z: f("tanh", z), lambda f, z: 2 * f("sigmoid", 2 * z) - 1, "tanh(z) = 2 sigmoid(2z) - 1")
_law("relu_splits_identity", "relu(z) - relu(-z) = z", "relu(z) - relu(-z) = z", ["relu"], None,
     lambda f, z: f("relu", z) - f("relu", -z), lambda f, z: z.to(torch.float64), "relu(z) - relu(-z) = z")
