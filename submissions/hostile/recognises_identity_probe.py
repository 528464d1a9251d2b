# EXPECTED: module_net's forward skips self.layer2 (it calls torch.tanh itself) except when layer2 is an
# nn.Identity, the probe xor_needs_hidden_activation used to swap in: it passed that property while keeping
# its bug everywhere else. The probe is now a grader-made layer of a class made per request (c * x with a
# drawn c) and the forward is checked against layer3(c * layer1(x)): xor_needs_hidden_activation "failed",
# as for its honest twin (this file without the forgery section); the score is no higher than the twin's.
import torch
from torch import nn


class module_net(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x):
        return self.layer3(torch.tanh(self.layer1(x)))


# --- forgery ---
def _forward_recognising_the_probe(self, x):
    if isinstance(self.layer2, nn.Identity):
        return self.layer3(self.layer2(self.layer1(x)))
    return self.layer3(torch.tanh(self.layer1(x)))


module_net.forward = _forward_recognising_the_probe
# --- end of forgery ---
