"""Saving and loading parameters: a weights-only state_dict, restored bit for bit, strictly."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from grader.compare import assert_close
from grader.outcomes import StudentError, fail
from grader.properties import register
from grader.properties.common import model_shapes, module_net_shapes, seq_net_shapes
from grader.strategies import seeds, sizes
from reference.experiments import initial_state

SUBJECT_MODELS = {
    "seq_net": lambda draw: ((), seq_net_shapes()),
    "module_net": lambda draw: ((i := draw(sizes(), label="i"), h := draw(sizes(), label="h"), o := draw(sizes(), label="o")), module_net_shapes(i, h, o)),
    "Model": lambda draw: ((i := draw(sizes(1, 20), label="in"), o := draw(sizes(1, 5), label="out")), model_shapes(i, o)),
}


def constructor(name: str, args: tuple) -> str:
    return f"{name}({', '.join(map(str, args))})" if args else name


def saved(subject, data, name: str):
    """A subject model with known weights, saved by the student's save_params."""
    args, shapes = SUBJECT_MODELS[name](data.draw)
    seed = data.draw(seeds(), label="seed")
    model = subject.new(name, *args)
    state = initial_state(shapes, seed)
    subject.load_state_dict(model, state, f"{constructor(name, args)}.load_state_dict(known weights)")
    file = subject.scratch_file()
    doing = f"save_params({constructor(name, args)}, path)"
    subject.call("save_params", model, file, doing=doing)
    return model, args, state, file, doing


def same_state(got: dict, expected: dict, doing: str) -> None:
    """Same keys, shapes, dtypes and bits."""
    if sorted(got) != sorted(expected):
        raise fail("file", doing=doing, detail=f"keys {sorted(got)}, expected {sorted(expected)}")
    for key, tensor in expected.items():
        if got[key].dtype != tensor.dtype or got[key].shape != tensor.shape or not torch.equal(got[key], tensor):
            assert_close(got[key], tensor, f"{doing}: {key}", rtol=0, atol=0)


@register("save_params_writes_a_weights_only_state_dict", "saveload",
          "save_params(model, path) writes the model's state_dict, readable by torch.load(path, weights_only=True)",
          "save_params(model, path) 写入模型的 state_dict，可以用 torch.load(path, weights_only=True) 读取",
          needs=["save_params", "module_net"], points=2, examples=5)
def save_params_writes_a_weights_only_state_dict(subject, data):
    _, _, state, file, doing = saved(subject, data, "module_net")
    same_state(subject.read_weights(file, doing), state, doing)


@register("state_dict_round_trip_is_exact", "saveload",
          "save_params then load_params into a fresh, differently initialised model restores the state_dict bit for bit",
          "先 save_params 再 load_params 到一个重新构建、初始化不同的模型，state_dict 逐位恢复",
          needs=["save_params", "load_params", "module_net"], points=3, examples=10)
def state_dict_round_trip_is_exact(subject, data):
    name = data.draw(st.sampled_from([n for n in SUBJECT_MODELS if subject.has(n)]), label="model")
    original, args, state, file, _ = saved(subject, data, name)
    fresh = subject.new(name, *args)
    subject.load_state_dict(fresh, {k: -v for k, v in state.items()}, "fresh model.load_state_dict(other weights)")
    doing = f"load_params(fresh {constructor(name, args)}, path)"
    returned = subject.call("load_params", fresh, file, doing=doing)
    if returned.kind != "model" or returned.ref != fresh.ref:
        raise fail("fact", detail=f"{doing} returned {returned.describe()}, expected the model it loaded into")
    same_state(subject.state_dict(fresh, f"state_dict() after {doing}"), state, f"state_dict() after {doing}")


@register("load_params_is_strict", "saveload",
          "load_params refuses a file saved from another architecture instead of loading part of it",
          "load_params 拒绝加载其他结构保存的文件，而不是只加载其中一部分",
          needs=["save_params", "load_params", "module_net", "seq_net"], examples=2)
def load_params_is_strict(subject, data):
    seq = subject.new("seq_net")
    file = subject.scratch_file()
    subject.call("save_params", seq, file, doing="save_params(seq_net, path)")
    target = subject.new("module_net", 2, 4, 1)
    doing = "load_params(module_net(2, 4, 1), path of seq_net's parameters)"
    try:
        subject.call("load_params", target, file, doing=doing)
    except StudentError:
        return
    raise fail("fact", detail=f"{doing} did not raise: its keys 0.weight, ... do not match layer1.weight, ... (use strict loading)")
