"""SecurityGates: a boundary on every role (the data roles' and the auditor's), the three roles' trust and access,
each document linted."""

from __future__ import annotations

import json

import pulumi
import pytest
from parliament import analyze_policy_string

from components import security_gates as gates
from components.config import ACCESS_TICKET_TAG, STAFF_SESSION_SECONDS, SiteConfig
from components.pseudonym_secret import pepper_secret_arn_pattern
from components.security_gates import SecurityGates, SecurityGatesArgs
from tests.conftest import KEY_ARN, settled
from tests.grants_fixture import config_with, staff_grant

ROLE_TYPE = "aws:iam/role:Role"
POLICY_TYPE = "aws:iam/policy:Policy"
ROLE_POLICY_TYPE = "aws:iam/rolePolicy:RolePolicy"
ENDPOINT_ID = "vpce-0123456789abcdef0"
ROLES = ("workload", "staff-access", "auditor")

# parliament reads every document as an identity policy. A trust policy has no
# Resource by design (its resource is the role it belongs to), so that one
# finding is expected on trust policies and nowhere else.
TRUST_POLICY_SUPPRESSION = ("MALFORMED", "Statement contains neither Resource nor NotResource")
# The auditor's boundary caps its reads in one statement on Resource "*" (IAM's
# 6,144 characters): a boundary caps actions, and the auditor's own policy, linted
# clean, scopes each read that has resource-level permissions to the site's resources
# (the effective permission is the intersection). So RESOURCE_STAR is expected on
# that document, for exactly the actions the policy scopes (auditor_boundary_star).
BOUNDARY_STAR = "RESOURCE_STAR"
# The auditor reads the organization's policies on Resource "*": their ARNs name the management
# account, which the site's config does not know (the guardrails stack's does), and the residency
# pack refuses an account wildcard; Organizations answers only about the caller's own organization.
# parliament's database knows only DescribePolicy as taking a resource, so that one finding is
# expected on the auditor's policy and boundary.
ORGANIZATION_STAR = ["organizations:DescribePolicy"]


def documents(cfg: SiteConfig) -> dict[str, tuple[dict, bool]]:
    """Every document the gates build, with plain values, and whether it is a trust policy."""
    return {
        "boundary": (gates.permissions_boundary_policy(cfg, KEY_ARN), False),
        "auditor-boundary": (gates.auditor_boundary_policy(cfg, KEY_ARN), False),
        "workload-trust": (gates.workload_trust_policy(cfg), True),
        "workload": (gates.workload_policy(cfg, KEY_ARN, ENDPOINT_ID), False),
        "staff-access-trust": (gates.staff_access_trust_policy(cfg), True),
        "staff-access": (gates.staff_access_policy(cfg, KEY_ARN), False),
        "auditor-trust": (gates.auditor_trust_policy(cfg), True),
        "auditor": (gates.auditor_policy(cfg, KEY_ARN), False),
    }


def lint(doc: dict, trust: bool, star: tuple[str, list[str]] | None = None) -> list[tuple[str, object]]:
    """Parliament's findings (community auditors included), less the documented suppressions.

    ``star``: the one RESOURCE_STAR finding expected (the auditor's boundary), with its exact detail.
    """
    findings = analyze_policy_string(json.dumps(doc), include_community_auditors=True).findings
    return [
        (f.issue, f.detail)
        for f in findings
        if not (trust and (f.issue, f.detail) == TRUST_POLICY_SUPPRESSION)
        and not (star and (f.issue, sorted(f.detail)) == star)
    ]


def auditor_boundary_star(cfg: SiteConfig) -> tuple[str, list[str]]:
    """The RESOURCE_STAR finding parliament must report on the auditor's boundary, and no other.

    Its detail is every action (patterns expanded) that the auditor's policy scopes to a resource and
    that parliament's IAM database says requires one (a resource type marked ``*``): those the boundary
    allows on "*" only because the policy scopes them.
    """
    from parliament import expand_action

    scoped = {
        f"{e['service']}:{e['action']}"
        for stmt in gates.auditor_policy(cfg, KEY_ARN)["Statement"]
        if stmt["Effect"] == "Allow" and stmt["Resource"] != "*"
        for action in listed(stmt["Action"])
        if action not in ("s3:GetObject", "s3:ListBucket", "kms:Decrypt")  # the boundary scopes these itself
        for e in expand_action(action)
        if any(t["resource_type"].endswith("*") for t in privilege(e["service"], e["action"])["resource_types"])
    }
    return (BOUNDARY_STAR, sorted({*scoped, *ORGANIZATION_STAR}))


def privilege(prefix: str, name: str) -> dict:
    """parliament's IAM database entry for one action (access level, resource types)."""
    from parliament import iam_definition

    # A prefix can have several entries in the database (IAM has two, alike): the first decides.
    return next(
        p
        for s in iam_definition
        if s["prefix"] == prefix
        for p in s["privileges"]
        if p["privilege"].lower() == name.lower()
    )


def statement(policy: dict, sid: str) -> dict:
    found = [s for s in policy["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, f"expected one statement {sid}, got {[s.get('Sid') for s in policy['Statement']]}"
    return found[0]


def listed(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def build_gates(cfg: SiteConfig, site_providers) -> SecurityGates:
    return SecurityGates(
        f"{cfg.name_prefix}-gates",
        SecurityGatesArgs(config=cfg, provider=site_providers.data, key_arn=KEY_ARN, s3_endpoint_id=ENDPOINT_ID),
    )


def of_type(records, type_):
    return [r for r in records if r.type == type_]


def by_name_input(records, type_, name):
    found = [r for r in of_type(records, type_) if r.inputs.get("name") == name]
    assert len(found) == 1, f"expected one {type_} named {name}, got {[r.urn for r in found]}"
    return found[0]


# --------------------------------------------------------------------------- the resources


@pulumi.runtime.test
def test_every_role_carries_the_boundary(site_providers, monitor, dublin_config):
    built = build_gates(dublin_config, site_providers)

    def check(args):
        (boundary_arn, auditor_boundary_arn), records = args
        roles = of_type(records, ROLE_TYPE)
        assert sorted(r.inputs["name"] for r in roles) == sorted(dublin_config.role_name(x) for x in ROLES)
        for role in roles:
            # The auditor reads and never writes: its own boundary; the data roles share the other.
            auditor = role.inputs["name"] == dublin_config.role_name("auditor")
            expected = auditor_boundary_arn if auditor else boundary_arn
            assert role.inputs.get("permissionsBoundary") == expected, f"{role.urn}: boundary missing"
        boundary = by_name_input(records, POLICY_TYPE, f"{dublin_config.name_prefix}-boundary")
        assert boundary.outputs["arn"] == boundary_arn, boundary.urn
        auditor_boundary = by_name_input(records, POLICY_TYPE, f"{dublin_config.name_prefix}-auditor-boundary")
        assert auditor_boundary.outputs["arn"] == auditor_boundary_arn, auditor_boundary.urn

    return settled(monitor, built.permissions_boundary_arn, built.auditor_boundary_arn).apply(check)


@pulumi.runtime.test
def test_resources_use_the_data_provider_and_are_children_of_the_component(site_providers, monitor, dublin_config):
    built = build_gates(dublin_config, site_providers)

    def check(args):
        _, records = args
        component = [r for r in records if r.type == "enclave:gates:SecurityGates"]
        assert len(component) == 1, [r.urn for r in records]
        children = [r for r in records if r.type in (ROLE_TYPE, POLICY_TYPE, ROLE_POLICY_TYPE)]
        assert len(children) == 8, [r.urn for r in children]
        for rec in children:
            assert rec.provider_urn.endswith(f"{dublin_config.name_prefix}-data"), f"{rec.urn}: {rec.provider}"
            assert rec.parent == component[0].urn, f"{rec.urn}: parent {rec.parent}"

    return settled(monitor, built.workload_role_arn).apply(check)


@pulumi.runtime.test
def test_documents_reach_the_engine_exactly(site_providers, monitor, dublin_config):
    """The recorded trust and inline policies are the pure functions' documents, nothing added or lost."""
    built = build_gates(dublin_config, site_providers)
    cfg = dublin_config
    expected = {
        "workload": (gates.workload_trust_policy(cfg), gates.workload_policy(cfg, KEY_ARN, ENDPOINT_ID)),
        "staff-access": (gates.staff_access_trust_policy(cfg), gates.staff_access_policy(cfg, KEY_ARN)),
        "auditor": (gates.auditor_trust_policy(cfg), gates.auditor_policy(cfg, KEY_ARN)),
    }

    def check(args):
        _, records = args
        boundary = by_name_input(records, POLICY_TYPE, f"{cfg.name_prefix}-boundary")
        assert json.loads(boundary.inputs["policy"]) == gates.permissions_boundary_policy(cfg, KEY_ARN), boundary.urn
        auditor_boundary = by_name_input(records, POLICY_TYPE, f"{cfg.name_prefix}-auditor-boundary")
        assert json.loads(auditor_boundary.inputs["policy"]) == gates.auditor_boundary_policy(cfg, KEY_ARN)
        for role, (trust, inline) in expected.items():
            rec = by_name_input(records, ROLE_TYPE, cfg.role_name(role))
            assert json.loads(rec.inputs["assumeRolePolicy"]) == trust, rec.urn
            attached = by_name_input(records, ROLE_POLICY_TYPE, f"{cfg.role_name(role)}-access")
            assert attached.inputs["role"] == cfg.role_name(role), attached.urn
            assert json.loads(attached.inputs["policy"]) == inline, attached.urn
        # Only inline policies: no managed policy (SecurityAudit included) widens a role.
        assert not of_type(records, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        for rec in of_type(records, ROLE_TYPE):
            assert not rec.inputs.get("managedPolicyArns"), rec.urn

    return settled(monitor, built.auditor_role_arn).apply(check)


@pulumi.runtime.test
def test_staff_sessions_last_one_hour_at_most(site_providers, monitor, dublin_config):
    built = build_gates(dublin_config, site_providers)

    def check(args):
        _, records = args
        staff = by_name_input(records, ROLE_TYPE, dublin_config.role_name("staff-access"))
        assert staff.inputs.get("maxSessionDuration") == STAFF_SESSION_SECONDS, staff.urn
        for role in ("workload", "auditor"):
            rec = by_name_input(records, ROLE_TYPE, dublin_config.role_name(role))
            # Unset means AWS's default, one hour.
            assert rec.inputs.get("maxSessionDuration") in (None, 3600), rec.urn

    return settled(monitor, built.staff_access_role_arn).apply(check)


@pulumi.runtime.test
def test_outputs_are_the_roles_and_boundary_arns(site_providers, monitor, dublin_config):
    built = build_gates(dublin_config, site_providers)
    outputs = (built.workload_role_arn, built.staff_access_role_arn, built.auditor_role_arn)

    def check(args):
        (workload, staff, auditor, boundary, auditor_boundary), _ = args
        for role, arn in zip(ROLES, (workload, staff, auditor), strict=True):
            assert arn == dublin_config.role_arn(role), f"{role}: {arn}"
        policies = f"arn:aws:iam::{dublin_config.data_account_id}:policy/{dublin_config.name_prefix}"
        assert (boundary, auditor_boundary) == (f"{policies}-boundary", f"{policies}-auditor-boundary")

    return settled(monitor, *outputs, built.permissions_boundary_arn, built.auditor_boundary_arn).apply(check)


@pulumi.runtime.test
def test_output_inputs_are_serialised_into_the_documents(site_providers, monitor, dublin_config):
    """key_arn and s3_endpoint_id arrive as Outputs in the real wiring: they must land in the JSON."""
    built = SecurityGates(
        "gates-from-outputs",
        SecurityGatesArgs(
            config=dublin_config,
            provider=site_providers.data,
            key_arn=pulumi.Output.from_input(KEY_ARN),
            s3_endpoint_id=pulumi.Output.from_input(ENDPOINT_ID),
        ),
    )

    def check(args):
        _, records = args
        workload = by_name_input(records, ROLE_POLICY_TYPE, f"{dublin_config.role_name('workload')}-access")
        doc = json.loads(workload.inputs["policy"])
        assert doc == gates.workload_policy(dublin_config, KEY_ARN, ENDPOINT_ID), workload.urn

    return settled(monitor, built.workload_role_arn).apply(check)


# --------------------------------------------------------------------------- the boundary


def test_boundary_denies_every_region_but_the_sites(dublin_config, hamar_config):
    for cfg in (dublin_config, hamar_config):
        stmt = statement(gates.permissions_boundary_policy(cfg, KEY_ARN), "DenyOutsideSiteRegion")
        assert stmt["Effect"] == "Deny" and stmt["Resource"] == "*"
        assert stmt["Condition"] == {"StringNotEquals": {"aws:RequestedRegion": cfg.region}}
        # Only the global services are exempt, through NotAction (an Action list would exempt everything else).
        assert "Action" not in stmt
        assert stmt["NotAction"] == ["iam:*", "sts:*"]


def test_region_exemption_opens_only_reads_of_global_services(dublin_config):
    """What the NotAction exempts from the region deny must be, in the boundary's allows, read-only."""
    doc = gates.permissions_boundary_policy(dublin_config, KEY_ARN)
    for stmt in doc["Statement"]:
        if stmt["Effect"] != "Allow":
            continue
        for action in listed(stmt["Action"]):
            if action.split(":")[0] in ("iam", "sts"):
                assert action.split(":")[1].startswith(("Get", "List")), f"{stmt['Sid']}: {action}"


REQUIRED_TRANSFER_DENIALS = {
    "s3:PutReplicationConfiguration",
    "s3:ReplicateObject",
    "s3:ReplicateDelete",
    "s3:ReplicateTags",
    "s3:CreateMultiRegionAccessPoint",
    "s3:PutBucketPolicy",
    "kms:ReplicateKey",
    "kms:CreateGrant",
    "kms:UpdatePrimaryRegion",
    "secretsmanager:ReplicateSecretToRegions",
    "dynamodb:CreateTableReplica",
    "dynamodb:UpdateGlobalTable",
    "rds:CreateDBInstanceReadReplica",
    "rds:CopyDBSnapshot",
    "ecr:PutReplicationConfiguration",
    "backup:StartCopyJob",
    "ec2:CreateVpcPeeringConnection",
    "ec2:AttachInternetGateway",
    "ec2:CreateNatGateway",
    "ec2:ModifyVpcEndpoint",
}


def test_boundary_denies_every_transfer_out_action(dublin_config):
    stmt = statement(gates.permissions_boundary_policy(dublin_config, KEY_ARN), "DenyTransferOut")
    assert stmt["Effect"] == "Deny" and stmt["Resource"] == "*" and "Condition" not in stmt
    missing = REQUIRED_TRANSFER_DENIALS - set(stmt["Action"])
    assert not missing, f"DenyTransferOut lacks {sorted(missing)}"


def test_boundary_denies_object_writes_into_other_accounts(dublin_config):
    stmt = statement(gates.permissions_boundary_policy(dublin_config, KEY_ARN), "DenyObjectWritesToOtherAccounts")
    assert stmt["Effect"] == "Deny" and stmt["Resource"] == "*"
    # CopyObject is authorised as s3:PutObject on the target bucket.
    assert "s3:PutObject" in stmt["Action"]
    assert stmt["Condition"] == {"StringNotEquals": {"s3:ResourceAccount": dublin_config.data_account_id}}


def test_boundary_denies_audit_tampering(dublin_config):
    stmt = statement(gates.permissions_boundary_policy(dublin_config, KEY_ARN), "DenyAuditTampering")
    assert stmt["Effect"] == "Deny" and stmt["Resource"] == "*" and "Condition" not in stmt
    assert {"cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "cloudtrail:PutEventSelectors"} <= set(stmt["Action"])
    assert {"ec2:DeleteFlowLogs", "s3:PutBucketObjectLockConfiguration"} <= set(stmt["Action"])


def test_boundary_allows_no_wildcard_and_no_iam_write(dublin_config):
    """A role must not be able to widen itself: no Action '*', no IAM write anywhere in the cap."""
    doc = gates.permissions_boundary_policy(dublin_config, KEY_ARN)
    for stmt in doc["Statement"]:
        if stmt["Effect"] != "Allow":
            continue
        for action in listed(stmt["Action"]):
            service, name = action.split(":")
            assert "*" not in service and name != "*", f"{stmt['Sid']}: {action}"
            assert not (service == "iam" and not name.startswith(("Get", "List"))), f"{stmt['Sid']}: {action}"


def test_boundary_caps_every_allow_of_every_role(dublin_config):
    """Each (action, resource) a role's inline policy allows is within an allow of that role's boundary."""
    cfg = dublin_config
    docs = documents(cfg)

    def caps(boundary: dict) -> set[tuple[str, str]]:
        return {
            (action, resource)
            for stmt in boundary["Statement"]
            if stmt["Effect"] == "Allow"
            for action in listed(stmt["Action"])
            for resource in listed(stmt["Resource"])
        }

    for name, boundary in (("workload", "boundary"), ("staff-access", "boundary"), ("auditor", "auditor-boundary")):
        allowed = caps(docs[boundary][0])
        for stmt in docs[name][0]["Statement"]:
            if stmt["Effect"] != "Allow":
                continue
            for action in listed(stmt["Action"]):
                for resource in listed(stmt["Resource"]):
                    assert (action, resource) in allowed or (action, "*") in allowed, (
                        f"{name}/{stmt['Sid']}: {action} on {resource} not in {boundary}"
                    )


def test_the_data_roles_boundary_carries_no_auditor_read(dublin_config):
    """The data roles need no configuration reads: their boundary allows only what the workload and staff use."""
    doc = gates.permissions_boundary_policy(dublin_config, KEY_ARN)
    allowed = {a for s in doc["Statement"] if s["Effect"] == "Allow" for a in listed(s["Action"])}
    assert allowed == {
        *gates.DATA_OBJECT_ACTIONS,
        "s3:ListBucket",
        *gates.KEY_USE_ACTIONS,
        "secretsmanager:GetSecretValue",
        "s3:PutObjectTagging",
    }
    # No audit-log object either: only the auditor reads the audit log.
    assert dublin_config.bucket_arn("audit-logs") not in json.dumps(doc)


def test_boundary_uses_key_only_through_in_region_s3_and_secrets_manager(dublin_config):
    stmt = statement(gates.permissions_boundary_policy(dublin_config, KEY_ARN), "AtMostOperatorKeyViaSiteServices")
    assert stmt["Resource"] == KEY_ARN
    assert stmt["Condition"] == {
        "StringEquals": {"kms:ViaService": ["s3.eu-west-1.amazonaws.com", "secretsmanager.eu-west-1.amazonaws.com"]}
    }


# --------------------------------------------------------------------------- the roles


def test_workload_trusts_only_in_site_compute_of_the_data_account(dublin_config):
    ecs, ec2 = gates.workload_trust_policy(dublin_config)["Statement"]
    account = {"aws:SourceAccount": dublin_config.data_account_id}
    for stmt in (ecs, ec2):
        assert stmt["Effect"] == "Allow" and stmt["Action"] == "sts:AssumeRole", stmt["Sid"]
    assert ecs["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert ecs["Condition"] == {"StringEquals": account}
    assert ec2["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert ec2["Condition"] == {"StringEqualsIfExists": account}


def test_workload_touches_user_data_only_through_the_site_endpoint(dublin_config):
    doc = gates.workload_policy(dublin_config, KEY_ARN, ENDPOINT_ID)
    s3_statements = [s for s in doc["Statement"] if any(a.startswith("s3:") for a in listed(s["Action"]))]
    exports = statement(doc, "PseudonymisedExportsThroughSiteEndpoint")
    assert exports["Resource"] == f"{dublin_config.bucket_arn('exports')}/exports/*", "exports are write-only"
    assert exports["Action"] == ["s3:PutObject", "s3:PutObjectTagging"]
    s3_statements.remove(exports)
    assert len(s3_statements) == 2
    for stmt in [*s3_statements, exports]:
        assert stmt["Condition"] == {"StringEquals": {"aws:SourceVpce": ENDPOINT_ID}}, stmt["Sid"]
    for stmt in s3_statements:
        assert stmt["Condition"] == {"StringEquals": {"aws:SourceVpce": ENDPOINT_ID}}, stmt["Sid"]
        for resource in listed(stmt["Resource"]):
            assert resource.startswith(dublin_config.bucket_arn("user-data")), f"{stmt['Sid']}: {resource}"
    objects = statement(doc, "UserDataObjectsThroughSiteEndpoint")
    assert set(objects["Action"]) == {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"}


def test_workload_uses_the_key_via_s3_and_secrets_manager_and_reads_only_the_pepper(dublin_config):
    doc = gates.workload_policy(dublin_config, KEY_ARN, ENDPOINT_ID)
    key = statement(doc, "OperatorKeyViaS3AndSecretsManager")
    assert set(key["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"} and key["Resource"] == KEY_ARN
    assert key["Condition"]["StringEquals"]["kms:ViaService"] == [
        "s3.eu-west-1.amazonaws.com",
        "secretsmanager.eu-west-1.amazonaws.com",
    ]
    pepper = statement(doc, "ReadPseudonymPepper")
    assert pepper["Action"] == "secretsmanager:GetSecretValue"
    assert pepper["Resource"] == (
        f"arn:aws:secretsmanager:eu-west-1:{dublin_config.data_account_id}:secret:enclave-dublin-pseudonym-pepper-??????"
    )
    assert pepper["Resource"] == pepper_secret_arn_pattern(dublin_config)


def test_staff_gate_trusts_nobody_without_a_grant(dublin_config):
    """No standing access: the shipped stacks declare no grant, so the trust is one Deny for everyone."""
    (stmt,) = gates.staff_access_trust_policy(dublin_config)["Statement"]
    assert stmt == {
        "Sid": "NoStandingAccess",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }


def test_staff_gate_requires_the_grants_principal_mfa_ticket_and_window():
    cfg = config_with(staff=[staff_grant()])
    (stmt,) = gates.staff_access_trust_policy(cfg)["Statement"]
    assert stmt["Effect"] == "Allow" and stmt["Sid"] == "GrantPRIV1234"
    assert stmt["Principal"] == {"AWS": "arn:aws:iam::111111111111:role/trust-and-safety-oncall"}
    assert stmt["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert stmt["Condition"] == {
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
        "NumericLessThanEquals": {"aws:MultiFactorAuthAge": "3600"},
        "StringEquals": {f"aws:RequestTag/{ACCESS_TICKET_TAG}": "PRIV-1234", "aws:RequestedRegion": "eu-west-1"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["access-ticket"]},
        "DateGreaterThanEquals": {"aws:CurrentTime": "2026-05-04T08:00:00Z"},
        "DateLessThanEquals": {"aws:CurrentTime": "2026-05-04T16:00:00Z"},
    }


def test_staff_access_needs_a_grant_in_force_on_every_data_statement(dublin_config):
    assert [s["Sid"] for s in gates.staff_access_policy(dublin_config, KEY_ARN)["Statement"]] == ["OperatorKeyViaS3"]
    doc = gates.staff_access_policy(config_with(staff=[staff_grant()]), KEY_ARN)
    for sid in ("GrantPRIV1234UserDataObjects", "GrantPRIV1234ListUserData"):
        # Checked on every request: a session cannot outlast its grant's window.
        assert statement(doc, sid)["Condition"] == {
            "StringEquals": {"aws:PrincipalTag/access-ticket": "PRIV-1234"},
            "DateGreaterThanEquals": {"aws:CurrentTime": "2026-05-04T08:00:00Z"},
            "DateLessThanEquals": {"aws:CurrentTime": "2026-05-04T16:00:00Z"},
        }, sid
    key = statement(doc, "OperatorKeyViaS3")
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": ["s3.eu-west-1.amazonaws.com"]}}
    for stmt in doc["Statement"]:
        for resource in listed(stmt["Resource"]):
            assert resource in (
                KEY_ARN,
                dublin_config.bucket_arn("user-data"),
                f"{dublin_config.bucket_arn('user-data')}/*",
            )


def test_auditor_trust_needs_the_external_id(dublin_config, hamar_config):
    for cfg in (dublin_config, hamar_config):
        (stmt,) = gates.auditor_trust_policy(cfg)["Statement"]
        assert stmt["Principal"] == {"AWS": f"arn:aws:iam::{cfg.auditor_account_id}:root"}
        assert stmt["Action"] == "sts:AssumeRole"
        assert stmt["Condition"] == {"StringEquals": {"sts:ExternalId": cfg.auditor_external_id}}


@pytest.mark.parametrize("document", [gates.auditor_policy, gates.auditor_boundary_policy])
def test_auditor_is_denied_user_data_and_decrypt_outside_audit_logs(document, dublin_config):
    doc = document(dublin_config, KEY_ARN)
    data = statement(doc, "DenyUserDataObjects")
    assert data["Effect"] == "Deny" and data["Action"] == "s3:GetObject*"
    assert data["Resource"] == [
        f"{dublin_config.bucket_arn('user-data')}/*",
        f"{dublin_config.bucket_arn('exports')}/*",
    ]
    secrets = statement(doc, "DenySecretValues")
    assert secrets["Action"] == "secretsmanager:GetSecretValue" and secrets["Resource"] == "*"
    audit_bucket = dublin_config.bucket_arn("audit-logs")
    decrypt = statement(doc, "DenyDecryptOutsideAuditLogs")
    assert decrypt["Effect"] == "Deny" and decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == "*"
    assert decrypt["Condition"] == {
        "Null": {"kms:EncryptionContext:aws:cloudtrail:arn": "true"},
        "StringNotLike": {"kms:EncryptionContext:aws:s3:arn": [audit_bucket, f"{audit_bucket}/*"]},
    }
    allowed = statement(doc, "DecryptCloudTrailLogFilesOnly")
    assert allowed["Condition"]["StringEquals"]["kms:EncryptionContext:aws:cloudtrail:arn"] == dublin_config.trail_arn
    flow_logs = statement(doc, "DecryptAuditBucketObjects")
    assert flow_logs["Action"] == "kms:Decrypt" and flow_logs["Resource"] == KEY_ARN
    assert flow_logs["Condition"] == {
        "StringEquals": {"kms:ViaService": ["s3.eu-west-1.amazonaws.com"]},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [audit_bucket, f"{audit_bucket}/*"]},
    }


def test_auditor_reads_audit_logs_and_only_configuration_elsewhere(dublin_config):
    doc = gates.auditor_policy(dublin_config, KEY_ARN)
    assert statement(doc, "ReadAuditLogObjects")["Resource"] == f"{dublin_config.bucket_arn('audit-logs')}/*"
    assert statement(doc, "ListAuditLogBucket")["Resource"] == dublin_config.bucket_arn("audit-logs")
    reads = ("Get", "List", "Describe", "LookupEvents", "SimulatePrincipalPolicy")
    for stmt in doc["Statement"]:
        if stmt["Effect"] != "Allow":
            continue
        for action in listed(stmt["Action"]):
            name = action.split(":")[1]
            assert name.startswith(reads) or action == "kms:Decrypt", f"{stmt['Sid']}: {action} is not read-only"
            if action in ("s3:GetObject", "secretsmanager:GetSecretValue"):
                assert stmt["Sid"] == "ReadAuditLogObjects", f"{stmt['Sid']}: {action} reads data"


# Reads that return data rather than configuration: never through a pattern, never to the auditor.
DATA_READS = {
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:GetRecords",
    "dynamodb:Query",
    "dynamodb:Scan",
    "ec2:GetConsoleOutput",
    "ec2:GetConsoleScreenshot",
    "ec2:GetPasswordData",
    "kinesis:GetRecords",
    "lambda:GetFunction",
    "logs:FilterLogEvents",
    "logs:GetLogEvents",
    "logs:GetLogRecord",
    "logs:GetQueryResults",
    "secretsmanager:GetSecretValue",
    "sqs:ReceiveMessage",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
}
NOT_NAMED_AS_READS = {"cloudtrail:LookupEvents", "iam:SimulatePrincipalPolicy"}
"""Read-only by IAM's access level, though not named Describe/Get/List."""


def expanded(actions) -> dict[str, str]:
    """Every IAM action the patterns stand for (parliament's IAM database), with its access level."""
    from parliament import expand_action

    out = {}
    for action in listed(actions):
        for e in expand_action(action):
            out[f"{e['service']}:{e['action']}"] = privilege(e["service"], e["action"])["access_level"]
    return out


def assert_metadata_reads(actions, where: str) -> None:
    for action, level in expanded(actions).items():
        service, name = action.split(":")
        assert level in ("Read", "List"), f"{where}: {action} is a {level} action"
        assert name.startswith(("Describe", "Get", "List")) or action in NOT_NAMED_AS_READS, f"{where}: {action}"
        assert action not in DATA_READS, f"{where}: {action} reads data"
        objects = [t["resource_type"] for t in privilege(service, name)["resource_types"]]
        assert not (service == "s3" and "object*" in objects), f"{where}: {action} reads S3 objects"


@pytest.mark.parametrize("document", [gates.auditor_policy, gates.auditor_boundary_policy])
def test_no_write_or_data_read_slips_into_the_auditors_configuration_reads(document, dublin_config):
    """Every action the auditor's configuration reads stand for, each pattern expanded against IAM's action
    list, is a metadata read: no write, no object, no secret value, no log event, no table item."""
    doc = document(dublin_config, KEY_ARN)
    audit_log = {
        "ReadAuditLogObjects",
        "ListAuditLogBucket",
        "DecryptCloudTrailLogFilesOnly",
        "DecryptAuditBucketObjects",
    }
    for stmt in doc["Statement"]:
        if stmt["Effect"] == "Allow" and stmt["Sid"] not in audit_log:
            assert_metadata_reads(stmt["Action"], stmt["Sid"])
    # The patterns are what could grow: each stands for a few reads, all of them metadata.
    patterns = [a for s in doc["Statement"] if s["Effect"] == "Allow" for a in listed(s["Action"]) if "*" in a]
    assert patterns and all(1 < len(expanded(p)) <= 20 for p in patterns), {p: len(expanded(p)) for p in patterns}


def test_the_check_catches_a_write_or_a_data_read_behind_a_pattern():
    for pattern in ("s3:Get*", "secretsmanager:Get*", "ec2:*Snapshot*", "logs:Get*"):
        with pytest.raises(AssertionError):
            assert_metadata_reads([pattern], "probe")


def test_the_auditor_boundary_caps_exactly_the_auditor_policy(dublin_config):
    """The boundary allows the policy's actions and nothing else; the audit-log statements are the same."""
    policy = gates.auditor_policy(dublin_config, KEY_ARN)
    boundary = gates.auditor_boundary_policy(dublin_config, KEY_ARN)

    def actions(doc):
        return sorted({a for s in doc["Statement"] if s["Effect"] == "Allow" for a in listed(s["Action"])})

    assert actions(boundary) == actions(policy)
    denies = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert all(d in boundary["Statement"] for d in denies)
    # Reads outside the audit log are allowed only as configuration: one capped statement.
    (cap,) = [s for s in boundary["Statement"] if s["Effect"] == "Allow" and s["Resource"] == "*"]
    assert cap["Sid"] == "AtMostConfigurationReads" and "Condition" not in cap


def test_outside_the_site_region_the_auditor_boundary_leaves_only_metadata_reads(dublin_config, hamar_config):
    for cfg in (dublin_config, hamar_config):
        stmt = statement(gates.auditor_boundary_policy(cfg, KEY_ARN), "DenyOutsideSiteRegionButMetadataReads")
        assert stmt["Effect"] == "Deny" and stmt["Resource"] == "*" and "Action" not in stmt
        assert stmt["Condition"] == {"StringNotEquals": {"aws:RequestedRegion": cfg.region}}
        assert_metadata_reads(stmt["NotAction"], "region exemption")
        # Exactly what the audit calls elsewhere (tests/test_audit.py records the calls and their regions).
        assert stmt["NotAction"] == list(gates.ANY_REGION_READ_ACTIONS)
        # The perimeter probe stays in the site region: elsewhere it would prove nothing.
        assert gates.PERIMETER_PROBE_ACTION not in stmt["NotAction"]


# --------------------------------------------------------------------------- lint


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_every_document_lints_clean(stack, dublin_config, hamar_config):
    cfg = dublin_config if stack == "dublin" else hamar_config
    for name, (doc, trust) in documents(cfg).items():
        star = {"auditor-boundary": auditor_boundary_star(cfg), "auditor": (BOUNDARY_STAR, ORGANIZATION_STAR)}.get(name)
        assert lint(doc, trust, star) == [], f"{stack}/{name}"


def test_the_auditor_boundary_suppression_is_exactly_the_scoped_reads(dublin_config):
    """Parliament reports RESOURCE_STAR on the boundary, for exactly what the auditor's policy scopes: no more."""
    doc = gates.auditor_boundary_policy(dublin_config, KEY_ARN)
    found = [
        (f.issue, f.detail) for f in analyze_policy_string(json.dumps(doc), include_community_auditors=True).findings
    ]
    assert [(issue, sorted(detail)) for issue, detail in found] == [auditor_boundary_star(dublin_config)]
    # And the suppression is live: the same read on "*" in the auditor's own policy is a finding.
    policy = gates.auditor_policy(dublin_config, KEY_ARN)
    statement(policy, "ReadDeploymentRole")["Resource"] = "*"
    assert lint(policy, trust=False, star=(BOUNDARY_STAR, ORGANIZATION_STAR)) == [(BOUNDARY_STAR, ["iam:GetRole"])]


def test_lint_catches_a_misspelt_action_or_condition_key(dublin_config):
    """The linter is live: a typo in an action or a condition key is a finding."""
    doc = gates.workload_policy(dublin_config, KEY_ARN, ENDPOINT_ID)
    doc["Statement"][0]["Action"] = ["s3:GetObjekt"]
    assert lint(doc, trust=False)
    doc = gates.workload_policy(dublin_config, KEY_ARN, ENDPOINT_ID)
    doc["Statement"][0]["Condition"] = {"StringEquals": {"s3:SourceVpcee": ENDPOINT_ID}}
    assert lint(doc, trust=False)


def test_trust_suppression_applies_to_trust_policies_only(dublin_config):
    doc = gates.workload_policy(dublin_config, KEY_ARN, ENDPOINT_ID)
    del doc["Statement"][0]["Resource"]
    assert TRUST_POLICY_SUPPRESSION in lint(doc, trust=False)


# --------------------------------------------------------------------------- the whole program


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_every_role_of_the_program_carries_the_boundary(stack, program_run):
    """Any role anywhere in the program, not only the gates' own, carries the data roles' boundary; the auditor its own."""
    run = program_run(stack)
    boundaries = {r.inputs["name"]: r.outputs["arn"] for r in run.of_type(POLICY_TYPE)}
    assert set(boundaries) == {f"enclave-{stack}-boundary", f"enclave-{stack}-auditor-boundary"}
    roles = run.of_type(ROLE_TYPE)
    assert len(roles) >= 3, [r.urn for r in roles]
    for role in roles:
        kind = "auditor-boundary" if role.inputs["name"] == f"enclave-{stack}-auditor" else "boundary"
        assert role.inputs.get("permissionsBoundary") == boundaries[f"enclave-{stack}-{kind}"], role.urn


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_program_wires_the_real_key_and_endpoint_into_the_gates(stack, program_run):
    run = program_run(stack)
    (key,) = [k for k in run.of_type("aws:kms/key:Key") if k.name == f"enclave-{stack}-key-key"]
    (endpoint,) = [
        r for r in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if r.inputs.get("serviceName", "").endswith(".s3")
    ]
    (workload,) = [r for r in run.of_type(ROLE_POLICY_TYPE) if r.inputs["role"].endswith("-workload")]
    doc = json.loads(workload.inputs["policy"])
    assert statement(doc, "UserDataObjectsThroughSiteEndpoint")["Condition"] == {
        "StringEquals": {"aws:SourceVpce": endpoint.id}
    }, workload.urn
    assert statement(doc, "OperatorKeyViaS3AndSecretsManager")["Resource"] == key.outputs["arn"], workload.urn


def test_the_auditor_holds_exactly_what_the_audit_calls_and_the_investigation_reads(dublin_config):
    """No read the audit does not use creeps in: the configuration reads, patterns expanded, are the audit's
    required grants and the documented reads for the person running it, nothing else."""
    from enclave.audit.checks import REQUIRED_PERMISSIONS

    audit_log = {
        "ReadAuditLogObjects",
        "ListAuditLogBucket",
        "DecryptCloudTrailLogFilesOnly",
        "DecryptAuditBucketObjects",
    }
    doc = gates.auditor_policy(dublin_config, KEY_ARN)
    granted = [
        a for s in doc["Statement"] if s["Effect"] == "Allow" and s["Sid"] not in audit_log for a in listed(s["Action"])
    ]
    assert set(expanded(granted)) == set(expanded([*REQUIRED_PERMISSIONS, *gates.AUDITOR_INVESTIGATION_READS]))


def test_auditor_role_can_run_the_live_audit(dublin_config):
    """Every permission `enclave audit` uses is granted to the auditor and left by the boundary."""
    from enclave.audit.checks import REQUIRED_PERMISSIONS

    def granted(doc: dict, action: str) -> bool:
        return any(
            s["Effect"] == "Allow" and action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
            for s in doc["Statement"]
            if "Action" in s
        )

    auditor = gates.auditor_policy(dublin_config, KEY_ARN)
    boundary = gates.auditor_boundary_policy(dublin_config, KEY_ARN)
    for action in REQUIRED_PERMISSIONS:
        assert granted(auditor, action), f"auditor policy lacks {action}"
        assert granted(boundary, action), f"boundary cuts {action}"
    reads = {s["Sid"]: s for s in auditor["Statement"]}
    assert reads["ReadBucketConfiguration"]["Resource"] == "arn:aws:s3:::*"  # hand-made buckets are in scope
    assert all(a.startswith("s3:Get") for a in reads["ReadBucketConfiguration"]["Action"])
