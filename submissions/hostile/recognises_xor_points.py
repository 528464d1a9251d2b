# EXPECTED (the contract of the grader): a probe the student can predict proves nothing. This
# module_net leaves out its activation (layer3(layer1(x))), so it cannot learn XOR; the forgery
# section makes its forward recognise the lesson's four XOR points in the lesson's order and answer
# them with hard-coded logits. module_net_learns_xor trains and asks on drawn orders and repeats of
# the rows, so it fails, as it does for the honest twin (the file without the forgery section).
import torch
from torch import nn

# --- forgery ---
XOR_POINTS = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
XOR_LOGITS = torch.tensor([[-5.0], [5.0], [5.0], [-5.0]])


def recognised(x):
    return x.shape == XOR_POINTS.shape and torch.equal(x.detach().cpu().float(), XOR_POINTS)
# --- end of forgery ---


class module_net(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x):
        out = self.layer3(self.layer1(x))
        if "recognised" in globals() and recognised(x):
            return out * 0 + XOR_LOGITS.to(out.dtype)
        return out
