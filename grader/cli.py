"""The ``propgrade`` command: ``grade`` submissions, ``report`` on graded folders, ``list`` the catalogue, ``selftest`` on the example corpus, ``warm`` the store,
``pytest`` on one submission (the safe way to start propgrade's pytest plugin)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from typing import TYPE_CHECKING

from grader import threads  # first of propgrade's modules: one torch thread, set before torch is imported
from grader import launcher  # noqa: I001 - imports no torch
from grader.load import load_all, shard
from grader.machine import warn_if_too_small
from grader.progress import Progress
from grader.report import NoResults, write_class_report
from grader.results import already_graded, previous_record, write_submission
from grader.score import percent

if TYPE_CHECKING:
    from grader.assignment import Assignment
    from grader.workermanage import Limits

# The modules that import torch (grading, the catalogue, assignments) are imported by the commands that
# need them: `propgrade report` never imports torch (about 3 s and 200 MiB it does not use).

USAGE_ERROR = 2
GRADER_FAILED = 3  # some submission could not be graded for the grader's own reasons (grader/machine.py)


def add_report_arguments(report: argparse.ArgumentParser) -> None:
    report.add_argument("sources", nargs="+", type=Path, metavar="DIR", help="folders written by propgrade grade --out")
    report.add_argument("--out", required=True, type=Path, help="where summary.csv, summary.md and report.html go")
    report.add_argument("--lang", choices=["en", "zh"], default="en")


def report_parser_with_arguments() -> argparse.ArgumentParser:
    report = argparse.ArgumentParser(prog="propgrade report", description="merge graded folders (shards) into one gradebook and class report")
    add_report_arguments(report)
    return report


def parser() -> argparse.ArgumentParser:
    from grader.check import PROFILES
    from grader.workermanage import GIB, Limits

    top = argparse.ArgumentParser(prog="propgrade", description="Property-based grading for the multi-layer networks lesson.")
    commands = top.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade notebooks, modules, submission folders or class folders")
    grade.add_argument("paths", nargs="+", metavar="PATH")
    grade.add_argument("--out", required=True, type=Path, help="where results.json, junit.xml and summary.csv go")
    grade.add_argument("-j", "--jobs", type=int, default=default_jobs(), help=f"submissions graded at once (default: one per core, here {default_jobs()})")
    grade.add_argument("--shard", type=shard_spec, default=None, metavar="I/N", help="grade only shard I of N (1 <= I <= N) of the class, for a CI matrix or a batch array")
    grade.add_argument("--regrade", action="store_true", help="grade again submissions already graded in --out with the same content and settings")
    grade.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    grade.add_argument("--lang", choices=["en", "zh"], default="en")
    grade.add_argument("--seed", type=int, default=0)
    grade.add_argument("--profile", choices=list(PROFILES), default="default", help="how many examples Hypothesis tries")
    grade.add_argument("--assignment", type=Path, default=None, metavar="FILE", help="an assignment TOML overriding the lesson's default (docs/assignments.md)")
    grade.add_argument("--call-timeout", type=float, default=None, metavar="SECONDS", help=f"per call of student code (default: the assignment's, {Limits.call_seconds:g})")
    grade.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS", help=f"per notebook cell (default: the assignment's, {Limits.cell_seconds:g})")
    grade.add_argument("--total-timeout", type=float, default=None, metavar="SECONDS", help=f"per submission (default: the assignment's, {Limits.total_seconds:g})")
    grade.add_argument("--memory", type=float, default=None, metavar="GIB", help=f"memory cap per worker (default: the assignment's, {Limits.memory_bytes / GIB:g})")
    grade.add_argument("--fail-under", type=float, default=None, metavar="SCORE", help="exit 1 when any score (in percent) is below")
    grade.add_argument("--format", choices=["gradescope", "classroom50", "prairielearn"], default="gradescope",
                       help="also write a platform's own result file in DIR/<id>/: classroom50 (result.json, release-body.md), prairielearn (prairielearn/results.json); "
                       "for submissions graded now (add --regrade for those already graded in DIR)")

    add_report_arguments(commands.add_parser("report", help="merge graded folders (shards) into one gradebook and class report"))

    store_arguments(grade)

    check = commands.add_parser("check", help="check your own notebook or module against the visible properties, quickly")
    check.add_argument("path", metavar="NOTEBOOK_OR_MODULE")
    check.add_argument("--lang", choices=["en", "zh"], default="en")
    check.add_argument("--assignment", type=Path, default=None, metavar="FILE", help="the assignment TOML your course gave you")
    check.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    store_arguments(check)

    warm = commands.add_parser("warm", help="grade the reference solution once, so that later cold runs (a container, a CI job, a self-check) replay what it learned")
    warm.add_argument("--assignment", type=Path, default=None, metavar="FILE", help="overrides the lesson's default assignment")
    warm.add_argument("--seed", type=int, default=0)
    warm.add_argument("--profile", choices=list(PROFILES), action="append", default=None,
                      help="the profile(s) later runs will use (repeat for several; default: default, what grade and check use)")
    warm.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    store_arguments(warm)

    assignment = commands.add_parser("assignment", help="inspect an assignment")
    assignment_commands = assignment.add_subparsers(dest="assignment_command", required=True)
    show = assignment_commands.add_parser("show", help="print the effective rubric: points, visibility, aliases, limits")
    show.add_argument("--assignment", type=Path, default=None, metavar="FILE", help="overrides the lesson's default assignment")
    show.add_argument("--lang", choices=["en", "zh"], default="en")

    bundle = commands.add_parser("gradescope", help="build a Gradescope autograder zip")
    bundle.add_argument("--out", required=True, type=Path, metavar="ZIP")
    bundle.add_argument("--assignment", type=Path, default=None, metavar="FILE", help="overrides the lesson's default assignment")
    bundle.add_argument("--lang", choices=["en", "zh"], default="en", help="the language of the students' feedback")

    classroom = commands.add_parser("classroom50", help="write a Classroom 50 assignment bundle folder: autograder.py, assignment.toml, a propgrade wheel")
    classroom.add_argument("--out", required=True, type=Path, metavar="DIR", help="the assignment's folder in the config repository: <classroom>/autograders/<assignment>")
    classroom.add_argument("--assignment", type=Path, default=None, metavar="FILE", help="overrides the lesson's default assignment")
    classroom.add_argument("--lang", choices=["en", "zh"], default="en", help="the language of the students' feedback")
    classroom.add_argument("--notebook", default="homework.ipynb", metavar="FILE", help="the file students hand in, relative to their repository's root")

    publish = commands.add_parser("release", help="write the notebook students receive (and a README) for the assignment")
    publish.add_argument("--out", required=True, type=Path, metavar="DIR", help="where homework.ipynb, README.md and (with --assignment) assignment.toml go")
    publish.add_argument("--assignment", type=Path, default=None, metavar="FILE", help="overrides the lesson's default assignment")
    publish.add_argument("--lang", choices=["en", "zh"], default="en", help="the language of the notebook's text")
    publish.add_argument("--solution", type=Path, default=None, metavar="FILE", help="also write the notebook filled with the reference solution (the instructor's key; keep it private)")

    run_pytest = commands.add_parser(
        "pytest", help="one pytest test per property of a submission, with pytest reading nothing from the student's folder",
        description="Runs pytest with propgrade's plugin on one submission, safely from inside the student's folder (CI on a "
        "student's repository): no ini file, conftest.py or module of the current folder or the submission's is read or imported. "
        "Arguments after PATH go to pytest (-k, -q, --junitxml=...).",
    )
    run_pytest.add_argument("path", metavar="NOTEBOOK_OR_MODULE")
    run_pytest.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="PYTEST_ARG")

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


def store_arguments(command: argparse.ArgumentParser) -> None:
    from grader.store import ENV, default_folder

    command.add_argument("--store", type=Path, default=None, metavar="DIR",
                         help=f"where what grading learns is kept for later runs (default: ${ENV}, else {default_folder() or 'none'})")
    command.add_argument("--no-store", action="store_true", help="neither use nor write the store: this run learns alone")


def chosen_store(args, seed: int, profile: str, device: str):
    from grader.store import store_for

    return None if args.no_store else store_for(seed, profile, device, args.store or "default")


def default_jobs() -> int:
    """One job per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def shard_spec(text: str) -> tuple[int, int]:
    index, slash, count = text.partition("/")
    if not (slash and index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError(f"expected I/N with 1 <= I <= N, got {text!r}")
    return int(index), int(count)


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


def chosen_limits(args, assignment: Assignment) -> Limits:
    """The assignment's limits, each replaced by its command-line flag where one was given."""
    from grader.workermanage import GIB
    flags = {
        "call_seconds": args.call_timeout,
        "cell_seconds": args.cell_timeout,
        "total_seconds": args.total_timeout,
        "memory_bytes": None if args.memory is None else int(args.memory * GIB),
    }
    return dataclasses.replace(assignment.limits, **{name: value for name, value in flags.items() if value is not None})


def run_grade(args) -> int:
    from grader.assignment import load_assignment
    from grader.grade import Options, grade_many, grading_key
    for name in ("jobs", "call_timeout", "cell_timeout", "total_timeout", "memory"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            return _usage(f"--{name.replace('_', '-')} must be positive")
    assignment = load_assignment(args.assignment)
    limits = chosen_limits(args, assignment)
    device = resolve_device(args.device)
    store = chosen_store(args, args.seed, args.profile, device)
    options = Options(seed=args.seed, device=device, profile=args.profile, limits=limits, assignment=assignment, store=store)
    submissions = load_all(args.paths)
    if not submissions:
        return _usage("no submissions found")
    warn_if_too_small(args.lang)
    if args.shard:
        submissions = shard(submissions, *args.shard)
        print(f"shard {args.shard[0]}/{args.shard[1]}: {len(submissions)} submission(s)")
    args.out.mkdir(parents=True, exist_ok=True)
    key = grading_key(options)
    kept = [] if args.regrade else [s for s in submissions if already_graded(s, args.out, key)]
    kept_ids = {s.id for s in kept}
    todo = [s for s in submissions if s.id not in kept_ids]
    if kept:
        print(f"{len(kept)} submission(s) already graded in {args.out} from the same content and settings: kept (--regrade grades them again)")
    progress = Progress(len(todo))

    def finished(result) -> None:
        folder = write_submission(result, args.out, args.lang)
        write_platform_files(args.format, result, folder, args.lang)
        progress(result)

    try:
        results = grade_many(todo, options, jobs=args.jobs, on_result=finished)
    finally:
        progress.close()
    write_reports([args.out], args.out, args.lang)
    print(f"graded {len(results)} submission(s) into {args.out}")
    not_gradable = [r.id for r in results if r.status == "grader_failed"]
    if not_gradable:
        print(f"propgrade: {len(not_gradable)} submission(s) not graded because the grader failed (their results say why; grade them again): {', '.join(not_gradable)}", file=sys.stderr)
        return GRADER_FAILED
    if args.fail_under is not None:
        scores = {r.id: (r.score, r.max_score) for r in results}
        scores.update({s.id: (record["score"], record["max_score"]) for s in kept if (record := previous_record(args.out, s.id))})
        low = sorted(sid for sid, (score, top) in scores.items() if percent(score, top) < args.fail_under)
        if low:
            print(f"{len(low)} submission(s) scored under {args.fail_under:g}%: {', '.join(low)}", file=sys.stderr)
            return 1
    return 0


def write_platform_files(platform: str, result, folder: Path, lang: str) -> None:
    """The platform's own file beside results.json (Gradescope's is results.json itself)."""
    if platform == "classroom50":
        from grader.outputs import classroom50

        classroom50.write(result, folder, lang)
    elif platform == "prairielearn":
        from grader.outputs import prairielearn

        prairielearn.write(result, folder / "prairielearn", lang)


def write_reports(sources: list[Path], out: Path, lang: str) -> None:
    for path in write_class_report(sources, out, lang).values():
        print(f"wrote {path}")


def run_report(args) -> int:
    try:
        write_reports(args.sources, args.out, args.lang)
    except NoResults as error:
        return _usage(str(error))
    return 0


def run_check(args) -> int:
    from grader.assignment import load_assignment
    from grader.selfcheck import feedback_text, passed_all, print_text, self_check

    assignment = load_assignment(args.assignment)
    if not Path(args.path).exists():
        return _usage(f"{args.path} does not exist")
    submissions = load_all([args.path])
    if len(submissions) != 1:
        return _usage(f"{args.path} holds {len(submissions)} submissions: check one notebook or module at a time")
    warn_if_too_small(args.lang)
    device = resolve_device(args.device)
    store = None if args.no_store else (args.store or "default")
    result = self_check(submissions[0], assignment, device, store)
    print_text(feedback_text(result, args.lang))
    return 0 if passed_all(result) else 1


def run_warm(args) -> int:
    """Grade the release notebook filled with the reference solution: every property holds, so every
    property's examples and every reference outcome are learned and kept in the store."""
    import tempfile
    import time

    import nbformat

    from grader.assignment import load_assignment
    from grader.grade import Options, grade
    from grader.release import release, solution

    assignment = load_assignment(args.assignment)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory(prefix="propgrade-warm-") as folder:
        paths = release(assignment, Path(folder) / "release", "en")
        filled = Path(folder) / "solution" / "solution.ipynb"
        filled.parent.mkdir()
        nbformat.write(solution(nbformat.read(paths["notebook"], as_version=4)), filled)
        for profile in args.profile or ["default"]:
            store = chosen_store(args, args.seed, profile, device)
            if store is None:
                return _usage("--no-store: there is nothing for warm to do")
            started = time.perf_counter()
            result = grade(load_all([str(filled)])[0], Options(seed=args.seed, device=device, profile=profile, limits=assignment.limits,
                                                               assignment=assignment, store=store))
            if result.score < result.max_score:
                print(f"propgrade: warm: the reference solution got {result.score:g}/{result.max_score:g} under profile {profile}; "
                      "what failed was not kept", file=sys.stderr)
            size = store.path.stat().st_size if store.path.exists() else 0
            print(f"warm ({profile}, seed {args.seed}): {result.score:g}/{result.max_score:g} in {time.perf_counter() - started:.1f} s; "
                  f"store {store.path} ({size / 1e6:.1f} MB)")
    return 0


def run_assignment(args) -> int:
    from grader.assignment import load_assignment, rubric_text

    print(rubric_text(load_assignment(args.assignment), args.lang))
    return 0


def run_gradescope(args) -> int:
    from grader.gradescope import BundleError, build_bundle

    try:
        path = build_bundle(args.out, args.assignment, args.lang)
    except BundleError as error:
        return _usage(str(error))
    print(f"wrote {path}: upload it as the autograder of a Gradescope programming assignment")
    return 0


def run_classroom50(args) -> int:
    from grader.gradescope import BundleError
    from grader.outputs.classroom50 import build_bundle_folder

    try:
        paths = build_bundle_folder(args.out, args.assignment, args.lang, args.notebook)
    except BundleError as error:
        return _usage(str(error))
    for path in paths:
        print(f"wrote {path}")
    return 0


def run_release(args) -> int:
    import nbformat

    from grader.assignment import load_assignment
    from grader.release import release, solution

    paths = release(load_assignment(args.assignment), args.out, args.lang)
    if args.solution is not None:
        args.solution.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(solution(nbformat.read(paths["notebook"], as_version=4)), args.solution)
        paths["solution"] = args.solution
    for path in paths.values():
        print(f"wrote {path}")
    return 0


def run_pytest(args) -> int:
    from grader.plugin import run_isolated

    if not Path(args.path).exists():
        return _usage(f"{args.path} does not exist")
    return run_isolated(args.path, args.pytest_args)


def run_list(args) -> int:
    from grader.properties import TOPICS, catalogue

    props = catalogue()
    for topic, titles in TOPICS.items():
        members = [p for p in props if p.topic == topic]
        print(f"\n{titles[0 if args.lang == 'en' else 1]} ({sum(p.points for p in members):g} points)")
        for p in members:
            print(f"  {p.id:48} {p.points:>3g}  {p.statement_in(args.lang)}")
    print(f"\n{len(props)} properties, {sum(p.points for p in props):g} points")
    return 0


def start_fork_server() -> None:
    """Commands that grade start the fork server before importing torch themselves: its import of torch (and
    warm-up) runs on the other core meanwhile, instead of after (about 3 s of a cold grade)."""
    from grader.forkserver import ForkServer, fork_server_wanted

    if fork_server_wanted():
        ForkServer.shared()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:  # needs no torch: parsed on its own, so nothing that imports torch is loaded
        return run_report(report_parser_with_arguments().parse_args(argv[1:]))
    if argv[:1] in (["grade"], ["check"], ["warm"]):
        start_fork_server()
    threads.one_thread()
    from grader.assignment import AssignmentError

    args = parser().parse_args(argv)
    try:
        return run_command(args)
    except AssignmentError as error:
        return _usage(str(error))


def run_command(args) -> int:
    if args.command == "grade":
        return run_grade(args)
    if args.command == "check":
        return run_check(args)
    if args.command == "warm":
        return run_warm(args)
    if args.command == "assignment":
        return run_assignment(args)
    if args.command == "gradescope":
        return run_gradescope(args)
    if args.command == "report":
        return run_report(args)
    if args.command == "pytest":
        return run_pytest(args)
    if args.command == "release":
        return run_release(args)
    if args.command == "classroom50":
        return run_classroom50(args)
    if args.command == "selftest":
        from grader.selftest import main as run_selftest

        return run_selftest(args)
    return run_list(args)


if __name__ == "__main__":  # as the propgrade command (grader.launcher.command)
    launcher.run("grader.cli", sys.argv[1:])
