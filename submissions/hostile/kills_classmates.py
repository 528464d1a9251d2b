# EXPECTED (the contract of the grader): one submission cannot change another's verdicts.
# Graded with `-j 2` or more, the workers of different submissions run at the same time, all as
# the same user (nobody). For 12 s this submission looks for the workers started by the same
# grading run (remote.py processes whose grandparent is its own grandparent) and SIGKILLs them.
# It defines nothing itself (every property "missing"); the submissions graded beside it must get
# their normal verdicts. (As of writing they get "crashed"/"error" verdicts that blame them: "the
# submission ended its own process in ... (signal SIGKILL)".)
import os
import signal
import time


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


_me = os.getpid()
_run = int(_stat(int(_stat(_me)[1]))[1])  # the process that started my grader: the whole run
_end = time.monotonic() + 12
while time.monotonic() < _end:
    for _entry in os.listdir("/proc"):
        if not _entry.isdigit() or int(_entry) == _me:
            continue
        try:
            _parent = int(_stat(int(_entry))[1])
            if int(_stat(_parent)[1]) == _run and b"remote.py" in open(f"/proc/{_entry}/cmdline", "rb").read():
                os.kill(int(_entry), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass
    time.sleep(0.05)
