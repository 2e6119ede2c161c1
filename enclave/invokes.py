"""Answers to data-source invokes under mocks: type-correct, and faithful where it decides residency.

A Pulumi program's data sources (``aws.ec2.get_ami``, ``aws.get_region``, ...)
deserialise the engine's answer into the SDK's own ``Get*Result`` output type.
Every answer here is built from that type's property annotations, so each
property the SDK declares as always present gets a value of its type (strings,
numbers, booleans, lists and nested output types): a program never dies on a
``None`` the SDK promised it would not see. Arguments the data source echoes
come back as given.

The values are plausible per property (``vpc-...`` ids, ``10.0.0.0/16``
CIDRs, ISO timestamps) and deterministic per call. Those that decide residency
are faithful: the account and region are the provider's (its
``allowed_account_ids`` / assumed role, its ``region``, or the call's own
``region`` argument), ARNs are built in that partition, region and account,
region names, partitions and DNS suffixes come from botocore's partition data,
and ``aws.iam.get_policy_document`` is rendered exactly as the provider renders
it (``enclave.policy_document``). Data sources of other packages get answers of
their own result types too, when their SDK is installed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import keyword
import re
import sys
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from enclave.partitions import partition_of, zone_id

__all__ = ["FAITHFUL", "InvokeError", "Placement", "answer", "build", "partition_of", "result_type", "zone_id"]

DEFAULT_ACCOUNT = "000000000000"
"""The account of a provider that names none (no ``allowed_account_ids``, no assumed role)."""

TIMESTAMP = "2024-01-01T00:00:00Z"
EMPTY_POLICY = '{"Version":"2012-10-17","Statement":[]}'
LIST_LENGTH = 3
"""How many items a list of ids or names gets (a region's usual three zones)."""


class InvokeError(ValueError):
    """The provider would refuse this call (its reason)."""


@dataclass(frozen=True)
class Placement:
    """Where a call runs: its provider's region and account (and the provider's own inputs)."""

    region: str
    account: str = DEFAULT_ACCOUNT
    provider_inputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def partition(self) -> str:
        return partition_of(self.region)["name"]

    @property
    def dns_suffix(self) -> str:
        return partition_of(self.region)["dnsSuffix"]


# --------------------------------------------------------------------------- result types


def _snake(name: str) -> str:
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


@functools.cache
def result_type(token: str) -> type | None:
    """The SDK's ``Get*Result`` output type for an invoke token (``aws:ec2/getAmi:getAmi``), if installed."""
    parts = token.split(":")
    if len(parts) != 3:
        return None
    pkg, mod, fn = parts
    module = mod.split("/", 1)[0]
    package = "pulumi_" + pkg.replace("-", "_")
    if module and module != "index":
        sub = _snake(module)
        package += "." + (sub + "_" if keyword.iskeyword(sub) else sub)
    cls_name = fn[:1].upper() + fn[1:] + "Result"
    for module_name in (f"{package}.{_snake(fn)}", package):
        mod_obj = sys.modules.get(module_name)
        if mod_obj is None:
            try:
                mod_obj = importlib.import_module(module_name)
            except ImportError:
                continue
        cls = getattr(mod_obj, cls_name, None)
        if isinstance(cls, type):
            return cls
    return None


def _properties(cls: type) -> list[tuple[str, str, Any]]:
    """``(python name, wire name, return annotation)`` of every property of an output type."""
    from pulumi import _types

    hints = _types._raw_return_hints(cls)  # noqa: SLF001 - the SDK's own reading of the annotations
    return [(py, wire, hints.get(wire, Any)) for py, wire, _prop in _types._py_properties(cls)]  # noqa: SLF001


def _is_output_type(tp: Any) -> bool:
    from pulumi import _types

    return isinstance(tp, type) and _types.is_output_type(tp)


def _optional(tp: Any) -> tuple[bool, Any]:
    if typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)):
            return True, args[0] if len(args) == 1 else Any
    return False, tp


# --------------------------------------------------------------------------- plausible values


_ID_PREFIXES = {
    "vpc": "vpc",
    "subnet": "subnet",
    "securityGroup": "sg",
    "ami": "ami",
    "image": "ami",
    "instance": "i",
    "routeTable": "rtb",
    "mainRouteTable": "rtb",
    "internetGateway": "igw",
    "natGateway": "nat",
    "networkInterface": "eni",
    "vpcEndpoint": "vpce",
    "prefixList": "pl",
    "managedPrefixList": "pl",
    "keyPair": "key",
    "ebsVolume": "vol",
    "volume": "vol",
    "ebsSnapshot": "snap",
    "snapshot": "snap",
    "rootSnapshot": "snap",
    "eip": "eipalloc",
    "allocation": "eipalloc",
    "launchTemplate": "lt",
    "transitGateway": "tgw",
    "networkAcl": "acl",
    "defaultNetworkAcl": "acl",
    "vpcPeeringConnection": "pcx",
    "dhcpOptions": "dopt",
    "customerGateway": "cgw",
    "vpnGateway": "vgw",
    "egressOnlyInternetGateway": "eigw",
    "defaultSecurityGroup": "sg",
    "kernel": "aki",
    "ramdisk": "ari",
}

# noun -> (service, ARN resource part with {name}, regional)
_ARNS = {
    "role": ("iam", "role/{name}", False),
    "policy": ("iam", "policy/{name}", False),
    "user": ("iam", "user/{name}", False),
    "group": ("iam", "group/{name}", False),
    "instanceProfile": ("iam", "instance-profile/{name}", False),
    "openidConnectProvider": ("iam", "oidc-provider/{name}", False),
    "bucket": ("s3", "{name}", False),
    "key": ("kms", "key/{name}", True),
    "kmsKey": ("kms", "key/{name}", True),
    "targetKey": ("kms", "key/{name}", True),
    "alias": ("kms", "{name}", True),
    "topic": ("sns", "{name}", True),
    "queue": ("sqs", "{name}", True),
    "function": ("lambda", "function:{name}", True),
    "layer": ("lambda", "layer:{name}", True),
    "logGroup": ("logs", "log-group:{name}", True),
    "certificate": ("acm", "certificate/{name}", True),
    "secret": ("secretsmanager", "secret:{name}", True),
    "table": ("dynamodb", "table/{name}", True),
    "stream": ("kinesis", "stream/{name}", True),
    "cluster": ("ecs", "cluster/{name}", True),
    "repository": ("ecr", "repository/{name}", True),
    "trail": ("cloudtrail", "trail/{name}", True),
    "loadBalancer": ("elasticloadbalancing", "loadbalancer/app/{name}", True),
    "targetGroup": ("elasticloadbalancing", "targetgroup/{name}", True),
    "hostedZone": ("route53", "hostedzone/{name}", False),
    "parameter": ("ssm", "parameter/{name}", True),
    "stateMachine": ("states", "stateMachine:{name}", True),
    "userPool": ("cognito-idp", "userpool/{name}", True),
}
_GLOBAL_SERVICES = {"iam", "s3", "route53", "cloudfront", "organizations", "waf", "globalaccelerator"}
_SERVICES = {"lb": "elasticloadbalancing", "alb": "elasticloadbalancing", "elb": "elasticloadbalancing"}


def _words(name: str) -> list[str]:
    return re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("sses", "xes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


class _Context:
    """One call: its token, arguments and placement, and a seed for deterministic values."""

    def __init__(self, token: str, args: dict, placement: Placement):
        self.token = token
        self.args = args
        self.region = str(args.get("region") or placement.region)
        self.account = placement.account
        self.placement = placement
        part = partition_of(self.region)
        self.partition, self.dns_suffix = part["name"], part["dnsSuffix"]
        _pkg, mod, fn = (token.split(":") + ["", "", ""])[:3]
        module = mod.split("/", 1)[0]
        self.service = _SERVICES.get(module, module if module != "index" else "aws")
        base = fn[3:] if fn.startswith("get") else fn
        self.plural = base.endswith("s") and not base.endswith("ss") and base != "Alias"
        self.noun = _lower_first(_singular(base) if self.plural else base)
        if self.noun.endswith("Id") and len(self.noun) > 2:  # getAmiIds, getHostedZoneId: ids of that noun
            self.noun = self.noun[:-2]
        canonical = json.dumps(args, sort_keys=True, default=str)
        self.seed = hashlib.sha256(f"{token}|{canonical}|{self.region}|{self.account}".encode()).hexdigest()

    def hex(self, *salt: Any, length: int = 17) -> str:
        return hashlib.sha256("/".join([self.seed, *map(str, salt)]).encode()).hexdigest()[:length]

    def name(self) -> str:
        for key in ("name", "bucket", "roleName", "functionName", "clusterName", "userName"):
            if isinstance(self.args.get(key), str) and self.args[key]:
                return self.args[key]
        return f"{_kebab(self.noun)}-{self.hex('name', length=8)}"

    def resource_id(self, noun: str, index: int = 0) -> str:
        if noun in ("key", "kmsKey", "targetKey"):
            h = self.hex(noun, index, length=32)
            return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"
        if noun in ("hostedZone", "delegationSet"):
            return "Z" + self.hex(noun, index, length=13).upper()
        if noun in ("zone", "availabilityZone"):
            return zone_id(self.region, index + 1)
        if noun in ("owner", "account", "awsAccount", "callerAccount"):
            return self.account
        prefix = _ID_PREFIXES.get(noun) or _ID_PREFIXES.get(_lower_first(_words(noun)[-1]) if _words(noun) else "")
        if prefix:
            return f"{prefix}-{self.hex(noun, index)}"
        return f"{_kebab(noun)}-{self.hex(noun, index, length=8)}"

    def arn(self, noun: str, name: str | None = None) -> str:
        name = name or (self.name() if noun == self.noun else f"{_kebab(noun)}-{self.hex(noun, length=8)}")
        service, resource, regional = _ARNS.get(noun, (self.service, f"{_kebab(noun)}/{{name}}", True))
        if service in _GLOBAL_SERVICES:
            regional = False
        region = self.region if regional else ""
        account = "" if service == "s3" else self.account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource.format(name=name)}"


def _kebab(name: str) -> str:
    return "-".join(w.lower() for w in _words(name)) or "item"


def _string(wire: str, ctx: _Context, index: int = 0) -> str:
    lower = wire.lower()
    if wire == "id":
        if ctx.plural:
            return ctx.region
        if ctx.noun in _ID_PREFIXES or ctx.noun in ("key", "hostedZone"):
            return ctx.resource_id(ctx.noun)
        return ctx.name()
    if wire == "region" or wire.endswith("Region"):
        return ctx.region
    if wire == "partition":
        return ctx.partition
    if wire in ("accountId", "ownerId", "awsAccountId", "callerAccountId", "account"):
        owners = ctx.args.get("owners") or []
        if wire == "ownerId" and owners and re.fullmatch(r"\d{12}", str(owners[0])):
            return str(owners[0])
        return ctx.account
    if wire == "arn":
        return ctx.arn(ctx.noun)
    if wire.endswith("Arn"):
        return ctx.arn(_lower_first(wire[:-3]))
    if wire == "availabilityZone":
        return ctx.region + "a"
    if wire == "zoneId" and ctx.service == "route53":
        return ctx.resource_id("hostedZone")
    if wire in ("availabilityZoneId", "zoneId"):
        return zone_id(ctx.region, 1)
    if wire.endswith("Id"):
        noun = _lower_first(wire[:-2])
        if noun in (ctx.noun, "image") and ctx.noun in ("ami", "image"):
            return ctx.resource_id(ctx.noun)
        return ctx.resource_id(noun, index)
    if lower == "cidrblock" or lower.endswith("cidrblock"):
        if "ipv6" in lower:
            return "2600:1f18:0:100::/56"
        return "10.0.1.0/24" if ctx.noun == "subnet" else "10.0.0.0/16"
    if wire in ("name", "bucket") or wire.endswith("Name") and wire[:-4].lower() == ctx.noun.lower():
        return ctx.name()
    if lower.endswith(("date", "time", "timestamp")) or wire.endswith("At"):
        return TIMESTAMP
    if lower in ("policy", "json", "document") or wire.endswith("Policy") or lower.endswith("json"):
        return EMPTY_POLICY
    if lower.endswith(("domainname", "dnsname", "endpoint", "hostname")):
        return f"{ctx.name()}.{ctx.region}.{ctx.dns_suffix}"
    if lower.endswith("url"):
        return f"https://{ctx.name()}.{ctx.region}.{ctx.dns_suffix}"
    if lower in ("state", "status"):
        return "available"
    return f"{_kebab(wire)}-{ctx.hex(wire, index, length=8)}"


def _number(wire: str) -> float:
    lower = wire.lower()
    if lower.endswith("port"):
        return 443
    if lower == "maxsessionduration":
        return 3600
    return 0


def _boolean(wire: str) -> bool:
    return wire.startswith("enable") or wire in ("enabled", "supported", "available")


def _value(tp: Any, wire: str, ctx: _Context, depth: int) -> Any:
    """A plausible value of type ``tp`` for property ``wire`` (never None)."""
    _opt, tp = _optional(tp)
    origin = typing.get_origin(tp)
    if tp is str:
        return _string(wire, ctx)
    if tp is bool:
        return _boolean(wire)
    if tp in (int, float):
        return _number(wire)
    if origin in (list, Sequence, typing.Sequence) or tp in (list,):
        (item,) = typing.get_args(tp) or (str,)
        return _list(item, wire, ctx, depth)
    if origin in (dict, Mapping, typing.Mapping) or tp is dict:
        return dict(ctx.args.get("tags") or {}) if wire in ("tags", "tagsAll") else {}
    if _is_output_type(tp):
        return build(tp, {}, ctx, depth + 1) if depth < 4 else {}
    return None


def _list(item: Any, wire: str, ctx: _Context, depth: int) -> list:
    _opt, item = _optional(item)
    indexes = range(LIST_LENGTH)
    if item is str:
        if wire == "ids":
            return [ctx.resource_id(ctx.noun, i) for i in indexes]
        if wire == "availabilityZones" or (wire == "names" and ctx.noun == "availabilityZone"):
            return [f"{ctx.region}{c}" for c in "abc"]
        if wire == "zoneIds":
            return [zone_id(ctx.region, i + 1) for i in indexes]
        if wire == "names":
            return [f"{_kebab(ctx.noun)}-{ctx.hex('names', i, length=8)}" for i in indexes]
        if wire.endswith("Ids"):
            return [ctx.resource_id(_lower_first(wire[:-3]), i) for i in indexes]
        if wire == "arns" or wire.endswith("Arns"):
            noun = ctx.noun if wire == "arns" else _lower_first(wire[:-4])
            return [ctx.arn(noun, f"{_kebab(noun)}-{ctx.hex(wire, i, length=8)}") for i in indexes]
        return [_string(_singular(wire), ctx)]
    if _is_output_type(item):
        return [build(item, {}, ctx, depth + 1)] if depth < 4 else []
    value = _value(item, _singular(wire), ctx, depth)
    return [] if value is None else [value]


def _scalar(value: Any, tp: Any) -> Any:
    """A scalar argument as the provider returns it: converted to the attribute's type ("true" -> True)."""
    if tp is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if tp in (int, float) and isinstance(value, str):
        try:
            return tp(value)
        except ValueError:
            return value
    if tp is str and isinstance(value, (bool, int, float)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return value


def _echo(value: Any, tp: Any) -> Any:
    """An argument returned as the result's type has it (nested keys in wire names)."""
    _opt, tp = _optional(tp)
    if tp in (bool, int, float, str):
        return _scalar(value, tp)
    if _is_output_type(tp) and isinstance(value, Mapping):
        out = {}
        for py, wire, hint in _properties(tp):
            item = value.get(wire, value.get(py))
            if item is not None:
                out[wire] = _echo(item, hint)
        return out
    origin = typing.get_origin(tp)
    if origin in (list, Sequence, typing.Sequence) and isinstance(value, (list, tuple)):
        (item_type,) = typing.get_args(tp) or (Any,)
        return [_echo(v, item_type) for v in value]
    return value


def _looked_up(wire: str, args: Mapping[str, Any]) -> bool:
    """Whether an optional identifier of the result is one the provider fills in all the same.

    A Terraform data source always sets its ``id``, and one looked up by
    either identifier (``get_cache_policy(name=...)`` or ``(id=...)``) reads
    the other back: the SDK types such arguments-and-attributes ``Optional``.
    """
    if wire in ("id", "arn"):
        return True
    return wire == "name" and any(args.get(k) for k in ("id", "arn"))


def build(cls: type, given: Mapping[str, Any], ctx: _Context, depth: int = 0) -> dict[str, Any]:
    """A result of output type ``cls`` in wire names: ``given`` values, echoed arguments, then plausible values."""
    out: dict[str, Any] = {}
    args = ctx.args if depth == 0 else {}
    for py, wire, hint in _properties(cls):
        if wire in given:
            out[wire] = given[wire]
            continue
        arg = args.get(wire, args.get(py))
        if arg is not None:
            out[wire] = _echo(arg, hint)
            continue
        optional, tp = _optional(hint)
        if optional and not (depth == 0 and _looked_up(wire, args)):
            continue
        value = _value(tp, wire, ctx, depth)
        if value is not None:
            out[wire] = value
    return out


# --------------------------------------------------------------------------- faithful answers


def _caller_identity(ctx: _Context) -> dict:
    roles = ctx.placement.provider_inputs.get("assumeRoles") or []
    role_arn = roles[0].get("roleArn") if roles and isinstance(roles[0], Mapping) else None
    if role_arn:
        role = role_arn.rsplit("/", 1)[-1]
        arn = f"arn:{ctx.partition}:sts::{ctx.account}:assumed-role/{role}/enclave-check"
        user = f"AROA{ctx.hex('user', length=17).upper()}:enclave-check"
    else:
        arn = f"arn:{ctx.partition}:iam::{ctx.account}:user/enclave-check"
        user = f"AIDA{ctx.hex('user', length=17).upper()}"
    return {"accountId": ctx.account, "arn": arn, "userId": user, "id": ctx.account}


def _region(ctx: _Context) -> dict:
    region = str(ctx.args.get("region") or ctx.args.get("name") or ctx.region)
    part = partition_of(region)
    description = part["regions"].get(region, {}).get("description", region)
    return {
        "region": region,
        "name": region,
        "id": region,
        "endpoint": f"ec2.{region}.{part['dnsSuffix']}",
        "description": description,
    }


def _partition(ctx: _Context) -> dict:
    suffix = ctx.dns_suffix
    return {
        "partition": ctx.partition,
        "id": ctx.partition,
        "dnsSuffix": suffix,
        "reverseDnsPrefix": ".".join(reversed(suffix.split("."))),
    }


def _availability_zones(ctx: _Context) -> dict:
    zones = [(f"{ctx.region}{c}", zone_id(ctx.region, i + 1)) for i, c in enumerate("abc")]
    skip_names = set(ctx.args.get("excludeNames") or [])
    skip_ids = set(ctx.args.get("excludeZoneIds") or [])
    zones = [(n, z) for n, z in zones if n not in skip_names and z not in skip_ids]
    return {
        "names": [n for n, _ in zones],
        "zoneIds": [z for _, z in zones],
        "groupNames": [ctx.region],
        "id": ctx.region,
        "region": ctx.region,
    }


def _availability_zone(ctx: _Context) -> dict:
    name = ctx.args.get("name")
    zid = ctx.args.get("zoneId")
    letters = "abcdef"
    if not name:
        index = int(zid.rsplit("az", 1)[-1]) - 1 if zid and zid.rsplit("az", 1)[-1].isdigit() else 0
        name = ctx.region + letters[index % len(letters)]
    suffix = name[len(ctx.region) :] or "a"
    zid = zid or zone_id(ctx.region, letters.index(suffix[0]) + 1 if suffix[0] in letters else 1)
    return {
        "name": name,
        "zoneId": zid,
        "nameSuffix": suffix,
        "region": ctx.region,
        "groupName": ctx.region,
        "groupLongName": partition_of(ctx.region)["regions"].get(ctx.region, {}).get("description", ctx.region),
        "networkBorderGroup": ctx.region,
        "optInStatus": "opt-in-not-required",
        "state": "available",
        "zoneType": "availability-zone",
        "parentZoneId": "",
        "parentZoneName": "",
        "id": name,
    }


def _regions(ctx: _Context) -> dict:
    regions = partition_of(ctx.region)["regions"]
    return {"names": sorted(r for r in regions if not r.endswith("-global")), "id": ctx.partition}


def _arn(ctx: _Context) -> dict:
    arn = str(ctx.args.get("arn") or "")
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise InvokeError(f"invalid ARN {arn!r}: arn: invalid prefix")
    _, partition, service, region, account, resource = parts
    return {
        "arn": arn,
        "id": arn,
        "partition": partition,
        "service": service,
        "region": region,
        "account": account,
        "resource": resource,
    }


def _service(ctx: _Context) -> dict:
    service = ctx.args.get("serviceId")
    region = ctx.region
    prefix = ".".join(reversed(ctx.dns_suffix.split(".")))
    reverse = ctx.args.get("reverseDnsName")
    dns = ctx.args.get("dnsName")
    if reverse and not service:
        region, service = reverse[len(prefix) + 1 :].split(".", 1)[0], reverse.rsplit(".", 1)[-1]
    if dns and not service:
        service, region = dns.split(".")[:2]
    service = service or "ec2"
    return {
        "serviceId": service,
        "region": region,
        "dnsName": f"{service}.{region}.{ctx.dns_suffix}",
        "reverseDnsPrefix": prefix,
        "reverseDnsName": f"{prefix}.{region}.{service}",
        "partition": ctx.partition,
        "supported": True,
        "id": f"{prefix}.{region}.{service}",
    }


def _default_tags(ctx: _Context) -> dict:
    tags = ctx.placement.provider_inputs.get("defaultTags") or {}
    return {"tags": dict(tags.get("tags") or {}) if isinstance(tags, Mapping) else {}, "id": ctx.partition}


def _policy_document(ctx: _Context) -> dict:
    from enclave.policy_document import render

    return render(ctx.args)


def _vpc(ctx: _Context) -> dict:
    default = bool(ctx.args.get("default"))
    return {"cidrBlock": "172.31.0.0/16" if default else "10.0.0.0/16", "default": default, "ownerId": ctx.account}


def _filter_value(ctx: _Context, name: str) -> str | None:
    for f in ctx.args.get("filters") or []:
        if isinstance(f, Mapping) and f.get("name") == name and f.get("values"):
            return str(f["values"][0])
    return None


def _subnet(ctx: _Context) -> dict:
    out = {"cidrBlock": "10.0.1.0/24", "ownerId": ctx.account}
    vpc = ctx.args.get("vpcId") or _filter_value(ctx, "vpc-id")
    if vpc:
        out["vpcId"] = vpc
    zone = ctx.args.get("availabilityZone") or _filter_value(ctx, "availability-zone")
    if zone:
        out["availabilityZone"] = zone
    return out


def _ami(ctx: _Context) -> dict:
    image = ctx.resource_id("ami")
    name = _filter_value(ctx, "name")
    return {
        "id": image,
        "imageId": image,
        "architecture": _filter_value(ctx, "architecture") or "x86_64",
        "name": name.replace("*", "2024.01.01") if name else f"image-{ctx.hex('name', length=8)}",
        "arn": f"arn:{ctx.partition}:ec2:{ctx.region}::image/{image}",
        "rootDeviceType": "ebs",
        "virtualizationType": "hvm",
        "state": "available",
    }


def _bucket(ctx: _Context) -> dict:
    name = ctx.name()
    return {
        "id": name,
        "bucket": name,
        "arn": f"arn:{ctx.partition}:s3:::{name}",
        "bucketDomainName": f"{name}.s3.{ctx.dns_suffix}",
        "bucketRegionalDomainName": f"{name}.s3.{ctx.region}.{ctx.dns_suffix}",
        "bucketRegion": ctx.region,
        "region": ctx.region,
    }


def _kms_key(ctx: _Context) -> dict:
    key = str(ctx.args.get("keyId") or "")
    if key.startswith("arn:"):
        arn = key
        key_id = key.rsplit("/", 1)[-1]
    else:
        key_id = key if re.fullmatch(r"[0-9a-f-]{36}", key) else ctx.resource_id("key")
        arn = f"arn:{ctx.partition}:kms:{ctx.region}:{ctx.account}:key/{key_id}"
    parts = arn.split(":")
    return {
        "id": key_id,
        "keyId": key_id,
        "arn": arn,
        "awsAccountId": parts[4] if len(parts) > 4 else ctx.account,
        "region": parts[3] if len(parts) > 3 and parts[3] else ctx.region,
        "enabled": True,
        "keyState": "Enabled",
        "keyManager": "CUSTOMER",
        "keyUsage": "ENCRYPT_DECRYPT",
        "keySpec": "SYMMETRIC_DEFAULT",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "origin": "AWS_KMS",
        "multiRegion": False,
        "multiRegionConfigurations": [],
        "xksKeyConfigurations": [],
    }


def _kms_alias(ctx: _Context) -> dict:
    name = str(ctx.args.get("name") or "alias/unknown")
    key_id = ctx.resource_id("key")
    return {
        "id": name,
        "name": name,
        "arn": f"arn:{ctx.partition}:kms:{ctx.region}:{ctx.account}:{name}",
        "targetKeyId": key_id,
        "targetKeyArn": f"arn:{ctx.partition}:kms:{ctx.region}:{ctx.account}:key/{key_id}",
    }


def _iam_role(ctx: _Context) -> dict:
    name = ctx.name()
    return {
        "id": name,
        "name": name,
        "arn": f"arn:{ctx.partition}:iam::{ctx.account}:role/{name}",
        "path": "/",
        "uniqueId": f"AROA{ctx.hex('unique', length=17).upper()}",
        "permissionsBoundary": "",
        "maxSessionDuration": 3600,
    }


def _iam_policy(ctx: _Context) -> dict:
    arn = ctx.args.get("arn")
    name = str(ctx.args.get("name") or (arn.rsplit("/", 1)[-1] if arn else ctx.name()))
    arn = arn or f"arn:{ctx.partition}:iam::{ctx.account}:policy/{ctx.args.get('pathPrefix') or ''}{name}".replace(
        "//", "/"
    )
    return {"id": arn, "arn": arn, "name": name, "path": "/", "policy": EMPTY_POLICY}


# AWS's own accounts that write load balancers' access logs, per region (the ELB user guide,
# "Attach a policy to your S3 bucket"; terraform-provider-aws's elb service-account data source).
_ELB_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-south-1": "718504428378",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
}


def _elb_service_account(ctx: _Context) -> dict:
    """ELB's log-writing account in the region: another account, which is what the policies must see."""
    account = _ELB_ACCOUNTS.get(ctx.region)
    if account is None:  # regions opened since August 2022 take the log-delivery service principal instead
        raise InvokeError(f"unsupported AWS Region ({ctx.region}) for elb.get_service_account")
    return {"id": account, "arn": f"arn:{ctx.partition}:iam::{account}:root", "region": ctx.region}


FAITHFUL = {
    "aws:elb/getServiceAccount:getServiceAccount": _elb_service_account,
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:index/getRegion:getRegion": _region,
    "aws:index/getPartition:getPartition": _partition,
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:index/getAvailabilityZone:getAvailabilityZone": _availability_zone,
    "aws:index/getRegions:getRegions": _regions,
    "aws:index/getArn:getArn": _arn,
    "aws:index/getService:getService": _service,
    "aws:index/getDefaultTags:getDefaultTags": _default_tags,
    "aws:iam/getPolicyDocument:getPolicyDocument": _policy_document,
    "aws:ec2/getVpc:getVpc": _vpc,
    "aws:ec2/getSubnet:getSubnet": _subnet,
    "aws:ec2/getAmi:getAmi": _ami,
    "aws:s3/getBucket:getBucket": _bucket,
    "aws:kms/getKey:getKey": _kms_key,
    "aws:kms/getAlias:getAlias": _kms_alias,
    "aws:iam/getRole:getRole": _iam_role,
    "aws:iam/getPolicy:getPolicy": _iam_policy,
}
"""Data sources whose answer decides residency (or is parsed by programs): computed, not guessed."""


def answer(token: str, args: Mapping[str, Any], placement: Placement) -> tuple[dict[str, Any], str | None]:
    """The result of invoke ``token`` in wire names, and a note when no result type describes it.

    Raises ``ValueError`` (``InvokeError``, ``PolicyDocumentError``) where the provider would refuse the call.
    """
    ctx = _Context(token, dict(args), placement)
    faithful = FAITHFUL.get(token)
    given = faithful(ctx) if faithful else {}
    cls = result_type(token)
    if cls is None:
        if given:
            return given, None
        return {}, f"data source {token}: no result type installed to answer it, so it returned nothing"
    return build(cls, given, ctx), None
