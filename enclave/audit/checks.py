"""The live checks: read-only boto3 calls against the data account, family by family.

Scope is the account, not Pulumi's state: every bucket of the account, every
VPC, endpoint, role, secret and key of the site region, and every other region
enabled for the account are checked, so a resource made by hand is audited
like one the program made. Each check yields one ``Result`` per resource.

The families, in the order they run (one module each, see ``enclave.audit.base``):

| family | module | what it proves |
| --- | --- | --- |
| buckets and access points | ``storage`` | in region, unreplicated, encrypted with the operator key, not public, policies and ACLs admit no outsider, no access point outside the site, no Multi-Region Access Point |
| trail | ``trail`` | logging, single-region, validated, operator-key encrypted, data and management events, delivering into the locked bucket |
| secrets | ``secrets`` | no replica, no outsider in a secret's policy |
| network | ``network`` | no way out of any VPC, endpoint policies inside the site, flow logs of all traffic delivering |
| DNS | ``dns`` | query logging into the audit bucket, a DNS Firewall that blocks every non-AWS name and fails closed |
| account-level blocks | ``account`` | VPC Block Public Access, the account's S3 public access block, snapshot and image block public access, EBS encryption, serial console, IMDSv2, SSM document sharing, EMR block public access |
| shared copies | ``sharing`` | no EBS snapshot or machine image shared with another account |
| roles | ``identity`` | who can become a site role, the boundary's document, no escape from it |
| keys | ``keys`` | single-region, enabled, rotating, operator custody, key policy and grants inside the site |
| other regions | ``regions`` | no data-bearing resource of the account anywhere else |
| guardrails | ``guardrails`` | the organization, its SCPs and RCPs attached as written, the SCPs in effect, nobody inside becomes the deployer |

Where moto and AWS differ, the code follows AWS (see docs/bootstrap-and-audit.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from components.config import SiteConfig
from enclave.audit import account, dns, guardrails, identity, keys, network, regions, secrets, sharing, storage, trail
from enclave.audit.base import CHECKS, MISSING_FIX, MISSING_KEY_FIX, Audit, Check, Family, Result
from enclave.audit.common import call
from enclave.audit.policy import covers, wildcard_match
from enclave.audit.policy import statements as policy_statements
from enclave.audit.storage import missing_bucket_denies, state_bucket_name, state_key_alias

FAMILIES: tuple[Family, ...] = (
    storage.FAMILY,
    trail.FAMILY,
    secrets.FAMILY,
    network.FAMILY,
    dns.FAMILY,
    account.FAMILY,
    sharing.FAMILY,
    identity.FAMILY,
    # Keys after every family that finds the keys resources are encrypted with.
    keys.FAMILY,
    regions.FAMILY,
    guardrails.FAMILY,
)

ACTIONS_USED = tuple(sorted({p for family in FAMILIES for p in family.permissions}))
"""Every IAM action the audit's calls need (besides sts:GetCallerIdentity, which needs none).

The bucket reads apply to every bucket of the account, the secret, key and
network reads to every resource of the site region, the inventory reads to
every other region, and the KMS reads of operator keys need the operator key's
policy too (a cross-account call needs both sides).
"""

READ_PATTERNS = (
    "cloudtrail:GetTrail*",
    "ec2:DescribeVpcBlockPublicAccess*",
    "ec2:Get*BlockPublicAccessState",
    "ec2:Get*Default*",
    "iam:GetPolicy*",
    "iam:GetRole*",
    "iam:List*RolePolicies",
    "kms:GetKey*",
    "s3:GetBucket*",
    "s3:List*AccessPoints",
)
"""Read-only patterns the auditor role is granted instead of the single actions they cover.

Each stands for a few configuration reads of one service: a test expands every
pattern the auditor's policy and boundary allow against IAM's action list
(parliament's) and the service model, and refuses any write or data read among
them; those granted on ``Resource: "*"`` take no resource-level permission
(parliament lints the program's documents).
"""

PENDING_PERMISSIONS = tuple(sorted({p for family in FAMILIES for p in family.pending}))
"""Permissions the audit uses that the auditor role does not hold yet: none today.

A family that needs a read the program does not grant yet names it in its
``pending``; its checks then fail closed, naming the permission, and never
abort the audit, and the tests keep this list equal to what the auditor policy
lacks (docs/bootstrap-and-audit.md).
"""


def granted_as(action: str) -> str:
    """How the auditor policy grants ``action``: the read pattern covering it, or the action itself."""
    return next((p for p in READ_PATTERNS if wildcard_match(p, action)), action)


REQUIRED_PERMISSIONS = tuple(sorted({granted_as(a) for a in ACTIONS_USED if a not in PENDING_PERMISSIONS}))
"""The auditor role's grants the audit needs, as ``components.security_gates`` writes them."""

__all__ = [
    "ACTIONS_USED",
    "CHECKS",
    "FAMILIES",
    "MISSING_FIX",
    "MISSING_KEY_FIX",
    "PENDING_PERMISSIONS",
    "READ_PATTERNS",
    "REQUIRED_PERMISSIONS",
    "Check",
    "Result",
    "covers",
    "missing_bucket_denies",
    "policy_statements",
    "run_audit",
    "run_checks",
    "state_bucket_name",
    "state_key_alias",
]


def run_checks(
    cfg: SiteConfig, session: Any, account_id: str, key_session: Any | None = None, **kwargs: Any
) -> list[Result]:
    """Every check of the site, in a stable order (``run_audit``'s results)."""
    return run_audit(cfg, session, account_id, key_session, **kwargs).results


def run_audit(
    cfg: SiteConfig,
    session: Any,
    account_id: str,
    key_session: Any | None = None,
    *,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    other_regions: tuple[str, ...] | None = None,
    guardrails: Any = None,
    guardrails_source: str | None = None,
) -> Audit:
    """Run every family: the ``Audit`` with its results sorted, and the grants the live documents carry.

    ``progress`` receives one line per family and region.

    ``other_regions`` limits the other-region inventory to those regions (tests of
    drifts inside the site region use it to stay fast); by default every region
    enabled for the account is inventoried, as the CLI always does. ``guardrails``
    is the site's ``GuardrailsConfig`` (None when the site has no guardrails stack,
    ``guardrails_source`` saying where it was looked for).
    """
    if key_session is None or key_session is session:
        key_session, key_account = session, account_id
    else:
        sts = key_session.client("sts", region_name=cfg.region)
        key_account = call(sts, "GetCallerIdentity", "the operator profile's caller")["Account"]
    audit = Audit(cfg, account_id, session, key_session, key_account)
    if now is not None:
        audit.now = now
    if progress is not None:
        audit.progress = progress
    audit.other_regions = other_regions
    audit.guardrails = guardrails
    if guardrails_source:
        audit.guardrails_source = guardrails_source
    for i, family in enumerate(FAMILIES, 1):
        audit.progress(f"audit: checking {family.name} ({i}/{len(FAMILIES)})")
        family.run(audit)
    audit.results.sort(key=lambda r: (r.id, r.resources))
    return audit
