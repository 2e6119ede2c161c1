"""no-cross-region-replication: the region perimeter. Nothing names, copies to, or spans another region.

Region tokens are found wherever they appear: an ARN's region, a hostname's
labels (``s3.us-east-1.amazonaws.com``, ``<bucket>.s3-us-west-2...``), an
availability zone, a word inside a script or a JSON document (state machines,
policies, pipeline and container definitions), a key that names a region
(``destinationRegion``, ``replicas[].regionName``...), a multi-/cross-/all-region
switch, membership of a global cluster, or a cross-region inference profile
(``global.``/``eu.``/``us.``... prefixes: AWS routes those to several regions, so
none is provably the site's). Mechanisms that exist only to copy data away or
serve it from many regions are forbidden outright (the registry lists them).

A bucket carries no region in its name or ARN, so every S3 bucket an input
names (a replication, inventory or export destination, a log or trail bucket,
an ``s3://`` URI) must be one of this program's buckets on a provider pinned to
the site's region and data account; anything else fails closed. That makes
same-region replication and in-site inventories provable, and passes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from . import exceptions, names, scan
from .encryption import KMS_KEY, key_problem
from .registry import forbidden_by
from .site import site_of
from .stack import StackIndex, report_each
from .values import MISSING, arn_parts, get, is_set, is_unknown, items, missing_config_message

NAME = names.REGION_PERIMETER

FORBIDDEN_TYPES = forbidden_by(NAME)
"""Types whose only purpose is to copy data or keys elsewhere or serve them from many regions (from the registry)."""

Finding = tuple[str, str]
"""(property path, message)."""


def _unknown(path: str, region: str) -> Finding:
    return path, f"{path} is unknown at preview; a residency rule cannot pass on it: pin it to {region} (or remove it)"


def _arn_in_region(value: Any, region: str) -> bool:
    parts = arn_parts(value)
    return parts is not None and parts[1] == region


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
}
"""Checks of one resource's own inputs."""


# --------------------------------------------------------------------------- checks that need the stack


def _replica_key(res: Any, index: StackIndex) -> Iterator[str]:
    """Same-region replication passes when the replica is encrypted with the operator's key."""
    site = index.site
    deps = res.property_dependencies.get("rules", [])
    for i, rule in enumerate(items(get(res.props, "rules"))):
        key = get(rule, "destination", "encryptionConfiguration", "replicaKmsKeyId")
        path = f"rules[{i}].destination.encryption_configuration.replica_kms_key_id"
        if key is MISSING or key in (None, ""):
            yield (
                f"{path} is not set, so replicas are encrypted as the destination decides, not provably with the "
                "operator's key: set it to the operator key's ARN"
            )
            continue
        problem = key_problem(
            key, [d for d in deps if d.resource_type == KMS_KEY], site.region, site.operator or "", site.data
        )
        if problem:
            yield f"{path}: {problem}"


def _object_copy(res: Any, index: StackIndex) -> Iterator[str]:
    source = get(res.props, "source")
    if is_unknown(source):
        deps = [d for d in res.property_dependencies.get("source", []) if d.resource_type.startswith("aws:s3/bucket")]
        if not deps:
            yield "source is unknown at preview and does not come from this program's buckets: copy only between the site's buckets"
        return
    if isinstance(source, str) and source:
        bucket = source.split("/", 1)[0]
        problem = index.bucket_problem(bucket)
        if problem:
            yield f"source: {problem}"


# Destinations named by ARN, so the scan places them when they are known; unknown at preview,
# they must come from resources of this program that are in the site.
UNKNOWN_DESTINATIONS = {
    "aws:ec2/flowLog:FlowLog": "logDestination",
    "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig": "destinationArn",
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": "destinationArn",
    "aws:cloudwatch/eventTarget:EventTarget": "arn",
    "aws:cloudtrail/trail:Trail": "cloudWatchLogsGroupArn",
}


def _unknown_destination(res: Any, index: StackIndex) -> Iterator[str]:
    prop = UNKNOWN_DESTINATIONS[res.resource_type]
    if not is_unknown(get(res.props, prop)):
        return
    deps = res.property_dependencies.get(prop, [])
    if not deps:
        yield f"{prop} is unknown at preview and does not come from a resource of this program: name a destination in the site"
    for dep in deps:
        if not index.in_site(dep):
            yield f"{prop} comes from {dep.urn}, which is not provably in {index.site.region} and the site's accounts"


STACK_CHECKS: dict[str, Callable[[Any, StackIndex], Iterator[str]]] = {
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": _replica_key,
    "aws:s3/objectCopy:ObjectCopy": _object_copy,
    **dict.fromkeys(UNKNOWN_DESTINATIONS, _unknown_destination),
}
"""Checks that need the rest of the stack (buckets, keys, dependencies)."""

SPECIAL_TYPES = frozenset({*TYPE_CHECKS, *STACK_CHECKS, *FORBIDDEN_TYPES})
"""Types this rule checks by their own inputs, beyond the scan every resource gets."""


# --------------------------------------------------------------------------- the scan


def hit_findings(res: Any, index: StackIndex) -> Iterator[str]:
    """Messages for the other regions, multi-region switches and unprovable buckets one resource's inputs name."""
    region = index.site.region
    for hit in index.hits(res):
        if hit.effect == "Deny":
            continue
        kind = hit.kind
        if kind == scan.REGION:
            if hit.detail == "key":
                yield f"{hit.prop}: {hit.token} is outside the site's region: only {region} is allowed"
            else:
                yield f"{hit.prop}: {hit.token!r} names {hit.value}, outside the site's region {region}: use {region}"
        elif kind == scan.REGION_UNKNOWN:
            yield f"{hit.prop}: {hit.value} is unknown at preview; a residency rule cannot pass on it: pin it to {region} (or remove it)"
        elif kind == scan.REGION_SWITCH:
            yield f"{hit.prop}: {hit.value} = {hit.token} spreads this resource over several regions: remove it or set it false"
        elif kind == scan.GLOBAL_MEMBER:
            yield f"{hit.prop}: {hit.value} = {hit.token} joins a global (multi-region) cluster or group: remove it"
        elif kind == scan.PROFILE:
            yield (
                f"{hit.prop}: {hit.value!r} is a cross-region inference profile ({hit.detail}.), which AWS may serve "
                f"from any of several regions: invoke the model in {region} by its foundation-model id or ARN"
            )
        elif kind in (scan.BUCKET, scan.BUCKET_UNKNOWN):
            problem = index.bucket_hit_problem(res, hit)
            if problem:
                yield problem


def findings(res: Any, index: StackIndex) -> Iterator[str]:
    """Every way one resource names, copies to or spans another region."""
    typ = res.resource_type
    region = index.site.region
    if typ in FORBIDDEN_TYPES:
        yield f"{typ} is not allowed in a residency site: {FORBIDDEN_TYPES[typ]}. Remove it"
        return
    check = TYPE_CHECKS.get(typ)
    if check is not None:
        for _path, message in check(res.props, region):
            yield message
    stack_check = STACK_CHECKS.get(typ)
    if stack_check is not None:
        yield from stack_check(res, index)
    yield from hit_findings(res, index)


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    site = site_of(args)
    if site.region is None:
        report_violation(missing_config_message(NAME, "allowedRegion"))
        return
    report_each(args, site, report_violation, findings, lambda typ: typ.startswith("aws:"), SPECIAL_TYPES)


POLICY = StackValidationPolicy(
    name=NAME,
    description="Nothing names, copies data or keys to, or spans a region other than the site's.",
    validate=exceptions.stack_policy(NAME, validate),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=exceptions.config_schema(required=["allowedRegion"], accounts=True),
)
