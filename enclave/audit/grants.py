"""The grants in force, as the live documents carry them: what the report lists beside the checks.

A grant is a staff grant's statement in the staff-access role's trust policy, or
a transfer grant's read statement in the export bucket's policy
(``components.grants.staff_grants_in_trust_policy``, ``transfer_grants_in_policy``).
Each is listed with who (the staff principal, or the recipient account), its
ticket, prefix and window, and its state at the audit's clock: in force (and the
time left), not yet in force, or **expired but still in the document**. The
last is flagged, not failed: AWS enforces the window written into every
statement, so the statement is inert; the next ``pulumi up`` drops it. A grant
the config declares in force but no document carries is listed as not
deployed. Statements no declared grant explains fail the policy checks
(``s3-policy-site-only``, ``iam-role-trust-site-only``) and are listed here as
undeclared.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from components.clock import format_utc, parse_utc

IN_FORCE, NOT_YET, EXPIRED, NOT_DEPLOYED = "in force", "not yet in force", "expired", "not deployed"


def observe(audit: Any, kind: str, document_arn: str, document: Any) -> None:
    """Record the grants ``document`` (the staff trust or the export bucket policy) carries."""
    from components.grants import staff_grants_in_trust_policy, transfer_grants_in_policy

    read = staff_grants_in_trust_policy if kind == "staff" else transfer_grants_in_policy
    for grant in read(document):
        audit.observed_grants.append((kind, document_arn, grant))


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours or minutes else "under a minute"


def _state(now: datetime, not_before: str, not_after: str) -> tuple[str, str]:
    start, end = parse_utc(not_before), parse_utc(not_after)
    if now > end:
        return EXPIRED, f"expired {_span(now - end)} ago"
    if now < start:
        return NOT_YET, f"starts in {_span(start - now)}"
    return IN_FORCE, f"{_span(end - now)} left"


def _declared(cfg: Any, kind: str, grant: Any) -> Any | None:
    if kind == "staff":
        return next(
            (g for g in cfg.staff_access_grants if (g.principal, g.ticket) == (grant.principal, grant.ticket)), None
        )
    return next(
        (
            g
            for g in cfg.transfer_grants
            if f"arn:aws:iam::{g.recipient_account_id}:root" == grant.principal and g.prefix == grant.prefix
        ),
        None,
    )


def listing(audit: Any) -> list[dict[str, Any]]:
    """Every grant the live documents carry, and every declared grant in force that none carries, sorted."""
    cfg, now = audit.cfg, audit.now
    out = []
    seen = set()
    for kind, document, grant in audit.observed_grants:
        declared = _declared(cfg, kind, grant)
        state, when = _state(now, grant.not_before, grant.not_after)
        ticket = grant.ticket or (declared.ticket if declared else "")
        if declared is not None:
            seen.add((kind, declared.ticket))
        note = ""
        if state == EXPIRED:
            note = "still in the document: inert (AWS enforces its window), the next pulumi up drops it"
        if declared is None:
            note = "no declared grant explains it (see the policy checks)"
        out.append(
            {
                "kind": kind,
                "ticket": ticket,
                "principal": grant.principal,
                "prefix": grant.prefix,
                "not_before": grant.not_before,
                "not_after": grant.not_after,
                "state": state,
                "when": when,
                "declared": declared is not None,
                "document": document,
                "sid": grant.sid,
                "note": note,
            }
        )
    for kind, grants in (("staff", cfg.staff_access_grants), ("transfer", cfg.transfer_grants)):
        for g in grants:
            if (kind, g.ticket) in seen or now > g.not_after:
                continue
            principal = g.principal if kind == "staff" else f"arn:aws:iam::{g.recipient_account_id}:root"
            out.append(
                {
                    "kind": kind,
                    "ticket": g.ticket,
                    "principal": principal,
                    "prefix": getattr(g, "prefix", ""),
                    "not_before": format_utc(g.not_before),
                    "not_after": format_utc(g.not_after),
                    "state": NOT_DEPLOYED,
                    "when": "declared, but no live document carries it (run pulumi up)",
                    "declared": True,
                    "document": "",
                    "sid": g.sid,
                    "note": "",
                }
            )
    return sorted(out, key=lambda g: (g["kind"], g["ticket"], g["principal"], g["not_before"]))


def line(grant: dict[str, Any]) -> str:
    """One grant as a sentence: the text report's line and the Markdown table's summary."""
    who = grant["principal"]
    if grant["kind"] == "transfer":
        who = f"account {who.split(':')[4]} under {grant['prefix']}" if who.count(":") >= 4 else who
    flag = {EXPIRED: "EXPIRED", NOT_DEPLOYED: "NOT DEPLOYED"}.get(grant["state"], grant["state"])
    text = (
        f"{grant['kind']} grant {grant['ticket'] or grant['sid']} for {who}, {grant['not_before']} to "
        f"{grant['not_after']}: {flag} ({grant['when']})"
    )
    return f"{text}; {grant['note']}" if grant["note"] else text
