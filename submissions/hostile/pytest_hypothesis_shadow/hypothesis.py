# Hostile: a hypothesis.py beside the homework. `python -m pytest` started here puts this folder first on
# the import path, so propgrade's plugin imports this file instead of Hypothesis. It loads the real
# Hypothesis, replaces `given` by a decorator whose test never runs, and puts the patched module in its
# own place: every property "passes".
# Expected: `propgrade pytest homework.py` never imports it (exit 1: step_of_zero_is_one fails); a plain
# `python -m pytest --propgrade-submission homework.py` started here refuses to grade (exit 4).
import importlib
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
shadowing = [entry for entry in sys.path if os.path.abspath(entry or ".") == here]
for entry in shadowing:
    sys.path.remove(entry)
del sys.modules["hypothesis"]
real = importlib.import_module("hypothesis")
sys.path[:0] = shadowing


def given(*args, **kwargs):
    def decorate(test):
        def never_runs(*a, **k):
            return None

        never_runs.is_hypothesis_test = True
        return never_runs

    return decorate


real.given = given
sys.modules["hypothesis"] = real
