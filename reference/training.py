"""Full-batch gradient descent for binary classifiers that output logits.

``nn.BCEWithLogitsLoss`` fuses the sigmoid into the loss, which is more
stable than applying ``torch.sigmoid`` and then ``nn.BCELoss``; that is why
the models return raw logits.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["train", "accuracy", "logistic_regression_accuracy"]


def train(model: nn.Module, x: Tensor, y: Tensor, epochs: int, lr: float) -> list[float]:
    """Train ``model`` in place on ``(x, y)`` and return the loss per epoch.

    One epoch is one step on the whole data set: clear the old gradients
    (PyTorch accumulates them), forward, loss, backward, SGD update.  The
    recorded value is the loss computed *before* that epoch's update, so the
    list starts with the loss of the untrained model and has ``epochs``
    entries.
    """
    if epochs < 0:
        raise ValueError("epochs must be >= 0")
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr)
    losses: list[float] = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def accuracy(logits: Tensor, y: Tensor) -> float:
    """Fraction of rows where ``sigmoid(logit) > 0.5`` agrees with the 0/1
    label ``y`` (same shape as ``logits``)."""
    with torch.no_grad():
        predicted = (torch.sigmoid(logits) > 0.5).to(y.dtype)
        return (predicted == y).to(torch.float64).mean().item()


def logistic_regression_accuracy(
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    epochs: int = 1000,
    lr: float = 0.1,
    seed: int = 0,
) -> float:
    """Baseline: a single linear layer (logistic regression) trained with the
    same loop as :func:`train`; returns its accuracy on the test set.

    Its decision boundary is a straight line, which is what the hidden layer
    of ``seq_net`` is shown to beat on the flower data.  ``seed`` fixes the
    initial weights without touching the global RNG.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Linear(x_train.shape[1], 1, dtype=x_train.dtype, device=x_train.device)
    train(model, x_train, y_train, epochs, lr)
    with torch.no_grad():
        return accuracy(model(x_test), y_test)
