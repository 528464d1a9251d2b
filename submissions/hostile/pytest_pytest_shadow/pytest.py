# Hostile: a pytest.py beside the homework. `python -m pytest` started here imports this file instead of
# pytest: it prints a passing summary and exits 0. No plugin can defend against this (pytest never runs).
# Expected: `propgrade pytest homework.py` runs the real pytest (exit 1: step_of_zero_is_one fails); a plain
# `python -m pytest --propgrade-submission homework.py` started here exits 0 (not defensible: use propgrade pytest).
import sys

print("=" * 30 + " 99 passed in 1.00s " + "=" * 30)
sys.exit(0)
