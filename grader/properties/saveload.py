"""Saving and loading parameters: a weights-only state_dict of the model's own weights, restored exactly, strictly.

Each fact rests on what the grader establishes itself. A saved file is read by the
controller and loaded in a process that never ran student code (``Subject.read_weights``,
``grader/clean_reader.py``). That a file holds a model's weights, or that a load restored
them, is judged by what the model computes on the grader's inputs against the grader's
own formula; the worker's ``state_dict()`` is never asked (student code can rebind it).
Every property runs on the student's own model, so a model of another width or with other
parameter names loses only its structure properties, not these.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from grader.compare import assert_close
from grader.messages import say
from grader.outcomes import StudentError, fail
from grader.properties import register
from grader.strategies import random_tensor, seeds, sizes

FORWARD_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}

# contract name -> (draw the constructor's arguments, the input width those arguments give)
SUBJECT_MODELS = {
    "seq_net": (lambda draw: (), lambda args: 2),
    "module_net": (lambda draw: (draw(sizes(), label="i"), draw(sizes(), label="h"), draw(sizes(), label="o")), lambda args: args[0]),
    "Model": (lambda draw: (draw(sizes(1, 20), label="in"), draw(sizes(2, 5), label="out")), lambda args: args[0]),
}  # Model(in, 1) is left out: its softmax over one class is 1 whatever the weights, so it shows no load


def constructor(name: str, args: tuple) -> str:
    return f"{name}({', '.join(map(str, args))})" if args else name


def saved(subject, data, name: str):
    """A freshly built subject model (seeded), its outputs on drawn inputs, and the file its save_params wrote."""
    draw_args, width = SUBJECT_MODELS[name]
    args = draw_args(data.draw)
    seed, n = data.draw(seeds(), label="seed"), data.draw(sizes(1, 8), label="n")
    model = subject.new(name, *args, seed=seed)
    x = random_tensor((n, width(args)), seed, scale=3)
    file = subject.scratch_file()
    doing = f"save_params({constructor(name, args)}, path)"
    subject.call("save_params", model, file, doing=doing)
    return model, args, seed, x, file, doing


def outputs(subject, model, x: torch.Tensor, built: str) -> torch.Tensor:
    doing = say("for_x_of_shape", call=f"{built}(x)", shape=tuple(x.shape))
    return subject.forward(model, x, doing).tensor(doing)


def holds_weights_of(subject, model, built: str, state: dict, seed: int, doing: str) -> None:
    """The file's tensors are the model's own parameters: the same names and shapes (facts of its
    structure), and each Linear layer computes, on the grader's inputs, the affine map that the
    file's weight and bias give (a fact of behaviour, whatever the layers are called)."""
    info = subject.describe(model)
    parameters = {p["name"]: tuple(p["shape"]) for p in info["parameters"]}
    got = {key: tuple(tensor.shape) for key, tensor in state.items()}
    if got != parameters:
        raise fail("wrong_keys", doing=say("file_written_by", doing=doing), got=sorted(got.items()), expected=sorted(parameters.items()))
    checked = 0
    for key, weight in sorted(state.items()):
        layer, _, kind = key.rpartition(".")
        if kind != "weight" or weight.dim() != 2 or not layer:
            continue
        bias = state.get(f"{layer}.bias")
        x = random_tensor((3, weight.shape[1]), seed + checked, scale=3)
        where = say("layer_with_file_weights", model=built, name=layer, doing=doing)
        got_out = subject.forward(model, x, where, path=layer).tensor(where)
        expected = F.linear(x.to(torch.float64), weight.to(torch.float64), None if bias is None else bias.to(torch.float64))
        assert_close(got_out, expected, where, check_dtype=False, **FORWARD_TOLERANCE)
        checked += 1
    if not checked:
        raise fail("wrong_keys", doing=say("file_written_by", doing=doing), got=sorted(got.items()), expected=sorted(parameters.items()))


def same_saved(got, expected, doing) -> None:
    """Two files' contents as the clean reader saw them: the same keys, types, shapes, dtypes and bits."""
    if got.kind != expected.kind or (got.kind != "tensor" and got.type != expected.type):
        raise fail("wrong_keys", doing=doing, got=got.describe(), expected=expected.describe())
    if got.kind == "dict":
        if sorted(got.items) != sorted(expected.items):
            raise fail("wrong_keys", doing=doing, got=sorted(got.items), expected=sorted(expected.items))
        for key, item in expected.items.items():
            same_saved(got.items[key], item, say("labelled", doing=doing, part=key))
    elif got.kind == "list":
        if len(got.items) != len(expected.items):
            raise fail("wrong_keys", doing=doing, got=got.describe(), expected=expected.describe())
        for index, (a, b) in enumerate(zip(got.items, expected.items)):
            same_saved(a, b, say("labelled", doing=doing, part=str(index)))
    elif got.kind == "tensor":
        a, b = got.value, expected.value
        if a.dtype != b.dtype or a.shape != b.shape or not torch.equal(a, b):
            assert_close(a, b, doing, rtol=0, atol=0)
    elif got.value != expected.value or got.repr != expected.repr:
        raise fail("wrong_keys", doing=doing, got=got.describe(), expected=expected.describe())


@register("save_params_writes_a_weights_only_state_dict", "saveload",
          "save_params(model, path) writes the model's state_dict, readable by torch.load(path, weights_only=True)",
          "save_params(model, path) 写入模型的 state_dict，可以用 torch.load(path, weights_only=True) 读取",
          needs=["save_params", "module_net"], points=2, examples=5)
def save_params_writes_a_weights_only_state_dict(subject, data):
    model, args, seed, _, file, doing = saved(subject, data, "module_net")
    holds_weights_of(subject, model, constructor("module_net", args), subject.read_weights(file, doing), seed, doing)


@register("state_dict_round_trip_is_exact", "saveload",
          "save_params then load_params into a fresh, differently initialised model restores the model bit for bit",
          "先 save_params 再 load_params 到一个重新构建、初始化不同的模型，模型逐位恢复",
          needs=["save_params", "load_params", "module_net"], points=3, examples=10)
def state_dict_round_trip_is_exact(subject, data):
    """The student's own model A is saved; a fresh model B, given other weights, is loaded from the file and
    must then compute A's outputs bit for bit, and save a file identical to A's (both read in the clean reader)."""
    name = data.draw(st.sampled_from([n for n in SUBJECT_MODELS if subject.has(n)]), label="model")
    original, args, seed, x, file, doing = saved(subject, data, name)
    built = constructor(name, args)
    first = subject.read_saved(file, doing)
    expected = outputs(subject, original, x, built)
    fresh = subject.new(name, *args, seed=seed + 1)
    shapes = [(p["name"], p["shape"]) for p in subject.describe(fresh)["parameters"]]
    other = {key: random_tensor(tuple(shape), seed + 2 + index, scale=0.5) for index, (key, shape) in enumerate(shapes)}
    subject.load_state_dict(fresh, other, say("load_state_dict", model=say("fresh_model"), weights=say("other_weights")))
    loading = say("load_into_fresh", model=built)
    # A forward that ignores its weights (a forward bug, charged by the forward properties) cannot
    # show the load; the file saved after it still does.
    observable = not torch.equal(outputs(subject, fresh, x, built), expected)
    returned = subject.call("load_params", fresh, file, doing=loading)
    if returned.kind != "model" or returned.ref != fresh.ref:
        raise fail("not_same_model", doing=loading, got=returned.describe())
    if observable:
        after = say("fresh_after_load", doing=loading)
        assert_close(outputs(subject, fresh, x, built), expected, after, rtol=0, atol=0)
    again = subject.scratch_file()
    saving = say("file_after_round_trip", doing=loading)
    subject.call("save_params", fresh, again, doing=saving)
    same_saved(subject.read_saved(again, saving), first, saving)


@register("load_params_is_strict", "saveload",
          "load_params refuses a file saved from another architecture instead of loading part of it",
          "load_params 拒绝加载其他结构保存的文件，而不是只加载其中一部分",
          needs=["save_params", "load_params", "module_net", "seq_net"], examples=2)
def load_params_is_strict(subject, data):
    seq = subject.new("seq_net")
    file = subject.scratch_file()
    subject.call("save_params", seq, file, doing="save_params(seq_net, path)")
    target = subject.new("module_net", 2, 4, 1)
    doing = say("load_seq_net_file")
    try:
        subject.call("load_params", target, file, doing=doing)
    except StudentError as error:
        if error.not_implemented:
            raise  # a stub refuses every file, strict or not
        return
    raise fail("not_strict", doing=doing)
