"""What a whole stack proves about its own resources: where each lives, which buckets are the site's.

Stack policies share one index per stack (the engine hands every stack policy
the same resources): each resource's placement (its own ``region``, else its
provider's; the account its provider is pinned to), the program's buckets by
name, resources by their known ids and ARNs, the private hosted zones, and
each resource's scan hits, computed once.
"""

from __future__ import annotations

from typing import Any

from .scan import Hit, resource_hits
from .site import Site
from .values import _PROXIES, _UNKNOWN_SENTINELS, MISSING, decode_json, get, is_unknown, items

# Inputs that are patterns to match, not names the resource reaches: a DNS firewall domain list's
# domains are judged by how rules use them (no-egress), so the scan leaves them alone.
# A provider's account pinning is region-pinned's to decide (with the accounts it trusts for
# that provider); the other perimeters would only repeat it.
SCAN_EXEMPT = {
    "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList": frozenset({"domains"}),
    "pulumi:providers:aws": frozenset({"allowedAccountIds", "forbiddenAccountIds"}),
}
BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
ZONE = "aws:route53/zone:Zone"
NON_S3_BUCKET_TYPES = frozenset(
    {
        # InfluxDB's own "bucket" (a time-series database's name), not an S3 bucket.
        "aws:timestreaminfluxdb/dbInstance:DbInstance",
        "aws:timestreaminfluxdb/dbCluster:DbCluster",
    }
)


def _known(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not is_unknown(value)


def provider_accounts(resource: Any) -> list[str]:
    """Accounts the resource's provider is pinned to (``allowedAccountIds``)."""
    if resource.provider is None:
        return []
    accounts = decode_json(get(resource.provider.props, "allowedAccountIds"))
    return [a for a in accounts if isinstance(a, str)] if isinstance(accounts, list) else []


class StackIndex:
    """One stack's resources, indexed for the perimeter rules."""

    def __init__(self, resources: list, site: Site):
        self.site = site
        self.resources = resources
        self.by_urn = {r.urn: r for r in resources}
        self.by_ref: dict[str, Any] = {}
        """Resources by every known id and ARN they expose."""
        self.buckets: dict[str, Any] = {}
        self.private_zones: tuple[str, ...] = ()
        self._hits: dict[str, list[Hit]] = {}
        self._of_type: dict[str, list] = {}
        self._referrers: dict[tuple[str, str, str], dict[str, list]] = {}
        self.memo: dict[Any, Any] = {}
        """Results a rule computes once per stack (a rule group's verdict, say), keyed as the rule likes."""
        self._placement: dict[str, tuple[str | None, str | None]] = {}
        zones = []
        of_type = self._of_type
        by_ref = self.by_ref
        for res in resources:
            props = res.props
            target = props["__target"] if type(props) in _PROXIES else props
            typ = res.resource_type
            of_type.setdefault(typ, []).append(res)
            for key in ("id", "arn"):
                value = target.get(key)
                if type(value) is str and value and value not in _UNKNOWN_SENTINELS:
                    by_ref.setdefault(value, res)
            if typ in BUCKET_TYPES:
                name = get(props, "bucket")
                if _known(name):
                    self.buckets[name] = res
            elif typ == ZONE and items(get(props, "vpcs")):
                name = get(props, "name")
                if _known(name):
                    zones.append(name.rstrip(".").lower())
        self.private_zones = tuple(zones)

    def of_type(self, resource_type: str) -> list:
        """The stack's resources of one type, in order (indexed once: rules must not scan the stack per resource)."""
        return self._of_type.get(resource_type, [])

    # ------------------------------------------------------------------ placement

    def placement(self, res: Any) -> tuple[str | None, str | None]:
        """``(region, account)`` a resource lands in, as far as the stack proves it (None: not proven)."""
        cached = self._placement.get(res.urn)
        if cached is not None:
            return cached
        own = get(res.props, "region")
        region = own if _known(own) else None
        account = None
        if res.provider is not None:
            if region is None and own in (MISSING, None, ""):
                prov_region = get(res.provider.props, "region")
                region = prov_region if _known(prov_region) else None
            accounts = provider_accounts(res)
            account = accounts[0] if len(accounts) == 1 else None
        self._placement[res.urn] = (region, account)
        return region, account

    def in_site(self, res: Any, account: str | None = None) -> bool:
        """True when the resource provably lands in the site's region (and in ``account``, or a site account)."""
        region, acct = self.placement(res)
        if region != self.site.region or acct is None:
            return False
        return acct == account if account else acct in self.site.accounts

    # ------------------------------------------------------------------ buckets

    def bucket_problem(self, name: str) -> str | None:
        """Why bucket ``name`` is not provably a bucket of the site (None when it is)."""
        bucket = self.buckets.get(name)
        if bucket is None:
            return (
                f"bucket {name!r} is not a bucket of this program, so its region and owner cannot be proven: "
                f"create it in this program on the site's data provider ({self.site.region}, account "
                f"{self.site.data})"
            )
        region, account = self.placement(bucket)
        if region != self.site.region or account != self.site.data:
            return (
                f"bucket {name!r} ({bucket.urn}) is not provably in {self.site.region} and the data account "
                f"{self.site.data} (its provider gives {region or 'no known region'}, {account or 'no single account'})"
                ": create it on the site's data provider"
            )
        return None

    def dependency_bucket_problem(self, res: Any, prop: str) -> str | None:
        """For a bucket input unknown at preview: why its dependencies do not prove a site bucket."""
        deps = [d for d in res.property_dependencies.get(prop, []) if d.resource_type in BUCKET_TYPES]
        if not deps:
            return (
                f"{prop} is unknown at preview and does not come from a bucket of this program: "
                "pass one of the program's buckets (its id or name)"
            )
        for dep in deps:
            if not self.in_site(dep, self.site.data):
                region, account = self.placement(dep)
                return (
                    f"{prop} comes from bucket {dep.urn}, which is not provably in {self.site.region} and the data "
                    f"account {self.site.data} (provider gives {region}, {account}): use a bucket on the data provider"
                )
        return None

    def bucket_hit_problem(self, res: Any, hit: Hit) -> str | None:
        """For a scan hit naming a bucket (known or unknown at preview): why it is not provably the site's."""
        if res.resource_type in NON_S3_BUCKET_TYPES:
            return None
        if hit.kind == "bucket-unknown":
            return self.dependency_bucket_problem(res, hit.prop)
        if res.resource_type in BUCKET_TYPES and hit.value == get(res.props, "bucket"):
            return None  # a bucket's own name: where the bucket is, region-pinned decides
        problem = self.bucket_problem(hit.value)
        return f"{hit.prop}: {problem}" if problem else None

    # ------------------------------------------------------------------ references

    def resolve(self, res: Any, prop: str, value: Any) -> list:
        """The stack's resources an input refers to: by known id/ARN, else by property dependency."""
        if _known(value) and value in self.by_ref:
            return [self.by_ref[value]]
        return list(res.property_dependencies.get(prop, []))

    def refs(self, res: Any, prop: str, wanted: str) -> list:
        """The resources of type ``wanted`` that input ``prop`` refers to: by property dependency, or by a known id/ARN."""
        found = [d for d in res.property_dependencies.get(prop, []) if d.resource_type == wanted]
        value = get(res.props, prop)
        if _known(value):
            target = self.by_ref.get(value)
            if target is not None and target.resource_type == wanted and target not in found:
                found.append(target)
        return found

    def referrers(self, target: Any, via: str, prop: str) -> list:
        """The resources of type ``via`` whose input ``prop`` refers to ``target`` (indexed once per stack)."""
        key = (via, prop, target.resource_type)
        table = self._referrers.get(key)
        if table is None:
            table = {}
            for res in self.of_type(via):
                for ref in self.refs(res, prop, target.resource_type):
                    table.setdefault(ref.urn, []).append(res)
            self._referrers[key] = table
        return table.get(target.urn, [])

    def in_private_zone(self, host: str) -> bool:
        """True for a name under one of the program's private hosted zones (a name inside the site's VPC)."""
        return any(host == z or host.endswith("." + z) for z in self.private_zones)

    # ------------------------------------------------------------------ scan hits

    def hits(self, res: Any) -> list[Hit]:
        found = self._hits.get(res.urn)
        if found is None:
            found = resource_hits(res.props, self.site, res.resource_type)
            exempt = SCAN_EXEMPT.get(res.resource_type)
            if exempt and found:
                found = [h for h in found if h.prop not in exempt]
            self._hits[res.urn] = found
        return found


_INDEXES: dict[tuple[int, Site], tuple[list, StackIndex]] = {}


def index_of(resources: list, site: Site) -> StackIndex:
    """The index of one stack (shared by every stack policy that gets the same resource list)."""
    key = (id(resources), site)
    cached = _INDEXES.get(key)
    if cached is not None and cached[0] is resources:
        return cached[1]
    index = StackIndex(resources, site)
    if len(_INDEXES) > 8:
        _INDEXES.clear()
    _INDEXES[key] = (resources, index)
    return index


def report_each(
    args: Any,
    site: Site,
    report_violation: Any,
    findings: Any,
    applies: Any,
    special: frozenset[str] | set[str] | dict,
) -> None:
    """Report ``findings(resource, index)`` on each resource the rule ``applies`` to, once per message.

    A resource the scan found nothing in, of a type the rule has no own check
    for, is skipped without building its findings (most resources are clean).
    """
    index = index_of(args.resources, site)
    for res in args.resources:
        typ = res.resource_type
        if not applies(typ) or (typ not in special and not index.hits(res)):
            continue
        for message in dict.fromkeys(findings(res, index)):
            report_violation(message, res.urn)
