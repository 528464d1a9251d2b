#!/usr/bin/env bash
# PrairieLearn external-grading entry point for a propgrade question (docs/instructors.md, "PrairieLearn").
# Put this file and your assignment.toml in the course's serverFilesCourse/propgrade/ (keep this file executable),
# and name it in the question's info.json: "entrypoint": "/grade/serverFilesCourse/propgrade/run.sh".
# The image needs Python with CPU torch and propgrade installed. python -I: nothing in the student's files
# (a torch.py, a sitecustomize.py) or in PYTHON* variables is imported by the grader.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p /grade/results
assignment=()
if [ -f "$here/assignment.toml" ]; then
    assignment=(--assignment "$here/assignment.toml")
fi
export OMP_NUM_THREADS=1
exec python3 -I -m grader.launcher grader.outputs.prairielearn --submission /grade/student --results /grade/results --lang "${PROPGRADE_LANG:-en}" "${assignment[@]}"
