"""``propgrade release`` and the check inside the notebook, end to end: the released notebook grades to 0
("not implemented yet") as it is and to full marks filled with the reference; filled and run in a real
Jupyter kernel, its last cell shows the saved file's check, which agrees with ``propgrade grade``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from grader.assignment import load_assignment
from grader.cli import main
from grader.grade import Options, grade
from grader.load import load
from grader.outputs import classroom50, prairielearn
from grader.results import feedback, write_submission
from grader.release import NAMES, SELF_CHECK_TAG, STUB_TAG, release, solution, student_notebook

QUICK = Path(__file__).parent / "assignments" / "quick.toml"


def stub_names(notebook) -> list[str]:
    return [cell.metadata["propgrade"]["name"] for cell in notebook.cells if STUB_TAG in cell.metadata.get("tags", [])]


def test_the_notebook_hands_out_every_name_the_enabled_properties_need_once_and_ends_with_the_check():
    assignment = load_assignment(None)
    notebook = student_notebook(assignment, "en")
    nbformat.validate(notebook)
    needed = {name for p in assignment.properties() for name in p.needs}
    assert sorted(stub_names(notebook)) == sorted(needed) == sorted(NAMES)
    assert SELF_CHECK_TAG in notebook.cells[-1].metadata["tags"]
    stubs = {cell.metadata["propgrade"]["name"]: cell.source for cell in notebook.cells if STUB_TAG in cell.metadata.get("tags", [])}
    assert "ModuleNet, MLP" in stubs["module_net"]  # the assignment's aliases are named beside the stub
    assert "def train(model, x, y, epochs, lr):" in stubs["train"]
    assert "class Model(nn.Module):" in stubs["Model"] and "def __init__(self, in_features, out_features):" in stubs["Model"]
    assert all("raise NotImplementedError" in source for source in stubs.values())


def test_a_smaller_assignment_gets_only_its_names_and_the_chinese_text_is_chinese():
    notebook = student_notebook(load_assignment(QUICK), "zh")
    assert set(stub_names(notebook)) == {name for p in load_assignment(QUICK).properties() for name in p.needs}
    assert "激活函数" in notebook.cells[2].source and "TODO" in notebook.cells[0].source


def test_release_writes_the_notebook_and_a_readme(tmp_path):
    assert main(["release", "--out", str(tmp_path / "out"), "--lang", "zh", "--solution", str(tmp_path / "key.ipynb")]) == 0
    nbformat.validate(nbformat.read(tmp_path / "out" / "homework.ipynb", as_version=4))
    assert not (tmp_path / "out" / "assignment.toml").exists()  # the lesson's default rubric ships with propgrade
    assert main(["release", "--out", str(tmp_path / "course"), "--assignment", str(QUICK)]) == 0
    assert (tmp_path / "course" / "assignment.toml").read_bytes() == QUICK.read_bytes()
    assert "propgrade check homework.ipynb --lang zh" in (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    key = nbformat.read(tmp_path / "key.ipynb", as_version=4)
    assert not any("raise NotImplementedError" in cell.source for cell in key.cells if STUB_TAG in cell.metadata.get("tags", []))


def test_only_a_stubs_not_implemented_error_reads_as_not_implemented_yet():
    from grader.outcomes import StudentError

    stub = StudentError("step(z)", {"type": "NotImplementedError", "message": "step"})
    bare = StudentError("step(z)", {"type": "NotImplementedError", "message": ""})
    torch_op = StudentError("step(z)", {"type": "NotImplementedError", "message": "Cannot copy out of meta tensor; no data!"})
    assert stub.not_implemented and bare.not_implemented and stub.message.key == "not_implemented"
    assert not torch_op.not_implemented and torch_op.message.key == "raised"


@pytest.mark.slow
def test_the_released_notebook_grades_to_zero_as_released_and_to_full_marks_filled_with_the_reference(tmp_path):
    paths = release(load_assignment(None), tmp_path / "out")
    filled = tmp_path / "filled" / "homework.ipynb"
    filled.parent.mkdir()
    nbformat.write(solution(nbformat.read(paths["notebook"], as_version=4)), filled)
    options = Options(profile="ci")

    unfilled = grade(load(str(paths["notebook"]), "unfilled"), options)
    assert unfilled.score == 0 and unfilled.max_score > 0
    counted = [v for v in unfilled.verdicts if v.kind != "skipped"]
    assert counted and all(v.message.key == "not_implemented" for v in counted), [(v.property, v.message) for v in counted if v.message.key != "not_implemented"]
    assert all(cell.ok for cell in unfilled.cells)  # the stubs and the self-check cell themselves run without error
    assert not any("Minimal failing example" in feedback(unfilled, v, "en") for v in counted)  # a stub fails on any input: no example

    full = grade(load(str(filled), "filled"), options)
    assert full.score == full.max_score > 0, [(v.property, v.message.render("en")) for v in full.verdicts if v.kind != "passed"]
    assert all(cell.ok for cell in full.cells)


@pytest.mark.slow
def test_in_a_real_kernel_the_last_cell_checks_the_saved_file_and_agrees_with_propgrade_grade(tmp_path, monkeypatch):
    """The whole path: release (quick assignment) -> fill with the reference -> run top to bottom in ipykernel,
    the front end naming the notebook as JupyterLab does -> the check's table shows every visible fact holding ->
    grading gives the same verdicts for them -> each platform's result file passes that platform's rules."""
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the test extra: pip install -e '.[test]'")
    notebook_file = tmp_path / "homework.ipynb"
    released = student_notebook(load_assignment(QUICK), "en")
    filled = solution(released)
    filled.cells.append(nbformat.v4.new_code_cell("import json\nfrom grader import notebook\nprint(json.dumps(notebook.last_feedback.report['verdicts']))"))
    assert "assignment='assignment.toml'" in filled.cells[-2].source  # the check reads the course's rubric handed out beside it
    nbformat.write(filled, notebook_file)
    (tmp_path / "assignment.toml").write_bytes(QUICK.read_bytes())
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook_file))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    client = nbclient.NotebookClient(nbformat.read(notebook_file, as_version=4), timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    ran = client.execute()

    check_outputs = ran.cells[-2].outputs
    html = next(o["data"]["text/html"] for o in check_outputs if o.get("output_type") == "display_data")
    text = next(o["data"]["text/plain"] for o in check_outputs if o.get("output_type") == "display_data")
    visible = [p.id for p in load_assignment(QUICK).visible_only().properties()]
    assert all(re.search(rf"✓</td><td[^>]*><code>{pid}</code>", html) for pid in visible), html
    assert "✗" not in html and "⚠" not in html
    assert "score on these checks: 10 / 10 points" in html and "score on these checks: 10 / 10 points" in text
    assert str(notebook_file) in text  # it says which saved file it checked
    in_kernel = json.loads("".join(o.get("text", "") for o in ran.cells[-1].outputs))
    assert set(in_kernel) == set(visible) and set(in_kernel.values()) == {"passed"}

    graded = grade(load(str(notebook_file), "graded"), Options(assignment=load_assignment(QUICK), limits=load_assignment(QUICK).limits))
    assert {v.property: v.kind for v in graded.verdicts if v.property in in_kernel} == in_kernel

    import jsonschema
    from platform_rules import classroom50_error, prairielearn_error
    from test_gradescope import RESULTS_SCHEMA

    folder = write_submission(graded, tmp_path / "results")
    jsonschema.validate(json.loads((folder / "results.json").read_text(encoding="utf-8")), RESULTS_SCHEMA)
    classroom = json.loads(classroom50.write(graded, folder)["result"].read_text(encoding="utf-8"))
    assert classroom50_error(classroom, classroom="local", assignment="quick", owner=classroom["owner"]) is None
    assert prairielearn_error(json.loads(prairielearn.write(graded, folder / "prairielearn").read_text(encoding="utf-8"))) is None
