"""Assignments: the shipped default, partial overrides, clear errors, aliases, visibility in every output."""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import junitparser
import pytest

from grader.assignment import AssignmentError, default_assignment, load_assignment, rubric_text
from grader.check import Verdict
from grader.cli import chosen_limits, main
from grader.grade import Options, grade
from grader.load import Submission, load_all
from grader.messages import say
from grader.properties import CATALOGUE, catalogue, contract_names
from grader.results import gradescope, write_submission
from grader.score import score

QUICK = Path(__file__).parent / "assignments" / "quick.toml"
NOT_VISIBLE = {"sigmoid_is_symmetric", "relu_is_monotone"}  # hidden and after_due_date in quick.toml


def write(tmp_path: Path, text: str, name: str = "my.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(AssignmentError) as caught:
        load_assignment(write(tmp_path, text))
    return str(caught.value)


# -- the default ----------------------------------------------------------------------------------


def test_default_assignment_reproduces_the_catalogue_points():
    assignment = default_assignment()
    assert {pid: rule.points for pid, rule in assignment.rules.items()} == {p.id: p.points for p in catalogue()}
    assert [p.id for p in assignment.properties()] == [p.id for p in catalogue()]
    assert sum(p.points for p in assignment.properties()) == sum(p.points for p in catalogue())


def test_default_assignment_is_mostly_visible_with_a_few_hidden_checks():
    visibility = [rule.visibility for rule in default_assignment().rules.values()]
    assert visibility.count("visible") > 0.8 * len(visibility)
    assert "hidden" in visibility


def test_default_aliases_name_contract_names_and_the_limits_are_todays():
    assignment = default_assignment()
    assert set(assignment.aliases) <= set(contract_names())
    assert "MLP" in assignment.aliases["module_net"] and "and_" in assignment.aliases["AND"]
    assert assignment.limits == Options().limits


def test_assignment_travels_between_processes():
    assignment = load_assignment(QUICK)
    assert pickle.loads(pickle.dumps(assignment)) == assignment


# -- partial files --------------------------------------------------------------------------------


def test_a_partial_file_overrides_only_the_keys_it_gives(tmp_path):
    path = write(tmp_path, '[properties.step_matches_definition]\npoints = 5\n\n[limits]\ncall_seconds = 3\n\n[aliases]\nmodule_net = ["Net"]\n')
    assignment, default = load_assignment(path), default_assignment()
    rule = assignment.rules["step_matches_definition"]
    assert (rule.points, rule.visibility, rule.enabled) == (5, "visible", True)
    assert assignment.limits.call_seconds == 3 and assignment.limits.cell_seconds == default.limits.cell_seconds
    assert assignment.aliases["module_net"] == ("Net",) and assignment.aliases["AND"] == default.aliases["AND"]
    assert assignment.name == default.name and assignment.sources[-1] == str(path)


def test_topics_apply_before_properties_in_the_same_file(tmp_path):
    path = write(tmp_path, '[topics.devices]\nenabled = false\n\n[properties.step_runs_on_meta_device]\nenabled = true\n')
    enabled = {p.id for p in load_assignment(path).properties()}
    devices = {p.id for p in catalogue() if p.topic == "devices"}
    assert enabled & devices == {"step_runs_on_meta_device"}


def test_a_users_topic_setting_overrides_the_defaults_per_property_entries(tmp_path):
    path = write(tmp_path, '[topics.activations]\nvisibility = "after_published"\n')
    rules = load_assignment(path).rules
    assert {rules[p.id].visibility for p in catalogue() if p.topic == "activations"} == {"after_published"}
    assert rules["AND_truth_table"].visibility == "visible"


def test_fingerprint_is_short_stable_and_follows_the_grading_content(tmp_path):
    first = write(tmp_path, '[properties.step_is_bounded]\npoints = 2\n[limits]\ncall_seconds = 4\n', "a.toml")
    same = write(tmp_path, 'name = "renamed"\n[limits]\ncall_seconds = 4.0\n[properties.step_is_bounded]\npoints = 2.0\n', "b.toml")
    other = write(tmp_path, '[properties.step_is_bounded]\npoints = 3\n[limits]\ncall_seconds = 4\n', "c.toml")
    fingerprint = load_assignment(first).fingerprint()
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert load_assignment(same).fingerprint() == fingerprint
    assert load_assignment(other).fingerprint() != fingerprint
    assert default_assignment().fingerprint() == load_assignment(None).fingerprint() != fingerprint


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, words",
    [
        ("[properties.sigmoid_is_symetric]\npoints = 1\n", ["unknown property id 'sigmoid_is_symetric'", "did you mean 'sigmoid_is_symmetric'"]),
        ('[properties.step_is_bounded]\nvisibility = "secret"\n', ["properties.step_is_bounded.visibility", "'secret'", "after_due_date"]),
        ("[properties.step_is_bounded]\npoints = -1\n", ["properties.step_is_bounded.points", "negative"]),
        ("[properties.step_is_bounded]\nvisiblity = 'hidden'\n", ["unknown key 'visiblity'", "did you mean 'visibility'"]),
        ('[properties.step_is_bounded]\npoints = "3"\n', ["properties.step_is_bounded.points", "expected a number", "a string"]),
        ("[properties.step_is_bounded]\nenabled = 1\n", ["properties.step_is_bounded.enabled", "expected a boolean", "an integer"]),
        ("[limits]\ncall_seconds = 0\n", ["limits.call_seconds", "positive"]),
        ("[limits]\nmemory = 2\n", ["unknown key 'memory'", "memory_gib"]),
        ("colour = 'blue'\n", ["unknown key 'colour'"]),
        ("[topics.activation]\nenabled = false\n", ["unknown topic 'activation'", "did you mean 'activations'"]),
        ("[topics.gates]\npoints = 3\n", ["topics.gates", "unknown key 'points'"]),
        ('[aliases]\nmodule_nett = ["Net"]\n', ["unknown contract name 'module_nett'", "'module_net'"]),
        ('[aliases]\nmodule_net = ["not a name"]\n', ["aliases.module_net", "not a Python name"]),
        ('[aliases]\nmodule_net = ["Model"]\n', ["aliases.module_net", "itself a contract name"]),
        ('[aliases]\nmodule_net = ["and_"]\n', ["aliases: 'and_' is an alias of both module_net and AND"]),
        ('[aliases]\nmodule_net = ["Net"]\nModel = ["Net"]\n', ["aliases: 'Net' is an alias of both module_net and Model"]),
        ("[properties]\nstep_is_bounded = 3\n", ["properties.step_is_bounded", "expected a table"]),
        ("name = 'x'\n[properties\n", ["invalid TOML", "line 2"]),
    ],
)
def test_bad_files_say_what_is_wrong_and_where(tmp_path, text, words):
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'my.toml'}: ")
    for word in words:
        assert word in message


def test_cli_reports_a_bad_file_as_a_usage_error(tmp_path, capsys):
    path = write(tmp_path, "[properties.sigmoid_is_symetric]\npoints = 1\n")
    for argv in (["assignment", "show", "--assignment", str(path)], ["grade", "x.py", "--out", str(tmp_path / "out"), "--assignment", str(path)]):
        assert main(argv) == 2
        assert capsys.readouterr().err.startswith(f"propgrade: error: {path}: properties: unknown property id")
    assert main(["assignment", "show", "--assignment", str(tmp_path / "absent.toml")]) == 2
    assert "cannot read it" in capsys.readouterr().err


# -- show, limits, aliases ------------------------------------------------------------------------


def test_assignment_show_prints_rubric_totals_aliases_and_limits(capsys):
    assert main(["assignment", "show", "--assignment", str(QUICK)]) == 0
    text = capsys.readouterr().out
    assert "assignment quick, fingerprint " + load_assignment(QUICK).fingerprint() in text
    assert f"7 of {len(catalogue())} properties enabled, 12 points: visible 10, hidden 1, after_due_date 1" in text
    assert "module_net: ModuleNet, MLP" in text and "60 s per cell" in text and "3 GiB" in text
    assert "sigmoid_is_symmetric" in text and CATALOGUE["sigmoid_is_symmetric"].statement in text
    zh = rubric_text(load_assignment(QUICK), "zh")
    assert "共 12 分" in zh and "每个单元格 60 秒" in zh and CATALOGUE["step_is_bounded"].statement_zh in zh


def test_command_line_limits_win_over_the_assignments():
    flags = argparse.Namespace(call_timeout=None, cell_timeout=5.0, total_timeout=None, memory=1.5)
    limits = chosen_limits(flags, load_assignment(QUICK))
    assert (limits.call_seconds, limits.cell_seconds, limits.total_seconds, limits.memory_bytes) == (10, 5.0, 300, int(1.5 * (1 << 30)))


def test_aliases_resolve_to_the_first_spelling_the_submission_defines():
    found = {"MLP": {"kind": "class"}, "ModuleNet": {"kind": "class"}, "AND": {"kind": "function"}, "and_": {"kind": "function"}}
    names, spelled = default_assignment().resolve(found)
    assert names == {"module_net": {"kind": "class"}, "AND": {"kind": "function"}}
    assert spelled == {"module_net": "ModuleNet"}


def test_an_alias_binds_only_a_name_of_the_contracts_kind():
    """A notebook's labels ``and_gate = torch.tensor(...)`` are not its AND; a class is not seq_net."""
    found = {"and_gate": {"kind": "value"}, "AND_gate": {"kind": "function"}, "xor": {"kind": "value"},
             "ModuleNet": {"kind": "module"}, "MLP": {"kind": "class"}, "step_function": {"kind": "class"}}
    names, spelled = default_assignment().resolve(found)
    assert spelled == {"AND": "AND_gate", "module_net": "MLP"}
    assert "XOR" not in names and "step" not in names


def test_the_contract_name_itself_binds_whatever_it_holds_when_no_spelling_fits():
    names, spelled = default_assignment().resolve({"AND": {"kind": "value"}, "and_gate": {"kind": "value"}, "seq_net": {"kind": "class"}})
    assert names == {"AND": {"kind": "value"}, "seq_net": {"kind": "class"}} and spelled == {}


def test_alias_kinds_are_the_kinds_the_worker_reports():
    import torch
    from torch import nn

    from grader.subject import Subject

    class MLP(nn.Module):
        pass

    namespace = {"and_gate": torch.tensor([0.0, 0.0, 0.0, 1.0]), "xor_gate": lambda X: X[:, 0], "MLP": MLP, "seq_net": nn.Sequential(nn.Linear(2, 4))}
    subject = Subject.in_process(namespace, default_assignment().names_to_ask())
    names, spelled = default_assignment().resolve(subject.names)
    assert spelled == {"XOR": "xor_gate", "module_net": "MLP"} and "AND" not in names and "seq_net" in names


ALIASED = '''
import torch
from torch import nn


def and_(X):
    return (X @ X.new_tensor([-0.2, 0.15, 0.15]) >= 0).to(X.dtype)


class MLP(nn.Module):
    def __init__(self, num_input, num_hidden, num_output):
        super().__init__()
        self.layer1 = nn.Linear(num_input, num_hidden)
        self.layer2 = nn.Tanh()
        self.layer3 = nn.Linear(num_hidden, num_output)

    def forward(self, x):
        return self.layer3(self.layer2(self.layer1(x)))
'''


@pytest.mark.slow
def test_a_submission_using_aliases_is_graded_under_the_contract_names(tmp_path):
    path = tmp_path / "aliased.py"
    path.write_text(ALIASED, encoding="utf-8")
    (submission,) = load_all([str(path)])
    ids = ["AND_truth_table", "module_net_registers_its_layers", "OR_truth_table"]
    result = grade(submission, Options(profile="ci", properties=[CATALOGUE[i] for i in ids]))
    assert {v.property: v.kind for v in result.verdicts} == {"AND_truth_table": "passed", "module_net_registers_its_layers": "passed", "OR_truth_table": "missing"}
    assert result.spellings == {"AND": "and_", "module_net": "MLP"}
    tests = {t["extra_data"]["property"]: t["output"] for t in gradescope(result)["tests"]}
    assert "module_net is defined here as MLP" in tests["module_net_registers_its_layers"]
    assert "module_net" in tests["module_net_registers_its_layers"].splitlines()[0]


# -- visibility in the outputs --------------------------------------------------------------------


def graded_under(assignment):
    """A result as grading under ``assignment`` would give it, without running anything."""
    verdicts = []
    for number, prop in enumerate(assignment.properties()):
        if prop.id == "sigmoid_is_symmetric":
            verdicts.append(Verdict(prop.id, "skipped", say("skipped", reason=say("no_cuda"))))
        elif number % 2:
            verdicts.append(Verdict(prop.id, "failed", say("law", law=prop.id, detail="f(0) = 1"), "Draw 1: tensor(0.)"))
        else:
            verdicts.append(Verdict(prop.id, "passed", say("passed")))
    submission = Submission("hw.py", "hw", "module", sha256="0" * 64)
    return score(submission, verdicts, assignment.properties(), [], "", 1.0, Options(assignment=assignment), {})


def test_results_json_honours_visibility_and_keeps_everything_in_the_machine_record():
    assignment = load_assignment(QUICK)
    data = gradescope(graded_under(assignment), "en")
    visibility = {t["extra_data"]["property"]: t["visibility"] for t in data["tests"]}
    assert visibility == {p.id: assignment.visibility(p.id) for p in assignment.properties()}
    assert visibility["sigmoid_is_symmetric"] == "hidden" and visibility["relu_is_monotone"] == "after_due_date"
    assert not any(pid in data["output"] for pid in NOT_VISIBLE)
    scores = {t["extra_data"]["property"]: t["max_score"] for t in data["tests"]}
    assert scores["step_of_zero_is_one"] == 2
    record = data["extra_data"]["propgrade"]
    assert record["assignment"] == {"name": "quick", "fingerprint": assignment.fingerprint()}
    assert {p["id"]: p["visibility"] for p in record["properties"]} == visibility
    json.dumps(data)


def test_junit_under_an_assignment_with_hidden_properties_is_read_by_junitparser(tmp_path):
    result = graded_under(load_assignment(QUICK))
    xml = junitparser.JUnitXml.fromfile(str(write_submission(result, tmp_path) / "junit.xml"))
    suites = [xml] if isinstance(xml, junitparser.TestSuite) else list(xml)
    cases = {case.name: [type(r).__name__ for r in case.result] for suite in suites for case in suite}
    assert set(cases) == {p.id for p in load_assignment(QUICK).properties()}
    assert cases["sigmoid_is_symmetric"] == ["Skipped"]


@pytest.mark.slow
def test_grade_with_an_assignment_checks_only_its_properties(tmp_path, capsys):
    module = Path(__file__).resolve().parents[1] / "submissions" / "correct" / "modern_module.py"
    assert main(["grade", str(module), "--out", str(tmp_path), "--profile", "ci", "-j", "1", "--assignment", str(QUICK)]) == 0
    data = json.loads((tmp_path / "modern_module" / "results.json").read_text(encoding="utf-8"))
    assert (data["score"], data["max_score"]) == (12, 12)
    assert {t["extra_data"]["property"] for t in data["tests"]} == {p.id for p in load_assignment(QUICK).properties()}
    assert data["extra_data"]["propgrade"]["assignment"]["fingerprint"] == load_assignment(QUICK).fingerprint()
