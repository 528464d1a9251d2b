# EXPECTED: the definitions below are correct, but the module never finishes: an infinite loop at
# top level. The module's time limit interrupts it (the cell reports "timed out"), and the
# definitions made before the loop still count: status "graded", the properties pass.
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


def step(z):
    return torch.where(z >= 0, torch.ones_like(z), torch.zeros_like(z))


def sigmoid(z):
    return torch.sigmoid(z)


def tanh(z):
    return torch.tanh(z)


def relu(z):
    return torch.relu(z)


def _gate(X, weights):
    z = X @ torch.tensor(weights, dtype=X.dtype, device=X.device)
    return torch.where(z >= 0, torch.ones_like(z), torch.zeros_like(z))


def AND(X):
    return _gate(X, [-0.2, 0.15, 0.15])


def OR(X):
    return _gate(X, [-0.08, 0.15, 0.15])


def NAND(X):
    return _gate(X, [0.23, -0.15, -0.15])


def XOR(X):
    return AND(torch.stack([torch.ones_like(X[:, 0]), NAND(X), OR(X)], dim=1))


seq_net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))


class module_net(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x):
        return self.layer3(self.layer2(self.layer1(x)))


def train(model, x, y, epochs, lr):
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


while True:
    pass
