"""The registry of reviewed types against the pinned SDK, and the reviewed-types rule that enforces it."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from policy_support import POLICY_DIR, check, sdk_types
from residency_rules import egress, encryption, identity, names, protection, replication, reviewed
from residency_rules.registry import CHECKED, FAMILIES, FORBIDDEN, REGISTRY, SAFE

RT = reviewed.POLICY


def test_every_sdk_type_is_in_exactly_one_category():
    types = sdk_types()
    assert len(types) > 1700, "the SDK scan found too little to be meaningful"
    categories = {t: REGISTRY[t].status if t in REGISTRY else "unreviewed" for t in types}
    counts = Counter(categories.values())
    assert sum(counts.values()) == len(types)
    assert set(counts) == {SAFE, CHECKED, FORBIDDEN, "unreviewed"}
    # The services an in-region data platform uses are reviewed, not left to the config.
    assert counts[SAFE] + counts[CHECKED] > 550, counts


def test_every_registry_entry_is_a_real_sdk_type_with_a_reason():
    types = sdk_types()
    assert [t for t in REGISTRY if t not in types] == []
    for typ, entry in REGISTRY.items():
        assert len(entry.reason) > 15, (typ, entry.reason)
        assert all(rule in names.ALL for rule in entry.rules), typ
        if entry.status == SAFE:
            assert entry.rules == ()
        else:
            assert entry.rules, f"{typ}: a {entry.status} entry names the rule that decides it"


def test_each_family_module_holds_only_its_own_entries():
    seen: set[str] = set()
    for family in FAMILIES:
        assert family.__doc__, family.__name__
        assert not seen & set(family.TYPES), family.__name__
        seen |= set(family.TYPES)
    assert seen == set(REGISTRY)


def _pack_type_literals() -> dict[str, set[str]]:
    """Every ``aws:...`` type token written anywhere in the pack's source."""
    token = re.compile(r'"(aws:[a-z0-9]+/[A-Za-z0-9]+:[A-Za-z0-9_]+)"')
    found: dict[str, set[str]] = {}
    for path in (POLICY_DIR / "residency_rules").rglob("*.py"):
        for typ in token.findall(path.read_text()):
            found.setdefault(typ, set()).add(path.name)
    return found


def test_every_type_the_pack_names_exists_in_the_sdk():
    # A type the SDK does not have (aws:s3control/accountPublicAccessBlock was one) makes its check dead code.
    literals = _pack_type_literals()
    assert len(literals) > 700
    missing = {t: sorted(files) for t, files in literals.items() if t not in sdk_types()}
    assert missing == {}


SPECIAL_CASED = {
    names.NETWORK_PERIMETER: egress.SPECIAL_TYPES,
    names.IDENTITY_PERIMETER: identity.SPECIAL_TYPES,
    names.REGION_PERIMETER: replication.SPECIAL_TYPES,
    names.ENCRYPTION: encryption.SPECIAL_TYPES,
    names.PUBLIC: protection.SPECIAL_PUBLIC_TYPES,
    names.PROTECTED: protection.SPECIAL_PROTECTED_TYPES,
}


@pytest.mark.parametrize("rule", sorted(SPECIAL_CASED))
def test_every_type_a_rule_special_cases_is_registered_as_checked_by_it_or_forbidden(rule):
    wrong = {}
    for typ in SPECIAL_CASED[rule]:
        entry = REGISTRY.get(typ)
        if entry is None or entry.status == SAFE or (entry.status == CHECKED and rule not in entry.rules):
            wrong[typ] = entry
    assert wrong == {}, f"register these as checked by {rule} (or forbidden)"


def test_forbidden_types_are_refused_by_the_rule_the_registry_names():
    refused = {
        names.NETWORK_PERIMETER: set(egress.FORBIDDEN_TYPES),
        names.REGION_PERIMETER: set(replication.FORBIDDEN_TYPES),
        names.PUBLIC: set(protection.PUBLIC_TYPES),
    }
    for typ, entry in REGISTRY.items():
        if entry.status == FORBIDDEN:
            assert typ in refused[entry.rules[0]], typ


# Names that suggest data leaving (a copy, a share, an export, a link to another network or a
# third party). Such a type may be classed safe only with a reason this test accepts here.
SUSPICIOUS = re.compile(
    r"replica|replicat|share|sharing|export|peering|transfer|endpoint|subscription|destination|integration"
    r"|webhook|copy|global|multiregion|crossaccount|aggregat|accelerat|distribution|connect|sync|stream|publish"
    r"|forward|invit|member|delegat|permission|grant|link|partner|accepter|channel|archive"
)
ACCEPTED_SAFE = {
    "aws:backup/globalSettings:GlobalSettings": "the switch only; copies are plan copy actions, which are checked",
    "aws:dynamodb/globalSecondaryIndex:GlobalSecondaryIndex": "an index of one table in the same region",
    "aws:ebs/volumeCopy:VolumeCopy": "a copy within the region",
    "aws:rds/clusterEndpoint:ClusterEndpoint": "a DNS name of the cluster itself",
    "aws:neptune/clusterEndpoint:ClusterEndpoint": "a DNS name of the cluster itself",
    "aws:rds/proxyEndpoint:ProxyEndpoint": "a DNS name of the proxy itself",
    "aws:rds/clusterActivityStream:ClusterActivityStream": "AWS-managed Kinesis stream in the same account and region",
    "aws:kinesis/streamConsumer:StreamConsumer": "a reader of a stream of the site",
    "aws:cloudwatch/logStream:LogStream": "a stream inside a log group",
    "aws:cloudwatch/eventArchive:EventArchive": "stays in the bus's region",
    "aws:opensearch/vpcEndpoint:VpcEndpoint": "an interface of a domain in the site's subnets",
    "aws:opensearch/serverlessVpcEndpoint:ServerlessVpcEndpoint": "an interface in the site's subnets",
    "aws:elasticsearch/vpcEndpoint:VpcEndpoint": "an interface of a domain in the site's subnets",
    "aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation": "the endpoint itself is checked",
    "aws:ec2/vpcEndpointSubnetAssociation:VpcEndpointSubnetAssociation": "the endpoint itself is checked",
    "aws:vpc/endpointPrivateDns:EndpointPrivateDns": "DNS of an endpoint of the site",
    "aws:vpc/endpointServicePrivateDnsVerification:EndpointServicePrivateDnsVerification": "DNS verification only",
    "aws:apigateway/vpcLink:VpcLink": "connects a private API to a load balancer of the site",
    "aws:apprunner/vpcConnector:VpcConnector": "attaches services to the site's subnets",
    "aws:apprunner/vpcIngressConnection:VpcIngressConnection": "private ingress through an interface endpoint",
    "aws:networkfirewall/vpcEndpointAssociation:VpcEndpointAssociation": "a firewall endpoint in a subnet of the site",
    "aws:accessanalyzer/archiveRule:ArchiveRule": "archives findings; moves nothing",
    "aws:securityhub/standardsSubscription:StandardsSubscription": "turns a standard on; no delivery",
    "aws:sagemaker/endpoint:Endpoint": "serves through SageMaker's runtime API in the region; its model is checked",
    "aws:apigateway/integrationResponse:IntegrationResponse": "maps a backend's response; the integration is checked",
    "aws:ec2/vpcNetworkPerformanceMetricSubscription:VpcNetworkPerformanceMetricSubscription": "AWS's own latency metrics",
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": "a role of an AWS service in this account",
    "aws:dms/replicationSubnetGroup:ReplicationSubnetGroup": "subnets of the site's VPC",
}


def test_no_type_named_like_a_way_out_is_safe_without_an_accepted_reason():
    suspicious_safe = {
        t for t, e in REGISTRY.items() if e.status == SAFE and SUSPICIOUS.search(t.split(":")[-1].lower())
    }
    assert suspicious_safe - set(ACCEPTED_SAFE) == set(), "review these: check them, forbid them, or accept them here"
    assert set(ACCEPTED_SAFE) - suspicious_safe == set(), "stale acceptances"


def test_the_other_teams_resources_are_admitted():
    # Issue #12's DNS firewall and account-level blocks, issue #13's guardrails (COORDINATION.md).
    for typ in (
        "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList",
        "aws:route53/resolverFirewallRuleGroup:ResolverFirewallRuleGroup",
        "aws:route53/resolverFirewallRule:ResolverFirewallRule",
        "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation",
        "aws:route53/resolverFirewallConfig:ResolverFirewallConfig",
        "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig",
        "aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation",
        "aws:ec2/vpcBlockPublicAccessOptions:VpcBlockPublicAccessOptions",
        "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
        "aws:ebs/snapshotBlockPublicAccess:SnapshotBlockPublicAccess",
        "aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess",
        "aws:ebs/encryptionByDefault:EncryptionByDefault",
        "aws:ec2/serialConsoleAccess:SerialConsoleAccess",
        "aws:ec2/instanceMetadataDefaults:InstanceMetadataDefaults",
        "aws:organizations/policy:Policy",
        "aws:organizations/policyAttachment:PolicyAttachment",
    ):
        assert REGISTRY[typ].status in (SAFE, CHECKED), typ


# --------------------------------------------------------------------------- reviewed-types


def test_reviewed_types_pass_and_unreviewed_types_fail_with_the_way_to_review():
    assert check(RT, "aws:sqs/queue:Queue", {}) == []
    assert check(RT, "aws:ec2/internetGateway:InternetGateway", {}) == [], "forbidden types: their rule reports them"
    messages = check(RT, "aws:appflow/flow:Flow", {})
    assert len(messages) == 1
    assert "aws:appflow/flow:Flow is not a type the residency pack has reviewed" in messages[0]
    assert "registry" in messages[0] and "reviewedTypes" in messages[0] and "approver" in messages[0]


def test_a_stack_may_list_an_unreviewed_type_with_a_reason_and_an_approver():
    entry = {"type": "aws:appflow/flow:Flow", "reason": "in-region flow reviewed in TICKET-1", "approver": "dpo"}
    assert check(RT, "aws:appflow/flow:Flow", {}, config={"reviewedTypes": [entry]}) == []
    assert check(RT, "aws:appflow/flow:Flow", {}, config={"reviewedTypes": [{**entry, "approver": ""}]})


@pytest.mark.parametrize(
    "type_", ["pulumi:providers:aws", "random:index/randomPassword:RandomPassword", "enclave:storage:RegionalStorage"]
)
def test_reviewed_types_leaves_providers_local_packages_and_components_to_other_rules(type_):
    assert check(RT, type_, {}, prov=None) == []
