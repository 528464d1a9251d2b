"""Hypothesis strategies for the lesson's inputs, composed from small pieces."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOAT_DTYPES = (torch.float32, torch.float64)
_NUMPY = {torch.float32: np.float32, torch.float64: np.float64}
_WIDTH = {torch.float32: 32, torch.float64: 64}
GATE_ROWS = ((0, 0), (1, 0), (0, 1), (1, 1))


@lru_cache(maxsize=None)
def float_dtypes() -> st.SearchStrategy[torch.dtype]:
    return st.sampled_from(FLOAT_DTYPES)


@lru_cache(maxsize=None)
def shapes(max_dims: int = 3, max_side: int = 5) -> st.SearchStrategy[tuple[int, ...]]:
    """Any shape, including 0-d ``()`` and empty ones such as ``(0, 3)``."""
    return hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side)


@lru_cache(maxsize=None)
def floats(dtype: torch.dtype, *, infinite: bool = False, bound: float | None = None) -> st.SearchStrategy[float]:
    return st.floats(
        width=_WIDTH[dtype],
        allow_nan=False,
        allow_infinity=infinite and bound is None,
        min_value=None if bound is None else -bound,
        max_value=bound,
        allow_subnormal=False,
    )


def landmarks(dtype: torch.dtype, *, infinite: bool = False, bound: float | None = None) -> torch.Tensor:
    """Values where wrong formulas typically break: 0, -0, small, the exp overflow points, the extremes."""
    biggest = torch.finfo(dtype).max if bound is None else bound
    values = [0.0, -0.0, 0.5, 1.0, 2.0, 20.0, 45.0, 89.0, 200.0, 710.0, 1e4, 1e30, biggest]
    values = [v for v in values if abs(v) <= biggest]
    values += [-v for v in values]
    if infinite and bound is None:
        values += [float("inf"), float("-inf")]
    return torch.tensor(values, dtype=dtype)


@lru_cache(maxsize=None)
def tensors(dtype: torch.dtype, shape=None, *, infinite: bool = False, bound: float | None = None, elements=None):
    """Float tensors of ``dtype``, any shape (0-d and empty included) unless one is given.

    The default elements mix any float with landmark values, so the overflow
    points and infinities are tried often and still shrink element by element.
    Built once per set of arguments: Hypothesis caches what it learns about a
    strategy on the strategy object, and drawing from a fresh one each time is
    several times slower.
    """
    if elements is None:
        special = st.sampled_from(landmarks(dtype, infinite=infinite, bound=bound).tolist())
        elements = st.one_of(floats(dtype, infinite=infinite, bound=bound), special)
    return hnp.arrays(_NUMPY[dtype], shape if shape is not None else shapes(), elements=elements).map(
        lambda array: torch.from_numpy(np.array(array, copy=True, order="C"))
    )


@st.composite
def float_tensors(draw, *, infinite: bool = False, bound: float | None = None, shape=None):
    dtype = draw(float_dtypes())
    return draw(tensors(dtype, shape, infinite=infinite, bound=bound))


def gate_inputs(rows: list[tuple[int, int]], dtype: torch.dtype) -> torch.Tensor:
    """The lesson's X: a column of ones (the bias input x0), then x1 and x2."""
    pairs = torch.tensor(rows, dtype=dtype).reshape(-1, 2)
    return torch.cat([torch.ones(len(rows), 1, dtype=dtype), pairs], dim=1)


@lru_cache(maxsize=None)
def gate_rows(min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[list[tuple[int, int]]]:
    """Any batch of gate rows: any order, repeats, any size n >= 1."""
    return st.lists(st.sampled_from(GATE_ROWS), min_size=min_size, max_size=max_size)


@lru_cache(maxsize=None)
def sizes(low: int = 1, high: int = 6) -> st.SearchStrategy[int]:
    return st.integers(low, high)


# Above 256, CPython makes a new int object for each equal value: a layer-size check written with
# `is not` instead of `!=` refuses a valid stack only when some hidden layer is that wide.
WIDE_LAYER = (257, 320)


@st.composite
def linear_stacks(draw, dtype: torch.dtype | None = None):
    """Weights for a stack of ``nn.Linear`` layers: depth, widths and bias on/off drawn.

    Widths are small, but a stack of two or more layers may get one hidden layer wider
    than 256 (its outgoing weights scaled by 1/sqrt(width), so float32 keeps its accuracy).
    """
    dtype = dtype or draw(float_dtypes())
    depth = draw(st.integers(1, 4))
    widths = [draw(sizes(1, 5)) for _ in range(depth + 1)]
    if depth > 1 and draw(st.booleans()):
        widths[draw(st.integers(1, depth - 1))] = draw(st.integers(*WIDE_LAYER))
    seed = draw(st.integers(0, 2**16))
    generator = torch.Generator().manual_seed(seed)
    layers = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        scale = 1.0 if fan_in < WIDE_LAYER[0] else fan_in ** -0.5
        weight = ((torch.rand(fan_out, fan_in, generator=generator, dtype=torch.float64) * 2 - 1) * scale).to(dtype)
        bias = (torch.rand(fan_out, generator=generator, dtype=torch.float64) * 2 - 1).to(dtype) if draw(st.booleans()) else None
        layers.append({"weight": weight, "bias": bias})
    return layers


@lru_cache(maxsize=None)
def seeds() -> st.SearchStrategy[int]:
    return st.integers(0, 2**16)


def random_tensor(shape, seed: int, dtype=torch.float32, scale: float = 1.0) -> torch.Tensor:
    """Reproducible inputs for models: uniform in [-scale, scale]."""
    generator = torch.Generator().manual_seed(seed)
    return ((torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * scale).to(dtype)
