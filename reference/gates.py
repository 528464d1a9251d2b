"""Logic gates as single-layer perceptrons, and XOR as a two-layer network.

A gate takes ``X`` of shape ``(n, 3)``: column 0 is the constant bias input
``x0 = 1``, columns 1 and 2 are the 0/1 inputs ``x1, x2``.  A perceptron
computes ``z = X @ w`` and outputs ``step(z)``; the weight vector fixes the
decision line ``w0 + w1*x1 + w2*x2 = 0``.  No single line separates the XOR
classes, so XOR needs a hidden layer: ``XOR = AND(NAND, OR)``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from .activations import step

__all__ = [
    "AND_WEIGHTS",
    "OR_WEIGHTS",
    "NAND_WEIGHTS",
    "perceptron",
    "AND",
    "OR",
    "NAND",
    "XOR",
]

# (bias w0, w1, w2) from the lesson.  Only the sign of z matters, and on the
# four 0/1 inputs none of these weights gives z == 0 exactly, so the result
# is the same in float32 and float64.
AND_WEIGHTS: tuple[float, float, float] = (-0.2, 0.15, 0.15)
OR_WEIGHTS: tuple[float, float, float] = (-0.08, 0.15, 0.15)
NAND_WEIGHTS: tuple[float, float, float] = (0.23, -0.15, -0.15)


def perceptron(
    X: Tensor,
    w: Sequence[float] | Tensor,
    activation: Callable[[Tensor], Tensor] = step,
) -> Tensor:
    """One neuron applied to every row of ``X``: ``activation(X @ w)``.

    ``w`` is built with ``X``'s dtype and device, so the gate follows its
    input (float32 or float64, CPU, GPU or ``meta``) and never creates a
    tensor on a fixed device.  Returns shape ``(n,)``; row ``i`` depends only
    on row ``i`` of ``X``.
    """
    w_t = torch.as_tensor(w, dtype=X.dtype, device=X.device)
    return activation(X @ w_t)


def AND(X: Tensor) -> Tensor:
    """1 only where x1 = x2 = 1 (truth table 0, 0, 0, 1)."""
    return perceptron(X, AND_WEIGHTS)


def OR(X: Tensor) -> Tensor:
    """1 where x1 = 1 or x2 = 1 (truth table 0, 1, 1, 1)."""
    return perceptron(X, OR_WEIGHTS)


def NAND(X: Tensor) -> Tensor:
    """NOT AND: 0 only where x1 = x2 = 1 (truth table 1, 1, 1, 0)."""
    return perceptron(X, NAND_WEIGHTS)


def XOR(X: Tensor) -> Tensor:
    """Exclusive or (truth table 0, 1, 1, 0) as a two-layer network.

    The hidden layer holds two perceptrons, NAND and OR; their outputs plus a
    fresh bias column of ones form the input of the output perceptron, AND.
    XOR is true exactly where both NAND and OR are true.  Works for any
    number of rows because the bias column is shaped from the hidden outputs.
    """
    h_nand = NAND(X)
    h_or = OR(X)
    hidden = torch.stack([torch.ones_like(h_nand), h_nand, h_or], dim=1)
    return AND(hidden)
