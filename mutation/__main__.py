"""``python -m mutation COMMAND``: the steps of mutation/run.sh.

prepare   fresh copies of reference/ (the target cosmic-ray mutates, and the pristine oracle),
          a new cosmic-ray session, and the static-equivalence filter
serve     the killer server (baseline first), until ``stop``
stop      ask the server to stop
report    docs-ready tables from the session (mutation/.work/report.md, summary.json)
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from mutation import paths


def copy_reference(destination) -> None:
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for source in sorted(paths.SOURCE.glob("*.py")):
        shutil.copy2(source, destination / source.name)


def prepare() -> int:
    from mutation.equivalent import filter_session

    paths.WORK.mkdir(parents=True, exist_ok=True)
    copy_reference(paths.TARGET)
    copy_reference(paths.PRISTINE)
    paths.SESSION.unlink(missing_ok=True)
    paths.LOG.unlink(missing_ok=True)
    cosmic_ray = shutil.which("cosmic-ray", path=str(__import__("pathlib").Path(sys.executable).parent)) or "cosmic-ray"
    subprocess.run([cosmic_ray, "init", str(paths.CONFIG.relative_to(paths.REPO)), str(paths.SESSION)], cwd=paths.REPO, check=True)
    skipped, total = filter_session(paths.SESSION)
    print(f"prepare: {total} mutants, {skipped} skipped as equivalent by the annotation rule")
    return 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command == "prepare":
        return prepare()
    if command == "serve":
        from mutation.killer import serve

        serve()
        return 0
    if command == "stop":
        from mutation.client import ask

        ask("stop")
        return 0
    if command == "report":
        from mutation.report import main as report

        return report(argv[1:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
