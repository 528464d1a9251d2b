# Hostile: like sitecustomize.py here, for Pythons whose user site is on (usercustomize is imported at
# start-up from the import path when it is). Makes a `python ... -m pytest` process exit 0.
# Expected: `propgrade pytest homework.py` with PYTHONPATH=. exits 1 (`python -I`: no PYTHONPATH, no user site).
import atexit
import os
import sys

argv = getattr(sys, "orig_argv", [])
if "-m" in argv and argv[argv.index("-m") + 1 :][:1] == ["pytest"]:
    atexit.register(os._exit, 0)
