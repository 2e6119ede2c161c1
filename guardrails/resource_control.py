"""Resource control policies over a site's data account: who may act on its resources, and from where.

RCPs cap every request to a resource of a member account, whoever makes it:
principals of other accounts, anonymous callers and AWS services included;
only service-linked roles, AWS managed KMS keys and the management account's
resources are out of their reach. They apply to a subset of services (the
Organizations guide's "List of AWS services that support RCPs"); each action
here is of one of those. Deny statements only, ``Principal`` ``*``, no
``NotAction`` (the RCP grammar has ``NotResource`` but no ``NotAction``).

Three policies, each separately attachable:

- ``identity``: only the site's principals (and AWS services acting for the
  data account) act on its data services, and only over TLS; the export
  bucket admits the declared transfer recipients too, to pseudonymised
  exports only; only the pipeline's CI account (``ciAccountId``) assumes the
  deployment role;
- ``network``: data and keys are used only through the site's own VPC
  endpoints, but by the named principals who work from outside, by AWS, and
  by each transfer recipient under its own prefixes;
- ``transfers``: a recipient only lists and reads (``GetObject``,
  ``ListBucket``), and only within its grants' windows.

(Where each statement lives is also a matter of size: at the site's bounds,
ten recipients at the longest prefixes, the per-recipient prefixes and
windows each fill most of one document.)

Transfer recipients come from the site's transfer grants in force
(``SiteConfig.transfer_grants_in_force``: not yet expired, future ones
included, whose window statements wait). Expired grants are left out: they
are inert by their windows, and leaving them in would let the documents grow
without bound. The export key lives in the operator's account, so no
statement here is needed (or could act) for ``kms:Decrypt`` on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from components.clock import format_utc
from components.config import SiteConfig
from components.grants import PSEUDONYMISED_TAG, TransferGrant
from components.transfer_export import EXPORTS
from guardrails.service_control import VERSION

RCP_SUPPORTED_PREFIXES = frozenset(
    # From the Organizations user guide, "List of AWS services that support RCPs" (the prefixes this
    # project uses or may; a test checks every RCP action against this set).
    {"s3", "sts", "kms", "sqs", "secretsmanager", "logs", "dynamodb", "ecr", "aoss", "cognito-idp"}
)

DATA_SERVICE_ACTIONS = ("s3:*", "kms:*", "secretsmanager:*", "logs:*", "sqs:*", "dynamodb:*", "ecr:*")
"""The data-holding services of the data account (the reviewed ones, and those that would hold data if reviewed)."""

NETWORK_PERIMETER_ACTIONS = (
    "s3:GetObject*",
    "s3:PutObject*",
    "s3:DeleteObject*",
    "s3:ListBucket*",
    "s3:ListMultipartUploadParts",
    "s3:RestoreObject",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)
"""Reads and writes of data and uses of the account's keys: what must come through the site's endpoints.

S3 and KMS are the data services that fill ``aws:VpceAccount`` (the services AWS's
data-perimeter examples use its VPC-endpoint-owner keys with)."""

RECIPIENT_DENIED_ACTIONS = (
    "s3:Delete*",
    "s3:GetObjectA*",
    "s3:GetObjectT*",
    "s3:GetObjectV*",
    "s3:ListBucketV*",
    "s3:Put*",
)
"""Of the S3 actions that carry the keys a recipient's requests must match (``s3:ExistingObjectTag`` on
objects, ``s3:prefix`` on the bucket), every one but ``GetObject`` and ``ListBucket``; every other S3
action is denied to recipients because it carries neither key. Without ``NotAction`` in the RCP
grammar, this is the complement written out; tests derive it from the Service Authorization Reference."""

EC2_INFRASTRUCTURE_ROLE = "arn:aws:iam::*:role/aws:ec2-infrastructure"
"""The role EC2 uses for encrypted volumes and snapshots from AWS's own network."""

NOT_A_SERVICE = {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}
LABELLED = {f"s3:ExistingObjectTag/{PSEUDONYMISED_TAG}": "true"}
"""What the pseudonymiser's label looks like to a request on an existing object."""


def principal_accounts(cfg: SiteConfig) -> list[str]:
    """Accounts whose principals may assume the site's roles: the data account, the auditor, staff principals' accounts."""
    staff = {arn.split(":")[4] for arn in cfg.staff_principals}
    return sorted({cfg.data_account_id, cfg.auditor_account_id} | staff)


def export_bucket_arns(cfg: SiteConfig) -> list[str]:
    """The export bucket and its objects: the one resource of the data account that transfer recipients reach."""
    bucket = cfg.bucket_arn(EXPORTS)
    return [bucket, f"{bucket}/*"]


def recipients(cfg: SiteConfig) -> list[str]:
    """The accounts of the transfer grants in force, sorted."""
    return sorted({g.recipient_account_id for g in cfg.transfer_grants_in_force})


def _grants_by_recipient(cfg: SiteConfig) -> dict[str, list[TransferGrant]]:
    found: dict[str, list[TransferGrant]] = {}
    for grant in cfg.transfer_grants_in_force:
        found.setdefault(grant.recipient_account_id, []).append(grant)
    return {account: found[account] for account in sorted(found)}


def merged_windows(grants: Sequence[TransferGrant]) -> list[tuple[datetime, datetime]]:
    """The union of the grants' windows as disjoint intervals in time order (overlapping or touching ones merged)."""
    spans: list[tuple[datetime, datetime]] = []
    for start, end in sorted((g.not_before, g.not_after) for g in grants):
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def _recipient(account: str) -> dict[str, Any]:
    return {"StringEquals": {"aws:PrincipalAccount": account}}


def _deny(sid: str, action: Any, condition: dict[str, Any], resource: Any = "*", **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": action}
    statement.update(extra or {"Resource": resource})
    statement["Condition"] = condition
    return statement


def _outsider(cfg: SiteConfig, **keys: str) -> dict[str, Any]:
    """Requests of any principal but the data account's and AWS services', whose ``keys`` differ too.

    On the export bucket, where `identity` admits only the data account and the recipients, "not the
    data account" is the recipients, without listing them again (anonymous callers included).
    """
    return {"StringNotEquals": {"aws:PrincipalAccount": cfg.data_account_id, **keys}, **NOT_A_SERVICE}


def identity_perimeter_policy(cfg: SiteConfig, ci_account_id: str | None = None) -> dict[str, Any]:
    """Only the site's principals, and AWS services acting for the data account, act on its resources."""
    exports = export_bucket_arns(cfg)
    deployer = cfg.deployment_role_arn
    # The CI account, when there is one, is the only account that assumes the deployer (OIDC and
    # SAML federation are not sts:AssumeRole); without one, nobody does.
    pipeline = {"StringNotEquals": {"aws:PrincipalAccount": ci_account_id}} if ci_account_id else {}
    return {
        "Version": VERSION,
        "Statement": [
            # Stops: principals of any other account (another of the organization's accounts
            # included) and anonymous callers reaching data, keys, secrets or logs, whatever a bucket,
            # key or secret policy says. Keeps: the data account's roles (workload, staff, auditor,
            # deployer); AWS services (log delivery, CloudTrail) under the confused-deputy rule below.
            # The export bucket has its own statement next.
            _deny(
                "OnlyDataAccountPrincipalsOnData",
                list(DATA_SERVICE_ACTIONS),
                {"StringNotEquals": {"aws:PrincipalAccount": cfg.data_account_id}, **NOT_A_SERVICE},
                NotResource=exports,
            ),
            # Stops: anyone but the data account and the recipients of transfer grants in force
            # reaching the export bucket. Where a recipient may read: `network`; what and when: `transfers`.
            _deny(
                "ExportsOnlyForTheSiteAndItsRecipients",
                "s3:*",
                {"StringNotEquals": {"aws:PrincipalAccount": [cfg.data_account_id, *recipients(cfg)]}, **NOT_A_SERVICE},
                exports,
            ),
            # Stops: a recipient reading an object the pseudonymiser did not label, or writing, deleting,
            # restoring or copying anything (actions on objects that carry no existing-object tag).
            _deny(
                "RecipientsOnlyPseudonymisedExports",
                "s3:*",
                _outsider(cfg, **LABELLED),
                exports[1],
            ),
            # Stops: anyone else assuming a role of the data account, whatever its trust policy says.
            # Keeps: the auditor (its own account), staff principals and the data account's own roles;
            # web-identity and SAML federation, which are not `sts:AssumeRole`. The deployer: next.
            _deny(
                "OnlySiteAccountsAssumeRoles",
                "sts:AssumeRole",
                {"StringNotEquals": {"aws:PrincipalAccount": principal_accounts(cfg)}, **NOT_A_SERVICE},
                NotResource=deployer,
            ),
            # Stops: anyone but the pipeline's CI account assuming the deployment role (inside the data
            # account the SCP denies it too). Keeps: the pipeline's OIDC web identity.
            _deny("OnlyThePipelineAssumesTheDeployer", "sts:AssumeRole", {**pipeline, **NOT_A_SERVICE}, deployer),
            # Stops: an AWS service acting for another account (the confused deputy) on the site's
            # resources. Keeps: services acting for the data account, and those that send no source.
            _deny(
                "AwsServicesOnlyForTheDataAccount",
                [*DATA_SERVICE_ACTIONS, "sts:*"],
                {
                    "StringNotEquals": {"aws:SourceAccount": cfg.data_account_id},
                    "Null": {"aws:SourceAccount": "false"},
                    "Bool": {"aws:PrincipalIsAWSService": "true"},
                },
            ),
            # Stops: data read or written in clear over HTTP, on any bucket of the account (new ones too).
            _deny("DenyInsecureTransport", "s3:*", {"BoolIfExists": {"aws:SecureTransport": "false"}}),
        ],
    }


def _prefix_statement(account: str, grants: Sequence[TransferGrant]) -> dict[str, Any]:
    prefixes = sorted({g.prefix for g in grants})
    # Objects: every S3 resource but objects under the recipient's prefixes (`identity` already keeps
    # it out of every bucket but the export bucket, so any bucket's name may stand in the pattern).
    # Listing: only with an s3:prefix under them; a bucket-level request without one is denied.
    return _deny(
        f"Recipient{account}OnlyItsPrefixes",
        "s3:*",
        {**_recipient(account), "StringNotLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
        NotResource=[f"arn:aws:s3:::*/{p}*" for p in prefixes],
    )


def network_perimeter_policy(cfg: SiteConfig, ci_account_id: str | None = None) -> dict[str, Any]:
    """Data and keys are used only through VPC endpoints of the data account (the site's), with named exceptions."""
    outside = {"aws:VpceAccount": cfg.data_account_id}
    if recipients(cfg):
        outside["aws:PrincipalAccount"] = recipients(cfg)
    statements = [
        # Stops: stolen workload credentials (or any other principal's) used from outside the
        # site's network. Keeps: the deployer (runs outside the VPC), the staff gate (reads from
        # outside by design) and the auditor (reads audit logs from outside); AWS services
        # themselves and requests they make for a caller (log delivery, S3 calling KMS); EC2's
        # infrastructure role for encrypted volumes; transfer recipients, who read from their own
        # networks, each under its own prefixes only (below).
        _deny(
            "DataOnlyThroughSiteEndpoints",
            list(NETWORK_PERIMETER_ACTIONS),
            {
                "StringNotEquals": outside,
                "BoolIfExists": {"aws:PrincipalIsAWSService": "false", "aws:ViaAWSService": "false"},
                "ArnNotLikeIfExists": {
                    "aws:PrincipalArn": [
                        cfg.deployment_role_arn,
                        cfg.role_arn("staff-access"),
                        cfg.role_arn("auditor"),
                        EC2_INFRASTRUCTURE_ROLE,
                    ]
                },
            },
        )
    ]
    # Stops: a recipient reading or listing another recipient's exports (or anything but its own prefixes).
    statements += [_prefix_statement(account, grants) for account, grants in _grants_by_recipient(cfg).items()]
    return {"Version": VERSION, "Statement": statements}


def _window_statements(account: str, grants: Sequence[TransferGrant]) -> list[dict[str, Any]]:
    spans = merged_windows(grants)
    before = {"DateLessThan": {"aws:CurrentTime": format_utc(spans[0][0])}}
    after = {"DateGreaterThan": {"aws:CurrentTime": format_utc(spans[-1][1])}}
    statements = [_deny(f"NotBefore{account}", "s3:*", {**_recipient(account), **before})]
    for i, ((_, end), (start, _)) in enumerate(zip(spans, spans[1:], strict=False), start=1):
        between = {
            "DateGreaterThan": {"aws:CurrentTime": format_utc(end)},
            "DateLessThan": {"aws:CurrentTime": format_utc(start)},
        }
        statements.append(_deny(f"NotInGap{i}Of{account}", "s3:*", {**_recipient(account), **between}))
    statements.append(_deny(f"NotAfter{account}", "s3:*", {**_recipient(account), **after}))
    return statements


def transfers_policy(cfg: SiteConfig, ci_account_id: str | None = None) -> dict[str, Any]:
    """A transfer recipient only lists and reads (``GetObject``, ``ListBucket``), only within its grants' windows."""
    statements = [
        # Stops: the rest of what a labelled object or a listing under its prefix would still allow:
        # tags, ACLs, attributes, old versions, version listings. Leaves GetObject and ListBucket.
        _deny("RecipientsOnlyGetObjectAndListBucket", list(RECIPIENT_DENIED_ACTIONS), _outsider(cfg)),
    ]
    # Stops: a recipient acting before its first grant starts, between its grants, or after the last ends
    # (the union of its grants' windows; the export bucket's policy holds each grant to its own).
    for account, grants in _grants_by_recipient(cfg).items():
        statements += _window_statements(account, grants)
    return {"Version": VERSION, "Statement": statements}


RESOURCE_CONTROL_POLICIES = {
    "identity": identity_perimeter_policy,
    "network": network_perimeter_policy,
    "transfers": transfers_policy,
}
"""Each RCP of a site by its short name (``enclave-<site>-<name>``)."""

DESCRIPTIONS = {
    "identity": "Only the site's principals, AWS services for the data account and, on pseudonymised exports, declared transfer recipients act on its data; only the pipeline assumes the deployer",
    "network": "Data and keys of the data account are used only through its VPC endpoints, but by the deployer, staff gate, auditor, AWS and transfer recipients on their own prefixes",
    "transfers": "Transfer recipients only list and read (GetObject, ListBucket) the export bucket, only within their grants' windows",
}
