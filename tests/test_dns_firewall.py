"""DnsFirewall: the site's VPC resolves only its own AWS names, fails closed, and logs every query."""

from __future__ import annotations

import pytest

from components.audit_trail import DNS_QUERY_LOG_PREFIX
from components.config import site_config_from_mapping
from components.dns_firewall import allowed_domains
from tests.conftest import STACKS, stack_config
from tests.records import audit_log_prerequisite_urns

R53 = "aws:route53/"
DOMAIN_LIST = "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList"
RULE_GROUP = "aws:route53/resolverFirewallRuleGroup:ResolverFirewallRuleGroup"
RULE = "aws:route53/resolverFirewallRule:ResolverFirewallRule"
ASSOCIATION = "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation"
FIREWALL_CONFIG = "aws:route53/resolverFirewallConfig:ResolverFirewallConfig"
QUERY_LOG_CONFIG = "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig"
QUERY_LOG_ASSOCIATION = "aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation"


@pytest.fixture(params=STACKS)
def site(request, program_run):
    return program_run(request.param), site_config_from_mapping(stack_config(request.param))


def one(run, type_):
    found = run.of_type(type_)
    assert len(found) == 1, f"expected one {type_}, got {[r.urn for r in found]}"
    return found[0]


def by_name(run, type_, name):
    (found,) = [r for r in run.of_type(type_) if r.inputs.get("name") == name]
    return found


def test_every_child_is_in_the_component_on_the_data_provider_in_the_region(site):
    run, cfg = site
    (component,) = [r for r in run.resources if r.type == "enclave:network:DnsFirewall"]
    children = [r for r in run.resources if r.type.startswith(R53)]
    assert len(children) == 9, [r.urn for r in children]
    for rec in children:
        assert rec.parent == component.urn, rec.urn
        assert rec.provider_urn.endswith(f"::{cfg.name_prefix}-data"), rec.urn
        assert run.effective_region(rec) == cfg.region and "region" not in rec.inputs, rec.urn


def test_allow_list_is_the_sites_own_aws_names_and_nothing_else(site):
    run, cfg = site
    allowed = by_name(run, DOMAIN_LIST, f"{cfg.name_prefix}-dns-allowed")
    r = cfg.region
    domains = allowed.inputs["domains"]
    assert (
        domains
        == allowed_domains(cfg)
        == [
            f"s3.{r}.amazonaws.com",
            f"kms.{r}.amazonaws.com",
            f"sts.{r}.amazonaws.com",
            f"logs.{r}.amazonaws.com",
            f"secretsmanager.{r}.amazonaws.com",
            f"*.s3.{r}.amazonaws.com",
            f"*.{r}.vpce.amazonaws.com",
            f"*.{r}.compute.internal",
        ]
    ), domains
    for domain in domains:
        # Every entry is a name of the site's region: no other region, no AWS-wide wildcard.
        assert f".{r}." in f".{domain}", domain
        assert domain.count("*") <= 1 and (domain.startswith("*.") or "*" not in domain), domain


def test_each_interface_endpoint_has_its_private_dns_name_allowed(site):
    run, cfg = site
    allowed = set(by_name(run, DOMAIN_LIST, f"{cfg.name_prefix}-dns-allowed").inputs["domains"])
    for endpoint in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"):
        service = endpoint.inputs["serviceName"].split(".")[-1]
        assert endpoint.inputs["privateDnsEnabled"] is True, endpoint.urn
        assert f"{service}.{cfg.region}.amazonaws.com" in allowed, endpoint.urn


def test_rules_allow_the_list_first_then_block_everything_with_nxdomain(site):
    run, cfg = site
    group = one(run, RULE_GROUP)
    assert group.inputs["name"] == f"{cfg.name_prefix}-dns-firewall"
    allowed = by_name(run, DOMAIN_LIST, f"{cfg.name_prefix}-dns-allowed")
    everything = by_name(run, DOMAIN_LIST, f"{cfg.name_prefix}-dns-everything")
    assert everything.inputs["domains"] == ["*"]
    rules = {r.inputs["action"]: r for r in run.of_type(RULE)}
    assert set(rules) == {"ALLOW", "BLOCK"}
    allow, block = rules["ALLOW"], rules["BLOCK"]
    for rule in (allow, block):
        assert rule.inputs["firewallRuleGroupId"] == group.id, rule.urn
        assert "qType" not in rule.inputs, f"{rule.urn}: every query type"
    assert allow.inputs["firewallDomainListId"] == allowed.id
    assert allow.inputs["firewallDomainRedirectionAction"] == "INSPECT_REDIRECTION_DOMAIN"
    assert block.inputs["firewallDomainListId"] == everything.id
    assert block.inputs["blockResponse"] == "NXDOMAIN"
    assert allow.inputs["priority"] < block.inputs["priority"], "the allow list is evaluated first"


def test_every_vpc_is_associated_first_protected_and_fails_closed(site):
    run, cfg = site
    vpcs = run.of_type("aws:ec2/vpc:Vpc")
    assert vpcs
    group = one(run, RULE_GROUP)
    associations = {r.inputs["vpcId"]: r for r in run.of_type(ASSOCIATION)}
    configs = {r.inputs["resourceId"]: r for r in run.of_type(FIREWALL_CONFIG)}
    rules = {r.urn for r in run.of_type(RULE)}
    for vpc in vpcs:
        association = associations[vpc.id]
        assert association.inputs["firewallRuleGroupId"] == group.id
        assert association.inputs["priority"] == 101, "the lowest priority AWS accepts: inspected first"
        assert association.inputs["mutationProtection"] == "ENABLED", association.urn
        assert rules <= set(association.dependencies), f"{association.urn}: rules first"
        assert configs[vpc.id].inputs["firewallFailOpen"] == "DISABLED", "fail closed"


def test_every_query_is_logged_into_the_audit_bucket_after_it_locks(site):
    run, cfg = site
    config = one(run, QUERY_LOG_CONFIG)
    assert config.inputs["name"] == f"{cfg.name_prefix}-dns-query-logs"
    assert config.inputs["destinationArn"] == f"{cfg.bucket_arn('audit-logs')}/{DNS_QUERY_LOG_PREFIX}"
    ready = audit_log_prerequisite_urns(run, cfg)
    associations = run.of_type(QUERY_LOG_ASSOCIATION)
    assert {a.inputs["resourceId"] for a in associations} == {v.id for v in run.of_type("aws:ec2/vpc:Vpc")}
    for rec in (config, *associations):
        assert ready <= set(rec.dependencies), f"{rec.urn}: waits for {ready - set(rec.dependencies)}"
    for association in associations:
        assert association.inputs["resolverQueryLogConfigId"] == config.id
