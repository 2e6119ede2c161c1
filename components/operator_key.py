"""The operator-held data key: a single-region KMS key in the third-party operator's account."""

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import SiteConfig

KEY_ADMIN_ACTIONS = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:ListGrants",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:PutKeyPolicy",
    "kms:UpdateKeyDescription",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:EnableKeyRotation",
    "kms:RotateKeyOnDemand",
)
"""What the operator account may do with the key: administer it, never use it.

Deliberately absent: every cryptographic action (the operator holds the key but
cannot read the data), ``kms:CreateGrant`` and ``kms:ReplicateKey`` (denied to
everyone below), ``kms:DisableKeyRotation`` (rotation stays on) and
``kms:ImportKeyMaterial`` (the key material is AWS-generated).
"""

KEY_USE_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey")
"""What named data-account principals may do, and only through an in-region S3 or Secrets Manager."""

DENIED_FOR_EVERYONE = ("kms:CreateGrant", "kms:ReplicateKey", "kms:UpdatePrimaryRegion")
"""No grants (they would bypass this policy's conditions) and no copy of the key in another region."""

KEY_CRYPTO_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")


def _in_region_services(cfg: SiteConfig, *services: str) -> list[str]:
    return [f"{service}.{cfg.region}.amazonaws.com" for service in services]


def audit_bucket_context(cfg: SiteConfig) -> list[str]:
    """Values of ``kms:EncryptionContext:aws:s3:arn`` for objects of the audit-log bucket.

    With an S3 Bucket Key the context is the bucket's ARN, without one the object's.
    """
    return [cfg.bucket_arn("audit-logs"), f"{cfg.bucket_arn('audit-logs')}/*"]


def operator_key_policy(cfg: SiteConfig) -> dict[str, Any]:
    """The key policy of the site's operator-held key, derived from config names only.

    Data-account roles are named through ``aws:PrincipalArn`` conditions with the
    data account's root as principal: KMS rejects a policy whose principals do not
    exist yet, and the roles are created after the key.
    """
    operator_root = f"arn:aws:iam::{cfg.operator_account_id}:root"
    data_root = f"arn:aws:iam::{cfg.data_account_id}:root"
    data_users = [cfg.role_arn("workload"), cfg.role_arn("staff-access"), cfg.deployment_role_arn]
    trail_context = f"arn:aws:cloudtrail:*:{cfg.data_account_id}:trail/*"
    return {
        "Version": "2012-10-17",
        "Id": f"{cfg.name_prefix}-operator-key",
        "Statement": [
            {
                "Sid": "OperatorAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": operator_root},
                "Action": list(KEY_ADMIN_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "DataRolesUseKeyViaInRegionS3AndSecretsManager",
                "Effect": "Allow",
                "Principal": {"AWS": data_root},
                "Action": list(KEY_USE_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": cfg.data_account_id,
                        "kms:ViaService": _in_region_services(cfg, "s3", "secretsmanager"),
                    },
                    "ArnEquals": {"aws:PrincipalArn": data_users},
                },
            },
            {
                "Sid": "AuditorDecryptsTrailLogsOnly",
                "Effect": "Allow",
                "Principal": {"AWS": data_root},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": cfg.data_account_id,
                        "kms:ViaService": _in_region_services(cfg, "s3"),
                        "kms:EncryptionContext:aws:cloudtrail:arn": cfg.trail_arn,
                    },
                    "ArnEquals": {"aws:PrincipalArn": cfg.role_arn("auditor")},
                },
            },
            {
                # Flow logs (and, with S3 Bucket Keys, possibly trail files) carry
                # the audit bucket as their S3 encryption context, not the trail's:
                # the auditor reads them through S3 in-region, and nothing else.
                "Sid": "AuditorDecryptsAuditBucketObjects",
                "Effect": "Allow",
                "Principal": {"AWS": data_root},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": cfg.data_account_id,
                        "kms:ViaService": _in_region_services(cfg, "s3"),
                    },
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": audit_bucket_context(cfg)},
                    "ArnEquals": {"aws:PrincipalArn": cfg.role_arn("auditor")},
                },
            },
            {
                # `enclave audit` checks, as the auditor, that the key is enabled,
                # single-region and rotating. Reads only; no kms:ViaService since
                # the auditor calls KMS directly, across accounts.
                "Sid": "AuditorReadsKeyConfiguration",
                "Effect": "Allow",
                "Principal": {"AWS": data_root},
                "Action": ["kms:DescribeKey", "kms:GetKeyRotationStatus"],
                "Resource": "*",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": cfg.role_arn("auditor")}},
            },
            {
                "Sid": "CloudTrailEncryptsSiteTrail",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": cfg.trail_arn},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_context},
                },
            },
            {
                # AWS documents both as required for a trail: DescribeKey when the
                # trail is created, Decrypt when the trail bucket uses an S3 Bucket Key.
                "Sid": "CloudTrailDescribesKeyForSiteTrail",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": ["kms:DescribeKey", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": cfg.trail_arn}},
            },
            {
                # Server access logs land in an SSE-KMS bucket only if the log
                # delivery service may use the key (aws-cdk PRs #24789/#25350). An
                # SSE-KMS PutObject needs GenerateDataKey, and Decrypt when S3 splits
                # it into a multipart upload.
                "Sid": "S3ServerAccessLoggingEncryptsLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": cfg.data_account_id}},
            },
            {
                "Sid": "FlowLogDeliveryEncryptsLogs",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": cfg.data_account_id}},
            },
            {
                "Sid": "NoGrantsNoReplication",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(DENIED_FOR_EVERYONE),
                "Resource": "*",
            },
            {
                # Defence in depth against a later, broader Allow: whenever a
                # service acts for a caller (kms:ViaService present), it must be one
                # of the site's in-region services. Direct calls by the service
                # principals above carry no kms:ViaService, so they are untouched;
                # CloudTrail is listed because it writes trail files through S3 and
                # the issue names it among the permitted services.
                "Sid": "DenyUseThroughOtherServicesOrRegions",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(KEY_CRYPTO_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "Null": {"kms:ViaService": "false"},
                    "StringNotEquals": {
                        "kms:ViaService": _in_region_services(cfg, "s3", "secretsmanager", "cloudtrail")
                    },
                },
            },
        ],
    }


@dataclass(frozen=True)
class OperatorKeyArgs:
    """Inputs of ``OperatorKey``."""

    config: SiteConfig
    """The validated site configuration; every principal in the key policy derives from it."""
    provider: aws.Provider
    """The operator-account provider (``SiteProviders.operator``); its region is the key's region."""
    policy: dict[str, Any] | None = None
    """Key policy; default ``operator_key_policy(config)`` (the data key). The export key passes its own."""
    alias: str | None = None
    """Alias; default ``config.key_alias``."""
    description: str | None = None
    """Description; default the data key's."""


class OperatorKey(pulumi.ComponentResource):
    """A customer-managed KMS key held by the third-party operator: single-region, rotated, protected.

    The operator administers it but cannot use it; named data-account roles use
    it only through S3 and Secrets Manager in the site's region.
    """

    key_arn: pulumi.Output[str]
    """ARN of the key (the form S3 and Secrets Manager need for a cross-account key)."""
    key_id: pulumi.Output[str]
    """The key's id."""
    alias_name: pulumi.Output[str]
    """The key's alias, ``alias/enclave-<site>-data``, in the operator account."""

    def __init__(self, name: str, args: OperatorKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("enclave:keys:OperatorKey", name, None, opts)
        cfg = args.config
        key = aws.kms.Key(
            f"{name}-key",
            description=args.description
            or f"enclave {cfg.site}: operator-held key for the site's user data and logs ({cfg.region})",
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            multi_region=False,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=json.dumps(args.policy if args.policy is not None else operator_key_policy(cfg)),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, protect=True),
        )
        alias = aws.kms.Alias(
            f"{name}-alias",
            name=args.alias or cfg.key_alias,
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.alias_name = alias.name
        self.register_outputs({"key_arn": self.key_arn, "key_id": self.key_id, "alias_name": self.alias_name})
