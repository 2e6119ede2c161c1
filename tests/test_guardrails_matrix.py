"""The guardrails' access matrix: which gate a data-account administrator can no longer lift, and what keeps working.

Each cell is a request (principal, action, resource, request context) run
through the site's SCPs or RCPs by ``denied_by``, a deliberately small
evaluator of AWS's documented deny semantics for exactly the elements and
condition operators these documents use (``Action``/``NotAction`` and
``Resource``/``NotResource`` with IAM wildcards; ``String``/``Arn``
(Not)Equals/Like, ``Bool``, ``Null``, ``Date`` LessThan/GreaterThan,
``...IfExists``; a missing key makes a negated operator true and a positive
one false). It raises on anything else, so a document
that outgrows it fails here rather than passing unevaluated. Organizations
combines policies by "an explicit deny in any of them wins", which is all an
all-deny policy set needs. That AWS fills each key as documented is what
docs/guardrails.md lists as resting on AWS.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import parliament
import pytest

from components.clock import format_utc, parse_utc
from components.config import SiteConfig, site_config_from_mapping
from enclave.harness import PROJECT_DIR, load_stack_config
from guardrails import config as guardrails_config
from guardrails.config import read_site_stack_values
from guardrails.resource_control import RESOURCE_CONTROL_POLICIES
from guardrails.service_control import SERVICE_CONTROL_POLICIES, pipeline_roles
from tests.grants_fixture import RECIPIENT, config_with, transfer_grant

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


_DATES = {"DateLessThan": "<", "DateGreaterThan": ">", "DateLessThanEquals": "<=", "DateGreaterThanEquals": ">="}

_OPERATORS = {
    *_DATES,
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
    if base in _DATES:
        now, bound = parse_utc(actual), parse_utc(expected)
        return {"<": now < bound, ">": now > bound, "<=": now <= bound, ">=": now >= bound}[_DATES[base]]
    if base in ("StringEquals", "StringNotEquals"):
        equal = actual in _listed(expected)
        return not equal if "Not" in base else equal
    if base in ("ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "StringLike", "StringNotLike"):
        # AWS: ArnEquals and ArnLike behave alike (wildcards in the policy's value).
        like = _matches(expected, actual, case_sensitive=True)
        return not like if "Not" in base else like
    return str(actual).lower() == str(expected).lower()  # Bool


def statement_denies(st: dict, action: str, resource: str, context: dict) -> bool:
    unknown = set(st) - {"Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
    if unknown or st["Effect"] != "Deny" or st.get("Principal", "*") != "*":
        raise NotImplementedError(f"statement {st.get('Sid')} uses {unknown or st['Effect']}: extend denied_by")
    if "Action" in st and not _matches(st["Action"], action, case_sensitive=False):
        return False
    if "NotAction" in st and _matches(st["NotAction"], action, case_sensitive=False):
        return False
    if "Resource" in st and not _matches(st["Resource"], resource, case_sensitive=True):
        return False
    if "NotResource" in st and _matches(st["NotResource"], resource, case_sensitive=True):
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
_SSM_SHARING = lambda cfg: (  # noqa: E731
    f"arn:aws:ssm:{cfg.region}:{cfg.data_account_id}:servicesetting/ssm/documents/console/public-sharing-permission"
)

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
    "write a staff grant into the staff gate (its trust and policy statements)": (
        [
            Request("iam:UpdateAssumeRolePolicy", _role("staff-access")),
            Request("iam:PutRolePolicy", _role("staff-access")),
        ],
        (DENIED, ALLOWED),
    ),
    "lift the DNS firewall or its query logging": (
        [
            Request("route53resolver:DisassociateFirewallRuleGroup", _REGIONAL("route53resolver")),
            Request("route53resolver:UpdateFirewallRuleGroupAssociation", _REGIONAL("route53resolver")),
            Request("route53resolver:UpdateFirewallConfig", _REGIONAL("route53resolver")),
            Request("route53resolver:UpdateFirewallDomains", _REGIONAL("route53resolver")),
            Request("route53resolver:UpdateFirewallRule", _REGIONAL("route53resolver")),
            Request("route53resolver:DeleteFirewallRuleGroup", _REGIONAL("route53resolver")),
            Request("route53resolver:AssociateFirewallRuleGroup", _REGIONAL("route53resolver")),
            Request("route53resolver:PutFirewallRuleGroupPolicy", _REGIONAL("route53resolver")),
            Request("route53resolver:DisassociateResolverQueryLogConfig", _REGIONAL("route53resolver")),
            Request("route53resolver:DeleteResolverQueryLogConfig", _REGIONAL("route53resolver")),
        ],
        (DENIED, ALLOWED),
    ),
    "lift an account-level block": (
        [
            Request("ec2:ModifyVpcBlockPublicAccessOptions", _any),
            Request("s3:PutAccountPublicAccessBlock", _any),
            Request("ec2:DisableSnapshotBlockPublicAccess", _any),
            Request("ec2:EnableSnapshotBlockPublicAccess", _any),
            Request("ec2:DisableImageBlockPublicAccess", _any),
            Request("ec2:EnableImageBlockPublicAccess", _any),
            Request("ec2:DisableEbsEncryptionByDefault", _any),
            Request("ec2:ModifyEbsDefaultKmsKeyId", _any),
            Request("ec2:EnableSerialConsoleAccess", _any),
            Request("ec2:ModifyInstanceMetadataDefaults", _any),
            Request("ssm:UpdateServiceSetting", _SSM_SHARING),
            Request("ssm:ResetServiceSetting", _SSM_SHARING),
            Request("elasticmapreduce:PutBlockPublicAccessConfiguration", _any),
        ],
        (DENIED, ALLOWED),
    ),
    "use SSM or EMR beyond the account setting each was reviewed for": (
        [
            Request("ssm:ModifyDocumentPermission", _REGIONAL("ssm")),
            Request("ssm:StartSession", _REGIONAL("ssm")),
            Request("ssm:SendCommand", _REGIONAL("ssm")),
            Request("elasticmapreduce:RunJobFlow", _any),
        ],
        (DENIED, DENIED),
    ),
    "tear a sandbox down (what `pulumi destroy` does to the gates)": (
        [
            Request("s3:DeleteBucket", _bucket("user-data")),
            Request("cloudtrail:DeleteTrail", _TRAIL),
            Request("iam:DeleteRole", _role("workload")),
            Request("ec2:DeleteFlowLogs", _REGIONAL("ec2")),
            Request("route53resolver:DisassociateFirewallRuleGroup", _REGIONAL("route53resolver")),
            Request("ec2:DisableSnapshotBlockPublicAccess", _any),
            Request("ssm:ResetServiceSetting", _SSM_SHARING),
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


GUARDRAILS_DIR = PROJECT_DIR / "guardrails"


def ci_of(cfg: SiteConfig) -> str | None:
    """The guardrails' ``ciAccountId`` for the site's stack (dublin's pipeline has one, hamar's uses OIDC)."""
    values = load_stack_config(GUARDRAILS_DIR, cfg.site)
    return values.get(f"{guardrails_config.PROJECT}:ciAccountId") or None


def scps(cfg: SiteConfig) -> list[dict]:
    return [build(cfg, ci_of(cfg)) for build in SERVICE_CONTROL_POLICIES.values()]


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


_PIPELINE_ROLE = lambda cfg: pipeline_roles(ci_of(cfg)).replace("*", "enclave-pipeline")  # noqa: E731

PIPELINE_SCP_CASES: dict[str, tuple[list[Request], tuple[str, str]]] = {
    "become a role of the pipeline's CI account (and from there the deployer)": (
        [Request("sts:AssumeRole", _PIPELINE_ROLE, lambda cfg: {"aws:ResourceAccount": ci_of(cfg)})],
        (DENIED, DENIED),
    ),
}
"""The SCP cells of a site whose pipeline runs in a CI account (``ciAccountId``)."""


def scp_cases(cfg: SiteConfig) -> dict[str, tuple[list[Request], tuple[str, str]]]:
    return {**SCP_CASES, **(PIPELINE_SCP_CASES if ci_of(cfg) else {})}


@pytest.fixture(params=["dublin", "hamar"])
def cfg(request) -> SiteConfig:
    return site_config_from_mapping(read_site_stack_values(request.param))


def _check_scp_cell(cfg: SiteConfig, requests: list[Request], outcomes: tuple[str, str]) -> None:
    admin = ADMIN.format(data=cfg.data_account_id)
    for who, principal, expected in zip(
        ("administrator", "deployer"), (admin, cfg.deployment_role_arn), outcomes, strict=True
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


@pytest.mark.parametrize("attempt", list(SCP_CASES))
def test_scp_cell(cfg, attempt):
    _check_scp_cell(cfg, *SCP_CASES[attempt])


def test_the_pipeline_cells_hold_where_there_is_a_ci_account():
    cfg = site_config_from_mapping(read_site_stack_values("dublin"))
    assert ci_of(cfg), "dublin's guardrails name a CI account"
    for requests, outcomes in PIPELINE_SCP_CASES.values():
        _check_scp_cell(cfg, requests, outcomes)
    hamar = site_config_from_mapping(read_site_stack_values("hamar"))
    assert ci_of(hamar) is None and "NobodyInsideBecomesThePipeline" not in json.dumps(scps(hamar))


AUDITOR_CASES: dict[str, tuple[list[Request], str]] = {
    "inventory another region (the audit's listings)": (
        [
            Request("tag:GetResources", _any, region="eu-central-1"),
            Request("dynamodb:ListTables", _any, region="us-east-1"),
            Request("ec2:DescribeSnapshots", _any, region="ap-southeast-2"),
        ],
        ALLOWED,
    ),
    "run the same listings in the site's region": (
        [Request("tag:GetResources", _any), Request("kinesis:ListStreams", _any)],
        ALLOWED,
    ),
    "read anything else in another region": (
        [
            Request("s3:GetObject", _objects("audit-logs"), region="eu-central-1"),
            Request("dynamodb:Scan", _any, region="eu-central-1"),
            Request("kms:Decrypt", _any, region="us-east-1"),
        ],
        DENIED,
    ),
    "use a service nobody reviewed beyond the listings": (
        [Request("dynamodb:Scan", _any), Request("lambda:ListFunctions", _any), Request("sns:ListTopics", _any)],
        DENIED,
    ),
}
"""What the SCPs let the auditor role do: the audit's inventory of every region, nothing more."""


def test_the_auditor_inventories_every_region_and_nothing_more(cfg):
    auditor = cfg.role_arn("auditor")
    for attempt, (requests, expected) in AUDITOR_CASES.items():
        for request in requests:
            sids = scp_outcome(cfg, auditor, request)
            assert (DENIED if sids else ALLOWED) == expected, f"{attempt}: {request.action} {request.region}: {sids}"


def test_the_audit_is_denied_none_of_its_calls():
    """Every call of `enclave audit` in the site's region, and its inventory in every other, passes the SCPs."""
    from enclave.audit import checks, regions, sharing
    from guardrails.service_control import AUDIT_INVENTORY_ACTIONS, AUDIT_SHARING_READS

    assert set(AUDIT_INVENTORY_ACTIONS) == set(regions.PERMISSIONS), "keep the guardrails' list the audit's"
    assert set(AUDIT_SHARING_READS) == set(sharing.SHARE_PERMISSIONS), "keep the guardrails' list the audit's"
    cfg = site_config_from_mapping(read_site_stack_values("dublin"))
    auditor = cfg.role_arn("auditor")
    from components.security_gates import PERIMETER_PROBE_ACTION

    for action in checks.ACTIONS_USED:
        if action == PERIMETER_PROBE_ACTION:
            # The audit's probe of the perimeter: it passes only when an SCP refuses it.
            assert scp_outcome(cfg, auditor, Request(action, _any)), action
            continue
        assert scp_outcome(cfg, auditor, Request(action, _any)) == [], action
    for action in regions.PERMISSIONS:
        assert scp_outcome(cfg, auditor, Request(action, _any, region="sa-east-1")) == [], action


def test_the_administrator_root_user_is_bound_like_any_principal(cfg):
    """SCPs bind a member account's root user: the gates hold for it too."""
    root = f"arn:aws:iam::{cfg.data_account_id}:root"
    assert scp_outcome(cfg, root, Request("s3:PutBucketPolicy", _bucket("user-data")))
    assert scp_outcome(cfg, root, Request("iam:UpdateAssumeRolePolicy", _role("staff-access")))


def test_every_scp_statement_stops_something_in_the_matrix(cfg):
    """No statement is dead weight: each one is the reason for at least one denied cell."""
    admin = ADMIN.format(data=cfg.data_account_id)
    cases = scp_cases(cfg)
    used = {sid for requests, _ in cases.values() for r in requests for sid in scp_outcome(cfg, admin, r)}
    auditor = cfg.role_arn("auditor")
    used |= {sid for requests, _ in AUDITOR_CASES.values() for r in requests for sid in scp_outcome(cfg, auditor, r)}
    every = {st["Sid"] for doc in scps(cfg) for st in doc["Statement"]}
    assert every <= used, f"statements no cell exercises: {sorted(every - used)}"


# --------------------------------------------------------------------------- the account blocks and DNS firewall (#12)

SETTING_CALLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # pulumi-aws type: (every call the provider makes to create, read, update and delete it, those that weaken
    # it). From the provider's resource implementations (terraform-provider-aws) and the EC2, S3 Control, SSM,
    # EMR and Route 53 Resolver API references; Get*/Describe*/List* are the reads.
    "aws:ec2/vpcBlockPublicAccessOptions:VpcBlockPublicAccessOptions": (
        ("ec2:ModifyVpcBlockPublicAccessOptions", "ec2:DescribeVpcBlockPublicAccessOptions"),
        ("ec2:ModifyVpcBlockPublicAccessOptions",),
    ),
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock": (
        # DeletePublicAccessBlock (account) is authorised as s3:PutAccountPublicAccessBlock.
        ("s3:PutAccountPublicAccessBlock", "s3:GetAccountPublicAccessBlock"),
        ("s3:PutAccountPublicAccessBlock",),
    ),
    "aws:ebs/snapshotBlockPublicAccess:SnapshotBlockPublicAccess": (
        (
            "ec2:EnableSnapshotBlockPublicAccess",
            "ec2:GetSnapshotBlockPublicAccessState",
            "ec2:DisableSnapshotBlockPublicAccess",
        ),
        ("ec2:EnableSnapshotBlockPublicAccess", "ec2:DisableSnapshotBlockPublicAccess"),
    ),
    "aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess": (
        ("ec2:EnableImageBlockPublicAccess", "ec2:GetImageBlockPublicAccessState", "ec2:DisableImageBlockPublicAccess"),
        ("ec2:EnableImageBlockPublicAccess", "ec2:DisableImageBlockPublicAccess"),
    ),
    "aws:ebs/encryptionByDefault:EncryptionByDefault": (
        ("ec2:EnableEbsEncryptionByDefault", "ec2:GetEbsEncryptionByDefault", "ec2:DisableEbsEncryptionByDefault"),
        ("ec2:DisableEbsEncryptionByDefault",),
    ),
    "aws:ec2/serialConsoleAccess:SerialConsoleAccess": (
        ("ec2:DisableSerialConsoleAccess", "ec2:GetSerialConsoleAccessStatus", "ec2:EnableSerialConsoleAccess"),
        ("ec2:EnableSerialConsoleAccess",),
    ),
    "aws:ec2/instanceMetadataDefaults:InstanceMetadataDefaults": (
        ("ec2:ModifyInstanceMetadataDefaults", "ec2:GetInstanceMetadataDefaults"),
        ("ec2:ModifyInstanceMetadataDefaults",),
    ),
    "aws:ssm/serviceSetting:ServiceSetting": (
        ("ssm:UpdateServiceSetting", "ssm:GetServiceSetting", "ssm:ResetServiceSetting"),
        ("ssm:UpdateServiceSetting", "ssm:ResetServiceSetting"),
    ),
    "aws:emr/blockPublicAccessConfiguration:BlockPublicAccessConfiguration": (
        ("elasticmapreduce:PutBlockPublicAccessConfiguration", "elasticmapreduce:GetBlockPublicAccessConfiguration"),
        ("elasticmapreduce:PutBlockPublicAccessConfiguration",),
    ),
    "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList": (
        (
            "route53resolver:CreateFirewallDomainList",
            "route53resolver:UpdateFirewallDomains",
            "route53resolver:GetFirewallDomainList",
            "route53resolver:ListFirewallDomains",
            "route53resolver:TagResource",
            "route53resolver:DeleteFirewallDomainList",
        ),
        ("route53resolver:UpdateFirewallDomains", "route53resolver:DeleteFirewallDomainList"),
    ),
    "aws:route53/resolverFirewallRuleGroup:ResolverFirewallRuleGroup": (
        (
            "route53resolver:CreateFirewallRuleGroup",
            "route53resolver:GetFirewallRuleGroup",
            "route53resolver:TagResource",
            "route53resolver:DeleteFirewallRuleGroup",
        ),
        ("route53resolver:DeleteFirewallRuleGroup",),
    ),
    "aws:route53/resolverFirewallRule:ResolverFirewallRule": (
        (
            "route53resolver:CreateFirewallRule",
            "route53resolver:ListFirewallRules",
            "route53resolver:UpdateFirewallRule",
            "route53resolver:DeleteFirewallRule",
        ),
        ("route53resolver:UpdateFirewallRule", "route53resolver:DeleteFirewallRule"),
    ),
    "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation": (
        (
            "route53resolver:AssociateFirewallRuleGroup",
            "route53resolver:GetFirewallRuleGroupAssociation",
            "route53resolver:UpdateFirewallRuleGroupAssociation",
            "route53resolver:DisassociateFirewallRuleGroup",
        ),
        ("route53resolver:UpdateFirewallRuleGroupAssociation", "route53resolver:DisassociateFirewallRuleGroup"),
    ),
    "aws:route53/resolverFirewallConfig:ResolverFirewallConfig": (
        ("route53resolver:UpdateFirewallConfig", "route53resolver:GetFirewallConfig"),
        ("route53resolver:UpdateFirewallConfig",),
    ),
    "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig": (
        # Query logs to S3 are vended logs, set up under the caller's identity (docs/deployment.md).
        (
            "route53resolver:CreateResolverQueryLogConfig",
            "route53resolver:GetResolverQueryLogConfig",
            "route53resolver:DeleteResolverQueryLogConfig",
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:ListLogDeliveries",
            "logs:DeleteLogDelivery",
        ),
        ("route53resolver:DeleteResolverQueryLogConfig",),
    ),
    "aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation": (
        (
            "route53resolver:AssociateResolverQueryLogConfig",
            "route53resolver:GetResolverQueryLogConfigAssociation",
            "route53resolver:DisassociateResolverQueryLogConfig",
        ),
        ("route53resolver:DisassociateResolverQueryLogConfig",),
    ),
}
"""The account blocks (``components/account_guardrails.py``) and the DNS firewall (``components/dns_firewall.py``)."""

PROTECTED_COMPONENTS = ("enclave:account:AccountGuardrails", "enclave:network:DnsFirewall")


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_the_deployer_sets_every_block_and_the_firewall_and_nobody_else_lifts_them(stack, program_run):
    """On the first deploy (guardrails already attached) and every later one, the deployer's calls pass; an
    administrator's that weaken a block or the firewall are denied. A new block of #12 fails here until mapped."""
    run = program_run(stack)
    cfg = site_config_from_mapping(read_site_stack_values(stack))
    components = {r.urn for r in run.resources if r.type in PROTECTED_COMPONENTS}
    assert len(components) == len(PROTECTED_COMPONENTS)
    types = {r.type for r in run.resources if r.custom and r.parent in components}
    assert types == set(SETTING_CALLS), f"map the provider's calls of {sorted(types ^ set(SETTING_CALLS))}"
    admin = ADMIN.format(data=cfg.data_account_id)
    for calls, weakening in SETTING_CALLS.values():
        for action in calls:
            request = Request(action, _REGIONAL(action.split(":")[0]))
            assert scp_outcome(cfg, cfg.deployment_role_arn, request) == [], f"the deployer's {action}"
        for action in weakening:
            sids = scp_outcome(cfg, admin, Request(action, _REGIONAL(action.split(":")[0])))
            assert sids == ["OnlyDeployerChangesAccountGates"], f"an administrator's {action}: {sids}"


@functools.cache
def _reference() -> dict[str, list[dict]]:
    """The Service Authorization Reference as parliament 1.6.4 ships it: each service prefix's privileges."""
    path = Path(parliament.__file__).resolve().parent / "iam_definition.json"
    found: dict[str, list[dict]] = {}
    for service in json.loads(path.read_text()):
        found.setdefault(service["prefix"], []).extend(service["privileges"])
    return found


def _iam_actions(pattern: str) -> list[str]:
    """The actions of the Service Authorization Reference an IAM action pattern names."""
    prefix, name = pattern.split(":", 1)
    names = [p["privilege"] for p in _reference().get(prefix, [])]
    return [f"{prefix}:{n}" for n in names if fnmatch.fnmatchcase(n.lower(), name.lower())]


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_the_site_roles_own_permissions_pass_the_scps(stack, program_run):
    """The workload, the staff gate and the auditor (whose reads the live audit makes) are denied nothing their
    own policies allow, in the site's region: the perimeter reviewed every service they use."""
    from components.security_gates import PERIMETER_PROBE_ACTION

    cfg = site_config_from_mapping(read_site_stack_values(stack))
    policies = [r for r in program_run(stack).of_type("aws:iam/rolePolicy:RolePolicy")]
    assert {p.name.rsplit("-", 2)[-2] for p in policies} == {"workload", "auditor", "access"}
    for policy in policies:
        role = "staff-access" if policy.name.endswith("staff-access-policy") else policy.name.rsplit("-", 2)[-2]
        for st in json.loads(policy.inputs["policy"])["Statement"]:
            if st["Effect"] != "Allow":
                continue
            for pattern in _listed(st["Action"]):
                actions = _iam_actions(pattern)
                assert actions, f"{policy.name}: {pattern} names no action of the reference"
                for action in actions:
                    denied = scp_outcome(cfg, cfg.role_arn(role), Request(action, _any))
                    # The auditor's perimeter probe is granted so that only an SCP can refuse it.
                    assert bool(denied) is (role == "auditor" and action == PERIMETER_PROBE_ACTION), f"{role}: {action}"


def test_the_deployer_tears_a_sandbox_down():
    """What `pulumi destroy` of a sandbox does besides the settings above: the SCPs deny the deployer none of it."""
    cfg = site_config_from_mapping(read_site_stack_values("dublin"))
    teardown = [
        Request("s3:DeleteObjectVersion", _objects("user-data")),
        Request("s3:BypassGovernanceRetention", _objects("audit-logs")),
        Request("s3:ListBucketVersions", _bucket("audit-logs")),
        Request("s3:DeleteBucketPolicy", _bucket("exports")),
        Request("s3:DeleteBucket", _bucket("exports")),
        Request("ec2:DeleteVpcEndpoints", _REGIONAL("ec2")),
        Request("ec2:DeleteVpc", _REGIONAL("ec2")),
        Request("ec2:DeleteFlowLogs", _REGIONAL("ec2")),
        Request("cloudtrail:DeleteTrail", _TRAIL),
        Request("iam:DeleteRolePolicy", _role("staff-access")),
        Request("iam:DeleteRole", _role("staff-access")),
        Request("iam:DeletePolicy", _BOUNDARY),
        Request("secretsmanager:DeleteSecret", _REGIONAL("secretsmanager")),
        Request("kms:ScheduleKeyDeletion", _any, lambda cfg: {"aws:ResourceAccount": cfg.operator_account_id}),
    ]
    for request in teardown:
        assert scp_outcome(cfg, cfg.deployment_role_arn, request) == [], request.action


def test_staff_grants_need_no_change_of_the_guardrails():
    """Staff grants live in the staff gate's trust and policy, which the deployer writes; the SCPs and RCPs are
    the same with grants as without, name every approved principal (never only those with a grant), and admit
    every grant's principal to assume the staff gate."""
    from tests.grants_fixture import staff_grant

    plain = site_config_from_mapping(read_site_stack_values("dublin"))
    granted = config_with("dublin", staff=[staff_grant("dublin")])
    assert scps(granted) == scps(plain) and rcps(granted) == rcps(plain)
    gates = {st["Sid"]: st for st in scps(granted)[1]["Statement"]}
    assert gates["OnlyDeployerChangesStaffTrust"]["Resource"] == [a for a in granted.staff_principals if ":role/" in a]
    for grant in granted.staff_grants_in_force:
        account = grant.principal.split(":")[4]
        case = ("sts:AssumeRole", _role("staff-access"), lambda cfg, a=account: {"aws:PrincipalAccount": a}, "")
        assert rcp_request(granted, case) == [], grant.principal


# --------------------------------------------------------------------------- resources of the data account (RCPs)

RcpCase = tuple[str, Callable[[SiteConfig], str], Callable[[SiteConfig], dict], str]

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
    "another account (the auditor's too) assumes the deployment role": (
        "sts:AssumeRole",
        _DEPLOYER,
        lambda cfg: {"aws:PrincipalAccount": cfg.auditor_account_id},
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

PIPELINE_RCP_CASES: dict[str, RcpCase] = {
    "the pipeline's CI account assumes the deployment role": (
        "sts:AssumeRole",
        _DEPLOYER,
        lambda cfg: {"aws:PrincipalAccount": ci_of(cfg)},
        ALLOWED,
    ),
    "the pipeline's CI account assumes another site role": (
        "sts:AssumeRole",
        _role("staff-access"),
        lambda cfg: {"aws:PrincipalAccount": ci_of(cfg)},
        DENIED,
    ),
}
"""The RCP cells of a site whose pipeline runs in a CI account."""


def rcp_cases(cfg: SiteConfig) -> dict[str, RcpCase]:
    return {**RCP_CASES, **(PIPELINE_RCP_CASES if ci_of(cfg) else {})}


def rcps(cfg: SiteConfig) -> list[dict]:
    return [build(cfg, ci_of(cfg)) for build in RESOURCE_CONTROL_POLICIES.values()]


def rcp_request(cfg: SiteConfig, case: RcpCase) -> list[str]:
    action, resource, context, _ = case
    # Every request carries the time and (for these) TLS; the resource is the data account's.
    base = {
        "aws:SecureTransport": "true",
        "aws:ResourceAccount": cfg.data_account_id,
        "aws:CurrentTime": format_utc(cfg.as_of),
    }
    return denied_by(rcps(cfg), action, resource(cfg), {**base, **context(cfg)})


def rcp_outcome(cfg: SiteConfig, case: str) -> list[str]:
    return rcp_request(cfg, rcp_cases(cfg)[case])


@pytest.mark.parametrize("case", list(RCP_CASES))
def test_rcp_cell(cfg, case):
    sids = rcp_outcome(cfg, case)
    assert (DENIED if sids else ALLOWED) == RCP_CASES[case][3], f"{cfg.site} {case}: denied by {sids}"


def test_the_pipeline_rcp_cells_hold_where_there_is_a_ci_account():
    cfg = site_config_from_mapping(read_site_stack_values("dublin"))
    for case, (*_, outcome) in PIPELINE_RCP_CASES.items():
        sids = rcp_outcome(cfg, case)
        assert (DENIED if sids else ALLOWED) == outcome, f"{case}: denied by {sids}"
    # Without a CI account nobody assumes the deployer with sts:AssumeRole, from any account.
    hamar = site_config_from_mapping(read_site_stack_values("hamar"))
    for account in (hamar.data_account_id, hamar.auditor_account_id, "666666666666"):
        case = ("sts:AssumeRole", _DEPLOYER, lambda cfg, a=account: {"aws:PrincipalAccount": a}, DENIED)
        assert rcp_request(hamar, case) == ["OnlyThePipelineAssumesTheDeployer"], account


# --------------------------------------------------------------------------- transfers (RCPs with a grant in force)

SECOND = "888888888888"
"""Another recipient, with its own prefix."""
EXPIRED = "777777777777"
"""A recipient whose grant ended before the clock."""


def transfer_config(stack: str) -> SiteConfig:
    """The site with two transfer grants in force and one expired, judged at ``AT``."""
    return config_with(
        stack,
        transfers=[
            transfer_grant(),
            transfer_grant(recipientAccountId=SECOND, prefix="exports/other-lab/", ticket="XFER-78"),
            transfer_grant(
                recipientAccountId=EXPIRED,
                prefix="exports/old-study/",
                ticket="XFER-70",
                notBefore="2026-04-01T00:00:00Z",
                notAfter="2026-04-30T00:00:00Z",
            ),
        ],
    )


def _export(path: str) -> Callable[[SiteConfig], str]:
    return lambda cfg: f"{cfg.bucket_arn('exports')}{path}"


def _recipient(account: str = RECIPIENT, at: str | None = None, **extra) -> Callable[[SiteConfig], dict]:
    """A recipient's principal from its own network (no site endpoint), at ``at`` (default: the fixed clock)."""
    return lambda cfg: {
        "aws:PrincipalAccount": account,
        "aws:PrincipalArn": f"arn:aws:iam::{account}:role/export-reader",
        **({"aws:CurrentTime": at} if at else {}),
        **extra,
    }


LABELLED = {"s3:ExistingObjectTag/enclave:pseudonymised": "true"}
OWN = "/exports/acme-research/views.csv"

TRANSFER_CASES: dict[str, RcpCase] = {
    # who does what with the export bucket, grants XFER-77 (acme-research) and XFER-78 in force
    "the recipient lists its prefix in its window": (
        "s3:ListBucket",
        _export(""),
        _recipient(**{"s3:prefix": "exports/acme-research/"}),
        ALLOWED,
    ),
    "the recipient reads a pseudonymised export under its prefix in its window": (
        "s3:GetObject",
        _export(OWN),
        _recipient(**LABELLED),
        ALLOWED,
    ),
    "the same read before its window": (
        "s3:GetObject",
        _export(OWN),
        _recipient(at="2026-04-30T23:59:59Z", **LABELLED),
        DENIED,
    ),
    "the same read after its window": (
        "s3:GetObject",
        _export(OWN),
        _recipient(at="2026-05-31T00:00:01Z", **LABELLED),
        DENIED,
    ),
    "the recipient reads an object the pseudonymiser did not label": (
        "s3:GetObject",
        _export(OWN),
        _recipient(),
        DENIED,
    ),
    "the recipient reads another recipient's export": (
        "s3:GetObject",
        _export("/exports/other-lab/views.csv"),
        _recipient(**LABELLED),
        DENIED,
    ),
    "the other recipient reads its own export": (
        "s3:GetObject",
        _export("/exports/other-lab/views.csv"),
        _recipient(SECOND, **LABELLED),
        ALLOWED,
    ),
    "the other recipient reads the first one's export": (
        "s3:GetObject",
        _export(OWN),
        _recipient(SECOND, **LABELLED),
        DENIED,
    ),
    "the recipient lists the whole bucket": ("s3:ListBucket", _export(""), _recipient(), DENIED),
    "the recipient lists another recipient's prefix": (
        "s3:ListBucket",
        _export(""),
        _recipient(**{"s3:prefix": "exports/other-lab/"}),
        DENIED,
    ),
    "the recipient writes an export": ("s3:PutObject", _export(OWN), _recipient(), DENIED),
    "the recipient deletes an export": ("s3:DeleteObject", _export(OWN), _recipient(), DENIED),
    "the recipient relabels an export": ("s3:PutObjectTagging", _export(OWN), _recipient(**LABELLED), DENIED),
    "the recipient reads an old version": ("s3:GetObjectVersion", _export(OWN), _recipient(**LABELLED), DENIED),
    "the recipient reads the bucket's policy": ("s3:GetBucketPolicy", _export(""), _recipient(), DENIED),
    "the recipient reads user data": ("s3:GetObject", _objects("user-data"), _recipient(**LABELLED), DENIED),
    "the recipient uses a key of the data account": ("kms:Decrypt", _REGIONAL("kms"), _recipient(), DENIED),
    "the recipient of an expired grant reads its old prefix": (
        "s3:GetObject",
        _export("/exports/old-study/views.csv"),
        _recipient(EXPIRED, **LABELLED),
        DENIED,
    ),
    "an account without a grant reads an export": (
        "s3:GetObject",
        _export(OWN),
        _recipient(OTHER_ACCOUNT, **LABELLED),
        DENIED,
    ),
    "the pseudonymiser writes an export through the site's endpoint": (
        "s3:PutObject",
        _export(OWN),
        lambda cfg: {
            "aws:PrincipalAccount": cfg.data_account_id,
            "aws:PrincipalArn": cfg.role_arn("workload"),
            "aws:VpceAccount": cfg.data_account_id,
        },
        ALLOWED,
    ),
}
"""What the site's RCPs do on the export bucket with transfer grants in force (``transfer_config``)."""


@pytest.fixture(params=["dublin", "hamar"])
def transfers_cfg(request) -> SiteConfig:
    return transfer_config(request.param)


@pytest.mark.parametrize("case", list(TRANSFER_CASES))
def test_transfer_cell(transfers_cfg, case):
    sids = rcp_request(transfers_cfg, TRANSFER_CASES[case])
    expected = TRANSFER_CASES[case][3]
    assert (DENIED if sids else ALLOWED) == expected, f"{transfers_cfg.site} {case}: denied by {sids}"


def test_every_rcp_statement_stops_something_in_the_matrix(cfg):
    """Each statement of the shipped RCPs, and of the RCPs with grants in force, decides at least one cell.

    A recipient's statements are its own copies of one statement each (the account in the Sid differs).
    """

    def kind(sid: str) -> str:
        return re.sub(r"\d{12}", "<account>", sid)

    used, every = set(), set()
    for site, cases in ((cfg, rcp_cases(cfg)), (transfer_config(cfg.site), TRANSFER_CASES)):
        used |= {kind(sid) for case in cases.values() for sid in rcp_request(site, case)}
        every |= {kind(st["Sid"]) for doc in rcps(site) for st in doc["Statement"]}
    assert every <= used, f"statements no cell exercises: {sorted(every - used)}"


def test_a_recipient_can_do_nothing_but_get_object_and_list_bucket():
    """Every S3 action of the Service Authorization Reference (parliament's copy), tried by a recipient in its
    window on its own prefix with every key the action can carry set to pass: only two get through."""
    site = transfer_config("dublin")
    privileges = _reference()["s3"]
    allowed = set()
    for privilege in privileges:
        types = [t["resource_type"].rstrip("*") for t in privilege["resource_types"] if t["resource_type"]]
        keys = {k for t in privilege["resource_types"] for k in t["condition_keys"]}
        resource = {"object": _export(OWN), "bucket": _export("")}.get(types[0] if types else "", _any)
        extra = {
            **(LABELLED if "s3:ExistingObjectTag/<key>" in keys else {}),
            **({"s3:prefix": "exports/acme-research/"} if "s3:prefix" in keys else {}),
        }
        case = (f"s3:{privilege['privilege']}", resource, _recipient(**extra), "")
        if not rcp_request(site, case):
            allowed.add(privilege["privilege"])
    assert len(privileges) > 100, "the reference lists S3's actions"
    assert allowed == {"GetObject", "ListBucket"}


def test_a_recipient_with_two_grants_is_held_to_their_windows_and_prefixes():
    """Windows of one recipient merge when they meet; between two grants it is denied; each prefix is its own."""
    first = transfer_grant(ticket="XFER-80", notBefore="2026-05-01T00:00:00Z", notAfter="2026-05-10T00:00:00Z")
    touching = transfer_grant(ticket="XFER-81", notBefore="2026-05-10T00:00:00Z", notAfter="2026-05-12T00:00:00Z")
    later = transfer_grant(
        ticket="XFER-82",
        prefix="exports/acme-second/",
        notBefore="2026-05-20T00:00:00Z",
        notAfter="2026-05-25T00:00:00Z",
    )
    site = config_with(transfers=[first, touching, later])

    def read(path: str, at: str) -> list[str]:
        return rcp_request(site, ("s3:GetObject", _export(path), _recipient(at=at, **LABELLED), ""))

    assert read(OWN, "2026-05-11T12:00:00Z") == [], "touching windows are one"
    assert read(OWN, "2026-05-15T00:00:00Z") == [f"NotInGap1Of{RECIPIENT}"]
    assert read("/exports/acme-second/a.csv", "2026-05-21T00:00:00Z") == []
    assert read(OWN, "2026-05-25T00:00:01Z") == [f"NotAfter{RECIPIENT}"]
    assert read("/exports/acme-other/a.csv", "2026-05-21T00:00:00Z") == [f"Recipient{RECIPIENT}OnlyItsPrefixes"]


def test_an_expired_grant_is_left_out_and_a_future_one_waits():
    """The documents name the grants in force at the deploy; a future grant's recipient waits for its start."""
    expired = transfer_grant(notBefore="2026-04-01T00:00:00Z", notAfter="2026-04-30T00:00:00Z")
    assert RECIPIENT not in json.dumps(rcps(config_with(transfers=[expired])))
    future = transfer_grant(notBefore="2026-05-20T00:00:00Z", notAfter="2026-05-25T00:00:00Z")
    site = config_with(transfers=[future])
    assert rcp_request(
        site, TRANSFER_CASES["the recipient reads a pseudonymised export under its prefix in its window"]
    ) == [f"NotBefore{RECIPIENT}"]


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
        statement_denies({**st, "NotPrincipal": {"AWS": "x"}}, "s3:GetObject", "x", {})
    assert not statement_denies({"Sid": "S", "Effect": "Deny", "Action": "s3:*", "NotResource": "x*"}, "s3:A", "xy", {})
    assert statement_denies({"Sid": "S", "Effect": "Deny", "Action": "s3:*", "NotResource": "x*"}, "s3:A", "y", {})
    late = {**st, "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2026-05-31T00:00:00Z"}}}
    assert statement_denies(late, "s3:A", "x", {"aws:CurrentTime": "2026-05-31T00:00:01Z"})
    assert not statement_denies(late, "s3:A", "x", {"aws:CurrentTime": "2026-05-31T00:00:00Z"})
    assert not statement_denies(late, "s3:A", "x", {}), "a missing key makes a positive operator false"


# --------------------------------------------------------------------------- the tables the docs show


def _cell(outcome: str, sids: set[str]) -> str:
    """An outcome with the statements that decide it, as the docs show it."""
    return outcome if not sids else f"{outcome}: " + ", ".join(f"`{sid}`" for sid in sorted(sids))


def render_scp_matrix(cfg: SiteConfig) -> str:
    lines = ["| attempt | a data-account administrator (root included) | the deployment role |", "| --- | --- | --- |"]
    admin = ADMIN.format(data=cfg.data_account_id)
    for attempt, (requests, outcomes) in scp_cases(cfg).items():
        cells = [
            _cell(outcome, {sid for r in requests for sid in scp_outcome(cfg, principal, r)})
            for principal, outcome in zip((admin, cfg.deployment_role_arn), outcomes, strict=True)
        ]
        lines.append(f"| {attempt} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def render_auditor_matrix(cfg: SiteConfig) -> str:
    lines = ["| attempt | the auditor role |", "| --- | --- |"]
    for attempt, (requests, outcome) in AUDITOR_CASES.items():
        sids = {sid for r in requests for sid in scp_outcome(cfg, cfg.role_arn("auditor"), r)}
        lines.append(f"| {attempt} | {_cell(outcome, sids)} |")
    return "\n".join(lines)


def render_rcp_matrix(cfg: SiteConfig) -> str:
    lines = ["| request to the data account's resources | outcome |", "| --- | --- |"]
    lines += [
        f"| {case} | {_cell(outcome, set(rcp_outcome(cfg, case)))} |" for case, (*_, outcome) in rcp_cases(cfg).items()
    ]
    return "\n".join(lines)


def render_transfer_matrix(cfg: SiteConfig) -> str:
    lines = ["| request to the export bucket, grants in force | outcome |", "| --- | --- |"]
    site = transfer_config(cfg.site)
    lines += [f"| {case} | {_cell(spec[3], set(rcp_request(site, spec)))} |" for case, spec in TRANSFER_CASES.items()]
    return "\n".join(lines)


def test_docs_show_these_matrices():
    """The docs show dublin's tables (a CI account; hamar's differ only by the pipeline rows)."""
    cfg = site_config_from_mapping(read_site_stack_values("dublin"))
    text = DOC.read_text()
    for render in (render_scp_matrix, render_auditor_matrix, render_rcp_matrix, render_transfer_matrix):
        assert render(cfg) in text, f"{DOC}: paste {render.__name__}(cfg) from tests/test_guardrails_matrix.py"
