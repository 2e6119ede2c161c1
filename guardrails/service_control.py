"""Service control policies over a site's data account: what no principal of that account can do.

SCPs cap every principal of a member account, its root user and the roles the
management account reaches it through included; they never bind the
management account itself, nor service-linked roles, nor AWS service
principals acting for the account. Each policy is a pure function returning a
dict: the program serialises it compactly (``compact_json``), and the tests
lint, size and evaluate exactly that text.

Three policies, each separately attachable, each statement stopping one family
of threats:

- ``perimeter``: no request outside the site's region, and no service that was
  not reviewed for the site (but the independent auditor's read-only inventory
  of every region);
- ``gates``: only the deployment role changes the site's gates, and nobody
  inside the account changes or becomes the deployment role (nor the CI
  account's roles that reach it);
- ``no-way-out``: no network path out, no copy or share outside the site, no
  resource of another account, no leaving the organization.

Action names carry ``*`` only at their end: the SCP grammar before AWS's
full-IAM-language release allowed no other position, and some partitions may
still enforce it.
"""

from __future__ import annotations

import json
from typing import Any

from components.config import SiteConfig

VERSION = "2012-10-17"

GLOBAL_ENDPOINT_SERVICES: dict[str, tuple[str, bool, str]] = {
    # botocore endpoint name: (IAM prefix, exempt from the region deny, why).
    "account": ("account", False, "account settings, opt-in regions and closure belong to the management account"),
    "billingconductor": ("billingconductor", False, "billing is the management account's"),
    "budgets": ("budgets", False, "budgets are the management account's"),
    "ce": ("ce", False, "Cost Explorer is the management account's"),
    "chime": ("chime", False, "a messaging and calling service: a way out for data"),
    "cloudfront": ("cloudfront", False, "serves content from edge locations worldwide"),
    "codecatalyst": ("codecatalyst", False, "a development service the site does not use"),
    "health": ("health", False, "the organization's Health view is in the management account"),
    "iam": (
        "iam",
        True,
        "the site's roles and boundary live in IAM, served only in us-east-1; IAM holds no user data, "
        "and the gates policy decides who may change the site's roles",
    ),
    "importexport": ("importexport", False, "ships disks out of AWS"),
    "mturk-requester": ("mechanicalturk", False, "shows data to workers anywhere in the world"),
    "networkmanager": ("networkmanager", False, "Cloud WAN and global networks connect the VPC to other networks"),
    "notifications-contacts": ("notifications-contacts", False, "notification contacts are the management account's"),
    "organizations": (
        "organizations",
        True,
        "only Describe*/List*: the auditor reads the organization the guardrails come from; every write stays denied",
    ),
    "route53": (
        "route53",
        False,
        "public hosted zones publish records worldwide; the site resolves through its DNS firewall",
    ),
    "s3": ("s3", False, "the legacy global endpoint; clients use the site region's S3 endpoint"),
    "savingsplans": ("savingsplans", False, "purchasing is the management account's"),
    "shield": ("shield", False, "protects public endpoints, which the site has none of"),
    "sts": ("sts", False, "the global endpoint logs to us-east-1, out of the site's trail; STS is used regionally"),
    "support": ("support", False, "support cases carry attachments to support engineers anywhere"),
    "tax": ("tax", False, "tax settings are the management account's"),
    "waf": ("waf", False, "WAF Classic (global) protects CloudFront, which the site does not use"),
}
"""Every service botocore reaches through a global (us-east-1) endpoint, and whether the region deny exempts it."""

REGION_EXEMPT_ACTIONS = ("iam:*", "organizations:Describe*", "organizations:List*")
"""The only actions allowed outside the site's region: IAM (global) and reads of the organization."""

REVIEWED_SERVICES: dict[str, str] = {
    "s3": "the site's buckets (user data, access logs, audit logs) and the Pulumi state bucket",
    "kms": "the operator key (through S3 and Secrets Manager) and the Pulumi state key",
    "ec2": "the isolated network, its endpoints and flow logs, and the account-level blocks (EBS, AMIs, VPC)",
    "iam": "the site's roles and permissions boundary",
    "sts": "assuming the site's roles through the regional endpoint",
    "secretsmanager": "the pseudonymisation pepper",
    "cloudtrail": "the site's trail",
    "logs": "the CloudWatch Logs endpoint the workloads write to",
    "route53resolver": "the DNS firewall and DNS query logging",
    "ssm": "the account-level block on public sharing of SSM documents (a service setting)",
    "elasticmapreduce": "the account-level EMR block public access configuration",
}
"""Services the site's program and its roles use, each reviewed for residency; every other service is denied."""

AUDIT_INVENTORY_ACTIONS = (
    "dynamodb:ListTables",
    "ec2:DescribeRegions",
    "ec2:DescribeSnapshots",
    "ec2:DescribeVolumes",
    "elasticfilesystem:DescribeFileSystems",
    "es:ListDomainNames",
    "firehose:ListDeliveryStreams",
    "fsx:DescribeFileSystems",
    "glacier:ListVaults",
    "kafka:ListClustersV2",
    "kinesis:ListStreams",
    "kms:ListAliases",
    "kms:ListKeys",
    "logs:DescribeLogGroups",
    "redshift:DescribeClusters",
    "secretsmanager:ListSecrets",
    "sqs:ListQueues",
    "tag:GetResources",
)
"""The listings the independent audit runs in every region to prove no data store of the account lies outside
the site (``enclave audit``'s other-regions family). Read-only, metadata only: the auditor role alone may run
them, in any region, of any service. Written out rather than imported from ``enclave.audit.regions`` on
purpose: a change of the audit's code must not widen the operator's SCP unreviewed; a test keeps the two equal."""

AUDIT_SHARING_READS = ("ram:GetResourceShareAssociations", "ram:GetResourceShares")
"""Reads of the one service the guardrails deny that the audit must still read in the site region: Resource
Access Manager is not reviewed (no share may be made), but a share made before the guardrails were attached
stays in force, and only these listings show it (``ram-no-resource-shares``). Read-only, the auditor role alone."""

AUDIT_CONTROL_PLANE_READS = ("s3:ListMultiRegionAccessPoints",)
"""Reads the audit makes outside the site region because AWS serves them nowhere else: S3 Control answers
for Multi-Region Access Points only in us-west-2 (the audit proves the account has none). Read-only, the
auditor role alone."""

REVIEWED_FOR_ONE_SETTING: dict[str, tuple[str, ...]] = {
    # The provider's calls for the one account setting the service was reviewed for (create and update,
    # read, delete: terraform-provider-aws ssm/service_setting.go, emr/block_public_access_configuration.go).
    # The rest of the service (SSM documents shared with other accounts, Run Command, Session Manager;
    # EMR clusters and notebooks) was never reviewed, so it stays denied like any other service.
    "ssm": ("ssm:GetServiceSetting", "ssm:UpdateServiceSetting", "ssm:ResetServiceSetting"),
    "elasticmapreduce": (
        "elasticmapreduce:GetBlockPublicAccessConfiguration",
        "elasticmapreduce:PutBlockPublicAccessConfiguration",
    ),
}
"""Reviewed services of which only these actions are admitted."""

REVIEWED_ACTIONS = (
    *(action for service in REVIEWED_SERVICES for action in REVIEWED_FOR_ONE_SETTING.get(service, (f"{service}:*",))),
    "organizations:Describe*",
    "organizations:List*",
)

IAM_CHANGE_ACTIONS = (
    "iam:Attach*",
    "iam:Create*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Put*",
    "iam:SetDefaultPolicyVersion",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
)
"""Every change to a role or managed policy: trust, inline and attached policies, boundary, versions, tags, deletion."""

GATE_CHANGE_ACTIONS = (
    # Buckets: policy, ACLs, ownership, public access block, versioning, Object Lock,
    # logging, notifications, website, CORS, encryption, lifecycle, inventory and analytics exports.
    "s3:PutBucket*",
    "s3:DeleteBucket*",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutInventoryConfiguration",
    "s3:PutAnalyticsConfiguration",
    # The account's S3 public access block (its DeletePublicAccessBlock is authorised as this action too).
    "s3:PutAccountPublicAccessBlock",
    # The trail (and any new trail, event data store or channel that could deliver elsewhere).
    "cloudtrail:Create*",
    "cloudtrail:Delete*",
    "cloudtrail:Put*",
    "cloudtrail:StopLogging",
    "cloudtrail:Update*",
    # Flow logs, VPC endpoints (their policies admit only the site's resources), the DNS firewall and query logging.
    "ec2:DeleteFlowLogs",
    "ec2:CreateVpcEndpoint",
    "ec2:ModifyVpcEndpoint",
    "route53resolver:Associate*",
    "route53resolver:Create*",
    "route53resolver:Delete*",
    "route53resolver:Disassociate*",
    "route53resolver:Import*",
    "route53resolver:Put*",
    "route53resolver:Update*",
    # Account-level blocks in the region: every call that weakens one (Enable* of the sharing blocks sets
    # a weaker state too). Enabling EBS encryption and disabling the serial console only strengthen: open.
    "ec2:ModifyVpcBlockPublicAccessOptions",
    "ec2:DisableImageBlockPublicAccess",
    "ec2:EnableImageBlockPublicAccess",
    "ec2:DisableSnapshotBlockPublicAccess",
    "ec2:EnableSnapshotBlockPublicAccess",
    "ec2:DisableEbsEncryptionByDefault",
    "ec2:ModifyEbsDefaultKmsKeyId",
    "ec2:ResetEbsDefaultKmsKeyId",
    "ec2:EnableSerialConsoleAccess",
    "ec2:ModifyInstanceMetadataDefaults",
    "ssm:UpdateServiceSetting",
    "ssm:ResetServiceSetting",
    "elasticmapreduce:PutBlockPublicAccessConfiguration",
    # Resource policies of secrets (the pepper's admits only the workload and the deployer).
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:DeleteResourcePolicy",
)
"""Changes to the site's account-wide gates: only the deployment role makes them, through the reviewed program."""

NETWORK_EXIT_ACTIONS = (
    "ec2:CreateInternetGateway",
    "ec2:AttachInternetGateway",
    "ec2:CreateEgressOnlyInternetGateway",
    "ec2:CreateNatGateway",
    "ec2:CreateCarrierGateway",
    "ec2:CreateVpcPeeringConnection",
    "ec2:AcceptVpcPeeringConnection",
    "ec2:CreateTransitGateway*",
    "ec2:AcceptTransitGateway*",
    "ec2:CreateVpnConnection",
    "ec2:CreateVpnGateway",
    "ec2:AttachVpnGateway",
    "ec2:CreateCustomerGateway",
    "ec2:CreateClientVpn*",
    "ec2:CreateLocalGatewayRoute*",
    "ec2:CreateVpcEndpointServiceConfiguration",
    "ec2:CreateInstanceConnectEndpoint",
    "ec2:CreateTrafficMirror*",
    "ec2:CreateVpcBlockPublicAccessExclusion",
    "ec2:AllocateAddress",
    "ec2:AssociateAddress",
    "directconnect:Accept*",
    "directconnect:Allocate*",
    "directconnect:Associate*",
    "directconnect:Confirm*",
    "directconnect:Create*",
    "route53resolver:CreateResolverEndpoint",
    "route53resolver:CreateResolverRule",
    "route53resolver:AssociateResolverRule",
    "vpce:AllowMultiRegion",
)
"""Every way to open a network path out: gateways, peering, transit gateways, VPN, Direct Connect,
public addresses, endpoint services, DNS forwarding, cross-region PrivateLink."""

COPY_AND_SHARE_ACTIONS = (
    "ram:Accept*",
    "ram:Associate*",
    "ram:Create*",
    "ram:Update*",
    "ec2:ModifySnapshotAttribute",
    "ec2:ModifyImageAttribute",
    "ec2:ModifyFpgaImageAttribute",
    "ec2:ModifyVpcEndpointServicePermissions",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:EnableAddressTransfer",
    "ec2:CreateStoreImageTask",
    "ec2:CreateInstanceExportTask",
    "ec2:ExportImage",
    "s3:PutReplicationConfiguration",
    "s3:CreateJob",
    "s3:CreateMultiRegionAccessPoint",
    "kms:ReplicateKey",
    "kms:UpdatePrimaryRegion",
    "secretsmanager:ReplicateSecretToRegions",
    "logs:CreateDelivery",
    "logs:CreateExportTask",
    "logs:PutAccountPolicy",
    "logs:PutDelivery*",
    "logs:PutDestination*",
    "logs:PutSubscriptionFilter",
)
"""Every way a reviewed service copies data to another region or account, or shares a resource outside the site."""

ORGANIZATION_CHANGE_ACTIONS = (
    "organizations:Attach*",
    "organizations:Delete*",
    "organizations:Deregister*",
    "organizations:Detach*",
    "organizations:Disable*",
    "organizations:Leave*",
    "organizations:Put*",
    "organizations:Register*",
    "organizations:Update*",
)
"""Leaving the organization, or changing its policies, from inside the data account."""

RESOURCE_PERIMETER_ACTIONS = ("s3:*", "kms:*", "secretsmanager:*", "logs:*")
"""Data-holding services whose resources must belong to the site's own accounts."""


def compact_json(document: dict[str, Any]) -> str:
    """The document exactly as Organizations stores it: every character counts against the size limit."""
    return json.dumps(document, separators=(",", ":"))


def _deny(sid: str, actions: tuple[str, ...] | list[str], resources: str | list[str] = "*", **extra: Any) -> dict:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Deny", "Action": list(actions), "Resource": resources}
    statement.update(extra)
    return statement


def _unless_deployer(cfg: SiteConfig) -> dict[str, Any]:
    return {"ArnNotEquals": {"aws:PrincipalArn": cfg.deployment_role_arn}}


def _present_and_not(key: str, values: str | list[str]) -> dict[str, Any]:
    """True when ``key`` is in the request and differs from every value (a missing key does not deny).

    In a Deny, ``StringNotEqualsIfExists`` would be true on a missing key, denying exactly
    the requests that carry none.
    """
    return {"StringNotEquals": {key: values}, "Null": {key: "false"}}


def site_iam_patterns(cfg: SiteConfig) -> list[str]:
    """ARN patterns of every role and managed policy the site program names (``enclave-<site>-*``)."""
    return [
        f"arn:aws:iam::{cfg.data_account_id}:role/{cfg.name_prefix}-*",
        f"arn:aws:iam::{cfg.data_account_id}:policy/{cfg.name_prefix}-*",
    ]


def staff_principal_roles(cfg: SiteConfig) -> list[str]:
    """The staff principals that are roles (whose trust decides who may approach the staff gate)."""
    return [arn for arn in cfg.staff_principals if ":role/" in arn]


def perimeter_policy(cfg: SiteConfig, ci_account_id: str | None = None) -> dict[str, Any]:
    """Where and what: no request outside the site's region, no service that was not reviewed.

    The auditor role's inventory of other regions is the one exception, for its listings only. Every
    builder takes the CI account (``ciAccountId``); this one does not depend on it.
    """
    auditor = cfg.role_arn("auditor")
    elsewhere = {"StringNotEquals": {"aws:RequestedRegion": cfg.region}}
    return {
        "Version": VERSION,
        "Statement": [
            # Stops: data or keys placed, copied or processed in another region, by anyone in the
            # account, deployer included. Unlike Control Tower's region deny it exempts no KMS,
            # STS, Route 53, CloudFront or support: only IAM (global) and reads of the organization.
            # The auditor role: the last two statements.
            {
                "Sid": "DenyOutsideSiteRegion",
                "Effect": "Deny",
                "NotAction": list(REGION_EXEMPT_ACTIONS),
                "Resource": "*",
                "Condition": {**elsewhere, "ArnNotEquals": {"aws:PrincipalArn": auditor}},
            },
            # Stops: the next service nobody reviewed (a compute service with internet access, a
            # messaging, email or transfer service, an AI service in another region) becoming the way
            # out. Admit a service by reviewing it and adding it to REVIEWED_SERVICES.
            {
                "Sid": "DenyServicesNotReviewed",
                "Effect": "Deny",
                "NotAction": list(REVIEWED_ACTIONS),
                "Resource": "*",
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": auditor}},
            },
            # The same two for the auditor role, which may also run the audit's inventory listings, in
            # every region: proving that no data store lies outside the site means reading the others.
            {
                "Sid": "AuditorOnlyReviewedServicesAndTheInventory",
                "Effect": "Deny",
                "NotAction": [*REVIEWED_ACTIONS, *AUDIT_INVENTORY_ACTIONS, *AUDIT_SHARING_READS],
                "Resource": "*",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": auditor}},
            },
            {
                "Sid": "AuditorOnlyTheInventoryOutsideSiteRegion",
                "Effect": "Deny",
                "NotAction": [*REGION_EXEMPT_ACTIONS, *AUDIT_INVENTORY_ACTIONS, *AUDIT_CONTROL_PLANE_READS],
                "Resource": "*",
                "Condition": {**elsewhere, "ArnEquals": {"aws:PrincipalArn": auditor}},
            },
        ],
    }


def pipeline_roles(ci_account_id: str) -> str:
    """Every role of the CI account that reaches the deployment role with ``sts:AssumeRole``."""
    return f"arn:aws:iam::{ci_account_id}:role/*"


def gates_policy(cfg: SiteConfig, ci_account_id: str | None = None) -> dict[str, Any]:
    """Who may change the gates: the deployment role only; and nobody inside the account changes or becomes it."""
    statements = [
        # Stops: an administrator (root included) editing a site role's trust, inline or managed
        # policies, boundary or tags, deleting and recreating it under the same name, or passing it
        # to compute they control. Keeps: the deployer's `pulumi up`.
        _deny(
            "OnlyDeployerChangesSiteRoles",
            [*IAM_CHANGE_ACTIONS, "iam:PassRole"],
            site_iam_patterns(cfg),
            Condition=_unless_deployer(cfg),
        ),
        # Stops: lifting every gate at once by becoming the deployer (assuming it from inside the
        # account, passing it to compute, or widening its trust or permissions). The reviewed
        # pipeline reaches it from outside the data account; changing it is an operator-held change.
        _deny(
            "NobodyInsideChangesOrBecomesDeployer",
            [*IAM_CHANGE_ACTIONS, "iam:PassRole", "sts:AssumeRole"],
            cfg.deployment_role_arn,
        ),
    ]
    if ci_account_id:
        # Stops: becoming the deployer the long way round, through the pipeline's account: a principal of the
        # data account assuming a CI role (whose trust someone widened) and from there the deployer, which
        # the identity RCP admits from the CI account alone.
        statements.append(_deny("NobodyInsideBecomesThePipeline", ["sts:AssumeRole"], pipeline_roles(ci_account_id)))
    statements += [
        # Stops: bucket policies, encryption, versioning, Object Lock, logging, the trail, flow
        # logs, VPC endpoints, the DNS firewall, the account-level blocks and the secret's policy
        # being lifted by hand. Keeps: the deployer's `pulumi up`.
        _deny("OnlyDeployerChangesAccountGates", GATE_CHANGE_ACTIONS, Condition=_unless_deployer(cfg)),
    ]
    roles = staff_principal_roles(cfg)
    if roles:
        # Stops: widening who may approach the staff gate by editing (or recreating) an approved
        # staff role's trust. Keeps: the deployer's changes.
        statements.append(
            _deny(
                "OnlyDeployerChangesStaffTrust",
                ["iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:CreateRole"],
                roles,
                Condition=_unless_deployer(cfg),
            )
        )
    return {"Version": VERSION, "Statement": statements}


def no_way_out_policy(cfg: SiteConfig, ci_account_id: str | None = None) -> dict[str, Any]:
    """No network path out, no copy or share outside the site, no other account's resources, no leaving.

    Independent of the CI account: the deployer needs none of its resources.
    """
    site_accounts = sorted({cfg.data_account_id, cfg.operator_account_id})
    return {
        "Version": VERSION,
        "Statement": [
            # Stops: a path out of the isolated network, for everyone, deployer included.
            _deny("DenyNetworkPathsOut", NETWORK_EXIT_ACTIONS),
            # Stops: an interface endpoint to another party's PrivateLink service (a private path out).
            # Keeps: endpoints to AWS's own services (owner "amazon"). The key is only on the
            # endpoint-service part of the request, so the deny needs it present (Null false): an
            # ...IfExists operator would deny every other part (VPC, subnets, security groups).
            _deny(
                "DenyEndpointsToOtherPartiesServices",
                ["ec2:CreateVpcEndpoint"],
                Condition=_present_and_not("ec2:VpceServiceOwner", "amazon"),
            ),
            # Stops: replication, exports, log forwarding and shares of snapshots, images and resources.
            _deny("DenyCopiesAndSharesOutOfTheSite", COPY_AND_SHARE_ACTIONS),
            # Stops: writing data into (or reading keys and secrets of) another account's resources.
            # Keeps: the operator's key; requests whose resource has no account (ListAllMyBuckets).
            _deny(
                "DenyResourcesOutsideTheSite",
                RESOURCE_PERIMETER_ACTIONS,
                Condition=_present_and_not("aws:ResourceAccount", site_accounts),
            ),
            # Stops: the account leaving the organization (and its guardrails) or changing its policies.
            _deny("DenyLeavingOrChangingTheOrganization", ORGANIZATION_CHANGE_ACTIONS),
        ],
    }


SERVICE_CONTROL_POLICIES = {
    "perimeter": perimeter_policy,
    "gates": gates_policy,
    "no-way-out": no_way_out_policy,
}
"""Each SCP of a site by its short name (``enclave-<site>-<name>``)."""

DESCRIPTIONS = {
    "perimeter": "Denies every request outside {region} (but IAM and organization reads) and every service not reviewed for the site",
    "gates": "Only the deployment role changes the site's gates; nobody in the account changes or becomes the deployment role",
    "no-way-out": "Denies network paths out, copies and shares outside the site, other accounts' resources, leaving the organization",
}
