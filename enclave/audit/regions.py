"""The site's data anywhere: data-bearing resources of the data account in every other region.

The data account holds one site, so anything that stores data in another
region is data outside the site. Every region enabled for the account
(``DescribeRegions``) except the site's is inventoried two ways:

- the Resource Groups Tagging API (``tag:GetResources``), which lists every
  resource that is (or was) tagged, of every type: a resource carrying the
  site's residency tag ``enclave:site`` fails whatever it is, any other fails if
  its type stores data (``DATA_SERVICES``, ``DATA_TYPES``);
- per-service listings for the data stores most often made by hand, which the
  tagging API misses while they have never been tagged (``UNTAGGED_LISTINGS``).

Buckets are not inventoried here: ``ListBuckets`` is global and
``s3-bucket-in-region`` checks each. AWS Resource Explorer would answer in one
search if an aggregator index were set up, but it is optional and moto does not
model it, so the audit does not depend on it.

A region the audit may not read fails with the permission named: a region that
cannot be inventoried cannot be proven empty. When AWS says a service control
policy refused the reads (the guardrails' region deny, which does not exempt
the auditor yet), the result is ``unverified``: the guardrail is in force there,
but what the region holds could not be listed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from components.security_gates import INVENTORY_READ_ACTIONS
from enclave.audit.base import Audit, Check, Family, register, scp_exemption_fix
from enclave.audit.common import AccessDeniedError, call, pages

CHECKS = register(
    Check(
        "region-no-site-data",
        "No other region holds a data-bearing resource of the data account",
        "no resource tagged enclave:site and no data store (key, secret, table, database, volume, snapshot, "
        "image, file system, repository, log group, queue, stream, ...) in the region",
        "Move what the resource holds back into the site by an audited one-off, then delete it; find who "
        "created it in that region's CloudTrail events (the site's trail records only its own region).",
    ),
)

SITE_TAG = "enclave:site"

DATA_SERVICES = frozenset(
    {
        "aoss",
        "backup",
        "cassandra",
        "cognito-idp",
        "docdb-elastic",
        "dynamodb",
        "ecr",
        "elasticfilesystem",
        "es",
        "firehose",
        "fsx",
        "glacier",
        "kafka",
        "kinesis",
        "kinesisvideo",
        "memorydb",
        "neptune-graph",
        "qldb",
        "redshift-serverless",
        "s3tables",
        "secretsmanager",
        "sns",
        "sqs",
        "timestream",
    }
)
"""Services every resource of which stores data."""

DATA_TYPES = {
    "ec2": frozenset({"volume", "snapshot", "image", "instance"}),
    "elasticache": frozenset({"cluster", "replicationgroup", "snapshot", "serverlesscache"}),
    "glue": frozenset({"database", "table"}),
    "kms": frozenset({"key"}),
    "lambda": frozenset({"function"}),
    "logs": frozenset({"log-group"}),
    "rds": frozenset({"db", "cluster", "snapshot", "cluster-snapshot"}),
    "redshift": frozenset({"cluster", "snapshot"}),
    "s3": frozenset({"accesspoint"}),
    "ssm": frozenset({"parameter"}),
}
"""Services some of whose resource types store data (the others, e.g. subnet groups, do not)."""


@dataclass(frozen=True)
class _Listing:
    service: str
    operation: str
    items: str
    arn: Callable[[str, str, Any], str]
    """(region, account, item) -> the item's ARN."""
    kwargs: tuple[tuple[str, Any], ...] = ()


UNTAGGED_LISTINGS = (
    _Listing("secretsmanager", "ListSecrets", "SecretList", lambda r, a, i: i["ARN"]),
    _Listing("dynamodb", "ListTables", "TableNames", lambda r, a, i: f"arn:aws:dynamodb:{r}:{a}:table/{i}"),
    _Listing("ec2", "DescribeVolumes", "Volumes", lambda r, a, i: f"arn:aws:ec2:{r}:{a}:volume/{i['VolumeId']}"),
    _Listing(
        "ec2",
        "DescribeSnapshots",
        "Snapshots",
        lambda r, a, i: f"arn:aws:ec2:{r}::snapshot/{i['SnapshotId']}",
        (("OwnerIds", ["self"]),),
    ),
    _Listing("efs", "DescribeFileSystems", "FileSystems", lambda r, a, i: i.get("FileSystemArn") or i["FileSystemId"]),
    _Listing(
        "logs", "DescribeLogGroups", "logGroups", lambda r, a, i: i.get("logGroupArn") or i["arn"].removesuffix(":*")
    ),
    _Listing("sqs", "ListQueues", "QueueUrls", lambda r, a, i: f"arn:aws:sqs:{r}:{a}:{i.rsplit('/', 1)[-1]}"),
    _Listing("kinesis", "ListStreams", "StreamNames", lambda r, a, i: f"arn:aws:kinesis:{r}:{a}:stream/{i}"),
    _Listing(
        "firehose",
        "ListDeliveryStreams",
        "DeliveryStreamNames",
        lambda r, a, i: f"arn:aws:firehose:{r}:{a}:deliverystream/{i}",
    ),
    _Listing("es", "ListDomainNames", "DomainNames", lambda r, a, i: f"arn:aws:es:{r}:{a}:domain/{i['DomainName']}"),
    _Listing(
        "redshift",
        "DescribeClusters",
        "Clusters",
        lambda r, a, i: f"arn:aws:redshift:{r}:{a}:cluster:{i['ClusterIdentifier']}",
    ),
    _Listing("glacier", "ListVaults", "VaultList", lambda r, a, i: i["VaultARN"], (("accountId", "-"),)),
    _Listing("fsx", "DescribeFileSystems", "FileSystems", lambda r, a, i: i["ResourceARN"]),
    _Listing("kafka", "ListClustersV2", "ClusterInfoList", lambda r, a, i: i["ClusterArn"]),
)
"""Data stores listed directly: the tagging API misses a resource that was never tagged.

An image's data lives in its snapshots, which ``DescribeSnapshots`` lists. Only
listings whose IAM action takes no resource-level grant are here (``Resource:
"*"`` then grants exactly them); RDS databases and ECR repositories, whose
listings do, are found through their tags."""

PERMISSIONS = tuple(sorted({*INVENTORY_READ_ACTIONS, "ec2:DescribeRegions"}))
"""The listings above (what the auditor's boundary lets it call in every region), and the enabled regions."""


def other_regions(audit: Audit) -> list[str]:
    """Regions enabled for the account, the site's excepted (a region not opted in can hold nothing)."""
    listed = call(audit.client("ec2"), "DescribeRegions", f"regions of account {audit.account}")["Regions"]
    return sorted(
        r["RegionName"]
        for r in listed
        if r.get("OptInStatus") != "not-opted-in" and r["RegionName"] != audit.cfg.region
    )


def run(audit: Audit) -> None:
    regions = [r for r in other_regions(audit) if audit.other_regions is None or r in audit.other_regions]
    for i, region in enumerate(regions, 1):
        audit.progress(f"audit: regions: {region} ({i}/{len(regions)})")
        _region_result(audit, region)


def data_bearing(arn: str) -> bool:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return False
    service, resource = parts[2], parts[5]
    if service in DATA_SERVICES:
        return True
    kind = resource.split("/", 1)[0].split(":", 1)[0]
    return kind in DATA_TYPES.get(service, ())


def _region_result(audit: Audit, region: str) -> None:
    found: dict[str, str] = {}
    others: set[str] = set()
    denied: list[AccessDeniedError] = []
    try:
        _tagged(audit, region, found, others)
    except AccessDeniedError as exc:
        denied.append(exc)
    for listing in UNTAGGED_LISTINGS:
        try:
            client = audit.client(listing.service, region=region)
            for page in pages(
                client,
                listing.operation,
                f"{listing.items} of account {audit.account} in {region}",
                **dict(listing.kwargs),
            ):
                for item in page.get(listing.items, []):
                    found.setdefault(listing.arn(region, audit.account, item), listing.operation)
        except AccessDeniedError as exc:
            denied.append(exc)
    try:
        for arn in _customer_keys(audit, region):
            found.setdefault(arn, "ListKeys")
    except AccessDeniedError as exc:
        denied.append(exc)
    by_scp = sorted({d.action for d in denied if d.by_scp})
    refused = sorted({d.action for d in denied if not d.by_scp})
    scope = [audit.scope(region), *sorted(found)]
    note = (
        f"; also {len(others)} other tagged resource(s) that store no data ({', '.join(sorted(others))})"
        if others
        else ""
    )
    if by_scp and not refused and not found:
        # The guardrails' region deny answered, not the auditor's own policies: it is in force in
        # this region (evidence), but what the region holds could not be listed (not a pass).
        audit.unverified(
            "region-no-site-data",
            scope,
            f"not readable: a service control policy denies {', '.join(by_scp)} in {region} (the guardrails' "
            f"region deny is in force there; the region's data stores could not be listed){note}",
            scp_exemption_fix(audit, by_scp),
        )
        return
    problems = []
    if refused:
        problems.append(f"not readable: {', '.join(refused)} denied in {region}")
    if by_scp:
        problems.append(f"a service control policy denies {', '.join(by_scp)} in {region}")
    if found:
        problems.append(f"{len(found)} data-bearing resource(s): {', '.join(sorted(found))}")
    fix = None
    if denied and not found:
        fix = (
            f"Let the auditor role read {region} ({', '.join(sorted({*refused, *by_scp}))}): exempt these read-only "
            "actions from the permissions boundary's and the guardrails' region deny, then run again."
        )
    audit.add(
        "region-no-site-data",
        not problems,
        scope,
        "; ".join(problems) + note if problems else f"no data-bearing resource{note}",
        fix=fix,
    )


def _tagged(audit: Audit, region: str, found: dict[str, str], others: set[str]) -> None:
    client = audit.client("resourcegroupstaggingapi", region=region)
    for page in pages(client, "GetResources", f"tagged resources of account {audit.account} in {region}"):
        for mapping in page.get("ResourceTagMappingList", []):
            arn = mapping["ResourceARN"]
            if arn.startswith("arn:aws:s3:::"):
                continue  # buckets: s3-bucket-in-region
            tagged_site = any(t.get("Key") == SITE_TAG for t in mapping.get("Tags", []))
            if tagged_site or data_bearing(arn):
                found.setdefault(arn, f"tagged {SITE_TAG}" if tagged_site else "tagged")
            else:
                parts = arn.split(":", 5)
                others.add(f"{parts[2]}:{parts[5].split('/', 1)[0]}" if len(parts) == 6 else arn)


def _customer_keys(audit: Audit, region: str) -> list[str]:
    """Keys of the account in ``region`` that are not AWS managed (those carry an ``alias/aws/`` alias)."""
    kms = audit.client("kms", region=region)
    keys = [
        k
        for page in pages(kms, "ListKeys", f"keys of account {audit.account} in {region}")
        for k in page.get("Keys", [])
    ]
    if not keys:
        return []
    aws_managed = {
        a.get("TargetKeyId")
        for page in pages(kms, "ListAliases", f"aliases of account {audit.account} in {region}")
        for a in page.get("Aliases", [])
        if a.get("AliasName", "").startswith("alias/aws/")
    }
    return [k["KeyArn"] for k in keys if k["KeyId"] not in aws_managed]


FAMILY = Family("other regions", CHECKS, PERMISSIONS, run)
