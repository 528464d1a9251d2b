"""One compute thread for the controller, set before torch is first imported.

torch reads OMP_NUM_THREADS and MKL_NUM_THREADS once, on import, and ``grader.cli``
imports it through the modules it needs; so the ``propgrade`` command imports this
module before any other of propgrade's. The controller mostly waits on its worker, and
class runs give each controller a core of its own: a second torch thread only competes
with the worker and the other controllers (the fork server and the workers set their own).
"""

from __future__ import annotations

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

for _name in THREAD_VARIABLES:
    os.environ[_name] = "1"


def one_thread() -> None:
    """Also tell torch itself, where something imported it before this module ran."""
    import torch

    torch.set_num_threads(1)
