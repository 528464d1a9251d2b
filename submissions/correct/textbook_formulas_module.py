"""Homework 9 in the textbook's own formulas.

sigma(z) = 1 / (1 + e^(-z)) exactly as written on the slide: for very negative z
e^(-z) overflows to inf, but 1 / (1 + inf) is 0, which is the right answer, so the
value never becomes NaN. tanh is the rescaled sigmoid 2 sigma(2z) - 1.
"""
from collections import OrderedDict

import torch
from torch import nn


def step(z: torch.Tensor) -> torch.Tensor:
    return (z >= 0).type_as(z)


def sigmoid(z: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + torch.exp(-z))


def tanh(z: torch.Tensor) -> torch.Tensor:
    return 2 * sigmoid(2 * z) - 1


def relu(z: torch.Tensor) -> torch.Tensor:
    return torch.where(z > 0, z, 0.0)


def _weights(X: torch.Tensor, *w: float) -> torch.Tensor:
    return torch.tensor(w, dtype=X.dtype, device=X.device)


def AND(X: torch.Tensor) -> torch.Tensor:
    return step(torch.mv(X, _weights(X, -0.2, 0.15, 0.15)))


def OR(X: torch.Tensor) -> torch.Tensor:
    return step(torch.mv(X, _weights(X, -0.08, 0.15, 0.15)))


def NAND(X: torch.Tensor) -> torch.Tensor:
    return step(torch.mv(X, _weights(X, 0.23, -0.15, -0.15)))


def XOR(X: torch.Tensor) -> torch.Tensor:
    layer_one = torch.stack([torch.ones_like(X[:, 0]), NAND(X), OR(X)], dim=1)
    return AND(layer_one)


def collapse_linear(stack: nn.Sequential) -> nn.Linear:
    """One Linear for the whole stack; it has a bias only if some layer of the stack has one."""
    layers = list(stack)
    any_bias = any(layer.bias is not None for layer in layers)
    W = layers[0].weight.detach()
    b = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device)
    if layers[0].bias is not None:
        b = layers[0].bias.detach()
    for layer in layers[1:]:
        W = layer.weight.detach() @ W
        b = layer.weight.detach() @ b
        if layer.bias is not None:
            b = b + layer.bias.detach()
    merged = nn.Linear(W.shape[1], W.shape[0], bias=any_bias, dtype=W.dtype, device=W.device)
    with torch.no_grad():
        merged.weight.copy_(W)
        if any_bias:
            merged.bias.copy_(b)
    return merged


seq_net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
seq_model = nn.Sequential(OrderedDict([
    ("hidden_linear", nn.Linear(1, 8)),
    ("hidden_activation", nn.Tanh()),
    ("output_linear", nn.Linear(8, 1)),
]))


class module_net(nn.Module):
    def __init__(self, num_input: int, num_hidden: int, num_output: int):
        super().__init__()
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer3(self.layer2(self.layer1(x)))


class Model(nn.Module):
    def __init__(self, in_features: int = 10, out_features: int = 2):
        super().__init__()
        self.linear1 = nn.Linear(in_features, 13)
        self.linear2 = nn.Linear(13, 8)
        self.output = nn.Linear(8, out_features)
        self.relu = nn.ReLU()
        self.sigmoid = nn.Sigmoid()
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.softmax(self.output(self.sigmoid(self.linear2(self.relu(self.linear1(x))))))


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_relu_stack(self.flatten(x))


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float) -> list[float]:
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses: list[float] = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def save_params(model: nn.Module, path) -> None:
    torch.save(model.state_dict(), path)


def load_params(model: nn.Module, path) -> nn.Module:
    model.load_state_dict(torch.load(path, weights_only=True), strict=True)
    return model
