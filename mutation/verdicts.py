"""Surviving mutants explained: why each one is equivalent.

Key: (file, cosmic-ray operator without ``core/``, occurrence); value: (the mutated
line as cosmic-ray's diff shows it, stripped: "" to skip the check; the reason).
A survivor without an entry is a gap: close it with a property (and a wrong
subject in tests/wrong_subjects.py), or argue here why no correct submission
could be told apart from it. An entry whose line no longer matches is stale
and counts as a gap.
"""

from __future__ import annotations

EQUIVALENT: dict[tuple[str, str, int], tuple[str, str]] = {}
