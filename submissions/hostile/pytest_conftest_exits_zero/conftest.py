# Hostile: a conftest.py that ends a grading run (one given --propgrade-submission) with exit status 0 as
# soon as pytest loads it, before any plugin can act. No plugin defends against this: only a pytest that
# never loads it does.
# Expected: `propgrade pytest homework.py` never loads it (exit 1: step_of_zero_is_one fails); a plain
# `pytest --propgrade-submission homework.py` started here exits 0 having checked nothing (not defensible).
import os
import sys

if any(argument.startswith("--propgrade-submission") for argument in sys.argv):
    os._exit(0)
