# EXPECTED (the contract of the grader): a wrong answer is a "failed" verdict, never a grader crash.
# `step` returns a tensor on the "meta" device (right shape and dtype, no data) for a CPU input.
# step properties "failed" (e.g. "its answer could not be checked (RuntimeError: Tensor on device cpu is
# not on the expected device meta!)"); relu "passed". (grade() used to raise that RuntimeError.)
import torch


def step(z):
    return torch.empty_like(z, device="meta")


def relu(z):
    return torch.relu(z)
