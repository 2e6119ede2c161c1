"""Copies and resources shared with other accounts: EBS snapshots, machine images and Resource Access
Manager shares of the data account in the site region.

A snapshot or an image is a copy of disks: shared with another account (or
public) it can be copied into that account and any region, out of the site. The
program creates neither; the account-level blocks stop *public* sharing only,
not a share with one account. Every snapshot and image the data account owns in
the region is read for who may use it.

A Resource Access Manager share hands resources of the account (subnets, Resolver
rules, transit gateways, ...) to other accounts or a whole organization. The
program creates none, and the guardrails deny creating one; a share made before
they were attached stays in force, so every share the account owns is read.
"""

from __future__ import annotations

from enclave.audit.base import Audit, Check, Family, register, scp_exemption_fix
from enclave.audit.common import AccessDeniedError, call, pages

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
    Check(
        "ram-no-resource-shares",
        "No resource of the data account is shared through Resource Access Manager",
        "no resource share the data account owns in the site region that is active or pending (the program "
        "creates none; the guardrails deny creating one)",
        "aws ram delete-resource-share --resource-share-arn ARN; then find who shared it (CreateResourceShare "
        "and AssociateResourceShare in CloudTrail) and what the other accounts reached through it.",
    ),
)

SHARE_PERMISSIONS = ("ram:GetResourceShareAssociations", "ram:GetResourceShares")
"""Resource Access Manager's listings: the one service the guardrails deny that the audit still reads."""
PERMISSIONS = (
    "ec2:DescribeImageAttribute",
    "ec2:DescribeImages",
    "ec2:DescribeSnapshotAttribute",
    "ec2:DescribeSnapshots",
    *SHARE_PERMISSIONS,
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


IN_FORCE = ("ACTIVE", "PENDING")
"""Share states that hand something out (``FAILED``, ``DELETING`` and ``DELETED`` do not)."""


def _associated(ram, share: str, kind: str) -> list[str]:
    """What a share hands out (``RESOURCE``) or to whom (``PRINCIPAL``), associations not yet undone."""
    found = []
    for page in pages(
        ram, "GetResourceShareAssociations", f"resource share {share}", associationType=kind, resourceShareArns=[share]
    ):
        for association in page.get("resourceShareAssociations", []):
            if association.get("status") not in ("DISASSOCIATED", "DISASSOCIATING", "FAILED"):
                found.append(str(association.get("associatedEntity")))
    return sorted(found)


def run_shares(audit: Audit) -> None:
    """``ram-no-resource-shares``: every share the account owns; a refusal by an SCP is unverified, not a pass."""
    ram = audit.client("ram")
    try:
        shares = sorted(
            (
                s
                for page in pages(ram, "GetResourceShares", f"resource shares of {audit.where}", resourceOwner="SELF")
                for s in page.get("resourceShares", [])
                if s.get("status") in IN_FORCE
            ),
            key=lambda s: str(s.get("resourceShareArn")),
        )
        described = [
            (
                s,
                _associated(ram, s["resourceShareArn"], "RESOURCE"),
                _associated(ram, s["resourceShareArn"], "PRINCIPAL"),
            )
            for s in shares
        ]
    except AccessDeniedError as exc:
        if not exc.by_scp:
            raise
        audit.unverified(
            "ram-no-resource-shares",
            [audit.scope()],
            f"not readable: a service control policy denies {exc.action} (the guardrails deny Resource Access "
            "Manager, so no new share can be made; one made before they were attached would not be seen)",
            scp_exemption_fix(audit, list(SHARE_PERMISSIONS)),
        )
        return
    for share, resources, principals in described:
        external = (
            "" if share.get("allowExternalPrincipals") is False else ", principals outside the organization allowed"
        )
        audit.add(
            "ram-no-resource-shares",
            False,
            [share["resourceShareArn"], *resources],
            f"{share.get('status', '').lower()} share {share.get('name')!r} of {', '.join(resources) or 'no resource yet'} "
            f"with {', '.join(principals) or 'no principal yet'}{external}",
        )
    if not described:
        audit.add("ram-no-resource-shares", True, [audit.scope()], "no resource share")


def run_all(audit: Audit) -> None:
    run(audit)
    run_shares(audit)


FAMILY = Family("shared copies", CHECKS, PERMISSIONS, run_all)
