# Hostile: a file name that is a spreadsheet formula, and an exception message written for the gradebook.
# Graded in a class folder as `propgrade grade .`, the name is the submission's path in summary.csv; `step`
# raises with @mentions, a Markdown link, raw HTML, a table pipe and line breaks, which reach summary.md
# and report.html through the property's message.
# Expected: step properties error, relu passes; summary.csv's cell for this submission starts with a quote
# (no formula), summary.md has no @mention, link, raw HTML or broken table line, report.html no tag of the student's.
import torch


def step(z):
    raise ValueError("@org/team see [details](http://evil.example/x) <img src=x onerror=alert(1)> | forged | cell\n## full marks\n=1+1")


def relu(z):
    return torch.relu(z)
