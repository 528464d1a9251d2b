"""Calls that do not fit the contract, told in the student's terms.

When a property calls ``AND(X)`` and the student's ``AND`` is ``def AND(x1, x2)``, Python raises a
TypeError at the call itself, before any line of the student's runs (so the worker reports no frame
of theirs). That is not a bug inside ``AND`` but a different signature: the feedback says what the
student's function takes and what the lesson's takes, from the error's own words (the worker sends
only plain data).
"""

from __future__ import annotations

import re

from grader.messages import Message, say

# What the lesson's version of each contract name is called with, as the feedback says it.
GATE_CALL = say("lesson_takes_gate_X")
TENSOR_CALL = say("lesson_takes_tensor_z")
LESSON_CALLS: dict[str, Message] = {
    **dict.fromkeys(("step", "sigmoid", "tanh", "relu"), TENSOR_CALL),
    **dict.fromkeys(("AND", "OR", "NAND", "XOR"), GATE_CALL),
    "collapse_linear": say("lesson_takes_stack"),
    "train": say("lesson_takes_arguments", signature="(model, x, y, epochs, lr)"),
    "save_params": say("lesson_takes_arguments", signature="(model, path)"),
    "load_params": say("lesson_takes_arguments", signature="(model, path)"),
    "module_net": say("lesson_takes_arguments", signature="(num_input, num_hidden, num_output)"),
    "Model": say("lesson_takes_arguments", signature="(in_features, out_features)"),
    "NeuralNetwork": say("lesson_takes_no_arguments"),
}

_CALLEE = r"(?P<callee>[\w.<>]+)\(\)"
_TAKES = re.compile(_CALLEE + r" takes (?:from (?P<low>\d+) to )?(?P<count>\d+) positional arguments? but \d+ (?:was|were) given$")
_MISSING = re.compile(_CALLEE + r" missing (?P<count>\d+) required (?:positional|keyword-only) arguments?: (?P<names>.+)$")


def arity(message: str, passed: int) -> tuple[int, int, list[str]] | None:
    """(fewest, most, some parameter names) the callee takes, read from Python's arity TypeError."""
    message = message.strip()
    if match := _TAKES.match(message):
        bound = 1 if match["callee"].endswith(".__init__") else 0  # a class's count includes self
        most = int(match["count"]) - bound
        return (int(match["low"]) - bound if match["low"] else most), most, []
    if match := _MISSING.match(message):
        count = passed + int(match["count"])
        return count, count, re.findall(r"'([^']+)'", match["names"])
    return None


def misfit(name: str, passed: int, error: dict) -> Message | None:
    """The feedback for a call of contract name ``name`` with ``passed`` arguments that raised ``error``,
    when the error is the call not fitting the student's signature; ``None`` otherwise."""
    if name not in LESSON_CALLS or error.get("type") != "TypeError" or error.get("traceback"):
        return None
    takes = arity(str(error.get("message", "")), passed)
    if takes is None:
        return None
    fewest, most, names = takes
    if most == 0:
        count = say("no_arguments")
    elif fewest != most:
        count = say("arguments_range", low=fewest, high=most)
    else:
        count = say("arguments_count", count=most)
    if names:
        count = say("arguments_naming", count=count, names=", ".join(names))
    return say("contract_misfit", name=name, takes=count, lesson=LESSON_CALLS[name])
