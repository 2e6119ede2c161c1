"""DNS is a way out: Route 53 Resolver DNS Firewall lets the site's VPC resolve only the AWS names it uses.

Network ACLs and security groups do not filter queries to the VPC's Route 53
Resolver (the VPC+2 address and 169.254.169.253), and the Resolver answers any
public name, so data could leave encoded in the names a workload looks up. The
documented control is DNS Firewall: a rule group on the VPC that ALLOWs a list
of names and BLOCKs everything else (``*``) with NXDOMAIN, failing closed when
the firewall itself cannot answer. Every query, allowed or blocked, is logged
into the audit-log bucket under ``DNS_QUERY_LOG_PREFIX``.

The allow list is what the site actually resolves and nothing else: the
private DNS names of its interface endpoints (``ENDPOINT_SERVICES`` in the
site's region, S3's virtual-hosted bucket names included), the endpoints' own
``vpce.amazonaws.com`` names, and the region's EC2 internal names. Not
``*.amazonaws.com``: other regions' and services' names stay unresolvable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.audit_trail import DNS_QUERY_LOG_PREFIX
from components.config import SiteConfig
from components.isolated_network import ENDPOINT_SERVICES

ALLOW_PRIORITY = 100
"""The allow rule is evaluated first within the rule group (lowest number first)."""

BLOCK_PRIORITY = 200
"""Then everything else is blocked."""

ASSOCIATION_PRIORITY = 101
"""The lowest priority AWS accepts for a VPC association (101-9899; Firewall Manager keeps 1-100 and 9900+):
the site's rule group is inspected before any other group associated with the VPC, and its
ALLOW and BLOCK both end the inspection, so no group added later can let more through."""

BLOCK_ALL = ("*",)
"""The domain list that matches every name."""


def allowed_domains(cfg: SiteConfig) -> list[str]:
    """The names the site resolves: its interface endpoints' private DNS names, their vpce names, EC2 internal names."""
    region = cfg.region
    names = [f"{service}.{region}.amazonaws.com" for service in ENDPOINT_SERVICES]
    # Virtual-hosted bucket names (<bucket>.s3.<region>.amazonaws.com), which the
    # S3 interface endpoint's private DNS answers inside the VPC.
    names.append(f"*.s3.{region}.amazonaws.com")
    # The endpoints' own names (vpce-....<service>.<region>.vpce.amazonaws.com);
    # DNS Firewall filters private hosted zones too, endpoint names included.
    names.append(f"*.{region}.vpce.amazonaws.com")
    # Instance host names (ip-10-20-0-5.<region>.compute.internal).
    names.append(f"*.{region}.compute.internal")
    return names


@dataclass(frozen=True)
class DnsFirewallArgs:
    """Inputs of ``DnsFirewall``."""

    config: SiteConfig
    """The validated site configuration (region, names, sandbox)."""
    provider: aws.Provider
    """The data-account provider (``SiteProviders.data``); the firewall lives in its region."""
    vpc_id: pulumi.Input[str]
    """The site's VPC (``IsolatedNetwork.vpc_id``)."""
    log_bucket_arn: pulumi.Input[str]
    """ARN of the audit-log bucket (``AuditTrail.log_bucket_arn``)."""
    log_delivery_prerequisites: Sequence[pulumi.Resource] = ()
    """What must exist before query logs are delivered (``AuditTrail.log_delivery_prerequisites``)."""


class DnsFirewall(pulumi.ComponentResource):
    """A fail-closed DNS allow list on the site's VPC, with every query logged into the audit-log bucket."""

    rule_group_id: pulumi.Output[str]
    """The DNS Firewall rule group associated with the VPC."""
    query_log_config_id: pulumi.Output[str]
    """The Resolver query logging configuration."""

    def __init__(self, name: str, args: DnsFirewallArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("enclave:network:DnsFirewall", name, None, opts)
        self._name = name
        self._args = args
        cfg = args.config
        route53 = aws.route53

        allowed = route53.ResolverFirewallDomainList(
            f"{name}-allowed",
            name=f"{cfg.name_prefix}-dns-allowed",
            domains=allowed_domains(cfg),
            opts=self._opts(),
        )
        everything = route53.ResolverFirewallDomainList(
            f"{name}-everything",
            name=f"{cfg.name_prefix}-dns-everything",
            domains=list(BLOCK_ALL),
            opts=self._opts(),
        )
        group = route53.ResolverFirewallRuleGroup(
            f"{name}-rule-group", name=f"{cfg.name_prefix}-dns-firewall", opts=self._opts()
        )
        allow = route53.ResolverFirewallRule(
            f"{name}-allow-site-names",
            name=f"{cfg.name_prefix}-allow-site-aws-names",
            firewall_rule_group_id=group.id,
            firewall_domain_list_id=allowed.id,
            priority=ALLOW_PRIORITY,
            action="ALLOW",
            # Every name of a CNAME/DNAME chain is checked against the lists too,
            # so an allowed name cannot redirect to an unlisted one.
            firewall_domain_redirection_action="INSPECT_REDIRECTION_DOMAIN",
            opts=self._opts(),
        )
        block = route53.ResolverFirewallRule(
            f"{name}-block-everything-else",
            name=f"{cfg.name_prefix}-block-everything-else",
            firewall_rule_group_id=group.id,
            firewall_domain_list_id=everything.id,
            priority=BLOCK_PRIORITY,
            action="BLOCK",
            block_response="NXDOMAIN",
            opts=self._opts(),
        )
        route53.ResolverFirewallRuleGroupAssociation(
            f"{name}-association",
            name=f"{cfg.name_prefix}-dns-firewall",
            firewall_rule_group_id=group.id,
            vpc_id=args.vpc_id,
            priority=ASSOCIATION_PRIORITY,
            # Nobody can change or remove the association without first turning this
            # off (a logged, deliberate change). A sandbox leaves it off: with it on,
            # AWS refuses the deletion pulumi destroy needs.
            mutation_protection="DISABLED" if cfg.sandbox else "ENABLED",
            # The rules exist before the group filters anything.
            opts=self._opts(depends_on=[allow, block]),
        )
        route53.ResolverFirewallConfig(
            f"{name}-config",
            resource_id=args.vpc_id,
            # Fail closed: a query the firewall cannot evaluate is blocked, not resolved.
            firewall_fail_open="DISABLED",
            opts=self._opts(),
        )
        query_logs = self._create_query_logging(args)

        self.rule_group_id = group.id
        self.query_log_config_id = query_logs.id
        self.register_outputs({"rule_group_id": self.rule_group_id, "query_log_config_id": self.query_log_config_id})

    def _opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider, **kwargs)

    def _create_query_logging(self, args: DnsFirewallArgs) -> aws.route53.ResolverQueryLogConfig:
        cfg = args.config
        # Both wait for the audit bucket's Object Lock, encryption and policy:
        # the delivery service finds its statements there and writes nothing unlocked.
        ready = list(args.log_delivery_prerequisites)
        config = aws.route53.ResolverQueryLogConfig(
            f"{self._name}-query-logs",
            name=f"{cfg.name_prefix}-dns-query-logs",
            destination_arn=pulumi.Output.concat(args.log_bucket_arn, "/", DNS_QUERY_LOG_PREFIX),
            opts=self._opts(depends_on=ready),
        )
        aws.route53.ResolverQueryLogConfigAssociation(
            f"{self._name}-query-logs-association",
            resolver_query_log_config_id=config.id,
            resource_id=args.vpc_id,
            opts=self._opts(depends_on=ready),
        )
        return config
