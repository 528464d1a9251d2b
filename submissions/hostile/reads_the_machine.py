# EXPECTED (the contract of the grader): a worker sees only its own staged folder, Python and the
# system's libraries. At top level this one looks for everything it should not see: other
# processes' command lines in /proc (where the class folder's path would show), the grader's
# checkout, other folders under the temporary directory, the network, and leaves files in /tmp,
# /var/tmp and /dev/shm to be found later. What it found is in `step`'s error message; `relu` is
# correct. As root on Linux: step errs with "found nothing", relu passes, and no file it wrote
# outside its folder survives grading. (Folders on the way to its own folder or to Python's are not counted.)
import os
import socket
import sys

import torch

PROBES: list = []  # tests fill in paths that must not exist for the worker (the class folder, the checkout)
found = []
for pid in os.listdir("/proc"):
    if pid.isdigit() and pid != str(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found.append("process: " + f.read().replace(b"\0", b" ").decode(errors="replace")[:80])
        except OSError:
            pass
for path in PROBES:
    if os.path.exists(path):
        found.append("path: " + path)
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        with open(os.path.join(folder, "propgrade-was-here"), "w") as f:
            f.write("left behind")
    except OSError:
        pass
    for entry in os.listdir(folder) if os.path.isdir(folder) else []:
        path = os.path.join(folder, entry)
        own = [os.getcwd(), sys.prefix, sys.base_prefix, *sys.path]  # its folder, and Python's (a venv may sit under /tmp)
        if entry != "propgrade-was-here" and not any(p and os.path.abspath(p).startswith(path + os.sep) for p in own):
            found.append(f"{folder}: {entry}")
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1).close()
    found.append("network")
except OSError:
    pass


def relu(z):
    return torch.relu(z)


def step(z):
    raise RuntimeError("found " + ("; ".join(found) if found else "nothing"))
