"""A compliant enclave estate built with boto3, for tests against in-process moto.

The estate mirrors what the program declares: operator-held single-region key,
three buckets with SSE-KMS, public access blocks and deny statements, Object
Lock on the audit bucket, a VPC without any way out and a restricted S3
endpoint, a logging single-region trail, the staff role's MFA + ticket trust,
the boundary on every site role, and the pepper secret without replicas.

Accounts are separated inside moto: each ``AccountSession`` acts in one account
(``MOTO_ACCOUNT_ID`` must stay unset: it would override every client's account),
and ``assume`` gives an account's assumed-role credentials for the CLI tests.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import moto.kms.models
import moto.kms.utils
from moto import mock_aws

from components.config import ACCESS_TICKET_TAG, SiteConfig
from components.transfer_export import export_resource_names
from enclave.bootstrap import tls_and_replication_denies

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
        return client


def _pin_account(account: str, request: Any, **_: Any) -> None:
    request.headers["x-moto-account-id"] = account


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
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ApprovedStaffWithMfaAndTicket",
                "Effect": "Allow",
                "Principal": {"AWS": list(cfg.staff_principals)},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "Bool": {"aws:MultiFactorAuthPresent": "true"},
                    "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
                    "StringLike": {f"aws:RequestTag/{ACCESS_TICKET_TAG}": "?*"},
                },
            }
        ],
    }


@dataclass
class Estate:
    """Handles the drift tests need."""

    cfg: SiteConfig
    data: AccountSession
    operator: AccountSession
    key_arn: str
    vpc_id: str
    workload_sg: str
    endpoint_id: str
    boundary_arn: str
    secret_arn: str
    buckets: dict[str, str] = field(default_factory=dict)

    def client(self, service: str, operator: bool = False) -> Any:
        return (self.operator if operator else self.data).client(service)


def build_estate(cfg: SiteConfig) -> Estate:
    """Create the compliant site in moto; call inside ``mock_aws``."""
    data = session_for(cfg, cfg.deployment_role_arn)
    operator = session_for(cfg, cfg.operator_role_arn)
    region = cfg.region

    kms = operator.client("kms")
    key_arn = kms.create_key(Description=f"{cfg.name_prefix} data key", MultiRegion=False)["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=key_arn)
    kms.create_alias(AliasName=cfg.key_alias, TargetKeyId=key_arn)

    s3 = data.client("s3")
    buckets = {}
    for role in ("user-data", "access-logs", "audit-logs"):
        name = cfg.bucket_name(role)
        buckets[role] = name
        s3.create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": region},
            ObjectLockEnabledForBucket=role == "audit-logs",
        )
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        policy = {"Version": "2012-10-17", "Statement": tls_and_replication_denies(f"arn:aws:s3:::{name}")}
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    s3.put_object_lock_configuration(
        Bucket=buckets["audit-logs"],
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": cfg.audit_log_retention_days}},
        },
    )

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
    endpoint_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SiteBucketsOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{b}" for b in buckets.values()]
                + [f"arn:aws:s3:::{b}/*" for b in buckets.values()],
                "Condition": {"StringEquals": {"aws:ResourceAccount": cfg.data_account_id}},
            }
        ],
    }
    endpoint_id = ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        ServiceName=f"com.amazonaws.{region}.s3",
        VpcEndpointType="Interface",
        SubnetIds=[subnet_id],
        SecurityGroupIds=[endpoints_sg],
        PolicyDocument=json.dumps(endpoint_policy),
    )["VpcEndpoint"]["VpcEndpointId"]

    trail = data.client("cloudtrail")
    trail.create_trail(
        Name=cfg.trail_name,
        S3BucketName=buckets["audit-logs"],
        IsMultiRegionTrail=False,
        EnableLogFileValidation=True,
        IncludeGlobalServiceEvents=False,
        KmsKeyId=key_arn,
    )
    trail.start_logging(Name=cfg.trail_name)

    iam = data.client("iam")
    boundary_arn = iam.create_policy(
        PolicyName=f"{cfg.name_prefix}-boundary",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    service_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    auditor_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{cfg.auditor_account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": cfg.auditor_external_id}},
            }
        ],
    }
    for role, trust in (("workload", service_trust), ("staff-access", staff_trust(cfg)), ("auditor", auditor_trust)):
        iam.create_role(
            RoleName=cfg.role_name(role),
            AssumeRolePolicyDocument=json.dumps(trust),
            PermissionsBoundary=boundary_arn,
        )

    sm = data.client("secretsmanager")
    secret_arn = sm.create_secret(
        Name=f"{cfg.name_prefix}-pseudonym-pepper", KmsKeyId=key_arn, SecretBinary=b"\x00" * 32
    )["ARN"]

    return Estate(
        cfg=cfg,
        data=data,
        operator=operator,
        key_arn=key_arn,
        vpc_id=vpc_id,
        workload_sg=workload_sg,
        endpoint_id=endpoint_id,
        boundary_arn=boundary_arn,
        secret_arn=secret_arn,
        buckets=buckets,
    )


def apply_program_documents(estate: Estate, run: Any) -> list[str]:
    """Put the documents the Pulumi program declares onto the estate; returns what was applied.

    ``run`` is the program evaluated offline (``enclave.harness.run_program``): its
    key policy, bucket policies, role trust policies, S3 endpoint policy and network
    ACL egress rules replace the estate's own, so the audit is checked against what the
    program would really deploy.
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
    s3_service = f"com.amazonaws.{estate.cfg.region}.s3"
    for res in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"):
        if res.inputs.get("serviceName") == s3_service:
            ec2.modify_vpc_endpoint(VpcEndpointId=estate.endpoint_id, PolicyDocument=res.inputs["policy"])
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
    # Speed only, behaviour unchanged: every boto3 session the commands create shares
    # one model loader (each would re-read the JSON models, ~0.3 s per command run),
    # and moto's KMS reuses one private key per key spec (it generates one per
    # CreateKey, ~50 ms, used only by asymmetric operations the estate never calls).
    monkeypatch.setattr(botocore.session, "create_loader", _shared_loader)
    monkeypatch.setattr(moto.kms.models, "generate_private_key", _cached_private_key)
    with mock_aws():
        yield


@functools.cache
def _shared_loader(search_paths: Any = None) -> Any:
    return botocore.loaders.create_loader(search_paths)


@functools.cache
def _cached_private_key(key_spec: str) -> Any:
    return moto.kms.utils.generate_private_key(key_spec)
