"""Gradescope: build the autograder bundle, and grade the one submission inside Gradescope's container.

``propgrade gradescope --out autograder.zip`` writes a zip holding
``setup.sh`` (installs CPU torch within propgrade's own requirement, then propgrade
from the wheel in the zip; the wheel is built from a source checkout, or else from the
installed package),
``run_autograder`` (runs ``python -m grader.gradescope`` on
``/autograder/submission``) and ``assignment.toml``. The paths follow
Gradescope's autograder specification and can be moved with environment
variables, so that a test can lay the same structure out in a temporary folder.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from grader.assignment import default_source, load_assignment
from grader.machine import warn_if_too_small

ASSIGNMENT_NAME = "assignment.toml"
SOURCE_PARTS = ("pyproject.toml", "README.md", "grader", "reference")
EXECUTABLE = 0o100755 << 16  # a zip entry's Unix mode: a regular file anyone may run

SETUP_SCRIPT = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (Ubuntu).
# propgrade gets a virtual environment of its own: CPU torch first, then the propgrade wheel beside this file.
set -euo pipefail
cd "$(dirname "$0")"
if [ -n "${{PROPGRADE_SKIP_INSTALL:-}}" ]; then
    echo "setup.sh: PROPGRADE_SKIP_INSTALL is set, nothing installed"
    exit 0
fi
apt-get update
apt-get install -y --no-install-recommends python3 python3-pip python3-venv
python3 -m venv /opt/propgrade
/opt/propgrade/bin/pip install --no-cache-dir "{torch}" --index-url https://download.pytorch.org/whl/cpu
/opt/propgrade/bin/pip install --no-cache-dir ./{wheel}
# Grade the reference solution once, so that each submission replays what it learned instead of learning it
# again (the store is root's, sealed, and never visible to student code; a store that fails is only slower).
PROPGRADE_STORE=/opt/propgrade-store OMP_NUM_THREADS=1 /opt/propgrade/bin/propgrade warm --assignment ./{assignment} || echo "setup.sh: propgrade warm failed; grading works, each submission is only slower"
"""

RUN_SCRIPT = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade it, write results/results.json.
# Every path can be moved with an environment variable (the tests use a temporary folder).
set -euo pipefail
root="${{PROPGRADE_AUTOGRADER_ROOT:-/autograder}}"
export OMP_NUM_THREADS=1
export PROPGRADE_STORE="${{PROPGRADE_STORE:-/opt/propgrade-store}}"
exec "${{PROPGRADE_PYTHON:-/opt/propgrade/bin/python}}" -m grader.launcher grader.gradescope \\
    --submission "${{PROPGRADE_SUBMISSION_DIR:-$root/submission}}" \\
    --results "${{PROPGRADE_RESULTS_DIR:-$root/results}}" \\
    --assignment "${{PROPGRADE_SOURCE_DIR:-$root/source}}/{assignment}" \\
    --lang {lang}
"""


class BundleError(RuntimeError):
    """The bundle cannot be built here; the message says why."""


def build_bundle(out: Path, assignment_file: Path | None = None, lang: str = "en") -> Path:
    """Write the autograder zip; the assignment is checked first, so a bad file never reaches Gradescope."""
    load_assignment(assignment_file)
    with tempfile.TemporaryDirectory(prefix="propgrade-bundle-") as scratch:
        wheel = build_wheel(Path(scratch))
        files = {
            "setup.sh": (SETUP_SCRIPT.format(torch=torch_requirement(), wheel=wheel.name, assignment=ASSIGNMENT_NAME).encode(), True),
            "run_autograder": (RUN_SCRIPT.format(assignment=ASSIGNMENT_NAME, lang=lang).encode(), True),
            ASSIGNMENT_NAME: (Path(assignment_file or default_source()).read_bytes(), False),
            wheel.name: (wheel.read_bytes(), False),
        }
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, (data, executable) in files.items():
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = EXECUTABLE if executable else 0o100644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(entry, data)
    return out


def torch_requirement() -> str:
    """propgrade's own torch requirement (``torch>=2.1``), never the build machine's exact version: the grading
    image gets the newest CPU build that propgrade supports, whatever torch built the bundle."""
    for requirement in importlib.metadata.requires(DISTRIBUTION) or []:
        if requirement.replace(" ", "").startswith(("torch>", "torch=", "torch<", "torch~", "torch;")) or requirement.strip() == "torch":
            return requirement.split(";")[0].strip()
    return "torch"


DISTRIBUTION = "propgrade"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def checkout_root() -> Path | None:
    """The source checkout this propgrade runs from, or None when it runs from an installed package."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def copy_checkout(root: Path, copy: Path) -> None:
    for part in SOURCE_PARTS:
        if (root / part).is_dir():
            shutil.copytree(root / part, copy / part, ignore=IGNORED)
        else:
            copy.mkdir(exist_ok=True)
            shutil.copy2(root / part, copy / part)


def copy_installed(copy: Path) -> None:
    """A source tree rebuilt from the installed packages and the distribution's metadata."""
    packages = []
    for top in ("grader", "reference"):
        location = Path(importlib.util.find_spec(top).origin).parent
        shutil.copytree(location, copy / top, ignore=IGNORED)
        packages += [".".join(folder.relative_to(copy).parts) for folder in sorted((copy / top).rglob("*")) if (folder / "__init__.py").is_file()]
        packages.append(top)
    meta = importlib.metadata.metadata(DISTRIBUTION)
    requires = [r for r in importlib.metadata.requires(DISTRIBUTION) or [] if "extra ==" not in r]
    groups: dict[str, list[str]] = {}
    for entry in importlib.metadata.distribution(DISTRIBUTION).entry_points:
        groups.setdefault(entry.group, []).append(f"{json.dumps(entry.name)} = {json.dumps(entry.value)}")
    lines = [
        "[build-system]", 'requires = ["setuptools>=61"]', 'build-backend = "setuptools.build_meta"', "",
        "[project]", f"name = {json.dumps(DISTRIBUTION)}", f"version = {json.dumps(meta['Version'])}",
        f"requires-python = {json.dumps(meta.get('Requires-Python') or '>=3.10')}", f"dependencies = {json.dumps(requires)}", "",
    ]
    for group, entries in groups.items():
        lines += [f"[project.{'scripts' if group == 'console_scripts' else f'entry-points.{group}'}]", *entries, ""]
    lines += ["[tool.setuptools]", f"packages = {json.dumps(sorted(set(packages)))}", "",
              "[tool.setuptools.package-data]", 'grader = ["assignments/*.toml"]', ""]
    (copy / "pyproject.toml").write_text("\n".join(lines), encoding="utf-8")


def build_wheel(scratch: Path) -> Path:
    """propgrade's wheel, built from a copy of its source checkout (left as it was), or, for an installed
    propgrade, from a copy of the installed packages."""
    copy = scratch / "source"
    root = checkout_root()
    if root is not None:
        copy_checkout(root, copy)
    else:
        copy_installed(copy)
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", *isolation, "--wheel-dir", str(scratch / "dist"), str(copy)]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted((scratch / "dist").glob("propgrade-*.whl"))
    if done.returncode != 0 or not wheels:
        raise BundleError(f"pip wheel failed:\n{(done.stdout + done.stderr)[-2000:]}")
    return wheels[0]


def autograde(submission_dir: Path, results_dir: Path, assignment_file: Path, lang: str = "en") -> Path:
    """Grade the one submission Gradescope hands over and write ``results.json`` where it looks for it."""
    from grader.cli import resolve_device
    from grader.grade import grade, platform_options
    from grader.load import load
    from grader.results import atomic_write, gradescope

    assignment = load_assignment(assignment_file)
    options = platform_options(assignment, resolve_device("auto"))
    result = grade(load(str(submission_dir), "submission"), options)
    path = results_dir / "results.json"
    atomic_write(path, json.dumps(gradescope(result, lang), ensure_ascii=False, indent=2).encode())
    print(f"{result.score:g}/{result.max_score:g} {result.status} in {result.seconds:.1f} s; wrote {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.gradescope", description="Grade a Gradescope submission (run_autograder calls this).")
    parser.add_argument("--submission", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--assignment", type=Path, required=True)
    parser.add_argument("--lang", choices=["en", "zh"], default="en")
    args = parser.parse_args(argv)
    warn_if_too_small(args.lang)  # the container's memory below propgrade's own need: said where the instructor reads it
    autograde(args.submission, args.results, args.assignment, args.lang)
    return 0


if __name__ == "__main__":
    sys.exit(main())
