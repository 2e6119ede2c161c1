"""The security gates: who may touch the site's data, from where, and what no role may ever do.

Every policy document is a module-level pure function returning a dict (values
may be plain strings or Outputs), so the tests and the access matrix read the
exact statements the engine receives.
"""

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account_guardrails import SSM_PUBLIC_SHARING_SETTING
from components.config import STAFF_SESSION_SECONDS, SiteConfig
from components.grants import staff_trust_policy, ticket_window_condition
from components.operator_key import audit_bucket_context
from components.pseudonym_secret import pepper_secret_arn_pattern
from components.transfer_export import EXPORTS, boundary_export_statements, workload_export_statements

VERSION = "2012-10-17"

CLOUDTRAIL_CONTEXT = "kms:EncryptionContext:aws:cloudtrail:arn"
S3_CONTEXT = "kms:EncryptionContext:aws:s3:arn"

# Global services whose requests carry aws:RequestedRegion us-east-1 whatever
# the site's region: the region deny must exempt them or the auditor could not
# read IAM and no role could call STS's global endpoint. The boundary's allow
# list grants only reads on them, so exempting them opens nothing else.
GLOBAL_SERVICE_ACTIONS = ("iam:*", "sts:*")

DATA_OBJECT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject")
"""Object reads and writes on user data (delete serves erasure requests; versions expire by lifecycle)."""

KEY_USE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
"""What S3 and Secrets Manager call on the operator key on a role's behalf."""

# The auditor's read-only view of the site's configuration: metadata only,
# never data, and scoped to the site's own resources wherever the action
# supports resource-level permissions (the List/Describe calls do not).
# Patterns (``iam:GetRole*``, ``s3:GetBucket*``, ...) cover only read operations of
# configuration (tests/test_security_gates.py expands each against IAM's action list).
ACCOUNT_WIDE_CONFIG_READ_ACTIONS = (
    "cloudtrail:DescribeTrails",
    "cloudtrail:ListTrails",
    "cloudtrail:LookupEvents",
    "ec2:DescribeEgressOnlyInternetGateways",
    "ec2:DescribeFlowLogs",
    "ec2:DescribeImages",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeManagedPrefixLists",
    "ec2:DescribeNatGateways",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeRegions",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeTransitGatewayVpcAttachments",
    "ec2:DescribeVpcBlockPublicAccess*",
    "ec2:DescribeVpcEndpointServiceConfigurations",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpnGateways",
    "ec2:Get*BlockPublicAccessState",
    "ec2:Get*Default*",
    "ec2:GetSerialConsoleAccessStatus",
    "elasticmapreduce:GetBlockPublicAccessConfiguration",
    "iam:ListRoles",
    "iam:ListUsers",
    "organizations:DescribeOrganization",
    "ram:GetResourceShareAssociations",
    "ram:GetResourceShares",
    "route53resolver:ListFirewallConfigs",
    "route53resolver:ListFirewallDomainLists",
    "route53resolver:ListFirewallRuleGroupAssociations",
    "route53resolver:ListResolverEndpoints",
    "route53resolver:ListResolverQueryLogConfigAssociations",
    "route53resolver:ListResolverQueryLogConfigs",
    "route53resolver:ListResolverRuleAssociations",
    "route53resolver:ListResolverRules",
    "s3:GetAccountPublicAccessBlock",
    "s3:List*AccessPoints",
    "s3:ListAllMyBuckets",
)
INVENTORY_READ_ACTIONS = (
    "dynamodb:ListTables",
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
"""Account-wide listings of data stores: the audit runs them in every region enabled for the account."""

ANY_REGION_READ_ACTIONS = (
    *INVENTORY_READ_ACTIONS,
    # The Multi-Region Access Point control plane is served from us-west-2 only.
    "s3:ListMultiRegionAccessPoints",
    # Global services: every request carries aws:RequestedRegion us-east-1.
    "iam:Get*",
    "iam:List*",
    "iam:SimulatePrincipalPolicy",
    "organizations:Describe*",
    "organizations:List*",
)
"""What the auditor's boundary lets it call outside the site region: read-only, metadata only."""

PERIMETER_PROBE_ACTION = "lambda:GetAccountSettings"
"""A harmless read (account limits and usage) of a service the guardrails deny: allowed to the auditor so
that only a service control policy can refuse it (the audit's perimeter probe)."""

TRAIL_CONFIG_READ_ACTIONS = ("cloudtrail:GetEventSelectors", "cloudtrail:GetTrail*")
IAM_CONFIG_READ_ACTIONS = ("iam:GetPolicy*", "iam:GetRole*", "iam:List*RolePolicies")
DEPLOYER_READ_ACTIONS = ("iam:GetRole", "iam:SimulatePrincipalPolicy")
"""The deployment role's trust, and what the guardrails' SCPs let it do (the policy simulator)."""
ORGANIZATION_READ_ACTIONS = (
    "organizations:DescribePolicy",
    "organizations:ListParents",
    "organizations:ListPoliciesForTarget",
)
"""The guardrails attached to the data account: AWS answers only if the management account delegates them."""
KEY_CONFIG_READ_ACTIONS = ("kms:DescribeKey", "kms:GetKey*", "kms:ListGrants")
BUCKET_CONFIG_READ_ACTIONS = (
    "s3:GetBucket*",
    "s3:GetEncryptionConfiguration",
    "s3:GetInventoryConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration",
)
COPY_SHARING_READ_ACTIONS = ("ec2:DescribeImageAttribute", "ec2:DescribeSnapshotAttribute")
"""Who may use the data account's snapshots and images (their ARNs carry no account: the region scopes them)."""
SECRET_CONFIG_READ_ACTIONS = ("secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy")
RESOLVER_RULE_READ_ACTIONS = ("route53resolver:ListFirewallDomains", "route53resolver:ListFirewallRules")
SSM_SETTING_READ_ACTIONS = ("ssm:GetServiceSetting",)
AUDITOR_INVESTIGATION_READS = (
    "cloudtrail:ListTrails",
    "cloudtrail:LookupEvents",
    "ec2:DescribeSubnets",
    "s3:GetLifecycleConfiguration",
)
"""Reads the auditor role holds for the person running it (finding who changed what, which subnets
and lifecycle rules there are) beyond those ``enclave audit`` itself calls."""

SITE_BUCKET_ROLES = ("user-data", "access-logs", "audit-logs")

TRANSFER_OUT_ACTIONS = (
    # S3: replication, multi-region access points, and opening a bucket to others.
    "s3:PutReplicationConfiguration",
    "s3:ReplicateObject",
    "s3:ReplicateDelete",
    "s3:ReplicateTags",
    "s3:CreateMultiRegionAccessPoint",
    "s3:PutMultiRegionAccessPointPolicy",
    "s3:SubmitMultiRegionAccessPointRoutes",
    "s3:CreateAccessPoint",
    "s3:PutAccessPointPolicy",
    "s3:CreateJob",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    # KMS: the key must stay single-region and grant-free.
    "kms:ReplicateKey",
    "kms:CreateGrant",
    "kms:UpdatePrimaryRegion",
    "kms:PutKeyPolicy",
    # Secrets Manager: no replicas, no resource policy but the deployer's.
    "secretsmanager:ReplicateSecretToRegions",
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:DeleteResourcePolicy",
    # DynamoDB global tables and exports.
    "dynamodb:CreateGlobalTable",
    "dynamodb:CreateTableReplica",
    "dynamodb:UpdateGlobalTable",
    "dynamodb:UpdateGlobalTableSettings",
    "dynamodb:UpdateGlobalTableVersion",
    "dynamodb:ExportTableToPointInTime",
    # RDS: cross-region replicas, snapshot copies and shares, exports.
    "rds:CreateDBInstanceReadReplica",
    "rds:CreateGlobalCluster",
    "rds:CopyDBSnapshot",
    "rds:CopyDBClusterSnapshot",
    "rds:ModifyDBSnapshotAttribute",
    "rds:ModifyDBClusterSnapshotAttribute",
    "rds:StartDBInstanceAutomatedBackupsReplication",
    "rds:StartExportTask",
    # ECR and AWS Backup copies.
    "ecr:PutReplicationConfiguration",
    "backup:StartCopyJob",
    "backup:PutBackupVaultAccessPolicy",
    # Transfer services.
    "datasync:CreateTask",
    "datasync:StartTaskExecution",
    # EC2: any path out of the isolated network, and copies or shares of disks and images.
    "ec2:CreateInternetGateway",
    "ec2:AttachInternetGateway",
    "ec2:CreateEgressOnlyInternetGateway",
    "ec2:CreateNatGateway",
    "ec2:CreateCarrierGateway",
    "ec2:CreateVpcPeeringConnection",
    "ec2:AcceptVpcPeeringConnection",
    "ec2:CreateTransitGatewayVpcAttachment",
    "ec2:CreateVpnGateway",
    "ec2:AttachVpnGateway",
    "ec2:CreateVpnConnection",
    "ec2:CreateClientVpnEndpoint",
    "ec2:CreateVpcEndpoint",
    "ec2:ModifyVpcEndpoint",
    "ec2:CreateRoute",
    "ec2:ReplaceRoute",
    "ec2:CopySnapshot",
    "ec2:CopyImage",
    "ec2:ModifySnapshotAttribute",
    "ec2:ModifyImageAttribute",
    "ec2:CreateInstanceExportTask",
    "ec2:ExportImage",
)
"""Every action that moves data out of the site or opens a path for it: denied to every role."""

AUDIT_TAMPER_ACTIONS = (
    "cloudtrail:DeleteTrail",
    "cloudtrail:StopLogging",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:PutInsightSelectors",
    "ec2:DeleteFlowLogs",
    "s3:PutBucketObjectLockConfiguration",
    "s3:BypassGovernanceRetention",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketLogging",
)
"""Actions that would blind or rewrite the audit trail: denied to every role."""

CROSS_ACCOUNT_WRITE_ACTIONS = ("s3:PutObject", "s3:PutObjectAcl", "s3:ReplicateObject")
"""Object writes (CopyObject is authorised as s3:PutObject on the target) denied outside the data account."""


def _bucket_and_objects(cfg: SiteConfig, role: str) -> list[str]:
    return [cfg.bucket_arn(role), f"{cfg.bucket_arn(role)}/*"]


def _via_services(cfg: SiteConfig, *services: str) -> list[str]:
    return [f"{service}.{cfg.region}.amazonaws.com" for service in services]


def configuration_read_statements(cfg: SiteConfig, key_arn: pulumi.Input[str]) -> list[dict[str, Any]]:
    """Read-only access to the site's configuration: what the auditor gets, and what its boundary caps it at."""
    return [
        {
            "Sid": "ReadAccountWideConfiguration",
            "Effect": "Allow",
            "Action": [
                *ACCOUNT_WIDE_CONFIG_READ_ACTIONS,
                *INVENTORY_READ_ACTIONS,
                *ORGANIZATION_READ_ACTIONS,
                PERIMETER_PROBE_ACTION,
            ],
            "Resource": "*",
        },
        {
            "Sid": "ReadTrailConfiguration",
            "Effect": "Allow",
            "Action": list(TRAIL_CONFIG_READ_ACTIONS),
            "Resource": cfg.trail_arn,
        },
        {
            "Sid": "ReadSiteIamConfiguration",
            "Effect": "Allow",
            "Action": list(IAM_CONFIG_READ_ACTIONS),
            "Resource": [
                f"arn:aws:iam::{cfg.data_account_id}:role/{cfg.name_prefix}-*",
                f"arn:aws:iam::{cfg.data_account_id}:policy/{cfg.name_prefix}-*",
            ],
        },
        {
            "Sid": "ReadDeploymentRole",
            "Effect": "Allow",
            "Action": list(DEPLOYER_READ_ACTIONS),
            "Resource": cfg.deployment_role_arn,
        },
        {
            # The operator key, and the data account's own keys in the region
            # (the Pulumi state key): `enclave audit` checks both.
            "Sid": "ReadKeyConfiguration",
            "Effect": "Allow",
            "Action": list(KEY_CONFIG_READ_ACTIONS),
            "Resource": [key_arn, f"arn:aws:kms:{cfg.region}:{cfg.data_account_id}:key/*"],
        },
        {
            # Every bucket's configuration, not only the site's: a bucket made by
            # hand is in the audit's scope. Configuration only; objects are not.
            "Sid": "ReadBucketConfiguration",
            "Effect": "Allow",
            "Action": list(BUCKET_CONFIG_READ_ACTIONS),
            "Resource": "arn:aws:s3:::*",
        },
        {
            "Sid": "ReadSharingOfCopies",
            "Effect": "Allow",
            "Action": list(COPY_SHARING_READ_ACTIONS),
            "Resource": [f"arn:aws:ec2:{cfg.region}::snapshot/*", f"arn:aws:ec2:{cfg.region}::image/*"],
        },
        {
            "Sid": "ReadSecretConfiguration",
            "Effect": "Allow",
            "Action": list(SECRET_CONFIG_READ_ACTIONS),
            "Resource": f"arn:aws:secretsmanager:{cfg.region}:{cfg.data_account_id}:secret:*",
        },
        {
            "Sid": "ReadDnsFirewallRules",
            "Effect": "Allow",
            "Action": list(RESOLVER_RULE_READ_ACTIONS),
            "Resource": f"arn:aws:route53resolver:{cfg.region}:{cfg.data_account_id}:*",
        },
        {
            "Sid": "ReadSsmDocumentSharingSetting",
            "Effect": "Allow",
            "Action": list(SSM_SETTING_READ_ACTIONS),
            "Resource": f"arn:aws:ssm:{cfg.region}:{cfg.data_account_id}:servicesetting{SSM_PUBLIC_SHARING_SETTING}",
        },
    ]


def configuration_read_actions(cfg: SiteConfig, key_arn: pulumi.Input[str]) -> list[str]:
    """Every action ``configuration_read_statements`` grants, once each, sorted."""
    return sorted({a for s in configuration_read_statements(cfg, key_arn) for a in _listed(s["Action"])})


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


def audit_log_read_statements(cfg: SiteConfig, key_arn: pulumi.Input[str]) -> list[dict[str, Any]]:
    """The auditor reads the audit-log bucket and decrypts only its objects (trail files, flow and DNS logs)."""
    return [
        {
            "Sid": "ReadAuditLogObjects",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{cfg.bucket_arn('audit-logs')}/*",
        },
        {
            "Sid": "ListAuditLogBucket",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": cfg.bucket_arn("audit-logs"),
        },
        {
            "Sid": "DecryptCloudTrailLogFilesOnly",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {
                "StringEquals": {CLOUDTRAIL_CONTEXT: cfg.trail_arn, "kms:ViaService": _via_services(cfg, "s3")}
            },
        },
        {
            # Flow logs in the audit bucket carry the bucket as S3 encryption
            # context (no trail context): the auditor must read them too.
            "Sid": "DecryptAuditBucketObjects",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": _via_services(cfg, "s3")},
                "StringLike": {S3_CONTEXT: audit_bucket_context(cfg)},
            },
        },
    ]


def auditor_data_denies(cfg: SiteConfig) -> list[dict[str, Any]]:
    """What the auditor may never do, whatever is allowed: read user data, exports or the pepper, decrypt other data."""
    return [
        {
            "Sid": "DenyUserDataObjects",
            "Effect": "Deny",
            "Action": "s3:GetObject*",
            "Resource": [f"{cfg.bucket_arn('user-data')}/*", f"{cfg.bucket_arn(EXPORTS)}/*"],
        },
        {
            "Sid": "DenySecretValues",
            "Effect": "Deny",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        },
        {
            # Both conditions must hold to deny: neither a trail file nor an
            # object of the audit bucket (user data carries its own bucket's ARN).
            "Sid": "DenyDecryptOutsideAuditLogs",
            "Effect": "Deny",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {
                "Null": {CLOUDTRAIL_CONTEXT: "true"},
                "StringNotLike": {S3_CONTEXT: audit_bucket_context(cfg)},
            },
        },
    ]


def permissions_boundary_policy(cfg: SiteConfig, key_arn: pulumi.Input[str]) -> dict[str, Any]:
    """The cap on the site's data roles (workload, staff-access): at most what they need, never another region or a copy out."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AtMostUserDataObjects",
                "Effect": "Allow",
                "Action": list(DATA_OBJECT_ACTIONS),
                "Resource": f"{cfg.bucket_arn('user-data')}/*",
            },
            {
                "Sid": "AtMostListUserData",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": cfg.bucket_arn("user-data"),
            },
            {
                "Sid": "AtMostOperatorKeyViaSiteServices",
                "Effect": "Allow",
                "Action": list(KEY_USE_ACTIONS),
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": _via_services(cfg, "s3", "secretsmanager")}},
            },
            {
                "Sid": "AtMostPepperRead",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": pepper_secret_arn_pattern(cfg),
            },
            *boundary_export_statements(cfg),
            {
                "Sid": "DenyOutsideSiteRegion",
                "Effect": "Deny",
                "NotAction": list(GLOBAL_SERVICE_ACTIONS),
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": cfg.region}},
            },
            {
                "Sid": "DenyTransferOut",
                "Effect": "Deny",
                "Action": list(TRANSFER_OUT_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "DenyAuditTampering",
                "Effect": "Deny",
                "Action": list(AUDIT_TAMPER_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "DenyObjectWritesToOtherAccounts",
                "Effect": "Deny",
                "Action": list(CROSS_ACCOUNT_WRITE_ACTIONS),
                "Resource": "*",
                "Condition": {"StringNotEquals": {"s3:ResourceAccount": cfg.data_account_id}},
            },
        ],
    }


def auditor_boundary_policy(cfg: SiteConfig, key_arn: pulumi.Input[str]) -> dict[str, Any]:
    """The cap on the auditor role: configuration reads and the audit log, nothing else, metadata only elsewhere.

    It allows only reads (no write can be granted under it), denies user data,
    exports, secret values and every decrypt but the audit log's, and outside
    the site's region leaves only the read-only inventory and the global reads.
    """
    return {
        "Version": VERSION,
        "Statement": [
            {
                # The auditor policy's configuration reads, each scoped there to the site's
                # resources; one statement here keeps the boundary under IAM's 6,144 characters.
                "Sid": "AtMostConfigurationReads",
                "Effect": "Allow",
                "Action": configuration_read_actions(cfg, key_arn),
                "Resource": "*",
            },
            *audit_log_read_statements(cfg, key_arn),
            *auditor_data_denies(cfg),
            {
                "Sid": "DenyOutsideSiteRegionButMetadataReads",
                "Effect": "Deny",
                "NotAction": list(ANY_REGION_READ_ACTIONS),
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": cfg.region}},
            },
        ],
    }


def workload_trust_policy(cfg: SiteConfig) -> dict[str, Any]:
    """In-site compute of the data account (ECS tasks, EC2 instances) may assume the workload role."""
    account = {"aws:SourceAccount": cfg.data_account_id}
    return {
        "Version": VERSION,
        "Statement": [
            {
                # Confused-deputy guard: only on behalf of the data account's own tasks.
                "Sid": "InSiteEcsTasks",
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": account},
            },
            {
                # EC2 does not promise aws:SourceAccount when it assumes an instance
                # profile's role; IfExists keeps the guard where the key is sent without
                # locking instances out. Passing the role to an instance needs
                # iam:PassRole in the data account itself, which no site role has.
                "Sid": "InSiteEc2Instances",
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEqualsIfExists": account},
            },
        ],
    }


def workload_policy(cfg: SiteConfig, key_arn: pulumi.Input[str], s3_endpoint_id: pulumi.Input[str]) -> dict[str, Any]:
    """The workload reads and writes user data only through the site's S3 endpoint, and reads the pepper."""
    endpoint = {"StringEquals": {"aws:SourceVpce": s3_endpoint_id}}
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "UserDataObjectsThroughSiteEndpoint",
                "Effect": "Allow",
                "Action": list(DATA_OBJECT_ACTIONS),
                "Resource": f"{cfg.bucket_arn('user-data')}/*",
                "Condition": endpoint,
            },
            {
                "Sid": "ListUserDataThroughSiteEndpoint",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": cfg.bucket_arn("user-data"),
                "Condition": endpoint,
            },
            {
                "Sid": "OperatorKeyViaS3AndSecretsManager",
                "Effect": "Allow",
                "Action": list(KEY_USE_ACTIONS),
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": _via_services(cfg, "s3", "secretsmanager")}},
            },
            {
                "Sid": "ReadPseudonymPepper",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": pepper_secret_arn_pattern(cfg),
            },
            *workload_export_statements(cfg, s3_endpoint_id),
        ],
    }


def staff_access_trust_policy(cfg: SiteConfig) -> dict[str, Any]:
    """Nobody may assume the staff-access role but under a grant in force: its principal, ticket, MFA and window.

    With no grant in force the trust is one Deny for everyone (components/grants.py).
    """
    return staff_trust_policy(cfg.staff_grants_in_force, cfg.region)


def staff_access_policy(cfg: SiteConfig, key_arn: pulumi.Input[str]) -> dict[str, Any]:
    """A staff session reads and writes user data only while its ticket's grant is in force; decrypts through S3.

    The window is checked again on every request, so a session assumed just
    before a grant ends cannot outlast it (a session lasts up to an hour).
    """
    statements: list[dict[str, Any]] = []
    for grant in cfg.staff_grants_in_force:
        condition = ticket_window_condition(grant)
        statements += [
            {
                "Sid": f"{grant.sid}UserDataObjects",
                "Effect": "Allow",
                "Action": list(DATA_OBJECT_ACTIONS),
                "Resource": f"{cfg.bucket_arn('user-data')}/*",
                "Condition": condition,
            },
            {
                "Sid": f"{grant.sid}ListUserData",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": cfg.bucket_arn("user-data"),
                "Condition": condition,
            },
        ]
    statements.append(
        {
            "Sid": "OperatorKeyViaS3",
            "Effect": "Allow",
            "Action": list(KEY_USE_ACTIONS),
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": _via_services(cfg, "s3")}},
        }
    )
    return {"Version": VERSION, "Statement": statements}


def auditor_trust_policy(cfg: SiteConfig) -> dict[str, Any]:
    """The security firm's account may assume the auditor role, only with the agreed external id."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AuditorAccountWithExternalId",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{cfg.auditor_account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": cfg.auditor_external_id}},
            }
        ],
    }


def auditor_policy(cfg: SiteConfig, key_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Read configuration and the audit log; explicitly never user data, never the key outside the audit log."""
    return {
        "Version": VERSION,
        "Statement": [
            *configuration_read_statements(cfg, key_arn),
            *audit_log_read_statements(cfg, key_arn),
            *auditor_data_denies(cfg),
        ],
    }


@dataclass(frozen=True)
class SecurityGatesArgs:
    """Inputs of ``SecurityGates``."""

    config: SiteConfig
    """The validated site configuration."""
    provider: aws.Provider
    """The data-account provider (``SiteProviders.data``)."""
    key_arn: pulumi.Input[str]
    """ARN of the operator-held KMS key (``OperatorKey.key_arn``)."""
    s3_endpoint_id: pulumi.Input[str]
    """Id of the site's S3 interface endpoint (``IsolatedNetwork.s3_endpoint_id``)."""


class SecurityGates(pulumi.ComponentResource):
    """The site's IAM: two permissions boundaries and the workload, staff-access and auditor roles.

    Every role carries a boundary, so whatever a later inline policy grants, no
    data role can act in another region, replicate or copy data out, or tamper
    with the audit trail, and the auditor can only read configuration and the
    audit log (and, outside the site's region, list what is there).
    """

    workload_role_arn: pulumi.Output[str]
    """Role of the in-site services."""
    staff_access_role_arn: pulumi.Output[str]
    """Role staff assume under a grant in force (MFA, the grant's ticket, one hour per session)."""
    auditor_role_arn: pulumi.Output[str]
    """Role the external security firm assumes (external id)."""
    permissions_boundary_arn: pulumi.Output[str]
    """Managed policy attached as the boundary of the data roles (workload, staff-access)."""
    auditor_boundary_arn: pulumi.Output[str]
    """Managed policy attached as the boundary of the auditor role: reads only."""

    def __init__(self, name: str, args: SecurityGatesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("enclave:gates:SecurityGates", name, None, opts)
        self._name = name
        self._args = args
        cfg = args.config

        boundary = self._create_boundary(
            "boundary", "data roles: site region only, no transfer out", permissions_boundary_policy
        )
        auditor_boundary = self._create_boundary(
            "auditor-boundary", "auditor: configuration reads, never data", auditor_boundary_policy
        )
        self.permissions_boundary_arn = boundary.arn
        self.auditor_boundary_arn = auditor_boundary.arn

        workload = self._create_role(
            "workload",
            "In-site services of the enclave: user data only through the site's S3 endpoint",
            workload_trust_policy(cfg),
            workload_policy(cfg, args.key_arn, args.s3_endpoint_id),
            boundary,
        )
        staff = self._create_role(
            "staff-access",
            "Staff under a reviewed, time-boxed grant: MFA and the grant's ticket, one hour per session; every use is in CloudTrail",
            staff_access_trust_policy(cfg),
            staff_access_policy(cfg, args.key_arn),
            boundary,
            max_session_duration=STAFF_SESSION_SECONDS,
        )
        auditor = self._create_role(
            "auditor",
            "External security firm: read-only configuration and audit logs, never user data",
            auditor_trust_policy(cfg),
            auditor_policy(cfg, args.key_arn),
            auditor_boundary,
        )
        self.workload_role_arn = workload.arn
        self.staff_access_role_arn = staff.arn
        self.auditor_role_arn = auditor.arn

        self.register_outputs(
            {
                "workload_role_arn": self.workload_role_arn,
                "staff_access_role_arn": self.staff_access_role_arn,
                "auditor_role_arn": self.auditor_role_arn,
                "permissions_boundary_arn": self.permissions_boundary_arn,
                "auditor_boundary_arn": self.auditor_boundary_arn,
            }
        )

    def _child_opts(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider)

    def _create_boundary(self, suffix: str, what: str, document: Any) -> aws.iam.Policy:
        """The managed policy ``enclave-<site>-<suffix>``, from ``document(cfg, key_arn)``."""
        cfg = self._args.config
        return aws.iam.Policy(
            f"{self._name}-{suffix}",
            name=f"{cfg.name_prefix}-{suffix}",
            description=f"Permissions boundary of the {cfg.name_prefix} {what}",
            policy=pulumi.Output.json_dumps(document(cfg, self._args.key_arn)),
            opts=self._child_opts(),
        )

    def _create_role(
        self,
        role: str,
        description: str,
        trust: dict[str, Any],
        policy: dict[str, Any],
        boundary: aws.iam.Policy,
        max_session_duration: int | None = None,
    ) -> aws.iam.Role:
        """One role with its trust policy, the boundary and a single inline policy."""
        cfg = self._args.config
        created = aws.iam.Role(
            f"{self._name}-{role}",
            name=cfg.role_name(role),
            description=description,
            assume_role_policy=pulumi.Output.json_dumps(trust),
            permissions_boundary=boundary.arn,
            max_session_duration=max_session_duration,
            opts=self._child_opts(),
        )
        aws.iam.RolePolicy(
            f"{self._name}-{role}-policy",
            name=f"{cfg.role_name(role)}-access",
            role=created.name,
            policy=pulumi.Output.json_dumps(policy),
            opts=self._child_opts(),
        )
        return created
