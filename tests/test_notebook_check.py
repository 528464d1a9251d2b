"""The in-notebook check's parts that need no kernel: which file it grades, when it warns, how it shows."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import nbformat
import pytest

from grader import notebook


@pytest.fixture(autouse=True)
def fresh_marks(monkeypatch):
    monkeypatch.setattr(notebook, "_history_mark", {"at": 0})
    monkeypatch.setattr(notebook, "_last_run", {"finished": 0.0})
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)


def saved(tmp_path, *sources: str):
    path = tmp_path / "homework.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path


def shell(history: list[str], **user_ns):
    return SimpleNamespace(user_ns=user_ns, history_manager=SimpleNamespace(input_hist_raw=["", *history]))


def test_vs_code_names_the_file_in_the_kernels_namespace(tmp_path):
    path = saved(tmp_path, "x = 1")
    assert notebook.notebook_path(shell([], __vsc_ipynb_file__=str(path))) == path


def test_jupyterlab_names_it_relative_to_the_servers_root(tmp_path, monkeypatch):
    path = saved(tmp_path, "x = 1")
    monkeypatch.chdir(tmp_path)  # the kernel starts in the notebook's folder
    monkeypatch.setenv("JPY_SESSION_NAME", "course/week3/homework.ipynb")
    assert notebook.notebook_path(shell([])) == tmp_path / "homework.ipynb"


def test_nothing_named_means_no_guess(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    saved(tmp_path, "x = 1")
    assert notebook.notebook_path(shell([])) is None


def test_code_run_but_not_saved_is_warned_about(tmp_path):
    path = saved(tmp_path, "def step(z):\n    return z >= 0", "%propgrade")
    warnings = notebook.stale_warnings(path, shell(["def step(z):\n    return (z >= 0).float()", "%propgrade"]))
    assert [w.key for w in warnings] == ["notebook_unsaved"] and warnings[0].fields["count"] == 1


def test_saved_code_gives_no_warning_and_a_later_check_compares_what_ran_since(tmp_path):
    path = saved(tmp_path, "a = 1", "b = 2", "%propgrade")
    history = ["a = 1", "b = 2  ", "%propgrade"]
    assert notebook.stale_warnings(path, shell(history)) == []
    history += ["c = 3", "b = 2", "%propgrade"]  # c = 3 ran after the first check and was never saved
    assert [w.key for w in notebook.stale_warnings(path, shell(history))] == ["notebook_unsaved"]


def test_a_file_older_than_the_kernels_last_run_is_warned_about(tmp_path):
    path = saved(tmp_path, "a = 1", "%propgrade")
    os.utime(path, (time.time() - 60, time.time() - 60))
    notebook._record_run(SimpleNamespace(info=SimpleNamespace(raw_cell="a = 1")))
    assert [w.key for w in notebook.stale_warnings(path, shell(["a = 1", "%propgrade"]))] == ["notebook_stale"]


def test_feedback_has_html_and_a_plain_text_fallback():
    feedback = notebook.Feedback("<table></table>", "✓ step_of_zero_is_one", {})
    assert feedback._repr_html_() == "<table></table>" and repr(feedback) == "✓ step_of_zero_is_one"


def test_the_warnings_exist_in_both_languages():
    for key in ("notebook_unsaved", "notebook_stale", "notebook_not_found"):
        message = notebook.say(key, count=2, example="homework.ipynb")
        assert message.render("en") != message.render("zh")


def test_a_checker_that_died_is_replaced(monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    class Dead:
        def submit(self, *args):
            raise BrokenProcessPool("killed")

    class Alive:
        def submit(self, function, *args):
            return SimpleNamespace(result=lambda: {"args": args})

    monkeypatch.setattr(notebook, "_checker", Dead())
    monkeypatch.setattr(notebook, "ProcessPoolExecutor", lambda **_: Alive())
    assert notebook.run_in_checker("hw.ipynb", None, "en", "cpu") == {"args": ("hw.ipynb", None, "en", "cpu")}



def test_a_path_that_is_not_a_file_is_said_so_without_grading(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    monkeypatch.setattr(notebook, "run_in_checker", lambda *args: pytest.fail("nothing to grade"))
    notebook.propgrade(tmp_path / "missing.ipynb")
    assert "missing.ipynb does not exist" in repr(shown[0])
    notebook.propgrade()  # no front end named a file, and none was given
    assert 'propgrade("homework.ipynb")' in repr(shown[1])



@pytest.mark.slow
def test_the_checker_keeps_the_clean_reader_alive_between_checks(tmp_path, monkeypatch):
    """A reader server started while a worker lives is killed with that worker's strays, so each check paid
    its start again (about 2.5 s); the checker starts it before the first worker, and it stays."""
    from pathlib import Path

    from grader.clean_reader import CleanReader

    quick = (Path(__file__).parent / "assignments" / "quick.toml").read_text(encoding="utf-8")
    rubric = tmp_path / "save.toml"
    rubric.write_text(quick[: quick.index("[properties]")] + "[properties]\nsave_params_writes_a_weights_only_state_dict = { enabled = true }\n")
    correct = Path(__file__).resolve().parents[1] / "submissions" / "correct" / "modern_module.py"
    monkeypatch.setattr(CleanReader, "_shared", None)
    servers = []
    for _ in range(2):
        monkeypatch.setattr(notebook, "_CHECKED", {})  # graded again, not shown again
        report = notebook.check_file(str(correct), str(rubric), "en", "cpu")
        assert report["verdicts"] == {"save_params_writes_a_weights_only_state_dict": "passed"}
        servers.append(CleanReader._shared.process)
    assert servers[0] is servers[1] and servers[0].poll() is None


def test_an_unchanged_file_is_not_graded_again_and_a_changed_one_is(tmp_path, monkeypatch):
    """Grading is a function of the saved file, the rubric and the device: checking the same file again shows
    the same result at once, saying so; a saved change, or a result the machine decided (a timeout), is graded again."""
    from pathlib import Path

    import grader.selfcheck

    rubric = Path(__file__).parent / "assignments" / "quick.toml"
    module = tmp_path / "work.py"
    module.write_text("import torch\n\ndef relu(z):\n    return z.clamp(min=0)\n")
    graded = []
    real = grader.selfcheck.self_check
    monkeypatch.setattr(grader.selfcheck, "self_check", lambda *args, **kwargs: graded.append(1) or real(*args, **kwargs))
    monkeypatch.setattr(notebook, "_CHECKED", {})
    first = notebook.check_file(str(module), str(rubric), "en", "cpu")
    again = notebook.check_file(str(module), str(rubric), "en", "cpu")
    assert len(graded) == 1 and again["verdicts"] == first["verdicts"] and again["score"] == first["score"]
    assert "checked last time" in again["text"] and "checked last time" not in first["text"]
    module.write_text(module.read_text() + "\ndef step(z):\n    return (z >= 0).to(z.dtype)\n")
    changed = notebook.check_file(str(module), str(rubric), "en", "cpu")
    assert len(graded) == 2 and changed["score"] > first["score"]
    timed_out = SimpleNamespace(status="graded", verdicts=[SimpleNamespace(kind="timeout")])
    assert not notebook.settled(timed_out)


def test_the_html_table_marks_each_fact_escapes_what_the_submission_said_and_speaks_chinese():
    from grader.check import Verdict
    from grader.messages import say
    from grader.score import SubmissionResult
    from grader.selfcheck import feedback_html

    verdicts = [
        Verdict("step_of_zero_is_one", "passed", say("passed")),
        Verdict("relu_matches_definition", "error", say("raised", doing="relu(z)", type="ValueError", message="<script>alert(1)</script>"), "Draw 1: tensor(0.)"),
    ]
    result = SubmissionResult("hw.ipynb", "hw", "notebook", 1.0, 3.0, "graded", 1.0, verdicts, {"step_of_zero_is_one": 1.0, "relu_matches_definition": 2.0})
    html = feedback_html(result, "zh")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "✓</td><td style='text-align:left'><code>step_of_zero_is_one</code>" in html
    assert "✗</td><td style='text-align:left'><code>relu_matches_definition</code>" in html
    assert "最小反例" in html and "Draw 1: tensor(0.)" in html and "这些检查的得分：1 / 3 分" in html


def test_a_notebook_released_for_another_assignment_is_warned_about(tmp_path):
    from pathlib import Path

    from grader.assignment import load_assignment
    from grader.release import release

    quick = load_assignment(Path(__file__).parent / "assignments" / "quick.toml")
    released = release(quick, tmp_path)["notebook"]
    assert notebook.other_assignment(str(released), quick) == []
    (warning,) = notebook.other_assignment(str(released), load_assignment(None))
    assert warning.fields["released"] == "quick" and "course.toml" in warning.render("en") and "course.toml" in warning.render("zh")
    assert notebook.other_assignment(str(saved(tmp_path, "x = 1")), quick) == []  # not released by propgrade: nothing to compare


def test_the_checker_starts_its_fork_server_before_it_imports_torch(tmp_path):
    """The checker's own torch import and its fork server's run side by side (the first check in a notebook is
    about a second shorter than when the server started after the imports)."""
    import subprocess
    import sys

    probe = ("import sys\nfrom grader import notebook, forkserver\nnotebook._leave_student_folder()\n"
             "server = forkserver.ForkServer._shared\nprint(server is not None and server.process.poll() is None, 'torch' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "PROPGRADE_FORKSERVER"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["True", "False"], out.stdout + out.stderr


KERNEL_KILLED = """
import os, sys
from grader import notebook

if __name__ == "__main__":
    result = notebook.run_in_checker(sys.argv[1], None, "en", "cpu")
    (checker,) = notebook._checker._processes
    children = [int(p) for p in os.listdir("/proc") if p.isdigit() and open(f"/proc/{p}/stat", "rb").read().rsplit(b")", 1)[1].split()[1] == str(checker).encode()]
    print(result["score"], checker, *children, flush=True)
    os._exit(0)  # the kernel ends without a word to its checker: killed on a restart, or by the OOM killer
"""


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_a_killed_kernel_takes_its_checker_and_fork_server_with_it(tmp_path):
    import subprocess
    import sys

    try:
        from processes import alive
    except ImportError:  # run with the repository root on sys.path only
        from tests.processes import alive

    (tmp_path / "kernel.py").write_text(KERNEL_KILLED)
    (tmp_path / "hw.py").write_text("import torch\n\ndef relu(z):\n    return torch.relu(z)\n")
    env = {**{k: v for k, v in os.environ.items() if k != "PROPGRADE_FORKSERVER"}, "PROPGRADE_STORE": "off", "OMP_NUM_THREADS": "1"}
    said = tmp_path / "said.txt"  # a file, not a pipe: a checker left behind would hold a pipe open
    with open(said, "w") as output:
        subprocess.run([sys.executable, str(tmp_path / "kernel.py"), str(tmp_path / "hw.py")], cwd=tmp_path, env=env,
                       stdout=output, stderr=subprocess.STDOUT, timeout=600, check=True)
    score, checker, *children = (float(n) for n in said.read_text().splitlines()[-1].split())
    assert score > 0 and children, said.read_text()  # it checked, and its fork server ran
    left = [int(p) for p in (checker, *children)]
    deadline = time.monotonic() + 30
    while any(alive(p) for p in left) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in left if alive(p)]
