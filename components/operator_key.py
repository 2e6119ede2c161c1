"""The operator-held data key: a single-region KMS key in the third-party operator's account."""

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import SiteConfig
from components.pseudonym_secret import pepper_secret_arn_pattern

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
"""What the site's runtime roles may do, and only through an in-region S3 or Secrets Manager."""

DEPLOYER_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
"""What Secrets Manager calls on the deployer's behalf to write the pepper's version and read it back."""

DELETION_WINDOW_DAYS = 30
"""Days a scheduled deletion can still be cancelled: the longest KMS allows."""

SANDBOX_DELETION_WINDOW_DAYS = 7
"""The shortest KMS allows, for a sandbox's teardown."""

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
    data_users = [cfg.role_arn("workload"), cfg.role_arn("staff-access")]
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
                # The deployer writes the pepper (a new secret version: GenerateDataKey)
                # and the provider reads it back on refresh (Decrypt), both through
                # Secrets Manager, which binds every call to the secret's ARN in the
                # encryption context. Nothing else: the deployer never decrypts user
                # data, logs or any other secret, whatever its identity policy says.
                "Sid": "DeployerUsesKeyForThePepperOnly",
                "Effect": "Allow",
                "Principal": {"AWS": data_root},
                "Action": list(DEPLOYER_KEY_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": cfg.data_account_id,
                        "kms:ViaService": _in_region_services(cfg, "secretsmanager"),
                    },
                    "StringLike": {"kms:EncryptionContext:SecretARN": pepper_secret_arn_pattern(cfg)},
                    "ArnEquals": {"aws:PrincipalArn": cfg.deployment_role_arn},
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
                # Flow logs and Resolver query logs (vended logs into the audit bucket):
                # the conditions AWS documents for a customer managed key.
                "Sid": "LogDeliveryEncryptsLogs",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": cfg.data_account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{cfg.region}:{cfg.data_account_id}:*"},
                },
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
    it only through S3 and Secrets Manager in the site's region, the deployer only
    for the pepper. A sandbox's key is not protected and has the shortest deletion window.
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
            deletion_window_in_days=SANDBOX_DELETION_WINDOW_DAYS if cfg.sandbox else DELETION_WINDOW_DAYS,
            policy=json.dumps(args.policy if args.policy is not None else operator_key_policy(cfg)),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, protect=not cfg.sandbox),
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
