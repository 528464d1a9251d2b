# EXPECTED (the contract of the grader): what a worker reports of a tensor is the tensor. This
# `relu` is wrong (it returns its input unchanged), and the forgery section rebinds
# torch.Tensor.numpy, which the wire format used to call to turn every tensor a worker sends into
# bytes, so that any tensor leaves the worker as relu of itself: the grader would have seen correct
# answers. The wire format now uses functions taken before student code runs: relu_matches_definition
# fails, as it does for the honest twin (the file without the forgery section). `sigmoid` is correct.
import torch

# --- forgery ---
_numpy = torch.Tensor.numpy


def _forged_numpy(self, *args, **kwargs):
    return _numpy(torch.clamp(self, min=0) if self.is_floating_point() else self, *args, **kwargs)


torch.Tensor.numpy = _forged_numpy
# --- end of forgery ---


def relu(z):
    return z.clone()


def sigmoid(z):
    return torch.sigmoid(z)
