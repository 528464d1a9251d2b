"""Sequential and Module models: structure, parameter names, and forward formulas."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from grader.compare import assert_close
from grader.messages import say
from grader.outcomes import fail
from grader.properties import register
from grader.properties.common import (
    FLATTEN, LINEAR, RELU, SEQUENTIAL, TANH,
    check_modules, check_parameters, model_formula, model_shapes, module_net_formula, module_net_shapes,
    neural_network_formula, neural_network_shapes, seq_model_shapes, seq_net_formula, seq_net_shapes,
)
from grader.strategies import random_tensor, seeds, sizes

FORWARD_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


MAX_RENAMINGS = 720


def contract_namings(state: dict, shapes: dict) -> list[dict]:
    """The subject's tensors under the contract's names: as they are when the names agree, else every
    assignment of its tensors to the contract's names that fits their shapes (a parameter named
    otherwise is a structure fact, not a forward one)."""
    if set(shapes) <= set(state) or len(state) != len(shapes):
        return [state]
    namings = []
    for order in itertools.permutations(state):
        if all(tuple(state[key].shape) == shape for key, shape in zip(order, shapes.values())):
            namings.append({name: state[key] for name, key in zip(shapes, order)})
        if len(namings) >= MAX_RENAMINGS:
            break
    return namings or [state]


def forward_matches(subject, model, name, formula, x, doing, shapes):
    """The model's output equals the formula evaluated with the model's own weights, whatever it calls them."""
    got = subject.forward(model, x, doing).tensor(doing)
    state = subject.state_dict(model, f"{name}.state_dict()")
    namings = contract_namings(state, shapes)
    for naming in namings[1:]:
        expected = formula(naming, x.to(torch.float64), doing)
        if expected.shape == got.shape and torch.allclose(got.to(torch.float64), expected, **FORWARD_TOLERANCE):
            return got
    assert_close(got, formula(namings[0], x.to(torch.float64), doing), doing, check_dtype=False, **FORWARD_TOLERANCE)
    return got


ELEMENTWISE = {TANH: torch.tanh, RELU: torch.relu}


def check_layer_kinds(subject, model, info: dict, expected: dict[str, str], built: str, seed: int = 0) -> None:
    """Each named layer computes what its kind computes, on the grader's inputs: a class can claim any
    name (``__module__``, ``__qualname__``), so a type name alone never earns the point. A Linear layer
    is the affine map of its own weight and bias, a Sequential its children applied in turn."""
    state = None
    children = lambda path: [m["name"] for m in info["modules"] if m["name"] and m["name"].rpartition(".")[0] == path]  # noqa: E731
    for index, (path, kind) in enumerate(expected.items()):
        where = say("layer_computes", model=built, name=path, kind=kind.rsplit(".", 1)[-1])
        if kind in ELEMENTWISE:
            x = random_tensor((3, 7), seed + index, scale=4)
            want = ELEMENTWISE[kind](x.to(torch.float64))
        elif kind == FLATTEN:
            x = random_tensor((2, 3, 4), seed + index)
            want = x.flatten(1).to(torch.float64)
        elif kind == LINEAR:
            state = state if state is not None else subject.state_dict(model, f"{built}.state_dict()")
            weight = state.get(f"{path}.weight")
            if weight is None or weight.dim() != 2:
                raise fail("no_state_key", doing=built, name=repr(f"{path}.weight"), names=sorted(state))
            bias = state.get(f"{path}.bias")
            x = random_tensor((3, weight.shape[1]), seed + index, scale=3)
            want = F.linear(x.to(torch.float64), weight.to(torch.float64), None if bias is None else bias.to(torch.float64))
        elif kind == SEQUENTIAL:
            parts = children(path)
            first = next((p["shape"] for p in info["parameters"] if p["name"].startswith(f"{parts[0]}.") and len(p["shape"]) == 2), None) if parts else None
            if first is None:
                continue
            x = random_tensor((3, first[1]), seed + index, scale=3)
            want = x
            for part in parts:
                want = subject.forward(model, want, where, path=part).tensor(where)
            where = say("sequential_composes", model=f"{built}.{path}" if path else built)
        else:
            continue
        got = subject.forward(model, x, where, path=path).tensor(where)
        assert_close(got, want, where, check_dtype=False, **FORWARD_TOLERANCE)


@register("seq_net_has_the_lesson_layers", "builders",
          "seq_net is nn.Sequential(Linear(2, 4), Tanh(), Linear(4, 1)) with parameters 0.weight, 0.bias, 2.weight, 2.bias",
          "seq_net 是 nn.Sequential(Linear(2, 4), Tanh(), Linear(4, 1))，参数名为 0.weight、0.bias、2.weight、2.bias",
          needs=["seq_net"], points=2, examples=1)
def seq_net_has_the_lesson_layers(subject, data):
    model = subject.new("seq_net")
    info = subject.describe(model)
    layers = {"": SEQUENTIAL, "0": LINEAR, "1": TANH, "2": LINEAR}
    check_modules(info, layers, "seq_net", exact=True)
    check_parameters(info, seq_net_shapes(), "seq_net")
    check_layer_kinds(subject, model, info, layers, "seq_net")


@register("seq_net_forward_is_the_formula", "builders",
          "seq_net(x) = Linear2(tanh(Linear0(x))) with its own weights, for any batch size",
          "对任意批量大小，seq_net(x) = Linear2(tanh(Linear0(x)))（使用它自己的权重）",
          needs=["seq_net"])
def seq_net_forward_is_the_formula(subject, data):
    n, seed = data.draw(sizes(1, 16), label="n"), data.draw(seeds(), label="seed")
    forward_matches(subject, subject.new("seq_net"), "seq_net", seq_net_formula, random_tensor((n, 2), seed, scale=3),
                    say("for_x_of_shape", call="seq_net(x)", shape=(n, 2)), seq_net_shapes())


@register("seq_model_has_named_layers", "builders",
          "seq_model is an nn.Sequential of hidden_linear = Linear(1, 8), hidden_activation = Tanh(), output_linear = Linear(8, 1), reachable by name",
          "seq_model 是由 hidden_linear = Linear(1, 8)、hidden_activation = Tanh()、output_linear = Linear(8, 1) 组成、可按名字访问的 nn.Sequential",
          needs=["seq_model"], points=2, examples=1)
def seq_model_has_named_layers(subject, data):
    model = subject.new("seq_model")
    info = subject.describe(model)
    layers = {"": SEQUENTIAL, "hidden_linear": LINEAR, "hidden_activation": TANH, "output_linear": LINEAR}
    check_modules(info, layers, "seq_model", exact=True)
    check_parameters(info, seq_model_shapes(), "seq_model")
    order = [m["name"] for m in info["modules"] if m["name"]]
    if order[:3] != ["hidden_linear", "hidden_activation", "output_linear"]:
        raise fail("layer_order", doing="seq_model", order=order, expected="hidden_linear, hidden_activation, output_linear")
    check_layer_kinds(subject, model, info, layers, "seq_model")


@register("module_net_registers_its_layers", "builders",
          "module_net(i, h, o) has layer1 = Linear(i, h), layer2 = Tanh(), layer3 = Linear(h, o), all registered, for any positive sizes",
          "对任意正整数大小，module_net(i, h, o) 含有 layer1 = Linear(i, h)、layer2 = Tanh()、layer3 = Linear(h, o)，且全部注册为子模块",
          needs=["module_net"], points=2)
def module_net_registers_its_layers(subject, data):
    i, h, o = data.draw(sizes(), label="i"), data.draw(sizes(), label="h"), data.draw(sizes(), label="o")
    doing = f"module_net({i}, {h}, {o})"
    model = subject.new("module_net", i, h, o)
    info = subject.describe(model)
    layers = {"layer1": LINEAR, "layer2": TANH, "layer3": LINEAR}
    check_modules(info, layers, doing)
    check_parameters(info, module_net_shapes(i, h, o), doing)
    check_layer_kinds(subject, model, info, layers, doing, seed=i + h + o)


@register("module_net_forward_is_the_formula", "builders",
          "module_net(i, h, o)(x) = layer3(tanh(layer1(x))) with its own weights, for any sizes and batch",
          "对任意大小和批量，module_net(i, h, o)(x) = layer3(tanh(layer1(x)))（使用它自己的权重）",
          needs=["module_net"], points=2)
def module_net_forward_is_the_formula(subject, data):
    i, h, o = data.draw(sizes(), label="i"), data.draw(sizes(), label="h"), data.draw(sizes(), label="o")
    n, seed = data.draw(sizes(1, 16), label="n"), data.draw(seeds(), label="seed")
    model = subject.new("module_net", i, h, o, seed=seed)
    forward_matches(subject, model, "module_net", module_net_formula, random_tensor((n, i), seed, scale=3),
                    say("for_x_of_shape", call=f"module_net({i}, {h}, {o})(x)", shape=(n, i)), module_net_shapes(i, h, o))


@register("seq_net_weights_fit_module_net", "builders",
          "seq_net's weights loaded into module_net(2, 4, 1) (0 -> layer1, 2 -> layer3) give identical outputs",
          "把 seq_net 的权重（0 -> layer1，2 -> layer3）加载进 module_net(2, 4, 1) 后，两者输出完全相同",
          needs=["seq_net", "module_net"], examples=5)
def seq_net_weights_fit_module_net(subject, data):
    n, seed = data.draw(sizes(1, 16), label="n"), data.draw(seeds(), label="seed")
    seq = subject.new("seq_net")
    state = subject.state_dict(seq, "seq_net.state_dict()")
    renamed = {name.replace("0.", "layer1.", 1) if name.startswith("0.") else name.replace("2.", "layer3.", 1): t for name, t in state.items()}
    net = subject.new("module_net", 2, 4, 1)
    subject.load_state_dict(net, renamed, say("load_state_dict", model="module_net(2, 4, 1)", weights=say("seq_net_weights_renamed")))
    x = random_tensor((n, 2), seed, scale=3)
    a = subject.forward(seq, x, "seq_net(x)").tensor("seq_net(x)")
    b = subject.forward(net, x, "module_net(2, 4, 1)(x)").tensor("module_net(2, 4, 1)(x)")
    assert_close(b, a, say("against_for_x_of_shape", got="module_net(2, 4, 1)(x)", expected="seq_net(x)", shape=(n, 2)), check_dtype=False, rtol=1e-6, atol=1e-6)


def model_sizes():
    return st.tuples(sizes(1, 20), sizes(1, 5))


@register("Model_has_the_lesson_layers", "builders",
          "Model(in, out) has linear1 = Linear(in, 13), linear2 = Linear(13, 8), output = Linear(8, out), all registered",
          "Model(in, out) 含有 linear1 = Linear(in, 13)、linear2 = Linear(13, 8)、output = Linear(8, out)，且全部注册",
          needs=["Model"], points=2)
def model_has_the_lesson_layers(subject, data):
    i, o = data.draw(model_sizes(), label="(in, out)")
    doing = f"Model({i}, {o})"
    model = subject.new("Model", i, o)
    info = subject.describe(model)
    layers = {"linear1": LINEAR, "linear2": LINEAR, "output": LINEAR}
    check_modules(info, layers, doing)
    check_parameters(info, model_shapes(i, o), doing)
    check_layer_kinds(subject, model, info, layers, doing, seed=i + o)


@register("Model_forward_is_the_formula", "builders",
          "Model(in, out)(x) = softmax(output(sigmoid(linear2(relu(linear1(x))))), dim=1), batch size 1 included",
          "Model(in, out)(x) = softmax(output(sigmoid(linear2(relu(linear1(x))))), dim=1)，批量大小为 1 时也成立",
          needs=["Model"], points=2)
def model_forward_is_the_formula(subject, data):
    i, o = data.draw(model_sizes(), label="(in, out)")
    n, seed = data.draw(sizes(1, 12), label="n"), data.draw(seeds(), label="seed")
    model = subject.new("Model", i, o, seed=seed)
    forward_matches(subject, model, "Model", model_formula, random_tensor((n, i), seed, scale=3),
                    say("for_x_of_shape", call=f"Model({i}, {o})(x)", shape=(n, i)), model_shapes(i, o))


@register("Model_rows_are_distributions", "builders",
          "each row of Model(in, out)(x) is a probability distribution: non-negative, summing to 1",
          "Model(in, out)(x) 的每一行都是概率分布：非负且和为 1",
          needs=["Model"])
def model_rows_are_distributions(subject, data):
    i, o = data.draw(model_sizes(), label="(in, out)")
    n, seed = data.draw(sizes(1, 12), label="n"), data.draw(seeds(), label="seed")
    doing = say("for_x_of_shape", call=f"Model({i}, {o})(x)", shape=(n, i))
    got = subject.forward(subject.new("Model", i, o, seed=seed), random_tensor((n, i), seed, scale=3), doing).tensor(doing)
    if tuple(got.shape) != (n, o):
        raise fail("wrong_shape", doing=doing, got=tuple(got.shape), expected=(n, o))
    if bool((got < 0).any()):
        raise fail("negative_entries", doing=doing)
    assert_close(got.sum(dim=1).to(torch.float64), torch.ones(n, dtype=torch.float64), say("row_sums", doing=doing), check_dtype=False, rtol=0, atol=1e-5)


@register("NeuralNetwork_has_the_lesson_layers", "builders",
          "NeuralNetwork() has flatten and linear_relu_stack = Sequential(Linear(784, 512), ReLU, Linear(512, 512), ReLU, Linear(512, 10)): 669,706 parameters",
          "NeuralNetwork() 含有 flatten 和 linear_relu_stack = Sequential(Linear(784, 512), ReLU, Linear(512, 512), ReLU, Linear(512, 10))，共 669,706 个参数",
          needs=["NeuralNetwork"], points=2, examples=1)
def neural_network_has_the_lesson_layers(subject, data):
    model = subject.new("NeuralNetwork")
    info = subject.describe(model)
    stack = "linear_relu_stack"
    layers = {"flatten": FLATTEN, stack: SEQUENTIAL, f"{stack}.0": LINEAR, f"{stack}.1": RELU,
              f"{stack}.2": LINEAR, f"{stack}.3": RELU, f"{stack}.4": LINEAR}
    check_modules(info, layers, "NeuralNetwork()", exact=True)
    check_parameters(info, neural_network_shapes(), "NeuralNetwork()")
    count = sum(torch.Size(p["shape"]).numel() for p in info["parameters"])
    if count != 669_706:
        raise fail("parameter_count", doing="NeuralNetwork()", count=f"{count:,}", expected="669,706")
    check_layer_kinds(subject, model, info, layers, "NeuralNetwork()")


@register("NeuralNetwork_maps_images_to_logits", "builders",
          "NeuralNetwork()(x) maps (n, 28, 28) images to (n, 10) logits with no activation after the last layer",
          "NeuralNetwork()(x) 把 (n, 28, 28) 的图像映射为 (n, 10) 的 logits，最后一层之后没有激活函数",
          needs=["NeuralNetwork"], points=2, examples=3)
def neural_network_maps_images_to_logits(subject, data):
    n, seed = data.draw(sizes(1, 4), label="n"), data.draw(seeds(), label="seed")
    x = random_tensor((n, 28, 28), seed)
    doing = say("for_x_of_shape", call="NeuralNetwork()(x)", shape=(n, 28, 28))
    got = forward_matches(subject, subject.new("NeuralNetwork", seed=seed), "NeuralNetwork", neural_network_formula, x, doing, neural_network_shapes())
    if tuple(got.shape) != (n, 10):
        raise fail("wrong_shape", doing=doing, got=tuple(got.shape), expected=(n, 10))
