# EXPECTED: relu sends SIGKILL to its own process, as the kernel's OOM killer would. In the sandbox
# (Linux) the worker is the init of its own PID namespace, which cannot signal itself: relu holds.
# Without it (PROPGRADE_SANDBOX=0, other systems) that is the student's doing: relu_matches_definition
# "crashed" (signal SIGKILL), the other properties passed, status "graded". Only when the kernel's OOM killer acted meanwhile (the machine's own memory
# limit was reached, not the worker's cap, which says "memory") is the result "grader_failed" instead,
# every property skipped and 0 of 0 points charged (tests/test_machine.py).
import os
import signal

import torch


def relu(z):
    os.kill(os.getpid(), signal.SIGKILL)
    return torch.relu(z)


def step(z):
    return (z >= 0).to(z.dtype)
