"""pytest plugin: ``pytest --propgrade-submission PATH`` checks one submission, one test per property.

The submission runs in a sandboxed worker exactly as ``propgrade grade`` runs
it; a failing property reports its minimal counterexample, not a traceback.
"""

from __future__ import annotations

import pytest

from grader.check import PROFILES, check
from grader.properties import catalogue


def pytest_addoption(parser):
    group = parser.getgroup("propgrade")
    group.addoption("--propgrade-submission", metavar="PATH", default=None, help="grade this notebook or module")
    group.addoption("--propgrade-profile", choices=list(PROFILES), default="ci", help="Hypothesis effort")
    group.addoption("--propgrade-seed", type=int, default=0)
    group.addoption("--propgrade-lang", choices=["en", "zh"], default="en")
    group.addoption("--propgrade-device", choices=["auto", "cpu", "cuda"], default="auto")


class PropertyFailed(Exception):
    pass


class SubmissionUnderTest:
    """One worker session shared by all the property items of a pytest run."""

    def __init__(self, config):
        self.config = config
        self.session = None
        self.subject = None
        self.problem = None

    def start(self):
        from grader.cli import resolve_device
        from grader.grade import Options, Session
        from grader.load import load_all
        from grader.messages import say
        from grader.outcomes import WorkerLost
        from grader.subject import Subject

        if self.session is not None or self.problem is not None:
            return
        path = self.config.getoption("propgrade_submission")
        (submission,) = load_all([path])[:1] or [None]
        if submission is None or submission.problem is not None:
            self.problem = submission.problem.render(self.lang) if submission else f"no submission at {path}"
            return
        options = Options(seed=self.config.getoption("propgrade_seed"), device=resolve_device(self.config.getoption("propgrade_device")))
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

    @property
    def lang(self) -> str:
        return self.config.getoption("propgrade_lang")

    def close(self):
        if self.session is not None:
            self.session.close()


class PropertyItem(pytest.Item):
    def __init__(self, *, prop, under_test, **kwargs):
        super().__init__(**kwargs)
        self.prop = prop
        self.under_test = under_test
        self.add_marker(pytest.mark.propgrade)

    def runtest(self):
        from grader.outcomes import WorkerLost

        self.under_test.start()
        if self.under_test.problem is not None:
            raise PropertyFailed(self.under_test.problem)
        try:
            self.under_test.session.ensure_worker()
        except WorkerLost as lost:
            raise PropertyFailed(lost.message.render(self.under_test.lang)) from None
        verdict = check(self.prop, self.under_test.subject, seed=self.config.getoption("propgrade_seed"),
                        profile=self.config.getoption("propgrade_profile"))
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


def pytest_collection_modifyitems(session, config, items):
    under_test = getattr(config, "_propgrade", None)
    if under_test is None:
        return
    items[:] = [PropertyItem.from_parent(session, name=prop.id, prop=prop, under_test=under_test) for prop in catalogue()]


def pytest_unconfigure(config):
    under_test = getattr(config, "_propgrade", None)
    if under_test is not None:
        under_test.close()
