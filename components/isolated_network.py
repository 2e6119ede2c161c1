"""The site's network: private subnets with no route out, reaching AWS only through VPC endpoints.

Egress is denied in three independent layers: no route leaves the VPC (no
internet, NAT or egress-only gateway, no peering, transit gateway or VPN); the
network ACL allows traffic only inside the VPC CIDR and explicitly denies
``0.0.0.0/0`` and ``::/0``; the workload security group may only open TCP 443
to the endpoints' security group. The AWS APIs the workload needs are interface
endpoints inside the VPC CIDR, each with a policy that admits only this site's
resources.

S3 uses an *interface* endpoint, not a gateway endpoint: a gateway endpoint's
traffic goes to S3's public address ranges, which a stateless network ACL that
allows only the VPC CIDR would block (network ACLs cannot reference prefix
lists). With private DNS on the interface endpoint, ``s3.<region>.amazonaws.com``
resolves to endpoint addresses inside the VPC CIDR, so the ACL stays closed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.audit_trail import FLOW_LOG_PREFIX
from components.config import SiteConfig
from components.transfer_export import WRITE_ACTIONS as EXPORT_WRITE_ACTIONS

HTTPS = 443

ENDPOINT_SERVICES = ("s3", "kms", "sts", "logs", "secretsmanager")
"""AWS services reachable from inside the site, each through its own interface endpoint.

Secrets Manager is beyond the issue's minimum: the workload reads its
pseudonymisation pepper there, and without an endpoint it could not reach it.
"""

FLOW_LOG_AGGREGATION_SECONDS = 60
"""Flow records are aggregated per minute (the finest interval AWS offers) for forensics."""

S3_DATA_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectAttributes",
    "s3:GetObjectVersionAttributes",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
    "s3:GetBucketLocation",
)
"""Object reads and writes on the user-data bucket: the only S3 calls the endpoint carries.

Bucket configuration (policy, replication, encryption) is never changed from
inside the site; the deployment pipeline does that from outside.
"""

S3_LOG_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:GetBucketLocation")
"""Read-only access to the site's two log buckets (in-site log analysis); nobody writes them from inside."""


def subnet_cidrs(vpc_cidr: str, count: int) -> list[str]:
    """Carve ``count`` equal private subnets out of the VPC CIDR (a quarter each; at most four AZs)."""
    if not 1 <= count <= 4:
        raise ValueError(f"expected 1 to 4 availability zones, got {count}")
    network = ipaddress.IPv4Network(vpc_cidr, strict=True)
    return [str(subnet) for subnet in list(network.subnets(prefixlen_diff=2))[:count]]


def _statement(sid: str, actions: list[str] | tuple[str, ...], resources: list[str], condition: dict) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": "*",
        "Action": list(actions),
        "Resource": resources,
        "Condition": condition,
    }


def _same_account(cfg: SiteConfig, **extra: str) -> dict[str, Any]:
    """Only principals of the data account may use the endpoint (stolen outside credentials may not)."""
    return {"StringEquals": {"aws:PrincipalAccount": cfg.data_account_id, **extra}}


def s3_endpoint_policy(cfg: SiteConfig) -> dict[str, Any]:
    """S3 endpoint: object reads/writes on the user-data bucket, reads of the log buckets; nothing else."""
    data = cfg.bucket_arn("user-data")
    logs = [cfg.bucket_arn("access-logs"), cfg.bucket_arn("audit-logs")]
    # aws:ResourceAccount makes "a bucket of the same name in another account"
    # useless as an exfiltration target even if the names were ever reused.
    condition = _same_account(cfg, **{"aws:ResourceAccount": cfg.data_account_id})
    return {
        "Version": "2012-10-17",
        "Id": f"{cfg.name_prefix}-s3-endpoint",
        "Statement": [
            _statement("UserDataReadWrite", S3_DATA_ACTIONS, [data, f"{data}/*"], condition),
            _statement(
                "SiteLogsReadOnly",
                S3_LOG_READ_ACTIONS,
                [arn for bucket in logs for arn in (bucket, f"{bucket}/*")],
                condition,
            ),
            # The pseudonymiser's exports (components/transfer_export.py): write-only from inside.
            _statement(
                "PseudonymisedExportWrites", EXPORT_WRITE_ACTIONS, [f"{cfg.bucket_arn('exports')}/exports/*"], condition
            ),
        ],
    }


def kms_endpoint_policy(cfg: SiteConfig) -> dict[str, Any]:
    """KMS endpoint: data-account principals using keys of the operator account in this region only."""
    return {
        "Version": "2012-10-17",
        "Id": f"{cfg.name_prefix}-kms-endpoint",
        "Statement": [
            _statement(
                "OperatorKeysOnly",
                ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                [f"arn:aws:kms:{cfg.region}:{cfg.operator_account_id}:key/*"],
                _same_account(cfg, **{"aws:ResourceAccount": cfg.operator_account_id}),
            )
        ],
    }


def sts_endpoint_policy(cfg: SiteConfig) -> dict[str, Any]:
    """STS endpoint: assume (and tag sessions of) roles of the data account only."""
    return {
        "Version": "2012-10-17",
        "Id": f"{cfg.name_prefix}-sts-endpoint",
        "Statement": [
            _statement(
                "DataAccountRolesOnly",
                ["sts:AssumeRole", "sts:TagSession"],
                [f"arn:aws:iam::{cfg.data_account_id}:role/*"],
                _same_account(cfg),
            )
        ],
    }


def logs_endpoint_policy(cfg: SiteConfig) -> dict[str, Any]:
    """CloudWatch Logs endpoint: write to log groups of the data account in this region only."""
    return {
        "Version": "2012-10-17",
        "Id": f"{cfg.name_prefix}-logs-endpoint",
        "Statement": [
            _statement(
                "SiteLogGroupsOnly",
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                [f"arn:aws:logs:{cfg.region}:{cfg.data_account_id}:log-group:*"],
                _same_account(cfg),
            )
        ],
    }


def secretsmanager_endpoint_policy(cfg: SiteConfig) -> dict[str, Any]:
    """Secrets Manager endpoint: read secrets of the data account in this region only."""
    return {
        "Version": "2012-10-17",
        "Id": f"{cfg.name_prefix}-secretsmanager-endpoint",
        "Statement": [
            _statement(
                "SiteSecretsReadOnly",
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                [f"arn:aws:secretsmanager:{cfg.region}:{cfg.data_account_id}:secret:*"],
                _same_account(cfg),
            )
        ],
    }


ENDPOINT_POLICIES = {
    "s3": s3_endpoint_policy,
    "kms": kms_endpoint_policy,
    "sts": sts_endpoint_policy,
    "logs": logs_endpoint_policy,
    "secretsmanager": secretsmanager_endpoint_policy,
}


def _acl_rules(cfg: SiteConfig) -> list[dict[str, Any]]:
    """One direction of the network ACL: the VPC CIDR is allowed, every other address denied.

    The ACL is stateless, so the same rules apply both ways; return traffic
    stays inside the VPC CIDR because every peer (endpoint ENIs) is inside it.
    """
    return [
        {"rule_no": 100, "action": "allow", "protocol": "-1", "from_port": 0, "to_port": 0, "cidr_block": cfg.vpc_cidr},
        {"rule_no": 200, "action": "deny", "protocol": "-1", "from_port": 0, "to_port": 0, "cidr_block": "0.0.0.0/0"},
        {"rule_no": 210, "action": "deny", "protocol": "-1", "from_port": 0, "to_port": 0, "ipv6_cidr_block": "::/0"},
    ]


@dataclass(frozen=True)
class IsolatedNetworkArgs:
    """Inputs of ``IsolatedNetwork``."""

    config: SiteConfig
    """The validated site configuration (VPC CIDR, AZs, accounts, bucket names)."""
    provider: aws.Provider
    """The data-account provider (``SiteProviders.data``); its region is the network's region."""
    flow_log_bucket_arn: pulumi.Input[str]
    """ARN of the audit-log bucket (``AuditTrail.log_bucket_arn``, which resolves once its policy admits flow logs)."""
    log_delivery_prerequisites: Sequence[pulumi.Resource] = ()
    """What must exist before flow logs are delivered (``AuditTrail.log_delivery_prerequisites``)."""


class IsolatedNetwork(pulumi.ComponentResource):
    """A VPC with no way out: private subnets, closed defaults, endpoint-only egress, flow logs."""

    vpc_id: pulumi.Output[str]
    """The site's VPC."""
    private_subnet_ids: pulumi.Output[list[str]]
    """One private subnet per availability zone, in the order of ``config.availability_zones``."""
    workload_security_group_id: pulumi.Output[str]
    """Security group for in-site workloads: its only egress is HTTPS to the VPC endpoints."""
    endpoint_ids: dict[str, pulumi.Output[str]]
    """Interface endpoint id per service (``ENDPOINT_SERVICES``)."""
    s3_endpoint_id: pulumi.Output[str]
    """The S3 interface endpoint's id (the user-data bucket's ``aws:SourceVpce``)."""

    def __init__(self, name: str, args: IsolatedNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("enclave:network:IsolatedNetwork", name, None, opts)
        self._name = name
        self._cfg = args.config
        self._provider = args.provider

        vpc = self._create_vpc()
        subnets = self._create_subnets(vpc)
        self._close_defaults(vpc)
        self._create_routing(vpc, subnets)
        self._create_network_acl(vpc, subnets)
        workload_sg, endpoints_sg = self._create_security_groups(vpc)
        endpoints = self._create_endpoints(vpc, subnets, endpoints_sg)
        self._create_flow_log(vpc, args.flow_log_bucket_arn, args.log_delivery_prerequisites)

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in subnets])
        self.workload_security_group_id = workload_sg.id
        self.endpoint_ids = {service: endpoint.id for service, endpoint in endpoints.items()}
        self.s3_endpoint_id = self.endpoint_ids["s3"]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "workload_security_group_id": self.workload_security_group_id,
                "endpoint_ids": self.endpoint_ids,
                "s3_endpoint_id": self.s3_endpoint_id,
            }
        )

    def _opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._provider, **kwargs)

    def _tags(self, role: str) -> dict[str, str]:
        return {"Name": f"{self._cfg.name_prefix}-{role}"}

    def _create_vpc(self) -> aws.ec2.Vpc:
        # DNS support and hostnames are required for the endpoints' private DNS.
        return aws.ec2.Vpc(
            f"{self._name}-vpc",
            cidr_block=self._cfg.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            assign_generated_ipv6_cidr_block=False,
            tags=self._tags("vpc"),
            opts=self._opts(),
        )

    def _create_subnets(self, vpc: aws.ec2.Vpc) -> list[aws.ec2.Subnet]:
        zones = self._cfg.availability_zones
        return [
            aws.ec2.Subnet(
                f"{self._name}-private-{zone}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=cidr,
                map_public_ip_on_launch=False,
                assign_ipv6_address_on_creation=False,
                tags=self._tags(f"private-{zone}"),
                opts=self._opts(),
            )
            for zone, cidr in zip(zones, subnet_cidrs(self._cfg.vpc_cidr, len(zones)), strict=True)
        ]

    def _close_defaults(self, vpc: aws.ec2.Vpc) -> None:
        """Adopt the VPC's default route table, network ACL and security group, and empty them.

        Anything later placed in the VPC without explicit settings lands in
        these defaults; empty, they route nowhere and admit nothing.
        """
        # The provider reads default_route_table_id and main_route_table_id from
        # the same lookup (the VPC's main route table), so either names it.
        aws.ec2.DefaultRouteTable(
            f"{self._name}-default-routes",
            default_route_table_id=vpc.main_route_table_id,
            routes=[],
            tags=self._tags("default-routes"),
            opts=self._opts(),
        )
        aws.ec2.DefaultNetworkAcl(
            f"{self._name}-default-acl",
            default_network_acl_id=vpc.default_network_acl_id,
            ingress=[],
            egress=[],
            tags=self._tags("default-acl"),
            opts=self._opts(),
        )
        aws.ec2.DefaultSecurityGroup(
            f"{self._name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=self._tags("default-sg"),
            opts=self._opts(),
        )

    def _create_routing(self, vpc: aws.ec2.Vpc, subnets: list[aws.ec2.Subnet]) -> None:
        # An explicit empty route list: the provider then removes any route
        # added outside Pulumi. Only the implicit local route remains.
        table = aws.ec2.RouteTable(
            f"{self._name}-private-routes",
            vpc_id=vpc.id,
            routes=[],
            tags=self._tags("private-routes"),
            opts=self._opts(),
        )
        for zone, subnet in zip(self._cfg.availability_zones, subnets, strict=True):
            aws.ec2.RouteTableAssociation(
                f"{self._name}-private-routes-{zone}",
                route_table_id=table.id,
                subnet_id=subnet.id,
                opts=self._opts(),
            )

    def _create_network_acl(self, vpc: aws.ec2.Vpc, subnets: list[aws.ec2.Subnet]) -> None:
        # Inline rules (not NetworkAclRule resources) so the ACL owns its rule
        # set exclusively: a rule added outside Pulumi shows as drift and is removed.
        rules = _acl_rules(self._cfg)
        aws.ec2.NetworkAcl(
            f"{self._name}-private-acl",
            vpc_id=vpc.id,
            subnet_ids=[subnet.id for subnet in subnets],
            ingress=rules,
            egress=rules,
            tags=self._tags("private-acl"),
            opts=self._opts(),
        )

    def _create_security_groups(self, vpc: aws.ec2.Vpc) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        cfg = self._cfg
        # The provider revokes AWS's default allow-all egress rule when it
        # creates a security group in a VPC; the exclusive rule sets below keep
        # it (and any rule added by hand) from coming back.
        workload = aws.ec2.SecurityGroup(
            f"{self._name}-workload-sg",
            name=f"{cfg.name_prefix}-workload",
            description="In-site workloads: HTTPS to the VPC endpoints only",
            vpc_id=vpc.id,
            tags=self._tags("workload"),
            opts=self._opts(),
        )
        endpoints = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints-sg",
            name=f"{cfg.name_prefix}-endpoints",
            description="VPC interface endpoints: HTTPS from in-site workloads only",
            vpc_id=vpc.id,
            tags=self._tags("endpoints"),
            opts=self._opts(),
        )
        # Standalone rules: each group references the other, which inline rules cannot express without a cycle.
        to_endpoints = aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-workload-to-endpoints",
            security_group_id=workload.id,
            referenced_security_group_id=endpoints.id,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            description="HTTPS to the VPC endpoints",
            opts=self._opts(),
        )
        from_workload = aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-endpoints-from-workload",
            security_group_id=endpoints.id,
            referenced_security_group_id=workload.id,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            description="HTTPS from in-site workloads",
            opts=self._opts(),
        )
        # A rule's id is its security group rule id (sgr-...).
        aws.ec2.VpcSecurityGroupRulesExclusive(
            f"{self._name}-workload-rules",
            security_group_id=workload.id,
            ingress_rule_ids=[],
            egress_rule_ids=[to_endpoints.id],
            opts=self._opts(),
        )
        aws.ec2.VpcSecurityGroupRulesExclusive(
            f"{self._name}-endpoints-rules",
            security_group_id=endpoints.id,
            ingress_rule_ids=[from_workload.id],
            egress_rule_ids=[],
            opts=self._opts(),
        )
        return workload, endpoints

    def _create_endpoints(
        self, vpc: aws.ec2.Vpc, subnets: list[aws.ec2.Subnet], endpoints_sg: aws.ec2.SecurityGroup
    ) -> dict[str, aws.ec2.VpcEndpoint]:
        cfg = self._cfg
        endpoints = {}
        for service in ENDPOINT_SERVICES:
            extra: dict[str, Any] = {}
            if service == "s3":
                # S3 is the one service with both endpoint kinds. AWS defaults
                # "private DNS only for the inbound resolver" to true, which
                # requires a gateway endpoint and sends in-VPC traffic to it;
                # false makes in-VPC S3 names resolve to this interface endpoint.
                extra["dns_options"] = aws.ec2.VpcEndpointDnsOptionsArgs(
                    dns_record_ip_type="ipv4",
                    private_dns_only_for_inbound_resolver_endpoint=False,
                )
            endpoints[service] = aws.ec2.VpcEndpoint(
                f"{self._name}-{service}-endpoint",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{cfg.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                ip_address_type="ipv4",
                subnet_ids=[subnet.id for subnet in subnets],
                security_group_ids=[endpoints_sg.id],
                policy=pulumi.Output.json_dumps(ENDPOINT_POLICIES[service](cfg)),
                tags=self._tags(f"{service}-endpoint"),
                opts=self._opts(),
                **extra,
            )
        return endpoints

    def _create_flow_log(
        self, vpc: aws.ec2.Vpc, bucket_arn: pulumi.Input[str], prerequisites: Sequence[pulumi.Resource]
    ) -> None:
        # Delivered by the log-delivery service (no IAM role); the bucket's
        # policy admits it for this prefix only. No record is delivered before
        # the bucket locks, encrypts and admits it (explicit dependencies).
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="s3",
            log_destination=pulumi.Output.concat(bucket_arn, "/", FLOW_LOG_PREFIX),
            max_aggregation_interval=FLOW_LOG_AGGREGATION_SECONDS,
            tags=self._tags("flow-log"),
            opts=self._opts(depends_on=list(prerequisites)),
        )
