"""``python -m bench``: time the offline evaluation against its floor and as stacks and sites grow.

Prints a table and writes ``bench/results/results.json``. End-to-end figures
are wall times of fresh interpreters (``subprocess.run`` around
``time.perf_counter``); policy evaluation alone is timed in this process.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.timing import BenchError, Stats, time_call, time_command

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "results.json"

GOAL_CHECK_RATIO = 1.5
GOAL_RATE = 20_000
GOAL_TESTS_SECONDS = 60.0
SIZES, QUICK_SIZES = (100, 1_000, 10_000), (100, 1_000)
SITE_COUNTS, QUICK_SITE_COUNTS = (1, 4, 16), (1, 4)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time the offline evaluation against its import floor, and as stacks and sites grow.",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (default 5; 2 with --quick)")
    parser.add_argument(
        "--test-runs", type=int, default=3, help="timed runs of the test suite (default 3; 1 with --quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer runs, sizes and sites (a quick look, not final numbers)"
    )
    parser.add_argument("--skip-tests", action="store_true", help="leave the test suite's wall time out")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS.relative_to(ROOT)})")
    return parser


def _stats_row(label: str, stats: Stats, derived: str = "", goal: str = "", met: bool | None = None) -> list[str]:
    verdict = "" if met is None else ("yes" if met else "NO")
    return [
        label,
        str(len(stats.samples)),
        f"{stats.min:.3f}",
        f"{stats.median:.3f}",
        f"{stats.max:.3f}",
        derived,
        goal,
        verdict,
    ]


def table(rows: list[list[str]]) -> str:
    """Rows as an aligned plain-text table under a header."""
    header = ["figure", "runs", "min s", "median s", "max s", "derived", "goal", "met"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def measure(args: argparse.Namespace) -> tuple[dict[str, Any], list[list[str]]]:
    """Take every measurement; the results document and the table rows."""
    from bench.floor import floor_script, program_classes
    from bench.sites import write_estate
    from bench.synthetic import synthetic_run
    from components.config import site_config_from_mapping
    from enclave.check import evaluate, resolve_policy_config
    from enclave.harness import PROJECT_DIR, list_stacks, run_program

    py = sys.executable
    runs = args.runs
    rows: list[list[str]] = []
    results: dict[str, Any] = {}
    stacks = list_stacks(PROJECT_DIR)
    recorded = {stack: run_program(stack) for stack in stacks}

    # 1. Floor, and the same imports with the collector paused (as the harness imports).
    classes = sorted({c for run in recorded.values() for c in program_classes(run)})
    floor, _ = time_command([py, "-c", floor_script(classes)], runs, ROOT)
    paused, _ = time_command([py, "-c", floor_script(classes, gc_paused=True)], runs, ROOT)
    results["floor"] = {
        "imports": [f"{m}.{c}" for m, c in classes],
        "seconds": floor.as_dict(),
        "gc_paused_seconds": paused.as_dict(),
    }
    rows.append(_stats_row(f"floor: python + import {len(classes)} program classes", floor))
    rows.append(_stats_row("  the same, cyclic GC paused", paused, f"{paused.median / floor.median:.2f}x floor"))

    # 2. enclave check end to end.
    check = [py, "-m", "enclave", "check"]
    singles = {stack: time_command([*check, "--stack", stack], runs, ROOT)[0] for stack in stacks}
    every, _ = time_command([*check, "--all"], runs, ROOT)
    results["check"] = {"stacks": {}, "all": every.as_dict()}
    for stack, stats in singles.items():
        ratio = stats.median / floor.median
        results["check"]["stacks"][stack] = {
            **stats.as_dict(),
            "ratio_to_floor": ratio,
            "ratio_to_gc_paused_floor": stats.median / paused.median,
        }
        derived = f"{ratio:.2f}x floor ({stats.median / paused.median:.2f}x paused)"
        rows.append(
            _stats_row(f"check --stack {stack}", stats, derived, f"<= {GOAL_CHECK_RATIO}x", ratio <= GOAL_CHECK_RATIO)
        )
    sum_singles = sum(s.median for s in singles.values())
    share = every.median / sum_singles
    results["check"]["all"].update(
        sum_of_single_medians=sum_singles, ratio_to_sum=share, ratio_to_floor=every.median / floor.median
    )
    rows.append(
        _stats_row(
            f"check --all ({len(stacks)} stacks)", every, f"{share:.2f}x sum of singles", "< 0.75x", share < 0.75
        )
    )

    # 3. Policy evaluation alone, on synthetic stacks.
    base = recorded[stacks[0]]
    prefix = site_config_from_mapping(base.config).name_prefix
    policy_config = resolve_policy_config(PROJECT_DIR, base.stack, base)
    results["policy_eval"] = []
    for size in QUICK_SIZES if args.quick else SIZES:
        run = synthetic_run(base, size, prefix)
        violations = evaluate(run, policy_config)
        stats = time_call(lambda run=run: evaluate(run, policy_config), runs)
        rate = size / stats.median
        results["policy_eval"].append(
            {"resources": size, "seconds": stats.as_dict(), "resources_per_second": rate, "violations": len(violations)}
        )
        goal = f">= {GOAL_RATE:,}/s"
        rows.append(_stats_row(f"evaluate {size} resources", stats, f"{rate:,.0f} res/s", goal, rate >= GOAL_RATE))

    # 4. Sites: check --all on generated estates.
    results["sites"] = []
    with tempfile.TemporaryDirectory(prefix="enclave-bench-") as tmp:
        for count in QUICK_SITE_COUNTS if args.quick else SITE_COUNTS:
            estate = Path(tmp) / f"sites-{count}"
            write_estate(estate, count, PROJECT_DIR)
            stats, _ = time_command([*check, "--all", "--program", str(estate)], runs, ROOT)
            per_site = stats.median / count
            entry = {"sites": count, "seconds": stats.as_dict(), "per_site_median": per_site}
            derived = f"{per_site:.3f} s/site"
            if results["sites"]:
                first = results["sites"][0]
                # What each site beyond the first adds: the cost that remains as the estate grows.
                entry["marginal_per_site"] = (stats.median - first["seconds"]["median"]) / (count - first["sites"])
                derived += f", +{entry['marginal_per_site']:.3f} s each"
            falling = not results["sites"] or per_site < results["sites"][-1]["per_site_median"]
            results["sites"].append(entry)
            rows.append(_stats_row(f"check --all, {count} generated sites", stats, derived, "falls", falling))

    # 5. Pseudonymisation throughput (enclave pseudonymise against a plain hmac loop).
    from bench.pseudonymise import measure as measure_pseudonymise

    results["pseudonymise"], figures = measure_pseudonymise(runs, args.quick)
    rows += [_stats_row(label, stats, derived, goal, met) for label, stats, derived, goal, met in figures]

    # 6. The test suite (exit 1: some test failed; still timed, and said so).
    if not args.skip_tests:
        pytest = [py, "-m", "pytest", "-q", "-n", "2"]
        stats, code = time_command(pytest, args.test_runs, ROOT, (0, 1))
        results["tests"] = {"seconds": stats.as_dict(), "exit_code": code}
        note = "all passed" if code == 0 else f"exit {code}: failures"
        goal = f"< {GOAL_TESTS_SECONDS:.0f} s"
        rows.append(_stats_row("pytest -n 2 (whole suite)", stats, note, goal, stats.median < GOAL_TESTS_SECONDS))
    return results, rows


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.runs = min(args.runs, 2)
        args.test_runs = 1
    if args.runs < 1 or args.test_runs < 1:
        print("error: --runs and --test-runs must be at least 1", file=sys.stderr)
        return 2
    # Refuse an unwritable --out before minutes of measuring, not after.
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.out.is_dir():
            raise IsADirectoryError(f"{args.out} is a directory")
    except OSError as exc:
        print(f"error: --out {args.out}: {exc}; give a file path in a writable directory", file=sys.stderr)
        return 2
    try:
        results, rows = measure(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    doc = {
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "runs": args.runs,
        "goals": [{"figure": r[0], "value": r[5], "goal": r[6], "met": r[7] == "yes"} for r in rows if r[7]],
        **results,
    }
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(table(rows))
    print(f"\nwrote {args.out}")
    return 0
