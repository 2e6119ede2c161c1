"""Account-level blocks in the data account and the site's region: they hold even for what the program does not create.

Each is a regional (or, for S3, account-wide) setting of the data account that
AWS applies to every resource, hand-made ones included: no internet gateway
carries traffic, nothing in S3 can be made public, no EBS snapshot or AMI can be
shared publicly, new EBS volumes are encrypted, no serial console, IMDSv2 only,
no public SSM documents, no EMR cluster with public security group rules.

Who can lift them: the data account's administrators, with the matching API
call (or by deleting the resource, which resets most of them); ``protect``
stops ``pulumi destroy`` and renames from doing it by accident. Only an
organisation policy makes them binding on the data account (the guardrails
project's SCPs deny the calls that lift them); until then each is a setting
the data account keeps, and ``enclave audit`` reports it when it drifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import SiteConfig

SSM_PUBLIC_SHARING_SETTING = "/ssm/documents/console/public-sharing-permission"
"""The SSM service setting that allows (Enable) or refuses (Disable) sharing documents publicly."""


@dataclass(frozen=True)
class AccountGuardrailsArgs:
    """Inputs of ``AccountGuardrails``."""

    config: SiteConfig
    """The validated site configuration (data account, sandbox)."""
    provider: aws.Provider
    """The data-account provider (``SiteProviders.data``): every block applies to its account and region."""


class AccountGuardrails(pulumi.ComponentResource):
    """Block public access and unsafe defaults at the level of the data account in the site's region."""

    def __init__(self, name: str, args: AccountGuardrailsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("enclave:account:AccountGuardrails", name, None, opts)
        cfg = args.config
        # Deleting any of these (except the AMI block) resets the account setting
        # to AWS's default, which lifts the block: protected on a site.
        guarded = pulumi.ResourceOptions(parent=self, provider=args.provider, protect=not cfg.sandbox)
        names: dict[str, Any] = {}

        # No traffic through any internet or egress-only gateway of the region,
        # whoever attaches one; no exclusions.
        names["vpc_block_public_access"] = aws.ec2.VpcBlockPublicAccessOptions(
            f"{name}-vpc-block-public-access", internet_gateway_block_mode="block-bidirectional", opts=guarded
        ).id
        # S3's account-wide block: no bucket of the account (in any region) can
        # be made public by ACL or policy, including buckets made by hand.
        names["s3_account_public_access_block"] = aws.s3.AccountPublicAccessBlock(
            f"{name}-s3-account-public-access-block",
            account_id=cfg.data_account_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=guarded,
        ).id
        # Disk snapshots and images are copies of data: none may be shared publicly.
        names["ebs_snapshot_block_public_access"] = aws.ebs.SnapshotBlockPublicAccess(
            f"{name}-ebs-snapshot-block-public-access", state="block-all-sharing", opts=guarded
        ).id
        names["ec2_image_block_public_access"] = aws.ec2.ImageBlockPublicAccess(
            f"{name}-ec2-image-block-public-access", state="block-new-sharing", opts=guarded
        ).id
        # New EBS volumes are encrypted (with the account's default EBS key: the
        # operator key refuses grants, which EBS needs; the site keeps no user
        # data on EBS, see docs/network-and-audit.md).
        names["ebs_encryption_by_default"] = aws.ebs.EncryptionByDefault(
            f"{name}-ebs-encryption-by-default", enabled=True, opts=guarded
        ).id
        # The serial console is a way in that bypasses the network controls.
        names["ec2_serial_console_access"] = aws.ec2.SerialConsoleAccess(
            f"{name}-ec2-serial-console-access", enabled=False, opts=guarded
        ).id
        # Instances launched without metadata options get IMDSv2 only, one hop
        # (containers use their task role, not the instance's), no tags in IMDS.
        names["ec2_instance_metadata_defaults"] = aws.ec2.InstanceMetadataDefaults(
            f"{name}-ec2-instance-metadata-defaults",
            http_tokens="required",
            http_put_response_hop_limit=1,
            http_endpoint="enabled",
            instance_metadata_tags="disabled",
            opts=guarded,
        ).id
        # An SSM document can carry data or commands; none may be shared publicly.
        names["ssm_document_public_sharing"] = aws.ssm.ServiceSetting(
            f"{name}-ssm-document-public-sharing",
            setting_id=SSM_PUBLIC_SHARING_SETTING,
            setting_value="Disable",
            opts=guarded,
        ).id
        # No EMR cluster with a security group open to the internet; no port exempted.
        names["emr_block_public_access"] = aws.emr.BlockPublicAccessConfiguration(
            f"{name}-emr-block-public-access", block_public_security_group_rules=True, opts=guarded
        ).id
        self.register_outputs(names)
