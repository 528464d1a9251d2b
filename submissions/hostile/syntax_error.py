# EXPECTED: a syntax error on line 6 (missing colon): status "unreadable", every verdict "error",
# message "the submission could not be read: syntax_error.py: line 6: SyntaxError: expected ':'".
import torch


def relu(z)
    return torch.relu(z)


def step(z):
    return (z >= 0).to(z.dtype)
