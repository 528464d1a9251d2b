"""The controller: grade one submission, start to finish, in a worker of its own.

load (``load.py``) -> run in a worker (``workermanage.py`` / ``remote.py``) ->
check properties (``check.py``) -> score (``score.py``) -> write (``results.py``).
A worker that hangs, crashes or runs out of memory costs the property (or the
notebook cell) it was busy with; grading goes on in a fresh worker that runs
the submission again, skipping the cells that killed its predecessor.
"""

from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import dataclass, field

import torch

from grader.assignment import Assignment, default_assignment
from grader.check import Verdict, check
from grader.load import Submission
from grader.messages import Message, say
from grader.outcomes import PropertyFailure, StudentError, WorkerLost
from grader.properties import Property
from grader.properties.common import seq_net_shapes
from grader.replay import PASSING_EXAMPLES
from grader.score import SubmissionResult, score
from grader.subject import Channel, Subject
from grader.workermanage import Limits, Worker, cores_to_share, memory_text, share_one_core

MAX_RESTARTS = 100
GRACE_SECONDS = 3.0  # after a cell's own limit, before the worker is killed from outside


@dataclass
class CellOutcome:
    cell: int  # 1-based, as a student counts code cells
    ok: bool
    message: Message | None = None
    seconds: float = 0.0


@dataclass
class Options:
    seed: int = 0
    device: str = "cpu"  # "cpu" or "cuda": where the worker may compute
    profile: str = "default"
    limits: Limits = field(default_factory=Limits)
    properties: list[Property] | None = None  # overrides the assignment's choice (tests, selftest)
    assignment: Assignment = field(default_factory=default_assignment)
    replay: bool = True  # replay the examples of properties that held for an earlier submission (replay.PassingExamples)

    def checked_properties(self) -> list[Property]:
        """What a submission is checked against: the properties given, else the assignment's enabled ones at its points."""
        return self.properties or self.assignment.properties()


class Session(Channel):
    """A submission running in a worker, re-run in a fresh worker whenever one is lost.

    It is the subject's channel: properties ask, the session forwards to the
    current worker with the per-call deadline, never past the total limit.
    """

    def __init__(self, submission: Submission, options: Options):
        self.submission = submission
        self.options = options
        self.limits = options.limits
        self.deadline = time.monotonic() + self.limits.total_seconds
        self.worker: Worker | None = None
        self.cells: list[CellOutcome] = []
        self.skip: set[int] = set()
        self.restarts = 0
        self.output = ""
        self.peak_resident = 0

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _start(self) -> None:
        self.worker = Worker(self.submission.folder, limits=self.limits, seed=self.options.seed, device=self.options.device)
        self.worker.start()

    def run(self) -> None:
        """Start a worker and run the submission; cells that kill the worker are skipped on the next try."""
        first_run = not self.cells
        while True:
            try:
                self._start()
                self._run_cells(record=first_run)
                return
            except WorkerLost as lost:
                first_run = False
                self._stop_worker()
                self.restarts += 1
                if self.restarts > MAX_RESTARTS or self.remaining() <= 0:
                    raise lost

    def _run_cells(self, record: bool) -> None:
        module = self.submission.kind == "module"
        for index, source in enumerate(self.submission.cells, start=1):
            if index in self.skip:
                continue
            doing = self.submission.entry if module else say("cell", cell=index)
            seconds = min(self.limits.cell_seconds, max(self.remaining(), 0.1))
            op, args = ("run_module", {"source": source, "filename": self.submission.entry}) if module else ("run_cell", {"source": source, "index": index})
            args["seconds"] = seconds
            try:
                outcome = self.worker.request(op, args, doing=doing, seconds=seconds + GRACE_SECONDS)
            except WorkerLost as lost:
                self.skip.add(index)
                self._record(CellOutcome(index, False, lost.message, seconds))
                raise
            if not outcome["ok"]:
                error = outcome["error"]
                if error.get("type") == "RanOutOfTime":
                    message = say("timeout", seconds=round(seconds, 1), doing=doing)
                elif error.get("type") == "MemoryError":
                    message = say("memory", cap=memory_text(self.limits.memory_bytes), doing=doing)
                elif module:
                    message = say("module_error", file=self.submission.entry, line=error.get("line"), type=error["type"], message=error["message"][:300])
                else:
                    message = say("cell_error", cell=index, type=error["type"], message=error["message"][:300])
                self._record(CellOutcome(index, False, message, outcome["seconds"]), replace=not record)
            elif record:
                self._record(CellOutcome(index, True, None, outcome["seconds"]))

    def _record(self, outcome: CellOutcome, replace: bool = False) -> None:
        existing = next((i for i, c in enumerate(self.cells) if c.cell == outcome.cell), None)
        if existing is None:
            self.cells.append(outcome)
            self.cells.sort(key=lambda c: c.cell)
        elif replace or not self.cells[existing].message:
            self.cells[existing] = outcome

    def request(self, op: str, args: dict, *, doing: str) -> dict:
        """One request under one deadline for sending and answering, as the per-call limit means."""
        return self._usable_worker().request(op, args, doing=doing, seconds=min(self.limits.call_seconds, self.remaining()))

    def send(self, frames: list[bytes], *, doing: str) -> None:
        self._usable_worker().send(frames, doing=doing, seconds=min(self.limits.call_seconds, self.remaining()))

    def receive(self, *, doing: str) -> dict:
        return self._usable_worker().receive(doing=doing, seconds=min(self.limits.call_seconds, self.remaining()))

    def _usable_worker(self) -> Worker:
        if self.remaining() <= 0:
            raise WorkerLost("timeout", say("timeout", seconds=self.limits.total_seconds, doing=say("total_limit")))
        if self.worker is None or self.worker.lost is not None:
            raise WorkerLost("crashed", say("not_run", reason=say("worker_lost_earlier")))
        return self.worker

    def ensure_worker(self) -> None:
        """Replace a lost worker before the next property."""
        if self.worker is not None and self.worker.lost is None:
            return
        self._stop_worker()
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            raise WorkerLost("crashed", say("not_run", reason=say("worker_lost_times", count=MAX_RESTARTS)))
        self.run()

    def _stop_worker(self) -> None:
        if self.worker is not None:
            text = self.worker.stop()
            self.peak_resident = max(self.peak_resident, self.worker.peak_resident)
            if text and not self.output:
                self.output = text
            self.worker = None

    def close(self) -> None:
        self._stop_worker()


SEQ_NET_SHAPES = seq_net_shapes()  # the contract's seq_net: Linear(2, 4), Tanh, Linear(4, 1)


def seq_net_weights(subject: Subject) -> dict | None:
    """The weights of the student's ``seq_net`` as their work left them (trained, if they trained it),
    as plain numbers for the report's decision-boundary picture; None where there is no such network."""
    if not subject.has("seq_net"):
        return None
    try:
        model = subject.new("seq_net")
        state = subject.state_dict(model)
        subject.drop(model)
    except (PropertyFailure, StudentError, WorkerLost):
        return None
    if {name: tuple(tensor.shape) for name, tensor in state.items()} != SEQ_NET_SHAPES:
        return None
    weights = {name: tensor.to(torch.float64) for name, tensor in state.items()}
    if not all(torch.isfinite(tensor).all() for tensor in weights.values()):
        return None
    return {name: tensor.tolist() for name, tensor in weights.items()}


def unchecked(properties, kind: str, message: Message, options: Options) -> list[Verdict]:
    """Verdicts for a submission that never got to be checked; CUDA ones stay skipped without CUDA,
    so every submission in a gradebook has the same maximum."""
    no_cuda = say("skipped", reason=say("no_cuda"))
    return [Verdict(p.id, "skipped", no_cuda) if p.cuda and options.device != "cuda" else Verdict(p.id, kind, message) for p in properties]


def grading_key(options: Options) -> dict:
    """Everything besides the submission's content that decides its grade: a result written under
    the same key for the same content is still valid, and a re-run keeps it."""
    from grader import __version__

    checked = repr([(p.id, p.points) for p in options.checked_properties()]) + repr(options.limits)
    return {
        "propgrade": __version__,
        "assignment": options.assignment.fingerprint(),
        "seed": options.seed,
        "profile": options.profile,
        "device": options.device,
        "checked": hashlib.sha256(checked.encode()).hexdigest()[:16],
    }


def versions() -> dict[str, str]:
    import hypothesis

    from grader import __version__

    return {"propgrade": __version__, "torch": torch.__version__, "hypothesis": hypothesis.__version__, "python": platform.python_version()}


def grade(submission: Submission, options: Options) -> SubmissionResult:
    """Grade one submission; never raises for anything the submission does."""
    started = time.perf_counter()
    properties = options.checked_properties()
    if submission.problem is not None:
        verdicts = unchecked(properties, "error", submission.problem, options)
        result = score(submission, verdicts, properties, [], "", time.perf_counter() - started, options, versions(), status="unreadable")
        result.key = grading_key(options)
        return result
    session = Session(submission, options)
    verdicts: list[Verdict] = []
    try:
        try:
            session.run()
            found = session.request("names", {"names": options.assignment.names_to_ask()}, doing=say("listing_names"))
            if not isinstance(found, dict) or not all(isinstance(k, str) for k in found):
                raise WorkerLost("protocol", say("protocol", doing=say("listing_names")))
            names, spellings = options.assignment.resolve(found)
            cuda = options.device == "cuda"  # decided here: a submission cannot talk its CUDA checks into "skipped"
        except WorkerLost as lost:
            verdicts = unchecked(properties, lost.reason if lost.reason == "timeout" else "crashed", lost.message, options)
            return score(submission, verdicts, properties, session.cells, session.output, time.perf_counter() - started, options, versions(), status="crashed")
        subject = Subject(session, names, cuda=cuda, spellings=spellings)
        seq_net = seq_net_weights(subject)
        for prop in properties:
            try:
                session.ensure_worker()
            except WorkerLost as lost:
                verdicts.append(Verdict(prop.id, "crashed", lost.message))
                continue
            try:
                examples = PASSING_EXAMPLES if options.replay else None
                verdicts.append(check(prop, subject, seed=options.seed, profile=options.profile, examples=examples))
            except WorkerLost as lost:  # lost outside Hypothesis's run, e.g. while shrinking setup
                verdicts.append(Verdict(prop.id, "timeout" if lost.reason == "timeout" else "crashed", lost.message))
        isolation = session.worker.isolation if session.worker else {}
    finally:
        session.close()
    result = score(submission, verdicts, properties, session.cells, session.output, time.perf_counter() - started, options, versions())
    result.isolation = isolation
    result.key = grading_key(options)
    result.spellings = spellings
    result.seq_net = seq_net
    result.peak_memory = session.peak_resident
    return result


def lost_result(submission: Submission, options: Options, detail: str) -> SubmissionResult:
    """The result for a submission whose grading process itself was lost."""
    properties = options.checked_properties()
    message = say("crashed", doing=say("grading"), how=detail[:300])
    verdicts = unchecked(properties, "crashed", message, options)
    return score(submission, verdicts, properties, [], "", 0.0, options, versions(), status="crashed")


def _grade_in_child(submission: Submission, options: Options) -> SubmissionResult:
    return grade(submission, options)


def _start_controller(turn, cpus: list[int] | None) -> None:
    """Pool initializer: the controller takes the next core, when there is one for each."""
    if cpus:
        with turn.get_lock():
            index, turn.value = turn.value, turn.value + 1
        share_one_core(cpus[index % len(cpus)])


def grade_many(submissions: list[Submission], options: Options, jobs: int = 1, on_result=None) -> list[SubmissionResult]:
    """Grade a class, ``jobs`` submissions at a time, each in its own worker.

    With several jobs, each submission is graded by a controller process of
    ours (spawned, never forked from a process that holds torch threads), each
    controller on a core of its own where there are enough (``share_one_core``);
    ``on_result`` sees each result as soon as it exists, in completion order.
    """
    results: dict[int, SubmissionResult] = {}
    if jobs <= 1:
        for index, submission in enumerate(submissions):
            results[index] = grade(submission, options)
            if on_result:
                on_result(results[index])
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        cpus = cores_to_share(jobs)
        turn = context.Value("i", 0)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_controller, initargs=(turn, cpus)) as pool:
            futures = {pool.submit(_grade_in_child, s, options): i for i, s in enumerate(submissions)}
            for future in as_completed(futures):
                index = futures[future]
                try:
                    results[index] = future.result()
                except Exception as error:  # noqa: BLE001 - a controller process died; the others go on
                    results[index] = lost_result(submissions[index], options, f"{type(error).__name__}: {error}")
                if on_result:
                    on_result(results[index])
    return [results[i] for i in range(len(submissions))]
