# EXPECTED (the contract of the grader): no process started by a submission outlives its grading.
# This one starts `sleep 1003` with an EMPTY environment in the worker's own process group (no
# setsid), handing it every open descriptor (the worker's pipes among them), then ends the worker
# with os._exit(0) at top level half a second later. Without a PID namespace the sleeper holds the
# pipe open, so the grader sees no end of file and waits for the module's time limit (every verdict
# "timeout"); in the worker's own PID namespace (root on Linux) the kernel kills the sleeper with the
# worker, and the verdicts are "crashed". After grading, `sleep 1003` must be gone.
# (It used to survive: Worker.kill() skipped os.killpg once the worker process had exited, and the
# sleeper has no PROPGRADE_TOKEN for kill_strays to find.)
import os
import subprocess
import time

import torch



def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


subprocess.Popen(["/bin/sleep", "1003"], env={}, pass_fds=[fd for fd in range(3, 64) if is_open(fd)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def relu(z):
    return torch.relu(z)


time.sleep(0.5)  # long enough for a test to see the sleeper running
os._exit(0)
