"""Benchmark: propgrade's cold path, one submission in a fresh process, as Gradescope, CI and a student's
self-check run it, beside the plain run of the same file.

Prints, with the median of ``--rounds`` runs (timings on a shared machine are noisy: the load average
is printed with them):

* ``python file.py`` of a lesson-sized module, then cold ``propgrade grade`` of it, and the ratio;
* the same for a notebook (its code cells run through IPython, as Jupyter would);
* ``propgrade check`` of the notebook: the first run of this benchmark (page cache as it was) and the
  later ones (files cached by the first), each a fresh process;
* the largest resident size of any process of each run (``getrusage`` of children), and how many
  torch threads the ``propgrade`` process runs.

The other figures come from their own commands, named at the end (class throughput, report scale,
worker start, the in-notebook checker).

    .venv/bin/python benchmarks/cold.py [--rounds 3] [--profile default]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
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
    ("class throughput at -j 1 and -j 2", "benchmarks/grading.py --copies 200 --jobs 2"),
    ("report of a 2,000-result class", "benchmarks/report_scale.py"),
    ("worker start and stop, with and without the sandbox", "benchmarks/worker_start.py"),
    ("in-notebook checker, first and warm call", "benchmarks/release_path.py"),
    ("on a machine with CUDA", "benchmarks/gpu_check.sh"),
]


def measured(command: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and the largest resident bytes of any process of ``command`` (run in a child of its own,
    so that getrusage covers this command alone)."""
    probe = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode;"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
    )
    run = subprocess.run([sys.executable, "-c", probe, *command], cwd=cwd, env=ENV, capture_output=True, text=True, check=True, timeout=3600)
    seconds, peak_kib, code = run.stdout.split()
    if int(code) not in (0, 1):  # check exits 1 when something failed; anything else is a broken run
        raise SystemExit(f"{' '.join(command)} exited {code}")
    return float(seconds), int(peak_kib) * 1024


def plain(path: Path, scratch: Path) -> list[str]:
    if path.suffix == ".ipynb":
        return [sys.executable, "-c", RUN_NOTEBOOK, str(path)]
    return [sys.executable, str(path)]


def grade(path: Path, scratch: Path, profile: str, device: str) -> list[str]:
    return [sys.executable, "-m", "grader.cli", "grade", str(path), "--out", str(scratch / "out"), "--regrade", "--profile", profile, "--device", device]


def check(path: Path, scratch: Path, profile: str, device: str) -> list[str]:
    return [sys.executable, "-m", "grader.cli", "check", str(path), "--device", device]


def rounds(make, path: Path, count: int, *extra) -> list[tuple[float, int]]:
    found = []
    for _ in range(count):
        with tempfile.TemporaryDirectory() as scratch:
            found.append(measured(make(path, Path(scratch), *extra), Path(scratch)))
    return found


def median(runs: list[tuple[float, int]]) -> float:
    return statistics.median(seconds for seconds, _ in runs)


def peak(runs: list[tuple[float, int]]) -> str:
    return f"{max(p for _, p in runs) / 2**20:.0f} MiB"


def listed(runs: list[tuple[float, int]]) -> str:
    return ", ".join(f"{seconds:.1f}" for seconds, _ in runs)


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
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
          f"medians of {args.rounds} rounds, wall seconds (each round)")
    print(f"torch threads in the propgrade process: {torch_threads()} (this machine has {os.cpu_count()} cores)")
    for label, path in (("module", MODULE), ("notebook", NOTEBOOK)):
        base = rounds(plain, path, args.rounds)
        graded = rounds(grade, path, args.rounds, args.profile, args.device)
        print(f"{label} {path.name}: plain {median(base):.1f} s ({listed(base)}); propgrade grade --profile {args.profile} --device {args.device} "
              f"{median(graded):.1f} s ({listed(graded)}), {median(graded) / median(base):.1f}x the plain run; largest process {peak(graded)}")
    first = rounds(check, NOTEBOOK, 1, args.profile, args.device)
    later = rounds(check, NOTEBOOK, args.rounds, args.profile, args.device)
    print(f"propgrade check --device {args.device} {NOTEBOOK.name}: first {median(first):.1f} s, then {median(later):.1f} s ({listed(later)}); largest process {peak(first + later)}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print("\nelsewhere:")
    for label, command in OTHERS:
        print(f"  {label}: {command}")


if __name__ == "__main__":
    main()
