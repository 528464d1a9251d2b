"""Replay: a class's later submissions are checked on the examples an earlier one passed.

With a fixed seed Hypothesis generates the same examples for every subject on
which a property holds (the choices depend on the seed and on the draws alone),
so the next subject of a class replays them instead of paying for generation
again: same inputs, same verdict, a fraction of the time. A replayed example
that fails, or that draws differently, sends the subject through Hypothesis in
full (generation and shrinking), exactly as if nothing had been recorded.
Draws may depend on the names a subject defines (they are part of the key),
never on its answers.

The requests each example made are recorded too, and a replay must make exactly
those (a request that differs sends the property to Hypothesis, as a different
draw does). Runs of recorded requests are then sent to the worker together
(``ScriptedChannel``): one hand-over between the processes for many requests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from grader import wire
from grader.outcomes import StudentError, WorkerLost
from grader.properties import Property

# Sent only when the property asks: propgrade's own training loop, the one request too slow to
# risk running for nothing (after a request that differs, the replies sent ahead are dropped).
NEVER_AHEAD = frozenset({"fit"})
# At most this many requests, or bytes of them, are in flight: what a request that differs can waste.
# (The bytes may exceed a pipe's buffer: the worker's channel takes in replies while it writes.)
AHEAD_REQUESTS = 64
AHEAD_BYTES = 256 * 1024


class Diverged(BaseException):
    """A replayed example asked for a draw, or made a request, that was not recorded: it must be generated afresh."""


def fresh_copy(value):
    """A copy no later use can change: tensors cloned, containers rebuilt, immutable values shared
    (what ``copy.deepcopy`` gives for drawn values, several times faster)."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {key: fresh_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(fresh_copy(item) for item in value)
    return value


@dataclass
class Example:
    """One example that held: what it drew (copies, as drawn) and the requests it made (encoded,
    each with whether it may go ahead)."""

    draws: list
    requests: list


class RecordingData:
    """Hypothesis's ``data``, noting every value drawn (a copy, as drawn) for a later replay."""

    def __init__(self, data, draws: list):
        self._data = data
        self._draws = draws

    def draw(self, strategy, label=None):
        value = self._data.draw(strategy, label=label)
        self._draws.append((label, fresh_copy(value)))
        return value


class ReplayData:
    """Stands in for ``data`` and hands back one recorded example's values, in order."""

    def __init__(self, draws: list):
        self._draws = draws
        self._next = 0

    def draw(self, strategy, label=None):
        if self._next >= len(self._draws) or self._draws[self._next][0] != label:
            raise Diverged
        value = self._draws[self._next][1]
        self._next += 1
        return fresh_copy(value)

    @property
    def finished(self) -> bool:
        return self._next == len(self._draws)


class RecordingChannel:
    """Passes a subject's requests on, noting each one for a later replay."""

    def __init__(self, channel):
        self.channel = channel
        self.requests: list[tuple[bytes, bool]] = []

    def request(self, op: str, args: dict, *, doing) -> dict:
        frame = wire.encode({"op": op, "args": args})
        self.requests.append((frame, op not in NEVER_AHEAD))
        self.channel.send([frame], doing=doing)
        return self.channel.receive(doing=doing)


class ScriptedChannel:
    """Passes a replayed subject's requests on, sending ahead what the recording says comes next.

    A request that may go ahead is sent together with the recorded requests after it
    that may too, and the run is topped up while the property takes its replies (half
    a window at a time), so the worker never waits for the property to catch up; at
    most ``AHEAD_REQUESTS`` requests (``AHEAD_BYTES``) are ever in flight. The worker
    still answers each request on its own and in the recorded order, each under the
    per-call limit, so nothing the subject sees changes. A request that is not the
    next recorded one raises ``Diverged``: the replay ends there and Hypothesis
    checks the property afresh (``drop_in_flight`` first reads the replies still owed).
    """

    def __init__(self, channel, script: list[tuple[bytes, bool]]):
        self.channel = channel
        self.script = script
        self.position = 0  # the next request the property makes
        self.sent = 0  # the first request not sent yet
        self.bytes_in_flight = 0
        self.doing = ""  # what the property last asked for, named if dropping the replies after it fails

    @property
    def in_flight(self) -> int:
        return self.sent - self.position

    def request(self, op: str, args: dict, *, doing) -> dict:
        frame = wire.encode({"op": op, "args": args})
        if self.position >= len(self.script) or self.script[self.position][0] != frame:
            raise Diverged
        self.doing = doing
        if not self.in_flight:
            self._send_ahead(doing)
        elif self.in_flight <= AHEAD_REQUESTS // 2 and self._may_go(self.sent - 1):
            self._send_ahead(doing)
        self.position += 1
        self.bytes_in_flight -= len(frame)
        return self.channel.receive(doing=doing)

    def _may_go(self, index: int) -> bool:
        return 0 <= index < len(self.script) and self.script[index][1]

    def _send_ahead(self, doing) -> None:
        """From the first request not sent: that one when nothing is in flight (the property asks for it now),
        then those after it that may go ahead, within the window."""
        start = end = self.sent
        if not self.in_flight:  # the property asks for this one now: it goes, whatever it is
            self.bytes_in_flight += len(self.script[end][0])
            end += 1
        if self._may_go(start):  # and so do those after it that may go ahead
            while self._may_go(end) and end - self.position < AHEAD_REQUESTS and self.bytes_in_flight + len(self.script[end][0]) <= AHEAD_BYTES:
                self.bytes_in_flight += len(self.script[end][0])
                end += 1
        if end > start:
            self.channel.send([frame for frame, _ in self.script[start:end]], doing=doing)
            self.sent = end

    def drop_in_flight(self) -> None:
        """Read and drop the replies still owed, so the channel is in step again."""
        while self.in_flight:
            self.position += 1
            try:
                self.channel.receive(doing=self.doing)
            except StudentError:
                pass


class PassingExamples:
    """The examples of properties that held, kept for one grading process (see the module's docstring)."""

    def __init__(self):
        self._examples: dict[tuple, list[Example]] = {}

    @staticmethod
    def key(prop: Property, subject, seed: int, profile: str) -> tuple:
        """Draws may depend on the names a subject defines; requests name the functions as the
        submission spells them, so the spellings of the names a property needs count too (a class
        that mixes ``module_net`` and ``ModuleNet`` keeps one recording for each)."""
        spellings = tuple((name, subject.spelled(name)) for name in prop.needs if subject.spelled(name) != name)
        return prop.id, seed, profile, bool(subject.cuda), tuple(sorted(subject.names)), spellings

    def get(self, key: tuple) -> list[Example] | None:
        return self._examples.get(key)

    def keep(self, key: tuple, examples: list[Example]) -> None:
        self._examples[key] = examples

    def items(self):
        return list(self._examples.items())

    def __len__(self) -> int:
        return len(self._examples)


# One per grading process (a controller of a class run grades many subjects in turn).
PASSING_EXAMPLES = PassingExamples()


def replay(prop: Property, subject, examples: list[Example]) -> bool:
    """True when the property holds on every recorded example; False sends it to Hypothesis.

    A lost worker or a skip is not a matter of inputs: it ends the check as it would under Hypothesis."""
    channel = ScriptedChannel(subject.channel, [request for example in examples for request in example.requests])
    scripted = replace(subject, channel=channel)
    try:
        for example in examples:
            data = ReplayData(example.draws)
            scripted.begin_example()
            try:
                prop.check(scripted, data)
            except (Exception, Diverged):  # noqa: BLE001 - any failure is Hypothesis's to find and shrink
                return False
            if not data.finished:
                return False
        return True
    finally:
        try:
            channel.drop_in_flight()  # the channel is the check's again, with nothing owed on it
        except WorkerLost:
            pass  # the next property starts in a fresh worker
