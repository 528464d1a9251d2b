"""``propgrade selftest``: grade the example corpus and show that the catalogue bites.

The corpus lives in ``submissions/``:

* ``correct/``: complete, correct submissions in many styles. Each must get
  full marks: a property that fails one of them is wrong, not the student.
* ``buggy/``: complete submissions with one realistic mistake each. Each
  declares exactly the properties it must fail, next to the code: a module's
  first line, or the first line of a notebook's first cell, reads

      # propgrade-expect: step_of_zero_is_one, step_matches_definition

  (a long list goes on over the next lines, each starting the same way).
* ``fair/``: work written the way the lesson writes it: right in the lesson's
  terms (float32, four rows, its PyTorch idioms) but not general. Each declares
  the same way the properties it loses, and those may only be generality
  properties (``GENERALITY``): it must earn every property whose fact it gets right.

Grading the folders against the whole catalogue gives the *kill matrix*
(submissions x properties). The self-test reports, for every buggy and fair
submission, the properties it fails, split into declared and undeclared ones;
the share of buggy submissions caught (failing at least everything they
declare); the *blame precision*: of all points lost by buggy and fair
submissions, the share lost on declared properties (a point lost elsewhere is
blame on a fact the code gets right); every correct submission that loses
points; and every property that no buggy submission fails (a property that
catches nothing). It fails (exit status 1) when a declaration is not met or is
exceeded, is malformed or names an unknown property, when a fair submission
declares a property that is not about generality, or when a correct submission
loses points.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.load import candidates, has_code

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "submissions"
CATEGORIES = ("correct", "fair", "buggy")
DECLARING = ("fair", "buggy")
EXPECT = "# propgrade-expect:"
# A property "fails" a submission with any verdict that earns no points and is not left out of the score.
FAILING = frozenset({"failed", "error", "timeout", "crashed", "missing"})
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_generality(pid: str) -> bool:
    """Properties about reach beyond the lesson's own inputs: other batch sizes and dtypes, other devices,
    today's PyTorch over the lesson's (the only properties a fair submission may lose)."""
    from grader.properties import CATALOGUE

    prop = CATALOGUE.get(pid)
    if prop is None:
        return False
    return prop.topic == "devices" or pid.endswith(("_works_on_any_batch", "_works_in_float64")) or pid == "train_runs_the_lessons_1000_epochs"


class DeclarationError(ValueError):
    """A ``# propgrade-expect:`` line that cannot be read."""


# -- declarations ----------------------------------------------------------------------------------


def _entry(path: Path) -> Path:
    """The file that carries a submission's declaration: the file itself, or a folder's notebook (else its module)."""
    if path.is_dir():
        notebooks, modules, _ = candidates(path)
        entries = notebooks or modules
        if len(entries) != 1:
            raise DeclarationError(f"{path}: a submission folder needs exactly one notebook, or else exactly one module")
        return entries[0]
    return path


def _leading_lines(path: Path, limit: int = 50) -> list[str]:
    """The first lines of a module, or of a notebook's first cell."""
    if path.suffix == ".ipynb":
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DeclarationError(f"{path.name}: not a readable notebook ({error})") from None
        cells = notebook.get("cells") if isinstance(notebook, dict) else None
        if not cells or not isinstance(cells[0], dict):
            return []
        source = cells[0].get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        return source.splitlines()[:limit]
    lines = []
    with path.open("rb") as handle:
        for raw in handle:
            lines.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            if len(lines) >= limit:
                break
    if lines:
        lines[0] = lines[0].lstrip("\ufeff")
    return lines


def expected_failures(path: str | Path) -> list[str]:
    """The property ids a submission declares it must fail, in the order written.

    The declaration is the first line of a module, or the first line of the
    first cell of a notebook (code or markdown): ``# propgrade-expect: id1, id2``.
    A long list may go on over the lines right after it, each starting the
    same way. No such line gives ``[]``; a declaration that lists no valid ids
    raises ``DeclarationError``. Ids are not checked against the catalogue here.
    """
    lines = _leading_lines(_entry(Path(path)))
    ids: list[str] = []
    for line in lines:
        line = line.strip()
        if not line.startswith(EXPECT):
            break
        parts = [part.strip() for part in line[len(EXPECT):].split(",")]
        if any(not _ID.match(part) for part in parts):
            raise DeclarationError(f"{Path(path).name}: cannot read the declaration {line!r}")
        ids += parts
    if len(set(ids)) != len(ids):
        raise DeclarationError(f"{Path(path).name}: a property is declared twice")
    return ids


def corpus_paths(category: str, root: str | Path | None = None) -> list[Path]:
    """The submissions of one category (``correct`` or ``buggy``), in a stable order."""
    folder = Path(root or CORPUS) / category
    if not folder.is_dir():
        return []
    notebooks, modules, folders = candidates(folder)
    return sorted([*notebooks, *modules, *(f for f in folders if has_code(f))])


# -- the kill matrix -------------------------------------------------------------------------------


@dataclass
class Row:
    """One graded submission of the corpus."""

    category: str
    path: str
    id: str
    status: str
    score: float
    max_score: float
    verdicts: dict[str, str]  # property id -> verdict kind
    points: dict[str, float] = field(default_factory=dict)  # property id -> its points
    declared: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # declaration problems, grading that never started

    @property
    def failed(self) -> list[str]:
        return [pid for pid, kind in self.verdicts.items() if kind in FAILING]

    @property
    def missed(self) -> list[str]:
        """Declared properties that this run did not see fail (skipped ones are not counted here)."""
        return [pid for pid in self.declared if self.verdicts.get(pid) not in FAILING and self.verdicts.get(pid) != "skipped"]

    @property
    def undeclared(self) -> list[str]:
        return [pid for pid in self.failed if pid not in self.declared]

    @property
    def lost(self) -> float:
        return sum(self.points.get(pid, 0.0) for pid in self.failed)

    @property
    def lost_undeclared(self) -> float:
        return sum(self.points.get(pid, 0.0) for pid in self.undeclared)

    @property
    def unchecked(self) -> list[str]:
        """Declared properties skipped on this machine (CUDA ones without CUDA)."""
        return [pid for pid in self.declared if self.verdicts.get(pid) == "skipped"]

    @property
    def ok(self) -> bool:
        if self.problems:
            return False
        if self.category == "correct":
            return not self.failed and self.score == self.max_score
        return not self.missed and not self.undeclared


@dataclass
class Report:
    rows: list[Row]
    properties: list[str]
    profile: str = "ci"
    device: str = "cpu"
    seed: int = 0

    def of(self, category: str) -> list[Row]:
        return [r for r in self.rows if r.category == category]

    @property
    def caught(self) -> list[Row]:
        """Buggy submissions failing at least everything they declare."""
        return [r for r in self.of("buggy") if not r.missed and not r.problems]

    @property
    def declaring(self) -> list[Row]:
        return [r for r in self.rows if r.category in DECLARING]

    @property
    def blame_precision(self) -> float:
        """Of the points lost by buggy and fair submissions, the share lost on properties they declare."""
        lost = sum(r.lost for r in self.declaring)
        return 1.0 - sum(r.lost_undeclared for r in self.declaring) / lost if lost else 1.0

    @property
    def share_caught(self) -> float:
        buggy = self.of("buggy")
        return len(self.caught) / len(buggy) if buggy else 1.0

    @property
    def losing_correct(self) -> list[Row]:
        return [r for r in self.of("correct") if not r.ok]

    def killers(self, pid: str) -> list[str]:
        return [r.id for r in self.of("buggy") if r.verdicts.get(pid) in FAILING]

    @property
    def silent(self) -> list[str]:
        """Properties checked here that no buggy submission fails."""
        return [pid for pid in self.properties if pid not in self.skipped_everywhere and not self.killers(pid)]

    @property
    def skipped_everywhere(self) -> list[str]:
        rows = self.rows
        return [pid for pid in self.properties if rows and all(r.verdicts.get(pid) == "skipped" for r in rows)]

    @property
    def passed(self) -> bool:
        return all(r.ok for r in self.rows)


def _row(category: str, path: Path, result, known: set[str], points: dict[str, float]) -> Row:
    row = Row(category, str(path), result.id, result.status, result.score, result.max_score,
              {v.property: v.kind for v in result.verdicts}, points)
    if result.status != "graded":
        detail = result.problem.render("en") if result.problem is not None else "see its results"
        row.problems.append(f"grading ended {result.status}: {detail}")
    if category in DECLARING:
        try:
            row.declared = expected_failures(path)
        except DeclarationError as error:
            row.problems.append(str(error))
        if not row.declared and not row.problems:
            row.problems.append("declares no property it must fail (first line: '# propgrade-expect: id, ...')")
        unknown = [pid for pid in row.declared if pid not in known]
        if unknown:
            row.problems.append(f"declares unknown properties: {', '.join(unknown)}")
        beyond = [pid for pid in row.declared if pid in known and not is_generality(pid)]
        if category == "fair" and beyond:
            row.problems.append(f"a fair submission may lose only generality properties, not: {', '.join(beyond)}")
    return row


def run(options, *, jobs: int = 1, root: str | Path | None = None, on_row=None) -> Report:
    """Grade every correct and buggy submission of the corpus with ``options`` (the full catalogue unless narrowed)."""
    from grader.grade import grade_many
    from grader.load import load_all
    from grader.properties import catalogue

    properties = options.properties or catalogue()
    known = {p.id for p in catalogue()}
    points = {p.id: p.points for p in properties}
    paths = [(category, path) for category in CATEGORIES for path in corpus_paths(category, root)]
    submissions = load_all([str(path) for _, path in paths])
    by_id = {s.id: (category, path) for s, (category, path) in zip(submissions, paths)}

    def collect(result):
        if on_row is not None:
            category, path = by_id[result.id]
            on_row(_row(category, path, result, known, points), result)

    results = grade_many(submissions, options, jobs=jobs, on_result=collect)
    rows = [_row(*by_id[r.id], r, known, points) for r in results]
    return Report(rows, [p.id for p in properties], options.profile, options.device, options.seed)


# -- output ----------------------------------------------------------------------------------------


def _ids(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "-"


def _listing(label: str, ids: list[str], width: int = 118) -> list[str]:
    """``label: a, b, c`` wrapped under the label, nine columns in."""
    return textwrap.wrap(_ids(ids), width=width, initial_indent=f"         {label}: ", subsequent_indent=" " * 13,
                         break_long_words=False, break_on_hyphens=False)


def render(report: Report) -> str:
    lines = [f"propgrade selftest: {len(report.of('correct'))} correct, {len(report.of('fair'))} fair and {len(report.of('buggy'))} buggy submissions, "
             f"{len(report.properties)} properties (profile {report.profile}, seed {report.seed}, device {report.device})", ""]
    lines.append("Correct submissions (must get full marks):")
    for r in report.of("correct"):
        mark = "ok  " if r.ok else "LOSS"
        lines.append(f"  {mark} {r.id:40} {r.score:g}/{r.max_score:g}" + (f"  fails: {_ids(r.failed)}" if r.failed else ""))
        lines += [f"         problem: {p}" for p in r.problems]
    for category, title in (("fair", "Fair submissions, lesson style (declared = the generality properties they lose; also = failed, not declared):"),
                            ("buggy", "Kill matrix, buggy submissions (declared = expected to fail; also = failed, not declared):")):
        lines += ["", title]
        lines += _declaring_lines(report.of(category))
    buggy = report.of("buggy")
    lost = sum(r.lost for r in report.declaring)
    beyond = sum(r.lost_undeclared for r in report.declaring)
    lines += ["", "Summary:",
              f"  buggy submissions caught: {len(report.caught)}/{len(buggy)} ({100 * report.share_caught:.0f}%)",
              f"  blame precision: {100 * report.blame_precision:.1f}% ({lost - beyond:g} of {lost:g} points lost by buggy and fair "
              f"submissions fall on declared properties; {beyond:g} on properties beyond a declaration, "
              f"in {sum(1 for r in report.declaring if r.undeclared)} submissions)",
              f"  fair submissions losing only their generality properties: {sum(1 for r in report.of('fair') if r.ok)}/{len(report.of('fair'))}",
              f"  correct submissions losing points: {len(report.losing_correct)}/{len(report.of('correct'))}"
              + (f" ({_ids([r.id for r in report.losing_correct])})" if report.losing_correct else ""),
              f"  properties that catch nothing: {len(report.silent)}" + (f" ({_ids(report.silent)})" if report.silent else "")]
    if report.skipped_everywhere:
        lines.append(f"  properties skipped on this machine: {_ids(report.skipped_everywhere)}")
    counts = sorted(((len(report.killers(pid)), pid) for pid in report.properties if pid not in report.skipped_everywhere))
    if counts:
        weakest = [f"{pid} ({n})" for n, pid in counts[:5]]
        lines.append(f"  fewest catches: {', '.join(weakest)}")
    lines.append(f"  result: {'PASS' if report.passed else 'FAIL'}")
    return "\n".join(lines)


def _declaring_lines(rows: list[Row]) -> list[str]:
    lines = []
    for r in rows:
        mark = "ok  " if r.ok else ("MISS" if r.missed else "OVER")
        counts = f"fails {len(r.failed)}: {len(r.failed) - len(r.undeclared)} declared, {len(r.undeclared)} not"
        lines.append(f"  {mark} {r.id:40} {r.score:g}/{r.max_score:g}  {counts}" + (f", misses {len(r.missed)}" if r.missed else ""))
        lines += _listing("declared", [pid for pid in r.declared if pid not in r.missed and pid not in r.unchecked])
        if r.missed:
            lines += _listing("declared but NOT failed", r.missed)
        if r.unchecked:
            lines += _listing("declared, skipped here", r.unchecked)
        if r.undeclared:
            lines += _listing("also", r.undeclared)
        lines += [f"         problem: {p}" for p in r.problems]
    return lines


MARKS = {"passed": "", "skipped": "s"}


def cell(row: Row, pid: str) -> str:
    """One kill-matrix cell: '' passed, 's' skipped, 'D' declared and failed, 'x' failed undeclared, 'MISS' declared but passed."""
    kind = row.verdicts.get(pid, "")
    if kind in FAILING:
        return "D" if pid in row.declared else "x"
    if pid in row.declared and kind != "skipped":
        return "MISS"
    return MARKS.get(kind, kind)


def write(report: Report, out: Path) -> None:
    """``kill_matrix.csv`` (one row per submission, one column per property) and ``selftest.json``."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "kill_matrix.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["category", "submission", "ok", "score", "max_score", *report.properties])
        for r in report.rows:
            writer.writerow([r.category, r.id, int(r.ok), f"{r.score:g}", f"{r.max_score:g}", *(cell(r, pid) for pid in report.properties)])
    summary = {
        "profile": report.profile, "device": report.device, "seed": report.seed, "passed": report.passed,
        "share_caught": report.share_caught, "blame_precision": report.blame_precision, "silent_properties": report.silent, "skipped_properties": report.skipped_everywhere,
        "killers": {pid: report.killers(pid) for pid in report.properties},
        "submissions": [
            {"category": r.category, "id": r.id, "path": r.path, "ok": r.ok, "status": r.status, "score": r.score,
             "max_score": r.max_score, "declared": r.declared, "failed": r.failed, "missed": r.missed,
             "undeclared": r.undeclared, "lost": r.lost, "lost_undeclared": r.lost_undeclared, "problems": r.problems}
            for r in report.rows
        ],
    }
    (out / "selftest.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(args) -> int:
    """The ``propgrade selftest`` subcommand (arguments parsed by ``grader.cli``)."""
    from grader.cli import resolve_device
    from grader.grade import Options
    from grader.results import write_submission

    if args.jobs <= 0:
        print("propgrade: error: --jobs must be positive", file=sys.stderr)
        return 2
    options = Options(seed=args.seed, device=resolve_device(args.device), profile=args.profile)
    root = args.corpus or CORPUS
    if not corpus_paths("correct", root) and not corpus_paths("buggy", root):
        print(f"propgrade: error: no submissions under {root}/correct or {root}/buggy", file=sys.stderr)
        return 2

    def progress(row: Row, result) -> None:
        if args.out is not None:
            write_submission(result, args.out / row.category)
        print(f"  graded {row.category}/{row.id}: {row.score:g}/{row.max_score:g} in {result.seconds:.1f} s", flush=True)

    started = time.perf_counter()
    report = run(options, jobs=args.jobs, root=root, on_row=progress)
    if args.out is not None:
        write(report, args.out)
    print()
    print(render(report))
    print(f"  wall time: {time.perf_counter() - started:.0f} s with -j {args.jobs}")
    return 0 if report.passed else 1
