"""The site's configuration: read once, validated whole, before any resource exists.

Every key the program reads is declared in ``CONFIG_KEYS`` (and documented in
``Pulumi.yaml``). ``load_site_config`` collects *every* problem, then raises one
``SiteConfigError`` naming each key, its bad value and the expected form, so a
stack with a typo registers nothing at all.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.grants import StaffAccessGrant, TransferGrant

PROJECT = "eu-data-enclave"

# Regions inside the EEA that pulumi-aws 7.x knows. eu-west-2 (London) and
# eu-central-2 (Zurich) exist but are outside the EEA, so they are refused.
EEA_REGIONS = (
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-3",
)

ACCESS_TICKET_TAG = "access-ticket"
"""Session tag every staff-access session must carry (the ticket that justifies it)."""

STAFF_SESSION_SECONDS = 3600
"""Longest staff-access session: one hour."""

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_SITE_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_ROLE_ARN_RE = re.compile(r"^arn:aws:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_PRINCIPAL_ARN_RE = re.compile(r"^arn:aws:iam::(\d{12}):(role|user)/[\w+=,.@/-]{1,512}$")
_EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_AZ_RE = re.compile(r"^([a-z]{2}-[a-z]+-\d)([a-z])$")


class SiteConfigError(ValueError):
    """Raised when the stack configuration is invalid; lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid configuration for the enclave site ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}); nothing was deployed:\n{lines}"
        )


@dataclass(frozen=True)
class SiteConfig:
    """Everything that distinguishes one enclave site from another."""

    site: str
    """Short site name, e.g. ``dublin``; used in resource names and tags."""
    region: str
    """The one AWS region the site lives in (EEA only)."""
    availability_zones: tuple[str, ...]
    """AZs of ``region`` that carry a private subnet each."""
    data_account_id: str
    """Account that holds the user data (buckets, network, IAM gates)."""
    operator_account_id: str
    """The third-party operator's account: it holds the KMS keys."""
    operator_role_arn: str
    """Role in the operator account the deployment assumes to manage the keys."""
    operator_external_id: str | None
    """External id the operator requires on that role, if any."""
    deployment_role_arn: str
    """Role in the data account that runs ``pulumi up``; the only one that may change bucket policy or replication."""
    auditor_account_id: str
    """The independent security firm's account."""
    auditor_external_id: str
    """External id the auditor must present to assume the auditor role."""
    staff_principals: tuple[str, ...]
    """IAM principals (role/user ARNs) approved to pass the staff access gate."""
    vpc_cidr: str
    """Private IPv4 CIDR of the site's VPC (/16 to /24)."""
    audit_log_retention_days: int
    """Days CloudTrail logs stay locked (Object Lock, compliance mode)."""
    data_classification: str
    """Value of the ``data-classification`` tag on every resource."""
    sandbox: bool = False
    """Trial deployment (``eu-data-enclave:sandbox``): teardown possible; see docs/deployment.md."""
    staff_access_grants: tuple[StaffAccessGrant, ...] = ()
    """Every declared staff grant, expired ones included (``staff_grants_in_force`` are those the trust names)."""
    staff_access_max_hours: int = 8
    """Longest window of a staff grant, in hours."""
    transfer_grants: tuple[TransferGrant, ...] = ()
    """Every declared transfer grant, expired ones included (``transfer_grants_in_force`` reach the documents)."""
    transfer_max_days: int = 31
    """Longest window of a transfer grant, in days; exports expire after it."""
    platform_approver_domains: tuple[str, ...] = ()
    """Email domains of the platform's people: a grant's approver must be one of them."""
    trust_policy_quota: int = 2048
    """The data account's IAM quota for a role trust policy, in characters (white space not counted)."""
    evaluated_at: datetime | None = None
    """The instant grants were judged at (``components.clock.now()`` when the config was loaded)."""

    @property
    def name_prefix(self) -> str:
        """Prefix of every resource name of this site."""
        return f"enclave-{self.site}"

    # Physical names are derived from the config, not auto-generated: policy
    # documents of one component can then name another's resources without a
    # dependency cycle (the key policy names roles the gates create later), and
    # the auditor finds every resource by a name that never changes.

    def bucket_name(self, role: str) -> str:
        """Name of the site's bucket for ``role`` (``user-data``, ``access-logs``, ``audit-logs``)."""
        return f"{self.name_prefix}-{role}-{self.data_account_id}"

    def bucket_arn(self, role: str) -> str:
        return f"arn:aws:s3:::{self.bucket_name(role)}"

    def role_name(self, role: str) -> str:
        """Name of the site's IAM role for ``role`` (``workload``, ``staff-access``, ``auditor``)."""
        return f"{self.name_prefix}-{role}"

    def role_arn(self, role: str) -> str:
        return f"arn:aws:iam::{self.data_account_id}:role/{self.role_name(role)}"

    @property
    def trail_name(self) -> str:
        return f"{self.name_prefix}-trail"

    @property
    def trail_arn(self) -> str:
        return f"arn:aws:cloudtrail:{self.region}:{self.data_account_id}:trail/{self.trail_name}"

    @property
    def key_alias(self) -> str:
        """Alias of the operator-held data key (in the operator account)."""
        return f"alias/{self.name_prefix}-data"

    @property
    def as_of(self) -> datetime:
        """The instant that decides which grants are in force."""
        from components import clock

        return self.evaluated_at or clock.now()

    @property
    def staff_grants_in_force(self) -> tuple[StaffAccessGrant, ...]:
        """Staff grants not yet expired (future ones included: their window condition waits)."""
        from components.grants import in_force

        return in_force(self.staff_access_grants, self.as_of)

    @property
    def transfer_grants_in_force(self) -> tuple[TransferGrant, ...]:
        """Transfer grants not yet expired; only their recipients appear in the export documents."""
        from components.grants import in_force

        return in_force(self.transfer_grants, self.as_of)

    @property
    def residency_tags(self) -> dict[str, str]:
        """Tags every AWS resource of the site carries (provider ``default_tags``)."""
        return {
            "enclave:site": self.site,
            "enclave:region": self.region,
            "data-classification": self.data_classification,
        }


@dataclass(frozen=True)
class _Key:
    name: str
    required: bool
    kind: str  # "string" | "integer" | "boolean" | "array"
    default: Any = None


# The project's own keys. Pulumi.yaml documents each; tests keep the two in step.
CONFIG_KEYS: tuple[_Key, ...] = (
    _Key("site", True, "string"),
    _Key("region", True, "string"),
    _Key("availabilityZones", False, "array"),
    _Key("dataAccountId", True, "string"),
    _Key("operatorAccountId", True, "string"),
    _Key("operatorRoleArn", True, "string"),
    _Key("operatorExternalId", False, "string"),
    _Key("deploymentRoleArn", True, "string"),
    _Key("auditorAccountId", True, "string"),
    _Key("auditorExternalId", True, "string"),
    _Key("staffPrincipals", True, "array"),
    _Key("vpcCidr", True, "string"),
    _Key("auditLogRetentionDays", False, "integer", 365),
    _Key("dataClassification", False, "string", "personal-data"),
    _Key("sandbox", False, "boolean", False),
    _Key("staffAccessMaxHours", False, "integer", 8),
    _Key("transferMaxDays", False, "integer", 31),
    _Key("platformApproverDomains", False, "array"),
    _Key("trustPolicyQuota", False, "integer", 2048),
)

# Grant lists (lists of mappings). Pulumi's project schema types no object
# items, so they are not declared in Pulumi.yaml; they are validated here and
# documented in docs/grants.md.
GRANT_KEYS = ("staffAccessGrants", "transferGrants")

# Keys of other namespaces the stack files may set. `aws:*` is refused on
# purpose: every AWS setting comes from the explicit, site-pinned providers.
_FOREIGN_KEYS_ALLOWED = {"pulumi:disable-default-providers"}


def _k(name: str) -> str:
    return f"{PROJECT}:{name}"


def _decode(raw: Any, kind: str) -> Any:
    """Config values arrive as strings (structured ones JSON-encoded)."""
    if kind == "string":
        return raw
    if kind == "integer":
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"-?\d+", raw.strip()):
            return int(raw)
        raise ValueError("an integer")
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise ValueError("true or false")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError("a YAML list of strings") from None
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ValueError("a YAML list of strings")
    return raw


def site_config_from_mapping(values: Mapping[str, Any], now: datetime | None = None) -> SiteConfig:
    """Validate a flat ``{"namespace:key": value}`` mapping into a ``SiteConfig``.

    ``now`` decides which grants are in force (default: ``components.clock.now()``).
    Raises ``SiteConfigError`` listing every problem.
    """
    problems: list[str] = []
    known = {_k(key.name) for key in CONFIG_KEYS} | {_k(name) for name in GRANT_KEYS}
    for key in sorted(values):
        if key in known or key in _FOREIGN_KEYS_ALLOWED:
            continue
        if key.startswith(f"{PROJECT}:"):
            problems.append(
                f"{key}: unknown key (value {values[key]!r}); the known keys are listed "
                f"in Pulumi.yaml: {', '.join(sorted(known))}"
            )
        elif key.startswith("aws:"):
            problems.append(
                f"{key}: must not be set (value {values[key]!r}); the enclave pins AWS "
                f"settings in its explicit providers: remove it and set {_k('region')} instead"
            )

    disabled = values.get("pulumi:disable-default-providers")
    try:
        disabled_list = _decode(disabled, "array") if disabled is not None else []
    except ValueError:
        disabled_list = []
    if "aws" not in disabled_list and "*" not in disabled_list:
        problems.append(
            f"pulumi:disable-default-providers: is {disabled!r}, expected a list that "
            'contains "aws" (every AWS resource must use the site\'s pinned provider)'
        )

    got: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        raw = values.get(_k(key.name))
        if raw is None or raw == "":
            if key.required:
                problems.append(f"{_k(key.name)}: missing; set it in Pulumi.<stack>.yaml ({key.kind})")
            got[key.name] = key.default
            continue
        try:
            got[key.name] = _decode(raw, key.kind)
        except ValueError as exc:
            problems.append(f"{_k(key.name)}: {raw!r} is not {exc}")
            got[key.name] = None

    def check(name: str, ok: Callable[[Any], bool], expected: str) -> None:
        value = got.get(name)
        if value is not None and not ok(value):
            problems.append(f"{_k(name)}: {value!r} is invalid; expected {expected}")

    check("site", lambda v: bool(_SITE_RE.match(v)), "a lower-case name like 'dublin' (3-32 chars: a-z, 0-9, -)")
    check(
        "region",
        lambda v: v in EEA_REGIONS,
        f"an AWS region inside the EEA, one of {', '.join(EEA_REGIONS)}",
    )
    for name in ("dataAccountId", "operatorAccountId", "auditorAccountId"):
        check(name, lambda v: bool(_ACCOUNT_RE.match(v)), "a 12-digit AWS account id, quoted, e.g. '123456789012'")
    for name in ("operatorRoleArn", "deploymentRoleArn"):
        check(name, lambda v: bool(_ROLE_ARN_RE.match(v)), "an IAM role ARN like arn:aws:iam::123456789012:role/name")
    check("operatorExternalId", lambda v: bool(_EXTERNAL_ID_RE.match(v)), "2-1224 characters of [A-Za-z0-9+=,.@:/_-]")
    check("auditorExternalId", lambda v: bool(_EXTERNAL_ID_RE.match(v)), "2-1224 characters of [A-Za-z0-9+=,.@:/_-]")
    check(
        "auditLogRetentionDays",
        lambda v: 90 <= v <= 3650,
        "an integer from 90 to 3650 (days the audit log stays under Object Lock)",
    )
    check(
        "dataClassification",
        lambda v: bool(re.fullmatch(r"[a-z][a-z0-9-]{0,62}", v)),
        "a lower-case tag value like 'personal-data'",
    )

    staff = got.get("staffPrincipals")
    if staff is not None:
        if not staff:
            problems.append(
                f"{_k('staffPrincipals')}: is empty; expected at least one IAM role or user ARN "
                "approved to pass the access gate"
            )
        for arn in staff:
            if not _PRINCIPAL_ARN_RE.match(arn):
                problems.append(
                    f"{_k('staffPrincipals')}: {arn!r} is invalid; expected IAM role or user ARNs "
                    "like arn:aws:iam::123456789012:role/name"
                )
        if len(set(staff)) != len(staff):
            problems.append(f"{_k('staffPrincipals')}: {staff!r} lists a principal twice")

    cidr = got.get("vpcCidr")
    if cidr is not None:
        try:
            net = ipaddress.IPv4Network(cidr, strict=True)
        except ValueError:
            problems.append(f"{_k('vpcCidr')}: {cidr!r} is invalid; expected an IPv4 CIDR like 10.20.0.0/16")
        else:
            private = any(
                net.subnet_of(ipaddress.IPv4Network(block))
                for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
            )
            if not private:
                problems.append(
                    f"{_k('vpcCidr')}: {cidr!r} is not private; expected a block inside "
                    "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
                )
            if not 16 <= net.prefixlen <= 24:
                problems.append(
                    f"{_k('vpcCidr')}: {cidr!r} has prefix /{net.prefixlen}; expected /16 to /24 "
                    "(AWS allows no larger VPC, and smaller leaves no room for subnets per AZ)"
                )

    region = got.get("region")
    azs = got.get("availabilityZones")
    # Unset or empty (Pulumi.yaml's default): the region's first three zones.
    if not azs and region in EEA_REGIONS:
        azs = [f"{region}{letter}" for letter in "abc"]
    if azs is not None and region in EEA_REGIONS:
        if not 1 <= len(azs) <= 4:
            problems.append(f"{_k('availabilityZones')}: {azs!r} has {len(azs)} zones; expected 1 to 4")
        for az in azs:
            m = _AZ_RE.match(az)
            if not m or m.group(1) != region:
                problems.append(
                    f"{_k('availabilityZones')}: {az!r} is not a zone of {region}; expected names like {region}a"
                )
        if len(set(azs)) != len(azs):
            problems.append(f"{_k('availabilityZones')}: {azs!r} lists a zone twice")

    # Cross-key rules: who holds what.
    data, operator, auditor = (got.get(n) for n in ("dataAccountId", "operatorAccountId", "auditorAccountId"))
    if data and operator and data == operator:
        problems.append(
            f"{_k('operatorAccountId')}: {operator!r} equals {_k('dataAccountId')}; keys held by "
            "the data account are not third-party custody: use the operator's own account"
        )
    if auditor and auditor in (data, operator):
        problems.append(
            f"{_k('auditorAccountId')}: {auditor!r} equals the data or operator account; the "
            "auditor must be an independent firm's account"
        )
    _check_arn_account(problems, got, "operatorRoleArn", operator, "operatorAccountId")
    _check_arn_account(problems, got, "deploymentRoleArn", data, "dataAccountId")

    at, staff_grants, transfer_grants = _grants(values, got, problems, now, check)

    if problems:
        raise SiteConfigError(problems)
    return SiteConfig(
        site=got["site"],
        region=got["region"],
        availability_zones=tuple(azs),
        data_account_id=data,
        operator_account_id=operator,
        operator_role_arn=got["operatorRoleArn"],
        operator_external_id=got["operatorExternalId"],
        deployment_role_arn=got["deploymentRoleArn"],
        auditor_account_id=auditor,
        auditor_external_id=got["auditorExternalId"],
        staff_principals=tuple(staff),
        vpc_cidr=cidr,
        audit_log_retention_days=got["auditLogRetentionDays"],
        data_classification=got["dataClassification"],
        sandbox=got["sandbox"],
        staff_access_grants=staff_grants,
        staff_access_max_hours=got["staffAccessMaxHours"],
        transfer_grants=transfer_grants,
        transfer_max_days=got["transferMaxDays"],
        platform_approver_domains=tuple(got["platformApproverDomains"] or ()),
        trust_policy_quota=got["trustPolicyQuota"],
        evaluated_at=at,
    )


def _grants(
    values: Mapping[str, Any],
    got: dict,
    problems: list[str],
    now: datetime | None,
    check: Callable[[str, Callable[[Any], bool], str], None],
) -> tuple:
    """Validate the grant keys and their limits; ``(instant judged at, staff grants, transfer grants)``."""
    from components import clock, grants

    low, high = grants.STAFF_HOURS_LIMITS
    check("staffAccessMaxHours", lambda v: low <= v <= high, f"an integer from {low} to {high} (hours)")
    low, high = grants.TRANSFER_DAYS_LIMITS
    check("transferMaxDays", lambda v: low <= v <= high, f"an integer from {low} to {high} (days)")
    check(
        "trustPolicyQuota",
        lambda v: 2048 <= v <= 8192,
        "the account's IAM quota 'Role trust policy length', 2048 (AWS's default) to 8192",
    )
    domains = got.get("platformApproverDomains") or []
    for domain in domains:
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9-]{1,63})+", domain):
            problems.append(
                f"{_k('platformApproverDomains')}: {domain!r} is invalid; expected lower-case email domains "
                "of the platform, like platform.example"
            )
    try:
        at = now or clock.now()
    except ValueError as exc:
        problems.append(str(exc))
        return None, (), ()
    raw_staff, raw_transfer = values.get(_k("staffAccessGrants")), values.get(_k("transferGrants"))
    if (raw_staff or raw_transfer) and not domains:
        problems.append(
            f"{_k('platformApproverDomains')}: missing; grants need it to tell a platform approver from anyone "
            "else: set the platform's email domains, e.g. [platform.example]"
        )
    hours, days = got.get("staffAccessMaxHours"), got.get("transferMaxDays")
    staff = grants.parse_staff_grants(
        _k("staffAccessGrants"),
        raw_staff,
        staff_principals=got.get("staffPrincipals") or [],
        max_hours=hours if isinstance(hours, int) else 8,
        approver_domains=domains,
        domains_key=_k("platformApproverDomains"),
        at=at,
        problems=problems,
    )
    accounts = {name: got.get(name) for name in ("dataAccountId", "operatorAccountId", "auditorAccountId")}
    transfers = grants.parse_transfer_grants(
        _k("transferGrants"),
        raw_transfer,
        site_accounts={name: account for name, account in accounts.items() if account},
        max_days=days if isinstance(days, int) else 31,
        approver_domains=domains,
        domains_key=_k("platformApproverDomains"),
        at=at,
        problems=problems,
    )
    quota = got.get("trustPolicyQuota")
    region = got.get("region") or ""
    trust = grants.staff_trust_policy(grants.in_force(staff, at), region)
    if isinstance(quota, int) and 2048 <= quota <= 8192 and grants.policy_chars(trust) > quota:
        problems.append(
            f"{_k('staffAccessGrants')}: the {len(trust['Statement'])} grants in force make a trust policy of "
            f"{grants.policy_chars(trust)} characters; expected at most {_k('trustPolicyQuota')} ({quota}): "
            "end some grants, or raise the account's 'Role trust policy length' quota and set trustPolicyQuota"
        )
    return at, staff, transfers


def _check_arn_account(problems: list[str], got: dict, name: str, account: str | None, account_key: str) -> None:
    m = _ROLE_ARN_RE.match(got.get(name) or "")
    if m and account and m.group(1) != account:
        problems.append(
            f"{_k(name)}: {got[name]!r} is in account {m.group(1)}; expected a role of {_k(account_key)} {account}"
        )


def current_config_values() -> dict[str, Any]:
    """Every config value the Pulumi runtime holds for this run, keyed ``namespace:key``."""
    from pulumi.runtime import config as runtime_config

    # The CLI passes config as the PULUMI_CONFIG JSON bag; tests and `enclave
    # check` set it in-process. Both are read, explicit values winning.
    values = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return values


def load_site_config() -> SiteConfig:
    """Load and validate the current stack's configuration."""
    return site_config_from_mapping(current_config_values())
