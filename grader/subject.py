"""A *subject*: whatever answers for the contract's names, seen from the parent.

Properties talk only to ``Subject``. It turns each question into a request for
``remote.Executor``, either in this process (``Subject.in_process``, for the
reference or a trusted module) or in a sandboxed worker (``workermanage``).
Both go through the same wire format, so a property cannot tell them apart.
"""

from __future__ import annotations

import tempfile
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

import torch

from grader import wire
from grader.contract import misfit
from grader.clean_reader import CleanReader, Refused, load_weights, scratch_bytes
from grader.outcomes import StudentError, WorkerLost, fail
from grader.messages import Message, say
from grader.remote import Executor


class Channel:
    """Where a subject's requests go: ``send`` queues encoded requests, ``receive`` returns the replies
    in the same order (``request`` is the two in one). Queued requests are answered one at a time,
    each under its own limit, exactly as if each had been sent after the previous reply."""

    def request(self, op: str, args: dict, *, doing: str | Message) -> dict:
        self.send([wire.encode({"op": op, "args": args})], doing=doing)
        return self.receive(doing=doing)

    def send(self, frames: list[bytes], *, doing: str | Message) -> None:
        raise NotImplementedError

    def receive(self, *, doing: str | Message) -> dict:
        raise NotImplementedError

    def scratch_folder(self) -> Path | None:
        """The folder where the subject's files lie, as this process sees it (None: not reachable from here)."""
        return None


@dataclass(frozen=True)
class Answer:
    """What student code returned, as plain data."""

    kind: str
    type: str
    value: Any = None
    device: str | None = None
    requires_grad: bool = False
    ref: int | None = None
    items: Any = None
    repr: str = ""

    @classmethod
    def of(cls, data: dict) -> "Answer":
        items = data.get("items")
        if isinstance(items, list):
            items = [cls.of(item) for item in items]
        elif isinstance(items, dict):
            items = {key: cls.of(item) for key, item in items.items()}
        return cls(
            kind=data["kind"],
            type=data["type"],
            value=data.get("value"),
            device=data.get("device"),
            requires_grad=bool(data.get("requires_grad", False)),
            ref=data.get("ref"),
            items=items,
            repr=data.get("repr", ""),
        )

    def describe(self) -> str | Message:
        if self.kind == "tensor":
            return say("tensor_of_shape", dtype=str(self.value.dtype), shape=tuple(self.value.shape))
        if self.kind == "scalar":
            return f"{self.type} {self.value!r}"
        return say("an_object", type=self.type)

    def tensor(self, doing: str | Message) -> torch.Tensor:
        """The returned tensor (plain, on the CPU), or a failure saying what came back instead."""
        if self.kind != "tensor":
            raise fail("not_tensor", doing=doing, got=self.describe())
        if self.type not in ("torch.Tensor", "torch.nn.parameter.Parameter"):
            raise fail("not_plain_tensor", doing=doing, got=self.type)
        return self.value


@dataclass(frozen=True)
class Model:
    """A student model that lives where the subject runs, addressed by handle."""

    ref: int
    type: str


@dataclass(frozen=True)
class File:
    """A file the subject may write: ``path`` as the subject sees it, ``name`` (the grader's own) in its folder."""

    ref: int
    path: str
    name: str


@dataclass
class Subject:
    channel: Channel
    names: dict = field(default_factory=dict)
    cuda: bool = False  # compare CUDA against CPU; set by the engine from --device and the worker's answer
    spellings: dict = field(default_factory=dict)  # contract name -> the alias the submission defines it under
    _new_example: bool = field(default=False, repr=False)
    # name -> {"exists", "result" | "error"}: reads a file of the subject's folder where no student code runs
    read_file: Callable[[str], dict] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.read_file is None and hasattr(self.channel, "scratch_folder"):
            self.read_file = partial(read_scratch_file, self.channel.scratch_folder, isinstance(self.channel, LoopbackChannel))

    @classmethod
    def in_process(cls, namespace: dict, wanted: list[str]) -> "Subject":
        scratch = tempfile.TemporaryDirectory(prefix="propgrade-")  # removed when the channel goes
        channel = LoopbackChannel(Executor(namespace, scratch_dir=scratch.name))
        channel.scratch = scratch
        subject = cls(channel)
        subject.names = channel.request("names", {"names": wanted}, doing=say("listing_names"))
        return subject

    def has(self, name: str) -> bool:
        return name in self.names

    def spelled(self, name: str) -> str:
        """The name the submission defines for contract name ``name``; properties and feedback keep the contract name."""
        return self.spellings.get(name, name)

    def begin_example(self) -> None:
        """Models and files of earlier examples are forgotten with the next request, and handles count
        from 1 again: an example's requests are then the same whatever ran before it (see replay.py)."""
        self._new_example = True

    def _ask(self, op: str, doing: str | Message, **args) -> dict:
        if self._new_example:
            args["$forget"] = True
            self._new_example = False
        return self.channel.request(op, args, doing=doing)

    def _ask_calling(self, contract: str, passed: int, op: str, doing: str | Message, **args) -> dict:
        """``_ask`` for a request that calls contract name ``contract`` with ``passed`` arguments: a call
        that does not fit the student's signature says so in the lesson's terms (grader/contract.py)."""
        try:
            return self._ask(op, doing, **args)
        except StudentError as error:
            error.message = misfit(contract, passed, error.error) or error.message
            raise

    def call(self, name: str, *args, device: str | None = None, doing: str | Message | None = None) -> Answer:
        doing = doing or f"{name}(...)"
        reply = self._ask_calling(name, len(args), "call", doing, name=self.spelled(name), args=[_arg(a) for a in args], device=device)
        return Answer.of(reply["result"])

    def call_keeping_args(self, name: str, *args, device: str | None = None, doing: str | Message | None = None):
        """The answer and the arguments as they are after the call (to catch mutation)."""
        doing = doing or f"{name}(...)"
        reply = self._ask_calling(name, len(args), "call", doing, name=self.spelled(name), args=[_arg(a) for a in args], device=device, return_args=True)
        return Answer.of(reply["result"]), [Answer.of(a) for a in reply["args"]]

    def grad(self, name: str, z: torch.Tensor, doing: str | Message) -> tuple[Answer, Answer | None]:
        reply = self._ask_calling(name, 1, "grad", doing, name=self.spelled(name), z=z)
        grad = reply["grad"]
        return Answer.of(reply["result"]), Answer.of(grad) if grad is not None else None

    def new(self, name: str, *args, doing: str | Message | None = None, seed: int = 0) -> Model:
        """A fresh model built from ``seed``: the same call always gives the same initial weights."""
        doing = doing or (f"{name}({', '.join(map(repr, args))})" if args else name)
        answer = Answer.of(self._ask_calling(name, len(args), "new", doing, name=self.spelled(name), args=list(args), seed=seed))
        return self.model(answer, doing)

    def model(self, answer: Answer, doing: str | Message) -> Model:
        if answer.kind != "model":
            raise fail("not_module", doing=doing, got=answer.describe())
        return Model(answer.ref, answer.type)

    def stack(self, layers: list[dict]) -> Model:
        """propgrade's own ``nn.Sequential`` of Linear (and Tanh) layers with the given weights."""
        answer = Answer.of(self._ask("stack", say("building_stack"), layers=layers))
        return Model(answer.ref, answer.type)

    def forward(self, model: Model, x: torch.Tensor, doing: str | Message, device: str | None = None, path: str = "") -> Answer:
        """``model(x)``, or the submodule at ``path`` applied to ``x`` (to judge a layer by what it computes)."""
        args = {"ref": model.ref, "x": x, "device": device}
        if path:
            args["path"] = path
        return Answer.of(self._ask("forward", doing, **args)["result"])

    def describe(self, model: Model) -> dict:
        return self._ask("describe", say("inspecting_model"), ref=model.ref)

    def state_dict(self, model: Model, doing: str | Message = "state_dict()") -> dict[str, torch.Tensor]:
        answer = Answer.of(self._ask("state_dict", doing, ref=model.ref)["result"])
        return tensors_of(answer, doing)

    def load_state_dict(self, model: Model, state: dict[str, torch.Tensor], doing: str | Message) -> None:
        self._ask("load_state_dict", doing, ref=model.ref, state=state)

    def replace_with_identity(self, model: Model, path: str) -> None:
        self._ask("replace", say("replacing_with_identity", path=path), ref=model.ref, path=path, replacement="identity")

    def replace_with_scaled_identity(self, model: Model, path: str, factor: float) -> None:
        """Swap the submodule at ``path`` for a grader-made layer computing ``factor * x``, of a class made for
        this request under a random name: a probe the submission cannot recognise by its kind."""
        self._ask("replace", say("replacing_with_scaled_identity", path=path, factor=factor), ref=model.ref, path=path,
                  replacement="scaled", factor=float(factor))

    def to(self, model: Model, device: str, doing: str | Message) -> bool:
        """Move the model; True when ``.to`` returned the model itself."""
        return bool(self._ask("to", doing, ref=model.ref, device=device)["same"])

    def fit(self, model: Model, x, y, epochs: int, lr: float, doing: str | Message) -> list[float]:
        return self._ask("fit", doing, ref=model.ref, x=x, y=y, epochs=epochs, lr=lr)["losses"]

    def scratch_file(self, suffix: str = ".pt") -> File:
        reply = self._ask("scratch_path", say("making_file_name"), suffix=suffix)
        ref = reply["file"]
        if type(ref) is not int or not 0 < ref < 1 << 31:
            raise WorkerLost("protocol", say("protocol", doing=say("making_file_name")))
        return File(ref, reply["path"], scratch_name(ref, suffix))

    def read_saved(self, file: File, doing: str | Message) -> Answer:
        """What ``torch.load(weights_only=True)`` makes of the file, loaded in a process that never ran student
        code (``grader/clean_reader.py``): the worker is never asked what its file holds."""
        if self.read_file is None:
            raise WorkerLost("protocol", say("protocol", doing=doing))
        reply = self.read_file(file.name)
        if not reply["exists"]:
            raise fail("file_missing", doing=doing)
        if "error" in reply:
            error = reply["error"]
            raise fail("file_refused", doing=doing, type=error["type"], message=error["message"][:300])
        return Answer.of(reply["result"])

    def read_weights(self, file: File, doing: str | Message) -> dict[str, torch.Tensor]:
        """The file's str -> tensor mapping, as ``read_saved`` reads it."""
        return tensors_of(self.read_saved(file, doing), say("file_written_by", doing=doing))

    def drop(self, model: Model) -> None:
        self._ask("drop", say("releasing_model"), ref=model.ref)


def tensors_of(answer: Answer, doing: str | Message) -> dict[str, torch.Tensor]:
    """A str -> tensor mapping, or a failure that says what it was instead."""
    if answer.kind != "dict":
        raise fail("not_mapping", doing=doing, got=answer.describe())
    bad = [key for key, item in answer.items.items() if item.kind != "tensor"]
    if bad:
        raise fail("not_tensor", doing=say("item", mapping=doing, entry=repr(bad[0])), got=answer.items[bad[0]].describe())
    return {key: item.value for key, item in answer.items.items()}


def scratch_name(ref: int, suffix: str) -> str:
    """The name ``Executor.op_scratch_path`` gives file ``ref``: the grader's own, never one the worker reports."""
    return f"propgrade-{ref}{suffix}"


def read_scratch_file(folder: Callable[[], Path | None], in_process: bool, name: str) -> dict:
    """File ``name`` of the subject's folder as ``torch.load(weights_only=True)`` sees it: loaded here for an
    in-process subject (trusted code), otherwise in the submission's clean reader child."""
    where = folder()
    if where is None:
        return {"exists": True, "error": {"type": "Unreachable", "message": "the worker's folder is not reachable"}}
    try:
        data = scratch_bytes(where, name)
    except Refused as refused:
        return {"exists": True, "error": {"type": "Refused", "message": str(refused)}}
    if data is None:
        return {"exists": False}
    return {"exists": True, **(load_weights(data) if in_process else CleanReader.shared().read(data, owner=str(where)))}


def _arg(value):
    if isinstance(value, Model):
        return {"$model": value.ref}
    if isinstance(value, File):
        return {"$file": value.ref}
    return value


class LoopbackChannel(Channel):
    """Serves requests in this process, through the same wire format as a worker."""

    def __init__(self, executor: Executor):
        self.executor = executor
        self._replies: deque[bytes] = deque()

    def send(self, frames: list[bytes], *, doing: str | Message) -> None:
        self._replies.extend(wire.encode(self.executor.handle(wire.decode(frame))) for frame in frames)

    def receive(self, *, doing: str | Message) -> dict:
        return unwrap(wire.decode(self._replies.popleft()), doing)

    def scratch_folder(self) -> Path | None:
        return Path(self.executor.scratch_dir)


def unwrap(reply: dict, doing: str | Message) -> dict:
    status = reply.get("status") if isinstance(reply, dict) else None
    if status == "ok":
        return reply["reply"]
    if status == "raised":
        raise StudentError(doing, reply["error"])
    raise WorkerLost("protocol", say("protocol", doing=doing))
