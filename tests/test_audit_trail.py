"""AuditTrail: a single-region, validated, operator-key-encrypted trail into an Object-Locked bucket."""

from __future__ import annotations

import json
from dataclasses import replace

import pulumi
import pytest
from parliament import analyze_policy_string

from components.audit_trail import (
    DNS_QUERY_LOG_PREFIX,
    FLOW_LOG_PREFIX,
    GOVERNANCE_ACTIONS,
    SANDBOX_RETENTION_DAYS,
    AuditTrail,
    AuditTrailArgs,
    audit_log_bucket_policy,
)
from components.config import SiteConfig, site_config_from_mapping
from tests.conftest import KEY_ARN, STACKS, settled, stack_config

BUCKET = "aws:s3/bucket:Bucket"
TRAIL = "aws:cloudtrail/trail:Trail"
S3 = "aws:s3/"


def build(cfg: SiteConfig, site_providers) -> AuditTrail:
    return AuditTrail(
        f"{cfg.name_prefix}-audit",
        AuditTrailArgs(config=cfg, provider=site_providers.data, key_arn=KEY_ARN),
    )


def one(records, type_: str):
    found = [r for r in records if r.type == type_]
    assert len(found) == 1, f"expected one {type_}, got {[r.urn for r in found]}"
    return found[0]


def child(records, type_suffix: str):
    """The one ``aws:s3/<type_suffix>`` resource of the component (it has a single bucket)."""
    found = [r for r in records if r.type.startswith(S3 + type_suffix + ":")]
    assert len(found) == 1, f"expected one {type_suffix}, got {[r.urn for r in found]}"
    return found[0]


def statement(policy: dict, sid: str) -> dict:
    found = [s for s in policy["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, f"expected one statement {sid}, got {[s.get('Sid') for s in policy['Statement']]}"
    return found[0]


# --------------------------------------------------------------------------- the bucket


@pulumi.runtime.test
def test_every_child_is_parented_and_on_the_data_provider(site_providers, monitor, dublin_config):
    audit = build(dublin_config, site_providers)

    def check(args):
        (component_urn, data_provider_urn), records = args
        children = [r for r in records if r.type.startswith(("aws:s3/", "aws:cloudtrail/"))]
        assert len(children) == 8, [r.urn for r in children]
        for rec in children:
            assert rec.parent == component_urn, f"{rec.urn}: parent {rec.parent}"
            assert rec.provider_urn == data_provider_urn, f"{rec.urn}: provider {rec.provider!r}"
            assert "region" not in rec.inputs, f"{rec.urn}: the provider's region is the single source"

    return settled(monitor, audit.urn, site_providers.data.urn).apply(check)


@pulumi.runtime.test
def test_bucket_is_named_object_locked_from_creation_and_protected(site_providers, monitor, dublin_config):
    audit = build(dublin_config, site_providers)

    def check(args):
        (name, arn), records = args
        bucket = one(records, BUCKET)
        assert name == bucket.inputs["bucket"] == "enclave-dublin-audit-logs-111111111111", bucket.urn
        assert arn == dublin_config.bucket_arn("audit-logs"), bucket.urn
        assert bucket.inputs["objectLockEnabled"] is True, f"{bucket.urn}: Object Lock is only possible at creation"
        assert bucket.protect is True, f"{bucket.urn}: the audit log bucket must be protected"
        assert not bucket.inputs.get("forceDestroy"), f"{bucket.urn}: force_destroy must stay off"
        for inline in ("replicationConfiguration", "policy", "acl", "grants", "lifecycleRules"):
            assert inline not in bucket.inputs, f"{bucket.urn}: inline {inline}"

    return settled(monitor, audit.log_bucket_name, audit.log_bucket_arn).apply(check)


@pulumi.runtime.test
def test_object_lock_is_compliance_mode_for_the_configured_days_and_protected(site_providers, monitor, dublin_config):
    # A value other than the shipped one shows the retention follows the config.
    cfg = replace(dublin_config, audit_log_retention_days=400)
    audit = build(cfg, site_providers)

    def check(args):
        _, records = args
        lock = child(records, "bucketObjectLockConfiguration")
        assert lock.inputs["bucket"] == cfg.bucket_name("audit-logs"), lock.urn
        assert lock.inputs.get("objectLockEnabled", "Enabled") == "Enabled", lock.urn
        retention = lock.inputs["rule"]["defaultRetention"]
        assert retention == {"mode": "COMPLIANCE", "days": 400}, f"{lock.urn}: {retention}"
        assert lock.protect is True, f"{lock.urn}: deleting it would drop the default retention"
        versioning = child(records, "bucketVersioning")
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled", versioning.urn

    return settled(monitor, audit.log_bucket_arn).apply(check)


@pulumi.runtime.test
def test_bucket_encrypts_with_the_operator_key_and_is_private(site_providers, monitor, dublin_config):
    audit = build(dublin_config, site_providers)

    def check(args):
        _, records = args
        sse = child(records, "bucketServerSideEncryptionConfiguration")
        (rule,) = sse.inputs["rules"]
        default = rule["applyServerSideEncryptionByDefault"]
        assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}, f"{sse.urn}: {default}"
        assert rule["bucketKeyEnabled"] is True, f"{sse.urn}: bucket keys off"
        assert rule["blockedEncryptionTypes"] == ["SSE-C"], f"{sse.urn}: SSE-C must be blocked"
        pab = child(records, "bucketPublicAccessBlock")
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            assert pab.inputs.get(flag) is True, f"{pab.urn}: {flag} must be True"
        own = child(records, "bucketOwnershipControls")
        assert own.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}, own.urn
        for rec in (sse, pab, own):
            assert rec.inputs["bucket"] == dublin_config.bucket_name("audit-logs"), rec.urn

    return settled(monitor, audit.log_bucket_arn).apply(check)


@pulumi.runtime.test
def test_registered_bucket_policy_is_the_documented_one(site_providers, monitor, dublin_config):
    audit = build(dublin_config, site_providers)

    def check(args):
        _, records = args
        rec = child(records, "bucketPolicy")
        assert rec.inputs["bucket"] == dublin_config.bucket_name("audit-logs"), rec.urn
        assert json.loads(rec.inputs["policy"]) == audit_log_bucket_policy(dublin_config), rec.urn
        for dep in ("bucketPublicAccessBlock", "bucketOwnershipControls"):
            assert child(records, dep).urn in rec.dependencies, f"{rec.urn}: must wait for {dep}"

    return settled(monitor, audit.log_bucket_arn).apply(check)


# --------------------------------------------------------------------------- the bucket policy


def test_policy_denies_insecure_transport(dublin_config):
    stmt = statement(audit_log_bucket_policy(dublin_config), "DenyInsecureTransport")
    bucket = dublin_config.bucket_arn("audit-logs")
    assert (stmt["Effect"], stmt["Principal"], stmt["Action"]) == ("Deny", "*", "s3:*")
    assert stmt["Resource"] == [bucket, f"{bucket}/*"]
    assert stmt["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_only_this_sites_trail_may_deliver_into_its_account_prefix(dublin_config):
    policy = audit_log_bucket_policy(dublin_config)
    bucket = dublin_config.bucket_arn("audit-logs")
    trail = "arn:aws:cloudtrail:eu-west-1:111111111111:trail/enclave-dublin-trail"
    acl = statement(policy, "CloudTrailAclCheck")
    assert acl["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert (acl["Action"], acl["Resource"]) == ("s3:GetBucketAcl", bucket)
    assert acl["Condition"] == {"StringEquals": {"aws:SourceArn": trail}}
    write = statement(policy, "CloudTrailWrite")
    assert write["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert (write["Action"], write["Resource"]) == ("s3:PutObject", f"{bucket}/AWSLogs/111111111111/*")
    assert write["Condition"]["StringEquals"]["aws:SourceArn"] == trail
    assert write["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"


def test_log_delivery_is_admitted_for_the_flow_and_dns_log_prefixes_of_this_account_only(dublin_config):
    policy = audit_log_bucket_policy(dublin_config)
    bucket = dublin_config.bucket_arn("audit-logs")
    source_arn = {"aws:SourceArn": "arn:aws:logs:eu-west-1:111111111111:*"}
    acl = statement(policy, "LogDeliveryAclCheck")
    assert acl["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    # The statement the VPC guide documents: ACL check and ListBucket on the bucket.
    assert (acl["Action"], acl["Resource"]) == (["s3:GetBucketAcl", "s3:ListBucket"], bucket)
    assert acl["Condition"] == {"StringEquals": {"aws:SourceAccount": "111111111111"}, "ArnLike": source_arn}
    write = statement(policy, "LogDeliveryWrite")
    assert write["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert write["Resource"] == [
        f"{bucket}/{FLOW_LOG_PREFIX}AWSLogs/111111111111/*",
        f"{bucket}/{DNS_QUERY_LOG_PREFIX}AWSLogs/111111111111/*",
    ]
    assert DNS_QUERY_LOG_PREFIX == "dns-query-logs/"
    assert write["Condition"]["StringEquals"] == {
        "s3:x-amz-acl": "bucket-owner-full-control",
        "aws:SourceAccount": "111111111111",
    }
    assert write["Condition"]["ArnLike"] == source_arn


def test_only_log_services_are_allowed_anything(dublin_config):
    for stmt in audit_log_bucket_policy(dublin_config)["Statement"]:
        if stmt["Effect"] == "Allow":
            assert set(stmt["Principal"]) == {"Service"}, f"{stmt['Sid']}: {stmt['Principal']}"
            actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
            assert set(actions) <= {"s3:GetBucketAcl", "s3:ListBucket", "s3:PutObject"}, stmt["Sid"]


def test_data_account_principals_cannot_write_or_delete_logs(dublin_config):
    policy = audit_log_bucket_policy(dublin_config)
    objects = f"{dublin_config.bucket_arn('audit-logs')}/*"
    writes = statement(policy, "DenyWritesExceptLogDelivery")
    assert (writes["Effect"], writes["Principal"], writes["Action"], writes["Resource"]) == (
        "Deny",
        "*",
        "s3:PutObject",
        objects,
    )
    assert writes["Condition"] == {"Bool": {"aws:PrincipalIsAWSService": "false"}}
    deletes = statement(policy, "DenyLogDeletion")
    assert (deletes["Effect"], deletes["Principal"], deletes["Resource"]) == ("Deny", "*", objects)
    assert set(deletes["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion"}
    assert "Condition" not in deletes, "no one is exempt from the deletion deny"


def test_replication_is_denied_to_everyone(dublin_config):
    stmt = statement(audit_log_bucket_policy(dublin_config), "NoReplicationForAnyone")
    assert (stmt["Effect"], stmt["Principal"], stmt["Action"]) == ("Deny", "*", "s3:PutReplicationConfiguration")
    assert stmt["Resource"] == dublin_config.bucket_arn("audit-logs")
    assert "Condition" not in stmt, "not even the deployer may configure replication"


def test_only_the_deployment_role_changes_bucket_settings(dublin_config):
    stmt = statement(audit_log_bucket_policy(dublin_config), "OnlyDeployerChangesBucketSettings")
    assert (stmt["Effect"], stmt["Principal"]) == ("Deny", "*")
    assert stmt["Resource"] == dublin_config.bucket_arn("audit-logs")
    assert stmt["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/enclave-deployer"}
    }
    must_cover = {
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketVersioning",
        "s3:PutEncryptionConfiguration",
        "s3:PutLifecycleConfiguration",
    }
    assert must_cover <= set(stmt["Action"]) == set(GOVERNANCE_ACTIONS)


@pytest.mark.parametrize("stack", STACKS)
def test_bucket_policy_lints_clean(stack):
    cfg = site_config_from_mapping(stack_config(stack))
    findings = analyze_policy_string(json.dumps(audit_log_bucket_policy(cfg)), include_community_auditors=True)
    assert not [(f.issue, f.detail) for f in findings.findings], f"{stack}: {findings.findings}"


# --------------------------------------------------------------------------- the trail


@pulumi.runtime.test
def test_trail_is_single_region_validated_and_encrypted_with_the_operator_key(site_providers, monitor, dublin_config):
    audit = build(dublin_config, site_providers)

    def check(args):
        (trail_arn, bucket_name), records = args
        trail = one(records, TRAIL)
        assert trail.inputs["name"] == "enclave-dublin-trail", trail.urn
        # The bucket policy admits exactly this ARN; the two must agree.
        assert trail_arn == dublin_config.trail_arn, trail.urn
        assert trail.inputs["s3BucketName"] == bucket_name, trail.urn
        assert "s3KeyPrefix" not in trail.inputs, f"{trail.urn}: the policy admits AWSLogs/<account>/ at the root"
        assert trail.inputs["isMultiRegionTrail"] is False, f"{trail.urn}: must stay in the site's region"
        assert trail.inputs.get("isOrganizationTrail") in (None, False), trail.urn
        assert trail.inputs["includeGlobalServiceEvents"] is False, trail.urn
        assert trail.inputs["enableLogFileValidation"] is True, f"{trail.urn}: digests make tampering detectable"
        assert trail.inputs["enableLogging"] is True, trail.urn
        assert trail.inputs["kmsKeyId"] == KEY_ARN, f"{trail.urn}: must encrypt with the operator key"
        for forbidden in ("cloudWatchLogsGroupArn", "snsTopicName"):
            assert forbidden not in trail.inputs, f"{trail.urn}: {forbidden} sends records elsewhere"

    return settled(monitor, audit.trail_arn, audit.log_bucket_name).apply(check)


@pulumi.runtime.test
def test_trail_records_management_and_user_data_object_events(site_providers, monitor, dublin_config):
    audit = build(dublin_config, site_providers)

    def check(args):
        _, records = args
        trail = one(records, TRAIL)
        (selector,) = trail.inputs["eventSelectors"]
        assert selector["readWriteType"] == "All", f"{trail.urn}: reads and writes"
        assert selector["includeManagementEvents"] is True, trail.urn
        assert not selector.get("excludeManagementEventSources"), trail.urn
        assert selector["dataResources"] == [
            {
                "type": "AWS::S3::Object",
                "values": [
                    "arn:aws:s3:::enclave-dublin-user-data-111111111111/",
                    "arn:aws:s3:::enclave-dublin-exports-111111111111/",
                ],
            }
        ], trail.urn

    return settled(monitor, audit.trail_arn).apply(check)


@pulumi.runtime.test
def test_trail_waits_for_object_lock_encryption_and_policy_and_is_protected(site_providers, monitor, dublin_config):
    audit = build(dublin_config, site_providers)

    def check(args):
        (_, *exposed), records = args
        trail = one(records, TRAIL)
        ready = [
            child(records, t) for t in ("bucketObjectLockConfiguration", "bucketServerSideEncryptionConfiguration")
        ]
        ready.append(child(records, "bucketPolicy"))
        for rec in ready:
            assert rec.urn in trail.dependencies, f"{trail.urn}: no log file before {rec.urn}"
        # What the other log deliveries (flow logs, DNS query logs) are given to wait for.
        assert exposed == [r.urn for r in ready]
        assert trail.protect is True, f"{trail.urn}: the trail must be protected against deletion"

    return settled(monitor, audit.trail_arn, *[r.urn for r in audit.log_delivery_prerequisites]).apply(check)


@pulumi.runtime.test
def test_log_bucket_arn_output_waits_for_the_policy(site_providers, monitor, dublin_config):
    audit = build(dublin_config, site_providers)
    # A resource built from the output depends on what the output depends on.
    probe = pulumi.CustomResource("test:probe:Probe", "probe", {"target": audit.log_bucket_arn})

    def check(args):
        (arn, _), records = args
        assert arn == dublin_config.bucket_arn("audit-logs")
        (rec,) = [r for r in records if r.type == "test:probe:Probe"]
        policy = child(records, "bucketPolicy")
        assert policy.urn in rec.dependencies, f"{rec.urn}: deps {rec.dependencies}"

    return settled(monitor, audit.log_bucket_arn, probe.urn).apply(check)


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_has_one_protected_trail_and_locked_bucket_in_its_region(program_run, stack):
    run = program_run(stack)
    cfg = site_config_from_mapping(stack_config(stack))
    (trail,) = run.of_type(TRAIL)
    assert trail.inputs["name"] == cfg.trail_name and trail.protect, trail.urn
    assert run.effective_region(trail) == cfg.region, f"{trail.urn}: {run.effective_region(trail)}"
    (bucket,) = [b for b in run.of_type(BUCKET) if b.inputs["bucket"] == cfg.bucket_name("audit-logs")]
    assert bucket.inputs["objectLockEnabled"] is True and bucket.protect, bucket.urn
    assert run.effective_region(bucket) == cfg.region, bucket.urn


# --------------------------------------------------------------------------- a sandbox


@pulumi.runtime.test
def test_sandbox_bucket_tears_down_governance_one_day_nothing_protected(site_providers, monitor, dublin_config):
    cfg = replace(dublin_config, sandbox=True)
    audit = build(cfg, site_providers)

    def check(args):
        _, records = args
        bucket = one(records, BUCKET)
        assert bucket.protect is False and bucket.inputs["forceDestroy"] is True, bucket.urn
        assert bucket.inputs["objectLockEnabled"] is True, f"{bucket.urn}: still locked, only for less long"
        lock = child(records, "bucketObjectLockConfiguration")
        assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": SANDBOX_RETENTION_DAYS}
        assert lock.protect is False, lock.urn
        assert one(records, TRAIL).protect is False
        sse = child(records, "bucketServerSideEncryptionConfiguration")
        assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == KEY_ARN

    return settled(monitor, audit.trail_arn).apply(check)


def test_only_a_sandbox_deployer_may_delete_log_versions(dublin_config):
    site = statement(audit_log_bucket_policy(dublin_config), "DenyLogDeletion")
    assert "Condition" not in site
    sandbox = statement(audit_log_bucket_policy(replace(dublin_config, sandbox=True)), "DenyLogDeletion")
    assert sandbox["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": dublin_config.deployment_role_arn}}
    assert {k: v for k, v in sandbox.items() if k != "Condition"} == site
