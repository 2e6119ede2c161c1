"""The export bucket: the one place data may leave Europe, and only pseudonymised, declared and time-boxed.

Every site has one export bucket in its region, in the data account,
encrypted with an export key that the operator holds (not the data key: a
recipient that must decrypt its exports never touches the key of the user
data). Nobody outside the site can read anything from it until a transfer
grant (``transferGrants``) names a recipient; each grant in force then lets
that recipient's account read, within the grant's window, the objects under
the grant's prefix that the pseudonymisation step wrote and labelled, and
nothing else. Writes come only from the workload role through the site's S3
endpoint, each in one request that carries the ``enclave:pseudonymised`` tag
and the export key, never as a copy of another object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.bucket_settings import harden_bucket
from components.config import SiteConfig
from components.grants import (
    PSEUDONYMISED_TAG,
    TransferGrant,
    transfer_bucket_statements,
    transfer_key_statement,
)
from components.operator_key import (
    DENIED_FOR_EVERYONE,
    KEY_ADMIN_ACTIONS,
    KEY_CRYPTO_ACTIONS,
    OperatorKey,
    OperatorKeyArgs,
)
from components.regional_storage import _deployer_only_governance, _tls_only

EXPORTS = "exports"
"""The bucket's role in its name, ``enclave-<site>-exports-<data account>``, and the one key prefix writes may use."""

WRITE_ACTIONS = ("s3:PutObject", "s3:PutObjectTagging")
"""What the pseudonymiser needs: S3 authorises a PutObject that sets tags as s3:PutObjectTagging too."""

TAG_CHANGE_ACTIONS = ("s3:PutObjectTagging", "s3:PutObjectVersionTagging")
TAG_REMOVE_ACTIONS = ("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging")
OBJECT_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
RECIPIENT_ACTIONS = ("s3:GetObject", "s3:ListBucket")
"""All a recipient may ever do here (reads of current objects and listing its prefix)."""

NONCURRENT_DAYS = 1
"""An overwritten export is gone a day later (recipients never read old versions)."""

INCOMPLETE_UPLOAD_DAYS = 1


def export_resource_names(name_prefix: str) -> tuple[str, str]:
    """Resource names of the export bucket's policy and the export key: the only places that name recipients.

    ``__main__.py`` names the component ``<name prefix>-exports``; a test keeps the two in step.
    """
    return f"{name_prefix}-{EXPORTS}-policy", f"{name_prefix}-{EXPORTS}-key-key"


def export_key_alias(cfg: SiteConfig) -> str:
    return f"alias/{cfg.name_prefix}-export"


def _objects(cfg: SiteConfig) -> str:
    return f"{cfg.bucket_arn(EXPORTS)}/*"


def _writable(cfg: SiteConfig) -> str:
    return f"{cfg.bucket_arn(EXPORTS)}/{EXPORTS}/*"


def _s3(cfg: SiteConfig) -> str:
    return f"s3.{cfg.region}.amazonaws.com"


def _export_key_use(cfg: SiteConfig, sid: str) -> dict[str, Any]:
    # The export key's ARN is not known before it exists; any operator key in the
    # region, for objects of the export bucket only, through S3 only. The key
    # policy and the bucket policy (the exact key) do the rest.
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "kms:GenerateDataKey",
        "Resource": f"arn:aws:kms:{cfg.region}:{cfg.operator_account_id}:key/*",
        "Condition": {
            "StringEquals": {"kms:ViaService": _s3(cfg)},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": _objects(cfg)},
        },
    }


def workload_export_statements(cfg: SiteConfig, s3_endpoint_id: pulumi.Input[str]) -> list[dict[str, Any]]:
    """The workload role's part: write pseudonymised exports through the site's endpoint, encrypt them via S3."""
    return [
        {
            "Sid": "PseudonymisedExportsThroughSiteEndpoint",
            "Effect": "Allow",
            "Action": list(WRITE_ACTIONS),
            "Resource": _writable(cfg),
            "Condition": {"StringEquals": {"aws:SourceVpce": s3_endpoint_id}},
        },
        _export_key_use(cfg, "ExportKeyViaS3"),
    ]


def boundary_export_statements(cfg: SiteConfig) -> list[dict[str, Any]]:
    """The permissions boundary's cap for the same: nothing beyond writing exports and encrypting them."""
    return [
        {
            "Sid": "AtMostPseudonymisedExportWrites",
            "Effect": "Allow",
            "Action": list(WRITE_ACTIONS),
            "Resource": _writable(cfg),
        },
        _export_key_use(cfg, "AtMostExportKeyViaS3"),
    ]


def _deny(sid: str, actions: Any, resource: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def export_bucket_policy(
    cfg: SiteConfig,
    key_arn: pulumi.Input[str],
    s3_endpoint_id: pulumi.Input[str],
    grants: tuple[TransferGrant, ...],
) -> dict[str, Any]:
    """The export bucket's policy: exactly the grants' reads are allowed, everything around them denied."""
    bucket, objects = cfg.bucket_arn(EXPORTS), _objects(cfg)
    workload = {"ArnNotEquals": {"aws:PrincipalArn": cfg.role_arn("workload")}}
    recipients = sorted({g.recipient_account_id for g in grants})
    put = "s3:PutObject"
    statements: list[dict[str, Any]] = [
        _tls_only([bucket, objects]),
        *_deployer_only_governance(cfg, bucket),
        # Writes: only the pseudonymiser (the workload role), only from inside the site,
        # each a single request that labels the object and names the export key. A
        # multipart upload's parts carry neither header, so exports are single PUTs.
        _deny("OnlyThePseudonymiserWrites", put, objects, workload),
        _deny("WritesOnlyFromInsideTheSite", put, objects, {"StringNotEquals": {"aws:SourceVpce": s3_endpoint_id}}),
        _deny(
            "WritesCarryThePseudonymisedTag",
            put,
            objects,
            {"StringNotEquals": {f"s3:RequestObjectTag/{PSEUDONYMISED_TAG}": "true"}},
        ),
        _deny("WritesUseSseKms", put, objects, {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}),
        _deny(
            "WritesUseTheExportKey",
            put,
            objects,
            {"ArnNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}},
        ),
        # CopyObject is authorised as PutObject on the target: no object of another
        # bucket (the user data) becomes an export without passing the pseudonymiser.
        _deny("NoCopiesIntoExports", put, objects, {"Null": {"s3:x-amz-copy-source": "false"}}),
        # Labels are set once, at the write: nobody else can label a raw object as pseudonymised.
        _deny("OnlyThePseudonymiserTags", list(TAG_CHANGE_ACTIONS), objects, workload),
        _deny("NobodyRemovesTags", list(TAG_REMOVE_ACTIONS), objects),
        _deny(
            "NoReadsOfUnlabelledObjects",
            list(OBJECT_READ_ACTIONS),
            objects,
            {"StringNotEquals": {f"s3:ExistingObjectTag/{PSEUDONYMISED_TAG}": "true"}},
        ),
        _deny(
            "ObjectReadsOnlyByRecipients",
            list(OBJECT_READ_ACTIONS),
            objects,
            {"StringNotEquals": {"aws:PrincipalAccount": recipients}} if recipients else None,
        ),
        # The resource perimeter: the data account and the declared recipients, nobody else.
        _deny(
            "NoAccountOutsideTheSiteOrItsRecipients",
            "s3:*",
            [bucket, objects],
            {
                "StringNotEquals": {"aws:PrincipalAccount": [cfg.data_account_id, *recipients]},
                "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
            },
        ),
    ]
    if recipients:
        statements.append(
            {
                "Sid": "RecipientsOnlyReadAndList",
                "Effect": "Deny",
                "Principal": "*",
                "NotAction": list(RECIPIENT_ACTIONS),
                "Resource": [bucket, objects],
                "Condition": {"StringEquals": {"aws:PrincipalAccount": recipients}},
            }
        )
    for grant in grants:
        statements.extend(transfer_bucket_statements(grant, bucket))
    return {"Version": "2012-10-17", "Id": f"{cfg.name_prefix}-{EXPORTS}", "Statement": statements}


def export_key_policy(cfg: SiteConfig, grants: tuple[TransferGrant, ...]) -> dict[str, Any]:
    """The export key's policy: the operator administers, the pseudonymiser encrypts, each recipient decrypts its prefix."""
    bucket = cfg.bucket_arn(EXPORTS)
    return {
        "Version": "2012-10-17",
        "Id": f"{cfg.name_prefix}-export-key",
        "Statement": [
            {
                "Sid": "OperatorAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{cfg.operator_account_id}:root"},
                "Action": list(KEY_ADMIN_ACTIONS),
                "Resource": "*",
            },
            {
                # Named through aws:PrincipalArn under the data account's root: KMS
                # refuses principals that do not exist yet, and the role comes later.
                "Sid": "PseudonymiserEncryptsExports",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{cfg.data_account_id}:root"},
                "Action": "kms:GenerateDataKey",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": cfg.data_account_id, "kms:ViaService": _s3(cfg)},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": _writable(cfg)},
                    "ArnEquals": {"aws:PrincipalArn": cfg.role_arn("workload")},
                },
            },
            *(transfer_key_statement(grant, bucket, cfg.region) for grant in grants),
            {
                "Sid": "NoGrantsNoReplication",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(DENIED_FOR_EVERYONE),
                "Resource": "*",
            },
            {
                # Direct calls (no kms:ViaService) are refused too: the key works only
                # for S3 objects in the site's region.
                "Sid": "UseOnlyThroughS3InTheRegion",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(KEY_CRYPTO_ACTIONS),
                "Resource": "*",
                "Condition": {"StringNotEquals": {"kms:ViaService": _s3(cfg)}},
            },
        ],
    }


@dataclass(frozen=True)
class TransferExportArgs:
    """Inputs of ``TransferExport``."""

    config: SiteConfig
    """The validated site configuration; its transfer grants in force decide who may read."""
    data_provider: aws.Provider
    """The data-account provider (``SiteProviders.data``): the bucket."""
    operator_provider: aws.Provider
    """The operator-account provider (``SiteProviders.operator``): the export key."""
    s3_endpoint_id: pulumi.Input[str]
    """The site's S3 interface endpoint: the only way in for writes."""


class TransferExport(pulumi.ComponentResource):
    """The site's export bucket and its operator-held export key; protected, in the site's region.

    Without a transfer grant in force, no account outside the site can read
    anything from it; each grant opens its prefix to its recipient for its window.
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    """ARN of the export key (in the operator account); the pseudonymiser names it on every write."""
    key_alias: pulumi.Output[str]

    def __init__(self, name: str, args: TransferExportArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("enclave:exports:TransferExport", name, None, opts)
        cfg = args.config
        grants = cfg.transfer_grants_in_force
        key = OperatorKey(
            f"{name}-key",
            OperatorKeyArgs(
                config=cfg,
                provider=args.operator_provider,
                policy=export_key_policy(cfg, grants),
                alias=export_key_alias(cfg),
                description=f"enclave {cfg.site}: operator-held key of the pseudonymised exports ({cfg.region})",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        def on_data(**kwargs: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=args.data_provider, **kwargs)

        # A sandbox must tear down (docs/deployment.md): no protect, and force_destroy empties the bucket first.
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=cfg.bucket_name(EXPORTS),
            force_destroy=cfg.sandbox,
            opts=on_data(protect=not cfg.sandbox),
        )
        settings = harden_bucket(f"{name}-bucket", bucket, key.key_arn, on_data, bucket_key=False)
        s3 = aws.s3

        def rule(rule_id: str, **action: Any) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
            return s3.BucketLifecycleConfigurationRuleArgs(
                id=rule_id, status="Enabled", filter=s3.BucketLifecycleConfigurationRuleFilterArgs(), **action
            )

        s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                # An export outlives the longest grant window by a day, then it is gone.
                rule(
                    "expire-exports",
                    expiration=s3.BucketLifecycleConfigurationRuleExpirationArgs(days=cfg.transfer_max_days + 1),
                ),
                rule(
                    "expire-noncurrent-versions",
                    noncurrent_version_expiration=s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=NONCURRENT_DAYS
                    ),
                ),
                rule(
                    "abort-incomplete-uploads",
                    abort_incomplete_multipart_upload=s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=INCOMPLETE_UPLOAD_DAYS
                    ),
                ),
            ],
            opts=on_data(depends_on=[settings.versioning]),
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(export_bucket_policy(cfg, key.key_arn, args.s3_endpoint_id, grants)),
            # OperationAborted otherwise: the policy waits for the access block and ownership.
            opts=on_data(depends_on=[settings.public_access, settings.ownership]),
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.key_arn
        self.key_alias = key.alias_name
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "key_arn": self.key_arn,
                "key_alias": self.key_alias,
            }
        )
