"""The lesson's data sets: gate truth tables, XOR points and the "flower"."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "GATE_INPUTS",
    "TRUTH_TABLES",
    "gate_inputs",
    "xor_points",
    "flower",
]

#: The four input rows (x0, x1, x2) in the lesson's order; x0 = 1 is the bias.
GATE_INPUTS: Tensor = torch.tensor(
    [[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]], dtype=torch.float32
)

#: Expected gate outputs on the rows of ``GATE_INPUTS``.
TRUTH_TABLES: dict[str, tuple[int, int, int, int]] = {
    "AND": (0, 0, 0, 1),
    "OR": (0, 1, 1, 1),
    "NAND": (1, 1, 1, 0),
    "XOR": (0, 1, 1, 0),
}


def gate_inputs(
    rows: Sequence[Sequence[float]],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Build a gate input ``X`` of shape ``(n, 3)`` from ``(x1, x2)`` pairs by
    prepending the constant bias column ``x0 = 1``."""
    pairs = torch.as_tensor(rows, dtype=dtype, device=device).reshape(-1, 2)
    ones = torch.ones(pairs.shape[0], 1, dtype=dtype, device=device)
    return torch.cat([ones, pairs], dim=1)


def xor_points(
    dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> tuple[Tensor, Tensor]:
    """XOR as a training set for a network with its own bias terms:
    inputs ``(x1, x2)`` of shape ``(4, 2)`` and labels of shape ``(4, 1)``."""
    x = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=dtype, device=device)
    y = torch.tensor([[0], [1], [1], [0]], dtype=dtype, device=device)
    return x, y


def flower(seed: int = 1, m: int = 400) -> tuple[Tensor, Tensor]:
    """The two-class "flower" (each class is two petals of a rose curve).

    Reproduces the lesson's ``np.random.seed(seed)`` recipe draw for draw,
    using a private ``RandomState`` so numpy's global state is left alone
    (the legacy global functions draw from exactly such a generator).  For
    each class ``j`` in order: angles ``t`` on ``[3.12 j, 3.12 (j+1)]`` plus
    noise, then radii ``r = 4 sin(4t)`` plus noise, points
    ``(r sin t, r cos t)``.  Returns float32 ``x`` of shape ``(m, 2)`` and
    float32 0/1 labels ``y`` of shape ``(m, 1)``.  As in the lesson, with an
    odd ``m`` the last row is left at ``(0, 0)`` with label 0.
    """
    rng = np.random.RandomState(seed)
    n_per_class = m // 2
    radius_scale = 4
    x = np.zeros((m, 2))
    y = np.zeros((m, 1), dtype="uint8")
    for j in range(2):
        rows = slice(n_per_class * j, n_per_class * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, n_per_class) + rng.randn(n_per_class) * 0.2
        r = radius_scale * np.sin(4 * t) + rng.randn(n_per_class) * 0.2
        x[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = j
    return torch.from_numpy(x).float(), torch.from_numpy(y).float()
