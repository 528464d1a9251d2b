"""Benchmark: grading time per submission, and its overhead over plain execution.

Plain execution is the same code run once in a fresh interpreter (a module as
``python file.py``; a notebook's code cells through IPython, as Jupyter would).
"cli" is ``propgrade grade`` on that one file, start-up included; "in class" is
the per-submission time when the files are graded together in one process
(the fork server warm). Prints figures; asserts nothing (timings on shared
machines are noisy).

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
    sys.path.insert(0, str(ROOT))
    from grader.grade import Options, grade_many
    from grader.load import load_all

    started = time.perf_counter()
    in_class = {r.submission: r.seconds for r in grade_many(load_all([str(p) for p in paths]), Options(profile=args.profile))}
    class_wall = time.perf_counter() - started
    print(f"{'submission':32} {'plain s':>8} {'cli s':>7} {'in class s':>11} {'overhead s':>11}")
    overheads = []
    for path in paths:
        base = plain(path)
        cli = statistics.median(graded(path, args.profile, args.repeats))
        together = in_class[str(path)]
        overheads.append(together - base)
        print(f"{path.name:32} {base:8.2f} {cli:7.2f} {together:11.2f} {together - base:11.2f}")
    print(f"in class: {len(paths)} submissions in {class_wall:.1f} s; median overhead over plain execution {statistics.median(overheads):.2f} s (profile {args.profile})")


if __name__ == "__main__":
    main()
