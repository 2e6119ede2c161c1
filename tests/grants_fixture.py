"""Stack configs with grants, judged at one fixed instant: what the grant tests (and the access matrix) start from."""

from __future__ import annotations

import json
from typing import Any

from components.clock import parse_utc
from components.config import PROJECT, SiteConfig, site_config_from_mapping
from tests.conftest import stack_config

AT = parse_utc("2026-05-04T09:00:00Z")
"""The fixed clock of every grant test: a Monday morning."""

DOMAIN = "platform.example"
RECIPIENT = "999999999999"
"""A research partner's account, outside both sites."""

STAFF = {
    "dublin": "arn:aws:iam::111111111111:role/trust-and-safety-oncall",
    "hamar": "arn:aws:iam::444444444444:role/trust-and-safety-oncall",
}


def k(name: str) -> str:
    return f"{PROJECT}:{name}"


def staff_grant(stack: str = "dublin", **changes: Any) -> dict[str, Any]:
    """A valid staff grant of ``stack`` in force at ``AT`` (08:00-16:00), with ``changes`` applied (None removes)."""
    grant = {
        "principal": STAFF[stack],
        "ticket": "PRIV-1234",
        "approver": f"dana.lead@{DOMAIN}",
        "reason": "Investigate abuse report 5521 on a user's uploads",
        "notBefore": "2026-05-04T08:00:00Z",
        "notAfter": "2026-05-04T16:00:00Z",
    }
    return _apply(grant, changes)


def transfer_grant(**changes: Any) -> dict[str, Any]:
    """A valid transfer grant in force at ``AT`` (a 30-day window), with ``changes`` applied (None removes)."""
    grant = {
        "recipientAccountId": RECIPIENT,
        "prefix": "exports/acme-research/",
        "legalBasis": "SCC",
        "approver": f"erik.dpo@{DOMAIN}",
        "ticket": "XFER-77",
        "notBefore": "2026-05-01T00:00:00Z",
        "notAfter": "2026-05-31T00:00:00Z",
        "reason": "Pseudonymised watch histories for the recommender study",
    }
    return _apply(grant, changes)


def _apply(grant: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if value is None:
            grant.pop(key, None)
        else:
            grant[key] = value
    return grant


def values_with(stack: str = "dublin", staff: list | None = None, transfers: list | None = None, **keys: Any) -> dict:
    """The flat config the CLI would pass for ``stack`` with these grants (JSON-encoded, as the CLI does)."""
    values = stack_config(stack)
    values[k("platformApproverDomains")] = json.dumps([DOMAIN])
    if staff is not None:
        values[k("staffAccessGrants")] = json.dumps(staff)
    if transfers is not None:
        values[k("transferGrants")] = json.dumps(transfers)
    for key, value in keys.items():
        values[k(key)] = value
    return values


def config_with(
    stack: str = "dublin", staff: list | None = None, transfers: list | None = None, **keys: Any
) -> SiteConfig:
    """``values_with`` validated at ``AT``."""
    return site_config_from_mapping(values_with(stack, staff, transfers, **keys), now=AT)
