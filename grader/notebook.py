"""The check inside a notebook: ``from grader.notebook import propgrade; propgrade()``, or the IPython
extension ``%load_ext grader.notebook`` then ``%propgrade [PATH] [--lang zh]``.

It grades the notebook's **saved file**, never the kernel's state (what the kernel holds may differ
from what will be handed in: otter-grader #244, nbgrader #1844), exactly as ``propgrade check``
does (``grader/selfcheck.py``: final grading's settings, visible properties only). The grading
runs in a checker process of its own, spawned (not forked) from the kernel so that nothing the
student's code did to this interpreter reaches the controller; it stays alive between calls, so
its fork server and the examples of properties that held stay warm. The notebook's path is what
the front end tells the kernel: ``__vsc_ipynb_file__`` (VS Code), ``JPY_SESSION_NAME``
(JupyterLab, Notebook 7), or the path given.
"""

from __future__ import annotations

import multiprocessing
import os
import shlex
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from grader.messages import say

_checker: ProcessPoolExecutor | None = None
_last_run = {"finished": 0.0}  # when the kernel last finished a cell other than a check (seconds since the epoch)
_history_mark = {"at": 0}  # history length after the previous check: later runs are what the next one compares
last_feedback: "Feedback | None" = None  # the latest check's feedback, for code that wants the numbers


class Feedback:
    """What a check shows: an HTML table where the front end renders HTML, plain text elsewhere."""

    def __init__(self, html: str, text: str, report: dict):
        self.html, self.text, self.report = html, text, report

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


def propgrade(path: str | os.PathLike | None = None, lang: str = "en", assignment: str | os.PathLike | None = None, device: str = "auto") -> None:
    """Grade the saved notebook file this kernel runs (or ``path``) and display the feedback (kept in ``last_feedback``).
    Returns nothing, so that a call as a cell's last line does not show the feedback twice."""
    global last_feedback
    from IPython import get_ipython
    from IPython.display import display

    shell = get_ipython()
    notebook = Path(path) if path is not None else notebook_path(shell)
    if notebook is None or not notebook.is_file():
        message = (say("does_not_exist", path=str(notebook)) if notebook else say("notebook_not_found", example="homework.ipynb")).render(lang)
        last_feedback = Feedback(f"<p><b>{_escape(message)}</b></p>", message, {})
        display(last_feedback)
        return
    if assignment is not None and not Path(assignment).is_absolute() and (notebook.parent / assignment).is_file():
        assignment = notebook.parent / assignment  # a rubric handed out beside the notebook, wherever the kernel started
    warnings = [w.render(lang) for w in stale_warnings(notebook, shell)]
    report = run_in_checker(str(notebook.resolve()), None if assignment is None else str(assignment), lang, device)
    note = say("notebook_checked_file", path=str(notebook)).render(lang)
    html = "".join(f"<p style='color:#9a6700'><b>⚠ {_escape(w)}</b></p>" for w in warnings) + report["html"] + f"<p><small>{_escape(note)}</small></p>"
    text = "\n".join([*(f"⚠ {w}" for w in warnings), report["text"], note])
    last_feedback = Feedback(html, text, report)
    display(last_feedback)


def notebook_path(shell) -> Path | None:
    """The notebook file as the front end names it to the kernel, or None where it says nothing."""
    vscode = (shell.user_ns.get("__vsc_ipynb_file__") if shell is not None else None) or None
    if vscode:
        return Path(vscode)
    session = os.environ.get("JPY_SESSION_NAME")
    if session and session.endswith(".ipynb"):
        named = Path(session)
        for candidate in (named, Path.cwd() / named, Path.cwd() / named.name):  # absolute, or relative to the server's root
            if candidate.is_file():
                return candidate
    return None


def stale_warnings(notebook: Path, shell) -> list:
    """Why the saved file may not be what the kernel ran: code run since that the file does not hold,
    or a file saved before the kernel's last run of a cell."""
    warnings = []
    try:
        saved = saved_sources(notebook)
        modified = notebook.stat().st_mtime
    except (OSError, ValueError):
        return warnings
    history = list(getattr(getattr(shell, "history_manager", None), "input_hist_raw", []) or [])
    missing = unsaved(history[1:-1], saved)  # [0] is empty, [-1] is the cell running this check
    if missing:
        warnings.append(say("notebook_unsaved", count=missing))
    elif _last_run["finished"] > modified:
        warnings.append(say("notebook_stale"))
    return warnings


def saved_sources(notebook: Path) -> set[str]:
    import nbformat

    saved = nbformat.read(notebook, as_version=4)
    return {_normal(cell.source) for cell in saved.cells if cell.cell_type == "code"}


def unsaved(executed: list[str], saved: set[str]) -> int:
    """How many of the kernel's latest runs are not in the saved file: the last cell run before the check,
    and every run since the previous check of this kernel (the check's own cell is left out)."""
    since = executed[_history_mark["at"]:] if _history_mark["at"] else executed[-1:]
    _history_mark["at"] = len(executed) + 1
    latest = [source for source in since if _normal(source) and not _is_check(source)]
    return len({_normal(source) for source in latest} - saved)



def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _is_check(source: str) -> bool:
    return "grader.notebook" in source or source.lstrip().startswith("%propgrade")


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def run_in_checker(*args) -> dict:
    """``check_file`` in the checker process; a checker that died (killed, out of memory) is replaced once."""
    global _checker
    try:
        return checker().submit(check_file, *args).result()
    except BrokenProcessPool:
        _checker = None
        return checker().submit(check_file, *args).result()


def checker() -> ProcessPoolExecutor:
    """The checker process, started on the first check and kept for the next ones."""
    global _checker
    if _checker is None:
        _checker = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_leave_student_folder)
    return _checker


def _leave_student_folder() -> None:
    """In the checker: import nothing from the kernel's working folder (a student's ``torch.py`` there stays theirs),
    and leave Ctrl+C to the kernel (interrupting a check stops the wait, not the checker kept for the next one).
    Then the fork server starts, before this process imports torch itself: the two imports run side by side."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    here = os.path.abspath(os.getcwd())
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    threading.Thread(target=_end_with_kernel, args=(os.getppid(),), daemon=True).start()
    from grader.forkserver import ForkServer, fork_server_wanted

    if fork_server_wanted():
        ForkServer.shared()


def _end_with_kernel(kernel: int) -> None:
    """A kernel can end without shutting its checker down (killed on a restart, by the OOM killer): this process
    then ends too, and with it its fork server and their workers, instead of staying behind with their memory."""
    while os.getppid() == kernel:
        time.sleep(1)
    os._exit(0)


def check_file(path: str, assignment_file: str | None, lang: str, device: str) -> dict:
    """In the checker process: ``propgrade check`` on one saved file, as HTML and text."""
    from grader.assignment import load_assignment
    from grader.cli import resolve_device
    from grader.load import load_all
    from grader.selfcheck import feedback_html, feedback_text, passed_all, self_check

    started = time.perf_counter()
    keep_clean_reader()
    assignment = load_assignment(assignment_file)
    submission = load_all([path])[0]
    key = (submission.sha256, assignment.fingerprint(), resolve_device(device))
    result = _CHECKED.get(key)
    notes = [m.render(lang) for m in other_assignment(path, assignment)]
    if result is None:
        result = self_check(submission, assignment, key[2])
        if settled(result):
            _CHECKED.clear()
            _CHECKED[key] = result
    else:
        notes.append(say("check_unchanged").render(lang))
    return {
        "html": "".join(f"<p style='color:#9a6700'><b>⚠ {_escape(m)}</b></p>" for m in notes) + feedback_html(result, lang),
        "text": "\n".join([*(f"⚠ {m}" for m in notes), feedback_text(result, lang)]),
        "score": result.score,
        "max_score": result.max_score,
        "passed_all": passed_all(result),
        "verdicts": {v.property: v.kind for v in result.verdicts},
        "seconds": time.perf_counter() - started,
    }


# The last result in this checker process, by saved content, assignment and device: grading is a function of
# these (the deterministic-regrade tests), so checking an unchanged file again would only repeat it.
_CHECKED: dict[tuple, object] = {}


def settled(result) -> bool:
    """A result that depends on the file alone: graded, with no verdict decided by the machine's load (a timeout) or
    by a lost worker, which a second check might not repeat."""
    return result.status == "graded" and not any(v.kind in ("timeout", "crashed") for v in result.verdicts)


def other_assignment(path: str, assignment) -> list:
    """A warning when the notebook was released (``propgrade release``) for another assignment than the one checked with."""
    import nbformat

    try:
        released = nbformat.read(path, as_version=4).metadata.get("propgrade", {})
    except (OSError, ValueError):
        return []
    if not released.get("fingerprint") or released["fingerprint"] == assignment.fingerprint():
        return []
    return [say("notebook_other_assignment", released=released.get("assignment", "?"), released_fingerprint=released["fingerprint"],
                used=assignment.name, used_fingerprint=assignment.fingerprint())]


def keep_clean_reader() -> None:
    """Start the clean reader's server before any worker: one started while a worker lives is taken for that
    worker's stray when it stops, and every check would start it again (about 2.5 s)."""
    if hasattr(os, "fork"):
        from grader.clean_reader import CleanReader

        CleanReader.shared()


def _record_run(result) -> None:
    if not _is_check(getattr(result.info, "raw_cell", "") or ""):
        _last_run["finished"] = time.time()


def load_ipython_extension(shell) -> None:
    """``%load_ext grader.notebook``: adds ``%propgrade [PATH] [--lang en|zh] [--assignment FILE]``."""

    def magic(line: str):
        words, options = shlex.split(line), {}
        while words and words[0].startswith("--") and len(words) > 1:
            options[words[0][2:]] = words[1]
            words = words[2:]
        propgrade(words[0] if words else None, lang=options.get("lang", "en"), assignment=options.get("assignment"))

    shell.register_magic_function(magic, "line", "propgrade")


def _watch_runs() -> None:
    """From the first import on, remember when the kernel last finished a cell (for the stale-file warning)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.events.register("post_run_cell", _record_run)


_watch_runs()
