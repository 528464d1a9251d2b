# EXPECTED (the contract of the grader): no process started by a submission outlives its grading.
# This one starts a helper that calls clone(CLONE_PARENT), so the new process's parent is the
# worker's parent (once the fork server) instead of the worker; the new process starts a session of
# its own and re-executes `sleep 1005` with an empty environment (no token, no process group, no
# parent that is a worker). `relu` is correct and passes. After grading, `sleep 1005` must be gone:
# in the worker's PID namespace the kernel kills it with the namespace's init (root on Linux).
import subprocess
import sys

import torch

ESCAPE = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
CLONE_PARENT, SIGCHLD = 0x00008000, 17
pid = libc.syscall(56, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0)  # clone on x86_64
if pid == 0:
    os.setsid()
    os.execve("/bin/sleep", ["sleep", "1005"], {})
os._exit(0)
"""

subprocess.run([sys.executable, "-c", ESCAPE], env={}, timeout=10)


def relu(z):
    return torch.relu(z)
