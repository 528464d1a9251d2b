#!/usr/bin/env python3
"""Classroom 50 autograder for a propgrade assignment.

``propgrade classroom50 --out <classroom>/autograders/<assignment>`` writes this file as ``autograder.py``
beside your rubric and a propgrade wheel (``examples/classroom50/autograder.py`` is the same file).

Classroom 50's runner runs this file with the student's checkout as the current folder and reads
``result.json`` (and ``release-body.md``) from there afterwards. Beside this file in the bundle
(the folder the runner names in CLASSROOM50_BUNDLE_DIR) go ``assignment.toml`` (your rubric) and,
optionally, a propgrade wheel (``propgrade-*.whl``). The first run installs CPU torch and propgrade
into a virtual environment under the runner's temporary folder; grading then runs there with
``python -I``, so nothing in the student's checkout (a ``torch.py``, a ``sitecustomize.py``, a
``PYTHON*`` variable) is imported by the grader. The notebook itself runs only in propgrade's
sandboxed worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

NOTEBOOK = "homework.ipynb"  # the file students hand in, as `propgrade release` named it
LANG = "en"  # "zh" for feedback in Chinese
TORCH = "torch>=2.1"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"

BUNDLE = Path(os.environ.get("CLASSROOM50_BUNDLE_DIR") or Path(__file__).resolve().parent)
ENVIRONMENT = Path(os.environ.get("RUNNER_TEMP") or tempfile.gettempdir()) / "propgrade-venv"


def python() -> Path:
    """A Python with propgrade installed: this one if it has it, else a virtual environment made once."""
    found = subprocess.run([sys.executable, "-I", "-c", "import grader.outputs.classroom50"], capture_output=True)
    if found.returncode == 0:
        return Path(sys.executable)
    executable = ENVIRONMENT / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not executable.exists():
        venv.create(ENVIRONMENT, with_pip=True)
        wheels = sorted(BUNDLE.glob("propgrade-*.whl"))
        pip = [str(executable), "-I", "-m", "pip", "install", "--quiet", "--no-cache-dir"]
        subprocess.run([*pip, TORCH, "--index-url", TORCH_INDEX], check=True)
        subprocess.run([*pip, str(wheels[-1]) if wheels else "propgrade"], check=True)
    return executable


def main() -> int:
    command = [str(python()), "-I", "-m", "grader.launcher", "grader.outputs.classroom50", NOTEBOOK, "--lang", LANG]
    if (BUNDLE / "assignment.toml").is_file():
        command += ["--assignment", str(BUNDLE / "assignment.toml")]
    return subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}).returncode


if __name__ == "__main__":
    sys.exit(main())
