"""SARIF 2.1.0 for code scanning: one run, the pack's policies as rules, each violation a result.

What GitHub code scanning needs, and how it is met:

- every result has a location: ``physicalLocation.artifactLocation.uri`` relative to the
  repository root (where the workflow checked it out) and ``region.startLine``. The file and line
  are the resource's registration (``Violation.file``/``line``, from the engine's source
  positions). When the position is unknown (a stack-wide finding, or a program whose SDK sent
  none), the result points at the program's entry point ``__main__.py`` line 1 and says so: the
  spec lets a result omit its region, but code scanning rejects or hides results without one.
- ``partialFingerprints`` identify a finding across runs (policy + URN), so a moved line does
  not reopen an alert, and an excepted violation stays the same alert, suppressed;
- excepted violations carry ``suppressions`` (kind ``external``: the policy config) with the
  exception's reason, approver and expiry as the justification;
- one run for all stacks: code scanning refuses several runs of one tool and category in one
  upload, and each result's URN already names its stack.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from enclave.check import Violation

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
ENTRY_POINT = "__main__.py"
LEVELS = {"mandatory": "error", "remediate": "error", "advisory": "warning", "disabled": "none"}
SEVERITY = {"error": "8.0", "warning": "5.0", "none": "0.0"}
"""GitHub's ``security-severity``: 7.0-8.9 shows as "high", 4.0-6.9 as "medium"."""
FINGERPRINT = "enclaveFinding/v1"


def _rule(policy_name: str, description: str, level: str) -> dict[str, Any]:
    how = (
        "Each result's message says what to change. If the finding is a reviewed, deliberate "
        "exception, add it to the policy's `exceptions` in the stack's policy config with a reason, "
        "an approver other than the author and an expiry date (docs/policy-pack.md)."
    )
    return {
        "id": policy_name,
        "name": "".join(part.title() for part in policy_name.split("-")),
        "shortDescription": {"text": description},
        "fullDescription": {"text": description},
        "help": {"text": f"{description} {how}", "markdown": f"**{policy_name}**: {description}\n\n{how}"},
        "defaultConfiguration": {"level": LEVELS.get(level, "error")},
        "properties": {
            "security-severity": SEVERITY[LEVELS.get(level, "error")],
            "tags": ["security", "data-residency"],
            "precision": "very-high",
        },
    }


def _uri(program_dir: Path, repo_root: Path, file: str) -> str:
    target = (program_dir / (file or ENTRY_POINT)).resolve()
    try:
        return Path(os.path.relpath(target, repo_root.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return target.as_posix()


def fingerprint(stack: str, v: Violation) -> str:
    # Resource findings by policy and URN (the URN names the stack); stack-wide ones also by message.
    what = v.urn or f"{stack}|{v.message}"
    return hashlib.sha256(f"{v.policy}|{what}".encode()).hexdigest()[:32]


def _result(stack: str, v: Violation, rule_index: int, program_dir: Path, repo_root: Path) -> dict[str, Any]:
    level = "error" if v.enforcement == "mandatory" else "warning" if v.enforcement == "advisory" else "note"
    where = v.name or f"stack {stack}"
    text = f"[{stack}] {where} ({v.type}): {v.message}"
    if not (v.file and v.line):
        text += f" (source position unknown: reported at the program's {ENTRY_POINT})"
    result: dict[str, Any] = {
        "ruleId": v.policy,
        "ruleIndex": rule_index,
        "level": level,
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(program_dir, repo_root, v.file)},
                    "region": {"startLine": v.line if v.file and v.line > 0 else 1},
                },
                "logicalLocations": [
                    {"name": v.name or stack, "fullyQualifiedName": v.urn or stack, "kind": "resource"}
                ],
            }
        ],
        "partialFingerprints": {FINGERPRINT: fingerprint(stack, v)},
        "properties": {"stack": stack, "urn": v.urn, "resourceType": v.type, "enforcement": v.enforcement},
    }
    if v.enforcement == "excepted":
        why = v.exception or {}
        justification = (
            f"{why.get('reason', 'no reason given')} (approved by {why.get('approver', '?')}, "
            f"expires {why.get('expires', '?')}" + (f", ticket {why['ticket']}" if why.get("ticket") else "") + ")"
        )
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": justification}]
    return result


def to_sarif(
    stacks: list[tuple[str, list[Violation]]],
    policies: list,
    program_dir: Path,
    *,
    repo_root: Path | None = None,
    levels: dict[str, str] | None = None,
    tool_version: str = "0",
) -> dict[str, Any]:
    """The SARIF log of ``(stack, violations)`` pairs, with every policy of the pack as a rule.

    ``levels`` maps a policy to its enforcement level under the policy config (default: its own).
    A violation of a policy outside the pack (another pack's, from an event log) gets a rule of its own.
    """
    from enclave.files import repo_root as find_root

    root = repo_root or find_root(program_dir)
    levels = levels or {}
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for p in policies:
        level = levels.get(p.name) or getattr(p.enforcement_level, "value", None) or "mandatory"
        index[p.name] = len(rules)
        rules.append(_rule(p.name, p.description, level))
    results = []
    for stack, violations in stacks:
        for v in violations:
            if v.policy not in index:
                index[v.policy] = len(rules)
                rules.append(_rule(v.policy, f"Policy {v.policy} (not in the eu-data-residency pack).", v.enforcement))
            results.append(_result(stack, v, index[v.policy], program_dir, root))
    return {
        "$schema": SCHEMA_URI,
        "version": VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "eu-data-enclave",
                        "semanticVersion": tool_version,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": "eu-data-enclave/residency/"},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
