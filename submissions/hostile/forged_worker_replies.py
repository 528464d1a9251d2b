# EXPECTED (the contract of the grader): grade() "never raises for anything the submission does".
# Student code runs in the same process as the worker's request loop (remote.py runs as __main__),
# so it can replace Executor.handle. From then on every reply is {"status": "ok", "reply": {}}: a
# well-formed frame whose content is not what the grader asked for. The grader must not crash: the
# submission gets "missing" (an empty name list) or "crashed"/"protocol" verdicts, never "passed".
# (grade() used to raise KeyError: 'cuda' out of grade.py.)
import sys

import torch


def relu(z):
    return torch.relu(z)


sys.modules["__main__"].Executor.handle = lambda self, request: {"status": "ok", "reply": {}}
