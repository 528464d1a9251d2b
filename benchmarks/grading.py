"""Benchmark: how fast propgrade grades, per submission and per class (class throughput).

Prints figures and asserts nothing (timings on shared machines are noisy):

* worker start-up: a worker forked from the fork server vs a fresh interpreter;
* plain execution of each bundled correct submission (``python file.py``, or the
  notebook's code cells through IPython as Jupyter would) against its grading time
  inside a class run, and the overhead between the two;
* a class of N generated submissions (the bundled correct ones, each copy made
  distinct by a header naming its student, so no two have the same content)
  graded with ``propgrade grade`` at -j 1 (on a slice of the class, ``--serial``)
  and -j N: per-submission wall time (median, p95), throughput, and the peak
  resident memory of the workers.

``--json FILE`` also writes the figures to FILE; ``benchmarks/all.py`` runs this
with the other benchmarks and prints them together.

    .venv/bin/python benchmarks/grading.py [--copies 200] [--jobs 2] [--serial 20] [--profile default] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORRECT = ROOT / "submissions" / "correct"
RUN_NOTEBOOK = """
import sys, nbformat
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
for cell in nbformat.read(sys.argv[1], as_version=4).cells:
    if cell.cell_type == "code":
        shell.run_cell(cell.source)
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800, check=False)
    return time.perf_counter() - started


def plain(path: Path) -> float:
    """The same code run once in a fresh interpreter, in a scratch copy of its folder."""
    with tempfile.TemporaryDirectory() as scratch:
        if path.suffix == ".ipynb":
            return timed([sys.executable, "-c", RUN_NOTEBOOK, str(path.resolve())], Path(scratch))
        return timed([sys.executable, str(path.resolve())], Path(scratch))


def make_class(folder: Path, copies: int) -> list[Path]:
    """``copies`` submissions cycling through the bundled correct ones, each with a header of its own."""
    sources = sorted(p for p in CORRECT.iterdir() if p.suffix in (".py", ".ipynb"))
    made = []
    for number in range(copies):
        source = sources[number % len(sources)]
        target = folder / f"student{number:04d}{source.suffix}"
        header = f"# submission of student {number:04d}\n"
        if source.suffix == ".py":
            target.write_text(header + source.read_text(encoding="utf-8"), encoding="utf-8")
        else:
            notebook = json.loads(source.read_text(encoding="utf-8"))
            notebook["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": [header]})
            target.write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
        made.append(target)
    return made


def busy_cpu_seconds() -> float | None:
    """CPU time the whole machine has spent busy (``/proc/stat``): a class run's controllers, fork servers, workers
    and readers together, which no one process's accounting sees (the fork server's children are not ours)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(n) for n in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def grade_class(paths: list[Path], out: Path, jobs: int, profile: str) -> tuple[float, list[dict], float | None]:
    """Wall seconds, each submission's record, and the machine's busy CPU-seconds meanwhile (None where unknown)."""
    started, busy = time.perf_counter(), busy_cpu_seconds()
    command = [sys.executable, "-m", "grader.cli", "grade", *map(str, paths), "--out", str(out), "-j", str(jobs), "--profile", profile, "--device", "cpu", "--regrade"]
    subprocess.run(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    cpu = None if busy is None else busy_cpu_seconds() - busy
    records = [json.loads((folder / "results.json").read_text())["extra_data"]["propgrade"] for folder in out.iterdir() if (folder / "results.json").is_file()]
    return wall, records, cpu


def worker_start_up() -> tuple[float, float]:
    from grader.workermanage import Limits, Worker

    def start(forked: bool) -> float:
        os.environ["PROPGRADE_FORKSERVER"] = "1" if forked else "0"
        with tempfile.TemporaryDirectory() as folder:
            worker = Worker(Path(folder), limits=Limits(), seed=0, device="cpu")
            started = time.perf_counter()
            worker.start()
            seconds = time.perf_counter() - started
            worker.stop()
        return seconds

    start(True)  # the fork server itself starts once per grading process
    forked = statistics.median(start(True) for _ in range(5))
    fresh = statistics.median(start(False) for _ in range(3))
    os.environ.pop("PROPGRADE_FORKSERVER")
    return forked, fresh


def report_class(label: str, wall: float, records: list[dict], jobs: int, cpu: float | None = None) -> dict:
    from grader.report import percentile

    seconds = [r["seconds"] for r in records]
    peak = max(r.get("peak_memory_bytes", 0) for r in records)
    full = sum(r["score"] == r["max_score"] for r in records)
    busy = "" if cpu is None else (f"; machine busy {cpu:.0f} CPU-s = {cpu / len(records):.2f} per submission "
                                   f"({cpu / (wall * (os.cpu_count() or 1)):.0%} of {os.cpu_count()} cores)")
    print(f"{label}: {len(records)} submissions in {wall:.1f} s = {len(records) / wall * 60:.1f}/min; "
          f"per submission median {statistics.median(seconds):.2f} s, p95 {percentile(seconds, 0.95):.2f} s; "
          f"worker peak RSS {peak / 2**20:.0f} MiB; {full}/{len(records)} full marks{busy}")
    return {"jobs": jobs, "submissions": len(records), "wall_seconds": round(wall, 2), "per_minute": round(len(records) / wall * 60, 2),
            "median_seconds": round(statistics.median(seconds), 3), "p95_seconds": round(percentile(seconds, 0.95), 3),
            "worker_peak_bytes": peak, "full_marks": full, "busy_cpu_seconds": None if cpu is None else round(cpu, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--serial", type=int, default=20, help="how many of the class -j 1 grades (it is the slow one)")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the figures to FILE (benchmarks/all.py reads it)")
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    sys.path.insert(0, str(ROOT))

    forked, fresh = worker_start_up()
    print(f"worker start-up: {forked:.3f} s forked from the fork server, {fresh:.2f} s as a fresh interpreter")
    found = {"copies": args.copies, "jobs": args.jobs, "serial": min(args.serial, args.copies), "profile": args.profile,
             "worker_start_seconds": {"forked": round(forked, 4), "fresh": round(fresh, 3)}}

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        bundled = sorted(p for p in CORRECT.iterdir() if p.suffix in (".py", ".ipynb"))
        _, records, _ = grade_class(bundled, scratch / "bundled", 1, args.profile)
        graded = {Path(r["submission"]).name: r["seconds"] for r in records}
        print(f"\n{'submission':32} {'plain s':>8} {'graded s':>9} {'overhead s':>11}")
        overheads = []
        for path in bundled:
            base = plain(path)
            overheads.append(graded[path.name] - base)
            print(f"{path.name:32} {base:8.2f} {graded[path.name]:9.2f} {overheads[-1]:11.2f}")
        print(f"overhead over plain execution: median {statistics.median(overheads):.2f} s, max {max(overheads):.2f} s (profile {args.profile})\n")
        found["bundled_overhead_seconds"] = {"median": round(statistics.median(overheads), 3), "max": round(max(overheads), 3), "submissions": len(overheads)}

        (scratch / "class").mkdir()
        paths = make_class(scratch / "class", args.copies)
        wall, records, cpu = grade_class(paths[: args.serial], scratch / "serial", 1, args.profile)
        found["serial"] = report_class(f"-j 1 ({min(args.serial, args.copies)} of the class)", wall, records, 1, cpu)
        wall, records, cpu = grade_class(paths, scratch / "parallel", args.jobs, args.profile)
        found["parallel"] = report_class(f"-j {args.jobs} (whole class)", wall, records, args.jobs, cpu)
    found["load_average"] = [round(load_start, 2), round(os.getloadavg()[0], 2)]
    if args.json:
        args.json.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
