"""The guardrails: the organization the data account is in, the SCPs and RCPs attached to it, and what they deny.

Everything here runs from the data account with the auditor role, as AWS
documents it (docs/guardrails.md, "What the audit verifies"):

- ``organizations:DescribeOrganization`` answers any member account: the
  organization's id, its management account and its feature set, against the
  guardrails stack config (``guardrails/Pulumi.<stack>.yaml``, read with the
  guardrails project's own reader, ``guardrails.config``).
- ``ListPoliciesForTarget``, ``ListParents`` and ``DescribePolicy`` answer only
  the management account or an account it delegates them to (an Organizations
  resource-based delegation policy): when AWS refuses them, the result is
  ``unverified`` and says what would make it visible; when it answers, each
  policy's ``Content`` must be byte-equal to the compact JSON the guardrails
  program writes (``guardrails.organization_guardrails.policy_documents``).
- ``iam:SimulatePrincipalPolicy`` evaluates the SCPs that bind the simulated
  principal's account, with their conditions and resources (IAM API
  reference): for the deployment role, ``AllowedByOrganizations`` false on a
  request the guardrails matrix denies it proves that SCP attached and
  effective for that request. Each probe is a cell of that matrix
  (``tests/test_guardrails_matrix.py`` ties them) denied by exactly one SCP, so
  a detached policy shows as its own probes allowed.
- The perimeter probe: a harmless read of a service nobody reviewed
  (``lambda:GetAccountSettings``) that the auditor's own policy and boundary
  allow, so only a service control policy can refuse it; AWS's access-denied
  message then says so.
- The deployment role's trust (``iam:GetRole``): nobody inside the data account
  may become it.

RCPs cannot be seen working from inside (the simulator does not evaluate them,
and an outsider's refusal carries no enhanced message): they rest on
``guardrails-attached``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from components.config import SiteConfig
from components.security_gates import PERIMETER_PROBE_ACTION
from enclave.audit.base import MISSING_FIX, Audit, Check, Family, joined, register
from enclave.audit.common import AccessDeniedError, call, pages
from enclave.audit.policy import Principal, account_of, principals, statements

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
POLICIES_PER_TARGET = 5
"""Organizations' quota of SCPs, and separately of RCPs, attached directly to one root, OU or account."""

CHECKS = register(
    Check(
        "guardrails-organization",
        "The data account is in the guardrails' organization, with all features enabled",
        "Organization Id = organizationId, MasterAccountId = managementAccountId, FeatureSet ALL (SCPs and RCPs "
        "need all features)",
        "Compare guardrails/Pulumi.<stack>.yaml with aws organizations describe-organization: an account outside "
        "the organization has no guardrails; the management account enables all features and the guardrails stack "
        "attaches the policies.",
    ),
    Check(
        "guardrails-attached",
        "Each SCP and RCP of the site is attached to the data account as the guardrails program writes it",
        "enclave-<site>-<name> attached directly to targetId, Content byte-equal to the program's compact JSON; at "
        f"most {POLICIES_PER_TARGET} SCPs and {POLICIES_PER_TARGET} RCPs on the target and each of its parents",
        "Run pulumi up of the guardrails stack from the management account (guardrails/): it re-attaches and "
        "rewrites each policy; find who changed it in the management account's organization trail.",
    ),
    Check(
        "guardrails-effective-scp",
        "The SCPs deny the deployment role what the guardrails matrix denies it, and allow what it allows",
        "iam:SimulatePrincipalPolicy of the deployment role: AllowedByOrganizations false for each request the "
        "matrix denies the deployer, true for each it allows",
        "Re-attach the guardrails (pulumi up of guardrails/ from the management account); if they are attached, "
        "compare their content with the program's (guardrails-attached).",
    ),
    Check(
        "guardrails-effective-perimeter-probe",
        "A service nobody reviewed is refused to the auditor's own session by a service control policy",
        f"{PERIMETER_PROBE_ACTION} in the site's region, which the auditor's own policy and boundary allow, refused "
        "with AWS's message naming a service control policy",
        "Re-attach the perimeter SCP with pulumi up of the guardrails stack from the management account; run the "
        "audit as the auditor role (whose policies allow the probe).",
    ),
    Check(
        "guardrails-deployer-trust",
        "Nobody inside the data account can become the deployment role",
        "the deployment role's trust names no principal of the data account (no root, role, user or session of it), "
        "no AWS service and not *: only the pipeline, from another account or a web identity provider",
        "Restrict the deployment role's trust to the pipeline (its OIDC subject, or a CI account's role): an "
        "operator-held change, since the gates SCP freezes the role (docs/guardrails.md).",
    ),
)

PERMISSIONS = (
    "iam:GetRole",
    "iam:SimulatePrincipalPolicy",
    "lambda:GetAccountSettings",
    "organizations:DescribeOrganization",
    "organizations:DescribePolicy",
    "organizations:ListParents",
    "organizations:ListPoliciesForTarget",
)


@dataclass(frozen=True)
class Probe:
    """One request of the guardrails matrix, simulated for the deployment role."""

    attempt: str
    """The matrix row it belongs to (``tests/test_guardrails_matrix.py:SCP_CASES``)."""
    action: str
    resource: Callable[[SiteConfig], str]
    policy: str
    """The one SCP (short name) that denies it to the deployer; ``""`` when the guardrails allow it."""
    region: str | None = None
    """``aws:RequestedRegion``: None for the site's region (IAM and Organizations requests carry us-east-1)."""
    context: Callable[[SiteConfig], dict[str, str]] = field(default=lambda cfg: {})


def _any(cfg: SiteConfig) -> str:
    return "*"


def _deployer(cfg: SiteConfig) -> str:
    return cfg.deployment_role_arn


SCP_PROBES = (
    Probe("act in another region", "s3:CreateBucket", _any, "perimeter", region="us-east-1"),
    Probe("use a service nobody reviewed", "lambda:CreateFunction", _any, "perimeter"),
    Probe("become, widen or pass the deployment role", "sts:AssumeRole", _deployer, "gates"),
    Probe("become, widen or pass the deployment role", "iam:AttachRolePolicy", _deployer, "gates", "us-east-1"),
    Probe("open a network path out", "ec2:CreateInternetGateway", _any, "no-way-out"),
    Probe("add replication", "s3:PutReplicationConfiguration", lambda cfg: cfg.bucket_arn("user-data"), "no-way-out"),
    Probe(
        "write into another account's bucket or use its key",
        "s3:PutObject",
        lambda cfg: "arn:aws:s3:::exfil/*",
        "no-way-out",
        context=lambda cfg: {"aws:ResourceAccount": "777777777777"},
    ),
    Probe(
        "edit a site role's trust, policies or tags",
        "iam:UpdateAssumeRolePolicy",
        lambda cfg: cfg.role_arn("staff-access"),
        "",
        "us-east-1",
    ),
    Probe(
        "change or delete a bucket policy, encryption, versioning or Object Lock",
        "s3:PutBucketPolicy",
        lambda cfg: cfg.bucket_arn("user-data"),
        "",
    ),
    Probe(
        "build the isolated network, endpoints to AWS services",
        "ec2:CreateVpcEndpoint",
        _any,
        "",
        context=lambda cfg: {"ec2:VpceServiceOwner": "amazon"},
    ),
    Probe(
        "use the operator's key in the region",
        "kms:Decrypt",
        _any,
        "",
        context=lambda cfg: {"aws:ResourceAccount": cfg.operator_account_id},
    ),
)
"""Requests whose outcome for the deployer the guardrails matrix fixes, each denied by exactly one SCP (or none)."""


def run(audit: Audit) -> None:
    _deployer_trust_result(audit)
    _effective_scp_results(audit)
    _perimeter_probe_result(audit)
    if audit.guardrails is None:
        for check_id in ("guardrails-organization", "guardrails-attached"):
            audit.add(
                check_id,
                False,
                [audit.scope()],
                f"no guardrails stack for this site: {audit.guardrails_source} is missing",
                fix="Create the site's guardrails stack (guardrails/Pulumi.<stack>.yaml, docs/guardrails.md) and "
                "let the operator deploy it from the management account; then run again.",
            )
        return
    organization = _organization_result(audit)
    if organization is not None:
        _attached_results(audit, organization)


def policy_label(name: str) -> str:
    """How results name an organization policy (its ARN is the management account's, unknown from inside)."""
    return f"organizations policy {name}"


# --------------------------------------------------------------------------- the organization


def _organization_result(audit: Audit) -> dict | None:
    wanted = audit.guardrails
    orgs = audit.client("organizations")
    described = call(
        orgs,
        "DescribeOrganization",
        f"the organization of account {audit.account}",
        none_codes=("AWSOrganizationsNotInUseException",),
    )
    if described is None:
        audit.add(
            "guardrails-organization",
            False,
            [audit.scope()],
            "the data account is in no organization: no SCP or RCP binds it",
        )
        return None
    org = described["Organization"]
    problems = []
    if org.get("Id") != wanted.organization_id:
        problems.append(f"organization {org.get('Id')}, the guardrails expect {wanted.organization_id}")
    if org.get("MasterAccountId") != wanted.management_account_id:
        problems.append(
            f"management account {org.get('MasterAccountId')}, the guardrails expect {wanted.management_account_id}"
        )
    if org.get("FeatureSet") != "ALL":
        problems.append(f"feature set {org.get('FeatureSet')}: SCPs and RCPs apply only with ALL")
    audit.add(
        "guardrails-organization",
        not problems,
        [org.get("Arn") or audit.scope()],
        joined(
            problems, f"organization {org.get('Id')}, management account {org.get('MasterAccountId')}, all features"
        ),
    )
    return org


# --------------------------------------------------------------------------- what is attached


def _attached_results(audit: Audit, org: dict) -> None:
    from guardrails.organization_guardrails import policy_documents
    from guardrails.service_control import compact_json

    target = audit.guardrails.target_id
    target_label = _node_label(org, target)
    orgs = audit.client("organizations")
    try:
        attached = {kind: _policies_for(orgs, target, kind) for kind in (SCP, RCP)}
        parents = _parents(orgs, target)
        counts = [(target_label, len(attached[SCP]), len(attached[RCP]))]
        for node in parents:
            counts.append(
                (_node_label(org, node), len(_policies_for(orgs, node, SCP)), len(_policies_for(orgs, node, RCP)))
            )
        contents = {}
        for name, (kind, _, _) in policy_documents(audit.cfg).items():
            summary = next((p for p in attached[kind] if p.get("Name") == name), None)
            if summary is not None:
                described = call(orgs, "DescribePolicy", f"policy {name}", PolicyId=summary["Id"])
                contents[name] = (summary, described["Policy"]["Content"])
    except AccessDeniedError as exc:
        audit.unverified(
            "guardrails-attached",
            [target_label],
            f"not visible from the data account: {exc.action} denied (AWS serves it only to the management account "
            "or an account it delegates it to)",
            f"To make it visible, the operator adds an Organizations resource-based delegation policy in the "
            f"management account (aws.organizations.ResourcePolicy) that allows arn:aws:iam::{audit.account}:root "
            "organizations:ListPoliciesForTarget, organizations:ListParents and organizations:DescribePolicy (the "
            "auditor role holds them already), or gives the auditor a read-only role in the management account. "
            "Meanwhile guardrails-effective-scp and guardrails-effective-perimeter-probe show the SCPs in effect.",
        )
        return
    for name, (kind, _, document) in policy_documents(audit.cfg).items():
        expected = compact_json(document)
        label = policy_label(name)
        if name not in contents:
            audit.add("guardrails-attached", False, [label, target_label], f"{kind} not attached to {target_label}")
            continue
        summary, content = contents[name]
        if content == expected:
            found = f"{kind} {summary['Id']} attached to {target_label}, content as the guardrails program writes it"
        else:
            at = next((i for i, (a, b) in enumerate(zip(content, expected, strict=False)) if a != b), None)
            found = (
                f"{kind} {summary['Id']} attached, but its content differs from the program's ({len(content)} "
                f"characters, the program's {len(expected)}; first difference at character "
                f"{at if at is not None else min(len(content), len(expected))})"
            )
        audit.add("guardrails-attached", content == expected, [label, summary.get("Arn", ""), target_label], found)
    over = [
        f"{label}: {scps} SCPs, {rcps} RCPs" for label, scps, rcps in counts if max(scps, rcps) > POLICIES_PER_TARGET
    ]
    audit.add(
        "guardrails-attached",
        not over,
        [target_label],
        joined(
            over,
            "policies per node within the quota: " + "; ".join(f"{lbl} {s} SCPs, {r} RCPs" for lbl, s, r in counts),
        ),
    )


def _policies_for(orgs: Any, target: str, kind: str) -> list[dict]:
    return [
        p
        for page in pages(orgs, "ListPoliciesForTarget", f"policies attached to {target}", TargetId=target, Filter=kind)
        for p in page.get("Policies", [])
    ]


def _parents(orgs: Any, child: str) -> list[str]:
    """The OUs above ``child`` and the root, nearest first."""
    found: list[str] = []
    while True:
        listed = [
            p for page in pages(orgs, "ListParents", f"parents of {child}", ChildId=child) for p in page["Parents"]
        ]
        if not listed:
            return found
        child = listed[0]["Id"]
        found.append(child)
        if listed[0].get("Type") == "ROOT":
            return found


def _node_label(org: dict, node: str) -> str:
    kind = "root" if node.startswith("r-") else "ou" if node.startswith("ou-") else "account"
    return f"arn:aws:organizations::{org.get('MasterAccountId')}:{kind}/{org.get('Id')}/{node}"


# --------------------------------------------------------------------------- what the SCPs deny


def probe_context(cfg: SiteConfig, probe: Probe) -> dict[str, str]:
    """The request context a probe is simulated with: what AWS would put in the real request."""
    return {
        "aws:RequestedRegion": probe.region or cfg.region,
        # The simulator is not documented to fill the principal's ARN from PolicySourceArn: pass it.
        "aws:PrincipalArn": cfg.deployment_role_arn,
        "aws:ResourceAccount": cfg.data_account_id,
        **probe.context(cfg),
    }


def _effective_scp_results(audit: Audit) -> None:
    cfg = audit.cfg
    iam = audit.client("iam")
    outcomes: dict[str, list[str]] = {}
    for probe in SCP_PROBES:
        context = probe_context(cfg, probe)
        result = call(
            iam,
            "SimulatePrincipalPolicy",
            f"the deployment role {cfg.deployment_role_arn}",
            PolicySourceArn=cfg.deployment_role_arn,
            ActionNames=[probe.action],
            ResourceArns=[probe.resource(cfg)],
            ContextEntries=[
                {"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"} for k, v in context.items()
            ],
        )["EvaluationResults"][0]
        detail = result.get("OrganizationsDecisionDetail")
        # Absent: the simulated account is in no organization, so no SCP decides anything.
        allowed = True if detail is None else bool(detail.get("AllowedByOrganizations"))
        where = f" in {probe.region}" if probe.region else ""
        if allowed == (probe.policy == ""):
            continue
        outcomes.setdefault(probe.policy, []).append(
            f"{probe.action} on {probe.resource(cfg)}{where} ({probe.attempt}): "
            + (
                "allowed by organizations, the matrix denies it"
                if allowed
                else "denied by organizations, the matrix allows it"
            )
        )
    for short in ("perimeter", "gates", "no-way-out"):
        probes = [p for p in SCP_PROBES if p.policy == short]
        wrong = outcomes.get(short, [])
        audit.add(
            "guardrails-effective-scp",
            not wrong,
            [policy_label(f"{cfg.name_prefix}-{short}"), cfg.deployment_role_arn],
            joined(
                wrong, f"each of {len(probes)} probes denied by organizations: " + ", ".join(p.action for p in probes)
            ),
        )
    kept = [p for p in SCP_PROBES if not p.policy]
    wrong = outcomes.get("", [])
    audit.add(
        "guardrails-effective-scp",
        not wrong,
        [cfg.deployment_role_arn],
        joined(wrong, f"the deployer's reviewed changes allowed by organizations: {', '.join(p.action for p in kept)}"),
    )


def _perimeter_probe_result(audit: Audit) -> None:
    cfg = audit.cfg
    resources = [audit.scope(), policy_label(f"{cfg.name_prefix}-perimeter")]
    try:
        call(audit.client("lambda"), "GetAccountSettings", f"Lambda settings of {audit.where}")
    except AccessDeniedError as exc:
        if exc.by_scp:
            audit.add(
                "guardrails-effective-perimeter-probe",
                True,
                resources,
                f"{exc.action} refused by a service control policy (AWS said: {exc.aws_message})",
            )
        else:
            audit.add(
                "guardrails-effective-perimeter-probe",
                False,
                resources,
                f"{exc.action} refused, but AWS names no service control policy (it said: {exc.aws_message}): the "
                "caller's own policies refused it",
            )
        return
    audit.add(
        "guardrails-effective-perimeter-probe",
        False,
        resources,
        f"{PERIMETER_PROBE_ACTION} answered: no service control policy denies a service nobody reviewed",
    )


# --------------------------------------------------------------------------- who can become the deployer


def _deployer_trust_result(audit: Audit) -> None:
    cfg = audit.cfg
    arn = cfg.deployment_role_arn
    name = arn.rsplit("/", 1)[-1]
    role = call(audit.client("iam"), "GetRole", f"role {name}", none_codes=("NoSuchEntity",), RoleName=name)
    if role is None:
        audit.add("guardrails-deployer-trust", False, [arn], f"no role named {name}", fix=MISSING_FIX)
        return
    problems = []
    for i, s in enumerate(statements(role["Role"].get("AssumeRolePolicyDocument"))):
        if s.get("Effect") != "Allow":
            continue
        for p in principals(s):
            problem = _inside(cfg, p)
            if problem:
                problems.append(f"{s.get('Sid') or f'statement {i}'} lets {problem} assume it")
    audit.add(
        "guardrails-deployer-trust", not problems, [arn], joined(problems, "only principals outside the data account")
    )


def _inside(cfg: SiteConfig, principal: Principal) -> str | None:
    """Why ``principal`` is inside the data account (or anyone at all), or None for the pipeline from outside."""
    if principal.kind == "AWS":
        if principal.value == "*":
            return "*"
        return str(principal) if account_of(principal.value) == cfg.data_account_id else None
    if principal.kind == "Service":
        # An AWS service assumes a role for compute of the account that passed it: inside.
        return str(principal)
    # Federated: a web identity or SAML provider's identities come from outside (the pipeline's OIDC subject).
    return None


FAMILY = Family("guardrails", CHECKS, PERMISSIONS, run)
