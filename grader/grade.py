"""The controller: grade one submission, start to finish, in a worker of its own.

load (``load.py``) -> run in a worker (``workermanage.py`` / ``remote.py``) ->
check properties (``check.py``) -> score (``score.py``) -> write (``results.py``).
A worker that hangs, crashes or runs out of memory costs the property (or the
notebook cell) it was busy with; grading goes on in a fresh worker that runs
the submission again, skipping the cells that killed its predecessor.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import platform
import secrets
import sys
import time
from dataclasses import dataclass, field

import torch

from grader.assignment import Assignment, default_assignment
from grader.check import Verdict, check
from grader.load import Submission
from grader.machine import oom_kills, out_of_memory_problem
from grader.messages import Message, say
from grader.outcomes import PropertyFailure, StudentError, WorkerLost
from grader.properties import Property
from grader.properties.common import seq_net_shapes
from grader.replay import PASSING_EXAMPLES
from grader.sandbox.staging import StagingRefused, skipped_summary
from grader.store import Store, attach, keep, store_for
from grader.score import SubmissionResult, score
from grader.subject import Channel, Subject
from grader.workermanage import ForkServer, Limits, Worker, cores_to_share, fork_server_wanted, memory_text, share_one_core

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
    store: Store | None = None  # what earlier grading processes learned (store.py); None: this process learns alone

    def checked_properties(self) -> list[Property]:
        """What a submission is checked against: the properties given, else the assignment's enabled ones at its points."""
        return self.properties or self.assignment.properties()


def platform_options(assignment: Assignment, device: str) -> Options:
    """What a platform's entry point (Gradescope, Classroom 50, PrairieLearn) grades with: the assignment's
    limits, the default seed and profile, and the store that ``propgrade warm`` built at set-up."""
    options = Options(device=device, limits=assignment.limits, assignment=assignment)
    options.store = store_for(options.seed, options.profile, device)
    return options


class Session(Channel):
    """A submission running in a worker, re-run in a fresh worker whenever one is lost.

    It is the subject's channel: properties ask, the session forwards to the
    current worker with the per-call deadline, never past the total limit.
    """

    def __init__(self, submission: Submission, options: Options, deadline: float | None = None):
        self.submission = submission
        self.options = options
        self.limits = options.limits
        self.deadline = deadline if deadline is not None else time.monotonic() + self.limits.total_seconds
        self.worker: Worker | None = None
        self.cells: list[CellOutcome] = []
        self.skip: set[int] = set()
        self.restarts = 0
        self.output = ""
        self.frozen_cells: list[CellOutcome] | None = None  # what the student sees, once frozen (``freeze``)
        self.peak_resident = 0

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _start(self) -> None:
        self.worker = Worker(self.submission.folder, limits=self.limits, seed=self.options.seed, device=self.options.device,
                             notebook=self.submission.kind == "notebook")
        if self.worker.staged is not None and self.worker.staged.sha256 != self.submission.sha256:
            raise StagingRefused(say("staging_changed"))  # the worker would run what the hash does not name
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

    def freeze(self) -> None:
        """Settle what the student sees (the worker's output and the cells' outcomes) before the first
        request of a property whose result is released later: from here on, student code may see inputs
        it must not echo, and nothing it does changes the output or cell messages already kept.

        The worker writes a token the controller has just drawn into its output and the output is cut
        there: everything printed while visible properties were checked is kept, nothing printed later is.
        A submission that keeps the token from being written loses only its own output's tail."""
        if self.frozen_cells is not None:
            return
        if self.worker is not None and self.worker.lost is None and not self.output:
            token = f"\n[propgrade:{secrets.token_hex(16)}]\n"
            try:
                self.request("mark_output", {"token": token}, doing=say("marking_output"))
            except WorkerLost:
                pass
            self.output = self.worker.output_until(token) if self.worker.lost is None else ""
        elif self.worker is not None and self.worker.lost is not None:
            self._stop_worker()  # it died before any later request: its whole output is from before
        self.frozen_cells = list(self.cells)  # from here on, no later worker's output or cell replaces these

    def seen_cells(self) -> list[CellOutcome]:
        return list(self.cells) if self.frozen_cells is None else self.frozen_cells

    def _stop_worker(self) -> None:
        if self.worker is not None:
            text = self.worker.stop()
            self.peak_resident = max(self.peak_resident, self.worker.peak_resident)
            if text and not self.output and self.frozen_cells is None:
                self.output = text
            self.worker = None

    def close(self) -> None:
        self._stop_worker()

    def scratch_folder(self) -> Path | None:
        """The current worker's folder as the controller sees it: saved files are read from there (clean_reader)."""
        return self.worker.workdir if self.worker is not None else None


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


RELEASE_ORDER = ("visible", "after_due_date", "after_published", "hidden")  # shown sooner and more widely first


def by_visibility(properties: list[Property], options: Options) -> list[tuple[str, list[Property]]]:
    """The properties in the order they are checked: the visible ones first, then the others in the
    order their results are released (hidden ones last).

    Student code sees a property's requests only after every result released sooner is settled,
    and what the student sees overall (the worker's output, the cells' messages) is frozen before
    the first request of a property that is not visible (``Session.freeze``), so no request can be
    echoed into a result shown sooner than its own.
    """
    rank = {name: index for index, name in enumerate(RELEASE_ORDER)}
    ordered = sorted(properties, key=lambda p: rank.get(options.assignment.visibility(p.id), len(RELEASE_ORDER)))
    visible = [p for p in ordered if options.assignment.visibility(p.id) == "visible"]
    later = [p for p in ordered if options.assignment.visibility(p.id) != "visible"]
    return [(name, group) for name, group in (("visible", visible), ("later", later)) if group] or [("visible", [])]


@dataclass
class Run:
    """What one session made of the submission."""

    verdicts: list[Verdict] = field(default_factory=list)
    lost: WorkerLost | None = None  # the submission could not be run or asked its names: nothing was checked
    cells: list[CellOutcome] = field(default_factory=list)
    output: str = ""
    isolation: dict = field(default_factory=dict)
    spellings: dict[str, str] = field(default_factory=dict)
    seq_net: dict | None = None
    peak_memory: int = 0


def check_in_session(submission: Submission, options: Options, groups: list[tuple[str, list[Property]]], deadline: float) -> Run:
    """Run the submission in a session and check each group of properties in turn; what the student
    sees is frozen before the first group that is not visible."""
    run = Run()
    session = Session(submission, options, deadline)
    if session.remaining() <= 0:
        run.lost = WorkerLost("timeout", say("timeout", seconds=options.limits.total_seconds, doing=say("total_limit")))
        return run
    try:
        try:
            session.run()
            found = session.request("names", {"names": options.assignment.names_to_ask()}, doing=say("listing_names"))
            if not isinstance(found, dict) or not all(isinstance(k, str) for k in found):
                raise WorkerLost("protocol", say("protocol", doing=say("listing_names")))
            names, run.spellings = options.assignment.resolve(found)
        except WorkerLost as lost:
            run.lost = lost
            return run
        cuda = options.device == "cuda"  # decided here: a submission cannot talk its CUDA checks into "skipped"
        subject = Subject(session, names, cuda=cuda, spellings=run.spellings)
        run.seq_net = seq_net_weights(subject)
        for visibility, properties in groups:
            if visibility != "visible":
                session.freeze()
            for prop in properties:
                try:
                    session.ensure_worker()
                except WorkerLost as lost:
                    run.verdicts.append(Verdict(prop.id, "crashed", lost.message))
                    continue
                try:
                    examples = PASSING_EXAMPLES if options.replay else None
                    run.verdicts.append(check(prop, subject, seed=options.seed, profile=options.profile, examples=examples))
                except WorkerLost as lost:  # lost outside Hypothesis's run, e.g. while shrinking setup
                    run.verdicts.append(Verdict(prop.id, "timeout" if lost.reason == "timeout" else "crashed", lost.message))
        run.isolation = session.worker.isolation if session.worker else {}
    finally:
        session.close()
        run.cells, run.output, run.peak_memory = session.seen_cells(), session.output, session.peak_resident
    return run


def grade(submission: Submission, options: Options) -> SubmissionResult:
    """Grade one submission; never raises: whatever goes wrong, in the submission or the grader,
    becomes this submission's result, and its classmates are graded. The grader's own failures
    (its exceptions, a lost fork server, the machine's OOM killer) make it ``grader_failed``."""
    started = time.perf_counter()
    kills = oom_kills()
    if fork_server_wanted():
        ForkServer.shared()  # it imports torch on the other core while the store is read
    _say_once(attach(options.store, PASSING_EXAMPLES))
    _warm_up_hypothesis()
    try:
        result = _grade(submission, options, started)
    except StagingRefused as refused:
        return not_checked(submission, options, refused.message, "error", "unreadable", started, keep=True)
    except Exception as error:  # noqa: BLE001 - the grader's own failure on this submission, said so
        if oom_kills() > kills:
            return not_gradable(submission, options, out_of_memory_problem(), started)
        message = say("grader_failed", doing=say("grading"), error=f"{type(error).__name__}: {error}"[:300])
        return not_gradable(submission, options, message, started)
    if oom_kills() > kills and killed_outright(result):
        return not_gradable(submission, options, out_of_memory_problem(), started)
    _say_once(keep(options.store, PASSING_EXAMPLES, options.seed, options.profile))
    return result


_SAID: set[str] = set()


@functools.cache
def _warm_up_hypothesis() -> None:
    """Hypothesis's first run in a process pays for its own set-up (registering its random generator runs a
    full ``gc.collect``; its engine's first use): paid once here, while the fork server is still warming up
    (0.15-0.2 s of a cold grade), not while the worker waits for the first property."""
    from hypothesis import Phase, given, settings, strategies

    @settings(max_examples=1, database=None, deadline=None, derandomize=True, phases=[Phase.generate])
    @given(strategies.integers())
    def nothing(_):
        pass

    nothing()


def _say_once(problem: str | None) -> None:
    """A store that could not be used or written is worth one line on the grader's terminal, not one per submission."""
    if problem and problem not in _SAID:
        _SAID.add(problem)
        print(f"propgrade: {problem}", file=sys.stderr)


def killed_outright(result: SubmissionResult) -> bool:
    """Whether a worker of this submission was ended by SIGKILL beyond its own caps (which say "memory" or
    "timeout"): with the OOM killer at work meanwhile, that was the machine running out, not the student."""
    messages = [v.message for v in result.verdicts if v.kind == "crashed"] + [c.message for c in result.cells if c.message]
    return any(_says(message, "killed_by_signal", signal="SIGKILL") for message in messages)


def _says(message, key: str, **fields) -> bool:
    if not isinstance(message, Message):
        return False
    if message.key == key and all(message.fields.get(name) == value for name, value in fields.items()):
        return True
    return any(_says(value, key, **fields) for value in message.fields.values())


def not_gradable(submission: Submission, options: Options, message: Message, started: float) -> SubmissionResult:
    """The grader, not the submission, failed: nothing is charged (no property counts either way), the
    result says why, and a re-run grades it again."""
    return not_checked(submission, options, message, "skipped", "grader_failed", started, keep=False)


def not_checked(submission: Submission, options: Options, message: Message, kind: str, status: str, started: float, keep: bool) -> SubmissionResult:
    """The result of a submission nothing was checked of; ``keep``: a re-run may keep it (the same content gets the same)."""
    properties = options.checked_properties()
    result = score(submission, unchecked(properties, kind, message, options), properties, [], "", time.perf_counter() - started, options, versions(), status=status)
    result.problem = message
    result.key = grading_key(options) if keep else {}
    return result


def staging_notes(submission: Submission) -> list[Message]:
    """What the student is told of their folder beside the verdicts: the entries that were not staged."""
    return [skipped_summary(submission.skipped)] if submission.skipped else []


def _grade(submission: Submission, options: Options, started: float) -> SubmissionResult:
    properties = options.checked_properties()
    if submission.problem is not None:
        return not_checked(submission, options, submission.problem, "error", "unreadable", started, keep=True)
    deadline = time.monotonic() + options.limits.total_seconds
    run = check_in_session(submission, options, by_visibility(properties, options), deadline)
    if run.lost is not None:
        verdicts = unchecked(properties, run.lost.reason if run.lost.reason == "timeout" else "crashed", run.lost.message, options)
        result = score(submission, verdicts, properties, run.cells, run.output, time.perf_counter() - started, options, versions(), status="crashed")
        result.notes = staging_notes(submission)
        return result
    order = {p.id: index for index, p in enumerate(properties)}
    verdicts = sorted(run.verdicts, key=lambda v: order[v.property])
    result = score(submission, verdicts, properties, run.cells, run.output, time.perf_counter() - started, options, versions())
    result.notes = staging_notes(submission)
    result.isolation = run.isolation
    result.key = grading_key(options)
    result.spellings = run.spellings
    result.seq_net = run.seq_net
    result.peak_memory = run.peak_memory
    return result


def lost_result(submission: Submission, options: Options, detail: str, out_of_memory: bool = False) -> SubmissionResult:
    """The result for a submission whose controller process was lost: the grader's failure, not the student's."""
    message = out_of_memory_problem() if out_of_memory else say("controller_lost", how=detail[:300])
    return not_gradable(submission, options, message, time.perf_counter())


def _grade_in_child(submission: Submission, options: Options) -> SubmissionResult:
    result = grade(submission, options)
    _warm_for_more()
    return result


def _warm_for_more() -> None:
    """After a grade with more to come: the fork server imports once what the lesson's notebooks use
    (``remote.warm_up_plots``), not every worker again; a lone grade never waits for it."""
    if fork_server_wanted():
        with contextlib.suppress(OSError):
            ForkServer.shared().warm_for_class()


def _start_controller(turn, cpus: list[int] | None) -> None:
    """Pool initializer: the controller takes the next core, when there is one for each, and one torch thread."""
    torch.set_num_threads(1)
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
    One submission (or one job) is graded in this process: a pool would only
    import torch again in a controller of its own.
    """
    results: dict[int, SubmissionResult] = {}
    jobs = min(jobs, len(submissions))
    if jobs <= 1:
        for index, submission in enumerate(submissions):
            results[index] = grade(submission, options)
            if index + 1 < len(submissions):
                _warm_for_more()
            if on_result:
                on_result(results[index])
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        kills = oom_kills()
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
                    results[index] = lost_result(submissions[index], options, f"{type(error).__name__}: {error}", oom_kills() > kills)
                if on_result:
                    on_result(results[index])
    return [results[i] for i in range(len(submissions))]
