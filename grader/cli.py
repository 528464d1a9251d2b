"""The ``propgrade`` command: ``grade`` submissions, ``list`` the catalogue, ``selftest`` on the example corpus."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader.check import PROFILES
from grader.grade import Options, grade_many
from grader.load import load_all
from grader.properties import TOPICS, catalogue
from grader.results import write_submission, write_summary
from grader.workermanage import GIB, Limits

USAGE_ERROR = 2


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="propgrade", description="Property-based grading for the multi-layer networks lesson.")
    commands = top.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade notebooks, modules, submission folders or class folders")
    grade.add_argument("paths", nargs="+", metavar="PATH")
    grade.add_argument("--out", required=True, type=Path, help="where results.json, junit.xml and summary.csv go")
    grade.add_argument("-j", "--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    grade.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    grade.add_argument("--lang", choices=["en", "zh"], default="en")
    grade.add_argument("--seed", type=int, default=0)
    grade.add_argument("--profile", choices=list(PROFILES), default="default", help="how many examples Hypothesis tries")
    grade.add_argument("--call-timeout", type=float, default=Limits.call_seconds, metavar="SECONDS", help="per call of student code")
    grade.add_argument("--cell-timeout", type=float, default=Limits.cell_seconds, metavar="SECONDS", help="per notebook cell")
    grade.add_argument("--total-timeout", type=float, default=Limits.total_seconds, metavar="SECONDS", help="per submission")
    grade.add_argument("--memory", type=float, default=Limits.memory_bytes / GIB, metavar="GIB", help="memory cap per worker")
    grade.add_argument("--fail-under", type=float, default=None, metavar="SCORE", help="exit 1 when any score (in percent) is below")

    listing = commands.add_parser("list", help="print the property catalogue")
    listing.add_argument("--lang", choices=["en", "zh"], default="en")

    selftest = commands.add_parser("selftest", help="grade submissions/correct and submissions/buggy and print the kill matrix")
    selftest.add_argument("--out", type=Path, default=None, help="also write results, kill_matrix.csv and selftest.json here")
    selftest.add_argument("-j", "--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    selftest.add_argument("--profile", choices=list(PROFILES), default="ci", help="how many examples Hypothesis tries (default ci)")
    selftest.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    selftest.add_argument("--seed", type=int, default=0)
    selftest.add_argument("--corpus", type=Path, default=None, metavar="DIR", help="a folder holding correct/ and buggy/ (default: the repository's submissions/)")
    return top


def resolve_device(choice: str) -> str:
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit(_usage("--device cuda: no CUDA device is available here"))
    return choice


def _usage(message: str) -> int:
    print(f"propgrade: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def run_grade(args) -> int:
    for name in ("jobs", "call_timeout", "cell_timeout", "total_timeout", "memory"):
        if getattr(args, name) <= 0:
            return _usage(f"--{name.replace('_', '-')} must be positive")
    limits = Limits(
        call_seconds=args.call_timeout,
        cell_seconds=args.cell_timeout,
        total_seconds=args.total_timeout,
        memory_bytes=int(args.memory * GIB),
    )
    options = Options(seed=args.seed, device=resolve_device(args.device), profile=args.profile, limits=limits)
    submissions = load_all(args.paths)
    if not submissions:
        return _usage("no submissions found")
    args.out.mkdir(parents=True, exist_ok=True)

    def report(result) -> None:
        write_submission(result, args.out, args.lang)
        percent = 100 * result.score / result.max_score if result.max_score else 0.0
        print(f"{result.id}: {result.score:g}/{result.max_score:g} ({percent:.0f}%) {result.status} in {result.seconds:.1f} s", flush=True)

    results = grade_many(submissions, options, jobs=args.jobs, on_result=report)
    write_summary(results, args.out)
    print(f"graded {len(results)} submission(s) into {args.out}")
    if args.fail_under is not None:
        low = [r for r in results if (100 * r.score / r.max_score if r.max_score else 0.0) < args.fail_under]
        if low:
            print(f"{len(low)} submission(s) scored under {args.fail_under:g}%: {', '.join(r.id for r in low)}", file=sys.stderr)
            return 1
    return 0


def run_list(args) -> int:
    props = catalogue()
    for topic, titles in TOPICS.items():
        members = [p for p in props if p.topic == topic]
        print(f"\n{titles[0 if args.lang == 'en' else 1]} ({sum(p.points for p in members):g} points)")
        for p in members:
            print(f"  {p.id:48} {p.points:>3g}  {p.statement_in(args.lang)}")
    print(f"\n{len(props)} properties, {sum(p.points for p in props):g} points")
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args = parser().parse_args(argv)
    if args.command == "grade":
        return run_grade(args)
    if args.command == "selftest":
        from grader.selftest import main as run_selftest

        return run_selftest(args)
    return run_list(args)


if __name__ == "__main__":
    sys.exit(main())
