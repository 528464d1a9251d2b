"""pytest plugin: one pytest test per property of one submission, and ``propgrade pytest``, the safe way to start it.

The submission runs in a sandboxed worker exactly as ``propgrade grade`` runs it;
a failing property reports its minimal counterexample, not a traceback.

pytest itself reads configuration and imports code from the folder it is started in
(an ini file's ``addopts``, ``conftest.py``, and under ``python -m pytest`` any module
there, ``pytest.py`` included). Started in a student's folder, as CI on a student's
repository is, that is the student's code in the grading process. ``propgrade pytest``
(``run_isolated``) starts pytest so that it reads nothing there; the plugin refuses to
grade when it sees that pytest took anything from the student's folder, or was told to
end without checking. No plugin can defend ``python -m pytest`` started next to a
``pytest.py`` (that file replaces pytest) or a conftest that ends the process: only the
safe form holds against those.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

# options that end pytest with exit status 0 without running a single property
ENDS_WITHOUT_CHECKING = {
    "collectonly": "--collect-only",
    "setuponly": "--setup-only",
    "setupplan": "--setup-plan",
    "showfixtures": "--fixtures",
    "show_fixtures_per_test": "--fixtures-per-test",
    "markers": "--markers",
    "help": "--help",
    "version": "--version",
}
SHOWN = 5  # intrusions named in a refusal; the rest are counted


def submission_folder(path: str) -> Path:
    target = Path(path).resolve()
    return target if target.is_dir() else target.parent


def student_territory(config) -> Path:
    """The folder pytest must take nothing from: the submission's, or the folder pytest was started in when
    that holds the submission (a student's repository: its ini files, conftest and modules are the student's too)."""
    folder = submission_folder(config.getoption("propgrade_submission"))
    started = Path(config.invocation_params.dir).resolve()
    return started if started == folder or started in folder.parents else folder


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class Territory:
    """Answers "does this file lie in the student's folder?"; the interpreter's own libraries never do
    (a virtual environment created there by CI is not the student's)."""

    def __init__(self, root: Path):
        self.root = os.path.realpath(root)
        paths = sysconfig.get_paths()
        libraries = {paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
        libraries.update(getattr(site, "getsitepackages", list)())
        self.trusted = [real for place in libraries if place and _within(real := os.path.realpath(place), self.root)]

    def holds(self, location) -> bool:
        try:
            path = os.path.realpath(os.fspath(location))
        except (TypeError, ValueError, OSError):
            return False
        return _within(path, self.root) and not any(_within(path, library) for library in self.trusted)


def _module_places(module) -> list:
    """Where a module was loaded from, read from its ``__dict__`` (a module ``__getattr__`` could import or raise)."""
    namespace = getattr(module, "__dict__", None)
    if not isinstance(namespace, dict):
        return []
    places = [namespace.get("__file__")]
    try:
        places += list(namespace.get("__path__") or [])
    except TypeError:
        pass
    return [place for place in places if isinstance(place, (str, os.PathLike))]


def intrusions(config) -> list[str]:
    """What this pytest process took from the student's folder: rootdir, ini file, plugins and conftests,
    imported modules, import-path entries."""
    territory = Territory(student_territory(config))
    found = []
    if territory.holds(config.rootpath):
        found.append(f"its rootdir {config.rootpath}")
    if config.inipath is not None and territory.holds(config.inipath):
        found.append(f"its ini file {config.inipath}")
    for plugin in config.pluginmanager.get_plugins():
        found += [f"the plugin or conftest {place}" for place in _module_places(plugin)[:1] if territory.holds(place)]
    for name, module in list(sys.modules.items()):
        for place in _module_places(module):
            if territory.holds(place):
                found.append(f"the module {name} from {place}")
                break
    found += [f"the import path entry {entry or '.'}" for entry in sys.path if territory.holds(entry or os.getcwd())]
    return list(dict.fromkeys(found))


def ending_options(config) -> list[str]:
    """Options that make pytest exit 0 without checking a property, wherever they were given (an ini file, PYTEST_ADDOPTS)."""
    return [flag for dest, flag in ENDS_WITHOUT_CHECKING.items() if getattr(config.option, dest, False)]


def refusal(config, found: list[str]) -> str:
    path = config.getoption("propgrade_submission")
    shown = "; ".join(found[:SHOWN]) + (f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else "")
    return (
        f"propgrade: refusing to grade {path}: this pytest read from {student_territory(config)}, the student's folder, where a "
        f"student decides what pytest runs ({shown}). Run `propgrade pytest {path}` instead: it starts pytest so that it reads nothing there."
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Refuse before anything runs (``--help`` and ``--markers`` included) when the run cannot be trusted."""
    if not config.getoption("propgrade_submission"):
        return None
    ending = ending_options(config)
    if ending:
        raise pytest.UsageError(
            f"propgrade: refusing {', '.join(ending)} with --propgrade-submission: pytest would end with success without checking "
            "a single property (given on the command line, in an ini file or in PYTEST_ADDOPTS). `propgrade list` prints the properties."
        )
    found = intrusions(config)
    if found:
        raise pytest.UsageError(refusal(config, found))
    from grader.check import PROFILES  # imports torch: only once the run is known to be safe (refusals stay quick)

    if config.getoption("propgrade_profile") not in PROFILES:
        raise pytest.UsageError(f"--propgrade-profile: choose one of {', '.join(PROFILES)}")
    return None


def run_isolated(path: str, pytest_args: list[str]) -> int:
    """``propgrade pytest PATH [ARGS]``: pytest that reads nothing from the current folder or the student's.

    A fresh ``python -I``: neither the current folder nor PYTHONPATH is on the import path, no PYTHON*
    variable and no user site applies, so no ``pytest.py``, ``hypothesis.py`` or ``sitecustomize.py``
    of the student's can stand in. pytest gets an empty ini file and its rootdir in a new temporary
    folder and collects nothing but this plugin's items: no conftest, no cache, no plugin but this one
    (PYTEST_ADDOPTS and PYTEST_PLUGINS dropped, autoloading off). The current folder stays the working
    folder, so relative paths in ARGS (``--junitxml=results/junit.xml``) mean what they say."""
    target = os.path.abspath(path)
    with tempfile.TemporaryDirectory(prefix="propgrade-pytest-") as neutral:
        ini = Path(neutral, "pytest.ini")
        ini.write_text("[pytest]\n", encoding="utf-8")
        env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        command = [
            sys.executable, "-I", "-m", "pytest", neutral, "-c", str(ini), "--rootdir", neutral, "--noconftest",
            "-p", "no:cacheprovider", "-p", "grader.plugin", "--propgrade-submission", target, *pytest_args,
        ]
        return subprocess.run(command, env=env, check=False).returncode


def pytest_addoption(parser):
    group = parser.getgroup("propgrade")
    group.addoption("--propgrade-submission", metavar="PATH", default=None, help="grade this notebook or module")
    group.addoption("--propgrade-profile", default="ci", help="Hypothesis effort: ci, default or thorough")
    group.addoption("--propgrade-seed", type=int, default=0)
    group.addoption("--propgrade-lang", choices=["en", "zh"], default="en")
    group.addoption("--propgrade-device", choices=["auto", "cpu", "cuda"], default="auto")
    group.addoption("--propgrade-no-store", action="store_true", default=False,
                    help="neither use nor write the store of what earlier runs learned ($PROPGRADE_STORE, else ~/.cache/propgrade)")


class PropertyFailed(Exception):
    pass


class SubmissionUnderTest:
    """One worker session shared by all the property items of a pytest run."""

    def __init__(self, config):
        self.config = config
        self.session = None
        self.subject = None
        self.problem = None
        self.store = None  # what earlier runs learned, as ``propgrade grade`` keeps it (grader/store.py)
        self.examples = None  # where examples of properties that held are replayed from: none without a store

    def start(self):
        from grader.cli import resolve_device
        from grader.grade import Options, Session
        from grader.load import load_all
        from grader.messages import say
        from grader.outcomes import WorkerLost
        from grader.subject import Subject

        if self.session is not None or self.problem is not None:
            return
        found = intrusions(self.config)  # torch, numpy, nbformat and the rest are imported by now
        if found:
            pytest.exit(refusal(self.config, found), returncode=pytest.ExitCode.USAGE_ERROR)
        path = self.config.getoption("propgrade_submission")
        (submission,) = load_all([path])[:1] or [None]
        if submission is None or submission.problem is not None:
            self.problem = submission.problem.render(self.lang) if submission else f"no submission at {path}"
            return
        options = Options(seed=self.config.getoption("propgrade_seed"), device=resolve_device(self.config.getoption("propgrade_device")))
        self._attach_store(options)
        self.session = Session(submission, options)
        try:
            self.session.run()
            found = self.session.request("names", {"names": options.assignment.names_to_ask()}, doing=say("listing_names"))
            cuda = options.device == "cuda"
            if not isinstance(found, dict):
                raise WorkerLost("protocol", say("protocol", doing=say("listing_names")))
        except WorkerLost as lost:
            self.problem = lost.message.render(self.lang)
            return
        names, spellings = options.assignment.resolve(found)
        self.subject = Subject(self.session, names, cuda=cuda, spellings=spellings)

    def _attach_store(self, options) -> None:
        from grader.replay import PASSING_EXAMPLES
        from grader.store import attach, store_for

        if self.config.getoption("propgrade_no_store"):
            return
        self.store = store_for(options.seed, self.config.getoption("propgrade_profile"), options.device)
        if self.store is None:  # PROPGRADE_STORE=off
            return
        self.examples = PASSING_EXAMPLES
        problem = attach(self.store, self.examples)
        if problem:
            self._say(problem)

    @property
    def lang(self) -> str:
        return self.config.getoption("propgrade_lang")

    def close(self):
        if self.session is not None:
            self.session.close()
        if self.store is not None:
            from grader.store import keep

            problem = keep(self.store, self.examples, self.config.getoption("propgrade_seed"), self.config.getoption("propgrade_profile"))
            if problem:
                self._say(problem)

    def _say(self, text: str) -> None:
        """On pytest's own terminal (what is printed during a test is captured), or on stderr once it is gone."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"propgrade: {text}")
        else:
            print(f"propgrade: {text}", file=sys.stderr)


class PropertyItem(pytest.Item):
    def __init__(self, *, prop, under_test, **kwargs):
        super().__init__(**kwargs)
        self.prop = prop
        self.under_test = under_test
        self.add_marker(pytest.mark.propgrade)

    def runtest(self):
        from grader.check import check
        from grader.outcomes import WorkerLost

        self.under_test.start()
        if self.under_test.problem is not None:
            raise PropertyFailed(self.under_test.problem)
        try:
            self.under_test.session.ensure_worker()
        except WorkerLost as lost:
            raise PropertyFailed(lost.message.render(self.under_test.lang)) from None
        verdict = check(self.prop, self.under_test.subject, seed=self.config.getoption("propgrade_seed"),
                        profile=self.config.getoption("propgrade_profile"), examples=self.under_test.examples)
        lang = self.under_test.lang
        if verdict.kind == "skipped":
            pytest.skip(verdict.message.render(lang))
        if verdict.kind != "passed":
            text = f"[{verdict.kind}] {verdict.message.render(lang)}"
            if verdict.counterexample:
                text += f"\n{verdict.counterexample}"
            raise PropertyFailed(text)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, PropertyFailed):
            return f"{self.prop.statement_in(self.under_test.lang)}\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"propgrade: {self.prop.id}"


def pytest_configure(config):
    config.addinivalue_line("markers", "propgrade: a property of the lesson checked against a submission")
    if config.getoption("propgrade_submission"):
        config._propgrade = SubmissionUnderTest(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session):
    """The properties are the only items: no file is collected, so no test module or conftest of the folders
    given or found (testpaths, the current folder) is imported. ``-k``, ``-m`` and ``--deselect`` still apply."""
    under_test = getattr(session.config, "_propgrade", None)
    if under_test is None:
        return None
    from grader.properties import catalogue

    hook = session.config.hook
    items = [PropertyItem.from_parent(session, name=prop.id, prop=prop, under_test=under_test) for prop in catalogue()]
    hook.pytest_collectreport(report=pytest.CollectReport(session.nodeid, "passed", None, items))
    hook.pytest_collection_modifyitems(session=session, config=session.config, items=items)
    session.items = items
    hook.pytest_collection_finish(session=session)
    session.testscollected = len(items)
    return True


def pytest_unconfigure(config):
    under_test = getattr(config, "_propgrade", None)
    if under_test is not None:
        under_test.close()
