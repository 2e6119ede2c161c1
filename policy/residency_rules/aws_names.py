"""What AWS's own names look like: regions, DNS suffixes, the region and account inside a hostname.

The region patterns and DNS suffixes come from botocore's ``partitions.json``
(the endpoint data every AWS SDK ships), not from a hand list, so a new
partition or region is recognised when botocore is upgraded.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import NamedTuple


def _partitions() -> list[dict]:
    spec = find_spec("botocore")
    if spec is None or spec.origin is None:  # pragma: no cover - botocore is pinned with the pack
        raise ImportError("the residency pack needs botocore (pinned in requirements.txt) for AWS's endpoint data")
    return json.loads((Path(spec.origin).parent / "data" / "partitions.json").read_text())["partitions"]


_PARTITIONS = _partitions()


def _region_pattern(regex: str) -> str:
    # botocore's "^(us|eu|...)\-\w+\-\d+$": unanchored, and with letters only where it means a word.
    pattern = regex.strip("^$").replace(r"\w+", "[a-z]+").replace(r"\-", "-").replace(r"\d+", r"\d{1,2}")
    return re.sub(r"\((?!\?)", "(?:", pattern)


REGION_PATTERN = "(?:" + "|".join(sorted((_region_pattern(p["regionRegex"]) for p in _PARTITIONS), key=len)[::-1]) + ")"
"""Any AWS region name of any partition (``eu-west-1``, ``us-gov-west-1``, ``eusc-de-east-1``...)."""

REGION_RE = re.compile(f"^{REGION_PATTERN}$")

REGION_TOKEN_RE = re.compile(rf"(?<![A-Za-z0-9-])({REGION_PATTERN})([a-z])?(?![A-Za-z0-9-])")
"""A region (or availability zone: ``eu-west-1a``) standing as a word inside a longer string."""

KNOWN_REGIONS = frozenset(r for p in _PARTITIONS for r in p["regions"] if REGION_RE.match(r))

PARTITION_OF_SUFFIX: dict[str, str] = {}
for _p in _PARTITIONS:
    for _key in ("dnsSuffix", "dualStackDnsSuffix"):
        _suffix = _p["outputs"].get(_key)
        if _suffix:
            PARTITION_OF_SUFFIX.setdefault(_suffix, _p["id"])

# AWS-owned domains that botocore does not list as partition suffixes but that
# name regional AWS endpoints (the region label still decides where they are).
EXTRA_AWS_SUFFIXES = (
    "on.aws",  # Lambda function URLs, <id>.lambda-url.<region>.on.aws
    "awsapprunner.com",  # <id>.<region>.awsapprunner.com
    "amazoncognito.com",  # <domain>.auth.<region>.amazoncognito.com
    "sagemaker.aws",  # <domain>.studio.<region>.sagemaker.aws
    "amazonwebservices.com",
    "aws.dev",
)
# AWS-owned domains served from edge locations worldwide: never in one region.
EDGE_SUFFIXES = ("cloudfront.net", "awsglobalaccelerator.com", "global.api.aws")

AWS_SUFFIXES = tuple(sorted({*PARTITION_OF_SUFFIX, *EXTRA_AWS_SUFFIXES, *EDGE_SUFFIXES}, key=len, reverse=True))

# Names that resolve only inside a network: EC2's private DNS and reserved TLDs (RFC 6761, 6762, 8375).
INTERNAL_SUFFIXES = ("internal", "local", "localhost", "home.arpa", "localdomain", "intranet", "lan", "corp")

# Top-level domains a bare dotted word is taken to be a hostname for. Most
# ccTLDs are also file extensions (.py, .sh, .md, .rs, .pl...), so a bare
# "main.py" is a file; a URL, an e-mail address or an endpoint-like key makes
# any name a hostname regardless of this list.
COMMON_TLDS = frozenset(
    "com net org io ai co dev app cloud eu info biz us uk de fr nl se no dk fi ie es it pt be at ch pl cz"
    " ru cn jp kr in br ca au nz za mx ar gov edu int mil me tv xyz online site tech store live pro"
    " services digital global email link network systems solutions ws cc gg hk sg tw ua tr il ae".split()
)


class HostInfo(NamedTuple):
    """What a hostname says about itself (independent of the site)."""

    aws: bool
    """Under an AWS-owned DNS suffix."""
    edge: bool
    """An AWS edge network name (CloudFront, Global Accelerator): served from everywhere."""
    regions: tuple[str, ...]
    """Regions named by its labels (``s3.eu-west-1.amazonaws.com``, ``s3-us-west-2``, AZs)."""
    accounts: tuple[str, ...]
    """12-digit labels (``<account>.dkr.ecr.<region>.amazonaws.com``)."""
    internal: bool
    """A name that resolves only inside a network (``*.internal``, ``*.local``...)."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    public_tld: bool
    """Its last label is a common public TLD."""
    s3_bucket: str | None
    """The bucket of an S3 virtual-hosted name (``<bucket>.s3.<region>.amazonaws.com``)."""


_S3_LABEL = re.compile(r"^s3(?:-website)?(?:[.-](?P<region>" + REGION_PATTERN + "))?$")


@lru_cache(maxsize=16384)
def host_info(host: str) -> HostInfo:
    """Classify one hostname (lower-case, without port)."""
    host = host.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return HostInfo(False, False, (), (), False, ip, False, None)
    labels = host.split(".")
    aws = any(host == s or host.endswith("." + s) for s in AWS_SUFFIXES)
    edge = any(host == s or host.endswith("." + s) for s in EDGE_SUFFIXES)
    regions: list[str] = []
    accounts: list[str] = []
    bucket: str | None = None
    for i, label in enumerate(labels):
        if len(label) == 12 and label.isdigit():
            accounts.append(label)
        for m in REGION_TOKEN_RE.finditer(label):
            regions.append(m.group(1))
        s3 = _S3_LABEL.match(label) if aws else None
        if s3:
            if s3.group("region"):
                regions.append(s3.group("region"))
            if i > 0 and bucket is None:
                bucket = ".".join(labels[:i])
    internal = any(host == s or host.endswith("." + s) for s in INTERNAL_SUFFIXES)
    return HostInfo(
        aws, edge, tuple(dict.fromkeys(regions)), tuple(accounts), internal, None, labels[-1] in COMMON_TLDS, bucket
    )


def partition_of_region(region: str) -> str:
    """The partition a region belongs to (``aws`` for an unknown but well-formed name)."""
    for p in _PARTITIONS:
        if region in p["regions"] or re.match(p["regionRegex"], region):
            return p["id"]
    return "aws"


def dns_suffix_of_region(region: str) -> str:
    pid = partition_of_region(region)
    return next(p["outputs"]["dnsSuffix"] for p in _PARTITIONS if p["id"] == pid)
