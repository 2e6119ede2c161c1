"""OperatorKey: a single-region, rotated, protected key in the operator's account, and its key policy."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.config import SiteConfig
from components.operator_key import KEY_ADMIN_ACTIONS, OperatorKey, OperatorKeyArgs, operator_key_policy
from tests.conftest import settled

KEY_TYPE = "aws:kms/key:Key"
ALIAS_TYPE = "aws:kms/alias:Alias"


def build_key(cfg: SiteConfig, site_providers) -> OperatorKey:
    return OperatorKey(f"{cfg.name_prefix}-key", OperatorKeyArgs(config=cfg, provider=site_providers.operator))


def only(records, type_):
    found = [r for r in records if r.type == type_]
    assert len(found) == 1, f"expected one {type_}, got {[r.urn for r in found]}"
    return found[0]


def statement(policy: dict, sid: str) -> dict:
    found = [s for s in policy["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, f"expected one statement {sid}, got {[s.get('Sid') for s in policy['Statement']]}"
    return found[0]


def actions(stmt: dict) -> set[str]:
    return set([stmt["Action"]] if isinstance(stmt["Action"], str) else stmt["Action"])


# --------------------------------------------------------------------------- the resources


@pulumi.runtime.test
def test_key_is_single_region_rotated_with_30_day_window(site_providers, monitor, dublin_config):
    key = build_key(dublin_config, site_providers)

    def check(args):
        _, records = args
        rec = only(records, KEY_TYPE)
        assert rec.inputs.get("multiRegion") is False, f"{rec.urn}: multi_region must be explicitly False"
        assert rec.inputs.get("enableKeyRotation") is True, f"{rec.urn}: rotation must be on"
        assert rec.inputs.get("deletionWindowInDays") == 30, f"{rec.urn}: deletion window must be 30 days"
        assert rec.inputs.get("keyUsage") == "ENCRYPT_DECRYPT", rec.urn
        assert rec.inputs.get("customerMasterKeySpec") == "SYMMETRIC_DEFAULT", rec.urn
        assert dublin_config.site in rec.inputs.get("description", ""), f"{rec.urn}: description names the site"
        assert "region" not in rec.inputs, f"{rec.urn}: the provider's region is the single source"

    return settled(monitor, key.key_arn).apply(check)


@pulumi.runtime.test
def test_key_and_alias_use_the_operator_provider(site_providers, monitor, dublin_config):
    key = build_key(dublin_config, site_providers)

    def check(args):
        (key_arn,), records = args
        by_urn = {r.urn: r for r in records}
        for rec in (only(records, KEY_TYPE), only(records, ALIAS_TYPE)):
            assert rec.provider_urn.endswith("-operator"), f"{rec.urn}: provider is {rec.provider!r}"
            provider = by_urn[rec.provider_urn]
            assert provider.inputs["region"] == "eu-west-1", f"{rec.urn}: provider region {provider.inputs}"
        # The mocks place a resource in its provider's account: the key lands with the operator.
        assert key_arn.startswith(f"arn:aws:kms:eu-west-1:{dublin_config.operator_account_id}:key/"), key_arn

    return settled(monitor, key.key_arn).apply(check)


@pulumi.runtime.test
def test_key_is_protected_and_children_are_parented(site_providers, monitor, dublin_config):
    key = build_key(dublin_config, site_providers)

    def check(args):
        (component_urn,), records = args
        key_rec, alias_rec = only(records, KEY_TYPE), only(records, ALIAS_TYPE)
        assert key_rec.protect is True, f"{key_rec.urn}: the key must be protected against deletion"
        assert key_rec.parent == component_urn, f"{key_rec.urn}: parent {key_rec.parent}"
        assert alias_rec.parent == component_urn, f"{alias_rec.urn}: parent {alias_rec.parent}"
        component = only(records, "enclave:keys:OperatorKey")
        assert component.urn == component_urn

    return settled(monitor, key.urn).apply(check)


@pulumi.runtime.test
def test_alias_names_the_key(site_providers, monitor, dublin_config):
    key = build_key(dublin_config, site_providers)

    def check(args):
        (alias_name, key_id), records = args
        alias_rec = only(records, ALIAS_TYPE)
        assert alias_name == "alias/enclave-dublin-data" == dublin_config.key_alias, alias_rec.urn
        assert alias_rec.inputs["targetKeyId"] == key_id, f"{alias_rec.urn}: {alias_rec.inputs}"

    return settled(monitor, key.alias_name, key.key_id).apply(check)


@pulumi.runtime.test
def test_registered_policy_is_the_documented_one(site_providers, monitor, dublin_config):
    key = build_key(dublin_config, site_providers)

    def check(args):
        _, records = args
        rec = only(records, KEY_TYPE)
        assert json.loads(rec.inputs["policy"]) == operator_key_policy(dublin_config), rec.urn

    return settled(monitor, key.key_arn).apply(check)


def test_program_registers_exactly_one_protected_data_key_per_stack(program_run):
    for stack in ("dublin", "hamar"):
        run = program_run(stack)
        # The other key is the export key (components/transfer_export.py, its own policy).
        keys = [k for k in run.of_type(KEY_TYPE) if json.loads(k.inputs["policy"])["Id"].endswith("-operator-key")]
        assert len(keys) == 1 and len(run.of_type(KEY_TYPE)) == 2, [k.urn for k in run.of_type(KEY_TYPE)]
        assert keys[0].protect, keys[0].urn
        assert keys[0].parent.endswith("::enclave-" + stack + "-key"), keys[0].parent
        assert run.effective_region(keys[0]) == run.config["eu-data-enclave:region"], keys[0].urn
        assert run.stack_outputs["operator_key_alias"] == f"alias/enclave-{stack}-data"


# --------------------------------------------------------------------------- the key policy


CRYPTO = {
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
}


def test_operator_administers_but_cannot_use_the_key(dublin_config):
    stmt = statement(operator_key_policy(dublin_config), "OperatorAdministersKey")
    assert stmt["Effect"] == "Allow"
    assert stmt["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    granted = actions(stmt)
    assert {"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:PutKeyPolicy", "kms:EnableKeyRotation"} <= granted
    assert {"kms:CreateAlias", "kms:TagResource", "kms:DescribeKey", "kms:RotateKeyOnDemand"} <= granted
    forbidden = CRYPTO | {"kms:CreateGrant", "kms:ReplicateKey", "kms:DisableKeyRotation", "kms:*"}
    assert not granted & forbidden, granted & forbidden
    assert not any(a.endswith("*") for a in granted), "admin actions are listed explicitly"


def test_data_roles_use_the_key_only_via_in_region_s3_and_secrets_manager(dublin_config):
    stmt = statement(operator_key_policy(dublin_config), "DataRolesUseKeyViaInRegionS3AndSecretsManager")
    assert stmt["Effect"] == "Allow"
    assert stmt["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert actions(stmt) == {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"}
    cond = stmt["Condition"]
    assert cond["StringEquals"]["kms:CallerAccount"] == "111111111111"
    assert cond["StringEquals"]["kms:ViaService"] == [
        "s3.eu-west-1.amazonaws.com",
        "secretsmanager.eu-west-1.amazonaws.com",
    ]
    # The runtime roles only: the deployer is not among them (it never touches S3 objects).
    assert cond["ArnEquals"]["aws:PrincipalArn"] == [
        "arn:aws:iam::111111111111:role/enclave-dublin-workload",
        "arn:aws:iam::111111111111:role/enclave-dublin-staff-access",
    ]


def test_deployer_uses_the_key_only_through_secrets_manager_for_the_pepper(dublin_config):
    stmt = statement(operator_key_policy(dublin_config), "DeployerUsesKeyForThePepperOnly")
    assert stmt["Effect"] == "Allow" and stmt["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert actions(stmt) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert stmt["Condition"] == {
        "StringEquals": {
            "kms:CallerAccount": "111111111111",
            "kms:ViaService": ["secretsmanager.eu-west-1.amazonaws.com"],
        },
        # Secrets Manager's encryption context names the secret: this one only.
        "StringLike": {
            "kms:EncryptionContext:SecretARN": (
                "arn:aws:secretsmanager:eu-west-1:111111111111:secret:enclave-dublin-pseudonym-pepper-??????"
            )
        },
        "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/enclave-deployer"},
    }
    others = [
        s["Sid"]
        for s in operator_key_policy(dublin_config)["Statement"]
        if s["Sid"] != stmt["Sid"] and dublin_config.deployment_role_arn in json.dumps(s)
    ]
    assert others == [], f"the deployer is named elsewhere: {others}"


def test_auditor_decrypts_audit_bucket_objects_only(dublin_config):
    """Flow logs carry the audit bucket as S3 encryption context; user data never does."""
    stmt = statement(operator_key_policy(dublin_config), "AuditorDecryptsAuditBucketObjects")
    assert stmt["Effect"] == "Allow" and actions(stmt) == {"kms:Decrypt"}
    cond = stmt["Condition"]
    assert cond["StringEquals"] == {
        "kms:CallerAccount": "111111111111",
        "kms:ViaService": ["s3.eu-west-1.amazonaws.com"],
    }
    bucket = dublin_config.bucket_arn("audit-logs")
    assert cond["StringLike"] == {"kms:EncryptionContext:aws:s3:arn": [bucket, f"{bucket}/*"]}
    assert cond["ArnEquals"] == {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/enclave-dublin-auditor"}
    assert "user-data" not in json.dumps(cond)


def test_auditor_reads_key_configuration_only(dublin_config):
    """The live audit describes the key across accounts as the auditor: reads, nothing more."""
    stmt = statement(operator_key_policy(dublin_config), "AuditorReadsKeyConfiguration")
    assert stmt["Effect"] == "Allow" and stmt["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert actions(stmt) == {"kms:DescribeKey", "kms:GetKeyRotationStatus"}
    assert stmt["Condition"] == {"ArnEquals": {"aws:PrincipalArn": dublin_config.role_arn("auditor")}}


def test_via_service_follows_the_site_region(hamar_config):
    policy = operator_key_policy(hamar_config)
    stmt = statement(policy, "DataRolesUseKeyViaInRegionS3AndSecretsManager")
    assert stmt["Condition"]["StringEquals"]["kms:ViaService"] == [
        "s3.eu-north-1.amazonaws.com",
        "secretsmanager.eu-north-1.amazonaws.com",
    ]
    assert "eu-west-1" not in json.dumps(policy)


def test_auditor_decrypts_only_the_site_trail_logs(dublin_config):
    stmt = statement(operator_key_policy(dublin_config), "AuditorDecryptsTrailLogsOnly")
    assert stmt["Effect"] == "Allow"
    assert stmt["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert actions(stmt) == {"kms:Decrypt"}
    cond = stmt["Condition"]
    assert cond["StringEquals"]["kms:ViaService"] == ["s3.eu-west-1.amazonaws.com"]
    assert cond["StringEquals"]["kms:CallerAccount"] == "111111111111"
    assert cond["StringEquals"]["kms:EncryptionContext:aws:cloudtrail:arn"] == dublin_config.trail_arn
    assert cond["ArnEquals"]["aws:PrincipalArn"] == "arn:aws:iam::111111111111:role/enclave-dublin-auditor"


def test_cloudtrail_encrypts_only_for_the_site_trail(dublin_config):
    policy = operator_key_policy(dublin_config)
    stmt = statement(policy, "CloudTrailEncryptsSiteTrail")
    assert stmt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert actions(stmt) == {"kms:GenerateDataKey*"}
    assert stmt["Condition"]["StringEquals"] == {
        "aws:SourceArn": "arn:aws:cloudtrail:eu-west-1:111111111111:trail/enclave-dublin-trail"
    }
    assert stmt["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:111111111111:trail/*"
    }
    describe = statement(policy, "CloudTrailDescribesKeyForSiteTrail")
    assert actions(describe) == {"kms:DescribeKey", "kms:Decrypt"}
    assert describe["Condition"] == {"StringEquals": {"aws:SourceArn": dublin_config.trail_arn}}


@pytest.mark.parametrize(
    ("sid", "service", "expected", "source_arn"),
    [
        (
            "S3ServerAccessLoggingEncryptsLogs",
            "logging.s3.amazonaws.com",
            {"kms:GenerateDataKey*", "kms:Decrypt"},
            None,
        ),
        (
            # Flow logs and Resolver query logs: AWS's documented key-policy conditions.
            "LogDeliveryEncryptsLogs",
            "delivery.logs.amazonaws.com",
            {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"},
            {"aws:SourceArn": "arn:aws:logs:eu-west-1:111111111111:*"},
        ),
    ],
)
def test_log_delivery_services_are_bound_to_the_data_account(dublin_config, sid, service, expected, source_arn):
    stmt = statement(operator_key_policy(dublin_config), sid)
    assert stmt["Effect"] == "Allow"
    assert stmt["Principal"] == {"Service": service}
    assert actions(stmt) == expected
    condition = {"StringEquals": {"aws:SourceAccount": "111111111111"}}
    if source_arn:
        condition["ArnLike"] = source_arn
    assert stmt["Condition"] == condition


def test_nobody_may_grant_or_replicate(dublin_config):
    stmt = statement(operator_key_policy(dublin_config), "NoGrantsNoReplication")
    assert stmt["Effect"] == "Deny"
    assert stmt["Principal"] == "*"
    assert actions(stmt) == {"kms:CreateGrant", "kms:ReplicateKey", "kms:UpdatePrimaryRegion"}
    assert "Condition" not in stmt, "the deny holds unconditionally"


def test_use_through_another_service_or_region_is_denied(dublin_config):
    stmt = statement(operator_key_policy(dublin_config), "DenyUseThroughOtherServicesOrRegions")
    assert stmt["Effect"] == "Deny"
    assert stmt["Principal"] == "*"
    assert actions(stmt) == {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"}
    assert stmt["Condition"]["Null"] == {"kms:ViaService": "false"}
    assert stmt["Condition"]["StringNotEquals"]["kms:ViaService"] == [
        "s3.eu-west-1.amazonaws.com",
        "secretsmanager.eu-west-1.amazonaws.com",
        "cloudtrail.eu-west-1.amazonaws.com",
    ]


def test_no_other_statement_allows_use(dublin_config):
    """Every Allow is one of the reviewed statements, and only the operator's may administer."""
    policy = operator_key_policy(dublin_config)
    allows = {s["Sid"] for s in policy["Statement"] if s["Effect"] == "Allow"}
    assert allows == {
        "OperatorAdministersKey",
        "DataRolesUseKeyViaInRegionS3AndSecretsManager",
        "DeployerUsesKeyForThePepperOnly",
        "AuditorDecryptsTrailLogsOnly",
        "AuditorDecryptsAuditBucketObjects",
        "AuditorReadsKeyConfiguration",
        "CloudTrailEncryptsSiteTrail",
        "CloudTrailDescribesKeyForSiteTrail",
        "S3ServerAccessLoggingEncryptsLogs",
        "LogDeliveryEncryptsLogs",
    }
    for stmt in policy["Statement"]:
        if stmt["Sid"] != "OperatorAdministersKey" and stmt["Effect"] == "Allow":
            read_only = {"kms:DescribeKey", "kms:GetKeyRotationStatus"}
            assert not actions(stmt) & set(KEY_ADMIN_ACTIONS) - read_only, stmt["Sid"]
            assert stmt.get("Condition"), f"{stmt['Sid']}: every use is conditional"
