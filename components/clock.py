"""The one clock the program and the tooling read: UTC now, or a fixed instant from ``ENCLAVE_NOW``.

Grants expire by the clock: the program drops an expired grant from the
trust and the export bucket, and the tools report it. Tests and previews
fix the instant with ``ENCLAVE_NOW`` (RFC 3339, UTC) so the same config
always gives the same documents. The clock only decides what the program
*writes*; every grant statement also carries its window as an
``aws:CurrentTime`` condition, so AWS refuses an expired grant whatever
clock the deployment ran with.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

ENV = "ENCLAVE_NOW"
"""Environment variable that fixes the clock (tests, reproducible previews)."""

_RFC3339_UTC = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:Z|\+00:00)$")

RFC3339_UTC_FORM = "an RFC 3339 UTC timestamp like 2026-05-04T08:00:00Z (Z or +00:00, no fractions)"
"""How a timestamp must look, for messages."""


def parse_utc(value: object) -> datetime:
    """``2026-05-04T08:00:00Z`` (or ``+00:00``) as an aware UTC datetime; ``ValueError`` for anything else."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    m = _RFC3339_UTC.match(value)
    if not m:
        raise ValueError(f"{value!r} is not {RFC3339_UTC_FORM}")
    try:
        return datetime(*(int(part) for part in m.groups()), tzinfo=UTC)
    except ValueError as exc:  # e.g. 2026-02-30
        raise ValueError(f"{value!r} is not a valid date and time ({exc})") from None


def format_utc(moment: datetime) -> str:
    """The RFC 3339 form IAM's date conditions and the stack outputs use: ``2026-05-04T08:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime:
    """UTC now, or the instant ``ENCLAVE_NOW`` fixes; ``ValueError`` naming the variable if it is malformed."""
    fixed = os.environ.get(ENV)
    if fixed:
        try:
            return parse_utc(fixed)
        except ValueError as exc:
            raise ValueError(f"{ENV}: {exc}; unset it to use the real clock") from None
    return datetime.now(UTC).replace(microsecond=0)
