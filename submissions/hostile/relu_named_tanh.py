# EXPECTED: seq_net's and module_net's hidden activation is a ReLU whose class claims to be nn.Tanh
# (class Tanh(nn.ReLU) with __module__ = "torch.nn.modules.activation" and __qualname__ = "Tanh"). It used
# to pass seq_net_has_the_lesson_layers and module_net_registers_its_layers, judged by type names; layers
# are now judged by what they compute on the grader's inputs: both "failed", and so do the forward
# formulas, as for its honest twin (this file without the forgery section: a plain nn.ReLU); the score is
# no higher than the twin's.
import torch
from torch import nn

Tanh = nn.ReLU

# --- forgery ---


class Tanh(nn.ReLU):  # noqa: F811
    pass


Tanh.__module__ = "torch.nn.modules.activation"
Tanh.__qualname__ = Tanh.__name__ = "Tanh"
# --- end of forgery ---

seq_net = nn.Sequential(nn.Linear(2, 4), Tanh(), nn.Linear(4, 1))


class module_net(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x):
        return self.layer3(self.layer2(self.layer1(x)))
