"""Benchmark: ``propgrade report`` on a generated class of 2,000 results (``--students``): build time and size.

The class is made from the results.json files of a few really graded submissions
(graded here first with ``--profile ci``, or taken from ``--seeds DIR``), varied so that
it looks like a course: each copy gets an id of its own, a grading time, some of the
failures seen in the seeds moved onto other properties (score and tests kept consistent),
and a trained seq_net that is either the seed's own (the lesson seeds torch, so many
students train the same weights) or the seed's with noise (a picture of its own).

The report is built in a fresh process, ``--rounds`` times, as ``python -m grader.cli report``
(``--module``: calling ``grader.report.write_class_report`` alone, without the command line's
imports); printed: build time (median and each round, wall and CPU), the report process's peak
resident memory (``getrusage`` of children), whether that process imported torch (the report
needs none of it; the command line's imports may bring it in) and read the results with orjson
(used where installed) or the json module, the size of report.html and of the students' pages,
and how many pictures they hold (distinct ones too). Asserts nothing (timings on a shared
machine are noisy). ``--json FILE`` also writes the figures to FILE; ``benchmarks/all.py`` runs this with
the other benchmarks and prints them together.

    .venv/bin/python benchmarks/report_scale.py [--students 2000] [--rounds 3] [--seeds DIR] [--module] [--json FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED_FILES = [
    "submissions/correct/lesson_style.ipynb",
    "submissions/correct/modern_module.py",
    "submissions/buggy/seq_net_with_relu.py",
    "submissions/buggy/nb_relu_numpy.ipynb",
    "submissions/buggy/sigmoid_exp_overflow.py",
    "submissions/buggy/XOR_stacks_on_dim0.py",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
SAME_WEIGHTS_SHARE = 0.6  # students whose trained seq_net is exactly their seed's


def grade_seeds(out: Path) -> None:
    command = [sys.executable, "-m", "grader.cli", "grade", *(str(ROOT / f) for f in SEED_FILES), "--out", str(out), "--profile", "ci", "-j", "1", "--device", "cpu"]
    subprocess.run(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, check=True)


def read_seeds(folder: Path) -> list[dict]:
    seeds = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*/results.json"))]
    if not seeds:
        raise SystemExit(f"no results.json under {folder}")
    return seeds


def failures_seen(seeds: list[dict]) -> list[tuple[dict, dict]]:
    """Every failing (test, record property) pair of the seeds, to be moved onto other students."""
    seen = []
    for data in seeds:
        properties = {p["id"]: p for p in data["extra_data"]["propgrade"]["properties"]}
        for test in data["tests"]:
            pid = test.get("extra_data", {}).get("property")
            if test.get("status") == "failed" and pid in properties:
                seen.append((test, properties[pid]))
    return seen


def jittered(state: dict, rng: random.Random) -> dict:
    return {name: jitter(value, rng) for name, value in state.items()}


def jitter(value, rng: random.Random):
    return [jitter(v, rng) for v in value] if isinstance(value, list) else value + rng.gauss(0.0, 0.4)


def student(seed: dict, number: int, failures: list[tuple[dict, dict]], rng: random.Random) -> dict:
    data = copy.deepcopy(seed)
    record = data["extra_data"]["propgrade"]
    sid = f"student{number:04d}"
    record["id"] = sid
    record["submission"] = f"class/{sid}{Path(record['submission']).suffix}"
    data["execution_time"] = record["seconds"] = round(rng.lognormvariate(1.0, 0.5), 3)
    tests = {t.get("extra_data", {}).get("property"): t for t in data["tests"]}
    properties = {p["id"]: p for p in record["properties"]}
    for test, prop in rng.sample(failures, k=min(len(failures), rng.choice((0, 0, 1, 2, 4)))):
        target = rng.choice([pid for pid, p in properties.items() if p["verdict"] == "passed"] or [prop["id"]])
        mine = properties[target]
        mine.update(verdict="failed", points=0.0, message=copy.deepcopy(prop["message"]), counterexample=prop.get("counterexample"))
        tests[target].update(status="failed", score=0.0, output=test["output"])
        tests[target]["extra_data"]["verdict"] = "failed"
    data["score"] = record["score"] = round(sum(p["points"] for p in record["properties"]), 6)
    saved = record.get("seq_net")
    if saved and rng.random() > SAME_WEIGHTS_SHARE:
        saved["state_dict"] = jittered(saved["state_dict"], rng)
    return data


def make_class(seeds: list[dict], folder: Path, students: int) -> None:
    rng = random.Random(14)
    failures = failures_seen(seeds)
    for number in range(students):
        data = student(seeds[number % len(seeds)], number, failures, rng)
        target = folder / data["extra_data"]["propgrade"]["id"]
        target.mkdir(parents=True)
        (target / "results.json").write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


# The report process: ``python -m grader.cli report SOURCE --out OUT`` (run as runpy runs it), or the report module alone;
# at its exit it writes which of the modules it imported matter here into the file named by its last argument.
REPORT_PROCESS = {
    "cli": (
        "import atexit, runpy, sys;"
        "told = sys.argv.pop();"
        "atexit.register(lambda: open(told, 'w').write(repr(['torch' in sys.modules, sys.modules.get('grader.report') is not None"
        " and getattr(sys.modules['grader.report'], 'orjson', None) is not None])));"
        "sys.argv = ['propgrade', 'report', sys.argv[1], '--out', sys.argv[2]];"
        "runpy.run_module('grader.cli', run_name='__main__')"
    ),
    "module": (
        "import sys; from pathlib import Path; from grader import report;"
        "report.write_class_report([Path(sys.argv[1])], Path(sys.argv[2]));"
        "open(sys.argv[3], 'w').write(repr(['torch' in sys.modules, report.orjson is not None]))"
    ),
}


def build(source: Path, out: Path, entry: str = "cli") -> tuple[float, float, int, bool, bool]:
    """Wall seconds, CPU seconds (user and system: less at the mercy of a shared machine's load),
    peak resident bytes of one ``propgrade report`` in a fresh process, whether it imported torch,
    and whether it read the results with orjson."""
    told = out.with_name(out.name + ".imports")
    code = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        "subprocess.run([sys.executable, '-c', sys.argv[4], sys.argv[1], sys.argv[2], sys.argv[3]], check=True, stdout=subprocess.DEVNULL);"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(time.perf_counter() - t, u.ru_utime + u.ru_stime, u.ru_maxrss)"
    )
    run = subprocess.run([sys.executable, "-c", code, str(source), str(out), str(told), REPORT_PROCESS[entry]], cwd=ROOT, env=ENV, capture_output=True, text=True, check=True)
    seconds, cpu, peak_kib = run.stdout.split()
    torch, orjson = eval(told.read_text())  # two booleans written by the report process
    return float(seconds), float(cpu), int(peak_kib) * 1024, torch, orjson


def sizes(out: Path) -> dict:
    page = out / "report.html"
    students = sorted((out / "report-students").glob("students-*.html"))
    student_bytes = [p.stat().st_size for p in students]
    embedded = [uri for p in [page, *students] for uri in re.findall(r'src="(data:image/png;base64,[^"]*)"', p.read_text(encoding="utf-8"))]
    return {
        "report.html": page.stat().st_size,
        "student pages": len(students),
        "student pages bytes": sum(student_bytes),
        "largest student page": max(student_bytes, default=0),
        "pictures embedded": len(embedded),
        "distinct pictures": len(set(embedded)),
        "summary.csv": (out / "summary.csv").stat().st_size,
    }


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seeds", type=Path, default=None, help="a folder written by propgrade grade --out (default: grade a few bundled submissions first)")
    parser.add_argument("--module", action="store_true", help="build with grader.report.write_class_report alone, not the propgrade command")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the figures to FILE (benchmarks/all.py reads it)")
    args = parser.parse_args()
    found = {"students": args.students, "rounds": args.rounds, "entry": "module" if args.module else "cli"}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        seeds_folder = args.seeds
        if seeds_folder is None:
            seeds_folder = scratch / "seeds"
            started = time.perf_counter()
            grade_seeds(seeds_folder)
            found["seeds_graded_seconds"] = round(time.perf_counter() - started, 1)
            print(f"graded {len(SEED_FILES)} seed submissions in {found['seeds_graded_seconds']:.0f} s")
        seeds = read_seeds(seeds_folder)
        make_class(seeds, scratch / "class", args.students)
        print(f"generated {args.students} results.json from {len(seeds)} graded submissions")
        rounds = []
        for round_ in range(args.rounds):
            out = scratch / f"report-{round_}"
            rounds.append(build(scratch / "class", out, "module" if args.module else "cli"))
        seconds, cpu = [r[0] for r in rounds], [r[1] for r in rounds]
        what = "grader.report.write_class_report" if args.module else "propgrade report"
        print(f"{what}: median {statistics.median(seconds):.1f} s wall (rounds: {', '.join(f'{s:.1f}' for s in seconds)}), "
              f"median {statistics.median(cpu):.1f} s CPU (rounds: {', '.join(f'{c:.1f}' for c in cpu)}); peak resident {mib(max(r[2] for r in rounds))}; "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"  torch imported: {'yes' if any(r[3] for r in rounds) else 'no'}; results read with {'orjson' if rounds[-1][4] else 'the json module'}")
        measured = sizes(scratch / f"report-{args.rounds - 1}")
        for name, value in measured.items():
            print(f"  {name}: {mib(value) if 'bytes' in name or '.' in name or 'largest' in name else value}")
    found.update(seconds=[round(x, 3) for x in seconds], median_seconds=round(statistics.median(seconds), 3), cpu_seconds=[round(c, 3) for c in cpu],
                 median_cpu_seconds=round(statistics.median(cpu), 3), peak_resident_bytes=max(r[2] for r in rounds), torch_imported=any(r[3] for r in rounds),
                 orjson=rounds[-1][4], sizes=measured, load_average_end=round(os.getloadavg()[0], 2))
    if args.json:
        args.json.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
