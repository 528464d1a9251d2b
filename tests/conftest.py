"""Shared set-up for propgrade's own tests: deterministic Hypothesis, single-threaded torch."""

import os

import torch
from hypothesis import settings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["PROPGRADE_STORE"] = "off"  # hermetic: no test reads or writes the user's store unless it names one (tests/test_store.py)
torch.set_num_threads(1)

settings.register_profile("ci", derandomize=True, max_examples=25, deadline=None, database=None, print_blob=False)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "ci"))
