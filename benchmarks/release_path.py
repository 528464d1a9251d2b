"""Figures for the release path (issue 13): release time, the in-notebook check's first and warm call,
and the size of each platform's result file, for the lesson's default assignment.

    .venv/bin/python benchmarks/release_path.py [--out DIR]

Runs the released notebook filled with the reference solution in a real ipykernel (nbclient), with a
second check cell after the first, and grades it and the unfilled notebook once for the result files.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="propgrade-release-")))
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
    notebook_file = args.out / "filled" / "homework.ipynb"
    notebook_file.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(filled, notebook_file)
    os.environ["JPY_SESSION_NAME"] = str(notebook_file)
    ran = NotebookClient(nbformat.read(notebook_file, as_version=4), timeout=900, kernel_name="python3",
                         resources={"metadata": {"path": str(notebook_file.parent)}}).execute()
    first, warm = seconds_of(ran.cells[-2]), seconds_of(ran.cells[-1])
    shown = [o["data"]["text/plain"].splitlines()[-2] for o in ran.cells[-1].outputs if o.get("output_type") == "display_data"]

    sizes = {}
    for name, path in (("filled", notebook_file), ("unfilled", paths["notebook"])):
        result = grade(load(str(path), name), Options())
        folder = write_submission(result, args.out / "results")
        written = {"gradescope results.json": folder / "results.json", **{f"classroom50 {p.name}": p for p in classroom50.write(result, folder).values()},
                   "prairielearn results.json": prairielearn.write(result, folder / "prairielearn")}
        sizes[name] = {label: p.stat().st_size for label, p in written.items()}
    print(json.dumps({"release_seconds": round(release_seconds, 3), "check_first_seconds": round(first, 2), "check_warm_seconds": round(warm, 2),
                      "warm_check_said": shown, "result_file_bytes": sizes, "out": str(args.out)}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
