"""Training: the student's ``train`` loop, and what it buys on the flower data.

Each fact is its own property: the loop's arithmetic (short runs against the reference), what it
returns, that it runs the lesson's length (the lesson prints its loss every 1000 epochs, with
``loss.data[0]`` that today's PyTorch refuses), and that it teaches seq_net the flower data. The
last one calls ``train`` in runs of fewer epochs than any usual logging interval: plain SGD keeps
no state between calls, so the runs add up to one long run, and a print at epoch 1000 costs only
the property about the lesson's length.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from hypothesis import strategies as st

from grader.compare import assert_close
from grader.messages import Message, say
from grader.outcomes import fail
from grader.properties import register
from grader.properties.common import seq_net_shapes
from grader.store import remembered
from grader.strategies import seeds
from reference.data import flower
from reference.experiments import initial_state
from reference.models import make_seq_net
from reference.training import accuracy, logistic_regression_accuracy, train

FLOWER_EPOCHS = 990
FLOWER_CHUNK = 99  # epochs per call of train: below a logging interval of 100 or 1000
FLOWER_LR = 1.0
LESSON_EPOCHS = 1000  # the lesson's loops print their loss at every 1000th epoch
FLOWER_MARGIN = 0.15


def stack_layers(state: dict) -> list[dict]:
    """A seq_net-shaped stack (Linear(2, 4), Tanh, Linear(4, 1)) with these weights, for propgrade to build."""
    return [
        {"weight": state["0.weight"], "bias": state["0.bias"]},
        {"activation": "tanh"},
        {"weight": state["2.weight"], "bias": state["2.bias"]},
    ]


@lru_cache(maxsize=None)
def flower_set(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The lesson's flower data, made once per process (every submission is checked on the same sets)."""
    return flower(seed=seed)


@lru_cache(maxsize=256)
def training_setup(seed: int, n: int, epochs: int, lr: float) -> dict:
    x, y = flower_set(1)
    rows = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    return {"key": (seed, n, epochs, lr), "state": initial_state(seq_net_shapes(), seed), "x": x[rows], "y": y[rows], "epochs": epochs, "lr": lr}


@remembered
def reference_run(seed: int, n: int, epochs: int, lr: float) -> tuple[list[float], dict]:
    """The reference loop from the setup's start; a class draws the same setups, so each runs once per process."""
    setup = training_setup(seed, n, epochs, lr)
    model = make_seq_net()
    model.load_state_dict(setup["state"])
    losses = train(model, setup["x"], setup["y"], epochs, lr)
    return losses, model.state_dict()


@remembered
def logistic_baseline(test_seed: int) -> float:
    x, y = flower_set(1)
    x_test, y_test = flower_set(test_seed)
    return logistic_regression_accuracy(x, y, x_test, y_test)


@st.composite
def training_setups(draw, min_epochs: int = 1):
    seed = draw(seeds())
    n = draw(st.integers(4, 64))
    epochs = draw(st.integers(min_epochs, 25))
    lr = draw(st.sampled_from([0.01, 0.1, 0.5, 1.0]))
    return training_setup(seed, n, epochs, lr)


def student_run(subject, setup) -> tuple[list, object, Message]:
    model = subject.stack(stack_layers(setup["state"]))
    doing = say("train_on_flower", epochs=setup["epochs"], lr=setup["lr"], n=len(setup["x"]))
    answer = subject.call("train", model, setup["x"], setup["y"], setup["epochs"], setup["lr"], doing=doing)
    return answer, model, doing


@register("train_returns_one_float_per_epoch", "training",
          "train(model, x, y, epochs, lr) returns a list of `epochs` Python floats (an empty list for 0 epochs)",
          "train(model, x, y, epochs, lr) 返回长度为 epochs 的 Python 浮点数列表（epochs 为 0 时返回空列表）",
          needs=["train"], examples=5)
def train_returns_one_float_per_epoch(subject, data):
    setup = data.draw(training_setups(min_epochs=0), label="setup")
    answer, _, doing = student_run(subject, setup)
    if answer.kind != "list":
        raise fail("not_loss_list", doing=doing, got=answer.describe())
    if len(answer.items) != setup["epochs"]:
        raise fail("wrong_loss_count", doing=doing, got=len(answer.items), expected=setup["epochs"])
    bad = [item for item in answer.items if item.kind != "scalar" or item.type != "float"]
    if bad:
        raise fail("loss_not_float", doing=doing, got=bad[0].describe())


@register("train_follows_the_reference_loop", "training",
          "train gives the reference's loss per epoch and final weights (BCEWithLogitsLoss, SGD, zero_grad each step) from the same start",
          "从相同的初始权重出发，train 每个 epoch 的损失和最终权重都与参考实现一致（BCEWithLogitsLoss、SGD、每步 zero_grad）",
          needs=["train"], points=3, examples=8)
def train_follows_the_reference_loop(subject, data):
    setup = data.draw(training_setups(), label="setup")
    answer, model, doing = student_run(subject, setup)
    if answer.kind != "list":
        raise fail("not_loss_list", doing=doing, got=answer.describe())
    losses = [float(item.value) if item.kind == "scalar" and isinstance(item.value, (int, float)) else float(item.value.item()) if item.kind == "tensor" and item.value.numel() == 1 else float("nan") for item in answer.items]
    expected_losses, expected_state = reference_run(*setup["key"])
    assert_close(torch.tensor(losses, dtype=torch.float64), torch.tensor(expected_losses, dtype=torch.float64),
                 say("losses_returned_by", doing=doing), input_name="epoch", rtol=1e-4, atol=1e-6)
    state = subject.state_dict(model, say("after", what="model.state_dict()", doing="train"))
    for name, tensor in expected_state.items():
        if name not in state:
            raise fail("lost_parameter", doing=doing, name=name)
        assert_close(state[name], tensor, say("after", what=name, doing=doing), check_dtype=False, rtol=1e-4, atol=1e-5)


@register("trained_seq_net_beats_logistic_regression", "training",
          f"seq_net trained with train on the flower data beats logistic regression by {FLOWER_MARGIN:.0%} accuracy on fresh flower samples",
          f"在新的 flower 样本上，用 train 训练的 seq_net 的准确率比逻辑回归高出 {FLOWER_MARGIN:.0%}",
          needs=["seq_net", "train"], points=3, examples=1)
def trained_seq_net_beats_logistic_regression(subject, data):
    seed = data.draw(st.integers(0, 3), label="seed")
    x, y = flower_set(1)
    x_test, y_test = flower_set(100 + seed)
    model = subject.new("seq_net")
    subject.load_state_dict(model, initial_state(seq_net_shapes(), seed), say("load_state_dict", model="seq_net", weights=say("initial_weights")))
    doing = say("train_in_runs", runs=FLOWER_EPOCHS // FLOWER_CHUNK, call=f"train(seq_net, flower x, flower y, {FLOWER_CHUNK}, {FLOWER_LR})")
    for _ in range(FLOWER_EPOCHS // FLOWER_CHUNK):
        subject.call("train", model, x, y, FLOWER_CHUNK, FLOWER_LR, doing=doing)
    fresh = say("seq_net_on_fresh_flower")
    logits = subject.forward(model, x_test, fresh).tensor(fresh)
    if logits.shape != y_test.shape:
        raise fail("wrong_shape", doing=fresh, got=tuple(logits.shape), expected=tuple(y_test.shape))
    network = accuracy(logits.to(torch.float32), y_test)
    baseline = logistic_baseline(100 + seed)
    if network < baseline + FLOWER_MARGIN:
        raise fail("not_better_than_logistic", doing=doing, network=f"{network:.0%}", baseline=f"{baseline:.0%}")


@register("train_runs_the_lessons_1000_epochs", "training",
          f"train runs the lesson's {LESSON_EPOCHS} epochs without raising (the lesson prints its loss at epoch {LESSON_EPOCHS}: loss.item() works there, loss.data[0] no longer does)",
          f"train 能不出错地运行课程中的 {LESSON_EPOCHS} 个 epoch（课程在第 {LESSON_EPOCHS} 个 epoch 打印损失：loss.item() 可以，loss.data[0] 在现在的 PyTorch 中不再可用）",
          needs=["train"], examples=1)
def train_runs_the_lessons_1000_epochs(subject, data):
    student_run(subject, training_setup(data.draw(seeds(), label="seed"), 16, LESSON_EPOCHS, 0.1))
