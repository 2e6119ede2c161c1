"""What every audit family shares: checks and results, the run's clients, and the account's inventory.

A *family* (``Family``) is one module of ``enclave.audit``: its checks, the IAM
permissions its calls need, and a ``run(audit)`` that adds one ``Result`` per
check per resource. ``enclave.audit.checks`` lists the families in the order
they run; a new family (the guardrails, say) is one more module and one more
line there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from components.config import SiteConfig
from enclave.audit.common import call, pages
from enclave.audit.policy import Perimeter


@dataclass(frozen=True)
class Check:
    """One guarantee the audit verifies."""

    id: str
    title: str
    expected: str
    fix: str


CHECKS: dict[str, Check] = {}
"""Every check of every family, in the order the families register them."""


def register(*checks: Check) -> tuple[Check, ...]:
    for check in checks:
        if check.id in CHECKS:
            raise ValueError(f"check id {check.id} registered twice")
        CHECKS[check.id] = check
    return checks


@dataclass(frozen=True)
class Family:
    """A group of checks that run together (one progress line each)."""

    name: str
    checks: tuple[Check, ...]
    permissions: tuple[str, ...]
    """Every IAM permission the family's calls need (a test ties them to the calls made)."""
    run: Callable[[Audit], None]
    pending: tuple[str, ...] = ()
    """Those of ``permissions`` the auditor role does not hold yet: the checks needing them fail closed."""


MISSING_FIX = (
    "The resource does not exist: deploy the site (pulumi up from the deployment role), and check that "
    "the stack config used for the audit is the deployed one."
)
MISSING_KEY_FIX = (
    "No key answers to this name: check operatorAccountId and that the operator created the key "
    "(pulumi up); a deleted key cannot be recovered, so treat it as an incident."
)


PASS, FAIL, UNVERIFIED = "pass", "fail", "unverified"
"""A result's status. ``unverified``: AWS would not show the auditor what decides the check (an
organization's policy denies the read, or only the management account may see it); the result says
what was seen and what would make the rest visible. It is not a pass: the audit exits 1 on it too."""


@dataclass
class Result:
    """One check on one resource."""

    id: str
    status: str  # PASS | FAIL | UNVERIFIED
    resources: list[str]
    expected: str
    found: str
    fix: str
    """How to repair a failure (the check's remedy, or how to restore a missing resource)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "resources": list(self.resources),
            "expected": self.expected,
            "found": self.found,
            "fix": self.fix,
        }


@dataclass
class Audit:
    """The clients, the account's inventory (read once, shared by the families) and the results."""

    cfg: SiteConfig
    account: str
    session: Any
    key_session: Any
    key_account: str
    """The account ``key_session`` acts in: key policies and grants of that account are readable."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    progress: Callable[[str], None] = lambda line: None
    other_regions: tuple[str, ...] | None = None
    """Limit the other-region inventory to these of the enabled regions (None: every region enabled for the account)."""
    guardrails: Any = None
    """The site's ``guardrails.config.GuardrailsConfig`` (None: the site has no guardrails stack)."""
    guardrails_source: str = "guardrails/Pulumi.<stack>.yaml"
    """Where the guardrails config comes from, for the results when it is missing."""
    results: list[Result] = field(default_factory=list)
    observed_grants: list[tuple[str, str, Any]] = field(default_factory=list)
    """(kind, document ARN, ``components.grants.ObservedGrant``) of every grant a live document carries."""
    keys: dict[str, str] = field(default_factory=dict)
    """Key reference (ARN or alias ARN) -> the account expected to hold it."""
    clients: dict[tuple[str, bool, str], Any] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str, operator: bool = False, region: str | None = None) -> Any:
        """A client in the site region (or ``region``); ``operator=True`` for the operator's keys."""
        region = region or self.cfg.region
        if (service, operator, region) not in self.clients:
            session = self.key_session if operator else self.session
            self.clients[service, operator, region] = session.client(service, region_name=region)
        return self.clients[service, operator, region]

    def add(
        self,
        check_id: str,
        ok: bool,
        resources: list[str],
        found: str,
        expected: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.results.append(
            Result(
                check_id,
                PASS if ok else FAIL,
                resources,
                expected or CHECKS[check_id].expected,
                found,
                fix or CHECKS[check_id].fix,
            )
        )

    def unverified(self, check_id: str, resources: list[str], found: str, fix: str) -> None:
        """A check the auditor cannot decide: ``found`` says what it saw, ``fix`` what would make the rest visible."""
        self.results.append(Result(check_id, UNVERIFIED, resources, CHECKS[check_id].expected, found, fix))

    def _once(self, name: str, load: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = load()
        return self._cache[name]

    # ------------------------------------------------------------------ inventory

    @property
    def where(self) -> str:
        return f"account {self.account} in {self.cfg.region}"

    def buckets(self) -> list[dict]:
        """Every bucket of the account (any region), each with its ``Region``."""
        return self._once("buckets", self._list_buckets)

    def _list_buckets(self) -> list[dict]:
        s3 = self.client("s3")
        out = []
        for page in pages(s3, "ListBuckets", f"account {self.account}"):
            for listed in page.get("Buckets", []):
                out.append({**listed, "Region": _bucket_region(s3, listed)})
        return out

    def vpcs(self) -> list[dict]:
        ec2 = self.client("ec2")
        return self._once(
            "vpcs", lambda: [v for p in pages(ec2, "DescribeVpcs", self.where) for v in p.get("Vpcs", [])]
        )

    def endpoints(self) -> list[dict]:
        ec2 = self.client("ec2")
        return self._once(
            "endpoints",
            lambda: [e for p in pages(ec2, "DescribeVpcEndpoints", self.where) for e in p.get("VpcEndpoints", [])],
        )

    def perimeter(self) -> Perimeter:
        """The site's accounts, and its VPCs, endpoints and buckets as the policies may name them."""
        cfg = self.cfg
        return self._once(
            "perimeter",
            lambda: Perimeter(
                accounts=frozenset({cfg.data_account_id, cfg.operator_account_id, cfg.auditor_account_id}),
                vpc_ids=frozenset(v["VpcId"] for v in self.vpcs()),
                endpoint_ids=frozenset(e["VpcEndpointId"] for e in self.endpoints()),
                bucket_names=frozenset(b["Name"] for b in self.buckets()),
            ),
        )

    def operator_key(self, alias: str | None = None) -> dict | None:
        """``KeyMetadata`` of an operator key by its alias in the operator account (default: the data key), or None."""
        alias_arn = self.operator_alias_arn(alias or self.cfg.key_alias)

        def describe() -> dict | None:
            desc = call(
                self.client("kms", operator=True),
                "DescribeKey",
                f"key {alias_arn}",
                none_codes=("NotFoundException",),
                KeyId=alias_arn,
            )
            return None if desc is None else desc["KeyMetadata"]

        return self._once(f"key:{alias_arn}", describe)

    def operator_alias_arn(self, alias: str) -> str:
        return f"arn:aws:kms:{self.cfg.region}:{self.cfg.operator_account_id}:{alias}"

    def declared(self) -> dict[str, list[dict]]:
        """The Allow statements the site's grants explain, per document (``components.grants.declared_allows``)."""
        from components.grants import declared_allows

        return self._once("declared", lambda: declared_allows(self.cfg))

    def explained(self, document: Any, kind: str) -> tuple[dict, list[str]]:
        """``document`` without the Allows a declared grant explains, and those Allows' labels."""
        from components.grants import unexplained_allows
        from enclave.audit.policy import label, parse, statements

        stmts = statements(document)
        if not stmts:
            return parse(document), []
        unexplained = unexplained_allows({"Statement": stmts}, self.declared().get(kind, []))
        kept = [s for s in stmts if s.get("Effect") != "Allow" or s in unexplained]
        names = [label(s, i) for i, s in enumerate(stmts) if s.get("Effect") == "Allow" and s not in unexplained]
        return {**parse(document), "Statement": kept}, names

    def scope(self, region: str | None = None) -> str:
        """How results name an account-level setting (there is no ARN for one)."""
        return f"account {self.account} ({region or self.cfg.region})"


def _bucket_region(s3: Any, listed: dict) -> str:
    if listed.get("BucketRegion"):
        return listed["BucketRegion"]
    name = listed["Name"]
    loc = call(s3, "GetBucketLocation", f"bucket {name}", Bucket=name).get("LocationConstraint")
    # The API answers null for us-east-1 and the legacy "EU" for eu-west-1.
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(loc, loc)


# --------------------------------------------------------------------------- small helpers


def arn_account(arn: str) -> str | None:
    parts = str(arn).split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else None


def arn_region(arn: str) -> str | None:
    parts = str(arn).split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" else None


def ec2_arn(audit: Audit, kind: str, ident: str, region: str | None = None) -> str:
    return f"arn:aws:ec2:{region or audit.cfg.region}:{audit.account}:{kind}/{ident}"


def is_true(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and value is not None and all(str(v).lower() == "true" for v in values)


def is_false(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and value is not None and all(str(v).lower() == "false" for v in values)


def scp_exemption_fix(audit: Audit, actions: list[str]) -> str:
    """How to make reads the guardrails' SCPs refuse the auditor visible (docs/guardrails.md)."""
    return (
        f"Ask the operator to exempt the auditor role ({audit.cfg.role_arn('auditor')}, aws:PrincipalArn) from the "
        f"guardrails' region and service denies for these read-only actions: {', '.join(actions)} "
        "(docs/bootstrap-and-audit.md, 'The SCP exemption the auditor needs'); then run again."
    )


def joined(items: list[str], empty: str) -> str:
    return "; ".join(items) if items else empty
