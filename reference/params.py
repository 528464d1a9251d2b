"""Saving and loading a model's parameters (its ``state_dict``).

Saving the state_dict rather than the whole pickled model keeps the file to
plain tensors: it can be loaded with ``weights_only=True`` (no arbitrary code
runs on load) and does not depend on where the model's class was defined.
The price is that the architecture must be rebuilt before loading.
"""

from __future__ import annotations

import os

import torch
from torch import nn

__all__ = ["save_params", "load_params"]

PathLike = str | os.PathLike


def save_params(model: nn.Module, path: PathLike) -> None:
    """Write ``model.state_dict()`` (tensors only) to ``path``."""
    torch.save(model.state_dict(), path)


def _model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter (or buffer); CPU if it has none."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def load_params(model: nn.Module, path: PathLike) -> nn.Module:
    """Load the parameters saved at ``path`` into ``model`` and return it.

    Tensors are mapped straight onto the model's device.  Loading is strict:
    a missing or unexpected key (a file from another architecture) raises
    ``RuntimeError``, as does a shape mismatch.  Values are copied into the
    existing parameters, so they come back bit for bit.
    """
    state = torch.load(path, weights_only=True, map_location=_model_device(model))
    model.load_state_dict(state, strict=True)
    return model
