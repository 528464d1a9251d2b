"""Linear collapse: stacked Linear layers without activations are one affine map."""

from __future__ import annotations

import torch

from grader.compare import assert_close
from grader.messages import say
from grader.outcomes import fail
from grader.properties import register
from grader.properties.common import LINEAR
from grader.strategies import linear_stacks, random_tensor, seeds, sizes


def run_stack(layers: list[dict], x: torch.Tensor) -> torch.Tensor:
    """The stack's output, computed here in float64 from the weights we chose."""
    for layer in layers:
        bias = layer["bias"]
        x = torch.nn.functional.linear(x, layer["weight"].to(torch.float64), None if bias is None else bias.to(torch.float64))
    return x


def affine_residual(x: torch.Tensor, y: torch.Tensor) -> float:
    """Relative least-squares residual of the best affine fit y ~ [x, 1] A: 0 means y is affine in x."""
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    solution = torch.linalg.lstsq(design, y).solution
    return float((design @ solution - y).norm() / max(float(y.norm()), 1e-12))


def describe_stack(layers: list[dict]) -> str:
    parts = [f"Linear({l['weight'].shape[1]}, {l['weight'].shape[0]}{'' if l['bias'] is not None else ', bias=False'})" for l in layers]
    return f"nn.Sequential({', '.join(parts)})"


def collapsed(subject, data) -> tuple[list[dict], dict, str]:
    layers = data.draw(linear_stacks(), label="stack")
    stack = subject.stack(layers)
    doing = f"collapse_linear({describe_stack(layers)})"
    result = subject.model(subject.call("collapse_linear", stack, doing=doing), doing)
    return layers, {"model": result, "info": subject.describe(result)}, doing


@register("collapse_linear_returns_one_linear_layer", "collapse",
          "collapse_linear(stack) returns a single nn.Linear from the stack's inputs to its outputs",
          "collapse_linear(stack) 返回一个从堆叠的输入维度映射到输出维度的 nn.Linear",
          needs=["collapse_linear"])
def collapse_linear_returns_one_linear_layer(subject, data):
    layers, result, doing = collapsed(subject, data)
    info = result["info"]
    if info["type"] != LINEAR:
        raise fail("not_one_linear", doing=doing, got=info["type"])
    top = info["modules"][0]
    fan_in, fan_out = layers[0]["weight"].shape[1], layers[-1]["weight"].shape[0]
    if (top["in_features"], top["out_features"]) != (fan_in, fan_out):
        raise fail("wrong_linear", doing=doing, got=f"Linear({top['in_features']}, {top['out_features']})", expected=f"Linear({fan_in}, {fan_out})")


@register("collapse_linear_matches_the_stack", "collapse",
          "the layer from collapse_linear(stack) gives stack(x) for every x: any depth, widths, bias on or off",
          "collapse_linear(stack) 返回的层对任意 x 都给出 stack(x)：任意层数、宽度、有无偏置",
          needs=["collapse_linear"], points=3)
def collapse_linear_matches_the_stack(subject, data):
    layers, result, doing = collapsed(subject, data)
    dtype = layers[0]["weight"].dtype
    x = random_tensor((7, layers[0]["weight"].shape[1]), data.draw(seeds(), label="x seed"), dtype=dtype, scale=2)
    got = subject.forward(result["model"], x, f"{doing}(x)").tensor(f"{doing}(x)")
    expected = run_stack(layers, x.to(torch.float64))
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    assert_close(got, expected, say("against", got=f"{doing}(x)", expected="stack(x)"), check_dtype=False, rtol=tol, atol=tol)


def _breaks_collapse(name: str) -> None:
    @register(f"{name}_breaks_linear_collapse", "collapse",
              f"with {name} between two Linear layers, no single affine map fits the network",
              f"两个 Linear 层之间加上 {name} 后，没有任何单个仿射映射能拟合这个网络",
              needs=[name])
    def breaks_linear_collapse(subject, data):
        seed = data.draw(seeds(), label="seed")
        width = data.draw(sizes(3, 8), label="width")
        x = random_tensor((64, 2), seed, dtype=torch.float64, scale=3)
        w1 = random_tensor((width, 2), seed + 1, dtype=torch.float64, scale=2)
        b1 = random_tensor((width,), seed + 2, dtype=torch.float64)
        w2 = random_tensor((1, width), seed + 3, dtype=torch.float64, scale=2)
        hidden = subject.call(name, x @ w1.T + b1, doing=f"{name}(z)").tensor(f"{name}(z)")
        if hidden.shape != (64, width):
            raise fail("wrong_shape", doing=f"{name}(z)", got=tuple(hidden.shape), expected=(64, width))
        residual = affine_residual(x, hidden.to(torch.float64) @ w2.T)
        if residual < 1e-3:
            raise fail("still_affine", name=name, residual=f"{residual:.1e}")


for _name in ("sigmoid", "tanh", "relu"):
    _breaks_collapse(_name)


@register("seq_net_without_tanh_collapses", "collapse",
          "seq_net with its Tanh replaced by nn.Identity is one affine map",
          "把 seq_net 中的 Tanh 换成 nn.Identity 后，它就是一个仿射映射",
          needs=["seq_net"], examples=5)
def seq_net_without_tanh_collapses(subject, data):
    seed = data.draw(seeds(), label="seed")
    model = subject.new("seq_net")
    subject.replace_with_identity(model, "1")
    x = random_tensor((32, 2), seed, scale=3)
    doing = say("with_identity", model="seq_net(x)", layer="seq_net[1]")
    y = subject.forward(model, x, doing).tensor(doing)
    if y.shape != (32, 1):
        raise fail("wrong_shape", doing=doing, got=tuple(y.shape), expected=(32, 1))
    residual = affine_residual(x.to(torch.float64), y.to(torch.float64))
    if residual > 1e-4:
        raise fail("not_affine", doing=doing, residual=f"{residual:.1e}", layer="seq_net[1]")
