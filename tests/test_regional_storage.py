"""RegionalStorage: two SSE-KMS buckets in the site's region, frozen settings, no replication."""

from __future__ import annotations

import json
from dataclasses import replace

import pulumi
import pytest

from components.config import SiteConfig
from components.regional_storage import (
    ACCESS_LOG_PREFIX,
    GOVERNANCE_ACTIONS,
    RegionalStorage,
    RegionalStorageArgs,
    data_bucket_policy,
    log_bucket_policy,
)
from tests.conftest import KEY_ARN, settled

VPCE = "vpce-0123456789abcdef0"
BUCKET = "aws:s3/bucket:Bucket"
S3 = "aws:s3/"


def build_storage(cfg: SiteConfig, site_providers, vpce: str | None = None) -> RegionalStorage:
    return RegionalStorage(
        f"{cfg.name_prefix}-storage",
        RegionalStorageArgs(config=cfg, provider=site_providers.data, key_arn=KEY_ARN, read_vpc_endpoint_id=vpce),
    )


def child(records, type_suffix: str, bucket: str):
    """The one ``aws:s3/<type_suffix>`` resource configuring ``bucket``."""
    found = [r for r in records if r.type.startswith(S3 + type_suffix + ":") and r.inputs.get("bucket") == bucket]
    assert len(found) == 1, f"expected one {type_suffix} for {bucket}, got {[r.urn for r in found]}"
    return found[0]


def statement(policy: dict, sid: str) -> dict:
    found = [s for s in policy["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, f"expected one statement {sid}, got {[s.get('Sid') for s in policy['Statement']]}"
    return found[0]


def both(cfg: SiteConfig) -> tuple[str, str]:
    return cfg.bucket_name("user-data"), cfg.bucket_name("access-logs")


# --------------------------------------------------------------------------- the resources


@pulumi.runtime.test
def test_buckets_have_fixed_names_protection_and_no_force_destroy(site_providers, monitor, dublin_config):
    storage = build_storage(dublin_config, site_providers)

    def check(args):
        (data_name, log_name, component_urn), records = args
        assert (data_name, log_name) == both(dublin_config)
        buckets = [r for r in records if r.type == BUCKET]
        assert sorted(r.inputs["bucket"] for r in buckets) == sorted(both(dublin_config))
        for rec in buckets:
            assert rec.protect is True, f"{rec.urn}: data-bearing bucket must be protected"
            assert rec.parent == component_urn, f"{rec.urn}: parent {rec.parent}"
            assert not rec.inputs.get("forceDestroy"), f"{rec.urn}: force_destroy must stay off"

    return settled(monitor, storage.data_bucket_name, storage.log_bucket_name, storage.urn).apply(check)


@pulumi.runtime.test
def test_every_child_is_parented_and_on_the_data_provider(site_providers, monitor, dublin_config):
    storage = build_storage(dublin_config, site_providers)

    def check(args):
        (component_urn,), records = args
        by_urn = {r.urn: r for r in records}
        children = [r for r in records if r.type.startswith(S3)]
        assert len(children) == 2 * 7 + 1, [r.urn for r in children]
        for rec in children:
            assert rec.parent == component_urn, f"{rec.urn}: parent {rec.parent}"
            assert rec.provider_urn.endswith("-data"), f"{rec.urn}: provider {rec.provider!r}"
            assert by_urn[rec.provider_urn].inputs["region"] == "eu-west-1", rec.urn
            assert "region" not in rec.inputs, f"{rec.urn}: the provider's region is the single source"

    return settled(monitor, storage.urn).apply(check)


@pulumi.runtime.test
def test_both_buckets_encrypt_with_the_operator_key_and_bucket_keys(site_providers, monitor, dublin_config):
    storage = build_storage(dublin_config, site_providers)

    def check(args):
        _, records = args
        for bucket in both(dublin_config):
            rec = child(records, "bucketServerSideEncryptionConfiguration", bucket)
            (rule,) = rec.inputs["rules"]
            default = rule["applyServerSideEncryptionByDefault"]
            assert default["sseAlgorithm"] == "aws:kms", f"{rec.urn}: {default}"
            assert default["kmsMasterKeyId"] == KEY_ARN, f"{rec.urn}: {default}"
            assert rule["bucketKeyEnabled"] is True, f"{rec.urn}: bucket keys off"
            assert rule["blockedEncryptionTypes"] == ["SSE-C"], f"{rec.urn}: SSE-C must be blocked"

    return settled(monitor, storage.data_bucket_arn).apply(check)


@pulumi.runtime.test
def test_both_buckets_are_versioned_private_and_owner_enforced(site_providers, monitor, dublin_config):
    storage = build_storage(dublin_config, site_providers)

    def check(args):
        _, records = args
        for bucket in both(dublin_config):
            ver = child(records, "bucketVersioning", bucket)
            assert ver.inputs["versioningConfiguration"]["status"] == "Enabled", ver.urn
            pab = child(records, "bucketPublicAccessBlock", bucket)
            for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
                assert pab.inputs.get(flag) is True, f"{pab.urn}: {flag} must be True"
            own = child(records, "bucketOwnershipControls", bucket)
            assert own.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}, own.urn

    return settled(monitor, storage.data_bucket_arn).apply(check)


@pulumi.runtime.test
def test_lifecycle_expires_noncurrent_versions_and_stale_uploads(site_providers, monitor, dublin_config):
    storage = build_storage(dublin_config, site_providers)

    def check(args):
        _, records = args
        data, logs = both(dublin_config)
        for bucket in (data, logs):
            rec = child(records, "bucketLifecycleConfiguration", bucket)
            rules = {r["id"]: r for r in rec.inputs["rules"]}
            assert all(r["status"] == "Enabled" for r in rules.values()), rec.urn
            assert all(r["filter"] == {} for r in rules.values()), f"{rec.urn}: rules apply to every object"
            assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 30
            assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7
            versioning = child(records, "bucketVersioning", bucket)
            assert versioning.urn in rec.dependencies, f"{rec.urn}: must wait for versioning"
        data_rules = child(records, "bucketLifecycleConfiguration", data).inputs["rules"]
        assert not any("expiration" in r for r in data_rules), "user data is never expired by lifecycle"
        log_rules = {r["id"]: r for r in child(records, "bucketLifecycleConfiguration", logs).inputs["rules"]}
        assert log_rules["expire-old-logs"]["expiration"]["days"] == 400

    return settled(monitor, storage.data_bucket_arn).apply(check)


@pulumi.runtime.test
def test_data_bucket_logs_to_the_log_bucket(site_providers, monitor, dublin_config):
    storage = build_storage(dublin_config, site_providers)

    def check(args):
        _, records = args
        data, logs = both(dublin_config)
        rec = child(records, "bucketLogging", data)
        assert rec.inputs["targetBucket"] == logs, rec.urn
        assert rec.inputs["targetPrefix"] == ACCESS_LOG_PREFIX, rec.urn
        assert not rec.inputs.get("targetGrants"), f"{rec.urn}: ACLs are disabled, grants would fail"
        # No log record may be delivered before the log bucket admits the service and encrypts with the key.
        assert child(records, "bucketPolicy", logs).urn in rec.dependencies, rec.urn
        assert child(records, "bucketServerSideEncryptionConfiguration", logs).urn in rec.dependencies, rec.urn
        assert not [r for r in records if r.type.startswith(S3 + "bucketLogging") and r.inputs["bucket"] == logs]

    return settled(monitor, storage.data_bucket_arn).apply(check)


@pulumi.runtime.test
def test_policies_wait_for_access_block_and_ownership(site_providers, monitor, dublin_config):
    storage = build_storage(dublin_config, site_providers)

    def check(args):
        _, records = args
        for bucket in both(dublin_config):
            rec = child(records, "bucketPolicy", bucket)
            for dep in ("bucketPublicAccessBlock", "bucketOwnershipControls"):
                assert child(records, dep, bucket).urn in rec.dependencies, f"{rec.urn}: must wait for {dep}"

    return settled(monitor, storage.data_bucket_arn).apply(check)


@pulumi.runtime.test
def test_registered_policies_are_the_documented_ones(site_providers, monitor, dublin_config):
    storage = build_storage(dublin_config, site_providers, vpce=VPCE)

    def check(args):
        (data_arn, log_arn), records = args
        data, logs = both(dublin_config)
        rec = child(records, "bucketPolicy", data)
        expected = data_bucket_policy(dublin_config, data_arn, KEY_ARN, VPCE)
        assert json.loads(rec.inputs["policy"]) == expected, rec.urn
        rec = child(records, "bucketPolicy", logs)
        assert json.loads(rec.inputs["policy"]) == log_bucket_policy(dublin_config, log_arn, data_arn), rec.urn

    return settled(monitor, storage.data_bucket_arn, storage.log_bucket_arn).apply(check)


@pulumi.runtime.test
def test_no_replication_of_any_kind(site_providers, monitor, dublin_config):
    storage = build_storage(dublin_config, site_providers)

    def check(args):
        _, records = args
        replication = [r.urn for r in records if "eplication" in r.type]
        assert not replication, replication
        for rec in records:
            if rec.type == BUCKET:
                assert not rec.inputs.get("replicationConfiguration"), f"{rec.urn}: inline replication"

    return settled(monitor, storage.data_bucket_arn).apply(check)


@pulumi.runtime.test
def test_outputs_name_the_buckets(site_providers, monitor, dublin_config):
    storage = build_storage(dublin_config, site_providers)

    def check(args):
        (data_name, data_arn, log_name, log_arn), _ = args
        assert (data_name, log_name) == both(dublin_config)
        assert data_arn == dublin_config.bucket_arn("user-data")
        assert log_arn == dublin_config.bucket_arn("access-logs")

    outs = (storage.data_bucket_name, storage.data_bucket_arn, storage.log_bucket_name, storage.log_bucket_arn)
    return settled(monitor, *outs).apply(check)


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_program_buckets_are_protected_and_in_the_site_region(program_run, stack):
    run = program_run(stack)
    buckets = run.of_type(BUCKET)
    assert len(buckets) >= 2
    region = run.config["eu-data-enclave:region"]
    for rec in buckets:
        assert rec.protect, rec.urn
        assert run.effective_region(rec) == region, rec.urn
    # The program wires the real key: both buckets encrypt with the operator key's ARN.
    key_arn = run.stack_outputs["operator_key_arn"]
    cfg_buckets = {run.stack_outputs["data_bucket_name"], run.stack_outputs["access_log_bucket_name"]}
    sse = [
        r
        for r in run.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        if r.inputs["bucket"] in cfg_buckets
    ]
    assert len(sse) == 2, [r.urn for r in sse]
    for rec in sse:
        assert rec.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == key_arn, rec.urn


# --------------------------------------------------------------------------- the data bucket policy


@pytest.fixture
def data_policy(dublin_config):
    return data_bucket_policy(dublin_config, dublin_config.bucket_arn("user-data"), KEY_ARN)


def test_data_bucket_denies_plain_http(data_policy, dublin_config):
    stmt = statement(data_policy, "DenyInsecureTransport")
    arn = dublin_config.bucket_arn("user-data")
    assert (stmt["Effect"], stmt["Principal"], stmt["Action"]) == ("Deny", "*", "s3:*")
    assert stmt["Resource"] == [arn, f"{arn}/*"]
    assert stmt["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_data_bucket_denies_uploads_with_another_encryption(data_policy, dublin_config):
    objects = dublin_config.bucket_arn("user-data") + "/*"
    algo = statement(data_policy, "DenyUploadsNotEncryptedWithKms")
    assert (algo["Effect"], algo["Principal"], algo["Action"], algo["Resource"]) == (
        "Deny",
        "*",
        "s3:PutObject",
        objects,
    )
    assert algo["Condition"] == {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}
    key = statement(data_policy, "DenyUploadsWithAnotherKmsKey")
    assert (key["Effect"], key["Action"], key["Resource"]) == ("Deny", "s3:PutObject", objects)
    assert key["Condition"] == {"ArnNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN}}
    unnamed = statement(data_policy, "DenyKmsUploadsThatDoNotNameTheKey")
    assert (unnamed["Effect"], unnamed["Action"], unnamed["Resource"]) == ("Deny", "s3:PutObject", objects)
    assert unnamed["Condition"] == {
        "Null": {
            "s3:x-amz-server-side-encryption": "false",
            "s3:x-amz-server-side-encryption-aws-kms-key-id": "true",
        }
    }
    ssec = statement(data_policy, "DenyUploadsWithCustomerProvidedKeys")
    assert (ssec["Effect"], ssec["Action"]) == ("Deny", "s3:PutObject")
    assert ssec["Condition"] == {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}


def test_only_the_deployer_changes_bucket_settings(data_policy, dublin_config):
    stmt = statement(data_policy, "OnlyDeployerChangesBucketSettings")
    assert (stmt["Effect"], stmt["Principal"], stmt["Resource"]) == ("Deny", "*", dublin_config.bucket_arn("user-data"))
    required = {
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:PutEncryptionConfiguration",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketOwnershipControls",
        "s3:PutBucketLogging",
        "s3:PutBucketVersioning",
    }
    assert required <= set(stmt["Action"]), required - set(stmt["Action"])
    assert set(stmt["Action"]) == set(GOVERNANCE_ACTIONS)
    assert stmt["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/enclave-deployer"}
    }


def test_nobody_may_configure_replication(data_policy, dublin_config):
    stmt = statement(data_policy, "NoReplicationForAnyone")
    assert (stmt["Effect"], stmt["Principal"], stmt["Action"]) == ("Deny", "*", "s3:PutReplicationConfiguration")
    assert stmt["Resource"] == dublin_config.bucket_arn("user-data")
    assert "Condition" not in stmt, "no exception, not even for the deployer"
    assert "s3:PutReplicationConfiguration" not in GOVERNANCE_ACTIONS


def test_no_endpoint_restriction_without_an_endpoint(data_policy):
    assert "ObjectAccessOnlyThroughVpcEndpointOrStaffGate" not in {s["Sid"] for s in data_policy["Statement"]}
    assert not [s for s in data_policy["Statement"] if s["Effect"] == "Allow"], "the data bucket grants nothing"


def test_object_access_only_through_the_endpoint_or_the_staff_gate(dublin_config):
    policy = data_bucket_policy(dublin_config, dublin_config.bucket_arn("user-data"), KEY_ARN, VPCE)
    stmt = statement(policy, "ObjectAccessOnlyThroughVpcEndpointOrStaffGate")
    assert (stmt["Effect"], stmt["Principal"]) == ("Deny", "*")
    arn = dublin_config.bucket_arn("user-data")
    assert stmt["Resource"] == [arn, f"{arn}/*"]
    assert stmt["Action"] == [
        "s3:GetObject*",
        "s3:PutObject*",
        "s3:DeleteObject*",
        "s3:RestoreObject",
        "s3:ListBucketVersions",
    ]
    assert stmt["Condition"] == {
        "StringNotEquals": {"aws:SourceVpce": VPCE},
        "ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/enclave-dublin-staff-access"},
    }


def test_key_listing_outside_the_endpoint_only_for_the_staff_gate_and_the_deployer(dublin_config):
    """HeadBucket (the provider's read of the bucket) is s3:ListBucket: the deployer must keep it."""
    policy = data_bucket_policy(dublin_config, dublin_config.bucket_arn("user-data"), KEY_ARN, VPCE)
    stmt = statement(policy, "KeyListingOnlyThroughVpcEndpointStaffGateOrDeployer")
    assert (stmt["Effect"], stmt["Principal"], stmt["Action"]) == ("Deny", "*", ["s3:ListBucket"])
    assert stmt["Condition"] == {
        "StringNotEquals": {"aws:SourceVpce": VPCE},
        "ArnNotEquals": {
            "aws:PrincipalArn": [
                "arn:aws:iam::111111111111:role/enclave-dublin-staff-access",
                "arn:aws:iam::111111111111:role/enclave-deployer",
            ]
        },
    }


def test_only_a_sandbox_deployer_may_empty_the_bucket_and_never_read_it(dublin_config):
    cfg = replace(dublin_config, sandbox=True)
    policy = data_bucket_policy(cfg, cfg.bucket_arn("user-data"), KEY_ARN, VPCE)
    data = statement(policy, "ObjectAccessOnlyThroughVpcEndpointOrStaffGate")
    assert data["Action"] == ["s3:GetObject*", "s3:PutObject*", "s3:RestoreObject"]
    listing = statement(policy, "KeyListingOnlyThroughVpcEndpointStaffGateOrDeployer")
    assert listing["Action"] == ["s3:ListBucket", "s3:DeleteObject*", "s3:ListBucketVersions"]


# --------------------------------------------------------------------------- the log bucket policy


@pytest.fixture
def log_policy(dublin_config):
    return log_bucket_policy(
        dublin_config, dublin_config.bucket_arn("access-logs"), dublin_config.bucket_arn("user-data")
    )


def test_log_bucket_denies_plain_http(log_policy, dublin_config):
    stmt = statement(log_policy, "DenyInsecureTransport")
    arn = dublin_config.bucket_arn("access-logs")
    assert (stmt["Effect"], stmt["Action"], stmt["Resource"]) == ("Deny", "s3:*", [arn, f"{arn}/*"])
    assert stmt["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_log_bucket_admits_only_the_data_bucket_access_logs(log_policy, dublin_config):
    stmt = statement(log_policy, "S3ServerAccessLogDelivery")
    assert (stmt["Effect"], stmt["Principal"], stmt["Action"]) == (
        "Allow",
        {"Service": "logging.s3.amazonaws.com"},
        "s3:PutObject",
    )
    assert stmt["Resource"] == f"{dublin_config.bucket_arn('access-logs')}/{ACCESS_LOG_PREFIX}*"
    assert stmt["Condition"] == {
        "ArnEquals": {"aws:SourceArn": dublin_config.bucket_arn("user-data")},
        "StringEquals": {"aws:SourceAccount": "111111111111"},
    }
    allows = [s["Sid"] for s in log_policy["Statement"] if s["Effect"] == "Allow"]
    assert allows == ["S3ServerAccessLogDelivery"]


def test_log_bucket_settings_frozen_and_never_replicated(log_policy, dublin_config):
    arn = dublin_config.bucket_arn("access-logs")
    frozen = statement(log_policy, "OnlyDeployerChangesBucketSettings")
    assert (frozen["Effect"], frozen["Resource"]) == ("Deny", arn)
    assert {"s3:PutBucketPolicy", "s3:DeleteBucketPolicy"} <= set(frozen["Action"])
    assert frozen["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": dublin_config.deployment_role_arn}}
    repl = statement(log_policy, "NoReplicationForAnyone")
    assert (repl["Effect"], repl["Action"], repl["Resource"]) == ("Deny", "s3:PutReplicationConfiguration", arn)
    assert "Condition" not in repl
