"""Why activations are needed: stacked linear layers are one linear layer.

Each ``nn.Linear`` computes ``x -> W x + b``.  Composing two of them gives
``W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2)``, again of the same form,
and by induction any depth collapses to ``W = Wk ... W1`` with the biases
pushed through the later weights.  Depth without a non-linearity therefore
adds no expressive power.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["collapse_linear"]


def collapse_linear(stack: nn.Sequential) -> nn.Linear:
    """Return one ``nn.Linear`` (with bias) equal to ``stack``.

    ``stack`` must be a non-empty ``nn.Sequential`` of ``nn.Linear`` layers
    (with or without bias) and no activations.  The folded layer has the dtype
    and device of the stack's first weight.  The algebra runs under
    ``torch.no_grad()``: the result is a fresh layer, not a function of the
    stack's parameters, so no autograd graph is recorded.
    """
    layers = list(stack)
    if not layers:
        raise ValueError("collapse_linear needs at least one nn.Linear layer")
    for layer in layers:
        if not isinstance(layer, nn.Linear):
            raise TypeError(
                f"only nn.Linear layers collapse; got {type(layer).__name__}"
            )
    for prev, nxt in zip(layers, layers[1:]):
        if prev.out_features != nxt.in_features:
            raise ValueError("consecutive layers have mismatched sizes")

    first = layers[0].weight
    dtype, device = first.dtype, first.device
    with torch.no_grad():
        # Start from the identity map x -> I x + 0 and absorb one layer at a
        # time: W <- Wl W, b <- Wl b + bl.
        n_in = layers[0].in_features
        weight = torch.eye(n_in, dtype=dtype, device=device)
        bias = torch.zeros(n_in, dtype=dtype, device=device)
        for layer in layers:
            w_l = layer.weight.to(dtype=dtype, device=device)
            weight = w_l @ weight
            bias = w_l @ bias
            if layer.bias is not None:
                bias = bias + layer.bias.to(dtype=dtype, device=device)

        merged = nn.Linear(
            n_in, layers[-1].out_features, bias=True, dtype=dtype, device=device
        )
        merged.weight.copy_(weight)
        merged.bias.copy_(bias)
    return merged
