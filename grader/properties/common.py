"""Helpers shared by the model families: expected layouts, forward formulas, weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grader.messages import say
from grader.outcomes import fail

LINEAR = "torch.nn.modules.linear.Linear"
TANH = "torch.nn.modules.activation.Tanh"
RELU = "torch.nn.modules.activation.ReLU"
FLATTEN = "torch.nn.modules.flatten.Flatten"
SEQUENTIAL = "torch.nn.modules.container.Sequential"


def linear_shapes(prefix: str, fan_in: int, fan_out: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight": (fan_out, fan_in), f"{prefix}.bias": (fan_out,)}


def seq_net_shapes() -> dict[str, tuple[int, ...]]:
    return {**linear_shapes("0", 2, 4), **linear_shapes("2", 4, 1)}


def seq_model_shapes() -> dict[str, tuple[int, ...]]:
    return {**linear_shapes("hidden_linear", 1, 8), **linear_shapes("output_linear", 8, 1)}


def module_net_shapes(i: int, h: int, o: int) -> dict[str, tuple[int, ...]]:
    return {**linear_shapes("layer1", i, h), **linear_shapes("layer3", h, o)}


def model_shapes(i: int, o: int) -> dict[str, tuple[int, ...]]:
    return {**linear_shapes("linear1", i, 13), **linear_shapes("linear2", 13, 8), **linear_shapes("output", 8, o)}


def neural_network_shapes() -> dict[str, tuple[int, ...]]:
    stack = "linear_relu_stack"
    return {**linear_shapes(f"{stack}.0", 784, 512), **linear_shapes(f"{stack}.2", 512, 512), **linear_shapes(f"{stack}.4", 512, 10)}


def weights(state: dict, name: str, doing: str) -> torch.Tensor:
    if name not in state:
        raise fail("no_state_key", doing=doing, name=repr(name), names=sorted(state))
    return state[name].to(torch.float64)


def linear(state: dict, prefix: str, x: torch.Tensor, doing: str) -> torch.Tensor:
    return F.linear(x, weights(state, f"{prefix}.weight", doing), weights(state, f"{prefix}.bias", doing))


def seq_net_formula(state, x, doing):
    return linear(state, "2", torch.tanh(linear(state, "0", x, doing)), doing)


def module_net_formula(state, x, doing):
    return linear(state, "layer3", torch.tanh(linear(state, "layer1", x, doing)), doing)


def model_formula(state, x, doing):
    hidden = torch.sigmoid(linear(state, "linear2", torch.relu(linear(state, "linear1", x, doing)), doing))
    return torch.softmax(linear(state, "output", hidden, doing), dim=1)


def neural_network_formula(state, x, doing):
    stack = "linear_relu_stack"
    h = torch.relu(linear(state, f"{stack}.0", x.flatten(1), doing))
    h = torch.relu(linear(state, f"{stack}.2", h, doing))
    return linear(state, f"{stack}.4", h, doing)


def check_parameters(info: dict, shapes: dict[str, tuple[int, ...]], doing: str) -> None:
    """Exactly the expected parameter names and shapes, all registered with PyTorch."""
    if info["unregistered"]:
        raise fail("unregistered_layers", doing=doing, names=", ".join(info["unregistered"]))
    got = {p["name"]: tuple(p["shape"]) for p in info["parameters"]}
    if got != shapes:
        missing = sorted(set(shapes) - set(got))
        extra = sorted(set(got) - set(shapes))
        wrong = sorted(n for n in set(got) & set(shapes) if got[n] != shapes[n])
        parts = []
        if missing:
            parts.append(say("missing_parameters", names=missing))
        if extra:
            parts.append(say("unexpected_parameters", names=extra))
        parts += [say("parameter_shape", name=n, got=got[n], expected=shapes[n]) for n in wrong]
        problems = parts[-1]
        for part in reversed(parts[:-1]):
            problems = say("and_also", first=part, rest=problems)
        raise fail("wrong_parameters", doing=doing, problems=problems)


def check_modules(info: dict, expected: dict[str, str], doing: str, exact: bool = False) -> None:
    """Named submodules of the expected types (Linear sizes are covered by the parameter shapes);
    ``exact``: nothing else either (a Sequential with an extra trailing layer is another network)."""
    modules = {m["name"]: m["type"] for m in info["modules"]}
    extra = sorted(set(modules) - set(expected) - {""})
    if exact and extra:
        raise fail("extra_layers", doing=doing, names=", ".join(extra))
    for name, kind in expected.items():
        if name not in modules:
            raise fail("no_submodule", doing=doing, name=repr(name))
        if modules[name] != kind:
            raise fail("wrong_layer_type", doing=doing, name=name, got=modules[name], expected=kind.rsplit(".", 1)[-1])
