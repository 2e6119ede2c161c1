"""A compliant enclave estate built with boto3, for tests against in-process moto.

The estate mirrors what the program deploys, with the program's own documents
(``components.*``'s pure policy functions for the same config): the
operator-held single-region key and its key policy; three buckets with SSE-KMS,
public access blocks, ACLs off and the program's bucket policies; Object Lock
on the audit bucket; a VPC with no way out, the five interface endpoints with
their policies, a flow log of all traffic, Resolver query logging and the DNS
Firewall; the account-level blocks; a logging single-region trail with data
events, encrypted with the operator key; the three roles with the program's
trust policies under the program's boundary; the pepper secret and its policy.

Accounts are separated inside moto: each ``AccountSession`` acts in one account
(``MOTO_ACCOUNT_ID`` must stay unset: it would override every client's account),
and ``assume`` gives an account's assumed-role credentials for the CLI tests.
What moto does not implement (DNS Firewall, the EC2 account-level blocks) is
answered by ``tests.aws_unmodelled``, imported first so every client has it.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
import botocore.loaders
import botocore.session
import moto.core.responses
import moto.core.utils
import moto.kms.models
import moto.kms.utils
import moto.organizations.utils
from moto import mock_aws

from components.account_guardrails import SSM_PUBLIC_SHARING_SETTING
from components.audit_trail import DNS_QUERY_LOG_PREFIX, audit_log_bucket_policy
from components.config import PROJECT, SiteConfig, site_config_from_mapping
from components.dns_firewall import ALLOW_PRIORITY, ASSOCIATION_PRIORITY, BLOCK_ALL, BLOCK_PRIORITY, allowed_domains
from components.isolated_network import ENDPOINT_POLICIES, ENDPOINT_SERVICES
from components.operator_key import operator_key_policy
from components.pseudonym_secret import pepper_secret_policy
from components.regional_storage import ACCESS_LOG_PREFIX, data_bucket_policy, log_bucket_policy
from components.security_gates import (
    auditor_boundary_policy,
    auditor_policy,
    auditor_trust_policy,
    permissions_boundary_policy,
    staff_access_policy,
    staff_access_trust_policy,
    workload_policy,
    workload_trust_policy,
)
from components.transfer_export import (
    EXPORTS,
    export_bucket_policy,
    export_key_alias,
    export_key_policy,
    export_resource_names,
)
from guardrails.config import SITE_PROGRAM_DIR, GuardrailsConfig, guardrails_config_from_mapping, read_site_stack_values
from guardrails.organization_guardrails import policy_documents
from guardrails.service_control import compact_json
from tests import aws_unmodelled  # noqa: I001  (before any boto3 session exists: it hooks every client)

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}


# Test clients are made once per process and shared: each new client costs about
# 25 ms and each new session re-reads the service models (about 1 s for EC2).
# moto intercepts every client created after it is imported, whichever test
# made it; a client acts in the account named by moto's ``x-moto-account-id``
# request header (the CLI tests use assumed-role credentials instead, as AWS would).
_SHARED = boto3.Session()
_CLIENTS: dict[tuple[str, str, str], Any] = {}


class AccountSession:
    """The subset of ``boto3.Session`` the audit uses, acting in one account of moto."""

    def __init__(self, region: str, account: str):
        self.region_name = region
        self.account = account

    def client(self, service: str, region_name: str | None = None) -> Any:
        key = (self.account, service, region_name or self.region_name)
        if key not in _CLIENTS:
            _CLIENTS[key] = self.new_client(service, region_name)
        return _CLIENTS[key]

    def new_client(self, service: str, region_name: str | None = None) -> Any:
        """A client of its own (for a test that registers event handlers on it)."""
        client = _SHARED.client(service, region_name=region_name or self.region_name, **_lower(FAKE_CREDENTIALS))
        client.meta.events.register("before-sign", functools.partial(_pin_account, self.account))
        client.meta.events.register("before-parameter-build", functools.partial(_pin_context, self.account))
        return client


class Answering(AccountSession):
    """An ``AccountSession`` whose clients answer some calls themselves (AWS refusing them, for instance).

    Each rule is (service, region or None for any, botocore event such as
    ``before-call.s3.GetBucketReplication``, the handler that answers it).
    """

    def __init__(self, region: str, account: str, *rules: tuple[str, str | None, str, Any]):
        super().__init__(region, account)
        self.rules = rules

    def client(self, service: str, region_name: str | None = None) -> Any:
        region = region_name or self.region_name
        answers = [(event, answer) for s, r, event, answer in self.rules if s == service and r in (None, region)]
        if not answers:
            return super().client(service, region_name)
        client = self.new_client(service, region_name)
        for event, answer in answers:
            client.meta.events.register(event, answer)
        return client


def _pin_account(account: str, request: Any, **_: Any) -> None:
    request.headers["x-moto-account-id"] = account


def _pin_context(account: str, context: dict, **_: Any) -> None:
    context[aws_unmodelled.ACCOUNT_CONTEXT_KEY] = account


def assume(cfg: SiteConfig, role_arn: str) -> dict[str, str]:
    """Credentials of ``role_arn``'s account (moto acts in the account of an assumed role)."""
    sts = _SHARED.client("sts", region_name=cfg.region, **_lower(FAKE_CREDENTIALS))
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="estate")["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def _lower(env: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in env.items()}


def session_for(cfg: SiteConfig, role_arn: str) -> AccountSession:
    return AccountSession(cfg.region, role_arn.split(":")[4])


def staff_trust(cfg: SiteConfig) -> dict:
    """The program's staff-access trust policy (a fresh copy a drift may change)."""
    return copy.deepcopy(staff_access_trust_policy(cfg))


RECIPIENT = "777777777777"
"""A transfer recipient outside the site (the drifts' stranger is another account: 999999999999)."""


def config_with_grants(values: dict[str, Any]) -> SiteConfig:
    """The stack's config with a staff grant and a transfer grant in force now, as a deployed site would carry.

    The windows are around the real clock: the audit judges what is deployed now.
    """
    from datetime import UTC, datetime, timedelta

    from components.clock import format_utc

    now = datetime.now(UTC).replace(microsecond=0)
    staff = values[f"{PROJECT}:staffPrincipals"]
    principal = (json.loads(staff) if isinstance(staff, str) else staff)[0]
    grants = {
        f"{PROJECT}:platformApproverDomains": json.dumps(["platform.example"]),
        f"{PROJECT}:staffAccessGrants": json.dumps(
            [
                {
                    "principal": principal,
                    "ticket": "PRIV-1234",
                    "approver": "dana.lead@platform.example",
                    "reason": "Investigate abuse report 5521 on a user's uploads",
                    "notBefore": format_utc(now - timedelta(hours=1)),
                    "notAfter": format_utc(now + timedelta(hours=6)),
                }
            ]
        ),
        f"{PROJECT}:transferGrants": json.dumps(
            [
                {
                    "recipientAccountId": RECIPIENT,
                    "prefix": "exports/acme-research/",
                    "legalBasis": "SCC",
                    "approver": "erik.dpo@platform.example",
                    "ticket": "XFER-77",
                    "notBefore": format_utc(now - timedelta(days=1)),
                    "notAfter": format_utc(now + timedelta(days=20)),
                    "reason": "Pseudonymised watch histories for the recommender study",
                }
            ]
        ),
    }
    return site_config_from_mapping({**values, **grants}, now=now)


ROLE_TRUST = {
    "workload": workload_trust_policy,
    "staff-access": staff_access_trust_policy,
    "auditor": auditor_trust_policy,
}

ROLE_POLICY = {
    "workload": workload_policy,
    "staff-access": lambda cfg, key_arn, _endpoint: staff_access_policy(cfg, key_arn),
    "auditor": lambda cfg, key_arn, _endpoint: auditor_policy(cfg, key_arn),
}
"""Each program role's inline policy (``<role>-access``), from the program's documents."""

ALL_ON = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@dataclass
class Estate:
    """Handles the drift tests need."""

    cfg: SiteConfig
    data: AccountSession
    operator: AccountSession
    key_arn: str
    vpc_id: str
    subnet_id: str
    workload_sg: str
    endpoint_ids: dict[str, str]
    boundary_arn: str
    secret_arn: str
    flow_log_id: str
    firewall: dict[str, str]
    """Ids of the DNS Firewall: allowed and blocked domain lists, rule group, association."""
    export_key_arn: str
    """The operator-held export key (alias ``enclave-<site>-export``)."""
    guardrails: GuardrailsConfig
    """The site's guardrails stack config (``guardrails/Pulumi.<stack>.yaml``), for this config."""
    policy_ids: dict[str, str]
    """Organizations policy id of each guardrail, by name (``enclave-<site>-<name>``)."""
    buckets: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint_id(self) -> str:
        """The S3 interface endpoint (the user-data bucket's aws:SourceVpce)."""
        return self.endpoint_ids["s3"]

    def client(self, service: str, operator: bool = False, region: str | None = None) -> Any:
        return (self.operator if operator else self.data).client(service, region)

    @property
    def management(self) -> AccountSession:
        """The organization's management account (the operator runs the guardrails from it)."""
        return AccountSession(self.cfg.region, self.guardrails.management_account_id)


def guardrails_for(cfg: SiteConfig) -> GuardrailsConfig:
    """The guardrails stack config of ``cfg``'s site, read as the guardrails project reads it, for ``cfg`` itself."""
    stack = cfg.site
    values = read_site_stack_values(stack, SITE_PROGRAM_DIR / "guardrails")
    return dataclasses.replace(guardrails_config_from_mapping(values, read_site_stack_values(stack)), site=cfg)


def build_estate(cfg: SiteConfig, *, delegated: bool = True, feature_set: str = "ALL") -> Estate:
    """Create the compliant site in moto; call inside ``mock_aws``.

    The data account is a member of the guardrails' organization with the site's
    SCPs and RCPs attached; ``delegated``: the management account's delegation
    policy lets the data account read them (else AWS shows them to nobody inside).
    """
    data = session_for(cfg, cfg.deployment_role_arn)
    operator = session_for(cfg, cfg.operator_role_arn)
    key_arn = _create_key(cfg, operator, operator_key_policy(cfg), cfg.key_alias)
    export_key_arn = _create_key(
        cfg, operator, export_key_policy(cfg, cfg.transfer_grants_in_force), export_key_alias(cfg)
    )
    buckets = _create_buckets(cfg, data, key_arn, export_key_arn)
    vpc_id, subnet_id, workload_sg, endpoint_ids = _create_network(cfg, data)
    _put_bucket_policies(cfg, data, key_arn, export_key_arn, endpoint_ids["s3"])
    flow_log_id = _create_logging(cfg, data, key_arn, vpc_id)
    firewall = _create_dns_firewall(cfg, data, vpc_id)
    _block_account_level(cfg, data)
    boundary_arn = _create_roles(cfg, data, key_arn, endpoint_ids["s3"])
    guardrails = guardrails_for(cfg)
    policy_ids = _create_organization(cfg, guardrails, delegated, feature_set)
    sm = data.client("secretsmanager")
    secret_arn = sm.create_secret(
        Name=f"{cfg.name_prefix}-pseudonym-pepper", KmsKeyId=key_arn, SecretBinary=b"\x00" * 32
    )["ARN"]
    sm.put_resource_policy(
        SecretId=secret_arn,
        ResourcePolicy=json.dumps(pepper_secret_policy(cfg, cfg.role_arn("workload"))),
        BlockPublicPolicy=True,
    )
    return Estate(
        cfg=cfg,
        data=data,
        operator=operator,
        key_arn=key_arn,
        vpc_id=vpc_id,
        subnet_id=subnet_id,
        workload_sg=workload_sg,
        endpoint_ids=endpoint_ids,
        boundary_arn=boundary_arn,
        secret_arn=secret_arn,
        flow_log_id=flow_log_id,
        firewall=firewall,
        export_key_arn=export_key_arn,
        guardrails=guardrails,
        policy_ids=policy_ids,
        buckets=buckets,
    )


PIPELINE_PROVIDER = "token.actions.githubusercontent.com"


def pipeline_trust(cfg: SiteConfig) -> dict:
    """The deployment role's trust: the reviewed pipeline's web identity (its protected branch), from outside."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReviewedPipelineOnly",
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{cfg.data_account_id}:oidc-provider/{PIPELINE_PROVIDER}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{PIPELINE_PROVIDER}:aud": "sts.amazonaws.com",
                        f"{PIPELINE_PROVIDER}:sub": "repo:platform/eu-data-enclave:ref:refs/heads/main",
                    }
                },
            }
        ],
    }


def delegation_policy(cfg: SiteConfig) -> dict:
    """The management account's resource-based delegation policy: the data account may read the guardrails."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AuditorReadsTheGuardrails",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{cfg.data_account_id}:root"},
                "Action": [
                    "organizations:DescribeOrganization",
                    "organizations:DescribePolicy",
                    "organizations:ListParents",
                    "organizations:ListPoliciesForTarget",
                ],
                "Resource": "*",
            }
        ],
    }


def _create_organization(cfg: SiteConfig, guardrails: GuardrailsConfig, delegated: bool, feature_set: str) -> dict:
    """The organization, the data account in it, and the guardrails program's policies attached to it.

    AWS assigns the organization's and a new account's ids; moto draws random
    ones, so the estate pins them to the ids the stack configs record.
    """
    orgs = AccountSession(cfg.region, guardrails.management_account_id).client("organizations")
    with mock.patch.object(moto.organizations.utils, "make_random_org_id", lambda: guardrails.organization_id):
        orgs.create_organization(FeatureSet=feature_set)
    root = orgs.list_roots()["Roots"][0]["Id"]
    if feature_set == "ALL":
        for kind in ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"):
            orgs.enable_policy_type(RootId=root, PolicyType=kind)
    with mock.patch.object(moto.organizations.utils, "make_random_account_id", lambda: cfg.data_account_id):
        orgs.create_account(AccountName=f"{cfg.name_prefix}-data", Email=f"{cfg.name_prefix}-data@operator.example")
    ids = {}
    for name, (kind, description, document) in policy_documents(cfg).items():
        ids[name] = orgs.create_policy(Name=name, Type=kind, Description=description, Content=compact_json(document))[
            "Policy"
        ]["PolicySummary"]["Id"]
        if feature_set == "ALL":  # AWS refuses an SCP or RCP attachment otherwise
            orgs.attach_policy(PolicyId=ids[name], TargetId=guardrails.target_id)
    if delegated:
        orgs.put_resource_policy(Content=json.dumps(delegation_policy(cfg)))
    return ids


def _create_key(cfg: SiteConfig, operator: AccountSession, policy: dict, alias: str) -> str:
    kms = operator.client("kms")
    key_arn = kms.create_key(Description=f"{cfg.name_prefix} {alias}", MultiRegion=False, Policy=json.dumps(policy))[
        "KeyMetadata"
    ]["Arn"]
    kms.enable_key_rotation(KeyId=key_arn)
    kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
    return key_arn


def _create_buckets(cfg: SiteConfig, data: AccountSession, key_arn: str, export_key_arn: str) -> dict[str, str]:
    s3 = data.client("s3")
    buckets = {}
    for role in ("user-data", "access-logs", "audit-logs", EXPORTS):
        name = cfg.bucket_name(role)
        buckets[role] = name
        s3.create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": cfg.region},
            ObjectLockEnabledForBucket=role == "audit-logs",
        )
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": export_key_arn if role == EXPORTS else key_arn,
                        },
                        # The export bucket keeps each object's ARN as its encryption context.
                        "BucketKeyEnabled": role != EXPORTS,
                    }
                ]
            },
        )
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=ALL_ON)
        s3.put_bucket_ownership_controls(
            Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        )
    s3.put_object_lock_configuration(
        Bucket=buckets["audit-logs"],
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": cfg.audit_log_retention_days}},
        },
    )
    return buckets


def _put_bucket_policies(
    cfg: SiteConfig, data: AccountSession, key_arn: str, export_key_arn: str, s3_endpoint: str
) -> None:
    policies = {
        "user-data": data_bucket_policy(cfg, cfg.bucket_arn("user-data"), key_arn, s3_endpoint),
        "access-logs": log_bucket_policy(cfg, cfg.bucket_arn("access-logs"), cfg.bucket_arn("user-data")),
        "audit-logs": audit_log_bucket_policy(cfg),
        EXPORTS: export_bucket_policy(cfg, export_key_arn, s3_endpoint, cfg.transfer_grants_in_force),
    }
    s3 = data.client("s3")
    # moto 5.2.5 checks that the target admits the log service at PutBucketLogging, reading every
    # statement's Principal as a map (it fails on "*"): the program's log-service statements go first.
    service_only = [s for s in policies["access-logs"]["Statement"] if isinstance(s.get("Principal"), dict)]
    s3.put_bucket_policy(Bucket=cfg.bucket_name("access-logs"), Policy=json.dumps({"Statement": service_only}))
    s3.put_bucket_logging(
        Bucket=cfg.bucket_name("user-data"),
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": cfg.bucket_name("access-logs"), "TargetPrefix": ACCESS_LOG_PREFIX}
        },
    )
    for role, policy in policies.items():
        s3.put_bucket_policy(Bucket=cfg.bucket_name(role), Policy=json.dumps(policy))


def _create_network(cfg: SiteConfig, data: AccountSession) -> tuple[str, str, str, dict[str, str]]:
    ec2 = data.client("ec2")
    # moto, like a new AWS account, starts every region with a default VPC whose ACL and
    # security group allow all egress (AWS also attaches an internet gateway); a site
    # account has it deleted (docs/bootstrap-and-audit.md).
    for vpc in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
        _delete_default_vpc(ec2, vpc["VpcId"])
    vpc_id = ec2.create_vpc(CidrBlock=cfg.vpc_cidr)["Vpc"]["VpcId"]
    subnet_cidr = cfg.vpc_cidr.replace(".0.0/16", ".1.0/24")
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=subnet_cidr, AvailabilityZone=cfg.availability_zones[0])[
        "Subnet"
    ]["SubnetId"]
    for acl in ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkAcls"]:
        for entry in acl["Entries"]:
            if entry["RuleNumber"] != 32767 and entry["RuleAction"] == "allow":
                ec2.delete_network_acl_entry(
                    NetworkAclId=acl["NetworkAclId"], RuleNumber=entry["RuleNumber"], Egress=entry["Egress"]
                )
        for egress in (True, False):
            ec2.create_network_acl_entry(
                NetworkAclId=acl["NetworkAclId"],
                RuleNumber=100,
                Protocol="-1",
                RuleAction="allow",
                Egress=egress,
                CidrBlock=cfg.vpc_cidr,
            )
    default_sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]
    _revoke_all_egress(ec2, default_sg)
    workload_sg = ec2.create_security_group(GroupName="workload", Description="workload", VpcId=vpc_id)["GroupId"]
    endpoints_sg = ec2.create_security_group(GroupName="endpoints", Description="endpoints", VpcId=vpc_id)["GroupId"]
    for sg in (workload_sg, endpoints_sg):
        _revoke_all_egress(ec2, ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0])
    ec2.authorize_security_group_egress(
        GroupId=workload_sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": endpoints_sg}]}
        ],
    )
    endpoint_ids = {
        service: ec2.create_vpc_endpoint(
            VpcId=vpc_id,
            ServiceName=f"com.amazonaws.{cfg.region}.{service}",
            VpcEndpointType="Interface",
            SubnetIds=[subnet_id],
            SecurityGroupIds=[endpoints_sg],
            PolicyDocument=json.dumps(ENDPOINT_POLICIES[service](cfg)),
        )["VpcEndpoint"]["VpcEndpointId"]
        for service in ENDPOINT_SERVICES
    }
    return vpc_id, subnet_id, workload_sg, endpoint_ids


def _create_logging(cfg: SiteConfig, data: AccountSession, key_arn: str, vpc_id: str) -> str:
    audit_bucket = cfg.bucket_name("audit-logs")
    trail = data.client("cloudtrail")
    trail.create_trail(
        Name=cfg.trail_name,
        S3BucketName=audit_bucket,
        IsMultiRegionTrail=False,
        EnableLogFileValidation=True,
        IncludeGlobalServiceEvents=False,
        KmsKeyId=key_arn,
    )
    trail.put_event_selectors(TrailName=cfg.trail_name, EventSelectors=[data_event_selector(cfg)])
    trail.start_logging(Name=cfg.trail_name)
    # The program delivers under vpc-flow-logs/; moto 5.2.5 refuses an S3 destination with a
    # key prefix (it looks up "bucket/prefix" as a bucket name), so the estate names the bucket.
    flow_log_id = data.client("ec2").create_flow_logs(
        ResourceIds=[vpc_id],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=cfg.bucket_arn("audit-logs"),
        MaxAggregationInterval=60,
    )["FlowLogIds"][0]
    resolver = data.client("route53resolver")
    config_id = resolver.create_resolver_query_log_config(
        Name=f"{cfg.name_prefix}-dns-query-logs",
        DestinationArn=f"{cfg.bucket_arn('audit-logs')}/{DNS_QUERY_LOG_PREFIX}",
        CreatorRequestId=f"{cfg.name_prefix}-dns-query-logs",
    )["ResolverQueryLogConfig"]["Id"]
    resolver.associate_resolver_query_log_config(ResolverQueryLogConfigId=config_id, ResourceId=vpc_id)
    return flow_log_id


def data_event_selector(cfg: SiteConfig) -> dict:
    """The program's trail selector: all management events, and data events on the user-data objects."""
    return {
        "ReadWriteType": "All",
        "IncludeManagementEvents": True,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"{cfg.bucket_arn('user-data')}/"]}],
    }


def _create_dns_firewall(cfg: SiteConfig, data: AccountSession, vpc_id: str) -> dict[str, str]:
    """The program's DNS Firewall (components/dns_firewall.py): its names, lists, priorities and settings."""
    resolver = data.client("route53resolver")
    ids = {}
    for name, domains in (("allowed", allowed_domains(cfg)), ("blocked", list(BLOCK_ALL))):
        list_name = f"{cfg.name_prefix}-dns-{'allowed' if name == 'allowed' else 'everything'}"
        ids[name] = resolver.create_firewall_domain_list(CreatorRequestId=list_name, Name=list_name)[
            "FirewallDomainList"
        ]["Id"]
        resolver.update_firewall_domains(FirewallDomainListId=ids[name], Operation="REPLACE", Domains=domains)
    ids["group"] = resolver.create_firewall_rule_group(
        CreatorRequestId=f"{cfg.name_prefix}-dns-firewall", Name=f"{cfg.name_prefix}-dns-firewall"
    )["FirewallRuleGroup"]["Id"]
    resolver.create_firewall_rule(
        CreatorRequestId="allow",
        FirewallRuleGroupId=ids["group"],
        FirewallDomainListId=ids["allowed"],
        Priority=ALLOW_PRIORITY,
        Action="ALLOW",
        FirewallDomainRedirectionAction="INSPECT_REDIRECTION_DOMAIN",
        Name=f"{cfg.name_prefix}-allow-site-aws-names",
    )
    resolver.create_firewall_rule(
        CreatorRequestId="block",
        FirewallRuleGroupId=ids["group"],
        FirewallDomainListId=ids["blocked"],
        Priority=BLOCK_PRIORITY,
        Action="BLOCK",
        BlockResponse="NXDOMAIN",
        Name=f"{cfg.name_prefix}-block-everything-else",
    )
    ids["association"] = resolver.associate_firewall_rule_group(
        CreatorRequestId=f"{cfg.name_prefix}-dns-firewall",
        FirewallRuleGroupId=ids["group"],
        VpcId=vpc_id,
        Priority=ASSOCIATION_PRIORITY,
        Name=f"{cfg.name_prefix}-dns-firewall",
        MutationProtection="ENABLED",
    )["FirewallRuleGroupAssociation"]["Id"]
    resolver.update_firewall_config(ResourceId=vpc_id, FirewallFailOpen="DISABLED")
    return ids


def _block_account_level(cfg: SiteConfig, data: AccountSession) -> None:
    ec2 = data.client("ec2")
    ec2.modify_vpc_block_public_access_options(InternetGatewayBlockMode="block-bidirectional")
    ec2.enable_snapshot_block_public_access(State="block-all-sharing")
    ec2.enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    ec2.enable_ebs_encryption_by_default()
    ec2.disable_serial_console_access()
    ec2.modify_instance_metadata_defaults(
        HttpTokens="required", HttpPutResponseHopLimit=1, HttpEndpoint="enabled", InstanceMetadataTags="disabled"
    )
    data.client("s3control").put_public_access_block(
        AccountId=cfg.data_account_id, PublicAccessBlockConfiguration=ALL_ON
    )
    data.client("ssm").update_service_setting(SettingId=SSM_PUBLIC_SHARING_SETTING, SettingValue="Disable")
    data.client("emr").put_block_public_access_configuration(
        BlockPublicAccessConfiguration={
            "BlockPublicSecurityGroupRules": True,
            "PermittedPublicSecurityGroupRuleRanges": [],
        }
    )


def _create_roles(cfg: SiteConfig, data: AccountSession, key_arn: str, s3_endpoint: str) -> str:
    iam = data.client("iam")
    boundaries = {
        suffix: iam.create_policy(
            PolicyName=f"{cfg.name_prefix}-{suffix}", PolicyDocument=json.dumps(document(cfg, key_arn))
        )["Policy"]["Arn"]
        for suffix, document in (
            ("boundary", permissions_boundary_policy),
            ("auditor-boundary", auditor_boundary_policy),
        )
    }
    for role, trust in ROLE_TRUST.items():
        iam.create_role(
            RoleName=cfg.role_name(role),
            AssumeRolePolicyDocument=json.dumps(trust(cfg)),
            PermissionsBoundary=boundaries["auditor-boundary" if role == "auditor" else "boundary"],
            MaxSessionDuration=3600,
        )
        iam.put_role_policy(
            RoleName=cfg.role_name(role),
            PolicyName=f"{cfg.role_name(role)}-access",
            PolicyDocument=json.dumps(ROLE_POLICY[role](cfg, key_arn, s3_endpoint)),
        )
    # The account's other roles: the deployment role, which only the reviewed pipeline reaches
    # (from outside), and the approved staff's own roles, which people of the data account
    # assume (in AWS typically through SSO).
    account_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{cfg.data_account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(
        RoleName=cfg.deployment_role_arn.split("/")[-1], AssumeRolePolicyDocument=json.dumps(pipeline_trust(cfg))
    )
    for arn in cfg.staff_principals:
        iam.create_role(RoleName=arn.split("/")[-1], AssumeRolePolicyDocument=json.dumps(account_only))
    return boundaries["boundary"]


def apply_program_documents(estate: Estate, run: Any) -> list[str]:
    """Put the documents the Pulumi program declares onto the estate; returns what was applied.

    ``run`` is the program evaluated offline (``enclave.harness.run_program``): its
    key policy, bucket policies, role trust policies, endpoint policies and network
    ACL egress rules replace the estate's own, so the audit is checked against what the
    program would really deploy (Outputs resolved as the engine resolves them).
    """
    s3, iam, ec2 = estate.client("s3"), estate.client("iam"), estate.client("ec2")
    applied = []
    # The estate has no export bucket or export key yet (components/transfer_export.py):
    # their documents are the program's own, checked in tests/test_grants_transfer.py.
    exports = set(export_resource_names(estate.cfg.name_prefix))
    for res in run.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        if res.name in exports:
            continue
        s3.put_bucket_policy(Bucket=res.inputs["bucket"], Policy=res.inputs["policy"])
        applied.append(res.urn)
    for res in run.of_type("aws:iam/role:Role"):
        iam.update_assume_role_policy(RoleName=res.inputs["name"], PolicyDocument=res.inputs["assumeRolePolicy"])
        applied.append(res.urn)
    for res in run.of_type("aws:kms/key:Key"):
        if res.name in exports:
            continue
        estate.client("kms", operator=True).put_key_policy(
            KeyId=estate.key_arn, PolicyName="default", Policy=res.inputs["policy"]
        )
        applied.append(res.urn)
    prefix = f"com.amazonaws.{estate.cfg.region}."
    for res in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"):
        service = res.inputs.get("serviceName", "").removeprefix(prefix)
        ec2.modify_vpc_endpoint(VpcEndpointId=estate.endpoint_ids[service], PolicyDocument=res.inputs["policy"])
        applied.append(res.urn)
    for res in run.of_type("aws:ec2/networkAcl:NetworkAcl"):
        acl = ec2.create_network_acl(VpcId=estate.vpc_id)["NetworkAcl"]["NetworkAclId"]
        for rule in res.inputs.get("egress", []):
            cidr = (
                {"CidrBlock": rule["cidrBlock"]} if rule.get("cidrBlock") else {"Ipv6CidrBlock": rule["ipv6CidrBlock"]}
            )
            ec2.create_network_acl_entry(
                NetworkAclId=acl,
                RuleNumber=int(rule["ruleNo"]),
                Protocol=rule["protocol"],
                RuleAction=rule["action"],
                Egress=True,
                **cidr,
            )
        applied.append(res.urn)
    return applied


def _revoke_all_egress(ec2: Any, group: dict) -> None:
    if group.get("IpPermissionsEgress"):
        ec2.revoke_security_group_egress(GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"])


def _delete_default_vpc(ec2: Any, vpc_id: str) -> None:
    flt = [{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    for igw in ec2.describe_internet_gateways(Filters=flt)["InternetGateways"]:
        ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)


def aws_environment(monkeypatch, tmp_path):
    """Fake credentials, no local AWS config, in-process moto (a fixture: ``pytest.fixture(aws_environment)``)."""
    for var in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        # It would override every assumed role's account inside moto.
        "MOTO_ACCOUNT_ID",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # The estate starts no instance; loading moto's AMI catalogue costs ~0.2 s per EC2 backend.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    aws_unmodelled.activate()
    # Speed only, behaviour unchanged: every boto3 session the commands create shares
    # one model loader (each would re-read the JSON models, ~0.3 s per command run),
    # moto's KMS reuses one private key per key spec (it generates one per
    # CreateKey, ~50 ms, used only by asymmetric operations the estate never calls),
    # and moto lists a response class's methods once, not on every request (~0.5 ms
    # each; an audit makes a few hundred).
    monkeypatch.setattr(botocore.session, "create_loader", _shared_loader)
    monkeypatch.setattr(moto.kms.models, "generate_private_key", _cached_private_key)
    monkeypatch.setattr(moto.core.responses, "method_names_from_class", _cached_method_names)
    try:
        with mock_aws():
            yield
    finally:
        aws_unmodelled.deactivate()


@functools.cache
def _shared_loader(search_paths: Any = None) -> Any:
    return botocore.loaders.create_loader(search_paths)


@functools.cache
def _cached_method_names(clazz: Any) -> list[str]:
    return moto.core.utils.method_names_from_class(clazz)


@functools.cache
def _cached_private_key(key_spec: str) -> Any:
    return moto.kms.utils.generate_private_key(key_spec)


def audit(estate: Estate, **kwargs: Any) -> list:
    """Every check against the estate, key policies read as the operator (``--operator-profile``)."""
    return audit_as(estate, estate.data, **kwargs)


def audit_as(estate: Estate, session: Any, **kwargs: Any) -> list:
    """Every check with ``session``'s credentials for the data account (the estate's guardrails config)."""
    from enclave.audit.checks import run_checks

    kwargs.setdefault("guardrails", estate.guardrails)
    return run_checks(estate.cfg, session, estate.cfg.data_account_id, estate.operator, **kwargs)


def failing(results: list) -> dict[str, list[list[str]]]:
    """Check id -> the resources of each failing result."""
    out: dict[str, list[list[str]]] = {}
    for r in results:
        if r.status == "fail":
            out.setdefault(r.id, []).append(r.resources)
    return out


NEAR_REGIONS = ("us-east-1",)
"""The other regions the audit inventories for a drift inside the site region.

The other-region family reads only other regions, so a drift in the site region
cannot change it; inventorying one region (where the tests' cross-region
resources land) instead of all 23 keeps each drift test about twice as fast.
Drifts into other regions, the compliant estate and the CLI use every region."""


def assert_drifts_fail_exactly(
    estate: Estate, drifts: list[tuple[str, Any, set[str]]], other_regions: tuple[str, ...] | None = NEAR_REGIONS
) -> dict[str, list[list[str]]]:
    """Apply every ``(name, drift, expected)`` to one estate (drifts that change different resources); one
    audit must fail exactly the union of what they expect, each expected check naming its drift's resource.
    The failures, for further assertions."""
    applied = [(name, drift(estate), expected) for name, drift, expected in drifts]
    failed = failing(audit(estate, other_regions=other_regions))
    assert set(failed) == {c for _, _, expected in applied for c in expected}
    for name, resource, expected in applied:
        for check_id in expected:
            assert any(resource in arn for resources in failed[check_id] for arn in resources), (
                f"{name}: {check_id} does not name {resource}: {failed[check_id]}"
            )
    return failed


def assert_fails_exactly(
    estate: Estate, drift: Any, expected: set[str], other_regions: tuple[str, ...] | None = NEAR_REGIONS
) -> None:
    """Apply ``drift``; the audit must fail exactly ``expected``, each result naming what it returned."""
    resource = drift(estate)
    failed = failing(audit(estate, other_regions=other_regions))
    assert set(failed) == expected
    for check_id, resource_lists in failed.items():
        assert any(resource in arn for resources in resource_lists for arn in resources), (
            f"{check_id} does not name {resource}: {resource_lists}"
        )


def replace_flow_log(estate: Estate, traffic: str) -> str:
    """A drift: the VPC's flow log replaced by one of ``traffic`` only (``ACCEPT`` or ``REJECT``); the VPC."""
    ec2 = estate.client("ec2")
    ec2.delete_flow_logs(FlowLogIds=[estate.flow_log_id])
    ec2.create_flow_logs(
        ResourceIds=[estate.vpc_id],
        ResourceType="VPC",
        TrafficType=traffic,
        LogDestinationType="s3",
        LogDestination=estate.cfg.bucket_arn("audit-logs"),
    )
    return estate.vpc_id


def lock_audit_logs(estate: Estate, mode: str, days: int) -> str:
    """A drift: the audit-logs bucket's default retention set to ``mode`` for ``days``; the bucket's ARN."""
    estate.client("s3").put_object_lock_configuration(
        Bucket=estate.buckets["audit-logs"],
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}},
        },
    )
    return estate.cfg.bucket_arn("audit-logs")


def access_denied(**_: Any) -> tuple:
    """A ``before-call`` answer: AWS refusing the call (as it answers a missing permission)."""
    from types import SimpleNamespace

    body = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    return SimpleNamespace(status_code=403, headers={}), body


def denied_by_scp(model: Any, **_: Any) -> tuple:
    """A ``before-call`` answer: a service control policy refusing the call, in AWS's enhanced message."""
    from types import SimpleNamespace

    action = f"{model.service_model.signing_name}:{model.name}"
    message = aws_unmodelled.scp_refusal("arn:aws:sts::111111111111:assumed-role/auditor/audit", action, "explicitDeny")
    body = {"Error": {"Code": "AccessDeniedException", "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    return SimpleNamespace(status_code=400, headers={}), body
