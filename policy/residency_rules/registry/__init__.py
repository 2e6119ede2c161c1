"""The registry of reviewed resource types: the pack admits only what is listed here.

Every pulumi-aws type a site program may use is an entry, one line each, in
the module of its service family, saying why it is residency-safe or which
rule checks it:

- ``safe(reason)``: reviewed; it holds no data outside the site and opens no
  way out by itself. The perimeter scans (accounts, regions, endpoints,
  buckets in every input) still apply to it, as to every resource.
- ``checked(reason, *rules)``: reviewed; whether an instance is residency-safe
  depends on its inputs, and the named rules decide.
- ``forbidden(reason, rule)``: reviewed and refused: no configuration of it
  keeps data in the site; ``rule`` reports it.

A type that is not listed is *unreviewed*, and ``reviewed-types`` refuses it
with the way to get it reviewed (docs/policy-pack.md, "Reviewing a new type").
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import names

SAFE, CHECKED, FORBIDDEN = "safe", "checked", "forbidden"


@dataclass(frozen=True, slots=True)
class Entry:
    status: str
    reason: str
    rules: tuple[str, ...] = ()


def safe(reason: str) -> Entry:
    return Entry(SAFE, reason)


def checked(reason: str, *rules: str) -> Entry:
    if not rules:
        raise ValueError(f"checked({reason!r}) names no rule")
    return Entry(CHECKED, reason, rules)


def forbidden(reason: str, rule: str) -> Entry:
    return Entry(FORBIDDEN, reason, (rule,))


# Imported after the helpers: each family module builds its entries with them.
from . import (  # noqa: E402
    analytics,
    compute,
    containers,
    databases,
    edge,
    identity,
    management,
    messaging,
    ml,
    monitoring,
    networking,
    storage,
)

FAMILIES = (
    storage,
    databases,
    messaging,
    compute,
    containers,
    analytics,
    ml,
    identity,
    monitoring,
    networking,
    management,
    edge,
)


def _merge() -> dict[str, Entry]:
    merged: dict[str, Entry] = {}
    for family in FAMILIES:
        for typ, entry in family.TYPES.items():
            if typ in merged:
                raise ValueError(f"{typ} is registered twice (again in {family.__name__})")
            for rule in entry.rules:
                if rule not in names.ALL:
                    raise ValueError(f"{typ}: no rule named {rule!r}")
            merged[typ] = entry
    return merged


REGISTRY: dict[str, Entry] = _merge()


def forbidden_by(rule: str) -> dict[str, str]:
    """Type -> reason, for every type the registry forbids under ``rule``."""
    return {t: e.reason for t, e in REGISTRY.items() if e.status == FORBIDDEN and e.rules == (rule,)}
