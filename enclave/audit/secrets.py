"""Secrets Manager: every secret of the region stays in it, and no secret policy admits an outsider."""

from __future__ import annotations

from enclave.audit.base import MISSING_FIX, Audit, Check, Family, arn_account, arn_region, register
from enclave.audit.common import call, pages
from enclave.audit.policy import policy_outsiders

CHECKS = register(
    Check(
        "secret-no-replicas",
        "The secret has no replica in another region",
        "no replica regions; primary in the site region",
        "aws secretsmanager remove-regions-from-replication --secret-id SECRET --remove-replica-regions REGION.",
    ),
    Check(
        "secret-policy-site-only",
        "The secret's resource policy allows no principal outside the site",
        "every Allow of the resource policy admits only the site's accounts",
        "Remove the listed statements (pulumi up restores the pepper's policy; "
        "aws secretsmanager delete-resource-policy for a secret outside the program).",
    ),
    Check(
        "secret-rotation-inside",
        "No secret is rotated by a function outside the site",
        "no rotation function, or one of the data account in the site region (a rotation function reads and "
        "writes the secret's value)",
        "aws secretsmanager cancel-rotate-secret --secret-id SECRET, or rotate it with a function of the data "
        "account in the site region; then find who set it (RotateSecret in CloudTrail).",
    ),
)

PERMISSIONS = ("secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:ListSecrets")


def pepper_name(cfg) -> str:
    return f"{cfg.name_prefix}-pseudonym-pepper"


def run(audit: Audit) -> None:
    cfg = audit.cfg
    sm = audit.client("secretsmanager")
    pepper = pepper_name(cfg)
    arns = [
        s["ARN"] for page in pages(sm, "ListSecrets", f"secrets of {audit.where}") for s in page.get("SecretList", [])
    ]
    found_pepper = False
    for secret_id in arns:
        # ListSecrets omits the replication status; DescribeSecret has it.
        desc = call(sm, "DescribeSecret", f"secret {secret_id}", SecretId=secret_id)
        found_pepper = found_pepper or desc.get("Name") == pepper
        _replica_result(audit, desc)
        rotator = desc.get("RotationLambdaARN") or ""
        outside = bool(rotator) and (arn_account(rotator) != audit.account or arn_region(rotator) != cfg.region)
        audit.add(
            "secret-rotation-inside",
            not outside,
            [desc["ARN"], *([rotator] if rotator else [])],
            f"rotated by {rotator}" if rotator else "no rotation function",
        )
        policy = call(sm, "GetResourcePolicy", f"secret {secret_id}", SecretId=secret_id).get("ResourcePolicy")
        outside = policy_outsiders(policy, audit.perimeter())
        audit.add(
            "secret-policy-site-only",
            not outside,
            [desc["ARN"]],
            "; ".join(outside) or ("every Allow stays inside the site" if policy else "no resource policy"),
        )
    if not found_pepper:
        for check_id in ("secret-no-replicas", "secret-policy-site-only"):
            audit.add(
                check_id,
                False,
                [f"arn:aws:secretsmanager:{cfg.region}:{audit.account}:secret:{pepper}"],
                f"no secret named {pepper} in {cfg.region}",
                "the pseudonymisation secret exists, with no replica regions and no outsider in its policy",
                MISSING_FIX,
            )


def _replica_result(audit: Audit, desc: dict) -> None:
    cfg = audit.cfg
    replicas = sorted(r.get("Region", "?") for r in desc.get("ReplicationStatus") or [])
    primary = desc.get("PrimaryRegion")
    problems = []
    if replicas:
        problems.append(f"replicated to {', '.join(replicas)}")
    if primary and primary != cfg.region:
        problems.append(f"a replica of a secret whose primary region is {primary}")
    audit.add("secret-no-replicas", not problems, [desc["ARN"]], "; ".join(problems) or "no replicas")
    key = desc.get("KmsKeyId") or ""
    if key.startswith("arn:") and arn_account(key) == cfg.operator_account_id:
        audit.keys.setdefault(key, cfg.operator_account_id)


FAMILY = Family("secrets", CHECKS, PERMISSIONS, run)
