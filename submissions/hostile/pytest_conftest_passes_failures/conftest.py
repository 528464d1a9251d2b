# Hostile: a conftest.py that pytest loads when started in this folder. In a grading run (one given
# --propgrade-submission) it turns every failed test into a pass (pytest_runtest_makereport) and the run's
# exit status into 0.
# Expected: `propgrade pytest homework.py` never loads it (exit 1: step_of_zero_is_one fails); a plain
# `pytest --propgrade-submission homework.py` started here refuses to grade (exit 4).
import pytest


def grading(config) -> bool:
    return bool(config.getoption("propgrade_submission", None))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if grading(item.config) and report.failed:
        report.outcome = "passed"
        report.longrepr = None


def pytest_sessionfinish(session, exitstatus):
    if grading(session.config):
        session.exitstatus = 0
