"""Mutation testing of the property catalogue (issue 4), driven by cosmic-ray.

cosmic-ray mutates a *copy* of ``reference/`` (``mutation/.work/reference``), one
mutant at a time; its test command (``mutation/client.py``) asks the killer server
(``python -m mutation serve``) whether the mutant dies. The killer grades the
mutated package as the *subject*, against a pristine snapshot of the reference as
the oracle, so a property that compares with the reference never compares a
mutant with itself. See ``docs/mutation.md``.
"""
