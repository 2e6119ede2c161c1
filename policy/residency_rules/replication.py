"""no-cross-region-replication: nothing copies data or keys out of the site's region or to several regions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .values import (
    MISSING,
    REGION_RE,
    arn_parts,
    config_value,
    get,
    is_aws_resource,
    is_set,
    is_unknown,
    items,
    missing_config_message,
    walk,
)

NAME = "no-cross-region-replication"

# Resources whose only purpose is to copy data or keys to another region, or to
# serve it from many regions (edge networks). Any instance is a violation.
FORBIDDEN_TYPES: dict[str, str] = {
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": "S3 replication copies every object to another bucket whose region the pack cannot prove",
    "aws:s3/inventory:Inventory": "an inventory lists every object key into a destination bucket whose region the pack cannot prove",
    "aws:s3/objectCopy:ObjectCopy": "it copies objects between buckets whose regions the pack cannot prove",
    "aws:s3control/multiRegionAccessPoint:MultiRegionAccessPoint": "a Multi-Region Access Point routes reads and writes to buckets in several regions",
    "aws:s3control/multiRegionAccessPointPolicy:MultiRegionAccessPointPolicy": "a Multi-Region Access Point routes reads and writes to buckets in several regions",
    "aws:s3control/multiRegionAccessPointRoutes:MultiRegionAccessPointRoutes": "a Multi-Region Access Point routes reads and writes to buckets in several regions",
    "aws:s3tables/tableBucketReplication:TableBucketReplication": "S3 Tables replication copies tables to other table buckets",
    "aws:s3tables/tableReplication:TableReplication": "S3 Tables replication copies tables to other table buckets",
    "aws:kms/replicaKey:ReplicaKey": "a replica key copies key material into another region",
    "aws:kms/replicaExternalKey:ReplicaExternalKey": "a replica key copies key material into another region",
    "aws:dynamodb/globalTable:GlobalTable": "a global table replicates items to other regions",
    "aws:dynamodb/tableReplica:TableReplica": "a table replica copies items to another region",
    "aws:rds/globalCluster:GlobalCluster": "an Aurora global database replicates to secondary regions",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": "it copies automated backups to another region",
    "aws:docdb/globalCluster:GlobalCluster": "a DocumentDB global cluster replicates to secondary regions",
    "aws:neptune/globalCluster:GlobalCluster": "a Neptune global database replicates to secondary regions",
    "aws:elasticache/globalReplicationGroup:GlobalReplicationGroup": "a global datastore replicates to other regions",
    "aws:memorydb/multiRegionCluster:MultiRegionCluster": "a multi-region cluster replicates to other regions",
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": "ECR replication copies images to other regions or accounts",
    "aws:redshift/snapshotCopy:SnapshotCopy": "it copies cluster snapshots to another region",
    "aws:redshift/snapshotCopyGrant:SnapshotCopyGrant": "it lets Redshift use a KMS key for cross-region snapshot copies",
    "aws:msk/replicator:Replicator": "an MSK replicator copies topics to another cluster, possibly in another region",
    "aws:dsql/clusterPeering:ClusterPeering": "cluster peering makes an Aurora DSQL cluster multi-region",
    "aws:ssmincidents/replicationSet:ReplicationSet": "an incident replication set stores incident data in several regions",
    "aws:securityhub/findingAggregator:FindingAggregator": "a finding aggregator copies findings across regions",
    "aws:securityhub/aggregatorV2:AggregatorV2": "an aggregator copies findings across regions",
    "aws:sesv2/multiRegionEndpoint:MultiRegionEndpoint": "a multi-region endpoint sends mail through several regions",
    "aws:cfg/configurationAggregator:ConfigurationAggregator": "a configuration aggregator copies configuration data across regions",
    "aws:cfg/aggregateAuthorization:AggregateAuthorization": "it lets an aggregator in another region or account collect this site's configuration",
    "aws:cloudwatch/eventEndpoint:EventEndpoint": "a global endpoint replicates events to a secondary region",
    "aws:drs/replicationConfigurationTemplate:ReplicationConfigurationTemplate": "Elastic Disaster Recovery replicates disks to a staging region",
    "aws:arcregionswitch/plan:Plan": "a Region switch plan fails workloads over to other regions",
    "aws:cloudfront/distribution:Distribution": "CloudFront caches content in edge locations worldwide",
    "aws:cloudfront/multitenantDistribution:MultitenantDistribution": "CloudFront caches content in edge locations worldwide",
    "aws:cloudfront/distributionTenant:DistributionTenant": "CloudFront caches content in edge locations worldwide",
    "aws:lightsail/distribution:Distribution": "a Lightsail distribution caches content in edge locations worldwide",
    "aws:globalaccelerator/accelerator:Accelerator": "Global Accelerator carries traffic through edge locations worldwide",
    "aws:globalaccelerator/customRoutingAccelerator:CustomRoutingAccelerator": "Global Accelerator carries traffic through edge locations worldwide",
    "aws:globalaccelerator/endpointGroup:EndpointGroup": "Global Accelerator carries traffic through edge locations worldwide",
    "aws:globalaccelerator/customRoutingEndpointGroup:CustomRoutingEndpointGroup": "Global Accelerator carries traffic through edge locations worldwide",
    "aws:globalaccelerator/listener:Listener": "Global Accelerator carries traffic through edge locations worldwide",
    "aws:globalaccelerator/customRoutingListener:CustomRoutingListener": "Global Accelerator carries traffic through edge locations worldwide",
    "aws:globalaccelerator/crossAccountAttachment:CrossAccountAttachment": "Global Accelerator carries traffic through edge locations worldwide",
}

_WORD_RE = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")

Finding = tuple[str, str]
"""(property path, message)."""


@lru_cache(maxsize=4096)
def _words(key: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD_RE.findall(key))


def _unknown(path: str, region: str) -> Finding:
    return path, f"{path} is unknown at preview; a residency rule cannot pass on it: pin it to {region} (or remove it)"


# --------------------------------------------------------------------------- per-type checks


def _bucket(props: Any, region: str) -> Iterator[Finding]:
    for key in ("replicationConfiguration", "replicationConfigurations"):
        if is_set(get(props, key)):
            yield key, f"{key} (inline S3 replication) copies objects to another bucket: remove it"


def _kms_key(props: Any, region: str) -> Iterator[Finding]:
    value = get(props, "multiRegion")
    if is_unknown(value):
        yield _unknown("multiRegion", region)
    elif value is True:
        yield "multiRegion", "multiRegion = true lets the key be replicated to other regions: set multi_region=False"


def _dynamodb_table(props: Any, region: str) -> Iterator[Finding]:
    if is_set(get(props, "replicas")):
        yield "replicas", "replicas turn the table into a global table in other regions: remove them"
    if is_set(get(props, "globalTableWitness")):
        yield "globalTableWitness", "a global table witness stores table data in another region: remove it"


def _secret(props: Any, region: str) -> Iterator[Finding]:
    if is_set(get(props, "replicas")):
        yield "replicas", "replicas copy the secret to other regions: remove them"


def _source_arn(key: str) -> Callable[[Any, str], Iterator[Finding]]:
    def check(props: Any, region: str) -> Iterator[Finding]:
        if is_unknown(get(props, key)):
            yield _unknown(key, region)

    return check


def _backup_plan(props: Any, region: str) -> Iterator[Finding]:
    for i, rule in enumerate(items(get(props, "rules"))):
        for j, action in enumerate(items(get(rule, "copyActions"))):
            path = f"rules[{i}].copyActions[{j}].destinationVaultArn"
            vault = get(action, "destinationVaultArn")
            if is_unknown(vault):
                yield _unknown(path, region)
            elif not _arn_in_region(vault, region):
                yield path, f"{path} = {vault!r} copies backups to a vault outside {region}: copy only within {region}"


def _efs_replication(props: Any, region: str) -> Iterator[Finding]:
    dest_region = get(props, "destination", "region")
    zone = get(props, "destination", "availabilityZoneName")
    if is_unknown(dest_region) or is_unknown(zone):
        yield _unknown("destination.region", region)
    elif dest_region is MISSING and not (isinstance(zone, str) and zone.startswith(region)):
        yield (
            "destination.region",
            f"destination.region is not set, so the replica's region is not proven: set it to {region}",
        )


def _event_data_store(props: Any, region: str) -> Iterator[Finding]:
    value = get(props, "multiRegionEnabled")
    if is_unknown(value):
        yield _unknown("multiRegionEnabled", region)
    elif value is not False:
        # AWS's default for event data stores is multi-region.
        yield (
            "multiRegionEnabled",
            "an event data store collects events of every region unless multi_region_enabled=False: set it",
        )


def _accelerate(props: Any, region: str) -> Iterator[Finding]:
    status = get(props, "status")
    if status != "Suspended":
        yield (
            "status",
            f"transfer acceleration (status {status!r}) moves objects through edge locations worldwide: set status 'Suspended' or remove it",
        )


def _api_endpoint(props: Any, region: str) -> Iterator[Finding]:
    types = get(props, "endpointConfiguration", "types")
    if is_unknown(types) or any(is_unknown(t) for t in items(types)):
        yield _unknown("endpointConfiguration.types", region)
    elif not items(types) or any(t == "EDGE" for t in items(types)):
        # API Gateway's default endpoint type is EDGE (served through CloudFront).
        yield (
            "endpointConfiguration.types",
            "an EDGE endpoint (the default) is served through CloudFront worldwide: set types ['REGIONAL'] or ['PRIVATE']",
        )


def _keyspace(props: Any, region: str) -> Iterator[Finding]:
    strategy = get(props, "replicationSpecification", "replicationStrategy")
    if is_unknown(strategy):
        yield _unknown("replicationSpecification.replicationStrategy", region)
    elif strategy == "MULTI_REGION":
        yield (
            "replicationSpecification.replicationStrategy",
            "MULTI_REGION replicates the keyspace to other regions: use SINGLE_REGION",
        )


def _mq_broker(props: Any, region: str) -> Iterator[Finding]:
    mode = get(props, "dataReplicationMode")
    if is_unknown(mode):
        yield _unknown("dataReplicationMode", region)
    elif mode == "CRDR":
        yield "dataReplicationMode", "CRDR replicates broker data to another region: use NONE"


def _analytics(props: Any, region: str) -> Iterator[Finding]:
    if is_set(get(props, "storageClassAnalysis", "dataExport")):
        yield (
            "storageClassAnalysis.dataExport",
            "the analytics export writes object metadata to a bucket whose region the pack cannot prove: remove it",
        )


TYPE_CHECKS: dict[str, Callable[[Any, str], Iterator[Finding]]] = {
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketV2:BucketV2": _bucket,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/externalKey:ExternalKey": _kms_key,
    "aws:dynamodb/table:Table": _dynamodb_table,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:rds/instance:Instance": _source_arn("replicateSourceDb"),
    "aws:rds/cluster:Cluster": _source_arn("replicationSourceIdentifier"),
    "aws:neptune/cluster:Cluster": _source_arn("replicationSourceIdentifier"),
    "aws:backup/plan:Plan": _backup_plan,
    "aws:efs/replicationConfiguration:ReplicationConfiguration": _efs_replication,
    "aws:cloudtrail/eventDataStore:EventDataStore": _event_data_store,
    "aws:s3/bucketAccelerateConfiguration:BucketAccelerateConfiguration": _accelerate,
    "aws:s3/bucketAccelerateConfigurationV2:BucketAccelerateConfigurationV2": _accelerate,
    "aws:apigateway/restApi:RestApi": _api_endpoint,
    "aws:apigateway/domainName:DomainName": _api_endpoint,
    "aws:keyspaces/keyspace:Keyspace": _keyspace,
    "aws:mq/broker:Broker": _mq_broker,
    "aws:s3/analyticsConfiguration:AnalyticsConfiguration": _analytics,
}


# --------------------------------------------------------------------------- generic net


def _arn_in_region(value: Any, region: str) -> bool:
    parts = arn_parts(value)
    return parts is not None and parts[1] == region


def generic_findings(props: Any, region: str) -> Iterator[Finding]:
    """Any input, at any depth, that names another region or spans several.

    This is the net for mechanisms no per-type check names: keys that name a
    region (``destinationRegion``, ``sourceAmiRegion``, ``regions[]``, nested
    ``region``...), multi/cross/all-region switches, membership in a global
    cluster or group, and ARNs of resources in other regions.
    """
    for path, key, value in walk(props):
        if path == "region":
            continue  # the resource's own region: region-pinned reports it
        words = _words(key)
        if "region" in words or "regions" in words:
            if ("multi" in words or "cross" in words or "all" in words) and is_set(value):
                yield path, f"{path} = {value!r} spreads this resource over several regions: remove it or set it false"
                continue
            if is_unknown(value):
                yield _unknown(path, region)
                continue
            if isinstance(value, str) and REGION_RE.match(value) and value != region:
                yield path, f"{path} = {value!r} is outside the site's region: only {region} is allowed"
                continue
        elif "global" in words and words[-1] in ("identifier", "id", "name", "arn") and is_set(value):
            yield path, f"{path} = {value!r} joins a global (multi-region) cluster or group: remove it"
            continue
        if isinstance(value, str) and value.startswith("arn:"):
            parts = arn_parts(value)
            if parts and REGION_RE.match(parts[1]) and parts[1] != region:
                yield (
                    path,
                    f"{path} = {value!r} refers to a resource in {parts[1]}, outside {region}: use one in {region}",
                )


def findings(resource_type: str, props: Any, region: str) -> list[Finding]:
    """Every replication finding for one resource, one per property path."""
    seen: dict[str, str] = {}
    if resource_type in FORBIDDEN_TYPES:
        seen[""] = f"{resource_type} is not allowed in a residency site: {FORBIDDEN_TYPES[resource_type]}. Remove it"
    check = TYPE_CHECKS.get(resource_type)
    if check is not None:
        for path, message in check(props, region):
            seen.setdefault(path, message)
    for path, message in generic_findings(props, region):
        # The generic net also sees list items under their list's key: keep one message per path.
        if not any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in seen if p):
            seen.setdefault(path, message)
    return list(seen.items())


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_aws_resource(args.resource_type):
        return
    region = config_value(args, "allowedRegion")
    if region is None:
        report_violation(missing_config_message(NAME, "allowedRegion"))
        return
    for _path, message in findings(args.resource_type, args.props, region):
        report_violation(message)


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="Nothing may copy data or keys out of the site's region or to several regions.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"allowedRegion": {"type": "string", "description": "The site's one AWS region."}},
        required=["allowedRegion"],
    ),
)
