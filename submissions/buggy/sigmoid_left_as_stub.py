# propgrade-expect: sigmoid_matches_definition, sigmoid_is_bounded, sigmoid_gradient_is_analytic
# propgrade-expect: tanh_matches_definition, tanh_is_bounded, tanh_is_finite_on_finite_input
# propgrade-expect: tanh_gradient_is_analytic, sigmoid_is_symmetric, tanh_is_odd
# propgrade-expect: Model_forward_is_the_formula, sigmoid_breaks_linear_collapse, tanh_breaks_linear_collapse
# mistake: sigmoid still the template's placeholder 'return z', and tanh is built on it
import functools
from collections import OrderedDict

import torch
from torch import nn


def step(z):
    return torch.heaviside(z, torch.ones_like(z))


def sigmoid(z):
    # e = exp(-|z|), but written with torch.where so that d/dz is right at z = 0 too
    # (the derivative of z.abs() at 0 is 0, which would make the gradient there 0).
    return z  # TODO


def tanh(z):
    return 2 * sigmoid(2 * z) - 1


def relu(z):
    return torch.where(z > 0, z, torch.zeros_like(z))


# weights over [x0, x1, x2], x0 being the constant bias input
GATE_WEIGHTS = {
    "and": (-0.2, 0.15, 0.15),
    "or": (-0.08, 0.15, 0.15),
    "nand": (0.23, -0.15, -0.15),
}


def perceptron(X, kind):
    w = X.new_tensor(GATE_WEIGHTS[kind])
    return step(torch.mv(X, w))


def AND(X):
    return perceptron(X, "and")


def OR(X):
    return perceptron(X, "or")


def NAND(X):
    return perceptron(X, "nand")


def XOR(X):
    # hidden layer: NAND and OR; output layer: AND of the two (with a fresh bias column)
    bias = torch.ones_like(X[:, 0])
    return AND(torch.column_stack((bias, NAND(X), OR(X))))


def _affine(layer):
    W = layer.weight.detach()
    b = layer.bias.detach() if layer.bias is not None else W.new_zeros(W.shape[0])
    return W, b


def _compose(inner, outer):
    (W1, b1), (W2, b2) = inner, outer
    return W2 @ W1, W2 @ b1 + b2


def collapse_linear(stack):
    W, b = functools.reduce(_compose, map(_affine, stack))
    single = nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype, device=W.device)
    with torch.no_grad():
        single.weight.copy_(W)
        single.bias.copy_(b)
    return single


seq_net = nn.Sequential()
seq_net.add_module("0", nn.Linear(2, 4))
seq_net.add_module("1", nn.Tanh())
seq_net.add_module("2", nn.Linear(4, 1))

layers = OrderedDict()
layers["hidden_linear"] = nn.Linear(1, 8)
layers["hidden_activation"] = nn.Tanh()
layers["output_linear"] = nn.Linear(8, 1)
seq_model = nn.Sequential(layers)


class module_net(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        nn.Module.__init__(self)
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x):
        hidden = self.layer2(self.layer1(x))
        return self.layer3(hidden)


class Model(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear1 = nn.Linear(in_features, 13)
        self.linear2 = nn.Linear(13, 8)
        self.output = nn.Linear(8, out_features)

    def forward(self, x):
        a1 = relu(self.linear1(x))
        a2 = sigmoid(self.linear2(a1))
        z3 = self.output(a2)
        # softmax by hand, shifted by the row maximum so exp cannot overflow
        shifted = torch.exp(z3 - z3.max(dim=1, keepdim=True).values)
        return shifted / shifted.sum(dim=1, keepdim=True)


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(784, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


def train(model, x, y, epochs, lr):
    loss_fn = nn.BCEWithLogitsLoss()
    sgd = torch.optim.SGD(model.parameters(), lr=lr)
    history = []
    epoch = 0
    while epoch < epochs:
        sgd.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        sgd.step()
        history.append(loss.item())
        epoch += 1
    return history


def save_params(model, path):
    with open(path, "wb") as handle:
        torch.save(model.state_dict(), handle)


def load_params(model, path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model
