"""Wall-clock measurements and their summary (min/median/max)."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


class BenchError(Exception):
    """A measurement could not be taken (a command failed to run as intended)."""


@dataclass(frozen=True)
class Stats:
    """Seconds per run: every sample and its min/median/max."""

    samples: tuple[float, ...]

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def as_dict(self) -> dict:
        return {"min": self.min, "median": self.median, "max": self.max, "samples": list(self.samples)}


def time_command(
    argv: Sequence[str], runs: int, cwd: Path, ok_codes: Sequence[int] = (0,), warmup: bool = True
) -> tuple[Stats, int]:
    """Run ``argv`` ``runs`` times in a fresh interpreter each; wall seconds per run and the last exit code.

    One untimed run first, so the figures are of a warm OS file cache and
    up-to-date bytecode, as on a developer's machine or a CI runner's second step.
    """
    if runs < 1:
        raise BenchError(f"runs must be at least 1, got {runs}")
    samples = []
    code = 0
    for i in range(runs + (1 if warmup else 0)):
        start = time.perf_counter()
        proc = subprocess.run(list(argv), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        code = proc.returncode
        if code not in ok_codes:
            tail = (proc.stderr or "").strip().splitlines()[-1:] or ["(no stderr)"]
            raise BenchError(f"{' '.join(argv)} exited {code} (expected {ok_codes}): {tail[0]}")
        if i or not warmup:
            samples.append(elapsed)
    return Stats(tuple(samples)), code


def time_call(fn: Callable[[], object], runs: int, clock: Callable[[], float] = time.perf_counter) -> Stats:
    """Seconds of ``fn()`` in this process, ``runs`` times after one untimed call.

    Wall seconds by default; ``clock=time.process_time`` counts this process's CPU only.
    """
    fn()
    samples = []
    for _ in range(runs):
        start = clock()
        fn()
        samples.append(clock() - start)
    return Stats(tuple(samples))
