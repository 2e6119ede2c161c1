"""The settings every bucket of the site carries, shared by the components that own buckets."""

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class BucketSettings:
    """The child resources that harden one bucket (for ``depends_on`` by their owner)."""

    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    versioning: aws.s3.BucketVersioning
    public_access: aws.s3.BucketPublicAccessBlock
    ownership: aws.s3.BucketOwnershipControls


def harden_bucket(
    prefix: str,
    bucket: aws.s3.Bucket,
    key_arn: pulumi.Input[str],
    opts: Callable[..., pulumi.ResourceOptions],
    bucket_key: bool = True,
) -> BucketSettings:
    """SSE-KMS with the operator key and a bucket key (SSE-C refused), versioning, all four public-access blocks, no ACLs.

    Children are named ``<prefix>-encryption``, ``-versioning``, ``-public-access``
    and ``-ownership``; ``opts(**kwargs)`` gives their options (parent, provider).
    ``bucket_key=False`` keeps each object's own ARN as its KMS encryption context
    (the export bucket: its key policy limits each recipient to a prefix).
    """
    s3 = aws.s3
    encryption = s3.BucketServerSideEncryptionConfiguration(
        f"{prefix}-encryption",
        bucket=bucket.id,
        rules=[
            s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms",
                    kms_master_key_id=key_arn,
                ),
                bucket_key_enabled=bucket_key,
                # SSE-C would encrypt with a key nobody here holds; refuse it at the bucket.
                blocked_encryption_types=["SSE-C"],
            )
        ],
        opts=opts(),
    )
    versioning = s3.BucketVersioning(
        f"{prefix}-versioning",
        bucket=bucket.id,
        versioning_configuration=s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        opts=opts(),
    )
    public_access = s3.BucketPublicAccessBlock(
        f"{prefix}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts(),
    )
    ownership = s3.BucketOwnershipControls(
        f"{prefix}-ownership",
        bucket=bucket.id,
        rule=s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=opts(),
    )
    return BucketSettings(encryption, versioning, public_access, ownership)
