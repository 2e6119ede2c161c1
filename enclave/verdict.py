"""The policy verdict every reviewer-facing report opens with, and the exceptions in force.

``check``, ``diff`` and ``review`` all lead with the same thing: the residency
pack's mandatory violations grouped by rule, then the advisories, then the
violations an exception suppressed, then the exceptions the policy config
holds (including expired ones, which the pack reports as mandatory violations).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from enclave.check import Violation

MAX_LISTED = 20
"""Violations listed per rule in the text and Markdown verdicts; the rest are counted."""


@dataclass(frozen=True)
class PolicyException:
    """One entry of a policy's ``exceptions`` block in the policy-pack config."""

    policy: str
    resource: str
    reason: str
    approver: str
    expires: str
    ticket: str = ""
    expired: bool = False

    def describe(self) -> str:
        ticket = f", ticket {self.ticket}" if self.ticket else ""
        state = f"EXPIRED on {self.expires}" if self.expired else f"expires {self.expires}"
        return f"{self.policy} on {self.resource}: {self.reason} (approved by {self.approver}, {state}{ticket})"


def today() -> dt.date:
    """The pack's clock (``residency_rules.clock.today``, a UTC date tests patch), else today in UTC."""
    from enclave.check import load_policies

    load_policies()  # puts the pack on the import path
    try:
        from residency_rules import clock
    except ImportError:
        return dt.datetime.now(dt.UTC).date()
    return clock.today()


def exceptions_of(policy_config: dict[str, Any] | None, on: dt.date | None = None) -> list[PolicyException]:
    """Every exception the policy config grants, with whether it has expired on ``on`` (default: today).

    An unreadable ``expires`` counts as expired: an exception nobody can date is not in force.
    """
    on = on or today()
    found = []
    for policy, settings in sorted((policy_config or {}).items()):
        entries = settings.get("exceptions") if isinstance(settings, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            expires = str(entry.get("expires", ""))
            try:
                expired = dt.date.fromisoformat(expires) < on
            except ValueError:
                expired = True
            found.append(
                PolicyException(
                    policy=policy,
                    resource=str(entry.get("resource", "")),
                    reason=str(entry.get("reason", "")),
                    approver=str(entry.get("approver", "")),
                    expires=expires,
                    ticket=str(entry.get("ticket", "") or ""),
                    expired=expired,
                )
            )
    return found


def key(v: Violation) -> tuple[str, str, str]:
    """What makes two violations the same finding (across OLD and NEW, across runs)."""
    return (v.policy, v.urn, v.message)


@dataclass
class Verdict:
    """The pack's verdict on one stack, optionally against a baseline (OLD's violations)."""

    stack: str
    violations: list[Violation]
    exceptions: list[PolicyException] = field(default_factory=list)
    baseline: set[tuple[str, str, str]] | None = None
    """Keys of the violations OLD already had; None when there is no OLD to compare with."""
    notes: list[str] = field(default_factory=list)
    evaluated: bool = True
    """False when the pack could not be evaluated offline (see ``notes``)."""

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == "mandatory"]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == "advisory"]

    @property
    def excepted(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == "excepted"]

    def is_new(self, v: Violation) -> bool:
        return self.baseline is None or key(v) not in self.baseline

    @property
    def brought(self) -> list[Violation]:
        """Mandatory violations this change brings (all of them without a baseline)."""
        return [v for v in self.mandatory if self.is_new(v)]

    def fails(self, fail_on: str = "new") -> bool:
        """Whether this verdict fails the check: a mandatory violation the change brings (or any, ``fail_on="any"``)."""
        return bool(self.mandatory if fail_on == "any" else self.brought)

    @property
    def status(self) -> str:
        if not self.evaluated:
            return "UNKNOWN"
        if self.brought:
            return "FAIL"
        return "PASS" if not self.mandatory else "PASS (violations already on the base)"

    def headline(self) -> str:
        m, a, e = len(self.mandatory), len(self.advisory), len(self.excepted)
        parts = [f"{m} mandatory violation(s)"]
        if self.baseline is not None and m:
            parts[0] += f" ({len(self.brought)} brought by this change)"
        parts += [f"{a} advisory", f"{e} excepted"]
        if self.exceptions:
            expired = sum(x.expired for x in self.exceptions)
            parts.append(
                f"{len(self.exceptions)} exception(s) in the policy config"
                + (f", {expired} expired" if expired else "")
            )
        return ", ".join(parts)

    def by_rule(self) -> list[tuple[str, list[Violation]]]:
        rules: dict[str, list[Violation]] = {}
        for v in sorted(self.mandatory, key=lambda v: (not self.is_new(v), v.policy, v.urn, v.message)):
            rules.setdefault(v.policy, []).append(v)
        return sorted(rules.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def _where(v: Violation) -> str:
    return v.name or "(stack)"


def _position(v: Violation) -> str:
    return f" at {v.file}:{v.line}" if v.file and v.line else ""


def findings(verdict: Verdict):
    """(kind, policy, violation or None, how many more) in report order: mandatory by rule, advisory, excepted.

    A ``None`` violation stands for the ``MAX_LISTED`` cut of a rule's list.
    """
    for policy, found in verdict.by_rule():
        yield from (("mandatory", policy, v, 0) for v in found[:MAX_LISTED])
        if len(found) > MAX_LISTED:
            yield "mandatory", policy, None, len(found) - MAX_LISTED
    yield from (("advisory", v.policy, v, 0) for v in verdict.advisory[:MAX_LISTED])
    yield from (("excepted", v.policy, v, 0) for v in verdict.excepted)


def _waiver(v: Violation) -> tuple[str, str, str]:
    why = v.exception or {}
    return why.get("reason", "?"), why.get("approver", "?"), why.get("expires", "?")


def render_text(verdict: Verdict) -> list[str]:
    """The verdict as text lines (the first line is the headline)."""
    lines = [f"VERDICT {verdict.stack}: {verdict.status}: {verdict.headline()}"]
    lines += [f"  note: {n}" for n in verdict.notes]
    counts = {policy: len(found) for policy, found in verdict.by_rule()}
    current = None
    for kind, policy, v, more in findings(verdict):
        if kind == "mandatory" and policy != current:
            current = policy
            lines.append(f"  {policy} ({counts[policy]}):")
        if v is None:
            lines.append(f"       ... and {more} more")
        elif kind == "mandatory":
            mark, base = ("!!", "") if verdict.is_new(v) else ("  ", "  [already on the base]")
            lines.append(f"    {mark} {_where(v)} ({v.type}){_position(v)}: {v.message}{base}")
        elif kind == "advisory":
            lines.append(f"  advisory {policy}: {_where(v)}: {v.message}")
        else:
            reason, approver, expires = _waiver(v)
            lines.append(f"  excepted {policy}: {_where(v)}: {reason} (approved by {approver}, expires {expires})")
    if verdict.exceptions:
        lines.append("  exceptions in force:" if any(not x.expired for x in verdict.exceptions) else "  exceptions:")
        lines += [f"    - {x.describe()}" for x in verdict.exceptions]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def render_markdown(verdict: Verdict) -> list[str]:
    """The verdict as Markdown lines: a headline, then one table of findings, then the exceptions."""
    icon = {"FAIL": "❌", "UNKNOWN": "❔"}.get(verdict.status, "✅")
    lines = [f"**{icon} {verdict.status}** `{verdict.stack}`: {verdict.headline()}", ""]
    lines += [f"> {n}" for n in verdict.notes] + ([""] if verdict.notes else [])
    rows = []
    for kind, policy, v, more in findings(verdict):
        if v is None:
            rows.append(f"| | {policy} | ... | {more} more | |")
        elif kind == "excepted":
            reason, approver, expires = _waiver(v)
            rows.append(
                f"| 🟦 excepted | {policy} | `{_cell(_where(v))}` | {_cell(reason)} "
                f"(approved by {_cell(approver)}, expires {expires}) | |"
            )
        else:
            mark = "❌ mandatory" if kind == "mandatory" else "⚠️ advisory"
            new = ("new" if verdict.is_new(v) else "already on base") if kind == "mandatory" else ""
            rows.append(f"| {mark} | {policy} | `{_cell(_where(v))}` | {_cell(v.message)} | {new} |")
    if rows:
        lines += ["| | policy | resource | message | |", "| --- | --- | --- | --- | --- |", *rows, ""]
    if verdict.exceptions:
        lines.append("Exceptions in the policy config:")
        lines += [f"- {'⛔ ' if x.expired else ''}{_cell(x.describe())}" for x in verdict.exceptions]
        lines.append("")
    return lines


def to_json(verdict: Verdict) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "stack": verdict.stack,
        "status": verdict.status,
        "evaluated": verdict.evaluated,
        "notes": list(verdict.notes),
        "mandatory": len(verdict.mandatory),
        "broughtByChange": len(verdict.brought),
        "violations": [dict(asdict(v), new=verdict.is_new(v)) for v in verdict.violations],
        "exceptions": [asdict(x) for x in verdict.exceptions],
    }
