"""Saving and loading parameters: a weights-only state_dict, restored bit for bit, strictly."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from grader.compare import assert_close
from grader.messages import say
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
    subject.load_state_dict(model, state, say("load_state_dict", model=constructor(name, args), weights=say("known_weights")))
    file = subject.scratch_file()
    doing = f"save_params({constructor(name, args)}, path)"
    subject.call("save_params", model, file, doing=doing)
    return model, args, state, file, doing


def same_state(got: dict, expected: dict, doing: str) -> None:
    """Same keys, shapes, dtypes and bits."""
    if sorted(got) != sorted(expected):
        raise fail("wrong_keys", doing=doing, got=sorted(got), expected=sorted(expected))
    for key, tensor in expected.items():
        if got[key].dtype != tensor.dtype or got[key].shape != tensor.shape or not torch.equal(got[key], tensor):
            assert_close(got[key], tensor, say("labelled", doing=doing, part=key), rtol=0, atol=0)


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
    subject.load_state_dict(fresh, {k: -v for k, v in state.items()}, say("load_state_dict", model=say("fresh_model"), weights=say("other_weights")))
    doing = say("load_into_fresh", model=constructor(name, args))
    returned = subject.call("load_params", fresh, file, doing=doing)
    if returned.kind != "model" or returned.ref != fresh.ref:
        raise fail("not_same_model", doing=doing, got=returned.describe())
    after = say("after", what="state_dict()", doing=doing)
    same_state(subject.state_dict(fresh, after), state, after)


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
    except StudentError:
        return
    raise fail("not_strict", doing=doing)
