"""The lesson's XOR experiments, as code that can be checked.

Part 1 (hand-set weights): the 2-2-1 network whose hidden units carry the
NAND and OR weights and whose output unit carries the AND weights.  Which
hidden activation h(z) and output activation g(z) let it compute XOR?

=========  =========================  ============
hidden     output                     XOR works?
=========  =========================  ============
step       step                       yes
identity   step                       no  (the layers collapse into one line)
sigmoid    step                       no  (hidden values near 0.5 lose the logic)
step       sigmoid (threshold 0.5)    yes (g only changes the output's form)
=========  =========================  ============

Part 2 (learned weights): ``module_net(2, h, 1)`` trained by gradient descent
learns XOR with a tanh hidden layer, and never with the identity in its
place, because then the whole network is one linear map.
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple, Sequence

import torch
from torch import Tensor, nn

from .activations import identity, relu, sigmoid, step, tanh
from .data import GATE_INPUTS, xor_points
from .gates import AND_WEIGHTS, NAND_WEIGHTS, OR_WEIGHTS, perceptron
from .models import module_net
from .training import train

__all__ = [
    "ACTIVATIONS",
    "Experiment",
    "EXPERIMENTS",
    "xor_two_layer",
    "run_experiment",
    "initial_state",
    "xor_training_outcome",
    "xor_success_counts",
    "XOR_EPOCHS",
    "XOR_LR",
]

Activation = Callable[[Tensor], Tensor]

#: Activations by the names used in the experiment table.
ACTIVATIONS: dict[str, Activation] = {
    "step": step,
    "identity": identity,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
}

# Where an output activation's value turns into the class "1".  A step already
# outputs 0/1; a sigmoid is read as a probability and cut at 0.5.
_DECISION_THRESHOLDS: dict[str, float | None] = {
    "step": None,
    "sigmoid": 0.5,
    "identity": 0.0,
    "tanh": 0.0,
}


def _resolve(activation: str | Activation) -> tuple[str | None, Activation]:
    if isinstance(activation, str):
        return activation, ACTIVATIONS[activation]
    for name, fn in ACTIVATIONS.items():
        if fn is activation:
            return name, fn
    return None, activation


def xor_two_layer(
    X: Tensor,
    hidden: str | Activation = "step",
    output: str | Activation = "step",
    threshold: float | None = None,
) -> Tensor:
    """The hand-wired 2-2-1 XOR network with activations ``hidden`` (h) and
    ``output`` (g), given as callables or names from :data:`ACTIVATIONS`.

    ``X`` is a gate input ``(n, 3)``.  Returns 0/1 predictions of shape
    ``(n,)``.  When g is not already 0/1 valued the output is thresholded:
    ``threshold`` if given, else 0.5 for sigmoid and 0 for identity/tanh.
    """
    hidden_name, h = _resolve(hidden)
    output_name, g = _resolve(output)
    h_nand = perceptron(X, NAND_WEIGHTS, h)
    h_or = perceptron(X, OR_WEIGHTS, h)
    layer2_input = torch.stack([torch.ones_like(h_nand), h_nand, h_or], dim=1)
    out = perceptron(layer2_input, AND_WEIGHTS, g)
    if threshold is None:
        if output_name not in _DECISION_THRESHOLDS:
            raise ValueError("give a threshold for this output activation")
        threshold = _DECISION_THRESHOLDS[output_name]
    if threshold is None:
        return out
    return torch.where(out >= threshold, torch.ones_like(out), torch.zeros_like(out))


class Experiment(NamedTuple):
    """One row of the lesson's table."""

    hidden: str
    output: str
    works: bool


#: The lesson's four experiments and their outcomes.
EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("step", "step", True),
    Experiment("identity", "step", False),
    Experiment("sigmoid", "step", False),
    Experiment("step", "sigmoid", True),
)


def run_experiment(
    hidden: str | Activation,
    output: str | Activation,
    X: Tensor | None = None,
    threshold: float | None = None,
) -> bool:
    """Whether the 2-2-1 network with these activations reproduces XOR on
    the rows of ``X`` (default: the four rows of :data:`GATE_INPUTS`)."""
    if X is None:
        X = GATE_INPUTS
    expected = (X[:, 1] != X[:, 2]).to(X.dtype)
    predicted = xor_two_layer(X, hidden, output, threshold)
    return bool(torch.equal(predicted, expected))


def initial_state(
    model_or_shapes: nn.Module | Mapping[str, Sequence[int]],
    seed: int,
    dtype: torch.dtype = torch.float32,
) -> dict[str, Tensor]:
    """Reproducible initial weights, drawn uniformly from (-1, 1).

    Parameters are drawn from a private ``torch.Generator`` in sorted-name
    order, so the result depends only on the names, shapes and ``seed``: not
    on the global RNG, nor on the order in which layers were constructed.
    Accepts a model (its parameters are used) or a ``{name: shape}`` mapping;
    returns ``{name: CPU tensor}`` ready for ``load_state_dict``.
    """
    if isinstance(model_or_shapes, nn.Module):
        shapes = {n: tuple(p.shape) for n, p in model_or_shapes.named_parameters()}
    else:
        shapes = {n: tuple(s) for n, s in model_or_shapes.items()}
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name in sorted(shapes):
        state[name] = torch.rand(shapes[name], generator=gen, dtype=dtype) * 2 - 1
    return state


#: Training settings for Part 2, chosen so that every run is fast and a tanh
#: network of hidden size 2..6 learns XOR for most seeds.
XOR_EPOCHS = 400
XOR_LR = 1.5


def xor_training_outcome(
    hidden_size: int,
    seed: int,
    epochs: int = XOR_EPOCHS,
    lr: float = XOR_LR,
    hidden_activation: type[nn.Module] | Callable[[], nn.Module] = nn.Tanh,
    order: tuple[int, ...] = (0, 1, 2, 3),
) -> bool:
    """Train ``module_net(2, hidden_size, 1)`` on XOR (its rows in ``order``) and report success.

    The hidden activation is swapped for ``hidden_activation()`` (pass
    ``nn.Identity`` to remove the non-linearity).  Weights come from
    :func:`initial_state` with ``seed``; training is :func:`train` (full
    batch, ``BCEWithLogitsLoss``, SGD).  Success means all four logits have
    the right sign (``> 0`` for label 1).
    """
    model = module_net(2, hidden_size, 1)
    model.layer2 = hidden_activation()
    model.load_state_dict(initial_state(model, seed))
    x, y = xor_points()
    train(model, x[list(order)], y[list(order)], epochs, lr)
    with torch.no_grad():
        predicted = (model(x) > 0).to(y.dtype)
    return bool(torch.equal(predicted, y))


def xor_success_counts(
    hidden_sizes: Sequence[int] = (2, 3, 4, 5, 6),
    seeds: Sequence[int] = tuple(range(8)),
    **kwargs,
) -> dict[int, int]:
    """``{hidden_size: number of seeds that learned XOR}``; keyword
    arguments go to :func:`xor_training_outcome`."""
    return {
        h: sum(xor_training_outcome(h, s, **kwargs) for s in seeds)
        for h in hidden_sizes
    }
