"""Benchmark: the release path (issue 13) for the lesson's default assignment: release time, the in-notebook
check (``from grader.notebook import propgrade; propgrade()``), and the size of each platform's result file.

Runs the released notebook filled with the reference solution in a real ipykernel (nbclient), with three
check cells at its end, each timed by the kernel (the cell's execution, as a student waits for it):

* ``check_first_seconds``: the first check, which starts the checker process (torch imported there) and grades;
* ``check_warm_seconds``: the same saved file checked again: answered from the checker's cache of the last
  result (``grader/notebook.py``, ``_CHECKED``), so it only says that the cache answers ("shown again");
* ``check_after_edit_seconds``: a cell that changes the saved file (a comment line appended to its first code
  cell, written with nbformat to the file ``JPY_SESSION_NAME`` names) and checks again: a real second check,
  graded in the warm checker process. What each check said is printed (``*_said``: its score line, and
  whether it said the result was shown again); nothing is asserted.

Then grades the filled and the unfilled notebook once for the result files' sizes. Prints one JSON object
(``--json FILE`` also writes it there).

    .venv/bin/python benchmarks/release_path.py [--out DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import tempfile
import time
from pathlib import Path

import nbformat


def seconds_of(cell) -> float:
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return float("nan")
    parse = lambda text: datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


# The third check cell: change the saved notebook file (as a student's edit and save would), then check it again.
EDIT_AND_CHECK = """import os
import nbformat
from grader.notebook import propgrade

_saved = nbformat.read(os.environ["JPY_SESSION_NAME"], as_version=4)
_first = next(cell for cell in _saved.cells if cell.cell_type == "code")
_first.source += "\\n# edited after the check (benchmarks/release_path.py)"
nbformat.write(_saved, os.environ["JPY_SESSION_NAME"])
propgrade()"""


def said(cell) -> dict:
    """What a check cell displayed: its score line (the feedback's last line before the checked-file note),
    and whether it said the saved file was unchanged since the last check (its result shown again)."""
    from grader.messages import say

    texts = [o["data"]["text/plain"] for o in cell.outputs if o.get("output_type") == "display_data"]
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.outputs if o.get("output_type") == "error"]
    unchanged = say("check_unchanged").render("en")
    return {"score_line": [t.splitlines()[-2] for t in texts if len(t.splitlines()) >= 2], "shown_again": any(unchanged in t for t in texts),
            **({"errors": errors} if errors else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="propgrade-release-")))
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the figures to FILE (benchmarks/all.py reads it)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from nbclient import NotebookClient

    from grader.assignment import load_assignment
    from grader.grade import Options, grade
    from grader.load import load
    from grader.outputs import classroom50, prairielearn
    from grader.release import release, solution
    from grader.results import write_submission

    started = time.perf_counter()
    paths = release(load_assignment(None), args.out / "handout")
    release_seconds = time.perf_counter() - started

    filled = solution(nbformat.read(paths["notebook"], as_version=4))
    filled.cells.append(nbformat.v4.new_code_cell("from grader.notebook import propgrade\npropgrade()"))
    filled.cells.append(nbformat.v4.new_code_cell(EDIT_AND_CHECK))
    notebook_file = args.out / "filled" / "homework.ipynb"
    notebook_file.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(filled, notebook_file)
    os.environ["JPY_SESSION_NAME"] = str(notebook_file)
    ran = NotebookClient(nbformat.read(notebook_file, as_version=4), timeout=900, kernel_name="python3",
                         resources={"metadata": {"path": str(notebook_file.parent)}}).execute()
    first, warm, edited = seconds_of(ran.cells[-3]), seconds_of(ran.cells[-2]), seconds_of(ran.cells[-1])
    first_said, warm_said, edited_said = said(ran.cells[-3]), said(ran.cells[-2]), said(ran.cells[-1])

    sizes = {}
    for name, path in (("filled", notebook_file), ("unfilled", paths["notebook"])):
        result = grade(load(str(path), name), Options())
        folder = write_submission(result, args.out / "results")
        written = {"gradescope results.json": folder / "results.json", **{f"classroom50 {p.name}": p for p in classroom50.write(result, folder).values()},
                   "prairielearn results.json": prairielearn.write(result, folder / "prairielearn")}
        sizes[name] = {label: p.stat().st_size for label, p in written.items()}
    figures = {"release_seconds": round(release_seconds, 3), "check_first_seconds": round(first, 2), "check_warm_seconds": round(warm, 2),
               "check_after_edit_seconds": round(edited, 2), "first_check_said": first_said, "warm_check_said": warm_said["score_line"],
               "warm_check_shown_again": warm_said["shown_again"], "after_edit_check_said": edited_said, "result_file_bytes": sizes, "out": str(args.out)}
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
