"""How far a class run has got: a progress bar on a terminal, plain lines in CI logs.

Each finished submission gets one line (score, status, time); on a terminal a
tqdm bar below the lines shows submissions done, the rate and the time left,
and in a log (no terminal) each line carries the same figures instead.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

from grader.score import percent


def clock(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class Progress:
    def __init__(self, total: int, stream=None, terminal: bool | None = None):
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.bar = tqdm(total=total, unit="sub", file=self.stream, dynamic_ncols=True, leave=False) if self.terminal and total else None

    def line(self, result) -> str:
        score = f"{result.score:g}/{result.max_score:g} ({percent(result.score, result.max_score):.0f}%)"
        return f"{result.id}: {score} {result.status} in {result.seconds:.1f} s"

    def __call__(self, result) -> None:
        """One submission is done."""
        self.done += 1
        if self.bar is not None:
            self.bar.write(self.line(result), file=self.stream)
            self.bar.update(1)
            return
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate else 0.0
        width = len(str(self.total))
        print(f"[{self.done:>{width}}/{self.total}] {self.line(result)} | {rate * 60:.1f}/min, about {clock(left)} left", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
