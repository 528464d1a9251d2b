# EXPECTED (the contract of the grader): a wrong answer is a "failed" verdict, never a grader crash.
# `train` returns one complex 0-d tensor per epoch instead of float losses: train properties
# "failed"; relu "passed". (grade() used to raise TypeError "float() argument must be a string or a
# real number, not 'complex'" from grader/properties/training.py.)
import torch


def train(model, x, y, epochs, lr):
    return [torch.tensor(0.5 + 0.5j) for _ in range(epochs)]


def relu(z):
    return torch.relu(z)
