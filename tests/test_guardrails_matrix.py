"""The guardrails' access matrix: which gate a data-account administrator can no longer lift, and what keeps working.

Each cell is a request (principal, action, resource, request context) run
through the site's SCPs or RCPs by ``denied_by``, a deliberately small
evaluator of AWS's documented deny semantics for exactly the elements and
condition operators these documents use (``Action``/``NotAction`` and
``Resource`` with IAM wildcards; ``String``/``Arn`` (Not)Equals/Like,
``Bool``, ``Null``, ``...IfExists``; a missing key makes a negated operator
true and a positive one false). It raises on anything else, so a document
that outgrows it fails here rather than passing unevaluated. Organizations
combines policies by "an explicit deny in any of them wins", which is all an
all-deny policy set needs. That AWS fills each key as documented is what
docs/guardrails.md lists as resting on AWS.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from components.config import SiteConfig, site_config_from_mapping
from guardrails.config import read_site_stack_values
from guardrails.resource_control import identity_perimeter_policy, network_perimeter_policy
from guardrails.service_control import gates_policy, no_way_out_policy, perimeter_policy

DOC = Path(__file__).resolve().parent.parent / "docs" / "guardrails.md"
ADMIN = "arn:aws:iam::{data}:role/AWSReservedSSO_AdministratorAccess_0123456789abcdef"
OTHER_ACCOUNT = "777777777777"
DENIED, ALLOWED = "denied", "allowed"


# --------------------------------------------------------------------------- the evaluator


def _listed(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def _matches(patterns, value: str, case_sensitive: bool) -> bool:
    if case_sensitive:
        return any(fnmatch.fnmatchcase(value, p) for p in _listed(patterns))
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in _listed(patterns))


_OPERATORS = {
    "Null",
    "Bool",
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
}


def _condition_holds(operator: str, key: str, expected, context: dict) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in _OPERATORS:
        raise NotImplementedError(f"condition operator {operator} is not evaluated here: extend denied_by")
    present = key in context
    if base == "Null":
        return (not present) == (expected == "true")
    if not present:
        return if_exists or base.startswith(("StringNot", "ArnNot"))
    actual = context[key]
    if base in ("StringEquals", "StringNotEquals"):
        equal = actual in _listed(expected)
        return not equal if "Not" in base else equal
    if base in ("ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "StringLike", "StringNotLike"):
        # AWS: ArnEquals and ArnLike behave alike (wildcards in the policy's value).
        like = _matches(expected, actual, case_sensitive=True)
        return not like if "Not" in base else like
    return str(actual).lower() == str(expected).lower()  # Bool


def statement_denies(st: dict, action: str, resource: str, context: dict) -> bool:
    unknown = set(st) - {"Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "Condition"}
    if unknown or st["Effect"] != "Deny" or st.get("Principal", "*") != "*":
        raise NotImplementedError(f"statement {st.get('Sid')} uses {unknown or st['Effect']}: extend denied_by")
    if "Action" in st and not _matches(st["Action"], action, case_sensitive=False):
        return False
    if "NotAction" in st and _matches(st["NotAction"], action, case_sensitive=False):
        return False
    if not _matches(st["Resource"], resource, case_sensitive=True):
        return False
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, block in st.get("Condition", {}).items()
        for key, expected in block.items()
    )


def denied_by(policies: list[dict], action: str, resource: str, context: dict) -> list[str]:
    """Sids of every statement of ``policies`` that denies the request (empty: the guardrails allow it)."""
    return [st["Sid"] for doc in policies for st in doc["Statement"] if statement_denies(st, action, resource, context)]


# --------------------------------------------------------------------------- the requests


@dataclass(frozen=True)
class Request:
    """One request to or from the data account: ``resource`` and ``extra`` context are built from the site config."""

    action: str
    resource: Callable[[SiteConfig], str]
    extra: Callable[[SiteConfig], dict] = field(default=lambda cfg: {})
    region: str | None = None
    """``aws:RequestedRegion``; None means the site's region."""


def _role(role: str) -> Callable[[SiteConfig], str]:
    return lambda cfg: cfg.role_arn(role)


def _bucket(role: str) -> Callable[[SiteConfig], str]:
    return lambda cfg: cfg.bucket_arn(role)


def _objects(role: str) -> Callable[[SiteConfig], str]:
    return lambda cfg: f"{cfg.bucket_arn(role)}/*"


def _any(_cfg) -> str:
    return "*"


_DEPLOYER = lambda cfg: cfg.deployment_role_arn  # noqa: E731
_TRAIL = lambda cfg: cfg.trail_arn  # noqa: E731
_BOUNDARY = lambda cfg: f"arn:aws:iam::{cfg.data_account_id}:policy/{cfg.name_prefix}-boundary"  # noqa: E731
_STAFF_PRINCIPAL = lambda cfg: next(a for a in cfg.staff_principals if ":role/" in a)  # noqa: E731
_REGIONAL = lambda service: lambda cfg: f"arn:aws:{service}:{cfg.region}:{cfg.data_account_id}:*"  # noqa: E731

SCP_CASES: dict[str, tuple[list[Request], tuple[str, str]]] = {
    # gate or attempt: (requests, (data-account administrator, deployment role))
    "edit a site role's trust, policies or tags": (
        [
            Request("iam:UpdateAssumeRolePolicy", _role("staff-access")),
            Request("iam:PutRolePolicy", _role("auditor")),
            Request("iam:AttachRolePolicy", _role("workload")),
            Request("iam:TagRole", _role("staff-access")),
        ],
        (DENIED, ALLOWED),
    ),
    "detach or rewrite the permissions boundary": (
        [
            Request("iam:DeleteRolePermissionsBoundary", _role("workload")),
            Request("iam:CreatePolicyVersion", _BOUNDARY),
        ],
        (DENIED, ALLOWED),
    ),
    "delete and recreate a site role": (
        [Request("iam:DeleteRole", _role("staff-access")), Request("iam:CreateRole", _role("staff-access"))],
        (DENIED, ALLOWED),
    ),
    "pass the workload role to compute they control": ([Request("iam:PassRole", _role("workload"))], (DENIED, ALLOWED)),
    "become, widen or pass the deployment role": (
        [
            Request("sts:AssumeRole", _DEPLOYER),
            Request("iam:UpdateAssumeRolePolicy", _DEPLOYER),
            Request("iam:AttachRolePolicy", _DEPLOYER),
            Request("iam:PassRole", _DEPLOYER),
        ],
        (DENIED, DENIED),
    ),
    "widen an approved staff role's trust": (
        [Request("iam:UpdateAssumeRolePolicy", _STAFF_PRINCIPAL)],
        (DENIED, ALLOWED),
    ),
    "change or delete a bucket policy, encryption, versioning or Object Lock": (
        [
            Request("s3:PutBucketPolicy", _bucket("user-data")),
            Request("s3:DeleteBucketPolicy", _bucket("audit-logs")),
            Request("s3:PutEncryptionConfiguration", _bucket("user-data")),
            Request("s3:PutBucketVersioning", _bucket("user-data")),
            Request("s3:PutBucketObjectLockConfiguration", _bucket("audit-logs")),
        ],
        (DENIED, ALLOWED),
    ),
    "add replication": ([Request("s3:PutReplicationConfiguration", _bucket("user-data"))], (DENIED, DENIED)),
    "stop, change or replace the trail": (
        [
            Request("cloudtrail:StopLogging", _TRAIL),
            Request("cloudtrail:PutEventSelectors", _TRAIL),
            Request("cloudtrail:DeleteTrail", _TRAIL),
            Request("cloudtrail:CreateTrail", _TRAIL),
        ],
        (DENIED, ALLOWED),
    ),
    "delete the flow logs": ([Request("ec2:DeleteFlowLogs", _REGIONAL("ec2"))], (DENIED, ALLOWED)),
    "lift the DNS firewall or its query logging": (
        [
            Request("route53resolver:DisassociateFirewallRuleGroup", _REGIONAL("route53resolver")),
            Request("route53resolver:UpdateFirewallConfig", _REGIONAL("route53resolver")),
            Request("route53resolver:UpdateFirewallDomains", _REGIONAL("route53resolver")),
            Request("route53resolver:DisassociateResolverQueryLogConfig", _REGIONAL("route53resolver")),
        ],
        (DENIED, ALLOWED),
    ),
    "lift an account-level block": (
        [
            Request("ec2:ModifyVpcBlockPublicAccessOptions", _any),
            Request("s3:PutAccountPublicAccessBlock", _any),
            Request("ec2:DisableSnapshotBlockPublicAccess", _any),
            Request("ec2:DisableImageBlockPublicAccess", _any),
            Request("ec2:DisableEbsEncryptionByDefault", _any),
            Request("ec2:EnableSerialConsoleAccess", _any),
        ],
        (DENIED, ALLOWED),
    ),
    "change a VPC endpoint or the pepper's resource policy": (
        [
            Request("ec2:ModifyVpcEndpoint", _REGIONAL("ec2")),
            Request("secretsmanager:PutResourcePolicy", _REGIONAL("secretsmanager")),
        ],
        (DENIED, ALLOWED),
    ),
    "open a network path out": (
        [
            Request("ec2:CreateInternetGateway", _any),
            Request("ec2:CreateNatGateway", _any),
            Request("ec2:CreateEgressOnlyInternetGateway", _any),
            Request("ec2:CreateVpcPeeringConnection", _any),
            Request("ec2:CreateTransitGatewayVpcAttachment", _any),
            Request("ec2:CreateVpnConnection", _any),
            Request("directconnect:CreateConnection", _any),
            Request("ec2:AllocateAddress", _any),
            Request("ec2:CreateVpcBlockPublicAccessExclusion", _any),
            Request("route53resolver:CreateResolverEndpoint", _any),
            Request("vpce:AllowMultiRegion", _any),
        ],
        (DENIED, DENIED),
    ),
    "create an endpoint to another party's service": (
        [Request("ec2:CreateVpcEndpoint", _any, lambda cfg: {"ec2:VpceServiceOwner": OTHER_ACCOUNT})],
        (DENIED, DENIED),
    ),
    "share or copy data out of the site": (
        [
            Request("ram:CreateResourceShare", _any),
            Request("ec2:ModifySnapshotAttribute", _any),
            Request("ec2:ModifyImageAttribute", _any),
            Request("kms:ReplicateKey", _any),
            Request("secretsmanager:ReplicateSecretToRegions", _any),
            Request("logs:PutSubscriptionFilter", _any),
            Request("s3:CreateJob", _any),
        ],
        (DENIED, DENIED),
    ),
    "write into another account's bucket or use its key": (
        [
            Request(
                "s3:PutObject", lambda cfg: "arn:aws:s3:::exfil/*", lambda cfg: {"aws:ResourceAccount": OTHER_ACCOUNT}
            ),
            Request("kms:Encrypt", _any, lambda cfg: {"aws:ResourceAccount": OTHER_ACCOUNT}),
        ],
        (DENIED, DENIED),
    ),
    "act in another region": (
        [
            Request("s3:CreateBucket", _any, region="us-east-1"),
            Request("kms:CreateKey", _any, region="eu-central-1"),
            Request("sts:AssumeRole", _any, region="us-east-1"),
        ],
        (DENIED, DENIED),
    ),
    "use a service nobody reviewed": (
        [
            Request("lambda:CreateFunction", _any),
            Request("sns:Subscribe", _any),
            Request("ses:SendEmail", _any),
            Request("support:CreateCase", _any, region="us-east-1"),
        ],
        (DENIED, DENIED),
    ),
    "leave the organization or change its policies": (
        [
            Request("organizations:LeaveOrganization", _any, region="us-east-1"),
            Request("organizations:DetachPolicy", _any, region="us-east-1"),
        ],
        (DENIED, DENIED),
    ),
    "read IAM and the organization (global, us-east-1)": (
        [
            Request("iam:GetRole", _role("auditor"), region="us-east-1"),
            Request("organizations:DescribeOrganization", _any, region="us-east-1"),
        ],
        (ALLOWED, ALLOWED),
    ),
    "use the operator's key in the region": (
        [Request("kms:Decrypt", _any, lambda cfg: {"aws:ResourceAccount": cfg.operator_account_id})],
        (ALLOWED, ALLOWED),
    ),
    "build the isolated network, endpoints to AWS services": (
        [
            Request("ec2:CreateVpc", _any),
            Request("ec2:CreateVpcEndpoint", _any, lambda cfg: {"ec2:VpceServiceOwner": "amazon"}),
        ],
        ("allowed (VPC), denied (endpoint)", ALLOWED),
    ),
}
"""What the site's SCPs do to each kind of attempt, by the data account's administrator and by the deployment role."""


def scps(cfg: SiteConfig) -> list[dict]:
    return [perimeter_policy(cfg), gates_policy(cfg), no_way_out_policy(cfg)]


def scp_outcome(cfg: SiteConfig, principal: str, request: Request) -> list[str]:
    # AWS puts the resource's account in every request that names one; these resources are the data
    # account's unless the request says otherwise.
    context = {
        "aws:PrincipalArn": principal,
        "aws:RequestedRegion": request.region or cfg.region,
        "aws:ResourceAccount": cfg.data_account_id,
        **request.extra(cfg),
    }
    return denied_by(scps(cfg), request.action, request.resource(cfg), context)


@pytest.fixture(params=["dublin", "hamar"])
def cfg(request) -> SiteConfig:
    return site_config_from_mapping(read_site_stack_values(request.param))


@pytest.mark.parametrize("attempt", list(SCP_CASES))
def test_scp_cell(cfg, attempt):
    requests, (admin_expected, deployer_expected) = SCP_CASES[attempt]
    admin = ADMIN.format(data=cfg.data_account_id)
    for who, principal, expected in (
        ("administrator", admin, admin_expected),
        ("deployer", cfg.deployment_role_arn, deployer_expected),
    ):
        for request in requests:
            sids = scp_outcome(cfg, principal, request)
            if expected.startswith("allowed (VPC)"):
                expected_here = DENIED if request.action == "ec2:CreateVpcEndpoint" else ALLOWED
            else:
                expected_here = expected
            got = DENIED if sids else ALLOWED
            assert got == expected_here, (
                f"{cfg.site} {who} {request.action} on {request.resource(cfg)}: {got} by {sids}"
            )


def test_the_administrator_root_user_is_bound_like_any_principal(cfg):
    """SCPs bind a member account's root user: the gates hold for it too."""
    root = f"arn:aws:iam::{cfg.data_account_id}:root"
    assert scp_outcome(cfg, root, Request("s3:PutBucketPolicy", _bucket("user-data")))
    assert scp_outcome(cfg, root, Request("iam:UpdateAssumeRolePolicy", _role("staff-access")))


def test_every_scp_statement_stops_something_in_the_matrix(cfg):
    """No statement is dead weight: each one is the reason for at least one denied cell."""
    admin = ADMIN.format(data=cfg.data_account_id)
    used = {sid for requests, _ in SCP_CASES.values() for r in requests for sid in scp_outcome(cfg, admin, r)}
    every = {st["Sid"] for doc in scps(cfg) for st in doc["Statement"]}
    assert every <= used, f"statements no cell exercises: {sorted(every - used)}"


# --------------------------------------------------------------------------- resources of the data account (RCPs)

RCP_CASES: dict[str, tuple[str, Callable[[SiteConfig], str], Callable[[SiteConfig], dict], str]] = {
    # who does what: (action, resource, request context, outcome)
    "the workload reads data through the site's endpoint": (
        "s3:GetObject",
        _objects("user-data"),
        lambda cfg: {
            "aws:PrincipalAccount": cfg.data_account_id,
            "aws:PrincipalArn": cfg.role_arn("workload"),
            "aws:VpceAccount": cfg.data_account_id,
        },
        ALLOWED,
    ),
    "the workload's credentials used from outside the site": (
        "s3:GetObject",
        _objects("user-data"),
        lambda cfg: {"aws:PrincipalAccount": cfg.data_account_id, "aws:PrincipalArn": cfg.role_arn("workload")},
        DENIED,
    ),
    "the staff gate reads from outside": (
        "s3:GetObject",
        _objects("user-data"),
        lambda cfg: {"aws:PrincipalAccount": cfg.data_account_id, "aws:PrincipalArn": cfg.role_arn("staff-access")},
        ALLOWED,
    ),
    "the auditor reads audit logs from outside": (
        "s3:GetObject",
        _objects("audit-logs"),
        lambda cfg: {"aws:PrincipalAccount": cfg.data_account_id, "aws:PrincipalArn": cfg.role_arn("auditor")},
        ALLOWED,
    ),
    "the deployer reads its state from outside": (
        "s3:GetObject",
        lambda cfg: f"arn:aws:s3:::{cfg.name_prefix}-pulumi-state-{cfg.data_account_id}/*",
        lambda cfg: {"aws:PrincipalAccount": cfg.data_account_id, "aws:PrincipalArn": cfg.deployment_role_arn},
        ALLOWED,
    ),
    "S3 decrypts with an account key for its caller": (
        "kms:Decrypt",
        _REGIONAL("kms"),
        lambda cfg: {
            "aws:PrincipalAccount": cfg.data_account_id,
            "aws:PrincipalArn": cfg.role_arn("workload"),
            "aws:ViaAWSService": "true",
        },
        ALLOWED,
    ),
    "a principal of another account (of the organization too) reads data": (
        "s3:GetObject",
        _objects("user-data"),
        lambda cfg: {
            "aws:PrincipalAccount": OTHER_ACCOUNT,
            "aws:PrincipalArn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/reader",
            "aws:VpceAccount": OTHER_ACCOUNT,
        },
        DENIED,
    ),
    "an anonymous caller reads data": ("s3:GetObject", _objects("user-data"), lambda cfg: {}, DENIED),
    "another account reads the pepper or uses a log group": (
        "secretsmanager:GetSecretValue",
        _REGIONAL("secretsmanager"),
        lambda cfg: {"aws:PrincipalAccount": OTHER_ACCOUNT},
        DENIED,
    ),
    "the auditor's account assumes the auditor role": (
        "sts:AssumeRole",
        _role("auditor"),
        lambda cfg: {"aws:PrincipalAccount": cfg.auditor_account_id},
        ALLOWED,
    ),
    "another account assumes a data-account role": (
        "sts:AssumeRole",
        _role("staff-access"),
        lambda cfg: {"aws:PrincipalAccount": OTHER_ACCOUNT},
        DENIED,
    ),
    "CloudTrail delivers the site's trail": (
        "s3:PutObject",
        _objects("audit-logs"),
        lambda cfg: {
            "aws:PrincipalIsAWSService": "true",
            "aws:SourceAccount": cfg.data_account_id,
            "aws:SecureTransport": "true",
        },
        ALLOWED,
    ),
    "an AWS service acting for another account": (
        "s3:PutObject",
        _objects("audit-logs"),
        lambda cfg: {
            "aws:PrincipalIsAWSService": "true",
            "aws:SourceAccount": OTHER_ACCOUNT,
            "aws:SecureTransport": "true",
        },
        DENIED,
    ),
    "a data-account principal over plain HTTP": (
        "s3:GetObject",
        _objects("user-data"),
        lambda cfg: {
            "aws:PrincipalAccount": cfg.data_account_id,
            "aws:PrincipalArn": cfg.role_arn("staff-access"),
            "aws:SecureTransport": "false",
        },
        DENIED,
    ),
}
"""What the site's RCPs do to requests to the data account's resources, whoever makes them."""


def rcps(cfg: SiteConfig) -> list[dict]:
    return [identity_perimeter_policy(cfg), network_perimeter_policy(cfg)]


def rcp_outcome(cfg: SiteConfig, case: str) -> list[str]:
    action, resource, context, _ = RCP_CASES[case]
    base = {"aws:SecureTransport": "true", "aws:ResourceAccount": cfg.data_account_id}
    return denied_by(rcps(cfg), action, resource(cfg), {**base, **context(cfg)})


@pytest.mark.parametrize("case", list(RCP_CASES))
def test_rcp_cell(cfg, case):
    sids = rcp_outcome(cfg, case)
    assert (DENIED if sids else ALLOWED) == RCP_CASES[case][3], f"{cfg.site} {case}: denied by {sids}"


def test_every_rcp_statement_stops_something_in_the_matrix(cfg):
    used = {sid for case in RCP_CASES for sid in rcp_outcome(cfg, case)}
    every = {st["Sid"] for doc in rcps(cfg) for st in doc["Statement"]}
    assert every <= used, f"statements no cell exercises: {sorted(every - used)}"


# --------------------------------------------------------------------------- the evaluator itself


def test_the_evaluator_follows_awss_missing_key_rules():
    st = {"Sid": "S", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    assert statement_denies({**st, "Condition": {"StringNotEquals": {"k": "v"}}}, "s3:GetObject", "x", {})
    assert not statement_denies({**st, "Condition": {"StringEquals": {"k": "v"}}}, "s3:GetObject", "x", {})
    assert statement_denies({**st, "Condition": {"StringEqualsIfExists": {"k": "v"}}}, "s3:GetObject", "x", {})
    assert statement_denies({**st, "Condition": {"Null": {"k": "true"}}}, "s3:GetObject", "x", {})
    assert not statement_denies({**st, "Condition": {"Bool": {"k": "true"}}}, "s3:GetObject", "x", {})
    assert not statement_denies(st, "S3:getobject".replace("S3", "kms"), "x", {})
    assert statement_denies(st, "S3:GETOBJECT", "x", {}), "action names are case-insensitive"
    with pytest.raises(NotImplementedError):
        statement_denies({**st, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}, "s3:GetObject", "x", {})
    with pytest.raises(NotImplementedError):
        statement_denies({**st, "NotResource": "y"}, "s3:GetObject", "x", {})


# --------------------------------------------------------------------------- the tables the docs show


def _cell(outcome: str, sids: set[str]) -> str:
    """An outcome with the statements that decide it, as the docs show it."""
    return outcome if not sids else f"{outcome}: " + ", ".join(f"`{sid}`" for sid in sorted(sids))


def render_scp_matrix(cfg: SiteConfig) -> str:
    lines = ["| attempt | a data-account administrator (root included) | the deployment role |", "| --- | --- | --- |"]
    admin = ADMIN.format(data=cfg.data_account_id)
    for attempt, (requests, outcomes) in SCP_CASES.items():
        cells = [
            _cell(outcome, {sid for r in requests for sid in scp_outcome(cfg, principal, r)})
            for principal, outcome in zip((admin, cfg.deployment_role_arn), outcomes, strict=True)
        ]
        lines.append(f"| {attempt} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def render_rcp_matrix(cfg: SiteConfig) -> str:
    lines = ["| request to the data account's resources | outcome |", "| --- | --- |"]
    lines += [
        f"| {case} | {_cell(outcome, set(rcp_outcome(cfg, case)))} |" for case, (*_, outcome) in RCP_CASES.items()
    ]
    return "\n".join(lines)


def test_docs_show_these_matrices(cfg):
    """The docs show the dublin tables; hamar's are the same (a site's names change, not its statements)."""
    text = DOC.read_text()
    assert render_scp_matrix(cfg) in text, f"{DOC}: paste render_scp_matrix(cfg) from tests/test_guardrails_matrix.py"
    assert render_rcp_matrix(cfg) in text, f"{DOC}: paste render_rcp_matrix(cfg) from tests/test_guardrails_matrix.py"
