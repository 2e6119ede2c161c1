"""Resource control policies over a site's data account: who may act on its resources, and from where.

RCPs cap every request to a resource of a member account, whoever makes it:
principals of other accounts, anonymous callers and AWS services included;
only service-linked roles, AWS managed KMS keys and the management account's
resources are out of their reach. They apply to a subset of services (the
Organizations guide's "List of AWS services that support RCPs"); each action
here is of one of those. Deny statements only, ``Principal`` ``*``.

Two policies, each separately attachable:

- ``identity``: only the site's principals (and AWS services acting for the
  data account) act on its data services, and only over TLS;
- ``network``: data and keys are used only through the site's own VPC
  endpoints, but by the named principals who work from outside and by AWS.
"""

from __future__ import annotations

from typing import Any

from components.config import SiteConfig
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

EC2_INFRASTRUCTURE_ROLE = "arn:aws:iam::*:role/aws:ec2-infrastructure"
"""The role EC2 uses for encrypted volumes and snapshots from AWS's own network."""


def principal_accounts(cfg: SiteConfig) -> list[str]:
    """Accounts whose principals may assume the site's roles: the data account, the auditor, staff principals' accounts."""
    staff = {arn.split(":")[4] for arn in cfg.staff_principals}
    return sorted({cfg.data_account_id, cfg.auditor_account_id} | staff)


def identity_perimeter_policy(cfg: SiteConfig) -> dict[str, Any]:
    """Only the site's principals, and AWS services acting for the data account, act on its resources."""
    not_a_service = {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}
    return {
        "Version": VERSION,
        "Statement": [
            # Stops: principals of any other account (another of the organization's accounts
            # included) and anonymous callers reaching data, keys, secrets or logs, whatever a bucket,
            # key or secret policy says. Keeps: the data account's roles (workload, staff, auditor,
            # deployer); AWS services (log delivery, CloudTrail) under the confused-deputy rule below.
            {
                "Sid": "OnlyDataAccountPrincipalsOnData",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(DATA_SERVICE_ACTIONS),
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalAccount": cfg.data_account_id}, **not_a_service},
            },
            # Stops: anyone else assuming a role of the data account, whatever its trust policy says.
            # Keeps: the auditor (its own account), staff principals and the data account's own roles;
            # web-identity and SAML federation, which are not `sts:AssumeRole`.
            {
                "Sid": "OnlySiteAccountsAssumeRoles",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sts:AssumeRole",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalAccount": principal_accounts(cfg)}, **not_a_service},
            },
            # Stops: an AWS service acting for another account (the confused deputy) on the site's
            # resources. Keeps: services acting for the data account, and those that send no source.
            {
                "Sid": "AwsServicesOnlyForTheDataAccount",
                "Effect": "Deny",
                "Principal": "*",
                "Action": [*DATA_SERVICE_ACTIONS, "sts:*"],
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": {"aws:SourceAccount": cfg.data_account_id},
                    "Null": {"aws:SourceAccount": "false"},
                    "Bool": {"aws:PrincipalIsAWSService": "true"},
                },
            },
            # Stops: data read or written in clear over HTTP, on any bucket of the account (new ones too).
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def network_perimeter_policy(cfg: SiteConfig) -> dict[str, Any]:
    """Data and keys are used only through VPC endpoints of the data account (the site's), with named exceptions."""
    return {
        "Version": VERSION,
        "Statement": [
            # Stops: stolen workload credentials (or any other principal's) used from outside the
            # site's network. Keeps: the deployer (runs outside the VPC), the staff gate (reads from
            # outside by design) and the auditor (reads audit logs from outside); AWS services
            # themselves and requests they make for a caller (log delivery, S3 calling KMS); EC2's
            # infrastructure role for encrypted volumes.
            {
                "Sid": "DataOnlyThroughSiteEndpoints",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(NETWORK_PERIMETER_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": {"aws:VpceAccount": cfg.data_account_id},
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
            }
        ],
    }


RESOURCE_CONTROL_POLICIES = {
    "identity": identity_perimeter_policy,
    "network": network_perimeter_policy,
}
"""Each RCP of a site by its short name (``enclave-<site>-<name>``)."""

DESCRIPTIONS = {
    "identity": "Only the site's principals, and AWS services acting for the data account, act on its data, keys, secrets and logs",
    "network": "Data and keys of the data account are used only through its VPC endpoints, but by the deployer, staff gate, auditor and AWS",
}
