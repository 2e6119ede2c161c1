"""identity-perimeter: nothing names, trusts, shares with or sends to an account outside the site.

The site's accounts are its data, operator and auditor accounts, plus the
accounts the policy config trusts (``trustedAccounts``, each with a reason,
optionally only for some resources). Any other account is a way out, wherever
it appears: an ARN, a principal, a grantee, a share target, a consumer, an
owner input, an ECR registry host, a queue URL, a policy condition. An
organization or OU id admits every account in it, so it is not the site
either. ``Principal "*"`` in an Allow statement must be confined to the site
by a condition that really restricts it (aws:PrincipalAccount, aws:SourceAccount,
aws:PrincipalArn, aws:SourceArn, aws:SourceVpce/aws:SourceVpc of the site, with
an operator that fails when the key is absent). Deny statements take access
away and are not checked. An S3 bucket named by a destination, a policy or a
URI must be one of the program's buckets in the site's region and data
account: a bucket name carries no account, so anything else fails closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from . import exceptions, names, scan
from .site import Site, site_of
from .stack import StackIndex, report_each
from .values import MISSING, arn_parts, decode_json, get, is_unknown, items, missing_config_message

NAME = names.IDENTITY_PERIMETER

VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
VPC = "aws:ec2/vpc:Vpc"
ORG_POLICY = "aws:organizations/policy:Policy"
ORG_ATTACHMENT = "aws:organizations/policyAttachment:PolicyAttachment"
# Organization policies that can only take permissions away: attaching one to an OU or root
# restricts the accounts in it and opens nothing (AWS Organizations user guide, SCPs and RCPs).
RESTRICTING_ORG_POLICY_TYPES = frozenset({"SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"})
# Endpoint types that take an endpoint policy (Gateway and Interface; the others do not support one).
POLICY_ENDPOINT_TYPES = ("Interface", "Gateway", None)


# Where a hit was found, for messages.
_WHERE = {"arn": "ARN", "host": "hostname", "url": "URL", "word": "value"}


def _trust_hint(site: Site) -> str:
    return (
        "name one of the site's accounts, or trust it in this policy's config (trustedAccounts: accountId, reason, "
        "and the resources it is for)"
    )


def _account_message(hit: scan.Hit, site: Site) -> str:
    where = _WHERE.get(hit.detail, "value")
    return (
        f"{hit.prop}: {where} {hit.token!r} names account {hit.value}, outside the site's accounts "
        f"({site.describe_accounts()}): {_trust_hint(site)}"
    )


def _site_arn(value: str, res: Any, index: StackIndex) -> bool:
    """An ARN of the site: its account is the site's, or (S3) its bucket is one of the program's site buckets."""
    parts = arn_parts(value)
    if parts is None:
        return False
    service, _region, account, resource = parts
    if account:
        return account.isdigit() and index.site.admits(account, res.urn, res.name)
    if service == "s3":
        return index.bucket_problem(resource.split("/", 1)[0]) is None
    return False


def _site_network_id(value: str, index: StackIndex, kind: str) -> bool:
    wanted = VPC_ENDPOINT if kind == "aws:sourcevpce" else VPC
    target = index.by_ref.get(value)
    return target is not None and target.resource_type == wanted and index.in_site(target)


def confining_condition(conditions: tuple, res: Any, index: StackIndex) -> str | None:
    """The condition key that confines a ``Principal "*"`` statement to the site, or None."""
    site = index.site
    for key, values in conditions:
        if not values or any("*" in v or "?" in v for v in values if key not in scan.ARN_CONDITIONS):
            continue
        if key in scan.ACCOUNT_CONDITIONS:
            ok = all(v.isdigit() and site.admits(v, res.urn, res.name) for v in values)
        elif key in scan.ARN_CONDITIONS:
            ok = all(_site_arn(v, res, index) for v in values)
        else:
            ok = all(_site_network_id(v, index, key) for v in values)
        if ok:
            return key
    return None


def _covers(patterns: tuple[str, ...], values: tuple[str, ...]) -> bool:
    """Every value (an action or resource of the Allow) matches one of a Deny's patterns."""
    lowered = [p.lower() for p in patterns]
    return bool(values) and all(any(fnmatchcase(v.lower(), p) for p in lowered) for v in values)


def star_confined(star: scan.Star, res: Any, index: StackIndex) -> bool:
    """An Allow for every principal is confined by its own condition, or by a Deny of the same document that
    denies every principal its actions on its resources unless a key is the site's."""
    if confining_condition(star.conditions, res, index) is not None:
        return True
    return any(
        _covers(actions, star.actions) and _covers(resources, star.resources)
        and confining_condition(conditions, res, index) is not None
        for actions, resources, conditions in star.guards
    )  # fmt: skip


def _star_message(hit: scan.Hit) -> str:
    not_principal, sid = hit.detail.not_principal, hit.detail.sid
    who = "NotPrincipal (everyone but the named)" if not_principal else "Principal '*'"
    return (
        f"{hit.prop} statement {sid!r} allows {who} without a condition that confines it to the site: add "
        "aws:PrincipalAccount (StringEquals the site's accounts) or aws:SourceVpce (StringEquals the site's VPC "
        "endpoint); aws:PrincipalOrgID admits every account of the organization, and ...IfExists or Not... "
        "operators do not confine"
    )


def hit_findings(res: Any, index: StackIndex) -> Iterator[str]:
    """Messages for the accounts, organizations, buckets and open principals one resource's inputs name."""
    site = index.site
    for hit in index.hits(res):
        if hit.effect == "Deny":
            continue
        kind = hit.kind
        if kind == scan.ACCOUNT:
            if not site.admits(hit.value, res.urn, res.name):
                yield _account_message(hit, site)
        elif kind == scan.ANY_ACCOUNT:
            yield (
                f"{hit.prop}: ARN {hit.token!r} names any account ({hit.value}), so it reaches resources outside the "
                "site: name the site's account instead of a wildcard"
            )
        elif kind == scan.ORG:
            if res.resource_type == ORG_ATTACHMENT and hit.prop == "targetId":
                continue  # decided with the attached policy below
            yield (
                f"{hit.prop}: {hit.value!r} is an AWS Organizations organization or OU, which admits accounts "
                f"beyond the site's ({site.describe_accounts()}): name the site's accounts instead"
            )
        elif kind in (scan.BUCKET, scan.BUCKET_UNKNOWN):
            problem = index.bucket_hit_problem(res, hit)
            if problem:
                yield problem
        elif kind == scan.STAR:
            if not star_confined(hit.detail, res, index):
                yield _star_message(hit)


# --------------------------------------------------------------------------- per-type checks


def _vpc_endpoint(res: Any, index: StackIndex) -> Iterator[str]:
    endpoint_type = get(res.props, "vpcEndpointType")
    if endpoint_type not in (*POLICY_ENDPOINT_TYPES, MISSING) or is_unknown(endpoint_type):
        return
    policy = get(res.props, "policy")
    if policy is MISSING or policy in (None, ""):
        yield (
            "the endpoint has no policy, so AWS applies full access: workloads could reach any account's "
            "resources through it; set a policy that admits only the site's resources and principals "
            "(aws:PrincipalAccount and aws:ResourceAccount of the site)"
        )


def _principal_star(prop: str) -> Any:
    def check(res: Any, index: StackIndex) -> Iterator[str]:
        principal = get(res.props, prop)
        if principal == "*":
            if res.resource_type == "aws:lambda/permission:Permission":
                for key in ("sourceAccount", "sourceArn"):
                    value = get(res.props, key)
                    if key == "sourceAccount" and isinstance(value, str) and index.site.admits(value):
                        return
                    if key == "sourceArn" and isinstance(value, str) and _site_arn(value, res, index):
                        return
            yield f"{prop} = '*' grants every AWS account: name a principal of the site"

    return check


def _allowed_principals(res: Any, index: StackIndex) -> Iterator[str]:
    for key in ("allowedPrincipals", "principalArn"):
        for value in items(get(res.props, key)):
            if value == "*":
                yield f"{key} includes '*': any account's VPC could connect to this endpoint service; name site principals"


def _resource_share(res: Any, index: StackIndex) -> Iterator[str]:
    value = get(res.props, "allowExternalPrincipals")
    if value is not False:
        yield (
            f"allowExternalPrincipals = {value!r}: AWS's default lets the share reach accounts outside the "
            "organization; set allow_external_principals=False and share only with the site's accounts"
        )


def _ami_permission(res: Any, index: StackIndex) -> Iterator[str]:
    if get(res.props, "group") == "all":
        yield "group = 'all' makes the image public: share it only with the site's accounts"


def _bucket_acl(res: Any, index: StackIndex) -> Iterator[str]:
    owner = get(res.props, "accessControlPolicy", "owner", "id")
    for grant in items(get(res.props, "accessControlPolicy", "grants")):
        grantee = get(grant, "grantee")
        gid = get(grantee, "id")
        if gid is not MISSING and gid == owner:
            continue
        who = next((get(grantee, k) for k in ("id", "emailAddress", "uri") if get(grantee, k) is not MISSING), "?")
        yield (
            f"an ACL grant to {who!r} cannot be proven to stay in the site's accounts: remove ACL grants "
            "(BucketOwnerEnforced) and grant access by bucket policy"
        )


def _org_attachment(res: Any, index: StackIndex) -> Iterator[str]:
    target = get(res.props, "targetId")
    if is_unknown(target) or not isinstance(target, str):
        yield "targetId is unknown at preview: attach guardrails to a literal account or OU id of the site"
        return
    if target.isdigit():
        return  # an account: the scan decides whether it is the site's
    policies = index.resolve(res, "policyId", get(res.props, "policyId"))
    kinds = {get(p.props, "type") for p in policies if p.resource_type == ORG_POLICY}
    if not kinds:
        yield (
            f"targetId {target!r} is an OU or root, and the attached policy is not one of this program's, so the "
            "pack cannot prove it only restricts: attach a service or resource control policy of this program"
        )
    elif not kinds <= RESTRICTING_ORG_POLICY_TYPES:
        yield (
            f"targetId {target!r} is an OU or root, which holds accounts beyond the site's, and the attached policy "
            f"is of type {sorted(kinds)}: only SERVICE_CONTROL_POLICY or RESOURCE_CONTROL_POLICY, which can only "
            "take permissions away, may be attached beyond the site's accounts"
        )


IAM_POLICY = "aws:iam/policy:Policy"


def _allow_statements(document: Any) -> list[dict] | None:
    """The Allow statements of a policy document; None when it is unknown or not a readable document."""
    doc = decode_json(document)
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    statements = [statements] if isinstance(statements, dict) else statements
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        return None
    return [s for s in statements if s.get("Effect") == "Allow"]


def _assumable_by_people(trust: Any) -> bool:
    """Whether a trust policy lets anything but AWS services assume the role (unknown or unreadable: yes).

    A ``Service`` principal is AWS running the program's own compute or a service's work (replication,
    delivery) as the role; an ``AWS`` or ``Federated`` principal, ``"*"`` or ``NotPrincipal`` is
    somebody's session.
    """
    allows = _allow_statements(trust)
    if allows is None:
        return True
    return any(
        "NotPrincipal" in s or not isinstance(s.get("Principal"), dict) or set(s["Principal"]) - {"Service"}
        for s in allows
    )


ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
AWS_SERVICE_ROLE_POLICIES = ("arn:aws:iam::aws:policy/service-role/", "arn:aws:iam::aws:policy/aws-service-role/")
"""AWS-managed policies AWS writes for one service's own role (a function's logs and network interfaces, a
delivery's writes): scoped by AWS to that service's work, unlike AdministratorAccess or ``*FullAccess``."""


def _allows_everything(document: Any) -> bool:
    """An Allow of every action (``"*"``) or of all but some (``NotAction``): unknown or unreadable counts."""
    allows = _allow_statements(document)
    if allows is None:
        return True
    return any(
        "NotAction" in s or "*" in (s.get("Action") if isinstance(s.get("Action"), list) else [s.get("Action")])
        for s in allows
    )


def _unconfined_grants(res: Any, index: StackIndex) -> list[str]:
    """What a role is given that the pack cannot bound: managed policies it cannot read, Allow-everything."""
    found = []
    attachments = index.referrers(res, ROLE_POLICY_ATTACHMENT, "role")
    # (the program's policies it names, the ARN): an attachment by reference or ARN, the role's list by ARN.
    managed = [(index.refs(a, "policyArn", IAM_POLICY), get(a.props, "policyArn")) for a in attachments]
    for arn in items(get(res.props, "managedPolicyArns")):
        named = index.by_ref.get(arn) if isinstance(arn, str) else None
        managed.append(([named] if named is not None and named.resource_type == IAM_POLICY else [], arn))
    for program, arn in managed:
        if program:
            if any(_allows_everything(get(p.props, "policy")) for p in program):
                found.append(f"policy {program[0].name!r} allows every action")
        elif isinstance(arn, str) and not is_unknown(arn) and arn.startswith(AWS_SERVICE_ROLE_POLICIES):
            continue
        elif is_unknown(arn):
            found.append("a managed policy unknown offline")
        else:
            found.append(f"managed policy {arn!r}, which the pack cannot read")
    inline = [get(i, "policy") for i in items(get(res.props, "inlinePolicies"))]
    inline += [get(r.props, "policy") for r in index.referrers(res, ROLE_POLICY, "role")]
    if any(_allows_everything(document) for document in inline):
        found.append("an inline policy that allows every action")
    return found


def _role_boundary(res: Any, index: StackIndex) -> Iterator[str]:
    """A role that people can assume carries a permissions boundary the program defines (so the pack reads it).

    Staff reach the data only through the site's gates: a role a principal of the account (or of any
    account, or an identity provider) may assume is a gate, and the boundary is what takes transfer-out,
    other regions and writes into other accounts away from it whatever is attached to it later. A role
    only AWS services assume (a function's, a replication's) is judged by its policies, which the pack
    reads like every other document. An AWS-managed policy or another account's is not the site's
    boundary, and one this program does not create cannot be read here.
    """
    if index.refs(res, "permissionsBoundary", IAM_POLICY):
        return
    why = "principals other than AWS services may assume it"
    if not _assumable_by_people(get(res.props, "assumeRolePolicy")):
        unconfined = _unconfined_grants(res, index)
        if not unconfined:
            return
        why = f"it is given {'; '.join(unconfined)}"
    boundary = get(res.props, "permissionsBoundary")
    shown = (
        "the role has no permissions boundary"
        if boundary in (MISSING, None, "")
        else f"permissionsBoundary {boundary!r} is not a policy of this program"
    )
    yield (
        f"{shown}, and {why}: without the site's boundary such a role holds whatever is attached to it, "
        "transfer-out and writes into other accounts included; set permissions_boundary to the site's boundary "
        "(SecurityGates' permissions_boundary_arn) or to an aws.iam.Policy of this program, or let only AWS "
        "services assume it with policies the pack can read (the program's, or AWS's service-role policies)"
    )


TYPE_CHECKS = {
    VPC_ENDPOINT: _vpc_endpoint,
    "aws:iam/role:Role": _role_boundary,
    ORG_ATTACHMENT: _org_attachment,
    "aws:ram/resourceShare:ResourceShare": _resource_share,
    "aws:lambda/permission:Permission": _principal_star("principal"),
    "aws:lambda/layerVersionPermission:LayerVersionPermission": _principal_star("principal"),
    "aws:cloudwatch/eventPermission:EventPermission": _principal_star("principal"),
    "aws:ec2/amiLaunchPermission:AmiLaunchPermission": _ami_permission,
    "aws:s3/bucketAcl:BucketAcl": _bucket_acl,
    "aws:s3/bucketAclV2:BucketAclV2": _bucket_acl,
    "aws:ec2/vpcEndpointService:VpcEndpointService": _allowed_principals,
    "aws:ec2/vpcEndpointServiceAllowedPrinciple:VpcEndpointServiceAllowedPrinciple": _allowed_principals,
}


SPECIAL_TYPES = frozenset(TYPE_CHECKS)
"""Types this rule checks by their own inputs, beyond the scan every resource gets."""


def findings(res: Any, index: StackIndex) -> Iterator[str]:
    """Every way one resource reaches an account outside the site."""
    yield from hit_findings(res, index)
    check = TYPE_CHECKS.get(res.resource_type)
    if check is not None:
        yield from check(res, index)


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    site = site_of(args)
    for key, value in (
        ("allowedRegion", site.region),
        ("dataAccountId", site.data),
        ("operatorAccountId", site.operator),
    ):
        if value is None:
            report_violation(missing_config_message(NAME, key))
            return
    report_each(
        args,
        site,
        report_violation,
        findings,
        lambda typ: typ.startswith("aws:") or typ == "pulumi:providers:aws",
        TYPE_CHECKS,
    )


POLICY = StackValidationPolicy(
    name=NAME,
    description="Nothing names, trusts, shares with or sends to an account outside the site's data, operator, auditor and trusted accounts.",
    validate=exceptions.stack_policy(NAME, validate),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=exceptions.config_schema(
        required=["allowedRegion", "dataAccountId", "operatorAccountId"], accounts=True
    ),
)
