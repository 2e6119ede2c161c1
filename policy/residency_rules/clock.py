"""The pack's one clock: exceptions expire by it (tests patch ``today``)."""

from __future__ import annotations

import datetime


def today() -> datetime.date:
    """Today's date in UTC: an exception whose ``expires`` is before it has expired."""
    return datetime.datetime.now(datetime.UTC).date()
