"""Feedback in the student's terms: a call that does not fit the contract says so, and no message
shows a path or frame of the grader's own code."""

from __future__ import annotations

import pytest

from grader.contract import arity, misfit
from grader.grade import Options, grade
from grader.load import load_all
from grader.properties import CATALOGUE

try:
    from student_facing import grader_traces
except ImportError:  # run from the repository root
    from tests.student_facing import grader_traces

OTHER_SIGNATURES = '''
import torch
from torch import nn


def AND(x1, x2):
    return ((x1 + x2) > 1.5).float()


def sigmoid():
    return 0.5


class module_net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Linear(2, 4)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(4, 1)

    def forward(self, x):
        return self.layer3(self.layer2(self.layer1(x)))


def relu(z):
    return torch.maximum(z, 0)
'''


def test_arity_is_read_from_pythons_words():
    assert arity("AND() missing 1 required positional argument: 'x2'", 1) == (2, 2, ["x2"])
    assert arity("f() missing 2 required positional arguments: 'a' and 'b'", 1) == (3, 3, ["a", "b"])
    assert arity("AND() takes 0 positional arguments but 1 was given", 1) == (0, 0, [])
    assert arity("module_net.__init__() takes 1 positional argument but 4 were given", 3) == (0, 0, [])
    assert arity("f() takes from 1 to 2 positional arguments but 5 were given", 5) == (1, 2, [])
    assert arity("unsupported operand type(s) for +: 'int' and 'str'", 1) is None


def test_only_the_call_itself_is_a_misfit():
    """The same words raised inside the student's code (it has frames of its own) are a bug there, told as is."""
    words = {"type": "TypeError", "message": "helper() missing 1 required positional argument: 'b'"}
    assert misfit("AND", 1, {**words, "traceback": ""}) is not None
    assert misfit("AND", 1, {**words, "traceback": '  File "<cell 3>", line 2, in AND\n'}) is None
    assert misfit("AND", 1, {**words, "type": "ValueError", "traceback": ""}) is None


@pytest.mark.slow
def test_a_call_that_does_not_fit_the_contract_says_so_in_the_lessons_terms(tmp_path):
    path = tmp_path / "signatures.py"
    path.write_text(OTHER_SIGNATURES, encoding="utf-8")
    (submission,) = load_all([str(path)])
    ids = ["AND_truth_table", "sigmoid_matches_definition", "module_net_registers_its_layers", "relu_matches_definition"]
    result = grade(submission, Options(profile="ci", device="cpu", properties=[CATALOGUE[i] for i in ids]))
    messages = {v.property: v.message.render("en") for v in result.verdicts}
    assert "AND takes 2 arguments (among them x2) here, but the lesson's AND takes one tensor X of shape (n, 3)" in messages["AND_truth_table"]
    assert "sigmoid takes no arguments here, but the lesson's sigmoid takes one tensor z" in messages["sigmoid_matches_definition"]
    assert "the lesson's module_net takes the arguments (num_input, num_hidden, num_output)" in messages["module_net_registers_its_layers"]
    assert "课程中的 AND" in result.verdicts[0].message.render("zh")
    # a TypeError inside the student's own code stays what it is, with the student's line
    relu = next(v for v in result.verdicts if v.property == "relu_matches_definition")
    assert relu.kind == "error" and "the lesson's" not in messages["relu_matches_definition"]
    assert "TypeError" in messages["relu_matches_definition"] and relu.student_error["traceback"]
    assert grader_traces(result) == []


def test_the_trace_check_sees_a_grader_frame():
    class Result:
        verdicts, cells, spellings, problem, notes, skipped, score, max_score = [], [], {}, None, [], [], 0, 0

    from grader.check import Verdict
    from grader.messages import say

    result = Result()
    result.verdicts = [Verdict("AND_truth_table", "error", say("raised", doing="AND(X)", type="TypeError", message="x"), "",
                               0.0, {"type": "TypeError", "traceback": '  File "/work/main/grader/remote.py", line 327, in _student\n'})]
    assert len(grader_traces(result)) == 1
