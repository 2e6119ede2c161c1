"""Reviewed, time-boxed grants: staff access to user data and transfers of pseudonymised exports.

Nothing is standing. The staff-access role trusts nobody and the export
bucket admits nobody outside the site until a grant says so. A grant is an
entry of stack config (``staffAccessGrants``, ``transferGrants``) that a pull
request adds and someone else approves, and it expires by itself: its window
is written into every statement it creates as an ``aws:CurrentTime``
condition, and the program drops it from the documents once it has expired.

This module validates grants (``components/config.py`` calls it), builds the
per-grant statements, and reads grants back out of policy documents, so the
reviewers' diff and the live audit can list the grants a document carries and
flag any access that no declared grant explains (see docs/grants.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from components.clock import RFC3339_UTC_FORM, format_utc, parse_utc
from components.config import ACCESS_TICKET_TAG, STAFF_SESSION_SECONDS

if TYPE_CHECKING:
    from components.config import SiteConfig

PSEUDONYMISED_TAG = "enclave:pseudonymised"
"""Object tag the pseudonymisation step sets on every export (value ``true``); recipients read nothing else."""

GRANT_TAG = "enclave:grant"
"""Object tag naming the transfer grant (its ticket) an export was written for."""

TICKET_RE = re.compile(r"^[A-Z][A-Z0-9]{1,15}-[1-9][0-9]{0,9}$")
TICKET_FORM = "a ticket id like PRIV-1234 (an upper-case project key, a dash, a number)"

EMAIL_RE = re.compile(
    r"^([a-z0-9][a-z0-9._%+-]{0,63})@([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9-]{1,63})+)$", re.IGNORECASE
)
PREFIX_RE = re.compile(r"^exports/[a-z0-9][a-z0-9-]{0,62}/$")
PREFIX_FORM = "a prefix like exports/acme-research/ (exports/, a lower-case name, a trailing slash)"
ACCOUNT_RE = re.compile(r"^\d{12}$")
PRINCIPAL_RE = re.compile(r"^arn:aws:iam::(\d{12}):(role|user)/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,128})$")

LEGAL_BASES = {
    "adequacy": "an adequacy decision for the recipient's country (GDPR Art. 45)",
    "SCC": "standard contractual clauses (GDPR Art. 46(2)(c))",
    "BCR": "binding corporate rules (GDPR Art. 47)",
    "art49": "a derogation for a specific situation (GDPR Art. 49)",
}
"""The GDPR Chapter V bases a transfer may rest on."""

STAFF_HOURS_LIMITS = (1, 12)
"""``staffAccessMaxHours`` may be set from one hour (one session) to twelve (the longest shift)."""

TRANSFER_DAYS_LIMITS = (1, 90)
"""``transferMaxDays`` may be set from one day to a quarter; longer is a standing transfer."""

MAX_STAFF_GRANTS_IN_FORCE = 10
"""At most this many staff grants at once: the staff role's inline policy (two statements per grant) stays
well under IAM's 10,240-character limit for a role's inline policies."""

MAX_TRANSFER_GRANTS_IN_FORCE = 10
"""At most this many transfer grants at once: the export bucket policy (20 KB) and key policy (32 KB) stay under their limits."""

VERSION = "2012-10-17"


# --------------------------------------------------------------------------- the grants


def _alnum(ticket: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", ticket)


def window_condition(not_before: datetime, not_after: datetime) -> dict[str, dict[str, str]]:
    """``aws:CurrentTime`` inside the window, both ends included: how every grant statement expires by itself."""
    return {
        "DateGreaterThanEquals": {"aws:CurrentTime": format_utc(not_before)},
        "DateLessThanEquals": {"aws:CurrentTime": format_utc(not_after)},
    }


@dataclass(frozen=True)
class StaffAccessGrant:
    """One reviewed, time-boxed permission for one staff principal to assume the staff-access role."""

    principal: str
    """The staff principal (one of ``staffPrincipals``) that may assume the role."""
    ticket: str
    """The ticket that justifies the access; the session must carry exactly it as its ``access-ticket`` tag."""
    approver: str
    """Email of the platform person who approved it (never the principal)."""
    reason: str
    """Why the access is needed, in a sentence."""
    not_before: datetime
    not_after: datetime

    @property
    def sid(self) -> str:
        """Statement id of the grant's trust statement (``Grant`` + the ticket's letters and digits)."""
        return f"Grant{_alnum(self.ticket)}"

    def in_force(self, at: datetime) -> bool:
        """Not yet expired at ``at`` (a grant whose window has not begun is in force: its condition waits)."""
        return at <= self.not_after

    def as_config(self) -> dict[str, str]:
        """The grant as its stack-config entry (timestamps in the ``Z`` form)."""
        return {
            "principal": self.principal,
            "ticket": self.ticket,
            "approver": self.approver,
            "reason": self.reason,
            "notBefore": format_utc(self.not_before),
            "notAfter": format_utc(self.not_after),
        }


@dataclass(frozen=True)
class TransferGrant:
    """One reviewed, time-boxed transfer: a recipient outside the site may read one prefix of the export bucket."""

    recipient_account_id: str
    """The recipient's AWS account (never one of the site's)."""
    prefix: str
    """The export prefix it may read, ``exports/<name>/``."""
    legal_basis: str
    """The GDPR Chapter V basis: ``adequacy``, ``SCC``, ``BCR`` or ``art49``."""
    approver: str
    """Email of the platform person who approved it (a platform domain; not the recipient's)."""
    ticket: str
    not_before: datetime
    not_after: datetime
    reason: str = ""
    """What is transferred and why (optional)."""

    @property
    def sid(self) -> str:
        """Prefix of the statement ids the grant creates (``Transfer`` + the ticket's letters and digits)."""
        return f"Transfer{_alnum(self.ticket)}"

    def in_force(self, at: datetime) -> bool:
        return at <= self.not_after

    def as_config(self) -> dict[str, str]:
        entry = {
            "recipientAccountId": self.recipient_account_id,
            "prefix": self.prefix,
            "legalBasis": self.legal_basis,
            "approver": self.approver,
            "ticket": self.ticket,
            "notBefore": format_utc(self.not_before),
            "notAfter": format_utc(self.not_after),
        }
        if self.reason:
            entry["reason"] = self.reason
        return entry


def in_force(grants: Iterable[Any], at: datetime) -> tuple[Any, ...]:
    """The grants not yet expired at ``at`` (future ones included), in config order."""
    return tuple(g for g in grants if g.in_force(at))


def expired(grants: Iterable[Any], at: datetime) -> tuple[Any, ...]:
    """The grants whose window ended before ``at``: dropped from every document, reported."""
    return tuple(g for g in grants if not g.in_force(at))


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Field:
    name: str
    expected: str
    check: Callable[[str], bool] = lambda value: bool(value.strip())
    required: bool = True


_STAFF_FIELDS = (
    _Field("principal", "one of eu-data-enclave:staffPrincipals", lambda v: bool(PRINCIPAL_RE.match(v))),
    _Field("ticket", TICKET_FORM, lambda v: bool(TICKET_RE.match(v))),
    _Field("approver", "the approver's email at the platform, e.g. dana@platform.example", lambda v: bool(_email(v))),
    _Field("reason", "a sentence saying why the access is needed", lambda v: 10 <= len(v.strip()) <= 500),
    _Field("notBefore", RFC3339_UTC_FORM, lambda v: _is_time(v)),
    _Field("notAfter", RFC3339_UTC_FORM, lambda v: _is_time(v)),
)

_TRANSFER_FIELDS = (
    _Field(
        "recipientAccountId", "the recipient's 12-digit AWS account id, quoted", lambda v: bool(ACCOUNT_RE.match(v))
    ),
    _Field("prefix", PREFIX_FORM, lambda v: bool(PREFIX_RE.match(v))),
    _Field("legalBasis", f"one of {', '.join(LEGAL_BASES)} (the GDPR Chapter V bases)", lambda v: v in LEGAL_BASES),
    _Field("approver", "the approver's email at the platform, e.g. dana@platform.example", lambda v: bool(_email(v))),
    _Field("ticket", TICKET_FORM, lambda v: bool(TICKET_RE.match(v))),
    _Field("notBefore", RFC3339_UTC_FORM, lambda v: _is_time(v)),
    _Field("notAfter", RFC3339_UTC_FORM, lambda v: _is_time(v)),
    _Field("reason", "a sentence saying what is transferred and why", lambda v: len(v) <= 500, required=False),
)


def _email(value: str) -> re.Match[str] | None:
    return EMAIL_RE.match(value)


def _is_time(value: str) -> bool:
    try:
        parse_utc(value)
    except ValueError:
        return False
    return True


def _decode_entries(key: str, raw: Any, problems: list[str]) -> list[Any]:
    """The grant list: a YAML list of mappings (the CLI passes it JSON-encoded)."""
    if raw is None or raw == "":
        return []
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, list):
        problems.append(f"{key}: {raw!r} is not a YAML list of grant mappings; see docs/grants.md for the form")
        return []
    return value


def _entry_fields(key: str, index: int, entry: Any, fields: Sequence[_Field], problems: list[str]) -> dict | None:
    """One entry's fields, each checked; ``None`` (with problems added) when any is missing or malformed."""
    where = f"{key}[{index}]"
    if not isinstance(entry, dict):
        problems.append(f"{where}: {entry!r} is not a mapping of {', '.join(f.name for f in fields)}")
        return None
    ok = True
    known = [f.name for f in fields]
    for name in sorted(set(entry) - set(known)):
        problems.append(f"{where}.{name}: unknown field (value {entry[name]!r}); the fields are {', '.join(known)}")
        ok = False
    for spec in fields:
        value = entry.get(spec.name)
        if value is None:
            if spec.required:
                problems.append(f"{where}.{spec.name}: missing; expected {spec.expected}")
                ok = False
            continue
        if not isinstance(value, str) or not spec.check(value):
            problems.append(f"{where}.{spec.name}: {value!r} is invalid; expected {spec.expected}")
            ok = False
    return dict(entry) if ok else None


def _window(
    where: str, entry: dict, longest: timedelta, longest_text: str, problems: list[str]
) -> tuple[datetime, datetime] | None:
    start, end = parse_utc(entry["notBefore"]), parse_utc(entry["notAfter"])
    if end <= start:
        problems.append(
            f"{where}.notAfter: {entry['notAfter']!r} is not after notBefore {entry['notBefore']!r}; "
            "expected the end of the window after its start"
        )
        return None
    if end - start > longest:
        problems.append(
            f"{where}.notAfter: the window {entry['notBefore']} to {entry['notAfter']} is {_span(end - start)}; "
            f"expected at most {longest_text}: ask for a shorter window, and a new grant when it ends"
        )
        return None
    return start, end


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"


def _person(email: str) -> str:
    """The person an email names: its local part without a ``+tag``, separators dropped."""
    local = email.split("@", 1)[0].split("+", 1)[0]
    return re.sub(r"[._-]", "", local.lower())


def same_person(approver: str, principal: str) -> bool:
    """Whether an approver's email names the staff principal itself (the IAM user or role name, or its email)."""
    m = PRINCIPAL_RE.match(principal)
    if not m:
        return False
    name = m.group(3).lower()
    if "@" in name:  # IAM user names may be emails
        return _person(name) == _person(approver) and name.split("@")[1] == approver.lower().split("@")[1]
    return re.sub(r"[._-]", "", name) == _person(approver)


def _approver_domain_problem(where: str, approver: str, domains: Sequence[str], domains_key: str) -> str | None:
    m = _email(approver)
    if m and domains and m.group(2).lower() not in domains:
        return (
            f"{where}.approver: {approver!r} is not a person of the platform; expected an email in "
            f"{domains_key} ({', '.join(domains)}): the approver works for the platform, never for the recipient"
        )
    return None


def _unique_tickets(key: str, grants: Sequence[Any], problems: list[str]) -> None:
    seen: dict[str, int] = {}
    sids: dict[str, int] = {}
    for i, grant in enumerate(grants):
        if grant.ticket in seen:
            problems.append(
                f"{key}[{i}].ticket: {grant.ticket!r} is already the ticket of {key}[{seen[grant.ticket]}]; "
                "expected one grant per ticket"
            )
        elif grant.sid in sids:
            problems.append(
                f"{key}[{i}].ticket: {grant.ticket!r} gives the same statement id {grant.sid} as "
                f"{key}[{sids[grant.sid]}]; expected tickets that differ in more than their dashes"
            )
        seen.setdefault(grant.ticket, i)
        sids.setdefault(grant.sid, i)


def _too_many(key: str, grants: Sequence[Any], at: datetime, limit: int, problems: list[str]) -> None:
    live = in_force(grants, at)
    if len(live) > limit:
        problems.append(
            f"{key}: {len(live)} grants are in force at {format_utc(at)}; expected at most {limit} at once "
            "(the policy documents they become must stay under AWS's size limits): drop or end some"
        )


def parse_staff_grants(
    key: str,
    raw: Any,
    *,
    staff_principals: Sequence[str],
    max_hours: int,
    approver_domains: Sequence[str],
    domains_key: str,
    at: datetime,
    problems: list[str],
) -> tuple[StaffAccessGrant, ...]:
    """Validate ``staffAccessGrants``; every problem names ``key[i].field``, the value and the expected form."""
    grants: list[StaffAccessGrant] = []
    for i, entry in enumerate(_decode_entries(key, raw, problems)):
        where = f"{key}[{i}]"
        fields = _entry_fields(key, i, entry, _STAFF_FIELDS, problems)
        if fields is None:
            continue
        ok = True
        if fields["principal"] not in staff_principals:
            problems.append(
                f"{where}.principal: {fields['principal']!r} is not one of {key.rsplit(':', 1)[0]}:staffPrincipals "
                f"({', '.join(staff_principals)}); expected an approved staff principal"
            )
            ok = False
        if same_person(fields["approver"], fields["principal"]):
            problems.append(
                f"{where}.approver: {fields['approver']!r} names the principal {fields['principal']!r} itself; "
                "expected someone else: a grant is approved by another person"
            )
            ok = False
        domain = _approver_domain_problem(where, fields["approver"], approver_domains, domains_key)
        if domain:
            problems.append(domain)
            ok = False
        window = _window(
            where, fields, timedelta(hours=max_hours), f"{max_hours} hours (staffAccessMaxHours)", problems
        )
        if window and ok:
            grants.append(
                StaffAccessGrant(
                    principal=fields["principal"],
                    ticket=fields["ticket"],
                    approver=fields["approver"],
                    reason=fields["reason"].strip(),
                    not_before=window[0],
                    not_after=window[1],
                )
            )
    _unique_tickets(key, grants, problems)
    _too_many(key, grants, at, MAX_STAFF_GRANTS_IN_FORCE, problems)
    return tuple(grants)


def parse_transfer_grants(
    key: str,
    raw: Any,
    *,
    site_accounts: Mapping[str, str],
    max_days: int,
    approver_domains: Sequence[str],
    domains_key: str,
    at: datetime,
    problems: list[str],
) -> tuple[TransferGrant, ...]:
    """Validate ``transferGrants``; ``site_accounts`` maps each site account's config key to its id."""
    grants: list[TransferGrant] = []
    owners: dict[str, tuple[str, int]] = {}
    for i, entry in enumerate(_decode_entries(key, raw, problems)):
        where = f"{key}[{i}]"
        fields = _entry_fields(key, i, entry, _TRANSFER_FIELDS, problems)
        if fields is None:
            continue
        ok = True
        recipient = fields["recipientAccountId"]
        for account_key, account in site_accounts.items():
            if recipient == account:
                problems.append(
                    f"{where}.recipientAccountId: {recipient!r} is the site's own {account_key}; expected the "
                    "account of the recipient outside the site (inside the site, data needs no transfer grant)"
                )
                ok = False
        prefix = fields["prefix"]
        owner = owners.get(prefix)
        if owner and owner[0] != recipient:
            problems.append(
                f"{where}.prefix: {prefix!r} is already granted to {owner[0]} by {key}[{owner[1]}]; "
                "expected a prefix of the recipient's own, so no recipient reads another's exports"
            )
            ok = False
        owners.setdefault(prefix, (recipient, i))
        domain = _approver_domain_problem(where, fields["approver"], approver_domains, domains_key)
        if domain:
            problems.append(domain)
            ok = False
        window = _window(where, fields, timedelta(days=max_days), f"{max_days} days (transferMaxDays)", problems)
        if window and ok:
            grants.append(
                TransferGrant(
                    recipient_account_id=recipient,
                    prefix=prefix,
                    legal_basis=fields["legalBasis"],
                    approver=fields["approver"],
                    ticket=fields["ticket"],
                    not_before=window[0],
                    not_after=window[1],
                    reason=(fields.get("reason") or "").strip(),
                )
            )
    _unique_tickets(key, grants, problems)
    _too_many(key, grants, at, MAX_TRANSFER_GRANTS_IN_FORCE, problems)
    return tuple(grants)


# --------------------------------------------------------------------------- the statements


def policy_chars(document: dict[str, Any]) -> int:
    """Characters IAM counts against its size quotas: the JSON without white space."""
    return len(json.dumps(document, separators=(",", ":")))


NO_STANDING_ACCESS = {
    "Sid": "NoStandingAccess",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": ["sts:AssumeRole", "sts:TagSession"],
}
"""The staff-access role's only trust statement while no grant is in force: nobody may assume it."""


def staff_trust_statement(grant: StaffAccessGrant, region: str) -> dict[str, Any]:
    """The trust statement a staff grant becomes: its principal, its exact ticket, fresh MFA, its window."""
    return {
        "Sid": grant.sid,
        "Effect": "Allow",
        "Principal": {"AWS": grant.principal},
        # sts:TagSession in the same statement: the ticket tag is passed at
        # AssumeRole time, and both actions are authorised on the same conditions.
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {
            "Bool": {"aws:MultiFactorAuthPresent": "true"},
            "NumericLessThanEquals": {"aws:MultiFactorAuthAge": str(STAFF_SESSION_SECONDS)},
            # Only through the site's regional STS endpoint, so the AssumeRole event
            # with the ticket lands in the site's single-region trail; and exactly
            # this grant's ticket as the session's tag.
            "StringEquals": {f"aws:RequestTag/{ACCESS_TICKET_TAG}": grant.ticket, "aws:RequestedRegion": region},
            # The ticket is the only tag a session may set.
            "ForAllValues:StringEquals": {"aws:TagKeys": [ACCESS_TICKET_TAG]},
            **window_condition(grant.not_before, grant.not_after),
        },
    }


def staff_trust_policy(grants: Sequence[StaffAccessGrant], region: str) -> dict[str, Any]:
    """The staff-access role's trust: one statement per grant, or nobody at all."""
    statements = [staff_trust_statement(g, region) for g in grants] or [dict(NO_STANDING_ACCESS)]
    return {"Version": VERSION, "Statement": statements}


def ticket_window_condition(grant: StaffAccessGrant) -> dict[str, dict[str, str]]:
    """A staff session's requests: the session carries this grant's ticket and the grant's window holds now."""
    return {
        "StringEquals": {f"aws:PrincipalTag/{ACCESS_TICKET_TAG}": grant.ticket},
        **window_condition(grant.not_before, grant.not_after),
    }


def recipient_root(grant: TransferGrant) -> str:
    return f"arn:aws:iam::{grant.recipient_account_id}:root"


def transfer_bucket_statements(grant: TransferGrant, bucket_arn: str) -> list[dict[str, Any]]:
    """What a transfer grant opens in the export bucket: reads of pseudonymised objects under its prefix, and listing it."""
    window = window_condition(grant.not_before, grant.not_after)
    return [
        {
            "Sid": f"{grant.sid}Reads",
            "Effect": "Allow",
            "Principal": {"AWS": recipient_root(grant)},
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{grant.prefix}*",
            "Condition": {"StringEquals": {f"s3:ExistingObjectTag/{PSEUDONYMISED_TAG}": "true"}, **window},
        },
        {
            "Sid": f"{grant.sid}Lists",
            "Effect": "Allow",
            "Principal": {"AWS": recipient_root(grant)},
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": f"{grant.prefix}*"}, **window},
        },
    ]


def transfer_key_statement(grant: TransferGrant, bucket_arn: str, region: str) -> dict[str, Any]:
    """What a transfer grant opens in the export key: decrypting its prefix's objects, through S3 in the region."""
    return {
        "Sid": f"{grant.sid}Decrypts",
        "Effect": "Allow",
        "Principal": {"AWS": recipient_root(grant)},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "kms:CallerAccount": grant.recipient_account_id,
                "kms:ViaService": f"s3.{region}.amazonaws.com",
            },
            # No S3 Bucket Key on the export bucket: each object's own ARN is its
            # encryption context, so the key itself limits the recipient to its prefix.
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": f"{bucket_arn}/{grant.prefix}*"},
            **window_condition(grant.not_before, grant.not_after),
        },
    }


# --------------------------------------------------------------------------- reading grants back


@dataclass(frozen=True)
class ObservedGrant:
    """A grant as a policy document carries it: who, which ticket or prefix, and the window."""

    sid: str
    principal: str
    """The staff principal, or the recipient account's root."""
    ticket: str
    """The exact ticket (staff trust); ``""`` where the document does not name it (export policies)."""
    prefix: str
    """The export prefix (export policies); ``""`` for staff."""
    not_before: str
    not_after: str


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        document = json.loads(document)
    statements = (document or {}).get("Statement", [])
    return [s for s in ([statements] if isinstance(statements, dict) else statements) if isinstance(s, dict)]


def _one(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _window_of(condition: dict) -> tuple[str, str] | None:
    start = _one((condition.get("DateGreaterThanEquals") or {}).get("aws:CurrentTime"))
    end = _one((condition.get("DateLessThanEquals") or {}).get("aws:CurrentTime"))
    return (start, end) if isinstance(start, str) and isinstance(end, str) else None


def staff_grants_in_trust_policy(document: Any) -> list[ObservedGrant]:
    """The staff grants a trust policy carries: each Allow for one principal with an exact ticket and a window."""
    found = []
    for s in _statements(document):
        condition = s.get("Condition") or {}
        ticket = _one((condition.get("StringEquals") or {}).get(f"aws:RequestTag/{ACCESS_TICKET_TAG}"))
        principal = _one((s.get("Principal") or {}).get("AWS")) if isinstance(s.get("Principal"), dict) else None
        window = _window_of(condition)
        if s.get("Effect") == "Allow" and isinstance(ticket, str) and isinstance(principal, str) and window:
            found.append(ObservedGrant(s.get("Sid", ""), principal, ticket, "", *window))
    return found


def transfer_grants_in_policy(document: Any) -> list[ObservedGrant]:
    """The transfer grants an export bucket policy carries: each Allow of reads under a prefix, with a window."""
    found = []
    for s in _statements(document):
        condition = s.get("Condition") or {}
        principal = _one((s.get("Principal") or {}).get("AWS")) if isinstance(s.get("Principal"), dict) else None
        resource = _one(s.get("Resource"))
        window = _window_of(condition)
        reads = _one(s.get("Action")) == "s3:GetObject" and isinstance(resource, str) and resource.endswith("/*")
        if s.get("Effect") == "Allow" and reads and isinstance(principal, str) and window:
            prefix = resource.split("/", 1)[1][:-1] if "/" in resource else ""
            found.append(ObservedGrant(s.get("Sid", ""), principal, "", prefix, *window))
    return found


def _canonical(statement: dict[str, Any]) -> str:
    """A statement compared for the access it grants: no Sid, one-item lists as scalars, lists sorted."""

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list):
            items = sorted((norm(v) for v in value), key=json.dumps)
            return items[0] if len(items) == 1 else items
        return value

    return json.dumps(norm({k: v for k, v in statement.items() if k != "Sid"}), sort_keys=True)


def unexplained_allows(document: Any, expected: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Allow statements of ``document`` that none of ``expected`` (the statements declared grants build) explains.

    Deny statements never need a grant. Sids are ignored; AWS's normalisation
    of one-item lists and list order is tolerated.
    """
    known = {_canonical(s) for s in expected}
    return [s for s in _statements(document) if s.get("Effect") == "Allow" and _canonical(s) not in known]


def declared_allows(cfg: SiteConfig) -> dict[str, list[dict[str, Any]]]:
    """Every Allow statement the site's config explains, per document: what a live document may carry.

    Built from all declared grants (an expired grant's statements stay in a live
    document until the next deploy, inert by their window; ``staff_grants_in_trust_policy``
    and ``transfer_grants_in_policy`` tell which), plus the export key's own
    administration and encryption statements. Keys: ``staff-trust``,
    ``export-bucket-policy``, ``export-key-policy``.
    """
    from components.transfer_export import EXPORTS, export_key_policy

    bucket = cfg.bucket_arn(EXPORTS)
    base_key = [s for s in export_key_policy(cfg, ())["Statement"] if s["Effect"] == "Allow"]
    return {
        "staff-trust": [staff_trust_statement(g, cfg.region) for g in cfg.staff_access_grants],
        "export-bucket-policy": [s for g in cfg.transfer_grants for s in transfer_bucket_statements(g, bucket)],
        "export-key-policy": [*base_key, *(transfer_key_statement(g, bucket, cfg.region) for g in cfg.transfer_grants)],
    }


# --------------------------------------------------------------------------- the policy pack's trusted accounts


def transfer_trusted_accounts(values: Mapping[str, Any], project: str) -> list[dict[str, Any]]:
    """The policy pack's ``trustedAccounts`` entries for the declared transfer recipients.

    One entry per declared, well-formed transfer grant (expired ones included:
    the derived policy config must not change with the clock, and the program
    and AWS both drop an expired grant), limited to the export bucket's policy
    and the export key. Lenient on purpose: a malformed grant is the program's
    config error, not this function's.
    """
    from components.transfer_export import export_resource_names

    raw = values.get(f"{project}:transferGrants")
    site = values.get(f"{project}:site")
    if not raw or not isinstance(site, str):
        return []
    entries = _decode_entries("", raw, [])
    trusted: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not ACCOUNT_RE.match(str(entry.get("recipientAccountId", ""))):
            continue
        reason = (
            f"transfer grant {entry.get('ticket')} ({entry.get('legalBasis')}, approved by {entry.get('approver')}, "
            f"{entry.get('notBefore')} to {entry.get('notAfter')}): may read {entry.get('prefix')} of the export "
            "bucket and decrypt it with the export key"
        )
        trusted.append(
            {
                "accountId": entry["recipientAccountId"],
                "reason": reason,
                "resources": list(export_resource_names(f"enclave-{site}")),
            }
        )
    return trusted


# --------------------------------------------------------------------------- reporting


def grants_summary(cfg: SiteConfig) -> dict[str, list[dict[str, str]]]:
    """The grants in force and the expired ones, as stack outputs (config entries, ``Z`` timestamps)."""
    at = cfg.as_of
    return {
        "staff_access_grants_in_force": [g.as_config() for g in in_force(cfg.staff_access_grants, at)],
        "staff_access_grants_expired": [g.as_config() for g in expired(cfg.staff_access_grants, at)],
        "transfer_grants_in_force": [g.as_config() for g in in_force(cfg.transfer_grants, at)],
        "transfer_grants_expired": [g.as_config() for g in expired(cfg.transfer_grants, at)],
    }


def report_grants(cfg: SiteConfig) -> None:
    """Log each grant in force (info) and each expired one (warning: dropped, remove it from the stack config)."""
    import pulumi

    at = cfg.as_of
    for kind, grants, where in (
        ("staff grant", cfg.staff_access_grants, "the staff-access trust"),
        ("transfer grant", cfg.transfer_grants, "the export bucket and key policies"),
    ):
        for g in grants:
            who = getattr(g, "principal", None) or f"account {getattr(g, 'recipient_account_id', '')}"
            window = f"{format_utc(g.not_before)} to {format_utc(g.not_after)}"
            if g.in_force(at):
                pulumi.log.info(f"{kind} {g.ticket} in force for {who}, {window}, approved by {g.approver}")
            else:
                pulumi.log.warn(
                    f"{kind} {g.ticket} for {who} expired at {format_utc(g.not_after)}: dropped from {where}; "
                    "remove it from the stack config"
                )
