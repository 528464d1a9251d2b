# Hostile: where the environment puts this folder on the import path (PYTHONPATH=. in a CI job), Python
# imports this file at start-up, before pytest. In a `python ... -m pytest` process it makes the exit status 0.
# Expected: `propgrade pytest homework.py` with PYTHONPATH=. exits 1 (its pytest runs under `python -I`,
# which ignores PYTHONPATH). Any Python process started with this folder on PYTHONPATH runs this file,
# propgrade's own command included: never point PYTHONPATH at a student's folder.
import atexit
import os
import sys

argv = getattr(sys, "orig_argv", [])
if "-m" in argv and argv[argv.index("-m") + 1 :][:1] == ["pytest"]:
    atexit.register(os._exit, 0)
