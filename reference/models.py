"""The lesson's models, built with ``nn.Sequential`` and ``nn.Module``.

Layers are assigned as attributes (or placed in a ``Sequential``) so that
PyTorch registers them: ``parameters()``, ``state_dict()`` and
``.to(device)`` then see every weight.  ``forward`` only calls layers and
tensor functions on its input, so it runs on whatever device the parameters
and input are on.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "make_seq_net",
    "make_seq_model",
    "seq_net",
    "seq_model",
    "module_net",
    "Model",
    "NeuralNetwork",
]


def make_seq_net() -> nn.Sequential:
    """A fresh 2-4-1 network with a tanh hidden layer.

    ``Sequential`` names its children by position, so the parameters are
    ``0.weight, 0.bias, 2.weight, 2.bias`` (the Tanh at index 1 has none).
    The output is a logit: pair it with ``nn.BCEWithLogitsLoss``.
    """
    return nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))


def make_seq_model() -> nn.Sequential:
    """A fresh 1-8-1 network whose layers carry names instead of indices.

    Passing an ``OrderedDict`` makes the children reachable as attributes
    (``model.output_linear``) and gives readable parameter names
    (``hidden_linear.weight`` ...).
    """
    return nn.Sequential(
        OrderedDict(
            [
                ("hidden_linear", nn.Linear(1, 8)),
                ("hidden_activation", nn.Tanh()),
                ("output_linear", nn.Linear(8, 1)),
            ]
        )
    )


def _build_quietly(builder, seed: int):
    """Build a model from a fixed seed without moving torch's global RNG, so
    importing this package neither changes nor depends on the caller's
    random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder()


#: Module-level instances required by the contract (fresh ones: the builders).
seq_net: nn.Sequential = _build_quietly(make_seq_net, 0)
seq_model: nn.Sequential = _build_quietly(make_seq_model, 1)


class module_net(nn.Module):
    """The 2-layer tanh network of ``make_seq_net`` written as a Module.

    ``layer1 = Linear(num_input, num_hidden)``, ``layer2 = Tanh()``,
    ``layer3 = Linear(num_hidden, num_output)``.  (The lower-case class name
    is the lesson's.)
    """

    def __init__(self, num_input: int, num_hidden: int, num_output: int) -> None:
        super().__init__()  # sets up the registries that make attributes layers
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x: Tensor) -> Tensor:
        return self.layer3(self.layer2(self.layer1(x)))


class Model(nn.Module):
    """A 3-layer classifier: in -> 13 (ReLU) -> 8 (sigmoid) -> out (softmax).

    Hidden layers may use different activations; the output activation only
    shapes the output (here: class probabilities summing to 1 along dim 1).
    """

    def __init__(self, in_features: int = 10, out_features: int = 2) -> None:
        super().__init__()
        self.linear1 = nn.Linear(in_features, 13)
        self.linear2 = nn.Linear(13, 8)
        self.output = nn.Linear(8, out_features)

    def forward(self, x: Tensor) -> Tensor:
        sigma1 = torch.relu(self.linear1(x))
        sigma2 = torch.sigmoid(self.linear2(sigma1))
        return F.softmax(self.output(sigma2), dim=1)


class NeuralNetwork(nn.Module):
    """FashionMNIST classifier: 28x28 image -> 784 -> 512 -> 512 -> 10 logits.

    ``Flatten`` keeps the batch dimension and joins the rest.  There is no
    activation after the last layer: logits must be free to be negative
    (softmax or ``CrossEntropyLoss`` turns them into probabilities later).
    Parameter count: 784*512+512 + 512*512+512 + 512*10+10 = 669,706.
    """

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.linear_relu_stack(self.flatten(x))
