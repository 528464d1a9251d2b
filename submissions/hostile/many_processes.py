# EXPECTED (the contract of the grader): a submission cannot exhaust the machine's processes or
# multiply its memory cap with children. At top level this one starts `sleep 1006` children until
# the system refuses (at most 2,000), then reports how many it got in `step`'s error; `relu` is
# correct. As root on Linux the worker's own user is capped at 256 tasks (RLIMIT_NPROC, and
# pids.max where cgroups are writable): relu passes, step errs naming a count under 256, and no
# sleeper survives grading.
import subprocess

import torch

started = []
for _ in range(2000):
    try:
        started.append(subprocess.Popen(["/bin/sleep", "1006"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    except OSError:
        break


def relu(z):
    return torch.relu(z)


def step(z):
    raise RuntimeError(f"started {len(started)} processes")
