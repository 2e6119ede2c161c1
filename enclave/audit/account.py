"""Account-level blocks of the data account in the site region: the settings that close whole families
of ways out at once (any internet gateway, any public bucket, any public snapshot or image)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from enclave.audit.base import Audit, Check, Family, register
from enclave.audit.common import AccessDeniedError, call, pages
from enclave.audit.storage import PUBLIC_ACCESS_FLAGS

SSM_PUBLIC_SHARING = "/ssm/documents/console/public-sharing-permission"
"""The SSM service setting that allows (Enable) or refuses (Disable) sharing documents publicly."""

CHECKS = register(
    Check(
        "account-vpc-block-public-access",
        "VPC Block Public Access blocks internet gateway traffic both ways, with no exclusion",
        "InternetGatewayBlockMode block-bidirectional, State update-complete, no active exclusion",
        "aws ec2 modify-vpc-block-public-access-options --internet-gateway-block-mode block-bidirectional, "
        "and aws ec2 delete-vpc-block-public-access-exclusion for each exclusion (or pulumi up).",
    ),
    Check(
        "account-s3-public-access-block",
        "The account's S3 public access block has all four settings on",
        "BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets all true for the account",
        "aws s3control put-public-access-block --account-id ACCOUNT --public-access-block-configuration "
        "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true (or pulumi up).",
    ),
    Check(
        "account-ebs-snapshot-block-public-access",
        "EBS snapshots cannot be shared publicly",
        "snapshot block public access state block-all-sharing",
        "aws ec2 enable-snapshot-block-public-access --state block-all-sharing (or pulumi up).",
    ),
    Check(
        "account-ami-block-public-access",
        "Images cannot be made public",
        "image block public access state block-new-sharing",
        "aws ec2 enable-image-block-public-access --image-block-public-access-state block-new-sharing (or pulumi up).",
    ),
    Check(
        "account-ebs-encryption-by-default",
        "New EBS volumes and snapshot copies are encrypted by default",
        "EbsEncryptionByDefault true",
        "aws ec2 enable-ebs-encryption-by-default (or pulumi up).",
    ),
    Check(
        "account-serial-console-off",
        "EC2 serial console access is off (no console path around the gates)",
        "SerialConsoleAccessEnabled false",
        "aws ec2 disable-serial-console-access (or pulumi up).",
    ),
    Check(
        "account-imdsv2-required",
        "New instances require IMDSv2 by default",
        "instance metadata defaults: HttpTokens required",
        "aws ec2 modify-instance-metadata-defaults --http-tokens required (or pulumi up).",
    ),
    Check(
        "account-ssm-document-sharing-blocked",
        "SSM documents cannot be shared publicly",
        f"service setting {SSM_PUBLIC_SHARING} = Disable",
        f"aws ssm update-service-setting --setting-id {SSM_PUBLIC_SHARING} --setting-value Disable (or pulumi up).",
    ),
    Check(
        "account-emr-block-public-access",
        "No EMR cluster may have a security group open to the internet",
        "EMR block public access on, with no port range exempted",
        "aws emr put-block-public-access-configuration --block-public-access-configuration "
        "BlockPublicSecurityGroupRules=true (no PermittedPublicSecurityGroupRuleRanges), or pulumi up.",
    ),
)

PERMISSIONS = (
    "ec2:DescribeVpcBlockPublicAccessExclusions",
    "ec2:DescribeVpcBlockPublicAccessOptions",
    "ec2:GetEbsEncryptionByDefault",
    "ec2:GetImageBlockPublicAccessState",
    "ec2:GetInstanceMetadataDefaults",
    "ec2:GetSerialConsoleAccessStatus",
    "ec2:GetSnapshotBlockPublicAccessState",
    "elasticmapreduce:GetBlockPublicAccessConfiguration",
    "s3:GetAccountPublicAccessBlock",
    "ssm:GetServiceSetting",
)

_ACTIVE_EXCLUSION_STATES = ("create-in-progress", "create-complete", "update-in-progress", "update-complete")


@dataclass(frozen=True)
class _Setting:
    check_id: str
    operation: str
    read: Callable[[dict], Any]
    """The setting's value from the response."""
    wanted: Any


_EC2_SETTINGS = (
    _Setting(
        "account-ebs-snapshot-block-public-access",
        "GetSnapshotBlockPublicAccessState",
        lambda r: r.get("State"),
        "block-all-sharing",
    ),
    _Setting(
        "account-ami-block-public-access",
        "GetImageBlockPublicAccessState",
        lambda r: r.get("ImageBlockPublicAccessState"),
        "block-new-sharing",
    ),
    _Setting(
        "account-ebs-encryption-by-default",
        "GetEbsEncryptionByDefault",
        lambda r: r.get("EbsEncryptionByDefault"),
        True,
    ),
    _Setting(
        "account-serial-console-off",
        "GetSerialConsoleAccessStatus",
        lambda r: r.get("SerialConsoleAccessEnabled"),
        False,
    ),
    _Setting(
        "account-imdsv2-required",
        "GetInstanceMetadataDefaults",
        lambda r: (r.get("AccountLevel") or {}).get("HttpTokens"),
        "required",
    ),
)


def run(audit: Audit) -> None:
    ec2 = audit.client("ec2")
    scope = [audit.scope()]
    _vpc_block_public_access(audit, ec2, scope)
    pab = call(
        audit.client("s3control"),
        "GetPublicAccessBlock",
        f"the S3 public access block of account {audit.account}",
        none_codes=("NoSuchPublicAccessBlockConfiguration",),
        AccountId=audit.account,
    )
    conf = (pab or {}).get("PublicAccessBlockConfiguration", {})
    off = [f for f in PUBLIC_ACCESS_FLAGS if conf.get(f) is not True]
    audit.add(
        "account-s3-public-access-block",
        not off,
        scope,
        "no account public access block" if pab is None else ("all four on" if not off else f"off: {', '.join(off)}"),
    )
    for setting in _EC2_SETTINGS:
        response = call(ec2, setting.operation, f"{setting.operation} in {audit.where}")
        value = setting.read(response)
        managed = f" (managed by {response['ManagedBy']})" if response.get("ManagedBy") else ""
        audit.add(setting.check_id, value == setting.wanted, scope, f"{value}{managed}")
    _readable_or_fail(audit, "account-ssm-document-sharing-blocked", scope, lambda: _ssm_sharing(audit))
    _readable_or_fail(audit, "account-emr-block-public-access", scope, lambda: _emr_block(audit))


def _readable_or_fail(audit: Audit, check_id: str, scope: list[str], read: Callable[[], tuple[bool, str]]) -> None:
    """A setting AWS refuses to show the auditor fails closed, naming the permission (it never aborts the audit)."""
    try:
        ok, found = read()
    except AccessDeniedError as exc:
        audit.add(
            check_id,
            False,
            scope,
            f"not readable: {exc.action} denied",
            fix=f"Grant the auditor role {exc.action} (and let its permissions boundary allow it), then run again.",
        )
        return
    audit.add(check_id, ok, scope, found)


def _ssm_sharing(audit: Audit) -> tuple[bool, str]:
    setting = call(
        audit.client("ssm"), "GetServiceSetting", f"SSM setting {SSM_PUBLIC_SHARING}", SettingId=SSM_PUBLIC_SHARING
    )["ServiceSetting"]
    return setting.get("SettingValue") == "Disable", f"SettingValue {setting.get('SettingValue')}"


def _emr_block(audit: Audit) -> tuple[bool, str]:
    conf = call(audit.client("emr"), "GetBlockPublicAccessConfiguration", f"EMR settings of {audit.where}")[
        "BlockPublicAccessConfiguration"
    ]
    blocked = conf.get("BlockPublicSecurityGroupRules") is True
    ranges = [
        f"{r.get('MinRange')}-{r.get('MaxRange', r.get('MinRange'))}"
        for r in conf.get("PermittedPublicSecurityGroupRuleRanges") or []
    ]
    found = f"BlockPublicSecurityGroupRules {blocked}" + (f", ports exempted: {', '.join(ranges)}" if ranges else "")
    return blocked and not ranges, found


def _vpc_block_public_access(audit: Audit, ec2: Any, scope: list[str]) -> None:
    options = call(ec2, "DescribeVpcBlockPublicAccessOptions", f"VPC Block Public Access of {audit.where}").get(
        "VpcBlockPublicAccessOptions", {}
    )
    exclusions = [
        e
        for page in pages(
            ec2, "DescribeVpcBlockPublicAccessExclusions", f"VPC Block Public Access exclusions of {audit.where}"
        )
        for e in page.get("VpcBlockPublicAccessExclusions", [])
        if e.get("State") in _ACTIVE_EXCLUSION_STATES
    ]
    mode, state = options.get("InternetGatewayBlockMode", "off"), options.get("State", "default-state")
    problems = []
    if mode != "block-bidirectional" or state != "update-complete":
        problems.append(f"InternetGatewayBlockMode {mode} ({state})")
    problems += [
        f"exclusion {e.get('ExclusionId')} ({e.get('InternetGatewayExclusionMode')}) for {e.get('ResourceArn')}"
        for e in sorted(exclusions, key=lambda e: e.get("ExclusionId", ""))
    ]
    managed = f" (managed by {options['ManagedBy']})" if options.get("ManagedBy") else ""
    audit.add(
        "account-vpc-block-public-access",
        not problems,
        scope + sorted(e.get("ResourceArn", "") for e in exclusions),
        "; ".join(problems) or f"block-bidirectional, no exclusion{managed}",
    )


FAMILY = Family("account-level blocks", CHECKS, PERMISSIONS, run)
