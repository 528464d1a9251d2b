"""Reference solution of the lesson "Multi-layer networks, Sequential and
Module": the names a student submission must define, written to be read.

The contract names are listed in ``__all__``.  ``seq_net`` and ``seq_model``
are instances (built once, from fixed seeds, at import); ``make_seq_net()``
and ``make_seq_model()`` build fresh ones.
"""

from .activations import relu, sigmoid, step, tanh
from .collapse import collapse_linear
from .gates import AND, NAND, OR, XOR
from .models import (
    Model,
    NeuralNetwork,
    make_seq_model,
    make_seq_net,
    module_net,
    seq_model,
    seq_net,
)
from .params import load_params, save_params
from .training import train

__all__ = [
    "step",
    "sigmoid",
    "tanh",
    "relu",
    "AND",
    "OR",
    "NAND",
    "XOR",
    "collapse_linear",
    "seq_net",
    "seq_model",
    "module_net",
    "Model",
    "NeuralNetwork",
    "train",
    "save_params",
    "load_params",
]
