"""Pseudonymisation throughput: ``enclave.pseudonymise`` against a plain standard-library ``hmac`` loop.

Both pipelines read the same CSV rows with ``csv.reader``, replace the same two
identifier columns and write with ``csv.writer`` into the same sink; only the
hashing differs. The baseline calls ``hmac.new(key, value, sha256).hexdigest()``
for every value; the library keys the HMAC once, copies it per value and
remembers recent identifiers. Three inputs: sessions (each user's ten rows
together), the same events shuffled, and a worst case where every identifier
is new. Times are CPU seconds of this process (``time.process_time``), so other
load on the machine does not count.

``python -m bench.pseudonymise`` prints only these figures (a few seconds);
``python -m bench`` includes them.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import random
import time
from collections.abc import Iterable, Sequence
from typing import Any

from bench.timing import Stats, time_call

ROWS, QUICK_ROWS = 200_000, 20_000
COLUMNS = ("user_id", "email")
PEPPER = b"bench-pepper-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
GOAL_SPEEDUP = 1.0
"""The library must never be slower than the plain loop (it is the same HMAC)."""


class NullSink:
    """A text stream that keeps nothing: the figures measure the pipeline, not memory growth."""

    def write(self, text: str) -> int:
        return len(text)


def synthetic_csv(rows: int, users: int, together: bool = False, seed: int = 16) -> list[str]:
    """CSV lines (header first) of ``rows`` viewing events by ``users`` users, in random order or each user's together."""
    rng = random.Random(seed)
    countries = ("IE", "NO", "SE", "DE", "FR", "ES")
    per_user = max(rows // users, 1)
    lines = ["event_id,user_id,email,country,watched_seconds\n"]
    for i in range(rows):
        user = i // per_user if together else rng.randrange(users)
        lines.append(f"e{i},u-{user:07d},user{user}@example.eu,{rng.choice(countries)},{rng.randrange(1, 7200)}\n")
    return lines


def baseline(lines: Iterable[str], out: Any, columns: Sequence[str], key: bytes) -> int:
    """The plain loop: ``hmac.new(key, value, sha256).hexdigest()`` per identifier."""
    reader = csv.reader(lines)
    header = next(reader)
    positions = [header.index(c) for c in columns]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    rows = 0
    for row in reader:
        for i in positions:
            if row[i]:
                row[i] = hmac.new(key, row[i].encode("utf-8"), hashlib.sha256).hexdigest()
        writer.writerow(row)
        rows += 1
    return rows


def library(lines: Iterable[str], out: Any, columns: Sequence[str], key: bytes) -> int:
    from enclave.pseudonymise import pseudonymise_csv, pseudonymiser

    return pseudonymise_csv(lines, out, columns, pseudonymiser(key))


def same_output(lines: list[str]) -> bool:
    """Both pipelines write byte-identical output (so the comparison is of equal work)."""
    import io

    a, b = io.StringIO(), io.StringIO()
    baseline(lines[:2000], a, COLUMNS, PEPPER)
    library(lines[:2000], b, COLUMNS, PEPPER)
    return a.getvalue() == b.getvalue()


def measure(
    runs: int, quick: bool, rows: int | None = None
) -> tuple[dict[str, Any], list[tuple[str, Stats, str, str, bool | None]]]:
    """Rows per second of both pipelines on each input; results and table rows (label, stats, derived, goal, met)."""
    rows = rows or (QUICK_ROWS if quick else ROWS)
    inputs = {
        "sessions (a user's 10 rows together)": synthetic_csv(rows, rows // 10, together=True),
        "event log (10 rows per user, shuffled)": synthetic_csv(rows, rows // 10),
        "every identifier new": synthetic_csv(rows, rows * 10),
    }
    results: dict[str, Any] = {"rows": rows, "columns": list(COLUMNS), "inputs": {}}
    table = []
    for label, lines in inputs.items():
        if not same_output(lines):
            raise AssertionError("the library and the plain hmac loop disagree")
        plain = time_call(lambda lines=lines: baseline(lines, NullSink(), COLUMNS, PEPPER), runs, time.process_time)
        fast = time_call(lambda lines=lines: library(lines, NullSink(), COLUMNS, PEPPER), runs, time.process_time)
        speedup = plain.median / fast.median
        results["inputs"][label] = {
            "baseline": {**plain.as_dict(), "rows_per_second": rows / plain.median},
            "library": {**fast.as_dict(), "rows_per_second": rows / fast.median},
            "speedup": speedup,
        }
        table.append(
            (
                f"pseudonymise {rows} rows, {label}: plain hmac loop",
                plain,
                f"{rows / plain.median:,.0f} rows/s",
                "",
                None,
            )
        )
        table.append(
            (
                f"pseudonymise {rows} rows, {label}: enclave.pseudonymise",
                fast,
                f"{rows / fast.median:,.0f} rows/s, {speedup:.2f}x",
                f">= {GOAL_SPEEDUP:.1f}x",
                speedup >= GOAL_SPEEDUP,
            )
        )
    return results, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pseudonymise", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (default 5)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS} rows instead of {ROWS}")
    args = parser.parse_args(argv)
    from bench.run import _stats_row, table

    _results, rows = measure(max(args.runs, 1), args.quick)
    print(table([_stats_row(label, stats, derived, goal, met) for label, stats, derived, goal, met in rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
