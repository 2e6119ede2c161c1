"""DNS: Resolver query logging into the audit bucket, and the DNS Firewall that keeps data out of queries.

A VPC with DNS support can send data out inside DNS queries (network ACLs and
security groups cannot stop queries to the Route 53 Resolver). The documented
control is Route 53 Resolver DNS Firewall: every VPC of the region must have
rule groups that let through only the region's AWS service names, block every
other name (``*``), cannot be disassociated without lifting mutation protection,
and fail closed. Evaluation follows AWS: rule groups in association priority
order, rules in rule priority order, the first rule whose domain list matches
decides; ``ALERT`` lets the query through.
"""

from __future__ import annotations

from typing import Any

from enclave.audit.base import Audit, Check, Family, arn_account, arn_region, ec2_arn, register
from enclave.audit.common import AccessDeniedError, pages

CHECKS = register(
    Check(
        "dns-query-logging",
        "The VPC's DNS queries are logged into the audit-logs bucket, and nowhere outside the site",
        "an ACTIVE Resolver query log association of the VPC to a config of the data account whose destination "
        "is the site's audit-logs bucket; no association to a destination outside the site",
        "Run pulumi up (restores the query log config and its association); "
        "aws route53resolver disassociate-resolver-query-log-config for an association that delivers elsewhere.",
    ),
    Check(
        "dns-firewall-blocks-egress",
        "The VPC's DNS Firewall answers only the region's AWS service names and blocks every other name",
        "rule groups associated with the VPC that, in priority order, allow (or alert on) only names under "
        "<region>.amazonaws.com (and <region>.vpce.amazonaws.com, <region>.compute.internal), then BLOCK *",
        "Run pulumi up (restores the site's rule group and its association); remove any rule or association "
        "that lets another name through before the BLOCK * rule.",
    ),
    Check(
        "dns-firewall-mutation-protected",
        "The DNS Firewall's rule group associations are protected from being removed",
        "MutationProtection ENABLED on every rule group association of the VPC",
        "aws route53resolver update-firewall-rule-group-association --firewall-rule-group-association-id ID "
        "--mutation-protection ENABLED, or pulumi up.",
    ),
    Check(
        "dns-firewall-fail-closed",
        "The DNS Firewall fails closed",
        "FirewallFailOpen DISABLED for the VPC (queries are blocked if the firewall cannot answer)",
        "aws route53resolver update-firewall-config --resource-id VPC_ID --firewall-fail-open DISABLED, or pulumi up.",
    ),
    Check(
        "dns-no-resolver-forwarding",
        "No Resolver rule forwards the VPC's queries and no Resolver endpoint sits in it",
        "no Resolver rule associated with the VPC but SYSTEM rules and Resolver's auto-defined recursive rule "
        "(which keep names with the Resolver), and no "
        "Resolver endpoint in the VPC: the program defines none, and a FORWARD rule sends queries, and the data "
        "in them, through an outbound endpoint to DNS servers outside AWS",
        "aws route53resolver disassociate-resolver-rule --vpc-id VPC_ID --resolver-rule-id RULE_ID and "
        "aws route53resolver delete-resolver-endpoint --resolver-endpoint-id ID, then find who added them "
        "(AssociateResolverRule, CreateResolverEndpoint in CloudTrail); a forwarding the site needs is added "
        "to the program by review.",
    ),
)

PERMISSIONS = (
    "route53resolver:ListFirewallConfigs",
    "route53resolver:ListFirewallDomainLists",
    "route53resolver:ListFirewallDomains",
    "route53resolver:ListFirewallRuleGroupAssociations",
    "route53resolver:ListFirewallRules",
    "route53resolver:ListResolverEndpoints",
    "route53resolver:ListResolverQueryLogConfigAssociations",
    "route53resolver:ListResolverQueryLogConfigs",
    "route53resolver:ListResolverRuleAssociations",
    "route53resolver:ListResolverRules",
)
"""Account-wide List calls where AWS has them (they need no resource-level grant); the rules and domains
of a rule group are readable only one group or list at a time."""


def region_names(region: str) -> tuple[str, ...]:
    """DNS suffixes of the region's own AWS names: service endpoints, endpoint-specific names, instances."""
    return (f"{region}.amazonaws.com", f"{region}.vpce.amazonaws.com", f"{region}.compute.internal")


def is_region_name(domain: str, region: str) -> bool:
    """A Firewall domain entry (``*.`` wildcard prefix allowed) that matches only names of the region."""
    name = domain.lower().rstrip(".").removeprefix("*.")
    return "*" not in name and any(name == s or name.endswith(f".{s}") for s in region_names(region))


def run(audit: Audit) -> None:
    try:
        _run(audit)
    except AccessDeniedError as exc:
        # A read AWS refuses (the auditor role lost it, or a guardrail denies it): every
        # check of the family fails closed for every VPC, naming the permission.
        done = {(r.id, r.resources[0]) for r in audit.results}
        for vpc in sorted(audit.vpcs(), key=lambda v: v["VpcId"]):
            vpc_arn = ec2_arn(audit, "vpc", vpc["VpcId"])
            for check in CHECKS:
                if (check.id, vpc_arn) not in done:
                    audit.add(
                        check.id,
                        False,
                        [vpc_arn],
                        f"not readable: {exc.action} denied",
                        fix=f"Let the auditor role read the site's Route 53 Resolver configuration ({exc.action} "
                        f"on arn:aws:route53resolver:{audit.cfg.region}:{audit.account}:*), then run again.",
                    )


def _run(audit: Audit) -> None:
    resolver = audit.client("route53resolver")
    where = f"Route 53 Resolver configuration of {audit.where}"
    cache: dict[str, Any] = {
        "query-log-configs": {
            c["Id"]: c
            for page in pages(resolver, "ListResolverQueryLogConfigs", where)
            for c in page.get("ResolverQueryLogConfigs", [])
        },
        "firewall-configs": {
            c["ResourceId"]: c
            for page in pages(resolver, "ListFirewallConfigs", where)
            for c in page.get("FirewallConfigs", [])
        },
        "domain-lists": {
            d["Id"]: d
            for page in pages(resolver, "ListFirewallDomainLists", where)
            for d in page.get("FirewallDomainLists", [])
        },
    }
    for vpc in sorted(audit.vpcs(), key=lambda v: v["VpcId"]):
        vpc_id = vpc["VpcId"]
        vpc_arn = ec2_arn(audit, "vpc", vpc_id)
        _query_logging_result(audit, resolver, vpc_id, vpc_arn, cache)
        _firewall_results(audit, resolver, vpc_id, vpc_arn, cache)
    _forwarding_results(audit, resolver, where)


# --------------------------------------------------------------------------- forwarding


def _resolver_own(rule: dict) -> bool:
    """A rule that keeps names with the Resolver: SYSTEM, or Resolver's auto-defined recursive rule
    ("Internet Resolver", owner "Route 53 Resolver"), which is what a VPC does with no rule at all."""
    if rule.get("RuleType") == "SYSTEM":
        return True
    auto = str(rule.get("Id", "")).startswith("rslvr-autodefined-rr-") or rule.get("OwnerId") == "Route 53 Resolver"
    return auto and rule.get("RuleType") == "RECURSIVE"


def _forwarding_results(audit: Audit, resolver: Any, where: str) -> None:
    rules = {
        r.get("Id"): r for page in pages(resolver, "ListResolverRules", where) for r in page.get("ResolverRules", [])
    }
    associations = [
        a
        for page in pages(resolver, "ListResolverRuleAssociations", where)
        for a in page.get("ResolverRuleAssociations", [])
        if a.get("Status") not in ("DELETING", "FAILED")
    ]
    endpoints = [
        e for page in pages(resolver, "ListResolverEndpoints", where) for e in page.get("ResolverEndpoints", [])
    ]
    for vpc in sorted(audit.vpcs(), key=lambda v: v["VpcId"]):
        vpc_id = vpc["VpcId"]
        found, named = [], [ec2_arn(audit, "vpc", vpc_id)]
        for assoc in associations:
            if assoc.get("VPCId") != vpc_id:
                continue
            rule = rules.get(assoc.get("ResolverRuleId")) or {}
            if _resolver_own(rule):
                continue
            targets = ", ".join(
                f"{t.get('Ip') or t.get('Ipv6')}:{t.get('Port', 53)}" for t in rule.get("TargetIps") or []
            )
            found.append(
                f"{rule.get('RuleType') or 'unreadable'} rule {assoc.get('ResolverRuleId')} for "
                f"{rule.get('DomainName', assoc.get('Name', '?'))}" + (f" to {targets}" if targets else "")
            )
            named.append(rule.get("Arn") or str(assoc.get("ResolverRuleId")))
        for endpoint in endpoints:
            if endpoint.get("HostVPCId") == vpc_id:
                found.append(f"{endpoint.get('Direction', '?')} Resolver endpoint {endpoint.get('Id')}")
                named.append(endpoint.get("Arn") or str(endpoint.get("Id")))
        audit.add("dns-no-resolver-forwarding", not found, named, "; ".join(found) or "no forwarding rule, no endpoint")


# --------------------------------------------------------------------------- query logging


def _query_logging_result(audit: Audit, resolver: Any, vpc_id: str, vpc_arn: str, cache: dict) -> None:
    bucket_arn = audit.cfg.bucket_arn("audit-logs")
    associations = [
        a
        for page in pages(
            resolver,
            "ListResolverQueryLogConfigAssociations",
            f"query log associations of {vpc_id}",
            Filters=[{"Name": "ResourceId", "Values": [vpc_id]}],
        )
        for a in page.get("ResolverQueryLogConfigAssociations", [])
        if a.get("ResourceId") == vpc_id and a.get("Status") != "DELETING"
    ]
    to_site, elsewhere, broken = [], [], []
    for association in associations:
        config_id = association["ResolverQueryLogConfigId"]
        # A config shared from another account is not in this account's list: its owner is unknown.
        config = cache["query-log-configs"].get(config_id, {"OwnerId": "another account"})
        destination = config.get("DestinationArn", "")
        if not _destination_inside(audit, destination) or config.get("OwnerId", audit.account) != audit.account:
            elsewhere.append(f"{config_id} (owner {config.get('OwnerId')}) to {destination}")
        elif destination == bucket_arn or destination.startswith(f"{bucket_arn}/"):
            if association.get("Status") == "ACTIVE" and association.get("Error", "NONE") == "NONE":
                to_site.append(config_id)
            else:
                broken.append(f"{config_id}: {association.get('Status')} {association.get('Error', '')}".strip())
    problems = [] if to_site else [f"no ACTIVE query logging into {bucket_arn}"]
    problems += [f"failing: {b}" for b in broken] + [f"logs outside the site: {e}" for e in elsewhere]
    audit.add(
        "dns-query-logging",
        not problems,
        [vpc_arn, bucket_arn],
        "; ".join(problems) or f"query log config {', '.join(to_site)} into {bucket_arn}",
    )


def _destination_inside(audit: Audit, destination: str) -> bool:
    """A bucket of the data account in the site region, or a log group / stream of the data account there."""
    if destination.startswith("arn:aws:s3:::"):
        name = destination.removeprefix("arn:aws:s3:::").split("/", 1)[0]
        return any(b["Name"] == name and b["Region"] == audit.cfg.region for b in audit.buckets())
    return arn_account(destination) == audit.account and arn_region(destination) == audit.cfg.region


# --------------------------------------------------------------------------- DNS Firewall


def _firewall_results(audit: Audit, resolver: Any, vpc_id: str, vpc_arn: str, cache: dict) -> None:
    region = audit.cfg.region
    associations = sorted(
        (
            a
            for page in pages(
                resolver, "ListFirewallRuleGroupAssociations", f"DNS Firewall associations of {vpc_id}", VpcId=vpc_id
            )
            for a in page.get("FirewallRuleGroupAssociations", [])
            if a.get("VpcId") == vpc_id and a.get("Status") != "DELETING"
        ),
        key=lambda a: (a.get("Priority", 0), a.get("Id", "")),
    )
    problems: list[str] = []
    denied = None
    try:
        blocked_all = _walk_rules(resolver, associations, region, cache, problems)
    except AccessDeniedError as exc:
        # Rules and domain lists take resource-level grants the auditor may lack: fail, naming it.
        blocked_all, denied = False, exc.action
        problems.append(f"not readable: {exc.action} denied")
    if not associations:
        problems.append("no DNS Firewall rule group associated")
    elif not blocked_all and denied is None:
        problems.append("no rule blocks every other name (BLOCK on a list holding *, for every query type)")
    arns = [vpc_arn, *(a.get("Arn") or a["Id"] for a in associations)]
    audit.add(
        "dns-firewall-blocks-egress",
        not problems,
        arns,
        "; ".join(problems) or f"only {region} AWS names pass; everything else is blocked",
        fix=None
        if denied is None
        else (
            f"Let the auditor role read the rule groups and domain lists ({denied} on "
            f"arn:aws:route53resolver:{region}:{audit.account}:*), then run again."
        ),
    )
    if not associations:
        audit.add("dns-firewall-mutation-protected", True, [vpc_arn], "no association (see dns-firewall-blocks-egress)")
    else:
        open_ = [a.get("Arn") or a["Id"] for a in associations if a.get("MutationProtection") != "ENABLED"]
        audit.add(
            "dns-firewall-mutation-protected",
            not open_,
            arns,
            f"mutation protection off on {', '.join(open_)}" if open_ else "every association protected",
        )
    # No config listed means AWS's default: fail closed.
    fail_open = cache["firewall-configs"].get(vpc_id, {}).get("FirewallFailOpen", "DISABLED")
    audit.add("dns-firewall-fail-closed", fail_open == "DISABLED", [vpc_arn], f"FirewallFailOpen {fail_open}")


def _walk_rules(resolver: Any, associations: list[dict], region: str, cache: dict, problems: list[str]) -> bool:
    """Evaluate the rule groups in AWS's order; whether a BLOCK of every name is reached."""
    blocked_all = False
    for association in associations:
        for rule in _rules(resolver, association["FirewallRuleGroupId"], cache):
            if blocked_all:
                break
            name = f"rule {rule.get('Name') or rule.get('Priority')} of {association['FirewallRuleGroupId']}"
            action = rule.get("Action")
            list_id = rule.get("FirewallDomainListId")
            if not list_id:
                # A DNS Firewall Advanced rule acts on detected threats only.
                if action != "BLOCK":
                    problems.append(f"{name} {action}s without a domain list")
                continue
            domains = _domains(resolver, list_id, cache)
            if action == "BLOCK":
                blocked_all = domains is not None and "*" in domains and not rule.get("Qtype")
                continue
            if domains is None:
                problems.append(f"{name} {action}s the managed list {list_id}, whose names cannot be read")
                continue
            outside = sorted(d for d in domains if not is_region_name(d, region))
            if outside:
                problems.append(f"{name} {action}s {', '.join(outside)}")
    return blocked_all


def _rules(resolver: Any, group_id: str, cache: dict) -> list[dict]:
    key = f"rules:{group_id}"
    if key not in cache:
        rules = [
            r
            for page in pages(
                resolver,
                "ListFirewallRules",
                f"rules of DNS Firewall rule group {group_id}",
                FirewallRuleGroupId=group_id,
            )
            for r in page.get("FirewallRules", [])
        ]
        cache[key] = sorted(rules, key=lambda r: r.get("Priority", 0))
    return cache[key]


def _domains(resolver: Any, list_id: str, cache: dict) -> list[str] | None:
    """The list's domains, or None for an AWS-managed list (its contents are not published)."""
    key = f"domains:{list_id}"
    if key not in cache:
        listing = cache["domain-lists"].get(list_id, {})
        if listing.get("ManagedOwnerName"):
            cache[key] = None
        else:
            cache[key] = [
                d
                for page in pages(
                    resolver, "ListFirewallDomains", f"DNS Firewall domain list {list_id}", FirewallDomainListId=list_id
                )
                for d in page.get("Domains", [])
            ]
    return cache[key]


FAMILY = Family("DNS query logging and firewall", CHECKS, PERMISSIONS, run)
