"""Tensor comparison in the spirit of ``torch.testing.assert_close``.

Tolerances follow the dtype that was asked for; a mismatch names the worst
element, the input there when one is given, and how many elements are off.
"""

from __future__ import annotations

import torch

from grader.messages import Message, say
from grader.outcomes import fail

# (rtol, atol) as torch.testing.assert_close uses them
TOLERANCES = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
}


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    return TOLERANCES.get(dtype, (0.0, 0.0))


def show(t: torch.Tensor, limit: int = 8) -> str | Message:
    """A tensor as a student would type it when small (code), by dtype and shape otherwise (a message)."""
    if t.device.type == "meta":
        return say("meta_tensor", shape=tuple(t.shape))
    if t.numel() <= limit:
        values = t.tolist()
        suffix = "" if t.dtype == torch.float32 else f", dtype={str(t.dtype).removeprefix('torch.')}"
        return f"tensor({values!r}{suffix})"
    return say("tensor_of_shape", dtype=str(t.dtype).removeprefix("torch."), shape=tuple(t.shape))


def call(name: str, args) -> Message:
    """``name(args)`` as feedback shows a call; ``args`` may be code or a message such as ``show``'s."""
    return say("call", name=name, args=args)


def show_value(x) -> str:
    return repr(float(x)) if not isinstance(x, bool) else repr(x)


def index_of(flat_index: int, shape) -> tuple:
    if not shape:
        return ()
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(flat_index), tuple(shape)))


def expect_shape(got: torch.Tensor, shape, doing: str | Message) -> None:
    if tuple(got.shape) != tuple(shape):
        raise fail("wrong_shape", doing=doing, got=tuple(got.shape), expected=tuple(shape))


def expect_dtype(got: torch.Tensor, dtype: torch.dtype, doing: str | Message) -> None:
    if got.dtype != dtype:
        raise fail("wrong_dtype", doing=doing, got=str(got.dtype), expected=str(dtype))


def assert_close(
    got: torch.Tensor,
    expected: torch.Tensor,
    doing: str | Message,
    *,
    inputs: torch.Tensor | None = None,
    input_name: str = "z",
    rtol: float | None = None,
    atol: float | None = None,
    check_dtype: bool = True,
) -> None:
    """Same shape, same dtype (or, with ``check_dtype=False``, both real or both complex), and every
    element within ``atol + rtol * |expected|``.

    NaN is only accepted where NaN is expected; infinities must match exactly.
    ``inputs`` (same shape as ``expected``) lets the message show the input at
    the worst element, as in "at index (2,) where z = 0.0".
    """
    expect_shape(got, expected.shape, doing)
    if check_dtype or got.is_complex() != expected.is_complex():  # a complex answer is never a real one with a tolerance
        expect_dtype(got, expected.dtype, doing)
    default_rtol, default_atol = tolerance(expected.dtype if check_dtype else got.dtype)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    if got.numel() == 0:
        return
    a = got.detach().to(torch.float64).reshape(-1)
    b = expected.detach().to(torch.float64).reshape(-1)
    close = torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return
    excess = torch.where(close, torch.zeros_like(a), ((a - b).abs() - (atol + rtol * b.abs())).nan_to_num(nan=float("inf"), posinf=float("inf")))
    worst = int(torch.argmax(excess))
    index = index_of(worst, expected.shape)
    where = ""
    if inputs is not None and inputs.numel() == expected.numel():
        where = say("where_input", name=input_name, value=show_value(inputs.reshape(-1)[worst]))
    raise fail(
        "values_differ",
        doing=doing,
        index=index,
        input=where,
        got=show_value(a[worst]),
        expected=show_value(b[worst]),
        count=int((~close).sum()),
        total=a.numel(),
        tolerance=say("tolerance", atol=f"{atol:.1e}", rtol=f"{rtol:.1e}"),
    )


def assert_finite_where_finite(got: torch.Tensor, inputs: torch.Tensor, doing: str | Message, input_name: str = "z") -> None:
    bad = (~torch.isfinite(got.reshape(-1).to(torch.float64))) & torch.isfinite(inputs.reshape(-1).to(torch.float64))
    if bool(bad.any()):
        worst = int(torch.nonzero(bad)[0])
        raise fail(
            "not_finite",
            doing=doing,
            index=index_of(worst, inputs.shape),
            input=say("where_input", name=input_name, value=show_value(inputs.reshape(-1)[worst])),
            got=show_value(got.reshape(-1)[worst]),
        )
