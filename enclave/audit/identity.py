"""IAM: who can become a site role, what the permissions boundary still says, and whether a site role
could become a role without it.

"Correct" comes from the program: the trust policies and the boundary the
audit compares against are the ones ``components.security_gates`` builds for
the same config, so the checks follow the code. Who may be trusted is data: a
role the program defines admits exactly the principals its program trust
policy names (an account's root there admits that account's principals):

- ``staff-access``: ``staffPrincipals`` (exact ARNs), with MFA, the ticket tag
  and the program's other conditions; at most ``STAFF_SESSION_SECONDS``;
- ``auditor``: principals of ``auditorAccountId``, with the external id;
- ``workload``: the program's compute services, with its source-account
  condition.
- any other role named with the site prefix (made by hand): principals of the
  data account or ``staffPrincipals``; services that can only receive the role by
  ``iam:PassRole`` in the same account, or any service pinned to the data account
  by ``aws:SourceAccount``/``aws:SourceArn``.

Federated principals (SAML or OIDC providers) are never trusted by a site role:
the identity provider's users are not named principals.
"""

from __future__ import annotations

from typing import Any

from components.config import ACCESS_TICKET_TAG, STAFF_SESSION_SECONDS, SiteConfig
from components.grants import declared_allows
from components.security_gates import (
    auditor_boundary_policy,
    auditor_policy,
    auditor_trust_policy,
    permissions_boundary_policy,
    staff_access_policy,
    workload_policy,
    workload_trust_policy,
)
from enclave.audit import grants
from enclave.audit.base import MISSING_FIX, Audit, Check, Family, is_false, is_true, joined, register
from enclave.audit.common import call, pages
from enclave.audit.policy import (
    CALLER_ACCOUNT_KEYS,
    CALLER_ARN_KEYS,
    Perimeter,
    Principal,
    account_of,
    allows_action,
    as_list,
    covers,
    label,
    principals,
    required_values,
    source_confined,
    split_operator,
    statements,
    wildcard_match,
)

CHECKS = register(
    Check(
        "iam-role-boundary",
        "The site's role carries the site's permissions boundary",
        "PermissionsBoundary = the site's auditor boundary for the auditor role, the site's boundary for every other",
        "aws iam put-role-permissions-boundary --role-name ROLE --permissions-boundary BOUNDARY_ARN, "
        "or delete a role the program does not define.",
    ),
    Check(
        "iam-role-trust-site-only",
        "Only the principals the site approves can become the site's role",
        "staff-access: staffPrincipals only; auditor: the auditor account only; workload: the program's "
        "compute services only; other site roles: the data account or staffPrincipals; never *, another "
        "account or an identity provider",
        "Run pulumi up from the deployment role to restore the trust policy; delete a role the program does "
        "not define; a new staff principal goes into staffPrincipals by review.",
    ),
    Check(
        "iam-role-trust-conditions",
        "The site's roles keep the conditions the program puts on who may assume them",
        "each trust statement carries the program's conditions, at least as strict (auditor: sts:ExternalId; "
        "workload: aws:SourceAccount; staff-access: MFA age, regional STS, the ticket as the only session tag)",
        "Run pulumi up from the deployment role to restore the trust policy.",
    ),
    Check(
        "iam-staff-trust-mfa",
        "The staff-access role's trust policy requires MFA",
        "every statement allowing sts:AssumeRole requires Bool aws:MultiFactorAuthPresent true",
        "Run pulumi up from the deployment role to restore the trust policy.",
    ),
    Check(
        "iam-staff-trust-ticket",
        "The staff-access role's trust policy requires the access-ticket session tag",
        f"every statement allowing sts:AssumeRole requires the aws:RequestTag/{ACCESS_TICKET_TAG} session tag",
        "Run pulumi up from the deployment role to restore the trust policy.",
    ),
    Check(
        "iam-staff-session-duration",
        "A staff-access session lasts at most one hour",
        f"MaxSessionDuration at most {STAFF_SESSION_SECONDS} seconds",
        f"aws iam update-role --role-name ROLE --max-session-duration {STAFF_SESSION_SECONDS}, or pulumi up.",
    ),
    Check(
        "iam-boundary-document",
        "Each permissions boundary still says what the program says",
        "the default version keeps every Deny of the program's boundary (data roles: other regions, transfer out, "
        "audit tampering, writes to other accounts; auditor: user data, secret values, decrypts outside the audit "
        "log, other regions but metadata reads) and allows nothing the program's boundary does not",
        "Run pulumi up from the deployment role (it sets the boundary's default version back); "
        "then find who changed it (CreatePolicyVersion / SetDefaultPolicyVersion in CloudTrail).",
    ),
    Check(
        "iam-account-role-trust",
        "No other role of the data account trusts everyone, or a site role that would leave its boundary",
        "roles outside the site prefix trust neither * without a condition on the caller, nor a site role "
        "(or its sessions), nor an OIDC provider without a condition on the token's subject",
        "Restrict the role's trust policy to named principals (aws iam update-assume-role-policy), or delete it.",
    ),
    Check(
        "iam-role-policies-reviewed",
        "The program's roles carry only the program's permissions",
        "no managed policy attached to the workload, staff-access or auditor role, and one inline policy "
        "<role>-access whose every Allow is within an Allow of the program's policy for that role (the boundary "
        "caps what a role may do; this is what the review granted inside it)",
        "Run pulumi up from the deployment role (it restores the inline policy); detach any managed policy "
        "(aws iam detach-role-policy) and delete any other inline policy (aws iam delete-role-policy), then "
        "find who added it (AttachRolePolicy, PutRolePolicy in CloudTrail).",
    ),
    Check(
        "iam-no-users",
        "The data account has no IAM user",
        "no IAM user: people reach the site only through the staff-access role (a grant in force, MFA, a ticket, "
        "one hour); a user's long-term access keys and console password pass none of these gates, and the "
        "program and the pipeline create none",
        "Delete the user's access keys, login profile and policies, then the user (aws iam delete-user), and "
        "find who created it (CreateUser, CreateAccessKey in CloudTrail).",
    ),
)

PERMISSIONS = (
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:ListRoles",
    "iam:ListUsers",
    "kms:DescribeKey",
)

ASSUME_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity")

PASS_ROLE_SERVICES = frozenset({"ec2.amazonaws.com", "ecs-tasks.amazonaws.com", "lambda.amazonaws.com"})
"""Services that assume a role only when a principal of the same account passes it (iam:PassRole)."""


def declared_staff_trust(cfg: SiteConfig) -> dict[str, Any]:
    """Every staff trust statement the config declares (expired grants too: inert by their window until the
    next deploy drops them); with no grant the program's trust is a Deny for everyone, which admits nobody."""
    return {"Version": "2012-10-17", "Statement": declared_allows(cfg)["staff-trust"]}


PROGRAM_TRUST = {
    "workload": workload_trust_policy,
    "staff-access": declared_staff_trust,
    "auditor": auditor_trust_policy,
}

_OWN_CHECK_KEYS = {"aws:multifactorauthpresent", f"aws:requesttag/{ACCESS_TICKET_TAG}"}
"""Conditions with their own check (MFA, ticket): iam-role-trust-conditions leaves them to it."""


def run(audit: Audit) -> None:
    cfg = audit.cfg
    iam = audit.client("iam")
    roles = [r for p in pages(iam, "ListRoles", f"roles of {audit.account}") for r in p.get("Roles", [])]
    site_names = sorted(r["RoleName"] for r in roles if r["RoleName"].startswith(f"{cfg.name_prefix}-"))
    program = {cfg.role_name(kind): kind for kind in PROGRAM_TRUST}
    staff = None
    for name in site_names:
        # ListRoles omits the permissions boundary; GetRole has it.
        role = call(iam, "GetRole", f"role {name}", RoleName=name)["Role"]
        _boundary_attached_result(audit, role)
        kind = program.get(name, "")
        _trust_results(audit, role, kind)
        if kind:
            _role_policies_result(audit, iam, role, kind)
        if kind == "staff-access":
            staff = role
            grants.observe(audit, "staff", role["Arn"], role.get("AssumeRolePolicyDocument"))
    if staff is None:
        for check_id in ("iam-staff-trust-mfa", "iam-staff-trust-ticket", "iam-staff-session-duration"):
            audit.add(
                check_id,
                False,
                [cfg.role_arn("staff-access")],
                f"no role named {cfg.role_name('staff-access')}",
                fix=MISSING_FIX,
            )
    else:
        _staff_results(audit, staff)
    _boundary_document_results(audit, iam)
    for role in sorted(roles, key=lambda r: r["RoleName"]):
        if not role["RoleName"].startswith(f"{cfg.name_prefix}-"):
            _other_role_result(audit, role)
    users = sorted(
        (u for p in pages(iam, "ListUsers", f"users of {audit.account}") for u in p.get("Users", [])),
        key=lambda u: u["UserName"],
    )
    for user in users:
        audit.add("iam-no-users", False, [user.get("Arn") or user["UserName"]], f"IAM user {user['UserName']}")
    if not users:
        audit.add("iam-no-users", True, [f"account {audit.account}"], "no IAM user")


BOUNDARIES = {"boundary": permissions_boundary_policy, "auditor-boundary": auditor_boundary_policy}
"""The program's boundaries by name suffix (``enclave-<site>-<suffix>``): the data roles' and the auditor's."""


def boundary_arn(cfg: SiteConfig, suffix: str = "boundary") -> str:
    return f"arn:aws:iam::{cfg.data_account_id}:policy/{cfg.name_prefix}-{suffix}"


def _boundary_attached_result(audit: Audit, role: dict) -> None:
    cfg = audit.cfg
    # The auditor reads everywhere and writes nowhere; every other role of the site is a data role.
    expected = boundary_arn(cfg, "auditor-boundary" if role["RoleName"] == cfg.role_name("auditor") else "boundary")
    got = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    audit.add(
        "iam-role-boundary",
        got == expected,
        [role["Arn"]],
        f"boundary {got}" if got else "no permissions boundary",
        f"PermissionsBoundary = {expected}",
    )


def _granting(document: Any) -> list[tuple[str, dict]]:
    """(label, statement) of every Allow that lets someone assume the role."""
    return [
        (label(s, i), s)
        for i, s in enumerate(statements(document))
        if s.get("Effect") == "Allow" and any(allows_action(s, a) for a in ASSUME_ACTIONS)
    ]


# --------------------------------------------------------------------------- who may become a site role


def _program_principals(cfg: SiteConfig, kind: str) -> set[Principal]:
    """Every principal the program's trust policy for ``kind`` admits (it follows the config: staff grants too)."""
    return {p for _, s in _granting(PROGRAM_TRUST[kind](cfg)) for p in principals(s)}


def _aws_allowed(cfg: SiteConfig, kind: str, identity: str) -> bool:
    if kind in PROGRAM_TRUST:
        trusted = {p.value for p in _program_principals(cfg, kind) if p.kind == "AWS"}
        # A principal of an account whose root the program trusts is one the program trusts.
        return identity in trusted or f"arn:aws:iam::{account_of(identity)}:root" in trusted
    return account_of(identity) == cfg.data_account_id or identity in cfg.staff_principals


def _principal_problem(cfg: SiteConfig, kind: str, statement: dict, principal: Principal) -> str | None:
    """Why ``principal`` must not become a role of ``kind`` ("" for a hand-made site role), or None."""
    if principal.kind == "AWS":
        if principal.value != "*" and _aws_allowed(cfg, kind, principal.value):
            return None
        # Conditions on the caller narrow whom the Principal admits: all listed values must be allowed.
        cond = statement.get("Condition") or {}
        narrowing = required_values(cond, CALLER_ARN_KEYS + CALLER_ACCOUNT_KEYS)
        if any(values and all(_aws_allowed(cfg, kind, v) for v in values) for values in narrowing):
            return None
        return str(principal)
    if principal.kind == "Service":
        if kind in PROGRAM_TRUST:
            return None if principal in _program_principals(cfg, kind) else str(principal)
        data_only = Perimeter(accounts=frozenset({cfg.data_account_id}))
        if principal.value in PASS_ROLE_SERVICES or source_confined(statement, data_only):
            return None
        return f"{principal} without aws:SourceAccount {cfg.data_account_id}"
    return str(principal)


def _trust_results(audit: Audit, role: dict, kind: str) -> None:
    cfg = audit.cfg
    document = role.get("AssumeRolePolicyDocument")
    problems = [
        f"{name} lets {problem} assume it"
        for name, s in _granting(document)
        for p in principals(s)
        if (problem := _principal_problem(cfg, kind, s, p))
    ]
    audit.add("iam-role-trust-site-only", not problems, [role["Arn"]], joined(problems, "only approved principals"))
    if kind in PROGRAM_TRUST:
        weaker = _weaker_conditions(document, PROGRAM_TRUST[kind](cfg))
        audit.add(
            "iam-role-trust-conditions",
            not weaker,
            [role["Arn"]],
            joined(weaker, "every statement carries the program's conditions"),
        )


def _weaker_conditions(live: Any, program: dict) -> list[str]:
    """What each live trust statement lacks of the program statements that admit the same principal.

    A principal may have several program statements (two staff grants, two tickets):
    the live statement must carry every condition of at least one of them.
    """
    expected = _granting(program)
    problems = []
    for name, s in _granting(live):
        for p in principals(s):
            models = [e for _, e in expected if p in principals(e)]
            if not models:
                continue  # a principal the program does not trust: iam-role-trust-site-only
            gaps = [missing_conditions(s.get("Condition") or {}, _own_checks_removed(m)) for m in models]
            best = min(gaps, key=len)
            problems += [f"{name}: {gap}" for gap in best]
    return sorted(set(problems))


def _own_checks_removed(statement: dict) -> dict:
    return {
        op: {k: v for k, v in block.items() if k.lower() not in _OWN_CHECK_KEYS}
        for op, block in (statement.get("Condition") or {}).items()
    }


def missing_conditions(live: dict, required: dict) -> list[str]:
    """Required (operator, key, values) tests the live condition block lacks or holds more loosely."""
    gaps = []
    live_keys = {(op, k.lower()): v for op, block in live.items() if isinstance(block, dict) for k, v in block.items()}
    for op, block in required.items():
        _, base, _ = split_operator(op)
        for key, values in block.items():
            want = [str(v) for v in as_list(values)]
            got = live_keys.get((op, key.lower()))
            if got is None:
                gaps.append(f"no {op} {key}")
                continue
            have = [str(v) for v in as_list(got)]
            if base.startswith("NumericLessThan"):
                ok = all(_number(h) is not None and _number(h) <= min(_number(w) or 0 for w in want) for h in have)
            else:
                ok = set(have) <= set(want)
            if not ok:
                gaps.append(f"{op} {key} is {have}, the program requires {want}")
    return gaps


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


# --------------------------------------------------------------------------- staff-access


def _staff_results(audit: Audit, role: dict) -> None:
    tag_key = f"aws:RequestTag/{ACCESS_TICKET_TAG}"
    no_mfa, no_ticket = [], []
    granting = _granting(role.get("AssumeRolePolicyDocument"))
    for name, s in granting:
        cond = s.get("Condition") or {}
        # Bool only: BoolIfExists passes when the MFA key is absent (long-term credentials carry none).
        if not is_true((cond.get("Bool") or {}).get("aws:MultiFactorAuthPresent")):
            no_mfa.append(name)
        # Only positive operators fail when the tag is absent; "IfExists" and negated forms do not.
        requires_tag = any(
            op in ("StringEquals", "StringLike", "StringEqualsIgnoreCase") and values.get(tag_key)
            for op, values in cond.items()
            if isinstance(values, dict)
        ) or is_false((cond.get("Null") or {}).get(tag_key))
        if not requires_tag:
            no_ticket.append(name)
    arn = role["Arn"]
    note = "no statement allows sts:AssumeRole" if not granting else None
    audit.add(
        "iam-staff-trust-mfa",
        not no_mfa,
        [arn],
        note or (f"no MFA condition in {', '.join(no_mfa)}" if no_mfa else "MFA required in every statement"),
    )
    audit.add(
        "iam-staff-trust-ticket",
        not no_ticket,
        [arn],
        note
        or (
            f"no {tag_key} condition in {', '.join(no_ticket)}"
            if no_ticket
            else "ticket tag required in every statement"
        ),
    )
    seconds = role.get("MaxSessionDuration", 3600)
    audit.add("iam-staff-session-duration", seconds <= STAFF_SESSION_SECONDS, [arn], f"MaxSessionDuration {seconds}")


# --------------------------------------------------------------------------- the boundary's document


def _boundary_document_results(audit: Audit, iam: Any) -> None:
    for suffix, program in BOUNDARIES.items():
        _boundary_document_result(audit, iam, boundary_arn(audit.cfg, suffix), program)


def _boundary_document_result(audit: Audit, iam: Any, arn: str, program: Any) -> None:
    cfg = audit.cfg
    policy = call(iam, "GetPolicy", f"policy {arn}", none_codes=("NoSuchEntity",), PolicyArn=arn)
    if policy is None:
        audit.add("iam-boundary-document", False, [arn], "no boundary policy", fix=MISSING_FIX)
        return
    version = policy["Policy"]["DefaultVersionId"]
    document = call(iam, "GetPolicyVersion", f"policy {arn}", PolicyArn=arn, VersionId=version)["PolicyVersion"][
        "Document"
    ]
    key = audit.operator_key()
    # Without the key (reported by the key checks), any key of the operator account in the region fits.
    key_arn = key["Arn"] if key else f"arn:aws:kms:{cfg.region}:{cfg.operator_account_id}:key/*"
    problems = boundary_gaps(statements(document), statements(program(cfg, key_arn)))
    audit.add(
        "iam-boundary-document",
        not problems,
        [arn],
        joined(problems, f"version {version} keeps every Deny and allows no more than the program"),
    )


def boundary_gaps(live: list[dict], program: list[dict]) -> list[str]:
    """Program Denies the live boundary lost or weakened, and live Allows beyond the program's."""
    gaps = [
        f"{label(e, i)} removed or weakened"
        for i, e in enumerate(program)
        if e.get("Effect") == "Deny" and not any(_deny_at_least(d, e) for d in live)
    ]
    gaps += [
        f"{label(a, i)} allows more than the program's boundary"
        for i, a in enumerate(live)
        if a.get("Effect") == "Allow" and not any(_allow_within(a, b) for b in program if b.get("Effect") == "Allow")
    ]
    return gaps


def _lower(values: Any) -> set[str]:
    return {str(v).lower() for v in as_list(values)}


def _deny_at_least(live: dict, program: dict) -> bool:
    """``live`` denies at least what ``program`` denies, in at least as many situations."""
    if live.get("Effect") != "Deny" or "NotResource" in live:
        return False
    if "NotAction" in program:
        # Fewer exemptions deny more; a Deny of everything denies most.
        actions_ok = ("NotAction" in live and _lower(live["NotAction"]) <= _lower(program["NotAction"])) or (
            "Action" in live and "*" in _lower(live["Action"])
        )
    else:
        actions_ok = all(allows_action(live, a) for a in as_list(program.get("Action")))
    resources_ok = all(covers(live.get("Resource", "*"), str(r)) for r in as_list(program.get("Resource", "*")))
    condition = live.get("Condition") or {}
    return actions_ok and resources_ok and (not condition or condition == (program.get("Condition") or {}))


def _allow_within(live: dict, program: dict) -> bool:
    """``live`` allows no action, resource or situation that ``program`` does not."""
    if live == program:
        return True
    if any(k in live for k in ("NotAction", "NotResource")) or any(k in program for k in ("NotAction", "NotResource")):
        return False
    actions = as_list(live.get("Action"))
    resources = as_list(live.get("Resource", "*"))
    return (
        bool(actions)
        and all(covers(program.get("Action"), str(a)) for a in actions)
        and all(covers(program.get("Resource", "*"), str(r)) for r in resources)
        and not missing_conditions(live.get("Condition") or {}, program.get("Condition") or {})
    )


# --------------------------------------------------------------------------- the program roles' own permissions


def _program_policies(audit: Audit, kind: str) -> list[dict]:
    """The program's inline policy of ``kind`` for each way the live site can be read (key, S3 endpoint)."""
    cfg = audit.cfg
    key = audit.operator_key()
    key_arn = key["Arn"] if key else f"arn:aws:kms:{cfg.region}:{cfg.operator_account_id}:key/*"
    if kind == "staff-access":
        return [staff_access_policy(cfg, key_arn)]
    if kind == "auditor":
        return [auditor_policy(cfg, key_arn)]
    s3 = f"com.amazonaws.{cfg.region}.s3"
    endpoints = sorted(e["VpcEndpointId"] for e in audit.endpoints() if e.get("ServiceName") == s3)
    return [workload_policy(cfg, key_arn, endpoint) for endpoint in endpoints]


def _role_policies_result(audit: Audit, iam: Any, role: dict, kind: str) -> None:
    name = role["RoleName"]
    target = f"role {name}"
    problems = [
        f"managed policy {p.get('PolicyArn')} attached"
        for page in pages(iam, "ListAttachedRolePolicies", target, RoleName=name)
        for p in page.get("AttachedPolicies", [])
    ]
    programs = [statements(p) for p in _program_policies(audit, kind)]
    expected_name = f"{name}-access"
    inline = sorted(
        n for page in pages(iam, "ListRolePolicies", target, RoleName=name) for n in page.get("PolicyNames", [])
    )
    for policy_name in inline:
        if policy_name != expected_name:
            problems.append(f"inline policy {policy_name}, not the program's")
            continue
        document = call(iam, "GetRolePolicy", target, RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        live = statements(document)
        wider = min(
            (
                [
                    label(a, i)
                    for i, a in enumerate(live)
                    if a.get("Effect") == "Allow"
                    and not any(_allow_within(a, b) for b in program if b.get("Effect") == "Allow")
                ]
                for program in programs
            ),
            key=len,
            default=[label(a, i) for i, a in enumerate(live) if a.get("Effect") == "Allow"],
        )
        problems += [f"{policy_name}: {sid} allows more than the program's policy" for sid in wider]
    if expected_name not in inline:
        problems.append(f"no inline policy {expected_name} (the role cannot do its work)")
    audit.add("iam-role-policies-reviewed", not problems, [role["Arn"]], joined(problems, f"only {expected_name}"))


# --------------------------------------------------------------------------- other roles of the account


def _other_role_result(audit: Audit, role: dict) -> None:
    cfg = audit.cfg
    problems = []
    for name, s in _granting(role.get("AssumeRolePolicyDocument")):
        cond = s.get("Condition") or {}
        narrowing = [v for values in required_values(cond, CALLER_ARN_KEYS) for v in values]
        for p in principals(s):
            if p.kind == "Federated" and "oidc-provider/" in p.value and not _subject_confined(p.value, cond):
                problems.append(f"{name} trusts every identity of {p.value}: no condition on the token's subject")
            if p.kind != "AWS":
                continue
            site = [v for v in [p.value, *narrowing] if _names_site_role(v, cfg)]
            if site:
                problems.append(f"{name} trusts {', '.join(site)}: a site role could leave its boundary through it")
            elif p.value == "*" and not _caller_condition(cond):
                problems.append(f"{name} trusts * with no condition on the caller")
    audit.add(
        "iam-account-role-trust", not problems, [role["Arn"]], joined(sorted(set(problems)), "named principals only")
    )


def _names_site_role(value: str, cfg: SiteConfig) -> bool:
    """Whether a principal or ARN pattern matches a site role or one of its sessions."""
    value = str(value)
    if value == "*" or account_of(value) != cfg.data_account_id:
        return False
    probes = [
        f"arn:aws:iam::{cfg.data_account_id}:role/{cfg.role_name(kind)}"
        for kind in ("workload", "staff-access", "auditor")
    ] + [
        f"arn:aws:sts::{cfg.data_account_id}:assumed-role/{cfg.role_name(kind)}/session"
        for kind in ("workload", "staff-access", "auditor")
    ]
    prefix = f"{cfg.name_prefix}-"
    return any(wildcard_match(value, probe) for probe in probes) or any(
        value.split(":", 5)[-1].startswith(f"{kind}/{prefix}") for kind in ("role", "assumed-role")
    )


def _subject_confined(provider: str, condition: dict) -> bool:
    """An OIDC trust names the token's subject (``<provider>:sub``), not any identity the provider issues for."""
    host = provider.split("oidc-provider/", 1)[1]
    return any(values and "*" not in values for values in required_values(condition, (f"{host}:sub",)))


def _caller_condition(condition: dict) -> bool:
    keys = CALLER_ARN_KEYS + CALLER_ACCOUNT_KEYS + ("aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "sts:ExternalId")
    return bool(required_values(condition, keys))


FAMILY = Family("roles and the boundary", CHECKS, PERMISSIONS, run)
