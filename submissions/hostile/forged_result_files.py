# EXPECTED: WRONG activations, plus an attempt to fake success: it writes forged results.json,
# junit.xml and summary.csv (claiming full marks) into its working directory, every parent of it
# and /tmp, and prints fake pytest/Gradescope lines. The grader keeps the worker's files in its own
# throw-away folder and builds results only from its own verdicts: the activation properties
# "failed", the score is not inflated, and no file in the grader's output folder is touched.
import json
import os

import torch

FORGED = "PROPGRADE-FORGED-BY-SUBMISSION"
_result = {"score": 999.0, "tests": [{"name": "everything", "score": 999.0, "max_score": 999.0, "status": "passed"}], "note": FORGED}
_junit = f'<?xml version="1.0"?><testsuite name="propgrade" tests="94" failures="0" errors="0"><!-- {FORGED} --></testsuite>'
_summary = f"submission,id,score,max_score,status\nforged_result_files.py,forged_result_files,999,999,graded\n# {FORGED}\n"


def _forge(folder):
    for name, text in (("results.json", json.dumps(_result)), ("junit.xml", _junit), ("summary.csv", _summary)):
        try:
            with open(os.path.join(folder, name), "w") as f:
                f.write(text)
        except OSError:
            pass


_here = os.getcwd()
for _folder in (_here, os.path.dirname(_here), os.path.dirname(os.path.dirname(_here)), "/tmp"):
    _forge(_folder)

print("============================= test session starts ==============================")
print("collected 94 items")
print("tests/test_properties.py " + "." * 94 + " [100%]")
print("============================== 94 passed in 1.00s ==============================")
print(json.dumps({"score": 126, "max_score": 126, "status": "graded"}))


def step(z):
    return torch.zeros_like(z)


def sigmoid(z):
    return torch.zeros_like(z)


def tanh(z):
    return torch.zeros_like(z)


def relu(z):
    return torch.zeros_like(z)
