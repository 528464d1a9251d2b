"""Find submissions and read them into cells, without running anything.

A path is one submission (a notebook, a module, or a folder holding one
student's work) or a class folder whose entries are submissions. Reading
problems (bad JSON, not a notebook, not UTF-8, a syntax error in a module)
become a ``problem`` on the submission: a verdict, never a crash.
"""

from __future__ import annotations

import hashlib
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from grader.messages import Message, say

NOTEBOOK, MODULE = ".ipynb", ".py"
IGNORED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git"}


class Unreadable(ValueError):
    """Why a submission's file cannot be read, as a message for the student."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(message.render("en"))


@dataclass
class Submission:
    path: str  # as given, for the gradebook
    id: str  # safe on every filesystem, unique within one run
    kind: str  # "notebook" or "module"
    folder: Path | None = None  # copied into the worker's directory
    entry: str = ""  # the file that is run, relative to ``folder``
    cells: list[str] = field(default_factory=list)
    problem: Message | None = None
    sha256: str = ""


def candidates(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.name not in IGNORED_DIRS)
    notebooks = [p for p in entries if p.is_file() and p.suffix == NOTEBOOK]
    modules = [p for p in entries if p.is_file() and p.suffix == MODULE]
    folders = [p for p in entries if p.is_dir()]
    return notebooks, modules, folders


def has_code(folder: Path) -> bool:
    notebooks, modules, _ = candidates(folder)
    return bool(notebooks or modules)


def is_class(folder: Path) -> bool:
    """A class folder holds several submissions: several notebooks, several modules
    and no notebook, or sub-folders that hold code of their own."""
    notebooks, modules, folders = candidates(folder)
    if len(notebooks) > 1 or (not notebooks and len(modules) > 1):
        return True
    return any(has_code(sub) for sub in folders)


def expand(paths: list[str]) -> list[str]:
    """Submission paths in a stable order: class folders expand to their entries."""
    found: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir() and is_class(path):
            notebooks, modules, folders = candidates(path)
            found += [str(p) for p in sorted(notebooks + modules + folders)]
        else:
            found.append(given)
    return found


def safe_id(path: str, taken: set[str]) -> str:
    """A name from the file name: ASCII letters, digits, '-', '_' and '.'; made unique."""
    stem = Path(path.rstrip("/\\")).name
    stem = stem[: -len(NOTEBOOK)] if stem.endswith(NOTEBOOK) else stem[: -len(MODULE)] if stem.endswith(MODULE) else stem
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "submission"
    if clean != stem:
        clean = f"{clean[:40]}-{hashlib.sha1(stem.encode()).hexdigest()[:6]}"
    clean = clean[:60]
    candidate, n = clean, 2
    while candidate.lower() in taken:
        candidate, n = f"{clean}-{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def load_all(paths: list[str]) -> list[Submission]:
    taken: set[str] = set()
    return [load(path, safe_id(path, taken)) for path in expand(paths)]


def load(given: str, sid: str) -> Submission:
    path = Path(given)
    if path.is_dir():
        notebooks, modules, _ = candidates(path)
        entries = notebooks if notebooks else modules
        if len(entries) != 1:
            found = ", ".join(p.name for p in notebooks + modules) or say("nothing")
            return Submission(given, sid, "folder", problem=say("load_error", why=say("folder_needs_one_entry", found=found)))
        return _read(given, sid, entries[0], folder=path)
    if not path.exists():
        return Submission(given, sid, "missing", problem=say("load_error", why=say("does_not_exist", path=given)))
    if path.suffix not in (NOTEBOOK, MODULE):
        return Submission(given, sid, "unknown", problem=say("load_error", why=say("not_notebook_or_module", name=path.name)))
    return _read(given, sid, path, folder=None)


def _read(given: str, sid: str, entry: Path, folder: Path | None) -> Submission:
    kind = "notebook" if entry.suffix == NOTEBOOK else "module"
    submission = Submission(given, sid, kind, folder=folder, entry=entry.name)
    try:
        raw = entry.read_bytes()
    except OSError as error:
        submission.problem = say("load_error", why=say("file_error", name=entry.name, error=error.strerror))
        return submission
    submission.sha256 = content_hash(raw, folder)
    try:
        submission.cells = notebook_cells(raw) if kind == "notebook" else [module_source(raw, entry.name)]
    except Unreadable as error:
        submission.problem = say("load_error", why=say("file_error", name=entry.name, error=error.message))
    return submission


def content_hash(raw: bytes, folder: Path | None) -> str:
    """What identifies the work: the entry file's bytes, or every file of a submission folder
    (data and saved weights beside the notebook can change a grade too)."""
    if folder is None:
        return hashlib.sha256(raw).hexdigest()
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()


def shard(submissions: list[Submission], index: int, count: int) -> list[Submission]:
    """Shard ``index`` (1-based) of ``count``: chosen by a hash of each id, so a submission's shard is the
    same on every machine and does not move when other students join the class."""
    return [s for s in submissions if int(hashlib.sha256(s.id.encode()).hexdigest(), 16) % count == index - 1]


def notebook_cells(raw: bytes) -> list[str]:
    """Code cells of any notebook version nbformat can read, upgraded to version 4."""
    import nbformat

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Unreadable(say("not_utf8", position=error.start)) from None
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds for bad input
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise Unreadable(say("unreadable_notebook", error=first[:200])) from None
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise Unreadable(say("no_cells"))
    return [cell.get("source", "") for cell in cells if cell.get("cell_type") == "code"]


def module_source(raw: bytes, name: str) -> str:
    """The module's text (PEP 263 encodings honoured); a syntax error names the file and line."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as error:
        raise Unreadable(say("undecodable_source", error=str(error))) from None
    try:
        compile(text, name, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise Unreadable(say("syntax_error_at", line=error.lineno, message=error.msg)) from None
    except ValueError as error:  # null bytes
        raise Unreadable(say("syntax_error_at", line=1, message=str(error))) from None
    return text
