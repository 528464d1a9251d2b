"""Benchmark: propgrade's cold path, one submission in a fresh process, as Gradescope, CI and a student's
self-check run it, beside the plain run of the same file.

Prints, with the median of ``--rounds`` runs (timings on a shared machine are noisy: the load average
is printed with them):

* ``python file.py`` of a lesson-sized module, then cold ``propgrade grade`` of it, and the ratio;
* the same for a notebook (its code cells run through IPython, as Jupyter would);
* ``propgrade check`` of the notebook and of the module: the first run of each (page cache as it was) and
  the later ones (files cached by the first), each a fresh process;
* whether the store (``grader/store.py``: what ``propgrade warm`` and earlier runs learned) held anything for
  these settings when it started: a cold run replays what it holds, so its figures depend on it;
* the largest resident size of any process of each run (``getrusage`` of children), and how many
  torch threads the ``propgrade`` process runs;
* where a memory cgroup can be made here (root, or a delegated cgroup), the memory of the whole tree
  of each run (controller, fork server, workers, the clean reader): the cgroup's peak, page cache
  charged to it included (only what this run read first: files already cached elsewhere are not
  charged), and the peak of its anonymous memory, sampled (what no reclaim can give back).
  ``--memory-limit MIB`` runs every propgrade command under that limit and prints each result's
  status (a Gradescope container has 768 MB).

``--json FILE`` also writes the figures to FILE. ``benchmarks/all.py`` runs this with the other benchmarks
(class throughput, the in-notebook checker, report scale) and prints them together; worker start and the
CUDA check have commands of their own, named at the end.

    .venv/bin/python benchmarks/cold.py [--rounds 3] [--profile default] [--memory-limit MIB] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "submissions" / "correct" / "modern_module.py"
NOTEBOOK = ROOT / "submissions" / "correct" / "lesson_style.ipynb"
RUN_NOTEBOOK = """
import sys, nbformat
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
for cell in nbformat.read(sys.argv[1], as_version=4).cells:
    if cell.cell_type == "code":
        shell.run_cell(cell.source)
"""
ENV = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
OTHERS = [
    ("all of the issue's figures in one run (this one, class throughput, in-notebook checker, report scale)", "benchmarks/all.py"),
    ("class throughput at -j 1 and -j 2", "benchmarks/grading.py --copies 200 --jobs 2"),
    ("report of a 2,000-result class", "benchmarks/report_scale.py"),
    ("in-notebook checker: first call, unchanged file, after an edit", "benchmarks/release_path.py"),
    ("worker start and stop, with and without the sandbox", "benchmarks/worker_start.py"),
    ("on a machine with CUDA", "benchmarks/gpu_check.sh"),
]
# In a fresh process (it imports torch): what the store holds for each (profile, device) named in argv, as JSON.
STORE_PROBE = """
import json, sys
from grader.store import Refused, store_for
found = {}
for name in sys.argv[1:]:
    profile, device = name.split("/")
    store = store_for(0, profile, device)
    if store is None:
        found[name] = {"state": "off", "path": None, "bytes": 0}
        continue
    try:
        state = "cold: nothing stored for these settings" if store.read() is None else "warm"
    except Refused as refused:
        state = f"refused: {refused}"
    found[name] = {"state": state, "path": str(store.path), "bytes": store.path.stat().st_size if store.path.exists() else 0}
print(json.dumps(found))
"""


MIB = 1 << 20


@dataclass
class Run:
    seconds: float
    largest: int  # bytes: the largest resident size of one process
    tree: int | None = None  # bytes: the memory cgroup's peak for the whole tree, page cache charged to it included
    tree_anon: int | None = None  # bytes: the sampled peak of the tree's anonymous memory
    status: str = ""  # the result's status, for propgrade grade


class TreeMemory:
    """A memory cgroup of its own for one run, a child of this process's (v2 or v1), where this machine lets
    us make one: every process the run starts is charged to it, whatever it forks or sets up below it."""

    def __init__(self, limit: int | None = None):
        sys.path.insert(0, str(ROOT))
        from grader import machine

        made = machine.child_memory_cgroup(f"propgrade-bench-{os.getpid()}-{time.monotonic_ns()}", limit, with_peak=True)
        self.folder: Path | None = Path(made[0]) if made else None
        self.hierarchy = made[1] if made else ""
        self._peak_file = machine.PEAK_FILES.get(self.hierarchy, "")
        self.anon = 0
        self._done = threading.Event()

    def enter(self) -> None:
        """In the child, before it runs the command."""
        if self.folder is not None:
            (self.folder / "cgroup.procs").write_text(str(os.getpid()))

    def _read(self, name: str) -> str:
        try:
            return (self.folder / name).read_text()
        except OSError:
            return ""

    def _sample(self) -> None:
        key = "anon" if self.hierarchy == "unified" else "total_rss"
        while not self._done.wait(0.1):
            for line in self._read("memory.stat").splitlines():
                name, _, value = line.partition(" ")
                if name == key and value.strip().isdigit():
                    self.anon = max(self.anon, int(value))

    def __enter__(self) -> "TreeMemory":
        if self.folder is not None:
            threading.Thread(target=self._sample, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        peak = self._read(self._peak_file).strip() if self.folder is not None else ""
        self.peak = int(peak) if peak.isdigit() else None
        if self.folder is not None:
            for _ in range(100):  # its processes are gone; the kernel may take a moment to let it go
                try:
                    self.folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)


def measured(command: list[str], cwd: Path, limit: int | None = None) -> Run:
    """Wall seconds and memory of ``command`` (run in a child of its own, so that getrusage covers this
    command alone, in a memory cgroup of its own where one can be made)."""
    probe = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode;"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
    )
    with TreeMemory(limit) as tree:
        run = subprocess.run([sys.executable, "-c", probe, *command], cwd=cwd, env=ENV, capture_output=True, text=True, check=True, timeout=3600,
                             preexec_fn=tree.enter)
    seconds, peak_kib, code = run.stdout.split()
    if int(code) not in (0, 1) and not (limit and int(code) == 3):  # check exits 1 when something failed, grade 3 when the grader did
        raise SystemExit(f"{' '.join(command)} exited {code}")
    status = ""
    for results in cwd.glob("out/*/results.json"):
        record = json.loads(results.read_text())
        extra = record.get("extra_data", {}).get("propgrade", {})
        status = f"{extra.get('status', '?')} {record.get('score', 0):g}/{record.get('max_score', 0):g}"
    return Run(float(seconds), int(peak_kib) * 1024, tree.peak, tree.anon or None, status)


def plain(path: Path, scratch: Path) -> list[str]:
    if path.suffix == ".ipynb":
        return [sys.executable, "-c", RUN_NOTEBOOK, str(path)]
    return [sys.executable, str(path)]


def grade(path: Path, scratch: Path, profile: str, device: str) -> list[str]:
    return [sys.executable, "-m", "grader.cli", "grade", str(path), "--out", str(scratch / "out"), "--regrade", "--profile", profile, "--device", device]


def check(path: Path, scratch: Path, profile: str, device: str) -> list[str]:
    return [sys.executable, "-m", "grader.cli", "check", str(path), "--device", device]


def rounds(make, path: Path, count: int, *extra, limit: int | None = None) -> list[Run]:
    found = []
    for _ in range(count):
        with tempfile.TemporaryDirectory() as scratch:
            found.append(measured(make(path, Path(scratch), *extra), Path(scratch), limit))
    return found


def median(runs: list[Run]) -> float:
    return statistics.median(run.seconds for run in runs)


def peak(runs: list[Run]) -> str:
    """The largest process, and the whole tree where a memory cgroup measured it."""
    text = f"largest process {max(run.largest for run in runs) / MIB:.0f} MiB"
    trees = [run.tree for run in runs if run.tree is not None]
    anon = [run.tree_anon for run in runs if run.tree_anon is not None]
    if trees:
        text += f"; whole tree {max(trees) / MIB:.0f} MiB (memory cgroup peak, page cache included)"
    if anon:
        text += f", {max(anon) / MIB:.0f} MiB anonymous"
    statuses = sorted({run.status for run in runs if run.status})
    if statuses:
        text += f"; results: {', '.join(statuses)}"
    return text


def listed(runs: list[Run]) -> str:
    return ", ".join(f"{run.seconds:.1f}" for run in runs)


def store_state(*settings: tuple[str, str]) -> dict:
    """What the store (``$PROPGRADE_STORE`` or the user's cache folder, seed 0) holds for each (profile, device), now:
    ``{"profile/device": {"state": "warm" | "cold: ..." | "refused: ..." | "off", "path": ..., "bytes": ...}}``."""
    run = subprocess.run([sys.executable, "-c", STORE_PROBE, *(f"{p}/{d}" for p, d in settings)], cwd=ROOT, env=ENV, capture_output=True, text=True)
    if run.returncode != 0:
        return {f"{p}/{d}": {"state": f"unknown: {run.stderr.strip().splitlines()[-1:]}", "path": None, "bytes": 0} for p, d in settings}
    return json.loads(run.stdout)


def said_store(state: dict) -> str:
    return "; ".join(f"{name} {value['state']}" + (f" ({value['bytes'] / 1e6:.1f} MB)" if value["bytes"] else "") for name, value in state.items())


def figures(runs: list[Run]) -> dict:
    """Each round's seconds and memory, for --json."""
    trees = [run.tree for run in runs if run.tree is not None]
    anon = [run.tree_anon for run in runs if run.tree_anon is not None]
    return {"seconds": [round(run.seconds, 3) for run in runs], "median_seconds": round(median(runs), 3), "largest_process_bytes": max(run.largest for run in runs),
            "tree_peak_bytes": max(trees, default=None), "tree_anon_bytes": max(anon, default=None), "statuses": sorted({run.status for run in runs if run.status})}


def torch_threads() -> str:
    """As started from a shell that sets no thread count."""
    probe = "import grader.cli, torch; print(torch.get_num_threads())"
    env = {name: value for name, value in ENV.items() if name not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where propgrade's workers compute (benchmarks/gpu_check.sh passes cuda)")
    parser.add_argument("--memory-limit", type=int, default=None, metavar="MIB",
                        help="run each propgrade command in a memory cgroup limited to MIB (where one can be made here: root or delegation)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the figures to FILE (benchmarks/all.py reads it)")
    args = parser.parse_args()
    limit = args.memory_limit * MIB if args.memory_limit else None
    probe = TreeMemory()
    measurable = probe.folder is not None
    probe.__exit__()
    if limit and not measurable:
        raise SystemExit("--memory-limit: no memory cgroup can be made here (needs root or a delegated cgroup)")
    load_start = os.getloadavg()[0]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average {load_start:.1f} at the start; "
          f"medians of {args.rounds} rounds, wall seconds (each round)")
    threads = torch_threads()
    print(f"torch threads in the propgrade process: {threads} (this machine has {os.cpu_count()} cores)")
    store = store_state(*dict.fromkeys([(args.profile, args.device), ("default", args.device)]))  # check grades under the default profile
    print(f"store at the start: {said_store(store)}" + ("" if all(v["state"] == "warm" for v in store.values()) else
                                                        " (propgrade warm --profile ... fills it; a cold store makes these runs learn it all)"))
    found = {"date": time.strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(), "rounds": args.rounds, "profile": args.profile, "device": args.device,
             "memory_limit_mib": args.memory_limit, "torch_threads": threads, "store_at_start": store, "tree_memory_measured": measurable,
             "grade": {}, "check": {}}
    if measurable:
        print("memory of each run's whole tree: a memory cgroup of its own" + (f", limited to {args.memory_limit} MiB" if limit else ""))
    else:
        print("memory of the whole tree: not measured (no memory cgroup can be made here: needs root or a delegated cgroup)")
    for label, path in (("module", MODULE), ("notebook", NOTEBOOK)):
        base = rounds(plain, path, args.rounds)
        graded = rounds(grade, path, args.rounds, args.profile, args.device, limit=limit)
        print(f"{label} {path.name}: plain {median(base):.1f} s ({listed(base)}); propgrade grade --profile {args.profile} --device {args.device} "
              f"{median(graded):.1f} s ({listed(graded)}), {median(graded) / median(base):.1f}x the plain run; {peak(graded)}")
        found["grade"][label] = {"file": path.name, "plain": figures(base), "graded": figures(graded), "ratio": round(median(graded) / median(base), 2)}
    for label, path in (("notebook", NOTEBOOK), ("module", MODULE)):
        first = rounds(check, path, 1, args.profile, args.device, limit=limit)
        later = rounds(check, path, args.rounds, args.profile, args.device, limit=limit)
        print(f"propgrade check --device {args.device} {path.name}: first {median(first):.1f} s, then {median(later):.1f} s ({listed(later)}); {peak(first + later)}")
        found["check"][label] = {"file": path.name, "first": figures(first), "later": figures(later)}
    load_end = os.getloadavg()[0]
    print(f"load average {load_end:.1f} at the end")
    found["load_average"] = [round(load_start, 2), round(load_end, 2)]
    if args.json:
        args.json.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    print("\nelsewhere:")
    for label, command in OTHERS:
        print(f"  {label}: {command}")


if __name__ == "__main__":
    main()
