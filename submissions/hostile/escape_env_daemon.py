# EXPECTED (the contract of the grader): no process started by a submission outlives its grading.
# This one double-forks a daemon into a session of its own (os.setsid) and execs `sleep 1002` with an
# EMPTY environment, so it carries neither the worker's process group nor its PROPGRADE_TOKEN.
# relu is correct ("passed"). After grading, `sleep 1002` must be gone.
# (It used to survive: Worker.stop() only killed the worker's process group and processes whose
# /proc/PID/environ holds the token. Now the grading process is a child subreaper on Linux: the
# orphaned daemon is adopted by it and killed as a child that is no live worker.)
import os

import torch

_pid = os.fork()
if _pid == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            os.execve("/bin/sleep", ["sleep", "1002"], {})
    finally:
        os._exit(0)
os.waitpid(_pid, 0)


def relu(z):
    return torch.relu(z)
