# EXPECTED: ignores SIGTERM, SIGALRM, SIGINT and SIGHUP, starts a child `sleep 1000` in its own
# process group and a double-forked daemon (os.fork + os.setsid) that runs `sleep 1001`; both keep
# the worker's environment. relu is correct ("passed"); `step` never returns ("timeout"). After
# grading, no process started by this submission survives (the worker's session is killed with
# SIGKILL, which cannot be ignored, and strays are found by the worker's token in their environment).
import os
import signal
import subprocess

import torch

for _sig in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, signal.SIG_IGN)

_child = subprocess.Popen(["sleep", "1000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

_pid = os.fork()
if _pid == 0:  # first child: new session, fork again, exit
    try:
        os.setsid()
        if os.fork() == 0:  # grandchild: the daemon
            for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(_sig, signal.SIG_IGN)
            os.execvp("sleep", ["sleep", "1001"])
    finally:
        os._exit(0)
os.waitpid(_pid, 0)


def relu(z):
    return torch.relu(z)


def step(z):
    while True:
        pass
