"""Elementwise activation functions of the lesson.

Every function takes one float tensor and returns a *new* tensor with the same
shape, dtype and device; the input is never modified.  They only call tensor
operations (no Python loops, no ``.item()``), so they work on 0-d and empty
tensors, on any device (including ``meta``) and inside autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["step", "sigmoid", "tanh", "relu", "identity"]


def step(z: Tensor) -> Tensor:
    """Binary step: 1.0 where ``z >= 0``, else 0.0 (so ``step(0) == 1``).

    This is the perceptron's decision rule: the sign of ``z`` says on which
    side of the line ``z = 0`` a point lies.  ``ones_like``/``zeros_like``
    keep the input's dtype and device; ``torch.where`` with Python scalars
    would fall back to the default dtype.  NaN compares false, so it maps to 0.
    """
    return torch.where(z >= 0, torch.ones_like(z), torch.zeros_like(z))


def sigmoid(z: Tensor) -> Tensor:
    """Logistic function ``1 / (1 + exp(-z))``.

    Written literally, ``exp(-z)`` overflows to ``inf`` for very negative ``z``
    and its gradient becomes ``inf / inf = NaN``.  ``torch.sigmoid`` evaluates
    the same function in a form that never overflows, so values and gradients
    are finite for every finite input (the gradient at ``|z| = 1000`` is 0).
    """
    return torch.sigmoid(z)


def tanh(z: Tensor) -> Tensor:
    """Hyperbolic tangent ``(e^z - e^-z) / (e^z + e^-z) = 2 * sigmoid(2z) - 1``.

    A zero-centred, rescaled sigmoid with range (-1, 1).  The library kernel
    is used for the same overflow reason as in :func:`sigmoid`.
    """
    return torch.tanh(z)


def relu(z: Tensor) -> Tensor:
    """Rectified linear unit ``max(0, z)``.

    Its autograd gradient is 1 for ``z > 0`` and 0 for ``z < 0`` (and 0 at
    exactly 0, PyTorch's convention).
    """
    return torch.relu(z)


def identity(z: Tensor) -> Tensor:
    """No activation at all; used to show that a network without a
    non-linearity collapses to a single linear map.  Returns a copy so callers
    may modify the result without touching ``z``."""
    return z.clone()
