# propgrade-expect: module_net_registers_its_layers, module_net_learns_xor, xor_needs_hidden_activation
# mistake: nn.Linear(num_input, 4): the lesson's 4 hidden units hard-coded
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
    return torch.clamp(z, min=0)


def _gate(X, weights):
    w = torch.tensor(weights, dtype=X.dtype, device=X.device)
    return step(X @ w)


def AND(X):
    return _gate(X, [-0.2, 0.15, 0.15])


def OR(X):
    return _gate(X, [-0.08, 0.15, 0.15])


def NAND(X):
    return _gate(X, [0.23, -0.15, -0.15])


def XOR(X):
    hidden = torch.stack([torch.ones_like(X[:, 0]), NAND(X), OR(X)], dim=1)
    return AND(hidden)


def collapse_linear(stack):
    first = stack[0]
    weight = first.weight.detach().clone()
    bias = first.bias.detach().clone() if first.bias is not None else torch.zeros(first.out_features, dtype=weight.dtype)
    for layer in list(stack)[1:]:
        weight = layer.weight.detach() @ weight
        bias = layer.weight.detach() @ bias
        if layer.bias is not None:
            bias = bias + layer.bias.detach()
    merged = nn.Linear(weight.shape[1], weight.shape[0], dtype=weight.dtype)
    with torch.no_grad():
        merged.weight.copy_(weight)
        merged.bias.copy_(bias)
    return merged


seq_net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))

seq_model = nn.Sequential(OrderedDict([
    ("hidden_linear", nn.Linear(1, 8)),
    ("hidden_activation", nn.Tanh()),
    ("output_linear", nn.Linear(8, 1)),
]))


class module_net(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1 = nn.Linear(num_input, 4)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(4, num_output)

    def forward(self, x):
        return self.layer3(self.layer2(self.layer1(x)))


class Model(nn.Module):
    def __init__(self, in_features=10, out_features=2):
        super().__init__()
        self.linear1 = nn.Linear(in_features, 13)
        self.linear2 = nn.Linear(13, 8)
        self.output = nn.Linear(8, out_features)

    def forward(self, x):
        x = torch.relu(self.linear1(x))
        x = torch.sigmoid(self.linear2(x))
        return F.softmax(self.output(x), dim=1)


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512), nn.ReLU(),
            nn.Linear(512, 512), nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


def train(model, x, y, epochs, lr):
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(epochs):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def save_params(model, path):
    torch.save(model.state_dict(), path)


def load_params(model, path):
    model.load_state_dict(torch.load(path, weights_only=True))
    return model

