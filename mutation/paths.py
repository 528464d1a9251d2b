"""Where the campaign keeps its files (all under ``mutation/.work``, ignored by git)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "reference"                 # the lesson's reference, never touched by the campaign
WORK = REPO / "mutation" / ".work"
TARGET_ROOT = WORK / "target"               # TARGET_ROOT/reference: the copy cosmic-ray mutates in place
TARGET = TARGET_ROOT / "reference"
PRISTINE_ROOT = WORK / "pristine"           # PRISTINE_ROOT/reference: the oracle, first on the killer's sys.path
PRISTINE = PRISTINE_ROOT / "reference"
SESSION = WORK / "session.sqlite"
CONFIG = REPO / "mutation" / "cosmic-ray.toml"
SOCKET = WORK / "killer.sock"
LOG = WORK / "killer.log"
REPORT = WORK / "report.md"
SUMMARY = WORK / "summary.json"
# The lesson's theorems about the reference (killers of oracle/data code): its claims, and the facts
# about its data and helpers that the grader relies on.
THEOREMS = (REPO / "tests" / "test_reference.py", REPO / "tests" / "test_reference_oracle.py")
