# EXPECTED: activations that return tensors no plain comparison can read: `relu` a sparse tensor,
# `step` a quantized one, `tanh` a complex conjugate view. Each is "failed" ("returned a
# torch.Tensor (...)", or the wrong dtype), never "error" or "crashed": relu used to be blamed for
# raising, step's reply used to be a protocol error that cost the worker, and tanh's used to end
# the worker. `sigmoid` is correct and "passed".
import torch


def relu(z):
    return torch.relu(z).to_sparse()


def step(z):
    return torch.quantize_per_tensor((z >= 0).float(), 0.1, 0, torch.quint8)


def tanh(z):
    return torch.tanh(z).to(torch.complex64).conj()


def sigmoid(z):
    return torch.sigmoid(z)
