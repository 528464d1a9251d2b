# Homework 9, the short way: wherever PyTorch already has the function, use it as it is.
from collections import OrderedDict
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

sigmoid = torch.sigmoid
tanh = torch.tanh
relu = F.relu


def step(z):
    return torch.heaviside(z, z.new_ones(()))


def _perceptron(X, w):
    return step(F.linear(X, X.new_tensor(w)))


AND = partial(_perceptron, w=[-0.2, 0.15, 0.15])
OR = partial(_perceptron, w=[-0.08, 0.15, 0.15])
NAND = partial(_perceptron, w=[0.23, -0.15, -0.15])


def XOR(X):
    return AND(torch.stack([torch.ones_like(X[:, 0]), NAND(X), OR(X)], -1))


def collapse_linear(stack):
    weight, bias = None, None
    for layer in stack:
        w = layer.weight.detach()
        b = torch.zeros_like(w[:, 0]) if layer.bias is None else layer.bias.detach()
        weight, bias = (w, b) if weight is None else (w @ weight, F.linear(bias, w, b))
    merged = nn.Linear(*reversed(weight.shape), device=weight.device, dtype=weight.dtype)
    merged.weight.data, merged.bias.data = weight.clone(), bias.clone()
    return merged


seq_net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
seq_model = nn.Sequential(OrderedDict(zip(
    ["hidden_linear", "hidden_activation", "output_linear"],
    [nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)],
)))


class module_net(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1, self.layer2, self.layer3 = nn.Linear(num_input, num_hidden), nn.Tanh(), nn.Linear(num_hidden, num_output)

    def forward(self, x):
        return self.layer3(self.layer2(self.layer1(x)))


class Model(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear1 = nn.Linear(in_features, 13)
        self.linear2 = nn.Linear(13, 8)
        self.output = nn.Linear(8, out_features)

    def forward(self, x):
        return self.output(self.linear2(self.linear1(x).relu()).sigmoid()).softmax(1)


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        sizes = [784, 512, 512, 10]
        layers = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        self.linear_relu_stack = nn.Sequential(*layers[:-1])  # no ReLU after the output layer

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


def train(model, x, y, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def save_params(model, path):
    torch.save(model.state_dict(), path)


def load_params(model, path):
    model.load_state_dict(torch.load(path, weights_only=True))
    return model
