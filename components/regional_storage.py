"""The site's user-data bucket and its access-log bucket, both pinned to the site's region."""

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.bucket_settings import harden_bucket
from components.config import SiteConfig

ACCESS_LOG_PREFIX = "s3-access/user-data/"
"""Key prefix of the data bucket's server access logs inside the log bucket."""

NONCURRENT_VERSION_DAYS = 30
"""Days an overwritten or deleted object version is kept: erasure requests are final after this."""

INCOMPLETE_UPLOAD_DAYS = 7
"""Days after which an unfinished multipart upload (invisible, but stored) is removed."""

ACCESS_LOG_RETENTION_DAYS = 400
"""Days server access logs are kept: a year of evidence plus a margin for the yearly audit."""

GOVERNANCE_ACTIONS = (
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketLogging",
    "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketAcl",
    "s3:DeleteBucket",
)
"""Bucket settings only the deployment role may change (the Delete* APIs of these settings
use the same permissions, e.g. DeleteBucketEncryption needs s3:PutEncryptionConfiguration)."""

OBJECT_DATA_ACTIONS = (
    "s3:GetObject*",
    "s3:PutObject*",
    "s3:DeleteObject*",
    "s3:RestoreObject",
    "s3:ListBucketVersions",
)
"""Reads and writes of objects (versions, tags, attributes included) and listings of their versions:
confined to the VPC endpoint (or the staff gate) when one is given."""

KEY_LISTING_ACTIONS = ("s3:ListBucket",)
"""Listing the keys. ``HeadBucket``, with which the AWS provider reads a bucket on every refresh and
update, is authorised as ``s3:ListBucket`` (an S3 API fact no policy condition can separate from
``ListObjects``), so the deployment role keeps it: key names, pseudonymous by design, never object data."""

TEARDOWN_ACTIONS = ("s3:DeleteObject*", "s3:ListBucketVersions")
"""What ``force_destroy`` needs to empty a bucket: granted to the deployer only in a sandbox."""


def _join(*parts: pulumi.Input[str]) -> pulumi.Input[str]:
    """Concatenate plain strings as a string, anything else as an Output (tests lint the plain form)."""
    if all(isinstance(part, str) for part in parts):
        return "".join(parts)
    return pulumi.Output.concat(*parts)


def _tls_only(arns: list[Any]) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": arns,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _deployer_only_governance(cfg: SiteConfig, bucket_arn: Any) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "OnlyDeployerChangesBucketSettings",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(GOVERNANCE_ACTIONS),
            "Resource": bucket_arn,
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": cfg.deployment_role_arn}},
        },
        {
            # No exception, not even the deployer: data never leaves the site by replication.
            "Sid": "NoReplicationForAnyone",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutReplicationConfiguration",
            "Resource": bucket_arn,
        },
    ]


def data_bucket_policy(
    cfg: SiteConfig,
    bucket_arn: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    read_vpc_endpoint_id: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """The user-data bucket's policy: TLS only, operator-key uploads only, settings frozen, no replication."""
    objects = _join(bucket_arn, "/*")
    statements: list[dict[str, Any]] = [
        _tls_only([bucket_arn, objects]),
        {
            # IfExists: an upload without the header gets the bucket's default
            # encryption (the operator key), so only a *different* choice is refused.
            "Sid": "DenyUploadsNotEncryptedWithKms",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        },
        {
            "Sid": "DenyUploadsWithAnotherKmsKey",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            # The key-id header is typed ARN, so an ARN operator: a bare key id or an
            # alias in the header does not equal the key ARN and is refused too.
            "Condition": {"ArnNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}},
        },
        {
            # A request that names aws:kms but no key is encrypted by S3 with the
            # data account's AWS managed key (aws/s3), not the bucket default: refuse it.
            "Sid": "DenyKmsUploadsThatDoNotNameTheKey",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "Null": {
                    "s3:x-amz-server-side-encryption": "false",
                    "s3:x-amz-server-side-encryption-aws-kms-key-id": "true",
                }
            },
        },
        {
            # SSE-C uses its own headers, which the two statements above never see.
            "Sid": "DenyUploadsWithCustomerProvidedKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
        },
        *_deployer_only_governance(cfg, bucket_arn),
    ]
    if read_vpc_endpoint_id is not None:
        statements.extend(_endpoint_only_statements(cfg, bucket_arn, objects, read_vpc_endpoint_id))
    return {"Version": "2012-10-17", "Id": f"{cfg.name_prefix}-user-data", "Statement": statements}


def _endpoint_only_statements(
    cfg: SiteConfig, bucket_arn: Any, objects: Any, vpc_endpoint_id: pulumi.Input[str]
) -> list[dict[str, Any]]:
    """Object data only through the endpoint (or the staff gate); key listing also for the deployer."""
    staff = cfg.role_arn("staff-access")
    outside = {"StringNotEquals": {"aws:SourceVpce": vpc_endpoint_id}}
    # A sandbox is torn down by the deployer: it may list versions and delete, never read or write.
    teardown = TEARDOWN_ACTIONS if cfg.sandbox else ()
    return [
        {
            # Two conditions in one Deny must both hold: the request is denied
            # when it comes from outside the endpoint AND not from the staff gate role.
            "Sid": "ObjectAccessOnlyThroughVpcEndpointOrStaffGate",
            "Effect": "Deny",
            "Principal": "*",
            "Action": [a for a in OBJECT_DATA_ACTIONS if a not in teardown],
            "Resource": [bucket_arn, objects],
            "Condition": {**outside, "ArnNotEquals": {"aws:PrincipalArn": staff}},
        },
        {
            "Sid": "KeyListingOnlyThroughVpcEndpointStaffGateOrDeployer",
            "Effect": "Deny",
            "Principal": "*",
            "Action": [*KEY_LISTING_ACTIONS, *teardown],
            "Resource": [bucket_arn, objects],
            "Condition": {**outside, "ArnNotEquals": {"aws:PrincipalArn": [staff, cfg.deployment_role_arn]}},
        },
    ]


def log_bucket_policy(
    cfg: SiteConfig,
    bucket_arn: pulumi.Input[str],
    source_bucket_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """The access-log bucket's policy: TLS only, S3 log delivery for the data bucket only, settings frozen."""
    objects = _join(bucket_arn, "/*")
    log_objects = _join(bucket_arn, "/", ACCESS_LOG_PREFIX, "*")
    return {
        "Version": "2012-10-17",
        "Id": f"{cfg.name_prefix}-access-logs",
        "Statement": [
            _tls_only([bucket_arn, objects]),
            {
                "Sid": "S3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": log_objects,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": source_bucket_arn},
                    "StringEquals": {"aws:SourceAccount": cfg.data_account_id},
                },
            },
            *_deployer_only_governance(cfg, bucket_arn),
        ],
    }


@dataclass(frozen=True)
class RegionalStorageArgs:
    """Inputs of ``RegionalStorage``."""

    config: SiteConfig
    """The validated site configuration (bucket names, roles, accounts)."""
    provider: aws.Provider
    """The data-account provider (``SiteProviders.data``); its region is the buckets' region."""
    key_arn: pulumi.Input[str]
    """ARN of the operator-held KMS key that encrypts both buckets."""
    read_vpc_endpoint_id: pulumi.Input[str] | None = None
    """S3 VPC endpoint id; when set, object reads and writes must come through it (or the staff gate role)."""


class RegionalStorage(pulumi.ComponentResource):
    """The user-data bucket and its server-access-log bucket, encrypted with the operator's key.

    Both: SSE-KMS with the operator key and bucket keys, versioning, all four
    public-access blocks, ACLs disabled, lifecycle for old versions, a bucket
    policy that denies plain HTTP and leaves bucket settings to the deployment
    role alone. No replication of any kind; the buckets are protected from deletion.
    """

    data_bucket_name: pulumi.Output[str]
    """Name of the user-data bucket."""
    data_bucket_arn: pulumi.Output[str]
    """ARN of the user-data bucket."""
    log_bucket_name: pulumi.Output[str]
    """Name of the access-log bucket."""
    log_bucket_arn: pulumi.Output[str]
    """ARN of the access-log bucket."""

    def __init__(self, name: str, args: RegionalStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("enclave:storage:RegionalStorage", name, None, opts)
        self._args = args
        cfg = args.config

        logs = self._create_bucket(f"{name}-access-logs", cfg.bucket_name("access-logs"), expire_current=True)
        log_policy = self._create_policy(
            f"{name}-access-logs",
            logs,
            pulumi.Output.json_dumps(log_bucket_policy(cfg, logs["bucket"].arn, cfg.bucket_arn("user-data"))),
        )

        data = self._create_bucket(f"{name}-user-data", cfg.bucket_name("user-data"), expire_current=False)
        self._create_policy(
            f"{name}-user-data",
            data,
            pulumi.Output.json_dumps(
                data_bucket_policy(cfg, data["bucket"].arn, args.key_arn, args.read_vpc_endpoint_id)
            ),
        )
        aws.s3.BucketLogging(
            f"{name}-user-data-logging",
            bucket=data["bucket"].id,
            target_bucket=logs["bucket"].id,
            target_prefix=ACCESS_LOG_PREFIX,
            # Deliver no log record before the log bucket admits the log service
            # and encrypts with the operator key.
            opts=self._opts(depends_on=[log_policy, logs["encryption"]]),
        )

        self.data_bucket_name = data["bucket"].bucket
        self.data_bucket_arn = data["bucket"].arn
        self.log_bucket_name = logs["bucket"].bucket
        self.log_bucket_arn = logs["bucket"].arn
        self.register_outputs(
            {
                "data_bucket_name": self.data_bucket_name,
                "data_bucket_arn": self.data_bucket_arn,
                "log_bucket_name": self.log_bucket_name,
                "log_bucket_arn": self.log_bucket_arn,
            }
        )

    def _opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider, **kwargs)

    def _create_bucket(self, name: str, bucket_name: str, expire_current: bool) -> dict[str, pulumi.CustomResource]:
        """One bucket with its encryption, versioning, access block, ownership and lifecycle."""
        s3 = aws.s3
        sandbox = self._args.config.sandbox
        # A sandbox must tear down: no protect, and force_destroy empties the bucket first.
        bucket = s3.Bucket(name, bucket=bucket_name, force_destroy=sandbox, opts=self._opts(protect=not sandbox))
        settings = harden_bucket(name, bucket, self._args.key_arn, self._opts)
        rules = [
            s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=s3.BucketLifecycleConfigurationRuleFilterArgs(),
                noncurrent_version_expiration=s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=NONCURRENT_VERSION_DAYS
                ),
            ),
            s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-uploads",
                status="Enabled",
                filter=s3.BucketLifecycleConfigurationRuleFilterArgs(),
                abort_incomplete_multipart_upload=s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=INCOMPLETE_UPLOAD_DAYS
                ),
            ),
        ]
        if expire_current:
            rules.append(
                s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-logs",
                    status="Enabled",
                    filter=s3.BucketLifecycleConfigurationRuleFilterArgs(),
                    expiration=s3.BucketLifecycleConfigurationRuleExpirationArgs(days=ACCESS_LOG_RETENTION_DAYS),
                )
            )
        s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=rules,
            # Noncurrent-version rules act on a versioned bucket (as the SDK's own example orders them).
            opts=self._opts(depends_on=[settings.versioning]),
        )
        return {
            "bucket": bucket,
            "encryption": settings.encryption,
            "public_access": settings.public_access,
            "ownership": settings.ownership,
        }

    def _create_policy(
        self, name: str, parts: dict[str, pulumi.CustomResource], policy: pulumi.Output[str]
    ) -> aws.s3.BucketPolicy:
        # S3 answers OperationAborted ("a conflicting conditional operation is in
        # progress") when the access block or ownership controls are written
        # while the policy is, so the policy waits for both.
        return aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=parts["bucket"].id,
            policy=policy,
            opts=self._opts(depends_on=[parts["public_access"], parts["ownership"]]),
        )
