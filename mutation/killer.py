"""The killer: is this mutant of the reference caught?

The mutated package is graded as the *subject* (a student), against the pristine
reference as the *oracle*:

* the pristine snapshot (``mutation/.work/pristine``) is put first on ``sys.path``
  before ``grader`` is imported, so every ``from reference... import`` inside the
  catalogue (training loop, XOR outcomes, initial weights, flower data) is the
  pristine code;
* the mutated files are loaded under another package name (``mutated_reference``)
  and their contract names become an in-process ``Subject``, exactly as
  ``tests/test_properties_bite.py`` grades the reference.

Contract code (reached from ``reference.__all__``) is killed by the catalogue:
``grader.check.check(prop, subject, seed=0, profile="ci")``, properties that need
an affected contract name first, cheapest first, stopping at the first property
that does not pass. Oracle/data code (data, experiments, helpers only the grader
uses) cannot be graded by construction; it is killed by the lesson's theorems,
``tests/test_reference.py`` and ``tests/test_reference_oracle.py``, run with ``-x``
against the mutated package (importable as ``reference`` there), the tests that use
an affected name first.

Every judgement runs in a forked child (the parent has imported torch, Hypothesis
and the grader once, like the grader's own fork server) with an address-space
limit and a deadline; a child that runs out of time is killed and the mutant
counts as killed ("timeout"), as mutation tools do.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import select
import signal
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

from mutation import paths
from mutation.deps import Change, Package, change_between, test_functions, test_functions_using

SUBJECT_PACKAGE = "mutated_reference"
MEMORY_LIMIT = 8 << 30          # address space of a judging child
TIMEOUT_FACTOR = 4.0            # a stage may take this many times its baseline ...
TIMEOUT_FLOOR = 60.0            # ... and never less than this many seconds
OUTCOMES = ("killed", "survived", "timeout", "crashed", "error")
# killed, timeout and crashed count as killed; error is a defect of the killer (none may remain)


def setup_oracle(pristine_root: Path | None) -> None:
    """Make ``reference`` mean the pristine copy for everything imported from now on (call before importing grader)."""
    sys.dont_write_bytecode = True  # mutants differ by a character: never let a stale .pyc stand in for one
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    if pristine_root is not None:
        if any(name == "reference" or name.startswith("reference.") for name in sys.modules):
            loaded = Path(sys.modules["reference"].__file__).resolve().parent.parent
            if loaded != pristine_root.resolve():
                raise RuntimeError(f"reference already imported from {loaded}, not the pristine copy {pristine_root}")
        sys.path.insert(0, str(pristine_root))
    import torch

    torch.set_num_threads(1)


def load_subject_package(target: Path, name: str = SUBJECT_PACKAGE):
    """Import the (mutated) package in ``target`` under ``name``; its relative imports stay inside it."""
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[loaded]
    spec = importlib.util.spec_from_file_location(name, target / "__init__.py", submodule_search_locations=[str(target)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# -- the two stages (each runs inside a judging child) ------------------------------------------------

def catalogue_order(contract: tuple[str, ...], costs: dict[str, float] | None):
    from grader.properties import catalogue

    props = catalogue()
    costs = costs or {}
    relevant = [p for p in props if set(p.needs) & set(contract)]
    rest = [p for p in props if p not in relevant]
    key = lambda p: costs.get(p.id, 0.0)  # noqa: E731 - stable sort: catalogue order among equal costs
    return sorted(relevant, key=key) + sorted(rest, key=key)


def catalogue_stage(target: Path, contract: tuple[str, ...], costs: dict[str, float] | None, stop_first: bool = True) -> dict:
    from grader.check import check
    from grader.properties import contract_names
    from grader.subject import Subject

    warnings.simplefilter("ignore")
    os.chdir(tempfile.mkdtemp(prefix="propgrade-mutant-"))
    try:
        package = load_subject_package(target)
    except BaseException as error:  # noqa: BLE001 - a mutant that cannot even be imported is caught
        return {"outcome": "killed", "by": "import", "verdict": "error", "detail": f"{type(error).__name__}: {error}"[:400]}
    subject = Subject.in_process(dict(vars(package)), contract_names())
    seconds: dict[str, float] = {}
    first = None
    for prop in catalogue_order(contract, costs):
        verdict = check(prop, subject, seed=0, profile="ci")
        seconds[prop.id] = round(verdict.seconds, 3)
        if verdict.kind not in ("passed", "skipped") and first is None:
            first = {"outcome": "killed", "by": prop.id, "verdict": verdict.kind,
                     "detail": verdict.message.render("en")[:400], "properties_run": len(seconds)}
            if stop_first:
                return first
    if first is not None:
        return {**first, "costs": seconds}
    return {"outcome": "survived", "by": None, "properties_run": len(seconds), "costs": seconds}


class _Watch:
    """A pytest plugin that remembers the first failure and the time per test function."""

    def __init__(self) -> None:
        self.first: dict | None = None
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report):
        function = report.nodeid.split("[")[0]
        self.seconds[function] = self.seconds.get(function, 0.0) + report.duration
        if report.failed and self.first is None:
            self.first = {"by": report.nodeid.rsplit("/", 1)[-1], "verdict": f"failed ({report.when})",
                          "detail": str(report.longrepr)[-400:]}

    def pytest_collectreport(self, report):
        if report.failed and self.first is None:
            self.first = {"by": f"collecting {report.nodeid or 'the tests'}", "verdict": "error", "detail": str(report.longrepr)[-400:]}


def theorem_order(names: tuple[str, ...], costs: dict[str, float] | None) -> list[str]:
    """Node ids of the theorem tests: those that use an affected name first, each group cheapest first."""
    costs = costs or {}
    everything, relevant = [], []
    for path in paths.THEOREMS:
        prefix = f"{path.relative_to(paths.REPO)}::"
        everything += [prefix + t for t in test_functions(path)]
        relevant += [prefix + t for t in test_functions_using(path, set(names))]
    rest = [t for t in everything if t not in relevant]
    key = lambda t: costs.get(t, 0.0)  # noqa: E731
    return sorted(relevant, key=key) + sorted(rest, key=key)


def theorem_stage(target_root: Path, names: tuple[str, ...], costs: dict[str, float] | None) -> dict:
    """The theorem files against the package in ``target_root/reference`` (imported as ``reference``), ``-x``."""
    import pytest

    theorems = {str(path.resolve()) for path in paths.THEOREMS}
    for name, module in list(sys.modules.items()):
        # the pristine reference, and test modules an enclosing pytest session already imported with it bound
        if name == "reference" or name.startswith("reference.") or str(Path(getattr(module, "__file__", None) or "/").resolve()) in theorems:
            del sys.modules[name]
    sys.path.insert(0, str(target_root))
    os.chdir(paths.REPO)
    nodes = theorem_order(names, costs)
    watch = _Watch()
    code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-W", "ignore", "--rootdir", str(paths.REPO), *nodes], plugins=[watch])
    code = int(code)
    if code == 0:
        return {"outcome": "survived", "by": None, "costs": watch.seconds}
    if code in (1, 2) or watch.first is not None:  # a module that cannot be imported: exit 4 ("not found") with node ids
        first = watch.first or {"by": "pytest", "verdict": f"exit {code}", "detail": ""}
        return {"outcome": "killed", **first}
    return {"outcome": "error", "by": "pytest", "verdict": f"exit {code}", "detail": "pytest could not run the theorem tests"}


# -- judging in a child ---------------------------------------------------------------------------------

_current_child: int | None = None


def _stop(signum, frame):
    """SIGTERM/SIGINT on the server: take the judging child (and its group) down too."""
    if _current_child:
        try:
            os.killpg(_current_child, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    raise SystemExit(128 + signum)


def in_child(work, timeout: float, log_path: Path | None = None, memory: int = MEMORY_LIMIT) -> dict:
    """Run ``work()`` in a forked child with a deadline and a memory limit; its dict comes back."""
    read_end, write_end = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    global _current_child
    _current_child = pid
    if pid == 0:  # the child: never returns
        status = 0
        try:
            sys.dont_write_bytecode = True  # a mutant one character away must never be read from a stale .pyc
            os.close(read_end)
            os.setpgid(0, 0)
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            sink = os.open(log_path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(sink, 1)
            os.dup2(sink, 2)
            try:
                result = work()
            except BaseException:  # noqa: BLE001 - the killer's own defect, reported as such
                result = {"outcome": "error", "by": None, "verdict": "killer error", "detail": traceback.format_exc()[-800:]}
            data = json.dumps(result, default=str).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view):]
        except BaseException:  # noqa: BLE001
            status = 70
        finally:
            os._exit(status)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = started + timeout
    timed_out = False
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_end], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    if timed_out:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    _current_child = None
    seconds = round(time.perf_counter() - started, 2)
    if timed_out:
        return {"outcome": "timeout", "by": None, "verdict": "timeout", "detail": f"no answer within {timeout:.0f} s", "seconds": seconds}
    try:
        result = json.loads(b"".join(chunks))
    except ValueError:
        signal_number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        return {"outcome": "crashed", "by": None, "verdict": "crashed",
                "detail": f"child ended without an answer (status {status}, signal {signal_number})", "seconds": seconds}
    result["seconds"] = seconds
    return result


class Killer:
    """Judges whatever ``target_root/reference`` holds now, against the pristine package."""

    def __init__(self, target_root: Path, pristine: Path, *, catalogue_costs=None, theorem_costs=None,
                 catalogue_timeout: float = 300.0, theorem_timeout: float = 300.0, log_path: Path | None = None):
        self.target_root = Path(target_root)
        self.target = self.target_root / "reference"
        self.pristine = Package(Path(pristine))
        self.catalogue_costs = catalogue_costs
        self.theorem_costs = theorem_costs
        self.catalogue_timeout = catalogue_timeout
        self.theorem_timeout = theorem_timeout
        self.log_path = log_path

    def change(self) -> Change:
        return change_between(self.pristine, self.target)

    def judge(self, change: Change | None = None, stage: str | None = None) -> dict:
        """``stage``: force "catalogue" or "theorems" (else by category: contract -> catalogue, oracle -> theorems)."""
        change = change or self.change()
        stage = stage or ("theorems" if change.category == "oracle" else "catalogue")
        if stage == "catalogue":
            work = lambda: catalogue_stage(self.target, change.contract, self.catalogue_costs)  # noqa: E731
            result = in_child(work, self.catalogue_timeout, self.log_path)
        else:
            work = lambda: theorem_stage(self.target_root, change.names, self.theorem_costs)  # noqa: E731
            result = in_child(work, self.theorem_timeout, self.log_path)
        return {"category": change.category, "stage": stage, "files": list(change.files),
                "definitions": [f"{m}.{n}" for m, n in change.definitions], "contract": list(change.contract), **result}

    # -- the baseline: the unmutated package must survive both stages; its times set order and deadlines

    def baseline(self) -> dict:
        if self.change().files:
            raise RuntimeError(f"{self.target} differs from the pristine copy before any mutation")
        contract = tuple(self.pristine.contract())
        # In this process, not a child: the oracle's caches (reference runs, XOR outcomes) warm up once for every child.
        started, cwd = time.perf_counter(), os.getcwd()
        try:
            catalogue = catalogue_stage(self.target, contract, None, stop_first=False)
        finally:
            os.chdir(cwd)
        catalogue["seconds"] = round(time.perf_counter() - started, 2)
        theorems = in_child(lambda: theorem_stage(self.target_root, (), None), 1800, self.log_path)
        for name, result in (("catalogue", catalogue), ("theorems", theorems)):
            if result["outcome"] != "survived":
                raise RuntimeError(f"the unmutated reference does not pass the {name}: {json.dumps(result)[:1500]}")
        self.catalogue_costs, self.theorem_costs = catalogue["costs"], theorems["costs"]
        self.catalogue_timeout = max(TIMEOUT_FLOOR, TIMEOUT_FACTOR * catalogue["seconds"])
        self.theorem_timeout = max(TIMEOUT_FLOOR, TIMEOUT_FACTOR * theorems["seconds"])
        return {"catalogue_seconds": catalogue["seconds"], "theorem_seconds": theorems["seconds"],
                "catalogue_timeout": self.catalogue_timeout, "theorem_timeout": self.theorem_timeout}


# -- the server cosmic-ray's test command talks to --------------------------------------------------------

def serve(socket_path: Path = paths.SOCKET) -> None:
    import socket

    setup_oracle(paths.PRISTINE_ROOT)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    import grader.properties  # noqa: F401 - import torch, Hypothesis, the catalogue and the pristine oracle once
    import grader.check  # noqa: F401
    import grader.subject  # noqa: F401
    import pytest  # noqa: F401

    killer = Killer(paths.TARGET_ROOT, paths.PRISTINE, log_path=paths.WORK / "child.log")
    log = open(paths.LOG, "a", buffering=1)
    started = time.perf_counter()
    figures = killer.baseline()
    log.write(json.dumps({"baseline": figures, "seconds": round(time.perf_counter() - started, 1)}) + "\n")
    print(f"killer: baseline {figures}", flush=True)
    if socket_path.exists():
        socket_path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_path))
    server.listen(4)
    (paths.WORK / "killer.ready").write_text(json.dumps(figures))
    try:
        while True:
            connection, _ = server.accept()
            with connection:
                request = connection.recv(64).decode().strip()
                if request == "stop":
                    connection.sendall(b'{"stopped": true}')
                    break
                if request == "ping":
                    connection.sendall(json.dumps(figures).encode())
                    continue
                try:
                    result = killer.judge()
                except Exception:  # noqa: BLE001
                    result = {"outcome": "error", "verdict": "killer error", "detail": traceback.format_exc()[-800:]}
                log.write(json.dumps(result, default=str) + "\n")
                connection.sendall(json.dumps(result, default=str).encode())
    finally:
        server.close()
        socket_path.unlink(missing_ok=True)
        (paths.WORK / "killer.ready").unlink(missing_ok=True)
