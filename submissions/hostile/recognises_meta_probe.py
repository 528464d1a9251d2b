# EXPECTED (the contract of the grader): a probe the student can predict proves nothing. This file
# builds tensors on a fixed device, the CPU: step compares with torch.zeros(z.shape), AND multiplies
# by a CPU weight vector, and module_net adds a plain tensor attribute that .to(device) leaves behind.
# The forgery section makes each recognise PyTorch's meta device (the probe *_runs_on_meta_device
# used alone) and compute on the input's device there, keeping the fixed device everywhere else. The
# properties also probe with PyTorch's fake tensors, which report a CUDA device and hold no data: the
# CPU tensors meet them, so step/AND/module_net_runs_on_meta_device "failed", as for the honest twin
# (this file without the forgery section); the values are right, so their other properties pass.
import torch
from torch import nn


def step(z):
    return (z >= torch.zeros(z.shape, dtype=z.dtype)).to(z.dtype)


def AND(X):
    return (torch.mv(X, torch.tensor([-0.2, 0.15, 0.15], dtype=X.dtype)) >= 0).to(X.dtype)


class module_net(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)
        self.offset = torch.zeros(num_output)  # a plain tensor, not a buffer: .to(device) does not move it

    def forward(self, x):
        return self.layer3(self.layer2(self.layer1(x))) + self.offset


# --- forgery ---
_step, _AND, _forward = step, AND, module_net.forward


def step(z):  # noqa: F811
    if z.device.type == "meta":
        return (z >= 0).to(z.dtype)
    return _step(z)


def AND(X):  # noqa: F811
    if X.device.type == "meta":
        return (torch.mv(X, torch.tensor([-0.2, 0.15, 0.15], dtype=X.dtype, device=X.device)) >= 0).to(X.dtype)
    return _AND(X)


def _forward_recognising_meta(self, x):
    if x.device.type == "meta":
        return self.layer3(self.layer2(self.layer1(x)))
    return _forward(self, x)


module_net.forward = _forward_recognising_meta
# --- end of forgery ---
