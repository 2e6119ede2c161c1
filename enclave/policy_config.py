"""``python -m enclave policy-config``: keep each stack's shipped policy config in step with its stack config.

The real CLI reads ``--policy-pack-config policy/config/<stack>.json``, so that
file is what the pack sees. Part of it derives from the stack config (region,
accounts, residency tags, and a trusted-account entry per declared transfer
grant: ``enclave.check.policy_config_from_stack``); the rest is reviewed by hand
(exceptions, reviewed types, other trusted accounts, enforcement levels).
This command writes the derived part into the file and keeps the reviewed part
as it is, so adding a transfer grant is one stack-config entry plus one run of
this command, and the agreement is checked in CI (``--check``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from enclave.cli import EXIT_FAIL, EXIT_OK, UsageError

HELP = "Write each stack's policy/config/<stack>.json from its stack config, keeping reviewed entries; or --check it."

DERIVED_TRUST_REASON = "transfer grant "
"""How a trusted-account entry derived from a transfer grant starts its reason (components/grants.py)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", action="append", metavar="NAME", help="a stack (repeatable)")
    which.add_argument("--all", action="store_true", help="every stack with a Pulumi.<stack>.yaml")
    parser.add_argument("--program", type=Path, metavar="DIR", help="the Pulumi program (default: this project)")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 naming each file that disagrees with its stack"
    )


def _derived_trust(entry: Any) -> bool:
    return isinstance(entry, dict) and str(entry.get("reason", "")).startswith(DERIVED_TRUST_REASON)


def merge(shipped: dict[str, Any] | None, derived: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``shipped`` with every derived value written in; reviewed keys and entries kept as they are.

    Trusted accounts: entries derived from transfer grants are replaced by the
    current ones (a removed grant's recipient goes); every other entry, reviewed
    by hand, stays.
    """
    merged: dict[str, Any] = json.loads(json.dumps(shipped or {}))
    for policy, values in derived.items():
        block = merged.get(policy)
        if not isinstance(block, dict):
            # A bare enforcement level ("no-egress": "advisory") keeps its level.
            block = {} if block is None else {"enforcementLevel": block}
        for key, value in values.items():
            if key == "trustedAccounts":
                continue
            block[key] = value
        reviewed = [e for e in block.get("trustedAccounts", []) if not _derived_trust(e)]
        trusted = reviewed + list(values.get("trustedAccounts", []))
        if trusted:
            block["trustedAccounts"] = trusted
        else:
            block.pop("trustedAccounts", None)
        merged[policy] = block
    return merged


def disagreements(shipped: dict[str, Any] | None, derived: dict[str, dict[str, Any]]) -> list[str]:
    """Each derived value the shipped config lacks or contradicts, as ``policy.key`` (empty: they agree)."""
    expected = merge(shipped, derived)
    shipped = shipped or {}
    out = []
    for policy in derived:
        have = shipped.get(policy)
        have = have if isinstance(have, dict) else {} if have is None else {"enforcementLevel": have}
        for key in sorted(set(expected[policy]) | set(have)):
            if expected[policy].get(key) != have.get(key):
                out.append(f"{policy}.{key}")
    return out


def render(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def _stacks(args: argparse.Namespace, program_dir: Path) -> list[str]:
    from enclave.harness import list_stacks

    known = list_stacks(program_dir)
    if args.all:
        if not known:
            raise UsageError(f"{program_dir}: no Pulumi.<stack>.yaml files, so --all has nothing to write")
        return known
    for stack in args.stack:
        if stack not in known:
            raise UsageError(
                f"--stack {stack}: no Pulumi.{stack}.yaml in {program_dir} (stacks: {', '.join(known) or 'none'})"
            )
    return sorted(set(args.stack))


def plan_file(program_dir: Path, stack: str) -> tuple[Path, dict[str, Any] | None, dict[str, Any]]:
    """(file, its current content or None, the derived config) for one stack; ``UsageError`` if unreadable."""
    from enclave.check import policy_config_from_stack
    from enclave.files import read_text
    from enclave.harness import HarnessError, load_stack_config, project_name

    try:
        derived = policy_config_from_stack(load_stack_config(program_dir, stack), project_name(program_dir))
    except HarnessError as exc:
        raise UsageError(str(exc)) from None
    path = program_dir / "policy" / "config" / f"{stack}.json"
    current = None
    if path.exists():
        text = read_text(path, "policy config")
        try:
            current = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise UsageError(f"policy config {path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(current, dict):
            raise UsageError(f'policy config {path}: expected an object {{"<policy-name>": {{...}}}}')
    return path, current, derived


def run(args: argparse.Namespace) -> int:
    from enclave.cli import resolve_program
    from enclave.files import write_files

    program_dir = resolve_program(args.program)
    # Read and derive every stack before writing anything: one bad stack writes nothing.
    plans = [plan_file(program_dir, stack) for stack in _stacks(args, program_dir)]
    if args.check:
        stale = [(path, disagreements(current, derived)) for path, current, derived in plans]
        stale = [(path, keys) for path, keys in stale if keys]
        for path, keys in stale:
            print(
                f"{path} disagrees with its stack config ({', '.join(keys)}): run python -m enclave policy-config "
                f"--stack {path.stem}",
                file=sys.stderr,
            )
        if stale:
            return EXIT_FAIL
        print(f"policy configs agree with their stacks: {', '.join(p.stem for p, _c, _d in plans)}")
        return EXIT_OK
    changed = {path: render(merge(current, derived)) for path, current, derived in plans}
    changed = {p: t for p, t in changed.items() if not p.exists() or p.read_text(encoding="utf-8") != t}
    write_files(changed)
    for path, _current, _derived in plans:
        print(f"{'wrote' if path in changed else 'unchanged'} {path}")
    return EXIT_OK
