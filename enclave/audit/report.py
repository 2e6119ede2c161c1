"""The audit report: one dict, rendered as JSON, text or Markdown, sealed with a SHA-256 digest.

Canonical JSON, the bytes the digest covers: the report without its ``digest``
field, serialised with ``json.dumps(report, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` and encoded as UTF-8. ``verify(report)`` recomputes it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from enclave.audit.base import FAIL, PASS, UNVERIFIED
from enclave.audit.checks import CHECKS, Result
from enclave.audit.grants import EXPIRED, NOT_DEPLOYED
from enclave.audit.grants import line as grant_line

FORMAT_VERSION = 2
"""2: results may be ``unverified`` (summary ``unverified``, ``unverified_checks``); the report lists the grants."""


def canonical_json(report: dict[str, Any]) -> bytes:
    """The bytes the digest is computed over (``digest`` excluded)."""
    body = {k: v for k, v in report.items() if k != "digest"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build(
    *,
    stack: str,
    site: str,
    account: str,
    region: str,
    operator: str,
    timestamp: str,
    results: list[Result],
    grants: list[dict] | None = None,
) -> dict:
    """The report with its digest; ``grants`` (``enclave.audit.grants.listing``) when the audit read them."""
    failed = sorted({r.id for r in results if r.status == FAIL})
    unverified = sorted({r.id for r in results if r.status == UNVERIFIED})
    report: dict[str, Any] = {
        "format": f"enclave-audit/{FORMAT_VERSION}",
        "timestamp": timestamp,
        "stack": stack,
        "site": site,
        "account": account,
        "region": region,
        "operator_account": operator,
        "results": [r.as_dict() for r in results],
        "summary": {
            "total": len(results),
            "passed": sum(r.status == PASS for r in results),
            "failed": sum(r.status == FAIL for r in results),
            "unverified": sum(r.status == UNVERIFIED for r in results),
            "failed_checks": failed,
            "unverified_checks": unverified,
        },
    }
    if grants is not None:
        report["grants"] = grants
    report["digest"] = {"algorithm": "sha256", "value": hashlib.sha256(canonical_json(report)).hexdigest()}
    return report


def verify(report: dict[str, Any]) -> bool:
    """Whether the report's digest matches its content."""
    digest = report.get("digest") or {}
    return (
        digest.get("algorithm") == "sha256"
        and digest.get("value") == hashlib.sha256(canonical_json(report)).hexdigest()
    )


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


_ORDER = {FAIL: 0, UNVERIFIED: 1, PASS: 2}


def _failures_first(report: dict) -> list[dict]:
    return sorted(report["results"], key=lambda r: (_ORDER.get(r["status"], 0), r["id"], r["resources"]))


def passed(report: dict) -> bool:
    """Every check passed: nothing failed and nothing is left unverified (the audit's exit 0)."""
    s = report["summary"]
    return not s["failed"] and not s.get("unverified")


def _verdict(report: dict) -> str:
    s = report["summary"]
    unverified = s.get("unverified", 0)
    word = "FAILED" if s["failed"] else "NOT PROVEN" if unverified else "PASSED"
    also = f", {unverified} unverified" if unverified else ""
    return f"{word}: {s['passed']} of {s['total']} checks passed, {s['failed']} failed{also}"


def to_text(report: dict[str, Any]) -> str:
    """One line per result, failures first, for a terminal."""
    lines = [
        f"enclave audit: stack {report['stack']}, account {report['account']}, region {report['region']}, "
        f"at {report['timestamp']}",
    ]
    for r in _failures_first(report):
        line = f"{r['status'].upper():4}  {r['id']:30}  {', '.join(r['resources'])}: {r['found']}"
        if r["status"] != PASS:
            line += f" (expected {r['expected']})"
        lines.append(line)
    for g in report.get("grants", []):
        lines.append(f"GRANT  {grant_line(g)}")
    lines.append(_verdict(report))
    lines.append(f"sha256 {report['digest']['value']}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: dict[str, Any]) -> str:
    """A table for people: failures first, each with how to fix it."""
    out = [
        f"# Residency audit: {report['site']} ({report['stack']})",
        "",
        f"- Account: `{report['account']}`, region `{report['region']}`, operator account `{report['operator_account']}`",
        f"- Time (UTC): {report['timestamp']}",
        f"- Result: **{_verdict(report)}**",
        f"- SHA-256 of the canonical JSON report: `{report['digest']['value']}`",
        "",
    ]
    for status, title, remedy in (
        (FAIL, "Failures and how to fix them", "How to fix"),
        (UNVERIFIED, "Not verified, and what would make it visible", "What would make it visible"),
    ):
        rows = [r for r in _failures_first(report) if r["status"] == status]
        if not rows:
            continue
        out += [f"## {title}", "", f"| Check | Resources | Expected | Found | {remedy} |", "|---|---|---|---|---|"]
        for r in rows:
            out.append(
                f"| `{r['id']}` | {'<br>'.join(f'`{a}`' for a in r['resources'])} | {_cell(r['expected'])} "
                f"| {_cell(r['found'])} | {_cell(r['fix'])} |"
            )
        out.append("")
    out += ["## All results", "", "| Status | Check | Resources | Found |", "|---|---|---|---|"]
    for r in _failures_first(report):
        label = {FAIL: "FAIL", UNVERIFIED: "UNVERIFIED"}.get(r["status"], r["status"])
        out.append(f"| {label} | `{r['id']}` | {'<br>'.join(f'`{a}`' for a in r['resources'])} | {_cell(r['found'])} |")
    if "grants" in report:
        out += ["", "## Grants in the live documents", ""]
        if report["grants"]:
            out += [
                "| Kind | Ticket | Principal or recipient | Prefix | Window (UTC) | State | Document |",
                "|---|---|---|---|---|---|---|",
            ]
            for g in report["grants"]:
                state = {EXPIRED: "**EXPIRED**", NOT_DEPLOYED: "**NOT DEPLOYED**"}.get(g["state"], g["state"])
                note = f"; {g['note']}" if g["note"] else ""
                prefix, document = (f"`{g[k]}`" if g[k] else "" for k in ("prefix", "document"))
                out.append(
                    f"| {g['kind']} | {g['ticket'] or g['sid']} | `{g['principal']}` | {prefix} "
                    f"| {g['not_before']} to {g['not_after']} | {state} ({_cell(g['when'] + note)}) | {document} |"
                )
        else:
            out.append("None: nobody may assume the staff-access role, and no recipient may read an export.")
    out += [
        "",
        "## Checks",
        "",
        "| Check | What it verifies |",
        "|---|---|",
        *(f"| `{c.id}` | {_cell(c.title)} |" for c in CHECKS.values()),
        "",
        "The digest covers the JSON report without its `digest` field, serialised with sorted keys and "
        'compact separators (`json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`, UTF-8).',
        "",
    ]
    return "\n".join(out)
