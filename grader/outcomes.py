"""How a check can end, other than by passing."""

from __future__ import annotations

import re

from grader.messages import Message, say


class PropertyFailure(AssertionError):
    """A property does not hold; the message says where and by how much."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(message.render("en"))


def fail(key: str, **fields) -> PropertyFailure:
    return PropertyFailure(say(key, **fields))


class StudentError(Exception):
    """Student code raised while answering: an *error* verdict once shrunk."""

    def __init__(self, doing: str, error: dict):
        self.doing = doing
        self.error = error
        # A stub left as released (``raise NotImplementedError("step")``, or a bare one) is work not done yet, not a
        # bug to trace; torch's own NotImplementedError (an op the meta device lacks) has a sentence for a message.
        self.not_implemented = error.get("type") == "NotImplementedError" and re.fullmatch(r"[\w.]*", str(error.get("message", "")).strip()) is not None
        if self.not_implemented:
            self.message = say("not_implemented", doing=doing)
        else:
            self.message = say("raised", doing=doing, type=error.get("type"), message=str(error.get("message"))[:300])
        super().__init__(self.message.render("en"))


class WorkerLost(BaseException):
    """The worker timed out, ran out of memory, crashed or broke the protocol.

    A BaseException so that Hypothesis does not try to shrink it: the worker is
    gone, and every further call would only fail the same way.
    """

    def __init__(self, reason: str, message: Message):
        self.reason = reason
        self.message = message
        super().__init__(message.render("en"))


class SkipProperty(BaseException):
    """The property cannot be checked here (for example: no CUDA device)."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(message.render("en"))
