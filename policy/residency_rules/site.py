"""The site a policy checks against: its region and accounts, read once from the policy config.

Every perimeter rule asks the same questions (is this the site's region, is
this one of the site's accounts), so the answers come from one place. An
account is the site's when it is the data, operator or auditor account, or
one the policy config trusts (``trustedAccounts``: an account id, a reason,
and optionally the resources the trust is limited to).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

ACCOUNT_KEYS = ("dataAccountId", "operatorAccountId", "auditorAccountId")

ACCOUNT_ID = {"type": "string", "pattern": "^[0-9]{12}$"}

TRUSTED_ACCOUNTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Accounts outside the site that this policy admits, each with a reason; "
    "'resources' (URN or name globs) limits the trust to those resources.",
    "items": {
        "type": "object",
        "properties": {
            "accountId": ACCOUNT_ID,
            "reason": {"type": "string", "minLength": 1},
            "resources": {"type": "array", "items": {"type": "string", "minLength": 1}},
        },
        "required": ["accountId", "reason"],
        "additionalProperties": False,
    },
}
"""The ``trustedAccounts`` entry of a policy config schema (COORDINATION.md section 2)."""

ACCOUNT_SCHEMA_PROPERTIES: dict[str, Any] = {
    "allowedRegion": {"type": "string", "description": "The site's one AWS region."},
    "dataAccountId": {**ACCOUNT_ID, "description": "Account holding the site's data."},
    "operatorAccountId": {**ACCOUNT_ID, "description": "The key operator's account."},
    "auditorAccountId": {**ACCOUNT_ID, "description": "The independent auditor's account."},
    "trustedAccounts": TRUSTED_ACCOUNTS_SCHEMA,
}


@dataclass(frozen=True, slots=True)
class Trust:
    account: str
    reason: str
    resources: tuple[str, ...]

    def covers(self, urn: str, name: str) -> bool:
        if not self.resources:
            return True
        return any(fnmatchcase(urn, g) or fnmatchcase(name, g) for g in self.resources)


@dataclass(frozen=True, slots=True)
class Site:
    """The site's region and accounts (hashable: per-string scan results are cached per site)."""

    region: str | None
    data: str | None
    operator: str | None
    auditor: str | None
    trusted: tuple[Trust, ...] = ()

    @property
    def accounts(self) -> frozenset[str]:
        """The site's own accounts (data, operator, auditor)."""
        return frozenset(a for a in (self.data, self.operator, self.auditor) if a)

    @property
    def trusted_anywhere(self) -> frozenset[str]:
        """Accounts trusted for every resource (no ``resources`` limit)."""
        return frozenset(t.account for t in self.trusted if not t.resources)

    @property
    def known(self) -> frozenset[str]:
        """Every account named in the config: the site's and every trusted one (limited or not)."""
        return self.accounts | {t.account for t in self.trusted}

    def admits(self, account: str, urn: str = "", name: str = "") -> bool:
        """True when ``account`` is the site's, or trusted for this resource."""
        if account in self.accounts:
            return True
        return any(t.account == account and t.covers(urn, name) for t in self.trusted)

    def describe_accounts(self) -> str:
        parts = [f"data {self.data}", f"operator {self.operator}"]
        if self.auditor:
            parts.append(f"auditor {self.auditor}")
        parts += [f"trusted {t.account}" for t in self.trusted]
        return ", ".join(parts)


def _text(config: Any, key: str) -> str | None:
    value = config.get(key)
    return value if isinstance(value, str) and value else None


def _trusts(value: Any) -> tuple[Trust, ...]:
    if not isinstance(value, (list, tuple)):
        return ()
    out = []
    for entry in value:
        if isinstance(entry, dict) and isinstance(entry.get("accountId"), str):
            resources = entry.get("resources") or ()
            globs = tuple(g for g in resources if isinstance(g, str)) if isinstance(resources, (list, tuple)) else ()
            out.append(Trust(entry["accountId"], str(entry.get("reason", "")), globs))
    return tuple(out)


_SITES: dict[int, tuple[Any, Site]] = {}


def site_of(args: Any) -> Site:
    """The site described by a policy's config (parsed once per config object)."""
    config = args.get_config()
    cached = _SITES.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    site = Site(
        region=_text(config, "allowedRegion"),
        data=_text(config, "dataAccountId"),
        operator=_text(config, "operatorAccountId"),
        auditor=_text(config, "auditorAccountId"),
        trusted=_trusts(config.get("trustedAccounts")),
    )
    if len(_SITES) > 64:
        _SITES.clear()
    _SITES[id(config)] = (config, site)
    return site
