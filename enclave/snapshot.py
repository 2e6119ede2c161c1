"""Canonical plan snapshots and the risk classification shared by ``plan``, ``diff`` and ``review``.

A snapshot is what one offline evaluation of a stack would create, written so
that the same program always gives the same bytes: resources sorted by URN,
keys sorted, secrets shown as ``[secret]``, no timestamps, no absolute paths,
no ids. Two representation choices keep its Git diff readable:

- Provider inputs that are not strings reach the engine JSON-encoded (a wire
  artefact); they are decoded back to the value the program passed.
- Inputs that *are* JSON documents (IAM, bucket and key policies) are stored
  parsed, as ``{"$json": <document>}``, so a one-word change in a policy is a
  one-line change in the snapshot, and ``diff``/``review`` can compare them
  statement by statement. The marker keeps the fact that the input is a string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enclave.harness import SECRET_MARK

SNAPSHOT_FORMAT = 1
"""Bumped when the snapshot's layout changes (``diff`` refuses to compare across formats)."""

JSON_MARK = "$json"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The engine's sentinel for a value only known after apply (``pulumi preview --json``)."""

# Provider bookkeeping in real preview state, not part of what the program asked for.
BOOKKEEPING_KEYS = frozenset({"__defaults", "__meta"})


# --------------------------------------------------------------------------- canonical values


def _number(value: float) -> int | float:
    # Mocks see every number as a float; 30.0 and 30 are the same input.
    return int(value) if value.is_integer() else value


def expand_json(value: Any) -> Any:
    """A string holding a JSON object or array becomes ``{"$json": parsed}``; other values unchanged."""
    if isinstance(value, str) and value[:1] in "{[" and value != SECRET_MARK:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        if isinstance(parsed, (dict, list)):
            return {JSON_MARK: canonical(parsed)}
    return value


def canonical(value: Any, *, decode_wire_json: bool = False) -> Any:
    """A JSON-ready copy: integral floats as ints, JSON-document strings expanded, bookkeeping dropped."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dict):
        return {
            str(k): canonical(v, decode_wire_json=decode_wire_json)
            for k, v in value.items()
            if k not in BOOKKEEPING_KEYS
        }
    if isinstance(value, (list, tuple)):
        return [canonical(v, decode_wire_json=decode_wire_json) for v in value]
    if isinstance(value, str):
        # Only lists, maps and booleans: a numeric-looking string (an account id) stays a string.
        if decode_wire_json and (value[:1] in "{[" or value in ("true", "false")):
            try:
                return canonical(json.loads(value))
            except json.JSONDecodeError:
                return value
        return expand_json(value)
    return value


def dumps(data: Any) -> str:
    """The one serialisation of snapshots: sorted keys, indent 2, UTF-8 as is, trailing newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def shorten(value: Any, limit: int = 160) -> str:
    """A one-line rendering of a value for text and Markdown output."""
    if isinstance(value, dict) and set(value) == {JSON_MARK}:
        value = value[JSON_MARK]
    plain = isinstance(value, str) and "\n" not in value
    text = value if plain else json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = text.replace(UNKNOWN, "(known after apply)")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- snapshots


def _urn_only(provider_ref: str) -> str:
    # "<urn>::<id>": the id is an engine detail (a mock hash here, a UUID in a real run).
    return provider_ref.rsplit("::", 1)[0] if provider_ref else ""


def resource_entry(run, res) -> dict[str, Any]:
    """The snapshot entry of one recorded resource."""
    is_provider = res.type.startswith("pulumi:providers:")
    return {
        "urn": res.urn,
        "type": res.type,
        "name": res.name,
        "custom": res.custom,
        "parent": res.parent,
        "provider": _urn_only(res.provider),
        "region": run.effective_region(res)
        if res.custom and res.type.startswith(("aws:", "pulumi:providers:aws"))
        else None,
        "inputs": canonical(res.redacted_inputs, decode_wire_json=is_provider),
        "options": {
            "protect": res.protect,
            "retainOnDelete": res.retain_on_delete,
            "deleteBeforeReplace": res.delete_before_replace,
            "ignoreChanges": sorted(res.ignore_changes),
            "replaceOnChanges": sorted(res.replace_on_changes),
            "additionalSecretOutputs": sorted(res.additional_secret_outputs),
            "dependencies": sorted(set(res.dependencies)),
            "propertyDependencies": {k: sorted(set(v)) for k, v in res.property_dependencies.items() if v},
        },
    }


def build_snapshot(run) -> dict[str, Any]:
    """The canonical snapshot of a ``ProgramRun``."""
    return {
        "format": SNAPSHOT_FORMAT,
        "project": run.project,
        "stack": run.stack,
        "config": {k: canonical(v, decode_wire_json=True) for k, v in run.config.items()},
        "resources": sorted((resource_entry(run, r) for r in run.resources), key=lambda e: e["urn"]),
    }


class SnapshotError(ValueError):
    """A file or text that is not a snapshot written by ``enclave plan``."""


def parse_snapshot(text: str, source: str) -> dict[str, Any]:
    """Read a snapshot, checking that it is one (and of this format)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or "resources" not in data or "stack" not in data:
        raise SnapshotError(f"{source}: not a plan snapshot (write one with: python -m enclave plan --stack NAME)")
    if data.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError(
            f"{source}: snapshot format {data.get('format')!r}, this tool reads {SNAPSHOT_FORMAT}: regenerate it"
        )
    problem = _malformed(data)
    if problem:
        raise SnapshotError(
            f"{source}: not a valid plan snapshot ({problem}); regenerate it with: python -m enclave plan"
        )
    return data


_ENTRY_FIELDS = {
    "urn": str,
    "type": str,
    "name": str,
    "custom": bool,
    "parent": str,
    "provider": str,
    "inputs": dict,
    "options": dict,
}


def _malformed(data: dict[str, Any]) -> str:
    """What is wrong with a parsed snapshot's structure ("" when nothing): the fields diff and the pack read."""
    if not isinstance(data.get("stack"), str) or not isinstance(data.get("config", {}), dict):
        return "'stack' must be a string and 'config' an object"
    if not isinstance(data["resources"], list):
        return "'resources' must be a list"
    for i, entry in enumerate(data["resources"]):
        if not isinstance(entry, dict):
            return f"resources[{i}] is not an object"
        for key, kind in _ENTRY_FIELDS.items():
            if not isinstance(entry.get(key), kind):
                return f"resources[{i}].{key} must be {kind.__name__}"
        opts = entry["options"]
        if not isinstance(opts.get("propertyDependencies", {}), dict) or not isinstance(
            opts.get("dependencies", []), list
        ):
            return f"resources[{i}].options: dependencies must be a list and propertyDependencies an object"
    return ""


def load_snapshot(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read it ({exc.strerror})") from None
    return parse_snapshot(text, str(path))


# --------------------------------------------------------------------------- risk classes


@dataclass(frozen=True)
class RiskClass:
    key: str
    title: str
    why: str
    flagged: bool = True


RISK_CLASSES: tuple[RiskClass, ...] = (
    RiskClass(
        "data-loss",
        "data loss",
        "deleting or replacing a protected or data-bearing resource (bucket, key, secret, table, "
        "volume, log group...) destroys what it holds; a rename is a delete and a create",
    ),
    RiskClass(
        "grant",
        "security-gate grant",
        "a staff grant (staff may read European users' personal data) or a transfer grant (pseudonymised "
        "personal data may leave Europe) opened, widened or re-approved: the pack admits every declared grant, "
        "so this review is its control",
    ),
    RiskClass("residency", "region / provider / account", "where resources and data land, and which account runs them"),
    RiskClass("replication", "replication", "copies of data or keys to other regions or accounts"),
    RiskClass("access", "access policy", "who may do what: IAM, bucket and endpoint policies, trust, public access"),
    RiskClass("key-policy", "key policy", "who may use or administer the operator's KMS keys"),
    RiskClass("network", "egress / routes", "NACLs, security-group rules, routes, gateways, endpoints"),
    RiskClass("encryption", "encryption", "which key encrypts what, rotation, SSE settings"),
    RiskClass("protection", "protection", "protect, deletion windows, object lock, versioning, force-destroy"),
    RiskClass("audit", "audit trail", "CloudTrail, flow logs, access logs"),
    RiskClass("other", "other", "tags, descriptions, everything else", flagged=False),
)
RISK = {c.key: c for c in RISK_CLASSES}
RANK = {c.key: i for i, c in enumerate(RISK_CLASSES)}

_PROP_CLASSES: dict[str, str] = {}
for _cls, _props in {
    "residency": "region homeRegion availabilityZone availabilityZones allowedAccountIds forbiddenAccountIds "
    "assumeRole assumeRoles assumeRoleWithWebIdentity endpoints skipRegionValidation",
    "replication": "replicationConfiguration replicas replica replicaRegions multiRegion "
    "forceOverwriteReplicaSecret destinationRegion crossRegionCopy",
    "access": "policy assumeRolePolicy inlinePolicies managedPolicyArns permissionsBoundary acl principals "
    "accessControlPolicy blockPublicAcls blockPublicPolicy ignorePublicAcls restrictPublicBuckets "
    "objectOwnership sourceArn sourceAccount principal grantee",
    "network": "egress ingress routes route cidrBlock destinationCidrBlock destinationIpv6CidrBlock "
    "gatewayId natGatewayId egressOnlyGatewayId transitGatewayId vpcPeeringConnectionId networkInterfaceId "
    "vpcEndpointId securityGroupIds vpcSecurityGroupIds subnetIds routeTableIds mapPublicIpOnLaunch "
    "associatePublicIpAddress assignIpv6AddressOnCreation privateDnsEnabled serviceName vpcEndpointType "
    "cidrIpv4 cidrIpv6 prefixListId referencedSecurityGroupId fromPort toPort ipProtocol protocol "
    "ruleAction ruleNumber egress",
    "encryption": "kmsKeyId kmsKeyArn kmsMasterKeyId sseAlgorithm serverSideEncryptionConfiguration "
    "applyServerSideEncryptionByDefault bucketKeyEnabled encrypted storageEncrypted enableKeyRotation "
    "keyUsage customerMasterKeySpec keySpec targetKeyId rotationPeriodInDays encryptionConfiguration",
    "protection": "protect retainOnDelete deleteBeforeReplace deletionWindowInDays forceDestroy "
    "objectLockEnabled objectLockConfiguration objectLockEnabledForBucket recoveryWindowInDays "
    "deletionProtection skipFinalSnapshot versioningConfiguration versioning mfaDelete isEnabled "
    "bypassPolicyLockoutSafetyCheck",
    "audit": "isMultiRegionTrail includeGlobalServiceEvents enableLogging enableLogFileValidation "
    "eventSelectors advancedEventSelectors trafficType logDestination logDestinationType targetBucket "
    "targetPrefix s3BucketName retentionInDays logging",
}.items():
    for _p in _props.split():
        _PROP_CLASSES.setdefault(_p, _cls)

# Properties that never widen or move anything, whatever the resource type.
_HARMLESS = frozenset({"tags", "tagsAll", "description", "name", "namePrefix"})

# Resource types by the class any change to them falls in (matched on "<module>/<type>").
_TYPE_CLASSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("residency", ("pulumi:providers:",)),
    ("replication", ("replication", "replica", "multiregionaccesspoint", "globaltable")),
    (
        "access",
        (
            "aws:iam/",
            "aws:s3/bucketpolicy",
            "aws:s3/bucketpublicaccessblock",
            "aws:s3/bucketacl",
            "aws:s3/bucketownershipcontrols",
            "aws:s3/accesspoint",
            "aws:s3control/",
            "aws:ec2/vpcendpointpolicy",
            "aws:secretsmanager/secretpolicy",
            "aws:lambda/permission",
            "aws:sns/topicpolicy",
            "aws:sqs/queuepolicy",
        ),
    ),
    ("key-policy", ("aws:kms/keypolicy", "aws:kms/grant")),
    (
        "network",
        (
            "aws:ec2/networkacl",
            "aws:ec2/defaultnetworkacl",
            "aws:ec2/securitygroup",
            "aws:ec2/defaultsecuritygroup",
            "aws:ec2/vpcsecuritygroup",
            "aws:vpc/securitygroup",
            "aws:ec2/route",
            "aws:ec2/defaultroutetable",
            "aws:ec2/mainroutetableassociation",
            "aws:ec2/internetgateway",
            "aws:ec2/egressonlyinternetgateway",
            "aws:ec2/natgateway",
            "aws:ec2/vpcendpoint",
            "aws:ec2/vpcpeering",
            "aws:ec2/vpngateway",
            "aws:ec2/vpnconnection",
            "aws:ec2/customergateway",
            "aws:ec2/eip",
            "aws:ec2/subnet",
            "aws:ec2/vpc:",
            "aws:ec2transitgateway/",
            "aws:networkfirewall/",
            "aws:directconnect/",
        ),
    ),
    ("encryption", ("aws:kms/", "serversideencryption")),
    ("protection", ("objectlock", "aws:s3/bucketversioning", "aws:s3/bucketlifecycle")),
    ("audit", ("aws:cloudtrail/", "aws:ec2/flowlog", "aws:s3/bucketlogging", "aws:cloudwatch/loggroup")),
)


# Resource types that hold data (or, for keys, everything encrypted with them): deleting or
# replacing one destroys it. Matched on the lower-cased "<package>:<module>/<type>:" prefix.
_DATA_BEARING = (
    "aws:s3/bucket:",
    "aws:s3/bucketv2:",
    "aws:s3/directorybucket:",
    "aws:s3tables/",
    "aws:kms/key:",
    "aws:kms/replicakey:",
    "aws:kms/externalkey:",
    "aws:secretsmanager/secret:",
    "aws:ssm/parameter:",
    "aws:dynamodb/table:",
    "aws:rds/instance:",
    "aws:rds/cluster:",
    "aws:rds/clustersnapshot:",
    "aws:rds/snapshot:",
    "aws:docdb/cluster:",
    "aws:neptune/cluster:",
    "aws:redshift/cluster:",
    "aws:efs/filesystem:",
    "aws:fsx/",
    "aws:ebs/volume:",
    "aws:ebs/snapshot:",
    "aws:kinesis/stream:",
    "aws:kinesis/firehosedeliverystream:",
    "aws:sqs/queue:",
    "aws:cloudwatch/loggroup:",
    "aws:glacier/vault:",
    "aws:backup/vault:",
    "aws:opensearch/domain:",
    "aws:elasticsearch/domain:",
    "aws:elasticache/replicationgroup:",
    "aws:memorydb/cluster:",
    "aws:ecr/repository:",
    "aws:timestreamwrite/table:",
    "aws:qldb/ledger:",
)


def data_bearing(type_: str) -> bool:
    """Whether deleting a resource of this type destroys data (or the key to it)."""
    low = type_.lower()
    return any(low.startswith(prefix) for prefix in _DATA_BEARING)


def type_class(type_: str) -> str:
    """The risk class a resource type belongs to as a whole ("other" when none)."""
    low = type_.lower()
    for cls, needles in _TYPE_CLASSES:
        if any(n in low for n in needles):
            return cls
    return "other"


def _segments(path: str) -> list[str]:
    """Property names along a path: ``inlinePolicies[0].policy`` -> [inlinePolicies, policy]."""
    out, buf, i = [], "", 0
    while i < len(path):
        ch = path[i]
        if ch == "." and buf:
            out.append(buf)
            buf = ""
        elif ch == "[":
            if buf:
                out.append(buf)
                buf = ""
            end = path.find("]", i)
            inner = path[i + 1 : end if end > 0 else len(path)]
            if inner[:1] == '"':
                out.append(inner.strip('"'))
            i = end if end > 0 else len(path)
        elif ch != ".":
            buf += ch
        i += 1
    if buf:
        out.append(buf)
    return out


def classify(type_: str, path: str, scope: str = "input") -> str:
    """Risk class of a change to ``path`` of a ``type_`` resource.

    ``scope`` is "input" for a property, "option" for a resource option and
    "placement" for the resource's region or provider. A changed property takes
    the most severe class named along its path; a property with no class of
    its own takes its resource type's class, unless it is a tag or description.
    """
    if scope == "placement":
        return "residency"
    if scope == "option":
        return "protection" if path in ("protect", "retainOnDelete") else "other"
    if type_.startswith("pulumi:providers:"):
        return "residency"
    segs = _segments(path)
    if segs and segs[0] in _HARMLESS:
        return "other"
    if "policy" in segs and type_.lower().startswith("aws:kms/"):
        return "key-policy"
    # A property with a class of its own keeps it whatever the resource ("egress" is network,
    # a key's deletion window is protection); the others take their resource type's class.
    found = [_PROP_CLASSES[s] for s in segs if s in _PROP_CLASSES]
    return min(found, key=RANK.__getitem__) if found else type_class(type_)


def resource_class(type_: str, inputs: dict[str, Any] | None) -> str:
    """Risk class of adding or removing a whole resource: its type's, or that of what it grants or moves."""
    found = [type_class(type_)]
    for key in inputs or {}:
        cls = _PROP_CLASSES.get(key)
        if cls in ("residency", "replication", "access", "key-policy", "network"):
            found.append("key-policy" if cls == "access" and type_.lower().startswith("aws:kms/") else cls)
    return min(found, key=RANK.__getitem__)


# --------------------------------------------------------------------------- value diffs


@dataclass
class Change:
    """One changed property (or option, or placement) of a resource."""

    path: str
    old: Any
    new: Any
    risk: str
    scope: str = "input"
    note: str = ""
    direction: str = ""
    """``weakens`` (grants, opens or protects less), ``hardens`` (the reverse) or "" (cannot say)."""

    def __post_init__(self) -> None:
        if not self.direction:
            self.direction = direction_of(self.path, self.old, self.new, self.note)

    @property
    def rank(self) -> int:
        return RANK[self.risk]


@dataclass
class ResourceChange:
    """What happens to one resource, with its changes risk-ordered."""

    kind: str  # added | removed | replaced | changed
    urn: str
    type: str
    name: str
    risk: str
    changes: list[Change] = field(default_factory=list)
    note: str = ""

    direction: str = ""
    """Set for whole-resource additions and removals (see ``resource_direction``)."""
    grant: Any = None
    """For an entry that is a grant, not a resource: its ``enclave.grant_changes.GrantEntry``."""

    @property
    def rank(self) -> int:
        return RANK[self.risk]

    @property
    def hardening_only(self) -> bool:
        """Every change it makes hardens (adds a Deny, narrows, turns a protection on): no alarm."""
        if self.risk == "data-loss":
            return False
        if self.kind in ("added", "removed"):
            return self.direction == "hardens"
        return bool(self.changes) and all(c.direction == "hardens" or c.risk == "other" for c in self.changes)

    @property
    def weakens(self) -> bool:
        return self.direction == "weakens" or any(c.direction == "weakens" for c in self.changes)

    @property
    def flagged(self) -> bool:
        return RISK[self.risk].flagged and not self.hardening_only


KIND_ORDER = {"removed": 0, "replaced": 1, "may-replace": 2, "added": 3, "changed": 4}
KIND_LABEL = {"may-replace": "may replace"}


def order(changes: list[ResourceChange]) -> list[ResourceChange]:
    """Data loss first, then by class; hardening-only changes after every other flagged one.

    Within a class: weakening before neutral, then removals, replacements, possible
    replacements, additions and updates, then by URN.
    """
    for rc in changes:
        rc.changes.sort(key=lambda c: (c.rank, {"weakens": 0, "": 1, "hardens": 2}[c.direction], c.path))
    return sorted(
        changes,
        key=lambda rc: (
            rc.risk == "other",
            rc.hardening_only,
            rc.rank,
            not rc.weakens,
            KIND_ORDER.get(rc.kind, 9),
            rc.urn,
        ),
    )


# --------------------------------------------------------------------------- direction

# Booleans that protect when true (turning them off weakens), and ones that expose when true.
_PROTECTIVE_TRUE = frozenset(
    "protect retainOnDelete enableKeyRotation enableLogFileValidation enableLogging blockPublicAcls "
    "blockPublicPolicy ignorePublicAcls restrictPublicBuckets bucketKeyEnabled encrypted storageEncrypted "
    "deletionProtection objectLockEnabled objectLockEnabledForBucket isEnabled includeGlobalServiceEvents "
    "enableDnsSupport mfaDelete".split()
)
_EXPOSING_TRUE = frozenset(
    "forceDestroy multiRegion isMultiRegionTrail isOrganizationTrail mapPublicIpOnLaunch associatePublicIpAddress "
    "skipFinalSnapshot bypassPolicyLockoutSafetyCheck forceOverwriteReplicaSecret publiclyAccessible "
    "assignIpv6AddressOnCreation".split()
)
# Numbers where less is weaker (shorter retention or deletion window), by the last path segment.
_MORE_IS_SAFER = frozenset(
    "deletionWindowInDays recoveryWindowInDays retentionInDays days years backupRetentionPeriod "
    "auditLogRetentionDays".split()
)
_CIDR_KEYS = frozenset(
    "cidrIpv4 cidrIpv6 cidrBlock cidrBlocks ipv6CidrBlock ipv6CidrBlocks destinationCidrBlock "
    "destinationIpv6CidrBlock".split()
)
_WEAKER_VALUES = {
    # (old, new) pairs of enumerated settings where the new value protects less.
    ("Enabled", "Suspended"),
    ("Enabled", "Disabled"),
    ("COMPLIANCE", "GOVERNANCE"),
    ("aws:kms", "AES256"),
    ("aws:kms:dsse", "AES256"),
    ("aws:kms:dsse", "aws:kms"),
    ("BucketOwnerEnforced", "BucketOwnerPreferred"),
    ("BucketOwnerEnforced", "ObjectWriter"),
    ("BucketOwnerPreferred", "ObjectWriter"),
    ("private", "public-read"),
    ("private", "public-read-write"),
    ("private", "authenticated-read"),
}
# Settings whose direction depends on the property: (protective value, weaker value).
_WEAKER_BY_KEY = {
    "mutationProtection": ("ENABLED", "DISABLED"),
    "firewallFailOpen": ("DISABLED", "ENABLED"),
    "state": ("block-all-sharing", "unblocked"),
}
_WEAKENING_NOTES = ("allows more", "widened", "wildcard added", "may allow more")
_HARDENING_NOTES = ("narrowed", "deny statement added", "condition added", "allow statement removed")


def _networks(value: Any) -> list:
    import ipaddress

    items = value if isinstance(value, list) else [value]
    nets = []
    for item in items:
        if not isinstance(item, str):
            return []
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            return []
    return nets


def _cidr_direction(old: Any, new: Any) -> str:
    """Wider address ranges weaken (an egress or ingress opens to more), narrower harden."""
    if new is None:
        return ""
    olds, news = _networks(old) if old is not None else [], _networks(new)
    if not news:
        return ""
    if any(n.prefixlen == 0 for n in news) and not any(o.prefixlen == 0 for o in olds):
        return "weakens"
    if not olds:
        return ""

    def covered(nets, by) -> bool:
        return all(any(n.version == b.version and n.subnet_of(b) for b in by) for n in nets)

    if covered(olds, news) and not covered(news, olds):
        return "weakens"
    if covered(news, olds) and not covered(olds, news):
        return "hardens"
    return ""


def _number_or_none(value: Any) -> float | None:
    # Stack config values are strings ("2555"); inputs are numbers.
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def direction_of(path: str, old: Any, new: Any, note: str = "") -> str:
    """Whether a change to ``path`` weakens or hardens isolation, protection or access control ("" if unclear)."""
    if any(n in note for n in _WEAKENING_NOTES):
        return "weakens"
    if any(n in note for n in _HARDENING_NOTES):
        return "hardens"
    segs = [seg.rsplit(":", 1)[-1] for seg in _segments(path)]  # stack config keys: "project:key"
    last = segs[-1] if segs else ""
    if last in _CIDR_KEYS or (len(segs) > 1 and segs[-2] in _CIDR_KEYS):
        return _cidr_direction(old, new)
    if isinstance(old, bool) or isinstance(new, bool):
        was, now = bool(old), bool(new)
        if was == now:
            return ""
        if last in _PROTECTIVE_TRUE:
            return "weakens" if was else "hardens"
        if last in _EXPOSING_TRUE:
            return "hardens" if was else "weakens"
        return ""
    if last in _MORE_IS_SAFER:
        was, now = _number_or_none(old), _number_or_none(new)
        if was is not None and now is not None:
            return "weakens" if now < was else "hardens" if now > was else ""
    if isinstance(old, str) and isinstance(new, str):
        if last in _WEAKER_BY_KEY:
            safe, weak = _WEAKER_BY_KEY[last]
            return "weakens" if (old, new) == (safe, weak) else "hardens" if (old, new) == (weak, safe) else ""
        if (old, new) in _WEAKER_VALUES:
            return "weakens"
        if (new, old) in _WEAKER_VALUES:
            return "hardens"
    if new is None and old is not None and last in ("kmsKeyId", "kmsMasterKeyId", "kmsKeyArn", "sseAlgorithm"):
        return "weakens"
    return ""


# Added resources of these types open a path or grant something (removing them closes it).
_OPENING_TYPES = (
    "aws:ec2/route:",
    "aws:ec2/internetgateway",
    "aws:ec2/egressonlyinternetgateway",
    "aws:ec2/natgateway",
    "aws:ec2/vpcpeering",
    "aws:ec2/vpngateway",
    "aws:ec2/vpnconnection",
    "aws:ec2transitgateway/",
    "aws:vpc/securitygroupegressrule",
    "aws:vpc/securitygroupingressrule",
    "aws:ec2/securitygrouprule",
    "aws:ec2/eip",
    "aws:directconnect/",
    "aws:iam/",
    "aws:lambda/permission",
    "aws:kms/grant",
    "aws:s3/bucketacl",
    "replication",
    "replica",
)
# Added resources of these types add a control (removing them takes it away).
_CONTROL_TYPES = (
    "aws:s3/bucketpublicaccessblock",
    "aws:s3/accountpublicaccessblock",
    "serversideencryption",
    "aws:s3/bucketversioning",
    "objectlock",
    "aws:cloudtrail/",
    "aws:ec2/flowlog",
    "aws:s3/bucketlogging",
    "aws:s3/bucketownershipcontrols",
    "aws:ec2/vpcblockpublicaccess",
    "aws:ebs/snapshotblockpublicaccess",
    "aws:ec2/imageblockpublicaccess",
    "aws:route53/resolverfirewall",
    "aws:route53/resolverquerylog",
)


def _only_denies(doc: Any) -> bool | None:
    stmts = _policy_statements(doc)
    if not stmts:
        return None
    return all(isinstance(s, dict) and s.get("Effect") == "Deny" for s in stmts)


def resource_direction(type_: str, inputs: dict[str, Any], kind: str) -> str:
    """Whether adding (``kind="added"``) or removing a whole resource weakens or hardens."""
    low = type_.lower()
    policy = (inputs or {}).get("policy")
    deny_only = _only_denies(policy[JSON_MARK]) if isinstance(policy, dict) and JSON_MARK in policy else None
    if any(n in low for n in _CONTROL_TYPES) or deny_only:
        opens = False
    elif any(n in low for n in _OPENING_TYPES) or deny_only is False:
        opens = True
    elif any(_cidr_direction(None, v) == "weakens" for k, v in (inputs or {}).items() if k in _CIDR_KEYS):
        opens = True
    else:
        return ""
    return ("weakens" if opens else "hardens") if kind == "added" else ("hardens" if opens else "weakens")


def _join(path: str, key: str) -> str:
    if not path:
        return key
    return f"{path}.{key}" if key.replace("_", "").replace("-", "").isalnum() else f'{path}["{key}"]'


def _statement_label(stmt: Any, index: int) -> str:
    if isinstance(stmt, dict) and stmt.get("Sid"):
        return f"Statement[Sid={stmt['Sid']}]"
    return f"Statement[{index}]"


def _policy_statements(doc: Any) -> list[Any] | None:
    if isinstance(doc, dict) and isinstance(doc.get("Statement"), (list, dict)):
        stmts = doc["Statement"]
        return stmts if isinstance(stmts, list) else [stmts]
    return None


def _diff_policy(path: str, old: Any, new: Any) -> list[tuple[str, Any, Any, str]]:
    """Statement-level changes of two policy documents: matched by Sid, else by content."""
    old_stmts, new_stmts = _policy_statements(old) or [], _policy_statements(new) or []
    pairs: list[tuple[str, Any, Any]] = []
    old_sid = {s["Sid"]: s for s in old_stmts if isinstance(s, dict) and s.get("Sid")}
    new_sid = {s["Sid"]: s for s in new_stmts if isinstance(s, dict) and s.get("Sid")}
    for sid in sorted(set(old_sid) | set(new_sid)):
        pairs.append((f"Statement[Sid={sid}]", old_sid.get(sid), new_sid.get(sid)))
    # Statements without a Sid: the same statement may have moved, so compare by content. A single
    # one gone and a single one come is one statement changed.
    old_rest = [s for s in old_stmts if not (isinstance(s, dict) and s.get("Sid"))]
    new_rest = [s for s in new_stmts if not (isinstance(s, dict) and s.get("Sid"))]
    gone = [s for s in old_rest if s not in new_rest]
    came = [(new_stmts.index(s), s) for s in new_rest if s not in old_rest]
    if len(gone) == 1 and len(came) == 1:
        pairs.append((f"Statement[{came[0][0]}]", gone[0], came[0][1]))
    else:
        pairs += [(f"Statement[{old_stmts.index(s)}]", s, None) for s in gone]
        pairs += [(f"Statement[{i}]", None, s) for i, s in came]

    out: list[tuple[str, Any, Any, str]] = []
    for label, o, n in pairs:
        if o != n:
            out += _diff_statement(f"{path}.{label}", o, n)
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if key != "Statement" and old.get(key) != new.get(key):
                out.append((f"{path}.{key}", old.get(key), new.get(key), ""))
    return out


def _diff_statement(p: str, o: Any, n: Any) -> list[tuple[str, Any, Any, str]]:
    """Changes of one policy statement, noting where an Allow grants more or a Deny changes."""
    if o is None:
        if isinstance(n, dict) and n.get("Effect") == "Deny":
            return [(p, None, n, "deny statement added")]
        return [(p, None, n, "statement added" + _widening(None, n))]
    if n is None:
        deny = isinstance(o, dict) and o.get("Effect") == "Deny"
        return [(p, o, None, "deny statement removed: may allow more" if deny else "allow statement removed")]
    if not (isinstance(o, dict) and isinstance(n, dict)):
        return [(p, o, n, "")]
    # Widening only matters for Allow: a wider Deny takes away, it never grants.
    allow = n.get("Effect") == "Allow"
    deny_note = "deny changed: check it still covers what it did"
    out = []
    for key in sorted(set(o) | set(n)):
        ov, nv = o.get(key), n.get(key)
        if ov == nv:
            continue
        if key == "Condition" and isinstance(ov, dict) and isinstance(nv, dict):
            # Condition blocks are long: show the operator and key that changed, not the whole block.
            for cp, cov, cnv, _ in diff_values(_join(p, key), ov, nv):
                if not allow:
                    note = deny_note
                else:
                    note = (
                        "condition removed: may allow more" if cnv is None else "condition added" if cov is None else ""
                    )
                out.append((cp, cov, cnv, note))
            continue
        if key == "Effect":
            note = f"effect now {nv}"
        elif allow and key == "Condition" and not nv:
            note = "condition removed: may allow more"
        elif allow and key == "Condition" and not ov:
            note = "condition added"
        elif allow:
            note = _widening(ov, nv, key)
        else:
            note = deny_note if key in ("Condition", "Action", "Resource", "Principal") else ""
        out.append((_join(p, key), ov, nv, note))
    return out


def _mentions_wildcard(value: Any) -> bool:
    if isinstance(value, str):
        # "*" anywhere, or a whole service ("s3:*"); "bucket/*" is the ordinary object scope.
        return value == "*" or value.endswith(":*")
    if isinstance(value, dict):
        return any(_mentions_wildcard(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_wildcard(v) for v in value)
    return False


def _members(value: Any) -> set[str]:
    """The entries of an Action/Resource/Principal value: ``{"AWS": [a, b]}`` -> {"AWS:a", "AWS:b"}."""
    if isinstance(value, dict):
        return {f"{k}:{m}" for k, v in value.items() for m in _members(v)}
    if isinstance(value, list):
        return {m for v in value for m in _members(v)}
    return {json.dumps(value)} if value is not None else set()


def _widening(old: Any, new: Any, key: str = "") -> str:
    """A note when a statement change looks like it grants more."""
    if new is None:
        return ""
    if old is None and key == "":
        effect = new.get("Effect") if isinstance(new, dict) else None
        if effect == "Allow":
            return "; allows more" + (" (wildcard)" if _mentions_wildcard(new) else "")
        return ""
    if key in ("Action", "Resource", "Principal", "NotAction", "NotResource", "NotPrincipal"):
        if _mentions_wildcard(new) and not _mentions_wildcard(old):
            return "wildcard added"
        if key in ("Action", "Resource", "Principal") and _members(new) > _members(old):
            return "widened"
        if key in ("Action", "Resource", "Principal") and _members(new) < _members(old):
            return "narrowed"
    return ""


def diff_values(path: str, old: Any, new: Any) -> list[tuple[str, Any, Any, str]]:
    """Leaf-level differences of two canonical values as (path, old, new, note)."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        if set(old) == {JSON_MARK} and set(new) == {JSON_MARK}:
            o, n = old[JSON_MARK], new[JSON_MARK]
            if _policy_statements(o) is not None or _policy_statements(n) is not None:
                return _diff_policy(path, o, n)
            return diff_values(path, o, n)
        out = []
        for key in sorted(set(old) | set(new)):
            if key in old and key in new:
                out += diff_values(_join(path, key), old[key], new[key])
            else:
                out.append((_join(path, key), old.get(key), new.get(key), ""))
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) == len(new):
            out = []
            for i, (o, n) in enumerate(zip(old, new, strict=True)):
                out += diff_values(f"{path}[{i}]", o, n)
            return out
        # Lengths differ (a rule added or removed): report the items, not a shifted index.
        removed = [o for o in old if o not in new]
        added = [n for n in new if n not in old]
        return [(f"{path}[-]", o, None, "item removed") for o in removed] + [
            (f"{path}[+]", None, n, "item added") for n in added
        ]
    return [(path, old, new, "")]


# --------------------------------------------------------------------------- back to a program run


def _uncanonical(value: Any) -> Any:
    """Inputs as the engine would hand them to a policy: ``{"$json": doc}`` back to a JSON string,
    ``[secret]`` (redacted here) as an unknown value, which policies treat as not known offline."""
    if isinstance(value, dict):
        if set(value) == {JSON_MARK}:
            return json.dumps(value[JSON_MARK], separators=(",", ":"), sort_keys=True)
        return {k: _uncanonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_uncanonical(v) for v in value]
    if value == SECRET_MARK:
        return UNKNOWN
    return value


def run_from_snapshot(snapshot: dict[str, Any]):
    """A ``ProgramRun`` rebuilt from a snapshot, for evaluating the policy pack on a committed revision.

    What the snapshot does not keep is left out: outputs (stack policies then read inputs, as for
    a first preview) and secret values (unknown). Provider inputs go back to the JSON-encoded form
    the engine receives them in; stack config values to the strings the CLI passes.
    """
    from enclave.harness import ProgramRun, RecordedResource

    resources = []
    for e in snapshot["resources"]:
        inputs = _uncanonical(e["inputs"])
        if e["type"].startswith("pulumi:providers:"):
            inputs = {k: v if isinstance(v, str) else json.dumps(v) for k, v in inputs.items()}
        opts = e["options"]
        resources.append(
            RecordedResource(
                urn=e["urn"],
                type=e["type"],
                name=e["name"],
                custom=e["custom"],
                inputs=inputs,
                redacted_inputs=inputs,
                provider=f"{e['provider']}::snapshot" if e["provider"] else "",
                parent=e["parent"],
                protect=bool(opts.get("protect")),
                retain_on_delete=bool(opts.get("retainOnDelete")),
                delete_before_replace=bool(opts.get("deleteBeforeReplace")),
                dependencies=list(opts.get("dependencies", [])),
                property_dependencies={k: list(v) for k, v in opts.get("propertyDependencies", {}).items()},
                ignore_changes=list(opts.get("ignoreChanges", [])),
                replace_on_changes=list(opts.get("replaceOnChanges", [])),
                additional_secret_outputs=list(opts.get("additionalSecretOutputs", [])),
            )
        )
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in snapshot.get("config", {}).items()}
    return ProgramRun(snapshot.get("project", ""), snapshot["stack"], config, resources, {})
