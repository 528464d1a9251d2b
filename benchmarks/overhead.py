"""Benchmark: grading time per submission, and its overhead over plain execution.

Plain execution is the same code run once in a fresh interpreter (a module as
``python file.py``; a notebook's code cells through IPython, as Jupyter would).
Grading is ``propgrade grade`` on that one file with the given profile. Prints
figures; asserts nothing (timings on shared machines are noisy).

    .venv/bin/python benchmarks/overhead.py [--profile ci|default] [PATH ...]
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
RUN_NOTEBOOK = """
import sys, nbformat
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
for cell in nbformat.read(sys.argv[1], as_version=4).cells:
    if cell.cell_type == "code":
        shell.run_cell(cell.source)
"""


def timed(command: list[str], cwd: Path) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    return time.perf_counter() - started


def plain(path: Path) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        if path.suffix == ".ipynb":
            return timed([sys.executable, "-c", RUN_NOTEBOOK, str(path.resolve())], Path(scratch))
        return timed([sys.executable, str(path.resolve())], Path(scratch))


def graded(path: Path, profile: str, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            times.append(timed([sys.executable, "-m", "grader.cli", "grade", str(path.resolve()), "--out", out, "--profile", profile, "--device", "cpu"], ROOT))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    paths = args.paths or sorted((ROOT / "submissions" / "correct").iterdir())
    print(f"{'submission':32} {'plain s':>8} {'graded s':>9} {'overhead s':>11}")
    overheads = []
    for path in paths:
        base = plain(path)
        grade_times = graded(path, args.profile, args.repeats)
        median = statistics.median(grade_times)
        overheads.append(median - base)
        print(f"{path.name:32} {base:8.2f} {median:9.2f} {median - base:11.2f}")
    print(f"median overhead over plain execution: {statistics.median(overheads):.2f} s (profile {args.profile})")


if __name__ == "__main__":
    main()
