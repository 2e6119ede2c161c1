"""Copies shared with other accounts: EBS snapshots and machine images of the data account in the site region.

A snapshot or an image is a copy of disks: shared with another account (or
public) it can be copied into that account and any region, out of the site. The
program creates neither; the account-level blocks stop *public* sharing only,
not a share with one account. Every snapshot and image the data account owns in
the region is read for who may use it.
"""

from __future__ import annotations

from enclave.audit.base import Audit, Check, Family, ec2_arn, register
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


def run(audit: Audit) -> None:
    ec2 = audit.client("ec2")
    snapshots = sorted(
        s["SnapshotId"]
        for page in pages(ec2, "DescribeSnapshots", f"snapshots of {audit.where}", OwnerIds=["self"])
        for s in page.get("Snapshots", [])
    )
    for snapshot in snapshots:
        attr = call(
            ec2,
            "DescribeSnapshotAttribute",
            f"snapshot {snapshot}",
            SnapshotId=snapshot,
            Attribute="createVolumePermission",
        )
        shared = _grantees(attr.get("CreateVolumePermissions") or [])
        audit.add(
            "ebs-snapshot-not-shared",
            not shared,
            [ec2_arn(audit, "snapshot", snapshot).replace(f":{audit.account}:", "::")],
            f"shared with {', '.join(shared)}" if shared else "not shared",
        )
    if not snapshots:
        audit.add("ebs-snapshot-not-shared", True, [audit.scope()], "no snapshot")
    images = sorted(
        (
            i
            for page in pages(ec2, "DescribeImages", f"images of {audit.where}", Owners=["self"])
            for i in page.get("Images", [])
        ),
        key=lambda i: i["ImageId"],
    )
    for image in images:
        image_id = image["ImageId"]
        attr = call(ec2, "DescribeImageAttribute", f"image {image_id}", ImageId=image_id, Attribute="launchPermission")
        shared = _grantees(attr.get("LaunchPermissions") or [])
        if image.get("Public") and "group all" not in shared:
            shared.append("group all")
        audit.add(
            "ec2-image-not-shared",
            not shared,
            [ec2_arn(audit, "image", image_id).replace(f":{audit.account}:", "::")],
            f"shared with {', '.join(shared)}" if shared else "not shared",
        )
    if not images:
        audit.add("ec2-image-not-shared", True, [audit.scope()], "no image")


FAMILY = Family("shared copies", CHECKS, PERMISSIONS, run)
