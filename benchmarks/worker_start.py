"""Benchmark: the cost of starting and stopping one worker, with and without the sandbox (``grader/sandbox/``).

    python benchmarks/worker_start.py [--rounds 30]

Prints median and 90th percentile seconds from the request to fork until the worker is ready,
and for stopping it (kill, reap, cgroups removed, folder deleted), each way. The fork server is
started and warmed first, so this is the per-submission cost a class run pays. Not run by
``benchmarks/all.py`` (``benchmarks/grading.py`` there prints worker start-up, forked and fresh).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from grader.workermanage import Limits, Worker


def measure(rounds: int) -> tuple[list[float], list[float], dict]:
    starts, stops, isolation = [], [], {}
    for index in range(rounds + 2):
        worker = Worker(None, limits=Limits(), seed=0, device="cpu")
        began = time.perf_counter()
        worker.start()
        ready = time.perf_counter()
        worker.request("run_module", {"source": "x = 1", "filename": "x.py"}, doing="x.py")
        halted = time.perf_counter()
        worker.stop()
        if index >= 2:  # the first two warm the fork server and the page cache
            starts.append(ready - began)
            stops.append(time.perf_counter() - halted)
        isolation = worker.isolation
    return starts, stops, isolation


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    return f"median {statistics.median(ordered):.4f} s, p90 {ordered[int(0.9 * (len(ordered) - 1))]:.4f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    for setting in ("0", "1"):
        os.environ["PROPGRADE_SANDBOX"] = setting
        starts, stops, isolation = measure(rounds)
        label = "sandbox" if setting == "1" else "no sandbox"
        print(f"{label:>10}: start {summary(starts)}; stop {summary(stops)}")
        print(f"{'':>10}  {isolation}")


if __name__ == "__main__":
    main()
