# EXPECTED (the contract of the grader): grade() "never raises for anything the submission does",
# and one submission cannot stop the others from being graded. The worker runs as the same user as
# the grader, so it can signal it: this submission sends SIGKILL to its parent process, the grader.
# The grader should survive (e.g. a worker in its own user or PID namespace) and report the
# submission. (Closed when the grader runs as root on Linux: the worker drops to the user nobody, who
# cannot signal it. Without root the grading process still dies with SIGKILL, which ends the whole
# class's run; SIGSTOP instead of SIGKILL hangs it forever.)
import os
import signal

import torch

os.kill(os.getppid(), signal.SIGKILL)


def relu(z):
    return torch.relu(z)
