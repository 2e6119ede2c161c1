"""Per-resource exceptions: a reviewed, expiring waiver of one policy on named resources.

A policy's config block may carry::

    "exceptions": [{"resource": "<URN, name, or fnmatch glob on either>", "reason": "...",
                    "approver": "...", "expires": "YYYY-MM-DD", "ticket": "optional"}]

While the UTC date is on or before ``expires``, a violation of that policy on
a matching resource is suppressed (the engine sees nothing). An expired (or
undated) exception suppresses nothing and is itself a mandatory violation on
each resource it names, so a waiver cannot outlive its review silently.

Offline tooling sees what was suppressed: while ``SUPPRESSED`` holds a list,
every suppressed violation is appended to it as ``(message, urn, exception)``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import wraps
from typing import Any

from pulumi_policy import PolicyConfigSchema

from . import clock
from .site import ACCOUNT_SCHEMA_PROPERTIES

EXCEPTIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Reviewed, expiring waivers of this policy on named resources.",
    "items": {
        "type": "object",
        "properties": {
            "resource": {"type": "string", "minLength": 1, "description": "URN, resource name, or a glob on either."},
            "reason": {"type": "string", "minLength": 1, "description": "Why this resource is safe anyway."},
            "approver": {"type": "string", "minLength": 1, "description": "Who approved it (not the author)."},
            "expires": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": "YYYY-MM-DD."},
            "ticket": {"type": "string"},
        },
        "required": ["resource", "reason", "approver", "expires"],
        "additionalProperties": False,
    },
}

SUPPRESSED: ContextVar[list | None] = ContextVar("residency_suppressed", default=None)
"""When set to a list, suppressed violations are recorded there as ``(message, urn, exception dict)``."""

Report = Callable[..., None]


def config_schema(
    properties: dict[str, Any] | None = None, required: list[str] | None = None, *, accounts: bool = False
) -> PolicyConfigSchema:
    """A policy's config schema: its own keys, ``exceptions``, and the site's accounts when it checks accounts."""
    props: dict[str, Any] = {}
    if accounts:
        props.update(ACCOUNT_SCHEMA_PROPERTIES)
    props.update(properties or {})
    props["exceptions"] = EXCEPTIONS_SCHEMA
    return PolicyConfigSchema(properties=props, required=required or None)


@dataclass(frozen=True, slots=True)
class Waiver:
    resource: str
    reason: str
    approver: str
    expires: str
    ticket: str
    expiry: datetime.date | None
    """The parsed ``expires``; None when it is not a date (such an exception never applies)."""

    def matches(self, urn: str, name: str) -> bool:
        pattern = self.resource
        return pattern in (urn, name) or fnmatchcase(urn, pattern) or fnmatchcase(name, pattern)

    def active(self, today: datetime.date) -> bool:
        return self.expiry is not None and today <= self.expiry

    def as_dict(self) -> dict[str, str]:
        entry = {"resource": self.resource, "reason": self.reason, "approver": self.approver, "expires": self.expires}
        if self.ticket:
            entry["ticket"] = self.ticket
        return entry

    def lapsed_message(self, policy: str) -> str:
        if self.expiry is None:
            return (
                f"exception for {self.resource!r} in '{policy}' has expires {self.expires!r}, which is not a "
                "YYYY-MM-DD date, so it suppresses nothing: fix the date by review"
            )
        return (
            f"exception for {self.resource!r} in '{policy}' expired on {self.expires}, approved by "
            f"{self.approver}: fix the resource or renew the exception by review"
        )


def _parse(entry: Any) -> Waiver | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("resource"), str) or not entry["resource"]:
        return None
    expires = str(entry.get("expires", ""))
    try:
        expiry: datetime.date | None = datetime.date.fromisoformat(expires)
    except ValueError:
        expiry = None
    return Waiver(
        resource=entry["resource"],
        reason=str(entry.get("reason", "")),
        approver=str(entry.get("approver", "")),
        expires=expires,
        ticket=str(entry.get("ticket", "")),
        expiry=expiry,
    )


_PARSED: dict[int, tuple[Any, tuple[Waiver, ...]]] = {}


def exceptions_of(config: Any) -> tuple[Waiver, ...]:
    """The exceptions of one policy config (parsed once per config object)."""
    raw = config.get("exceptions") if hasattr(config, "get") else None
    if not raw:
        return ()
    cached = _PARSED.get(id(raw))
    if cached is not None and cached[0] is raw:
        return cached[1]
    parsed = tuple(e for e in (_parse(x) for x in raw) if e is not None) if isinstance(raw, (list, tuple)) else ()
    if len(_PARSED) > 64:
        _PARSED.clear()
    _PARSED[id(raw)] = (raw, parsed)
    return parsed


def _name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


def _record(message: str, urn: str, exc: Waiver) -> None:
    sink = SUPPRESSED.get()
    if sink is not None:
        sink.append((message, urn, exc.as_dict()))


def _first(exceptions: tuple[Waiver, ...], urn: str, name: str) -> Waiver | None:
    return next((e for e in exceptions if e.matches(urn, name)), None)


def resource_policy(name: str, validate: Callable[[Any, Report], None]) -> Callable[[Any, Report], None]:
    """``validate`` of a resource policy, with the policy's exceptions applied on its resource."""

    @wraps(validate)
    def run(args: Any, report_violation: Report) -> None:
        config = args.get_config()
        if not config.get("exceptions"):
            return validate(args, report_violation)  # the common case, kept cheap: it runs per resource and policy
        match = _first(exceptions_of(config), args.urn, args.name)
        if match is None:
            return validate(args, report_violation)
        if not match.active(clock.today()):
            report_violation(match.lapsed_message(name))
            return validate(args, report_violation)

        def suppressed(message: str, urn: str | None = None) -> None:
            _record(message, args.urn, match)

        return validate(args, suppressed)

    return run


def stack_policy(name: str, validate: Callable[[Any, Report], None]) -> Callable[[Any, Report], None]:
    """``validate`` of a stack policy, with the policy's exceptions applied on the resources it reports."""

    @wraps(validate)
    def run(args: Any, report_violation: Report) -> None:
        exceptions = exceptions_of(args.get_config())
        if not exceptions:
            return validate(args, report_violation)
        today = clock.today()
        for res in args.resources:
            match = _first(exceptions, res.urn, res.name)
            if match is not None and not match.active(today):
                report_violation(match.lapsed_message(name), res.urn)

        def report(message: str, urn: str | None = None) -> None:
            match = _first(exceptions, urn, _name_of(urn)) if urn else None
            if match is not None and match.active(today):
                _record(message, urn, match)
            else:
                report_violation(message, urn)

        return validate(args, report)

    return run
