"""Find submissions and read them into cells, without running anything.

A path is one submission (a notebook, a module, or a folder holding one
student's work) or a class folder whose entries are submissions. Reading
problems (bad JSON, not a notebook, not UTF-8, a syntax error in a module)
become a ``problem`` on the submission: a verdict, never a crash.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import stat
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from grader.messages import Message, say
from grader.sandbox.staging import MIB, NOT_COPIED, OPEN_FLAGS, StagingRefused, size_text, stage

NOTEBOOK, MODULE = ".ipynb", ".py"
IGNORED_DIRS = NOT_COPIED
# Largest file read, checked before reading: a lesson's notebook with its plots is well under 8 MiB,
# its module under 20 KiB. The controller parses what it reads, which takes many times the file's size:
# a notebook's JSON at most about 150 MiB at the cap (outputs are dropped before nbformat validates it),
# Python's compiler about 350 times a module's size (a module is compiled to find syntax errors).
MAX_BYTES = {NOTEBOOK: 8 * MIB, MODULE: 256 * 1024}


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
    sha256: str = ""  # of the entry's bytes, or of exactly what a worker is given of the folder (sandbox.staging)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # folder entries not staged: (relative path, why)


def candidates(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """Notebooks, modules and sub-folders of ``folder``, judged without following links: a link named
    like a notebook or module is listed (reading it is refused, with a message), a link to a folder is not."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted((e for e in listing if not e.name.startswith(".") and e.name not in IGNORED_DIRS), key=lambda e: e.name)
    except OSError:
        return [], [], []
    files = [Path(e.path) for e in entries if not e.is_dir(follow_symlinks=False)]
    notebooks = [p for p in files if p.suffix == NOTEBOOK]
    modules = [p for p in files if p.suffix == MODULE]
    folders = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
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
        if os.path.isdir(given) and not os.path.islink(given) and is_class(path):
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
    """Read one submission; never raises: whatever goes wrong becomes its problem, a verdict."""
    try:
        return _load(given, sid)
    except Exception as error:  # noqa: BLE001 - one submission's trouble is never the class's
        detail = f"{type(error).__name__}: {error}"[:300]
        return Submission(given, sid, "unknown", problem=say("grader_failed", doing=say("loading"), error=detail))


def _load(given: str, sid: str) -> Submission:
    """Links are never followed: not as the path given (a student's repository may hold a link to
    another student's notebook or the reference), not inside a folder (sandbox.staging)."""
    name = Path(given.rstrip("/\\")).name or given
    try:
        mode = os.lstat(given).st_mode  # "folder/" names the folder a link points to: the user's choice
    except FileNotFoundError:
        return Submission(given, sid, "missing", problem=say("load_error", why=say("does_not_exist", path=given)))
    except OSError as error:
        return Submission(given, sid, "unknown", problem=say("load_error", why=say("file_error", name=name, error=error.strerror)))
    if stat.S_ISLNK(mode):
        return Submission(given, sid, "unknown", problem=say("load_error", why=say("is_link", name=name)))
    path = Path(given)
    if stat.S_ISDIR(mode):
        notebooks, modules, _ = candidates(path)
        if any(not p.is_symlink() for p in notebooks + modules):  # a link beside the real entry is only skipped when staging
            notebooks, modules = [p for p in notebooks if not p.is_symlink()], [p for p in modules if not p.is_symlink()]
        entries = notebooks if notebooks else modules
        if len(entries) != 1:
            found = ", ".join(p.name for p in notebooks + modules) or say("nothing")
            return Submission(given, sid, "folder", problem=say("load_error", why=say("folder_needs_one_entry", found=found)))
        return _read(given, sid, entries[0], folder=path)
    if path.suffix not in (NOTEBOOK, MODULE):
        return Submission(given, sid, "unknown", problem=say("load_error", why=say("not_notebook_or_module", name=path.name)))
    return _read(given, sid, path, folder=None)


def _read(given: str, sid: str, entry: Path, folder: Path | None) -> Submission:
    kind = "notebook" if entry.suffix == NOTEBOOK else "module"
    submission = Submission(given, sid, kind, folder=folder, entry=entry.name)
    try:
        raw = read_capped(entry, MAX_BYTES[entry.suffix])
        if folder is None:
            submission.sha256 = hashlib.sha256(raw).hexdigest()
        else:
            staged = stage(folder)  # the walk a worker's staging does, without a copy
            submission.sha256, submission.skipped = staged.sha256, staged.skipped
    except Unreadable as error:  # its message names the file
        submission.problem = say("load_error", why=error.message)
        return submission
    except StagingRefused as refused:
        submission.problem = refused.message
        return submission
    try:
        submission.cells = notebook_cells(raw) if kind == "notebook" else [module_source(raw, entry.name)]
    except Unreadable as error:
        submission.problem = say("load_error", why=say("file_error", name=entry.name, error=error.message))
    return submission


def read_capped(path: Path, cap: int) -> bytes:
    """The file's bytes, refused without reading it whole when it is over ``cap``, not a plain file, or a link."""
    name = path.name
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError as error:
        why = say("is_link", name=name) if error.errno == errno.ELOOP else say("file_error", name=name, error=error.strerror)
        raise Unreadable(why) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable(say("not_plain_file", name=name))
        if info.st_size > cap:
            raise Unreadable(say("too_large", name=name, size=size_text(info.st_size), cap=size_text(cap)))
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, cap + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > cap:  # it grew since fstat
            raise Unreadable(say("too_large", name=name, size=size_text(total), cap=size_text(cap)))
        return b"".join(chunks)
    except OSError as error:
        raise Unreadable(say("file_error", name=name, error=error.strerror)) from None
    finally:
        os.close(fd)


def shard(submissions: list[Submission], index: int, count: int) -> list[Submission]:
    """Shard ``index`` (1-based) of ``count``: chosen by a hash of each id, so a submission's shard is the
    same on every machine and does not move when other students join the class."""
    return [s for s in submissions if int(hashlib.sha256(s.id.encode()).hexdigest(), 16) % count == index - 1]


def notebook_cells(raw: bytes) -> list[str]:
    """Code cells of any notebook version nbformat can read, upgraded to version 4.

    Only code cells' sources are needed: outputs and attachments (plots, long logs, most of a
    large notebook) are dropped before nbformat builds and validates its own copy."""
    import nbformat

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Unreadable(say("not_utf8", position=error.start)) from None
    try:
        data = json.loads(text)
        del text
        notebook = nbformat.reads(json.dumps(without_outputs(data)), as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds for bad input
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise Unreadable(say("unreadable_notebook", error=first[:200])) from None
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise Unreadable(say("no_cells"))
    return [cell.get("source", "") for cell in cells if cell.get("cell_type") == "code"]


def without_outputs(data):
    """The notebook's JSON with every cell's outputs emptied and attachments dropped (nbformat 4, and 3's worksheets)."""
    if not isinstance(data, dict):
        return data
    worksheets = data.get("worksheets") if isinstance(data.get("worksheets"), list) else []
    for cells in [data.get("cells"), *(w.get("cells") for w in worksheets if isinstance(w, dict))]:
        for cell in cells if isinstance(cells, list) else []:
            if isinstance(cell, dict):
                if "outputs" in cell:
                    cell["outputs"] = []
                cell.pop("attachments", None)
    return data


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
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes; nesting too deep for the compiler
        raise Unreadable(say("syntax_error_at", line=1, message=str(error)[:200] or type(error).__name__)) from None
    return text
