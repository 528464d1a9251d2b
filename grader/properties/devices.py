"""Devices: code that computes wherever its input and parameters live.

Without CUDA, two probes still show device-agnostic code: PyTorch's ``meta``
device, and PyTorch's fake tensors (``FakeTensorMode``), which report another
device (``lazy:0``) and hold no data. A function or forward that builds a tensor on a fixed
device (or reads values with Python loops) fails on both. Each
``*_runs_on_meta_device`` property asks both in every example: one fact, one
property, so code that recognises one probe (``x.device.type == "meta"``)
still meets the other. The verdict rests on what comes back (its device and
shape), checked here. The CUDA comparisons are *skipped*, never passed, where
no CUDA device is available.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from grader.compare import assert_close, show
from grader.messages import say
from grader.outcomes import SkipProperty, fail
from grader.properties import register
from grader.properties.activations import ACTIVATIONS
from grader.properties.gates import GATES
from grader.remote import FAKE
from grader.strategies import float_dtypes, gate_inputs, gate_rows, random_tensor, shapes, sizes, tensors

MODELS = {
    "seq_net": ((), (2,)),
    "seq_model": ((), (1,)),
    "module_net": ((3, 5, 2), (3,)),
    "Model": ((6, 3), (6,)),
    "NeuralNetwork": ((), (28, 28)),
}


def function_input(name: str, data) -> torch.Tensor:
    dtype = data.draw(float_dtypes(), label="dtype")
    if name in GATES:
        return gate_inputs(data.draw(gate_rows(), label="rows"), dtype)
    return data.draw(tensors(dtype, shapes(), bound=100.0), label="z")


def expected_shape(name: str, x: torch.Tensor) -> tuple:
    return (x.shape[0],) if name in GATES else tuple(x.shape)


# The second probe: fake tensors that report PyTorch's lazy device, neither the CPU nor meta. Every PyTorch build
# links that device's guard, so indexing works on it (fake "cuda" tensors fail at x[:, 0] on a CPU-only build),
# and no real device is touched (grader/remote.py). Index 0: x.new_tensor(...) on it lands on index 0.
FAKE_DEVICE = "lazy:0"


def check_answer(result, doing, device: str, shape: tuple) -> None:
    """The answer is a plain tensor of ``shape`` on ``device``."""
    got = result.tensor(doing)
    if result.device != device:
        raise fail("wrong_device", doing=doing, got=result.device, expected=device)
    if tuple(got.shape) != shape:
        raise fail("wrong_shape", doing=doing, got=tuple(got.shape), expected=shape)


def _function_on_meta(name: str) -> None:
    @register(f"{name}_runs_on_meta_device", "devices",
              f"{name} computes on the device of its input (checked on PyTorch's meta device and on fake tensors of another device): "
              "no tensor made on a fixed device",
              f"{name} 在输入所在的设备上计算（用 PyTorch 的 meta 设备和另一设备上的 fake 张量检查）：不在固定设备上创建张量",
              needs=[name], examples=5)
    def runs_on_meta(subject, data):
        x = function_input(name, data)
        doing = say("on_meta", name=name, shape=tuple(x.shape))
        check_answer(subject.call(name, x, device="meta", doing=doing), doing, "meta", expected_shape(name, x))
        doing = say("on_fake_device", name=name, device=FAKE_DEVICE, shape=tuple(x.shape))
        check_answer(subject.call(name, x, device=f"{FAKE}{FAKE_DEVICE}", doing=doing), doing, FAKE_DEVICE, expected_shape(name, x))


def _model_on_meta(name: str) -> None:
    args, features = MODELS[name]

    @register(f"{name}_runs_on_meta_device", "devices",
              f"{name}: .to(device) moves every parameter, and forward computes on that device "
              "(checked on meta and with fake tensors of another device)",
              f"{name}：.to(device) 会移动所有参数，forward 在该设备上计算（用 meta 设备和另一设备上的 fake 张量检查）",
              needs=[name], examples=2)
    def runs_on_meta(subject, data):
        n = data.draw(sizes(1, 4), label="n")
        label = f"{name}({', '.join(map(str, args))})" if args else name
        x = torch.zeros((n, *features))
        probes = (("meta", "meta", say("model_on_meta", model=label)),
                  (f"{FAKE}{FAKE_DEVICE}", FAKE_DEVICE, say("model_on_fake_device", model=label, device=FAKE_DEVICE)))
        for request, device, doing in probes:
            model = subject.new(name, *args)
            call = f"{label}.to({device!r})"
            if not subject.to(model, request, call):
                raise fail("to_returned_other", call=call)
            info = subject.describe(model)
            stray = [p["name"] for p in info["parameters"] if p["device"] != device]
            if stray or info["unregistered"]:
                raise fail("stayed_behind", call=call, names=stray + info["unregistered"])
            result = subject.forward(model, x, doing, device=request)
            result.tensor(doing)
            if result.device != device:
                raise fail("wrong_device", doing=doing, got=result.device, expected=device)


for _name in (*ACTIVATIONS, *GATES):
    _function_on_meta(_name)
for _name in MODELS:
    _model_on_meta(_name)


def require_cuda(subject) -> None:
    """A second line of defence: ``check`` already skips ``cuda`` properties without CUDA."""
    if not subject.cuda:
        raise SkipProperty(say("skipped", reason=say("no_cuda")))


@register("functions_on_cuda_match_cpu", "devices",
          "activations and gates give the CPU's results on CUDA, returned on the CUDA device",
          "激活函数和逻辑门在 CUDA 上的结果与 CPU 一致，并返回在 CUDA 设备上",
          needs=[*ACTIVATIONS, *GATES], points=2, cuda=True, examples=10)
def functions_on_cuda_match_cpu(subject, data):
    require_cuda(subject)
    name = data.draw(st.sampled_from([*ACTIVATIONS, *GATES]), label="function")
    x = function_input(name, data)
    cpu = subject.call(name, x, doing=f"{name}(x)").tensor(f"{name}(x)")
    doing = say("on_cuda", name=name, x=show(x))
    result = subject.call(name, x, device="cuda", doing=doing)
    got = result.tensor(doing)
    if not result.device.startswith("cuda"):
        raise fail("wrong_device", doing=doing, got=result.device, expected="cuda")
    assert_close(got, cpu, say("against_cpu", doing=doing), inputs=x if name in ACTIVATIONS else None, check_dtype=True, rtol=1e-5, atol=1e-6)


@register("models_on_cuda_match_cpu", "devices",
          "every model moved with .to('cuda') gives the CPU's outputs, on the CUDA device",
          "每个模型用 .to('cuda') 移动后，输出与 CPU 一致，并位于 CUDA 设备上",
          needs=list(MODELS), points=2, cuda=True, examples=5)
def models_on_cuda_match_cpu(subject, data):
    require_cuda(subject)
    name = data.draw(st.sampled_from(list(MODELS)), label="model")
    args, features = MODELS[name]
    n, seed = data.draw(sizes(1, 4), label="n"), data.draw(st.integers(0, 999), label="seed")
    model = subject.new(name, *args)
    x = random_tensor((n, *features), seed)
    cpu = subject.forward(model, x, f"{name}(x)").tensor(f"{name}(x)")
    subject.to(model, "cuda", f"{name}.to('cuda')")
    doing = say("model_on_cuda", name=name)
    result = subject.forward(model, x, doing, device="cuda")
    got = result.tensor(doing)
    if not result.device.startswith("cuda"):
        raise fail("wrong_device", doing=doing, got=result.device, expected="cuda")
    assert_close(got, cpu, say("against_cpu", doing=doing), rtol=1e-4, atol=1e-5)


@register("params_round_trip_across_devices", "devices",
          "parameters saved from a CUDA model load into a CPU model (and back) unchanged",
          "从 CUDA 模型保存的参数可以原样加载到 CPU 模型（反之亦然）",
          needs=["save_params", "load_params", "module_net"], points=2, cuda=True, examples=3)
def params_round_trip_across_devices(subject, data):
    require_cuda(subject)
    source_device, target_device = data.draw(st.sampled_from([("cuda", "cpu"), ("cpu", "cuda")]), label="devices")
    source = subject.new("module_net", 2, 4, 1)
    expected = subject.state_dict(source)
    subject.to(source, source_device, f"module_net.to({source_device!r})")
    file = subject.scratch_file()
    subject.call("save_params", source, file, doing=say("save_on_device", device=source_device))
    target = subject.new("module_net", 2, 4, 1)
    subject.to(target, target_device, f"module_net.to({target_device!r})")
    doing = say("load_on_device", target=target_device, source=source_device)
    subject.call("load_params", target, file, doing=doing)
    got = subject.state_dict(target, say("after", what="state_dict()", doing=doing))
    for key, tensor in expected.items():
        if key not in got:
            raise fail("missing_key", doing=doing, entry=key)
        assert_close(got[key], tensor, say("after", what=key, doing=doing), rtol=0, atol=0)
