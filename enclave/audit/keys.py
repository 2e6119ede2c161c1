"""KMS: the operator-held key (and every key a site resource uses) stays single-region, enabled,
rotating and in the operator's custody, and no key policy or grant lets anyone outside the site use it.

Keys are found by the site's alias in the operator account, by what the
buckets, the trail and the secrets are encrypted with, and by listing every
customer managed key of the data account in the site region (a key made by
hand is in scope too). Key policies and grants are readable only in the key's
own account (``GetKeyPolicy`` is not served cross-account): operator keys need
``--operator-profile``; where they cannot be read the checks fail, naming how to
read them.
"""

from __future__ import annotations

from typing import Any

from components.transfer_export import export_key_alias
from enclave.audit.base import MISSING_KEY_FIX, Audit, Check, Family, arn_account, arn_region, register
from enclave.audit.common import call, pages
from enclave.audit.policy import account_of, as_list, covers, policy_outsiders, statements

CHECKS = register(
    Check(
        "kms-key-single-region",
        "The key is a single-region key in the site region",
        "MultiRegion false, key in the site region",
        "A multi-region key cannot be converted: create a single-region key, re-encrypt with it "
        "(pulumi up), then schedule the old key's deletion.",
    ),
    Check(
        "kms-key-enabled",
        "The key is enabled",
        "KeyState Enabled",
        "The operator enables it: aws kms enable-key --key-id KEY (from the operator account).",
    ),
    Check(
        "kms-key-rotation",
        "Automatic key rotation is on",
        "key rotation enabled",
        "The operator runs aws kms enable-key-rotation --key-id KEY.",
    ),
    Check(
        "kms-key-not-pending-deletion",
        "The key is not scheduled for deletion",
        "no deletion scheduled",
        "The operator runs aws kms cancel-key-deletion --key-id KEY, then aws kms enable-key --key-id KEY.",
    ),
    Check(
        "kms-key-operator-administered",
        "The key is a customer managed key held by the operator's account",
        "customer managed key in the operator account",
        "Encrypt with the operator's key (pulumi up); a key of the data account is not third-party custody.",
    ),
    Check(
        "kms-key-policy-site-only",
        "The key policy lets no principal outside the site use or manage the key",
        "every Allow of the key policy admits only the site's accounts, or AWS services confined to them by "
        "aws:SourceAccount/aws:SourceArn",
        "The key's owner restores the key policy (pulumi up for the operator key: aws kms put-key-policy "
        "otherwise), removing the listed statements.",
    ),
    Check(
        "kms-key-no-grants",
        "The key has no grant",
        "no grant (the site's keys are used through their key policy only; a grant bypasses its conditions)",
        "The key's owner revokes each grant: aws kms revoke-grant --key-id KEY --grant-id ID; then find "
        "who created it (CreateGrant in CloudTrail).",
    ),
)

PERMISSIONS = ("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListGrants", "kms:ListKeys")

KEY_CUSTODY_ACTIONS = (
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:DisableKeyRotation",
    "kms:CreateGrant",
    "kms:ReplicateKey",
    "kms:UpdatePrimaryRegion",
    "kms:ImportKeyMaterial",
    "kms:DeleteImportedKeyMaterial",
)
"""Actions that decide who holds the key: its policy, its life, its grants, its copies."""

_USED_KEY_CHECKS = tuple(c.id for c in CHECKS)
_OTHER_KEY_CHECKS = ("kms-key-single-region", "kms-key-policy-site-only", "kms-key-no-grants")
"""What a customer managed key of the data account that no site resource uses must still satisfy."""


def run(audit: Audit) -> None:
    cfg = audit.cfg
    # The program's two operator keys, by alias: the data key and the export key.
    aliases = {audit.operator_alias_arn(a): a for a in (cfg.key_alias, export_key_alias(cfg))}
    wanted = {**dict.fromkeys(aliases, cfg.operator_account_id), **audit.keys}
    seen: set[str] = set()
    for ref, owner in sorted(wanted.items()):
        operator = owner == cfg.operator_account_id
        kms = audit.client("kms", operator=operator)
        if ref in aliases and operator:
            meta = audit.operator_key(aliases[ref])
        else:
            desc = call(kms, "DescribeKey", f"key {ref}", none_codes=("NotFoundException",), KeyId=ref)
            meta = None if desc is None else desc["KeyMetadata"]
        if meta is None:
            for check_id in _USED_KEY_CHECKS:
                audit.add(check_id, False, [ref], "key not found", fix=MISSING_KEY_FIX)
            continue
        if meta["Arn"] in seen:
            continue
        seen.add(meta["Arn"])
        _key_results(audit, kms, meta, owner, audit.key_account if operator else audit.account, _USED_KEY_CHECKS)
    # Every other customer managed key of the data account in the region.
    kms = audit.client("kms")
    for page in pages(kms, "ListKeys", f"keys of {audit.where}"):
        for listed in page.get("Keys", []):
            if listed["KeyArn"] in seen:
                continue
            meta = call(kms, "DescribeKey", f"key {listed['KeyArn']}", KeyId=listed["KeyArn"])["KeyMetadata"]
            if meta.get("KeyManager") != "CUSTOMER" or meta["Arn"] in seen:
                continue
            seen.add(meta["Arn"])
            _key_results(audit, kms, meta, audit.account, audit.account, _OTHER_KEY_CHECKS)


def _key_results(audit: Audit, kms: Any, meta: dict, owner: str, reader: str, checks: tuple[str, ...]) -> None:
    cfg = audit.cfg
    arn = meta["Arn"]
    # AWS always answers MultiRegion; moto omits it on ordinary keys. Absent means false.
    multi = meta.get("MultiRegion") is True
    region = arn_region(arn)
    audit.add(
        "kms-key-single-region",
        not multi and region == cfg.region,
        [arn],
        f"{'multi-region' if multi else 'single-region'} key in {region}",
    )
    holder = meta.get("AWSAccountId") or arn_account(arn)
    # GetKeyPolicy and ListGrants here work only in the key's own account (--operator-profile for operator keys).
    document = (
        call(kms, "GetKeyPolicy", f"key {arn}", KeyId=arn, PolicyName="default")["Policy"] if holder == reader else None
    )
    _policy_and_grant_results(audit, kms, arn, holder, document)
    if "kms-key-enabled" not in checks:
        return
    state = meta.get("KeyState", "?")
    # A key pending deletion is reported by kms-key-not-pending-deletion alone, so that
    # each drift fails the one check whose fix undoes it.
    audit.add(
        "kms-key-enabled",
        state in ("Enabled", "PendingDeletion"),
        [arn],
        f"KeyState {state}" + (" (see kms-key-not-pending-deletion)" if state == "PendingDeletion" else ""),
    )
    pending = state in ("PendingDeletion", "PendingReplicaDeletion") or bool(meta.get("DeletionDate"))
    audit.add(
        "kms-key-not-pending-deletion",
        not pending,
        [arn],
        f"deletion scheduled for {meta.get('DeletionDate')}" if pending else "no deletion scheduled",
    )
    # AWS may refuse GetKeyRotationStatus in some key states (KMSInvalidStateException).
    status = call(kms, "GetKeyRotationStatus", f"key {arn}", none_codes=("KMSInvalidStateException",), KeyId=arn)
    rotating = None if status is None else status.get("KeyRotationEnabled")
    audit.add(
        "kms-key-rotation",
        rotating is True,
        [arn],
        "rotation on"
        if rotating
        else ("rotation off" if rotating is False else f"rotation not readable in state {state}"),
    )
    who = "operator" if owner == cfg.operator_account_id else "data (Pulumi state key)"
    found = f"{meta.get('KeyManager', '?').lower()} managed key in account {holder}"
    ok = holder == owner and meta.get("KeyManager") == "CUSTOMER"
    if document is not None:
        outsiders = key_administrators_outside(document, owner)
        if outsiders:
            ok = False
            found += f"; key policy lets {', '.join(outsiders)} administer it"
        else:
            found += f"; key policy lets only account {owner} administer it"
    else:
        found += "; key policy not readable from this account (run with --operator-profile to check it)"
    audit.add(
        "kms-key-operator-administered",
        ok,
        [arn],
        found,
        f"customer managed key in the {who} account {owner}, administered only by it",
    )


def _policy_and_grant_results(audit: Audit, kms: Any, arn: str, holder: str | None, document: Any) -> None:
    if document is None:
        unreadable = (
            f"not readable from account {audit.key_account}: key policies and grants are served only to the "
            f"key's own account {holder}"
        )
        fix = (
            "Run the audit with --operator-profile naming a read-only role in the operator account "
            "(kms:GetKeyPolicy, kms:ListGrants on the site's keys), so both can be verified."
        )
        audit.add("kms-key-policy-site-only", False, [arn], unreadable, fix=fix)
        audit.add("kms-key-no-grants", False, [arn], unreadable, fix=fix)
        return
    explained: list[str] = []
    export_key = audit.operator_key(export_key_alias(audit.cfg))
    if export_key is not None and arn == export_key["Arn"]:
        # The export key's Allows for transfer recipients are what declared transfer grants say.
        document, explained = audit.explained(document, "export-key-policy")
    outside = policy_outsiders(document, audit.perimeter())
    note = f"; explained by the site's declared grants: {', '.join(explained)}" if explained else ""
    audit.add(
        "kms-key-policy-site-only",
        not outside,
        [arn],
        ("; ".join(outside) or "every Allow stays inside the site") + note,
    )
    grants = [g for page in pages(kms, "ListGrants", f"key {arn}", KeyId=arn) for g in page.get("Grants", [])]
    found = [
        f"grant {g.get('GrantId')} to {g.get('GranteePrincipal')} ({', '.join(g.get('Operations') or [])})"
        + ("" if _grantee_inside(g.get("GranteePrincipal"), audit) else ", outside the site")
        for g in grants
    ]
    audit.add("kms-key-no-grants", not grants, [arn], "; ".join(sorted(found)) or "no grant")


def _grantee_inside(principal: Any, audit: Audit) -> bool:
    return account_of(str(principal)) in audit.perimeter().accounts


def key_administrators_outside(document: Any, owner: str) -> list[str]:
    """Principals outside ``owner`` that an Allow statement gives a custody action."""
    outsiders: set[str] = set()
    for s in statements(document):
        if s.get("Effect") != "Allow":
            continue
        if "NotAction" not in s and not any(covers(s.get("Action"), a) for a in KEY_CUSTODY_ACTIONS):
            continue
        principal = s.get("Principal")
        if principal == "*" or "NotPrincipal" in s:
            outsiders.add("*")
            continue
        for kind, values in (principal or {}).items():
            for value in as_list(values):
                account = value if str(value).isdigit() else arn_account(str(value))
                if kind != "AWS" or account != owner:
                    outsiders.add(str(value))
    return sorted(outsiders)


FAMILY = Family("keys", CHECKS, PERMISSIONS, run)
