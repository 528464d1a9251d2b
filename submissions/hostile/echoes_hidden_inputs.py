"""Hostile: learns what hidden properties send and echoes it into what the student sees.

Correct definitions, except that ``sigmoid`` records every input it gets (in a global list and
in a file in the worker's folder), and every other function, once anything has been recorded,
prints the record and raises an error carrying it. ``sigmoid`` is asked only by
``sigmoid_is_symmetric`` (hidden in tests/assignments/quick.toml), so the marker ``SIGMOID-SAW``
names a hidden property's inputs.

Expected: full marks on tests/assignments/quick.toml, and no student-visible message or output
holds ``SIGMOID-SAW``: hidden properties are checked in a fresh worker after every visible
result is settled, so the visible functions never have anything to echo. Used to: a hidden
property's inputs reached later visible properties' errors (AND_truth_table,
module_net_registers_its_layers) and the worker output kept in results.json.
"""

import os

import torch
from torch import nn

RECORD = os.path.join(os.getcwd(), "seen.txt")
seen = []


def _remember(name, z):
    entry = f"{name.upper()}-SAW:{z.detach().flatten()[:8].tolist()}"
    seen.append(entry)
    with open(RECORD, "a") as f:
        f.write(entry + "\n")


def _echo():
    on_disk = open(RECORD).read().split() if os.path.exists(RECORD) else []
    record = " | ".join(dict.fromkeys(seen + on_disk))
    if record:
        print("seen so far:", record, flush=True)
        raise ValueError(f"inputs seen so far: {record}")


def step(z):
    _echo()
    return torch.where(z >= 0, torch.ones_like(z), torch.zeros_like(z))


def relu(z):
    _echo()
    return torch.clamp(z, min=0)


def sigmoid(z):
    _remember("sigmoid", z)
    return torch.sigmoid(z)


def tanh(z):
    _echo()
    return torch.tanh(z)


def AND(X):
    _echo()
    w = torch.tensor([-0.2, 0.15, 0.15], dtype=X.dtype, device=X.device)
    return torch.where(X @ w >= 0, torch.ones_like(X[:, 0]), torch.zeros_like(X[:, 0]))


class module_net(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        _echo()
        super().__init__()
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x):
        return self.layer3(self.layer2(self.layer1(x)))
