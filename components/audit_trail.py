"""The site's audit trail: a single-region CloudTrail trail into a locked, in-region log bucket.

The log bucket is created with S3 Object Lock and a default retention in
COMPLIANCE mode: no one, not even the account's root user, can delete or
overwrite a log object version until its retention has passed, and the
retention cannot be shortened. Log-file validation adds signed digests, so a
forged or altered log file is detectable. The bucket also receives the VPC flow
logs under ``FLOW_LOG_PREFIX`` and the Route 53 Resolver query logs under
``DNS_QUERY_LOG_PREFIX``; every log delivery waits for the bucket's Object Lock,
encryption and policy (``log_delivery_prerequisites``).

A sandbox (``SiteConfig.sandbox``) keeps everything but the undeletability:
governance mode for ``SANDBOX_RETENTION_DAYS``, no ``protect``, ``force_destroy``,
and the deployer may delete log versions, so ``pulumi destroy`` can finish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.bucket_settings import harden_bucket
from components.config import SiteConfig

FLOW_LOG_PREFIX = "vpc-flow-logs/"
"""Key prefix of the VPC flow logs inside the audit-log bucket (the log service appends ``AWSLogs/<account>/``)."""

DNS_QUERY_LOG_PREFIX = "dns-query-logs/"
"""Key prefix of the Route 53 Resolver query logs inside the audit-log bucket (same delivery service and layout)."""

SANDBOX_RETENTION_DAYS = 1
"""Object Lock default retention of a sandbox, in governance mode: the shortest S3 allows."""

GOVERNANCE_ACTIONS = (
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketAcl",
    "s3:DeleteBucket",
)
"""Settings of the audit-log bucket only the deployment role may change."""

_BUCKET_OWNER_FULL_CONTROL = {"s3:x-amz-acl": "bucket-owner-full-control"}


def _sandbox_teardown_exemption(cfg: SiteConfig) -> dict[str, Any]:
    """In a sandbox only, the deployer may delete log versions (force_destroy); a site has no exception."""
    if not cfg.sandbox:
        return {}
    return {"Condition": {"ArnNotEquals": {"aws:PrincipalArn": cfg.deployment_role_arn}}}


def audit_log_bucket_policy(cfg: SiteConfig) -> dict[str, Any]:
    """The audit-log bucket's policy: TLS only; CloudTrail and flow-log delivery only; nothing deleted or reconfigured."""
    bucket = cfg.bucket_arn("audit-logs")
    objects = f"{bucket}/*"
    account = cfg.data_account_id
    delivery_source = {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{cfg.region}:{account}:*"},
    }
    return {
        "Version": "2012-10-17",
        "Id": f"{cfg.name_prefix}-audit-logs",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket, objects],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "CloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket,
                "Condition": {"StringEquals": {"aws:SourceArn": cfg.trail_arn}},
            },
            {
                # aws:SourceArn names this site's trail: no other trail (of any
                # account) can write here and pass its files off as ours.
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket}/AWSLogs/{account}/*",
                "Condition": {"StringEquals": {**_BUCKET_OWNER_FULL_CONTROL, "aws:SourceArn": cfg.trail_arn}},
            },
            {
                # The vended-log delivery service (flow logs, Resolver query logs):
                # the statements AWS documents, so it never rewrites this policy itself.
                # ListBucket too, which the service tries before writing.
                "Sid": "LogDeliveryAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                "Resource": bucket,
                "Condition": delivery_source,
            },
            {
                "Sid": "LogDeliveryWrite",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": [
                    f"{bucket}/{prefix}AWSLogs/{account}/*" for prefix in (FLOW_LOG_PREFIX, DNS_QUERY_LOG_PREFIX)
                ],
                "Condition": {
                    "StringEquals": {**_BUCKET_OWNER_FULL_CONTROL, "aws:SourceAccount": account},
                    "ArnLike": delivery_source["ArnLike"],
                },
            },
            {
                # Only the log services write: a principal of the data account
                # cannot plant files next to the real logs.
                "Sid": "DenyWritesExceptLogDelivery",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {"Bool": {"aws:PrincipalIsAWSService": "false"}},
            },
            {
                # Object Lock already keeps every version; this also stops
                # delete markers that would hide the current one.
                "Sid": "DenyLogDeletion",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                "Resource": objects,
                **_sandbox_teardown_exemption(cfg),
            },
            {
                "Sid": "OnlyDeployerChangesBucketSettings",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(GOVERNANCE_ACTIONS),
                "Resource": bucket,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": cfg.deployment_role_arn}},
            },
            {
                # No exception, not even the deployer: the logs never leave the region.
                "Sid": "NoReplicationForAnyone",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutReplicationConfiguration",
                "Resource": bucket,
            },
        ],
    }


@dataclass(frozen=True)
class AuditTrailArgs:
    """Inputs of ``AuditTrail``."""

    config: SiteConfig
    """The validated site configuration (trail and bucket names, retention, accounts)."""
    provider: aws.Provider
    """The data-account provider (``SiteProviders.data``); its region is the trail's and the bucket's."""
    key_arn: pulumi.Input[str]
    """ARN of the operator-held KMS key that encrypts the log files."""


class AuditTrail(pulumi.ComponentResource):
    """A single-region trail with log-file validation, recording user-data access, into a locked bucket."""

    trail_arn: pulumi.Output[str]
    """ARN of the site's trail."""
    log_bucket_name: pulumi.Output[str]
    """Name of the audit-log bucket."""
    log_bucket_arn: pulumi.Output[str]
    """ARN of the audit-log bucket; resolves only once its policy is in place, so log delivery set up from it is admitted."""
    log_delivery_prerequisites: list[pulumi.Resource]
    """Object Lock, encryption and policy of the bucket: every log delivery into it ``depends_on`` these."""

    def __init__(self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("enclave:audit:AuditTrail", name, None, opts)
        self._name = name
        self._cfg = args.config
        self._provider = args.provider

        bucket, self.log_delivery_prerequisites = self._create_bucket(args.key_arn)
        trail = self._create_trail(bucket, args.key_arn)
        policy = self.log_delivery_prerequisites[-1]

        self.trail_arn = trail.arn
        self.log_bucket_name = bucket.bucket
        # Carrying the policy as a dependency: whoever sets up delivery into the
        # bucket from this ARN (the flow log) waits until the policy admits it.
        # Otherwise AWS would try to add its own statements to the policy.
        self.log_bucket_arn = pulumi.Output.all(bucket.arn, policy.id).apply(lambda values: values[0])
        self.register_outputs(
            {
                "trail_arn": self.trail_arn,
                "log_bucket_name": self.log_bucket_name,
                "log_bucket_arn": self.log_bucket_arn,
            }
        )

    def _opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._provider, **kwargs)

    def _create_bucket(self, key_arn: pulumi.Input[str]) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
        """The bucket, and what must exist before any log is delivered: Object Lock, encryption, policy (last)."""
        cfg = self._cfg
        protect = not cfg.sandbox
        # Object Lock can only be switched on when the bucket is created.
        bucket = aws.s3.Bucket(
            f"{self._name}-bucket",
            bucket=cfg.bucket_name("audit-logs"),
            object_lock_enabled=True,
            force_destroy=cfg.sandbox,
            opts=self._opts(protect=protect),
        )
        settings = harden_bucket(self._name, bucket, key_arn, self._opts)
        # Protected too: deleting this resource would remove the default retention.
        lock = aws.s3.BucketObjectLockConfiguration(
            f"{self._name}-object-lock",
            bucket=bucket.id,
            object_lock_enabled="Enabled",
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                    mode="GOVERNANCE" if cfg.sandbox else "COMPLIANCE",
                    days=SANDBOX_RETENTION_DAYS if cfg.sandbox else cfg.audit_log_retention_days,
                ),
            ),
            opts=self._opts(protect=protect),
        )
        policy = aws.s3.BucketPolicy(
            f"{self._name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(audit_log_bucket_policy(cfg)),
            opts=self._opts(depends_on=[settings.public_access, settings.ownership]),
        )
        return bucket, [lock, settings.encryption, policy]

    def _create_trail(self, bucket: aws.s3.Bucket, key_arn: pulumi.Input[str]) -> aws.cloudtrail.Trail:
        cfg = self._cfg
        return aws.cloudtrail.Trail(
            f"{self._name}-trail",
            name=cfg.trail_name,
            s3_bucket_name=bucket.bucket,
            # Single-region: the trail and its files stay in the site's region.
            # Global-service events (IAM, the global STS endpoint) are delivered
            # only to trails in us-east-1, so asking for them here would record
            # nothing and suggest otherwise; STS calls through the site's regional
            # endpoint (staff AssumeRole included) are logged here as regional events.
            is_multi_region_trail=False,
            include_global_service_events=False,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=key_arn,
            event_selectors=[
                aws.cloudtrail.TrailEventSelectorArgs(
                    read_write_type="All",
                    include_management_events=True,
                    data_resources=[
                        aws.cloudtrail.TrailEventSelectorDataResourceArgs(
                            type="AWS::S3::Object",
                            # The exports too: every write and every recipient's read is evidence.
                            values=[f"{cfg.bucket_arn('user-data')}/", f"{cfg.bucket_arn('exports')}/"],
                        )
                    ],
                )
            ],
            # CloudTrail checks at creation that it may write to the bucket, and
            # no log file may land before the bucket locks and encrypts it.
            opts=self._opts(depends_on=self.log_delivery_prerequisites, protect=not cfg.sandbox),
        )
