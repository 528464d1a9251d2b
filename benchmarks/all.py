"""Benchmark: every figure of issue 14 in one run, with one summary at its end.

Runs the benchmarks that measure them, one after the other, each as a fresh process with its own flags and
``--json FILE`` (their own output is shown as they go), then prints one summary:

* the date, the machine (cores, CPU, Python, torch, OMP_NUM_THREADS, the load average at the start and the end)
  and what the store held at the start (``grader/store.py``: a cold run replays what it holds; ``--warm`` runs
  ``propgrade warm --profile default --profile ci --device cpu`` first). The store's key holds a digest of
  grader/ and reference/, so any edit there makes it cold: a warning says so when the key changed during the run;
* ``benchmarks/cold.py``: cold ``propgrade grade`` of a module and of a notebook beside the plain run of the same
  file (the ratio), cold ``propgrade check`` of each (first run, then the later ones), and the memory of each run's
  whole tree (a memory cgroup's peak, where one can be made here) and of its largest process;
* ``benchmarks/release_path.py``: the in-notebook check in a real kernel: first call, the unchanged file checked
  again (answered from the checker's cache), and after an edit of the saved file (graded again);
* ``benchmarks/grading.py``: class throughput at -j 1 (``--serial`` of the class) and at -j ``--jobs`` (the whole
  class of ``--copies``), and worker start-up;
* ``benchmarks/report_scale.py``: ``propgrade report`` of a generated class of ``--students`` results: build
  time, peak memory, size.

Asserts nothing: timings on a shared machine are noisy (hence the load averages). The defaults are the full
sizes (the class of 200 takes most of the time); ``--rounds 1 --copies 6 --serial 3 --students 100`` checks
that it all runs, in about 4 minutes on 2 cores.

    .venv/bin/python benchmarks/all.py [--rounds 3] [--copies 200] [--jobs 2] [--serial 20] [--profile default]
                                       [--students 2000] [--warm] [--json FILE]
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from cold import said_store, store_state  # noqa: E402  (what the store holds: one place, cold.py)

MIB = 1 << 20


def machine() -> dict:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        torch = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch = "not installed"
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"cores": os.cpu_count(), "usable_cores": usable, "cpu": model or platform.processor(), "python": platform.python_version(), "torch": torch,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "commit": commit or "?"}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def step(name: str, command: list[str], answer: Path | None) -> dict:
    """Run one benchmark (its output shown as it goes); its figures, read from ``answer``, or why there are none."""
    shown = " ".join(str(part) for part in command)
    print(f"\n== {name}: {shown}", flush=True)
    started = time.perf_counter()
    code = subprocess.run(command, cwd=ROOT).returncode
    seconds = time.perf_counter() - started
    found: dict = {"command": shown, "exit": code, "seconds": round(seconds, 1)}
    if code != 0:
        found["failed"] = f"exited {code}"
    elif answer is not None:
        try:
            found["figures"] = json.loads(answer.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            found["failed"] = f"wrote no figures ({error})"
    print(f"== {name}: {'done' if 'failed' not in found else found['failed']} in {seconds:.0f} s", flush=True)
    return found


# --- the summary -----------------------------------------------------------------------------------

def s(value: float | None, digits: int = 1) -> str:
    return "?" if value is None else f"{value:.{digits}f} s"


def mib(value: int | None) -> str:
    return "?" if value is None else f"{value / MIB:.0f} MiB"


def each(runs: dict) -> str:
    return ", ".join(f"{x:.1f}" for x in runs["seconds"])


def missing(found: dict) -> str | None:
    return None if "figures" in found else f"not measured: {found.get('failed', 'not run')} (command: {found['command']})"


def section(title: str):
    """A summary of one benchmark: ``title``, then what the decorated function says of its figures, or why there are none."""
    def summary(describe):
        @functools.wraps(describe)
        def lines(found: dict) -> list[str]:
            reason = missing(found)
            return [title, f"  {reason}"] if reason else [title, *describe(found["figures"])]
        return lines
    return summary


@section("cold path (benchmarks/cold.py): each a fresh process; medians, each round in brackets")
def summary_cold(cold: dict) -> list[str]:
    lines = [f"  {cold['rounds']} round(s), --profile {cold['profile']}"]
    for label, run in cold["grade"].items():
        lines.append(f"  grade {label:8} {run['file']:20} {run['ratio']:4.1f}x the plain run: propgrade grade {s(run['graded']['median_seconds'])} ({each(run['graded'])}), "
                     f"python alone {s(run['plain']['median_seconds'])} ({each(run['plain'])})")
    for label, run in cold["check"].items():
        lines.append(f"  check {label:8} {run['file']:20} propgrade check: first {s(run['first']['median_seconds'])}, "
                     f"then {s(run['later']['median_seconds'])} ({each(run['later'])})")
    lines.append(f"  torch threads in the propgrade process (started with no OMP_NUM_THREADS): {cold['torch_threads']}")
    return lines


def summary_memory(cold_found: dict, grading_found: dict, report_found: dict) -> list[str]:
    lines = ["memory"]
    if "figures" in cold_found:
        cold = cold_found["figures"]
        how = ("whole tree: memory cgroup peak (page cache charged to it included) / sampled anonymous peak"
               if cold["tree_memory_measured"] else "whole tree: not measured (no memory cgroup can be made here)")
        lines.append(f"  cold runs ({how}; largest single process):")
        runs = [(f"grade {label}", run["graded"]) for label, run in cold["grade"].items()]
        runs += [(f"check {label}", {key: max(filter(None, (run["first"][key], run["later"][key])), default=None)
                                     for key in ("tree_peak_bytes", "tree_anon_bytes", "largest_process_bytes")}) for label, run in cold["check"].items()]
        for label, run in runs:
            tree = f"{mib(run['tree_peak_bytes'])} / {mib(run['tree_anon_bytes'])}" if cold["tree_memory_measured"] else "-"
            lines.append(f"    {label:16} whole tree {tree:>17}; largest process {mib(run['largest_process_bytes'])}")
    else:
        lines.append(f"  cold runs: {missing(cold_found)}")
    if "figures" in grading_found:
        figures = grading_found["figures"]
        lines.append(f"  class runs: worker peak RSS {mib(figures['serial']['worker_peak_bytes'])} at -j 1, {mib(figures['parallel']['worker_peak_bytes'])} at -j {figures['jobs']}")
    if "figures" in report_found:
        lines.append(f"  report of {report_found['figures']['students']} results: peak resident {mib(report_found['figures']['peak_resident_bytes'])}")
    return lines


@section("in-notebook check, propgrade() in a real kernel (benchmarks/release_path.py): the lesson's notebook filled with the reference solution")
def summary_notebook(nb: dict) -> list[str]:
    lines = []
    edited = nb["after_edit_check_said"]
    lines.append(f"  first call {s(nb['check_first_seconds'], 2)} (starts the checker process); unchanged file {s(nb['check_warm_seconds'], 2)} "
                 f"(cached result, shown again: {'yes' if nb['warm_check_shown_again'] else 'no'}); "
                 f"after an edit of the saved file {s(nb['check_after_edit_seconds'], 2)} (shown again: {'yes' if edited['shown_again'] else 'no'})")
    quoted = lambda said: " | ".join(f'"{line}"' for line in said["score_line"]) or "nothing"  # noqa: E731
    lines.append(f"  said: first {quoted(nb['first_check_said'])}; after the edit {quoted(edited)}"
                 + (f"; errors: {edited['errors']}" if edited.get("errors") else ""))
    lines.append(f"  release {s(nb['release_seconds'], 2)}")
    return lines


@section("class throughput, propgrade grade on a generated class (benchmarks/grading.py)")
def summary_class(figures: dict) -> list[str]:
    lines = []
    for key, label in (("serial", f"-j 1, {figures['serial']['submissions']} of the class"), ("parallel", f"-j {figures['jobs']}, whole class")):
        run = figures[key]
        lines.append(f"  {label:22} {run['submissions']:4} submissions in {run['wall_seconds']:7.1f} s = {run['per_minute']:5.1f}/min; "
                     f"per submission median {run['median_seconds']:.2f} s, p95 {run['p95_seconds']:.2f} s; {run['full_marks']}/{run['submissions']} full marks")
        if run.get("busy_cpu_seconds") is not None:
            lines.append(f"  {'':22} the machine busy {run['busy_cpu_seconds']:.0f} CPU-s meanwhile: {run['busy_cpu_seconds'] / run['submissions']:.2f} CPU-s per submission")
    start = figures["worker_start_seconds"]
    overhead = figures.get("bundled_overhead_seconds", {})
    lines.append(f"  worker start-up {start['forked']:.3f} s forked, {start['fresh']:.2f} s fresh; grading over plain execution of the "
                 f"{overhead.get('submissions', '?')} bundled submissions: median {s(overhead.get('median'), 2)}, max {s(overhead.get('max'), 2)} (profile {figures['profile']})")
    return lines


@section("report of a generated class (benchmarks/report_scale.py)")
def summary_report(figures: dict) -> list[str]:
    lines = []
    sizes = figures["sizes"]
    lines.append(f"  {figures['students']} results: propgrade report in a fresh process {s(figures['median_seconds'])} wall "
                 f"({', '.join(f'{x:.1f}' for x in figures['seconds'])}), {s(figures['median_cpu_seconds'])} CPU; "
                 f"torch imported: {'yes' if figures['torch_imported'] else 'no'}")
    lines.append(f"  size: report.html {sizes['report.html'] / MIB:.1f} MiB, {sizes['student pages']} students' pages {sizes['student pages bytes'] / MIB:.1f} MiB "
                 f"(largest {sizes['largest student page'] / MIB:.1f} MiB), summary.csv {sizes['summary.csv'] / MIB:.2f} MiB; "
                 f"{sizes['pictures embedded']} pictures ({sizes['distinct pictures']} distinct)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each cold run (cold.py) and of the report build (report_scale.py)")
    parser.add_argument("--copies", type=int, default=200, help="submissions in the generated class (grading.py)")
    parser.add_argument("--jobs", type=int, default=2, help="-j of the whole-class run (grading.py)")
    parser.add_argument("--serial", type=int, default=20, help="how many of the class the -j 1 run grades (grading.py)")
    parser.add_argument("--profile", default="default", help="the grading profile of the cold grades and the class runs")
    parser.add_argument("--students", type=int, default=2000, help="results in the generated class of the report (report_scale.py)")
    parser.add_argument("--warm", action="store_true", help="run propgrade warm --profile default --profile ci --device cpu first")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write every figure to FILE")
    args = parser.parse_args()
    python = sys.executable
    started, wall = time.strftime("%Y-%m-%d %H:%M"), time.perf_counter()
    load_start = load()
    print(f"propgrade benchmarks (benchmarks/all.py), {started}; load average {load_start[0]:.1f} at the start", flush=True)
    settings = [("default", "cpu"), ("ci", "cpu")] + ([(args.profile, "cpu")] if args.profile not in ("default", "ci") else [])
    warmed, before_warm = None, None
    if args.warm:
        before_warm = store_state(*settings)
        print(f"store before propgrade warm: {said_store(before_warm)}", flush=True)
        warmed = step("propgrade warm", [python, "-m", "grader.cli", "warm", "--profile", "default", "--profile", "ci", "--device", "cpu"], None)
    store = store_state(*settings)
    print(f"store at the start: {said_store(store)}", flush=True)

    with tempfile.TemporaryDirectory(prefix="propgrade-all-") as scratch:
        scratch = Path(scratch)
        found = {
            "cold": step("cold grade and check", [python, "benchmarks/cold.py", "--rounds", str(args.rounds), "--profile", args.profile,
                                                  "--json", str(scratch / "cold.json")], scratch / "cold.json"),
            "notebook": step("in-notebook check", [python, "benchmarks/release_path.py", "--out", str(scratch / "release"),
                                                   "--json", str(scratch / "release.json")], scratch / "release.json"),
            "class": step("class throughput", [python, "benchmarks/grading.py", "--copies", str(args.copies), "--jobs", str(args.jobs),
                                               "--serial", str(args.serial), "--profile", args.profile, "--json", str(scratch / "grading.json")],
                          scratch / "grading.json"),
            "report": step("report scale", [python, "benchmarks/report_scale.py", "--students", str(args.students), "--rounds", str(args.rounds),
                                            "--json", str(scratch / "report.json")], scratch / "report.json"),
        }
    load_end = load()
    store_end = store_state(*settings)
    moved = [name for name in store if store[name]["path"] != store_end[name]["path"]]  # the key holds a digest of grader/ and reference/
    about = machine()
    minutes = (time.perf_counter() - wall) / 60
    lines = [
        "",
        "=" * 100,
        f"propgrade benchmarks, {started} to {time.strftime('%H:%M')} ({minutes:.0f} min), commit {about['commit']}",
        f"machine: {about['cores']} cores ({about['usable_cores']} usable), {about['cpu']}; Python {about['python']}, torch {about['torch']}; "
        f"OMP_NUM_THREADS={about['OMP_NUM_THREADS'] or 'unset'}",
        f"load average (1, 5, 15 min): {', '.join(map(str, load_start))} at the start; {', '.join(map(str, load_end))} at the end",
        *([f"store before propgrade warm (--warm): {said_store(before_warm)}"] if before_warm else []),
        f"store at the start{' (after propgrade warm)' if args.warm else ''}: {said_store(store)}"
        + ("" if all(v["state"] == "warm" for v in store.values()) else
           "  [still cold after propgrade warm: grader/ or reference/ changed in between]" if args.warm else "  [not all warm: --warm runs propgrade warm first]"),
        *([f"WARNING: the store's key changed during the run ({', '.join(moved)}): grader/ or reference/ changed meanwhile, "
            "so these figures may come from more than one version of the code, and later runs met a cold store"] if moved else []),
        f"settings: --rounds {args.rounds} --copies {args.copies} --jobs {args.jobs} --serial {args.serial} --profile {args.profile} --students {args.students}",
        "",
        *summary_cold(found["cold"]),
        "",
        *summary_notebook(found["notebook"]),
        "",
        *summary_class(found["class"]),
        "",
        *summary_report(found["report"]),
        "",
        *summary_memory(found["cold"], found["class"], found["report"]),
    ]
    failed = [name for name, value in found.items() if "failed" in value] + (["warm"] if warmed and "failed" in warmed else [])
    if failed:
        lines += ["", f"failed: {', '.join(failed)} (their output is above)"]
    print("\n".join(lines), flush=True)
    if args.json:
        everything = {"date": started, "minutes": round(minutes, 1), "machine": about, "load_average": {"start": load_start, "end": load_end},
                      "settings": vars(args) | {"json": str(args.json)}, "warm": warmed, "store_before_warm": before_warm, "store_at_start": store, "store_at_end": store_end, "store_key_changed": moved, **found}
        args.json.write_text(json.dumps(everything, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
