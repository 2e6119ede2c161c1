"""Copies shared with other accounts: EBS snapshots and machine images of the data account in the site region.

A snapshot or an image is a copy of disks: shared with another account (or
public) it can be copied into that account and any region, out of the site. The
program creates neither; the account-level blocks stop *public* sharing only,
not a share with one account. Every snapshot and image the data account owns in
the region is read for who may use it.
"""

from __future__ import annotations

from enclave.audit.base import Audit, Check, Family, register
from enclave.audit.common import call, pages

CHECKS = register(
    Check(
        "ebs-snapshot-not-shared",
        "No EBS snapshot of the data account is shared",
        "no createVolumePermission on any snapshot the data account owns in the site region (no account, no group all)",
        "aws ec2 modify-snapshot-attribute --snapshot-id ID --attribute createVolumePermission --operation-type "
        "remove --user-ids ACCOUNT (or --group-names all); then find who shared it (ModifySnapshotAttribute in "
        "CloudTrail) and whether the other account copied it.",
    ),
    Check(
        "ec2-image-not-shared",
        "No machine image of the data account is shared",
        "no launch permission on any image the data account owns in the site region (no account, group, "
        "organization or organizational unit), and no public image",
        "aws ec2 reset-image-attribute --image-id ID --attribute launchPermission; then find who shared it "
        "(ModifyImageAttribute in CloudTrail).",
    ),
)

PERMISSIONS = (
    "ec2:DescribeImageAttribute",
    "ec2:DescribeImages",
    "ec2:DescribeSnapshotAttribute",
    "ec2:DescribeSnapshots",
)


def _grantees(permissions: list[dict]) -> list[str]:
    out = []
    for permission in permissions:
        for field, what in (
            ("Group", "group"),
            ("UserId", "account"),
            ("OrganizationArn", "organization"),
            ("OrganizationalUnitArn", "organizational unit"),
        ):
            if permission.get(field):
                out.append(f"{what} {permission[field]}")
    return sorted(out)


COPIES = (
    # check, listing, its parameters and list key, id field, attribute call, attribute, answer key, ARN kind
    (
        "ebs-snapshot-not-shared",
        "DescribeSnapshots",
        {"OwnerIds": ["self"]},
        "Snapshots",
        "SnapshotId",
        "DescribeSnapshotAttribute",
        "createVolumePermission",
        "CreateVolumePermissions",
        "snapshot",
    ),
    (
        "ec2-image-not-shared",
        "DescribeImages",
        {"Owners": ["self"]},
        "Images",
        "ImageId",
        "DescribeImageAttribute",
        "launchPermission",
        "LaunchPermissions",
        "image",
    ),
)


def run(audit: Audit) -> None:
    ec2 = audit.client("ec2")
    for check_id, listing, params, key, id_field, attribute_call, attribute, answer, kind in COPIES:
        copies = sorted(
            (c for page in pages(ec2, listing, f"{kind}s of {audit.where}", **params) for c in page.get(key, [])),
            key=lambda c: str(c.get(id_field)),
        )
        for copy in copies:
            ident = str(copy.get(id_field))
            attr = call(ec2, attribute_call, f"{kind} {ident}", **{id_field: ident, "Attribute": attribute})
            shared = _grantees(attr.get(answer) or [])
            if copy.get("Public") and "group all" not in shared:
                shared.append("group all")
            # Snapshot and image ARNs carry no account.
            arn = f"arn:aws:ec2:{audit.cfg.region}::{kind}/{ident}"
            audit.add(check_id, not shared, [arn], f"shared with {', '.join(shared)}" if shared else "not shared")
        if not copies:
            audit.add(check_id, True, [audit.scope()], f"no {kind}")


FAMILY = Family("shared copies", CHECKS, PERMISSIONS, run)
