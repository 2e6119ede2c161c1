"""The deployment role keeps what the AWS provider needs to read, refresh and update, and no access to data.

Decided by the small evaluator (``tests/iam_eval.py``) on the documents the
program really registers, for both stacks and for a sandbox. What the provider
calls comes from terraform-provider-aws, which pulumi-aws wraps:
``internal/service/s3/bucket.go`` (``findBucket`` is HeadBucket, authorised as
``s3:ListBucket``: a 403 there fails every refresh, only a 404 means "gone";
``resourceBucketRead`` then reads each setting; ``findBucketRegion`` is
HeadBucket again) and the read functions of the bucket's sub-resources.
"""

from __future__ import annotations

import json

import pytest

from components.config import site_config_from_mapping
from components.pseudonym_secret import pepper_secret_name
from tests import records
from tests.conftest import STACKS, stack_config
from tests.iam_eval import Request, allows, denies, role_request

PROVIDER_READS = (
    "s3:ListBucket",  # HeadBucket: existence on every read, and the bucket's region
    "s3:GetBucketPolicy",
    "s3:GetBucketAcl",
    "s3:GetBucketCORS",
    "s3:GetBucketWebsite",
    "s3:GetBucketVersioning",
    "s3:GetAccelerateConfiguration",
    "s3:GetBucketRequestPayment",
    "s3:GetBucketLogging",
    "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:GetEncryptionConfiguration",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketTagging",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketLocation",
)
"""Every read of a bucket and of the settings the program manages on it."""

PROVIDER_UPDATES = (
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketLogging",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketTagging",
)
"""The writes of the settings the program manages (default tags included)."""

SANDBOX_TEARDOWN = {
    "user-data": (("s3:ListBucketVersions", ""), ("s3:DeleteObjectVersion", "/k"), ("s3:DeleteObject", "/k")),
    # Listing the audit log is no secret; deleting it is what its policy refuses.
    "audit-logs": (("s3:DeleteObjectVersion", "/k"), ("s3:DeleteObject", "/k")),
}
"""What force_destroy does, on the bucket or an object, where a bucket policy stands in its way
(the Object Lock governance bypass is the deployer's own IAM grant)."""

OBJECT_DATA = ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject")

BUCKET_ROLES = ("user-data", "access-logs", "audit-logs", "exports")
"""Every bucket the program makes: each one's policy must leave the deployer its reads and updates."""


def bucket_policies(run) -> list[tuple[str, dict]]:
    return [
        (r.inputs["bucket"], json.loads(r.inputs["policy"])) for r in run.of_type("aws:s3/bucketPolicy:BucketPolicy")
    ]


def runs(program_run):
    for stack in STACKS:
        yield stack, program_run(stack), site_config_from_mapping(stack_config(stack))
    sandbox = records.sandbox_run("dublin")
    yield "dublin sandbox", sandbox, site_config_from_mapping(sandbox.config)


def test_no_bucket_policy_denies_the_deployer_a_read_or_an_update_of_the_settings(program_run):
    checked = 0
    for label, run, cfg in runs(program_run):
        policies = bucket_policies(run)
        assert {bucket for bucket, _ in policies} == {cfg.bucket_name(r) for r in BUCKET_ROLES}
        for bucket, policy in policies:
            for action in (*PROVIDER_READS, *PROVIDER_UPDATES):
                request = role_request(cfg.deployment_role_arn, action, f"arn:aws:s3:::{bucket}")
                assert denies(policy, request) == [], f"{label} {bucket}: {action} denied to the deployer"
                checked += 1
    assert checked == 3 * len(BUCKET_ROLES) * (len(PROVIDER_READS) + len(PROVIDER_UPDATES))


def test_the_deployer_never_reads_or_writes_user_data_objects(program_run):
    for label, run, cfg in runs(program_run):
        (policy,) = [p for b, p in bucket_policies(run) if b == cfg.bucket_name("user-data")]
        for action in OBJECT_DATA:
            request = role_request(cfg.deployment_role_arn, action, f"{cfg.bucket_arn('user-data')}/any/key")
            assert denies(policy, request), f"{label}: {action} on user data is not denied to the deployer"


def test_only_a_sandbox_deployer_may_empty_the_buckets(program_run):
    for label, run, cfg in runs(program_run):
        other = f"arn:aws:iam::{cfg.data_account_id}:role/some-administrator"
        for bucket, policy in bucket_policies(run):
            role = next(r for r in BUCKET_ROLES if bucket == cfg.bucket_name(r))
            # The access-log bucket denies no object call at all: the logs' key guards them.
            for action, suffix in SANDBOX_TEARDOWN.get(role, ()):
                resource = f"arn:aws:s3:::{bucket}{suffix}"
                denied = denies(policy, role_request(cfg.deployment_role_arn, action, resource))
                assert bool(denied) is not cfg.sandbox, f"{label} {bucket}: {action} for the deployer: {denied}"
                assert denies(policy, role_request(other, action, resource)), f"{label} {bucket}: {action}"


def test_the_deployer_uses_the_key_for_the_pepper_only(program_run):
    for label, run, cfg in runs(program_run):
        keys = {r.name: json.loads(r.inputs["policy"]) for r in run.of_type("aws:kms/key:Key")}
        policy = keys[f"{cfg.name_prefix}-key-key"]
        # The export key is no way around it: the deployer uses it for nothing at all.
        export_key = keys[f"{cfg.name_prefix}-exports-key-key"]
        for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"):
            for via in ("s3", "secretsmanager"):
                ctx = {"kms:CallerAccount": cfg.data_account_id, "kms:ViaService": f"{via}.{cfg.region}.amazonaws.com"}
                request = role_request(cfg.deployment_role_arn, action, "*", ctx)
                assert not allows(export_key, request), f"{label}: export key {action} via {via}"
        pepper = f"arn:aws:secretsmanager:{cfg.region}:{cfg.data_account_id}:secret:{pepper_secret_name(cfg)}-Ab12Cd"
        context = {
            "kms:CallerAccount": cfg.data_account_id,
            "kms:ViaService": f"secretsmanager.{cfg.region}.amazonaws.com",
        }
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            request = role_request(
                cfg.deployment_role_arn, action, "*", {**context, "kms:EncryptionContext:SecretARN": pepper}
            )
            assert allows(policy, request) and not denies(policy, request), f"{label}: the pepper needs {action}"
        refused = [
            # Another secret of the account.
            {**context, "kms:EncryptionContext:SecretARN": pepper.replace("pseudonym-pepper", "other")},
            # User data and logs through S3.
            {
                **context,
                "kms:ViaService": f"s3.{cfg.region}.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": cfg.bucket_arn("user-data"),
            },
            {
                **context,
                "kms:ViaService": f"s3.{cfg.region}.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": cfg.bucket_arn("audit-logs"),
            },
            # A direct call, no service in between.
            {"kms:CallerAccount": cfg.data_account_id},
        ]
        for ctx in refused:
            for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"):
                assert not allows(policy, role_request(cfg.deployment_role_arn, action, "*", ctx)), f"{label}: {ctx}"


@pytest.mark.parametrize("stack", STACKS)
def test_log_delivery_is_admitted_where_it_writes(program_run, stack):
    """The evaluator agrees with AWS's documented delivery paths: flow logs and DNS query logs land, nothing else."""
    run = program_run(stack)
    cfg = site_config_from_mapping(stack_config(stack))
    (policy,) = [p for b, p in bucket_policies(run) if b == cfg.bucket_name("audit-logs")]
    context = {
        "aws:SourceAccount": cfg.data_account_id,
        "aws:SourceArn": f"arn:aws:logs:{cfg.region}:{cfg.data_account_id}:delivery-source:x",
        "s3:x-amz-acl": "bucket-owner-full-control",
        "aws:PrincipalIsAWSService": "true",
        "aws:SecureTransport": "true",
    }
    service = "delivery.logs.amazonaws.com"
    for prefix in ("vpc-flow-logs/", "dns-query-logs/"):
        key = f"{cfg.bucket_arn('audit-logs')}/{prefix}AWSLogs/{cfg.data_account_id}/x.log.gz"
        request = Request(action="s3:PutObject", resource=key, service=service, context=context)
        assert allows(policy, request) and not denies(policy, request), prefix
    elsewhere = Request(
        action="s3:PutObject", resource=f"{cfg.bucket_arn('audit-logs')}/other/x", service=service, context=context
    )
    assert not allows(policy, elsewhere)
