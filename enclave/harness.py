"""Run a Pulumi program offline under mocks and record what the engine would receive.

The Pulumi CLI cannot run here, so this is the engine's stand-in for the
checks. It reads the project (``enclave.project``: ``Pulumi.yaml``'s
``runtime``, ``main`` and ``config``, the stack file, encrypted values) and
runs the program the way the CLI's Python language host does: in its own
directory, inside ``pulumi.runtime.run_in_stack``, as a preview, with the
SDK's mock monitor. Each ``RegisterResource`` request is captured *whole*:
inputs (secrets still marked, unknowns as the engine's unknown marker),
provider reference, parent, protect, dependencies, the other options that
``Mocks.new_resource`` never sees, and the source position the SDK sends.

Data sources answer with type-correct results (``enclave.invokes``). The run is
bounded: a program that does not finish in time is stopped and reported with
what is still pending. Every failure is a ``HarnessError`` with a one-line
message that names the file and line in the program.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import gc
import hashlib
import inspect
import io
import json
import logging
import os
import re
import runpy
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import provider_pb2, resource_pb2
from pulumi.runtime.stack import massage
from pulumi.runtime.sync_await import _sync_await

from enclave.project import (
    SECRET_PLACEHOLDER,
    HarnessError,
    Project,
    list_stacks,
    load_project,
    load_stack_config,
    project_name,
    read_stack_config,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "PROJECT_DIR",
    "SECRET_MARK",
    "SECRET_PLACEHOLDER",
    "EnclaveMocks",
    "HarnessError",
    "ProgramRun",
    "RecordedResource",
    "RecordingMonitor",
    "list_stacks",
    "load_stack_config",
    "project_name",
    "run_program",
]

PROJECT_DIR = Path(__file__).resolve().parent.parent
"""The enclave project itself: the default program."""

SECRET_MARK = "[secret]"
"""How a secret value is shown anywhere outside the policies (the CLI's own marker)."""

DEFAULT_TIMEOUT = 30.0
"""Seconds a program may run before it is stopped (``--timeout``, or ``ENCLAVE_TIMEOUT``)."""
TIMEOUT_ENV = "ENCLAVE_TIMEOUT"

UNKNOWN = rpc.UNKNOWN
"""The engine's marker for a value only known after deployment (what policies see)."""

_SECRET_SIG = rpc._special_secret_sig  # noqa: SLF001 - the wire marker of a secret
_SIG_KEY = rpc._special_sig_key  # noqa: SLF001
_Unknown = pulumi.output.Unknown
_ASSET_SIG = rpc._special_asset_sig  # noqa: SLF001
_ARCHIVE_SIG = rpc._special_archive_sig  # noqa: SLF001


@dataclass
class RecordedResource:
    """One resource registration, as the engine would receive it."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    """Inputs with secrets unwrapped (what CrossGuard policies see)."""
    redacted_inputs: dict[str, Any]
    """The same inputs with every secret value replaced by ``[secret]``."""
    provider: str
    """``<provider URN>::<provider id>``, or ``""`` for the default provider."""
    parent: str
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    ignore_changes: list[str]
    replace_on_changes: list[str]
    additional_secret_outputs: list[str]
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    """State the mocks returned (ids, ARNs): what other resources' inputs were built from."""
    source_file: str = ""
    """Where the program registered it: relative to the project directory (POSIX); absolute only outside it."""
    source_line: int = 0
    """1-based line of that registration (0 when unknown)."""
    remote: bool = False
    """A remote (multi-language) component: its package's provider plugin builds its children, which do not exist offline."""

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


@dataclass
class ProgramRun:
    """Everything one offline evaluation of one stack produced."""

    project: str
    stack: str
    config: dict[str, Any]
    resources: list[RecordedResource]
    stack_outputs: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    """What the evaluation could not know offline (encrypted config, stack references, ...), one sentence each."""
    reads: list[RecordedResource] = field(default_factory=list)
    """Existing resources the program looked up (``Resource.get``, stack references): not created, not evaluated."""

    def by_urn(self) -> dict[str, RecordedResource]:
        return {r.urn: r for r in self.resources}

    def _urn_index(self) -> dict[str, RecordedResource]:
        # Callers ask effective_region of every resource (snapshots): building
        # by_urn() each time made that quadratic (3,000 resources: 0.9 s). The
        # index is rebuilt whenever the list is replaced or changes length.
        key = (id(self.resources), len(self.resources))
        if getattr(self, "_index_key", None) != key:
            self._index, self._index_key = self.by_urn(), key
        return self._index

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def effective_region(self, res: RecordedResource) -> str | None:
        """The region a resource lands in: its own ``region``, else its provider's, else ``aws:region``."""
        own = res.inputs.get("region")
        if own:
            return own
        if res.provider:
            prov = self._urn_index().get(res.provider_urn)
            if prov is not None and prov.inputs.get("region"):
                return prov.inputs["region"]
        return self.config.get("aws:region")


# --------------------------------------------------------------------------- secrets and unknowns


def _asset(value: pulumi.Asset | pulumi.Archive) -> dict[str, Any]:
    """An asset or archive as it travels to the engine (a plain mapping with its signature)."""
    sig = _ASSET_SIG if isinstance(value, pulumi.Asset) else _ARCHIVE_SIG
    for attr in ("path", "text", "uri"):
        if hasattr(value, attr):
            return {_SIG_KEY: sig, attr: getattr(value, attr)}
    assets = getattr(value, "assets", {}) or {}
    return {_SIG_KEY: sig, "assets": {k: _asset(v) for k, v in assets.items()}}


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG


def unwrap_secrets(value: Any) -> Any:
    """Plain value with every secret marker removed (and every unknown as the engine's marker)."""
    if is_secret(value):
        return unwrap_secrets(value.get("value"))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    if isinstance(value, _Unknown):
        return UNKNOWN
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return _asset(value)
    return value


def redact_secrets(value: Any) -> Any:
    """Plain value with every secret replaced by ``[secret]``."""
    if is_secret(value):
        return SECRET_MARK
    if isinstance(value, dict):
        return {k: redact_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v) for v in value]
    if isinstance(value, _Unknown):
        return UNKNOWN
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return _asset(value)
    return value


def _wire(value: Any) -> Any:
    """A plain value as ``google.protobuf.Struct`` takes it (secret markers stay dicts, unknowns the marker)."""
    if isinstance(value, dict):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    if isinstance(value, _Unknown):
        return UNKNOWN
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return _wire(_asset(value))
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return str(value)


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    # Built directly: the SDK's serialize_properties would need an event loop in the monitor's thread.
    out = struct_pb2.Struct()
    out.update(_wire(value))
    return out


# --------------------------------------------------------------------------- mocks


def _short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _json_input(value: Any) -> Any:
    """Provider inputs that are not strings arrive JSON-encoded."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


# Inputs that hold a resource's physical name, filled by auto-naming when unset.
_NAME_INPUTS = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:iam/role:Role": "name",
    "aws:iam/policy:Policy": "name",
    "aws:iam/rolePolicy:RolePolicy": "name",
    "aws:cloudtrail/trail:Trail": "name",
    "aws:secretsmanager/secret:Secret": "name",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
}

STACK_REFERENCE = "pulumi:pulumi:StackReference"


@functools.cache
def _autonamed(typ: str) -> bool:
    """Whether the provider names this AWS resource itself when ``name`` is unset (its class takes ``name``).

    The Terraform bridge auto-names such resources ``<logical name>-<7 hex>`` during
    the provider's Check, so a real preview already knows the name.
    """
    pkg, mod, _cls = (typ.split(":") + ["", "", ""])[:3]
    if pkg != "aws" or typ in _NAME_INPUTS:
        return False
    for module in rpc._RESOURCE_MODULES.get(f"{pkg}:{mod}") or []:  # noqa: SLF001 - the SDK's registry
        info = getattr(module, "mod_info", None) or {}
        cls_name = info.get("classes", {}).get(typ)
        if cls_name:
            cls = getattr(sys.modules.get(info.get("fqn", "")), cls_name, None)
            init = getattr(cls, "_internal_init", None)
            return init is not None and "name" in inspect.signature(init).parameters
    return False


def _account_of(provider_inputs: dict[str, Any], default: str) -> str:
    """The account a provider works in: its first ``allowed_account_ids``, else its assumed role's."""
    allowed = provider_inputs.get("allowedAccountIds") or []
    if allowed:
        return str(allowed[0])
    roles = provider_inputs.get("assumeRoles") or []
    if roles and isinstance(roles[0], dict):
        parts = str(roles[0].get("roleArn") or "").split(":")
        if len(parts) > 4 and parts[4]:
            return parts[4]
    return default


def _random_state(typ: str, inputs: dict[str, Any], seed: str) -> dict[str, Any]:
    """What pulumi-random would generate, deterministically per resource (values, not secrets of note)."""
    digest = hashlib.sha256(seed.encode()).hexdigest() * 4
    kind = typ.split(":")[-1]
    if kind in ("RandomPassword", "RandomString"):
        length = int(inputs.get("length", 32))
        out = {"result": digest[:length]}
        if kind == "RandomPassword":
            out["bcryptHash"] = f"$2a$10${seed}"
        return out
    if kind == "RandomPet":
        length = max(int(inputs.get("length", 2)), 1)
        separator = inputs.get("separator", "-")
        words = [*(["brave", "calm", "quick", "gentle"] * length)[: length - 1], "otter"]
        prefix = inputs.get("prefix")
        return {"id": separator.join([prefix, *words] if prefix else words)}
    if kind == "RandomInteger":
        low, high = int(inputs.get("min", 0)), int(inputs.get("max", 0))
        return {"result": low + int(digest[:8], 16) % max(high - low + 1, 1)}
    if kind == "RandomShuffle":
        items = list(inputs.get("inputs") or [])
        count = int(inputs.get("resultCount") or len(items))
        return {"results": items[:count]}
    if kind in ("RandomId", "RandomBytes"):
        size = int(inputs.get("byteLength") or inputs.get("length") or 8)
        raw = bytes.fromhex(digest[: 2 * size])
        import base64

        return {
            "hex": raw.hex(),
            "b64Std": base64.b64encode(raw).decode(),
            "b64Url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
            "dec": str(int.from_bytes(raw, "big")),
            "base64": base64.b64encode(raw).decode(),
        }
    if kind.startswith("RandomUuid"):
        return {"result": f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"}
    return {}


class EnclaveMocks(pulumi.runtime.Mocks):
    """Mocks that answer like AWS would: ARNs in the right account and region.

    The account of a resource is the one its provider is pinned to
    (``allowed_account_ids``, else its assumed role); its region is the
    effective region. That lets the policies check, for example, that a
    bucket's KMS key ARN is in the operator's account, exactly as they would on
    a real preview's state. Data sources answer through ``enclave.invokes``.
    """

    def __init__(self, config: dict[str, Any], stack: str):
        self.config = config
        self.stack = stack
        self.providers: dict[str, dict[str, Any]] = {}  # "<urn>::<id>" -> {region, account, inputs}
        self.notes: list[str] = []

    def default_account(self) -> str:
        from enclave.invokes import DEFAULT_ACCOUNT

        allowed = _json_input(self.config.get("aws:allowedAccountIds")) or []
        return str(allowed[0]) if isinstance(allowed, list) and allowed else DEFAULT_ACCOUNT

    def account_of(self, prov: dict[str, Any] | None) -> str:
        """The account of a provider (or the default one), noting when none names it."""
        from enclave.invokes import DEFAULT_ACCOUNT

        account = (prov or {}).get("account") or self.default_account()
        if account == DEFAULT_ACCOUNT:
            self.note(
                f"no AWS provider names its account (aws:allowedAccountIds, or allowed_account_ids, or an assumed "
                f"role), so ARNs and get_caller_identity use {DEFAULT_ACCOUNT}, which is no site's account: set "
                "aws:allowedAccountIds to the account the stack deploys into"
            )
        return account

    def aws_region(self, *chosen: Any) -> str:
        """The region an AWS call or resource uses: its own, its provider's, ``aws:region``, else the environment's.

        With none of them set the provider has no region and a real preview
        fails; here the region is unknown (the residency rules fail on it) and
        a note says what to set.
        """
        region = next((r for r in chosen if r), None) or self.config.get("aws:region")
        if region:
            return str(region)
        for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if os.environ.get(variable):
                self.note(f"aws:region is not set: the AWS provider takes {variable}={os.environ[variable]}, as here")
                return os.environ[variable]
        self.note(
            f"the AWS provider has no region (no aws:region in the stack's config, no AWS_REGION): `pulumi preview` "
            f"would fail; set aws:region (`pulumi config set aws:region <region> -s {self.stack}`)"
        )
        return "unknown-region"

    def _placement(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, str]:
        prov = self.providers.get(args.provider or "", {})
        if not args.typ.startswith("aws:"):
            region = args.inputs.get("region") or prov.get("region") or self.config.get("aws:region")
            return region or "unknown-region", prov.get("account") or self.default_account()
        return self.aws_region(args.inputs.get("region"), prov.get("region")), self.account_of(prov)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = unwrap_secrets(args.inputs)
        typ = args.typ
        state = dict(inputs)
        seed = _short_hash(self.stack, typ, args.name)
        if typ.startswith("pulumi:providers:"):
            # The monitor files the provider under its "<urn>::<id>" reference.
            return f"{args.name}-{seed}", state
        if typ == STACK_REFERENCE:
            target = str(inputs.get("name") or args.resource_id or args.name)
            self.note(
                f"stack reference {target!r}: its outputs cannot be read offline, so they are unknown secrets "
                "here; policies fail closed on what was built from them"
            )
            return target, {
                "name": target,
                "outputs": {_SIG_KEY: _SECRET_SIG, "value": UNKNOWN},
                "secretOutputNames": UNKNOWN,
            }
        if not args.custom and not args.resource_id:
            return "", {}
        region, account = self._placement(args)
        from enclave.partitions import partition_of

        part = partition_of(region)
        partition, suffix = part["name"], part["dnsSuffix"]
        name_input = _NAME_INPUTS.get(typ)
        if name_input and not state.get(name_input):
            if args.resource_id:  # Resource.get(name, id): the id is the physical name
                state[name_input] = args.resource_id
            else:
                prefix = state.get(f"{name_input}Prefix") or f"{args.name}-"
                state[name_input] = f"{prefix}{seed[:7]}"
        physical = state.get(name_input) if name_input else None
        if not name_input and not state.get("name") and not args.resource_id and _autonamed(typ):
            physical = state["name"] = f"{args.name}-{seed[:7]}"
        rid = args.resource_id or physical or f"{args.name}-{seed}"
        service = typ.split(":")[1].split("/")[0]
        arn = f"arn:{partition}:{service}:{region}:{account}:{typ.split(':')[-1].lower()}/{rid}"

        if typ == "aws:s3/bucket:Bucket":
            arn = f"arn:{partition}:s3:::{rid}"
            state.update(
                bucketDomainName=f"{rid}.s3.{suffix}",
                bucketRegionalDomainName=f"{rid}.s3.{region}.{suffix}",
                region=region,
            )
        elif typ == "aws:kms/key:Key":
            rid = args.resource_id or f"{seed}-0000-4000-8000-{_short_hash(seed, length=12)}"
            arn = f"arn:{partition}:kms:{region}:{account}:key/{rid}"
            state["keyId"] = rid
        elif typ == "aws:kms/alias:Alias":
            rid = inputs.get("name", f"alias/{args.name}")
            arn = f"arn:{partition}:kms:{region}:{account}:{rid}"
        elif typ in ("aws:iam/role:Role", "aws:iam/policy:Policy"):
            kind = "role" if typ.endswith("Role") else "policy"
            arn = f"arn:{partition}:iam::{account}:{kind}{inputs.get('path', '/')}{rid}"
            state["uniqueId"] = f"AROA{seed.upper()}"
        elif typ == "aws:secretsmanager/secret:Secret":
            arn = f"arn:{partition}:secretsmanager:{region}:{account}:secret:{rid}-{seed[:6]}"
            rid = arn
        elif typ == "aws:cloudtrail/trail:Trail":
            arn = f"arn:{partition}:cloudtrail:{region}:{account}:trail/{rid}"
            state["homeRegion"] = region
        elif typ == "aws:ec2/vpc:Vpc":
            rid = args.resource_id or f"vpc-{seed}"
            arn = f"arn:{partition}:ec2:{region}:{account}:vpc/{rid}"
            state.update(
                defaultSecurityGroupId=f"sg-{_short_hash(seed, 'sg')}",
                defaultNetworkAclId=f"acl-{_short_hash(seed, 'acl')}",
                mainRouteTableId=f"rtb-{_short_hash(seed, 'rtb')}",
                ownerId=account,
            )
        elif typ.startswith("aws:ec2/"):
            prefixes = {
                "subnet": "subnet",
                "securityGroup": "sg",
                "networkAcl": "acl",
                "routeTable": "rtb",
                "vpcEndpoint": "vpce",
                "flowLog": "fl",
            }
            kind = typ.split("/")[1].split(":")[0]
            if kind in prefixes:
                rid = args.resource_id or f"{prefixes[kind]}-{seed}"
                arn = f"arn:{partition}:ec2:{region}:{account}:{kind.lower()}/{rid}"
            if kind == "vpcEndpoint":
                state["prefixListId"] = f"pl-{_short_hash(seed, 'pl')}"
                state["dnsEntries"] = [{"dnsName": f"{rid}.{region}.vpce.{suffix}", "hostedZoneId": "Z0"}]
        elif typ.startswith("random:"):
            state.update(_random_state(typ, inputs, seed))
            rid = state.get("id") or rid  # a RandomPet's id is the pet name
        state.setdefault("arn", arn)
        state["id"] = rid
        if "tagsAll" not in state and "tags" in state:
            state["tagsAll"] = state["tags"]
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs):
        from enclave.invokes import Placement, answer

        prov = self.providers.get(args.provider or "")
        if prov is None and args.provider and "__self__" in args.args:
            # A provider method (``terraform_config``): the call names its provider by id.
            prov = next((p for ref, p in self.providers.items() if ref.endswith(f"::{args.args['__self__']}")), None)
        if args.token.startswith("pulumi:providers:") and args.token.endswith("/terraformConfig"):
            return {"result": dict((prov or {}).get("inputs") or {})}, []
        package = args.token.split(":", 1)[0]
        if package == "aws":
            region = self.aws_region(args.args.get("region"), (prov or {}).get("region"))
        else:
            region = (prov or {}).get("region") or self.config.get(f"{package}:region") or self.config.get("aws:region")
        placement = Placement(
            region=str(region or "unknown-region"),
            account=self.account_of(prov)
            if package == "aws"
            else (prov or {}).get("account") or self.default_account(),
            provider_inputs=(prov or {}).get("inputs") or {},
        )
        try:
            result, note = answer(args.token, args.args, placement)
        except ValueError as exc:  # the provider would refuse these arguments: the invoke fails
            return {}, [("", str(exc))]
        if note:
            self.note(note)
        return result, []


class MissingAssetError(Exception):
    """A ``FileAsset`` or ``FileArchive`` whose path does not exist: the engine cannot hash it, so the preview fails."""


def _missing_asset(value: Any, where: str = "") -> tuple[str, str, str] | None:
    """``(property path, asset class, path)`` of the first file asset or archive whose path is not there."""
    if isinstance(value, (pulumi.FileAsset, pulumi.FileArchive)):
        path = str(value.path)
        exists = os.path.isfile(path) if isinstance(value, pulumi.FileAsset) else os.path.exists(path)
        return None if exists else (where, type(value).__name__, path)
    if isinstance(value, pulumi.AssetArchive):  # its entries are paths inside the archive: code['app/']
        items = ((f"[{k!r}]", v) for k, v in value.assets.items())
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        sub = f"{where}{key}" if str(key).startswith("[") else f"{where}.{key}" if where else str(key)
        found = _missing_asset(item, sub)
        if found:
            return found
    return None


class DuplicateUrnError(Exception):
    """Two resources of one type and name under one parent: the engine refuses the second."""


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps each register request whole, with its source position.

    It does not offer resource references: a provider built on the Terraform
    bridge receives a resource passed as an input as its id (a component as its
    URN), and the SDK then sends exactly that. (Offered, the mock rebuilt the
    resource in the monitor's own thread, whose outputs never resolved: the
    "resource passed as a string" hang.)
    """

    def __init__(self, mocks: EnclaveMocks, root: Path | None = None):
        super().__init__(mocks)
        self.records: list[RecordedResource] = []
        self.reads: list[RecordedResource] = []
        self.root = Path(os.path.realpath(root)) if root else None
        self._positions: dict[str, str | None] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        """The program's event loop, where transforms run (as the engine calls back into the program)."""
        self._transforms: dict[str, list] = {}  # urn -> its own transform callbacks (children inherit them)
        self._parents: dict[str, str] = {}
        self._stack_callbacks: list = []
        self._urns: dict[str, tuple[str, int]] = {}  # urn -> where it was first registered or read
        self._urns_lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the root stack out of its children's qualified
        # type (urn:...::aws:s3/bucket:Bucket::x); the stock mock keeps it.
        if parent and parent.split("::")[2] == "pulumi:pulumi:Stack":
            parent = ""
        return super().make_urn(parent, type_, name)

    def GetDeploymentInfo(self, request):  # noqa: N802 - gRPC method name
        info = super().GetDeploymentInfo(request)
        features = [f for f in info.supportedFeatures if f != resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)

    def SupportsFeature(self, request):  # noqa: N802
        if request.id == "resourceReferences":
            return type("SupportsFeatureResponse", (), {"hasSupport": False})
        return super().SupportsFeature(request)

    # ---------------------------------------------------------------- source positions

    def _relative(self, uri: str) -> str | None:
        """The program-relative POSIX path of a ``file://`` URI, or None outside the program."""
        if uri not in self._positions:
            path = Path(os.path.realpath(unquote(urlparse(uri).path)))
            inside = (
                self.root is not None
                and self.root in path.parents
                and not {"site-packages", "dist-packages"} & set(path.parts)
            )
            self._positions[uri] = path.relative_to(self.root).as_posix() if inside else None
        return self._positions[uri]

    def _position(self, request) -> tuple[str, int]:
        """The SDK's source position, or, when that is library code, the first frame in the program."""
        pos = request.sourcePosition
        if pos.uri:
            rel = self._relative(pos.uri)
            if rel is not None:
                return rel, pos.line
        for frame in request.stackTrace.frames:
            if frame.pc.uri:
                rel = self._relative(frame.pc.uri)
                if rel is not None:
                    return rel, frame.pc.line
        if pos.uri:
            return unquote(urlparse(pos.uri).path), pos.line
        return "", 0

    # ---------------------------------------------------------------- registrations

    def _register(
        self, request, inputs_struct, resource_id: str, custom: bool, provider: str | None = None
    ) -> tuple[str, str, dict, dict, dict]:
        urn = self.make_urn(request.parent, request.type, request.name)
        raw = rpc.deserialize_properties(inputs_struct, keep_unknowns=True)
        inputs = unwrap_secrets(raw)
        mocks: EnclaveMocks = self.mocks
        args = pulumi.runtime.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
            provider=request.provider if provider is None else provider,
            resource_id=resource_id,
            custom=custom,
            transforms=pulumi_mocks._resolve_callbacks(getattr(request, "transforms", [])),  # noqa: SLF001
        )
        rid, state = mocks.new_resource(args)
        rid = rid or ""
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, rid, state)
        if request.type.startswith("pulumi:providers:"):
            decoded = {k: _json_input(v) for k, v in inputs.items()}
            mocks.providers[f"{urn}::{rid}"] = {
                "region": inputs.get("region"),
                "account": _account_of(decoded, mocks.default_account()),
                "inputs": decoded,
            }
        return urn, rid, state, raw, inputs

    def _record(self, request, registered: tuple, **options) -> RecordedResource:
        urn, rid, state, raw, inputs = registered
        source_file, source_line = self._position(request)
        return RecordedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            inputs=inputs,
            redacted_inputs=redact_secrets(raw),
            provider=request.provider,
            parent=request.parent,
            id=rid,
            outputs=state,
            source_file=source_file,
            source_line=source_line,
            **options,
        )

    # ---------------------------------------------------------------- transforms

    def _transform_chain(self, request) -> list:
        """The resource's own transforms, then each ancestor's, then the stack's: the engine's order."""
        chain = list(request.transforms)
        parent = request.parent
        while parent:
            chain.extend(self._transforms.get(parent, []))
            parent = self._parents.get(parent, "")
        return chain + self._stack_callbacks

    @staticmethod
    def _options(request) -> resource_pb2.TransformResourceOptions:
        """A registration's options in the form transforms receive and return them."""
        options = resource_pb2.TransformResourceOptions(
            depends_on=list(request.dependencies),
            ignore_changes=list(request.ignoreChanges),
            replace_on_changes=list(request.replaceOnChanges),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            provider=request.provider,
            providers=dict(request.providers),
        )
        options.protect = bool(request.protect)
        options.retain_on_delete = bool(request.retainOnDelete)
        options.delete_before_replace = bool(request.deleteBeforeReplace)
        return options

    def _apply_transforms(self, request) -> tuple[struct_pb2.Struct, resource_pb2.TransformResourceOptions]:
        """Run the transforms on the registration, in the program's loop, via the SDK's own callback code."""
        properties, options = request.object, self._options(request)
        chain = self._transform_chain(request)
        if not chain or self.loop is None:
            return properties, options
        from pulumi.runtime._callbacks import _CallbackServicer

        callbacks = {}
        for servicer in _CallbackServicer._servicers:  # noqa: SLF001 - where the program's callbacks live
            if servicer._loop is self.loop:  # noqa: SLF001
                callbacks.update(servicer._callbacks)  # noqa: SLF001
        for callback in chain:
            fn = callbacks.get(callback.token)
            if fn is None:
                continue
            transform = resource_pb2.TransformRequest(
                type=request.type,
                name=request.name,
                custom=request.custom,
                parent=request.parent,
                properties=properties,
                options=options,
            )
            raw = asyncio.run_coroutine_threadsafe(fn(transform.SerializeToString()), self.loop).result()
            response = resource_pb2.TransformResponse()
            response.CopyFrom(raw)
            properties = response.properties
            if response.HasField("options"):
                options = response.options
        return properties, options

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        if request.type == "pulumi:pulumi:Stack":
            urn = self.make_urn(request.parent, request.type, request.name)
            self.stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)
        self._refuse_duplicate(request)
        properties, opts = self._apply_transforms(request)
        registered = self._register(request, properties, request.importId, bool(request.custom), opts.provider)
        missing = _missing_asset(registered[3])
        if missing:  # paths are relative to the program's directory, the working directory here
            file, line = self._position(request)
            at = f", {file}:{line}" if file else ""
            raise MissingAssetError(
                f"{request.type} {request.name!r}{at}: {missing[0]}: {missing[1]} '{missing[2]}' does not exist "
                f"(relative to {os.getcwd()}), so the engine cannot hash it and `pulumi preview` fails"
            )
        urn, rid, state = registered[:3]
        if request.transforms:
            self._transforms[urn] = list(request.transforms)
        self._parents[urn] = request.parent
        record = self._record(
            request,
            registered,
            custom=bool(request.custom),
            protect=opts.protect,
            retain_on_delete=opts.retain_on_delete,
            delete_before_replace=opts.delete_before_replace,
            dependencies=list(opts.depends_on),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            ignore_changes=list(opts.ignore_changes),
            replace_on_changes=list(opts.replace_on_changes),
            additional_secret_outputs=list(opts.additional_secret_outputs),
            remote=bool(request.remote),
        )
        record.provider = opts.provider
        self.records.append(record)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=rid, object=_struct(state))

    def _refuse_duplicate(self, request) -> None:
        """The engine's refusal of a second resource with the same URN (a registration or a read)."""
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._urns_lock:  # registrations arrive on the SDK's executor threads, concurrently
            first = self._urns.get(urn)
            if first is None:
                self._urns[urn] = self._position(request)
                return
        places = [f"{f}:{line}" for f, line in (self._position(request), first) if f]
        at = f" ({places[0]}; first registered at {places[1]})" if len(places) == 2 else ""
        raise DuplicateUrnError(f"Duplicate resource URN '{urn}'; try giving it a unique name{at}")

    def ReadResource(self, request):  # noqa: N802 - gRPC method name
        self._refuse_duplicate(request)
        registered = self._register(request, request.properties, request.id, True)
        urn, rid, state = registered[:3]
        self.reads.append(
            self._record(
                request,
                registered,
                custom=True,
                protect=False,
                retain_on_delete=False,
                delete_before_replace=False,
                dependencies=list(request.dependencies),
                property_dependencies={},
                ignore_changes=[],
                replace_on_changes=[],
                additional_secret_outputs=list(request.additionalSecretOutputs),
            )
        )
        return resource_pb2.ReadResourceResponse(urn=urn, id=rid, properties=_struct(state))

    def Invoke(self, request):  # noqa: N802 - gRPC method name
        if request.tok == "pulumi:pulumi:getResource":
            return super().Invoke(request)
        args = unwrap_secrets(rpc.deserialize_properties(request.args, keep_unknowns=True))
        ret, failures = self.mocks.call(pulumi.runtime.MockCallArgs(request.tok, args, request.provider))
        return resource_pb2.ResourceInvokeResponse(
            failures=[provider_pb2.CheckFailure(property=p, reason=r) for p, r in failures or []],
            **{"return": _struct(ret)},
        )

    def Call(self, request):  # noqa: N802 - gRPC method name (resource methods such as terraform_config)
        args = unwrap_secrets(rpc.deserialize_properties(request.args, keep_unknowns=True))
        ret, failures = self.mocks.call(pulumi.runtime.MockCallArgs(request.tok, args, request.provider))
        return provider_pb2.CallResponse(
            failures=[provider_pb2.CheckFailure(property=p, reason=r) for p, r in failures or []],
            **{"return": _struct(ret)},
        )

    def RegisterStackTransform(self, request):  # noqa: N802
        self._stack_callbacks.append(request)
        return super().RegisterStackTransform(request)

    def RegisterStackInvokeTransform(self, request):  # noqa: N802
        self.mocks.note("the program registers invoke transforms; data sources here answer without applying them")
        return super().RegisterStackInvokeTransform(request)


# --------------------------------------------------------------------------- running the program


_frozen = False
"""Whether a run has frozen the SDK's objects yet (see ``_collector_paused``)."""


@contextmanager
def _collector_paused():
    """Run without the cyclic garbage collector, then keep it off everything that survived.

    A run imports the SDK (pulumi_aws's classes: hundreds of thousands of
    long-lived objects) and registers resources through many short-lived
    futures; with the collector on, its full passes rescan that growing heap
    again and again, about a quarter of ``enclave check --stack``. Afterwards
    the survivors are frozen (``gc.freeze``: a generation the collector never
    scans). Each run's cyclic garbage is collected first, which is cheap once
    the SDK is frozen; the first run's (about 3 MB) is frozen with it, as
    collecting it would scan the whole SDK once.
    """
    global _frozen
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # A flag, not gc.get_freeze_count(): that walks every frozen object (~20 ms).
        if _frozen:
            gc.collect()
        gc.freeze()
        _frozen = True
        if enabled:
            gc.enable()


def _virtualenv_paths(project: Project, notes: list[str]) -> list[str]:
    """``runtime.options.virtualenv``: its site-packages when made for this Python, after ours."""
    venv = project.options.get("virtualenv")
    if not isinstance(venv, str) or not venv:
        return []
    path = (project.root / venv).resolve()
    site = path / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    ours = Path(sys.prefix).resolve()
    if path == ours:
        return []
    if site.is_dir():
        notes.append(
            f"the project's virtualenv {venv} is used for packages this tooling lacks; this tooling's pinned "
            "Pulumi SDKs take precedence over its own"
        )
        return [str(site)]
    notes.append(
        f"the project's virtualenv {venv} does not exist for Python {sys.version_info.major}."
        f"{sys.version_info.minor}: the program ran with this tooling's packages"
    )
    return []


def _signal_in_program_thread(project: Project, note: Any) -> Any:
    """``signal.signal`` for a program running outside the main thread.

    The language host runs the program in its main thread, where installing a
    handler is allowed; here it runs in a worker thread, where Python refuses
    it. No signal reaches the program during an offline check, so the handler
    is not installed (the previous one is returned, as the call would) and a
    note says so. Calls from the main thread are the real thing.
    """
    real = signal.signal

    def program_signal(signalnum: Any, handler: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            return real(signalnum, handler)
        caller = sys._getframe(1)  # noqa: SLF001 - where the program installs it
        where = _program_place(caller.f_code.co_filename, caller.f_lineno, project.root)
        try:
            name = signal.Signals(signalnum).name
        except ValueError:
            name = str(signalnum)
        note(
            f"the program installs a {name} handler{f' ({where})' if where else ''}: no signal reaches it "
            "offline, so it was not installed"
        )
        return signal.getsignal(signalnum)

    return program_signal


def _recording_call_sites(project: Project, real: Any, sites: dict[str, list[str]]) -> Any:
    """An SDK invoke function that also records where in the program each data source was called.

    A ``get_*_output`` call fails later, in the SDK's own frames, and the SDK
    sends no source position with an invoke: this is how its failure can
    still name the program's line.
    """

    def recording(tok: str, *args: Any, **kwargs: Any) -> Any:
        frame = sys._getframe(1)  # noqa: SLF001 - the caller: the SDK's generated get_*_output, then the program
        while frame is not None:
            place = _program_place(frame.f_code.co_filename, frame.f_lineno, project.root)
            if place:
                if place not in sites.setdefault(tok, []):
                    sites[tok].append(place)
                break
            frame = frame.f_back
        return real(tok, *args, **kwargs)

    return recording


@contextmanager
def _program_environment(
    project: Project, extra_paths: list[str], note: Any = None, invoke_sites: dict[str, list[str]] | None = None
) -> Iterator[None]:
    """The process state the language host gives a program, restored afterwards.

    The program's own directory first on ``sys.path`` and its working
    directory (relative file reads), no standard input (a prompt fails rather
    than waits), its output on stderr (so ``--format json`` stays parseable),
    and its own modules imported fresh. Environment variables it sets are
    undone, as its own process would end with it. Two programs (the project and a test's
    variant of it) both have a ``components`` package: each run must import its
    own. The caller's modules are restored after the run, not purged, because
    Pulumi resolves output types through ``sys.modules[cls.__module__]`` long
    after import.
    """
    pwd = project.pwd
    names = {p.stem if p.suffix == ".py" else p.name for p in pwd.iterdir() if not p.name.startswith(".")}
    names.discard("__main__")
    if pwd == PROJECT_DIR:
        names -= {"enclave", "tests", "bench"}  # this tooling, which is running

    def ours(module_name: str) -> bool:
        return module_name.split(".", 1)[0] in names

    stash = {name: mod for name, mod in sys.modules.items() if ours(name)}
    for name in stash:
        del sys.modules[name]
    saved = (list(sys.path), os.getcwd(), sys.stdin, sys.stdout, sys.argv)
    environment = dict(os.environ)  # the language host's process ends with the program; here the next stack runs
    real_signal, real_invoke_output = signal.signal, pulumi.runtime.invoke_output
    signal.signal = _signal_in_program_thread(project, note or (lambda _text: None))
    if invoke_sites is not None:
        pulumi.runtime.invoke_output = _recording_call_sites(project, real_invoke_output, invoke_sites)
    sys.path.insert(0, str(pwd))
    sys.path.extend(p for p in extra_paths if p not in sys.path)
    os.chdir(pwd)
    sys.stdin, sys.stdout, sys.argv = io.StringIO(""), sys.stderr, [str(project.main)]
    try:
        yield
    finally:
        signal.signal, pulumi.runtime.invoke_output = real_signal, real_invoke_output
        if os.environ != environment:
            os.environ.clear()
            os.environ.update(environment)
        sys.path[:], (cwd, sys.stdin, sys.stdout, sys.argv) = saved[0], saved[1:]
        os.chdir(cwd)
        for name in [n for n in sys.modules if ours(n)]:
            del sys.modules[name]
        sys.modules.update(stash)


class _Abandoned(SystemExit):
    """Raised inside a program thread that ran out of time (a SystemExit, so asyncio lets it through)."""


class _Run:
    """One program run in its own thread, with its own event loop and Pulumi runtime state.

    Pulumi's runtime state lives in context variables, which a new thread
    starts without: each run configures its own, so a run abandoned on timeout
    leaves nothing behind for the next one.
    """

    def __init__(self, project: Project, stack: str, config: dict, secret_keys: list[str], monitor: RecordingMonitor):
        self.project, self.stack, self.config, self.secret_keys = project, stack, config, secret_keys
        self.monitor = monitor
        self.loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None
        self.outputs: dict[str, Any] = {}
        self.root: Any = None
        self.program_traceback: Any = None

    def thread(self) -> threading.Thread:
        return threading.Thread(target=self._main, name=f"pulumi-program-{self.stack}", daemon=True)

    def _configure(self) -> None:
        monitor = self.monitor
        pulumi.runtime.set_all_config(dict(self.config), list(self.secret_keys))
        settings.configure(
            pulumi_mocks.MockSettings(
                monitor=monitor,
                monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
                engine=pulumi_mocks.MockEngine(logging.getLogger("pulumi.program")),
                project=self.project.name,
                stack=self.stack,
                dry_run=True,  # a preview, as `pulumi preview --policy-pack` runs it
                legacy_apply_enabled=False,
                parallel=None,
                organization="organization",
                root_directory=str(self.project.root),
                callbacks=None,
                outputs=set(),
                lock=threading.Lock(),
                package_refs={},
                base_providers_by_ref={},
            )
        )

    def _main(self) -> None:
        loop = self.loop = self.monitor.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # as the language host does
        try:
            self._configure()
            main = str(self.project.main)

            def program():
                # The root stack lives in the run's task context: take it from there.
                self.root = settings.get_root_resource()
                try:
                    runpy.run_path(main, run_name="__main__")
                except BaseException as exc:
                    # The SDK may re-raise this later from its own frames (an invoke's RPC): keep
                    # the traceback through the program, which names the line.
                    self.program_traceback = exc.__traceback__
                    raise
                return _settle()  # run_in_stack awaits what the program function returns

            try:
                loop.run_until_complete(pulumi.runtime.stack.run_in_stack(program))
            except SystemExit as exc:
                if isinstance(exc, _Abandoned) or exc.code not in (None, 0):
                    raise
            outputs = getattr(self.root, "outputs", {}) or {}
            # As the stack registers them: output types and resources become plain mappings.
            self.outputs = {key: _resolve(massage(value, [])) for key, value in outputs.items()}
        except BaseException as exc:  # noqa: BLE001 - reported by run_program
            self.error = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_default_executor())
            except BaseException:  # noqa: BLE001 - an abandoned loop may not shut down cleanly
                pass
            loop.close()
            asyncio.set_event_loop(None)

    # ---------------------------------------------------------------- timeouts

    def pending(self, thread: threading.Thread) -> str:
        """What the program is still waiting for: unregistered resources, unresolved outputs, where it waits."""
        from pulumi.runtime.stack import Stack

        loop = self.loop
        resources, outputs = [], []
        for obj in gc.get_objects():
            if not isinstance(obj, pulumi.Resource):
                continue
            data = getattr(obj.__dict__.get("urn"), "_data", None)
            if data is None or data.get_loop() is not loop:
                continue
            if isinstance(obj, Stack):
                outputs = [k for k, v in obj.outputs.items() if isinstance(v, pulumi.Output) and not v._data.done()]  # noqa: SLF001
            elif not data.done():
                resources.append(f"{obj._type} {obj._name!r}")  # noqa: SLF001
        parts = []
        if resources:
            parts.append(f"resources not yet registered: {', '.join(sorted(resources))}")
        if outputs:
            parts.append(f"stack outputs not yet resolved: {', '.join(sorted(outputs))}")
        where = self._waiting_at(thread)
        if where:
            parts.append(f"the program was at {where}")
        return "; ".join(parts) or "nothing was registered (the program never returned)"

    def _waiting_at(self, thread: threading.Thread) -> str:
        frames = []
        current = sys._current_frames().get(thread.ident)  # noqa: SLF001 - where the stuck thread is
        while current is not None:
            frames.append((current.f_code.co_filename, current.f_lineno))
            current = current.f_back
        places = [p for p in (_program_place(f, line, self.project.root) for f, line in frames) if p]
        if places:
            return places[0]
        if self.loop is not None:
            try:
                tasks = list(asyncio.all_tasks(self.loop))
            except RuntimeError:
                tasks = []
            for task in tasks:
                for frame in task.get_stack():
                    place = _program_place(frame.f_code.co_filename, frame.f_lineno, self.project.root)
                    if place:
                        return place
        return ""

    def abandon(self, thread: threading.Thread) -> None:
        """Stop the thread at its next bytecode (a CPU loop) or its next event (an idle loop)."""
        if thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_Abandoned))
        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(lambda: None)  # wakes its selector
            except RuntimeError:
                pass


async def _settle() -> None:
    """Wait for every output the program made, all at once, before the SDK's own final wait.

    ``wait_for_rpcs`` re-waits on every pending output after each single
    completion: quadratic in the outputs still pending once the registrations are
    done (a thousand for the enclave program, a quarter of a run). Waiting on all
    of them first leaves it only finished ones, so it reports exactly what it
    would have; the first failure stops this wait and is left to it.
    """
    while True:
        with settings.SETTINGS.lock:
            pending = [task for task in settings.SETTINGS.outputs if not task.done()]
        if not pending:
            return
        done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        if any(not t.cancelled() and t.exception() is not None for t in done):
            return


def _resolve(value: Any) -> Any:
    if isinstance(value, pulumi.Output):

        async def get():
            return await value.future()

        return _resolve(_sync_await(get()))
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(v) for v in value]
    if asyncio.isfuture(value):
        return _resolve(_sync_await(value))
    return value


# --------------------------------------------------------------------------- failures


def _program_place(filename: str, line: int, root: Path) -> str | None:
    """``file:line`` of a frame in the program (relative to the project), None for library code."""
    if not filename or filename.startswith("<"):
        return None
    path = Path(os.path.realpath(filename))
    if root not in path.parents or {"site-packages", "dist-packages"} & set(path.parts):
        return None
    return f"{path.relative_to(root).as_posix()}:{line}"


def _deepest_place(tb: Any, root: Path) -> str:
    place = ""
    for frame, line in traceback.walk_tb(tb):
        here = _program_place(frame.f_code.co_filename, line, root)
        if here:
            place = here
    return place


def _where(exc: BaseException, root: Path, program_traceback: Any = None) -> str:
    """The deepest frame of the traceback in the program: where a reviewer fixes it."""
    if isinstance(exc, SyntaxError) and exc.filename:
        place = _program_place(exc.filename, exc.lineno or 0, root)
        if place:
            return place
    for current in _chain(exc):
        place = _deepest_place(current.__traceback__, root)
        if place:
            return place
    return _deepest_place(program_traceback, root) if program_traceback is not None else ""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then its causes and contexts, each once.

    The SDK re-raises a failed RPC ``from`` itself (``stack.wait_for_rpcs``),
    so a cause can be the exception itself: its context then leads on to the
    exception the program raised.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None:
        seen.add(id(current))
        yield current
        current = next(
            (e for e in (current.__cause__, current.__context__) if e is not None and id(e) not in seen), None
        )


_SDK_WRAPPER = "While processing "
"""How the SDK rewraps what an ``apply`` raised in an input or output ("While processing input: ..."; "... resource: ...")."""


def _original(exc: BaseException) -> BaseException:
    """What the program raised, under the SDK's "While processing input" rewrapping."""
    for current in _chain(exc):
        if not str(current).startswith(_SDK_WRAPPER):
            return current
    return exc


_DISTRIBUTIONS = {
    "yaml": "PyYAML",
    "PIL": "Pillow",
    "bs4": "beautifulsoup4",
    "cv2": "opencv-python",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "jwt": "PyJWT",
    "sklearn": "scikit-learn",
    "Crypto": "pycryptodome",
    "OpenSSL": "pyOpenSSL",
    "google": "google-cloud-core",
    "attr": "attrs",
    "magic": "python-magic",
    "docx": "python-docx",
    "git": "GitPython",
    "jose": "python-jose",
    "nacl": "PyNaCl",
    "psycopg2": "psycopg2-binary",
    "serial": "pyserial",
    "zmq": "pyzmq",
    "mysql": "mysql-connector-python",
    "MySQLdb": "mysqlclient",
}


def _normalized(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(project: Project) -> tuple[str, list[str]] | None:
    """The program's ``requirements.txt`` (what the CLI installs into its virtualenv) and the names it declares."""
    for folder in dict.fromkeys([project.root, project.pwd]):
        path = folder / "requirements.txt"
        if path.is_file():
            names = []
            for line in path.read_text(errors="replace").splitlines():
                match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
                if match and not line.lstrip().startswith("-"):
                    names.append(match.group(1))
            return path.relative_to(project.root).as_posix(), names
    return None


def _install_hint(module: str, project: Project) -> str:
    """How to install what provides ``module``: the distribution requirements.txt declares for it, else a guess."""
    guess = _distribution(module)
    declared = _declared(project)
    if declared is None:
        return f"`pip install {guess}`"
    file, names = declared
    top = _normalized(module.split(".", 1)[0])
    match = next((n for n in names if _normalized(n) == _normalized(guess)), None) or next(
        (n for n in names if _normalized(n).startswith(f"{top}-")), None
    )
    if match:
        return f"`pip install {match}`, which {file} declares; or `pip install -r {file}`"
    return f"`pip install {guess}`, which {file} does not declare"


def _distribution(module: str) -> str:
    """The ``pip install`` name of a top-level import (``pulumi_gcp`` -> ``pulumi-gcp``)."""
    top = module.split(".", 1)[0]
    if top in _DISTRIBUTIONS:
        return _DISTRIBUTIONS[top]
    if top.startswith("pulumi_"):
        return top.replace("_", "-")
    return top


_GENERATED_DATA_SOURCE = re.compile(r"[/\\]pulumi_\w+[/\\](?:\w+[/\\])*(get_\w+)\.py$")


def _failed_data_source(exc: BaseException) -> str | None:
    """The SDK function of a plain data-source call that died on its own empty result (unknown inputs)."""
    if not isinstance(exc, (AssertionError, AttributeError, TypeError)):
        return None
    for frame, _line in traceback.walk_tb(exc.__traceback__):
        match = _GENERATED_DATA_SOURCE.search(frame.f_code.co_filename)
        if match and frame.f_code.co_name == match.group(1):
            return frame.f_code.co_name
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


_SDK_MODULE = re.compile(r"\bpulumi_[a-z0-9_]+")


def _sdk_hint(exc: BaseException) -> str:
    """When a Pulumi package lacks what the program uses: which version is installed (a program for another one)."""
    module = None
    if isinstance(exc, ImportError) and not isinstance(exc, ModuleNotFoundError) and exc.name:
        module = exc.name
    elif isinstance(exc, AttributeError):
        found = re.match(r"module '(pulumi_[a-z0-9_.]+)' has no attribute", str(exc))
        obj = getattr(exc, "obj", None)
        module = found.group(1) if found else getattr(obj, "__name__", None) or type(obj).__module__
    elif isinstance(exc, TypeError) and "unexpected keyword argument" in str(exc):
        frames = [f.f_code.co_filename for f, _line in traceback.walk_tb(exc.__traceback__)]
        found = _SDK_MODULE.search(frames[-1].replace(os.sep, "/").split("site-packages/")[-1]) if frames else None
        module = found.group(0) if found else None
    if not module or not _SDK_MODULE.fullmatch(module.split(".", 1)[0]):
        return ""
    distribution = module.split(".", 1)[0].replace("_", "-")
    try:
        from importlib.metadata import version

        installed = version(distribution)
    except Exception:  # noqa: BLE001 - not an installed distribution: no hint
        return ""
    return (
        f": the installed {distribution} {installed} has no such name or argument (the program may be written for "
        f"another major version: see {distribution}'s upgrade guide)"
    )


_FAILED_INVOKE = re.compile(r"invoke of (\S+) failed")


def _describe(
    exc: BaseException,
    project: Project,
    stack: str,
    secret_keys: list[str],
    program_traceback: Any = None,
    invoke_sites: dict[str, list[str]] | None = None,
) -> str:
    where = _where(exc, project.root, program_traceback)
    failed_invoke = _FAILED_INVOKE.search(str(_original(exc)))
    if not where and failed_invoke and (invoke_sites or {}).get(failed_invoke.group(1)):
        sites = invoke_sites[failed_invoke.group(1)]  # a get_*_output, failed in the SDK's frames
        where = sites[0] if len(sites) == 1 else f"one of {', '.join(sites)}"
    at = f" ({where})" if where else ""
    stack_file = project.stack_config_dir / f"Pulumi.{stack}.yaml"
    if isinstance(exc, SystemExit):
        code = exc.code
        if isinstance(code, str):
            return f"the program exited with code 1{at}: {_one_line(code)}"
        return f"the program called sys.exit({code}){at}"
    if isinstance(exc, (DuplicateUrnError, MissingAssetError)):  # the engine's refusal, with the positions
        return str(exc)
    if isinstance(exc, pulumi.config.ConfigMissingError):
        short = exc.key.split(":", 1)[1] if exc.key.startswith(f"{project.name}:") else exc.key
        return (
            f"the program requires config {exc.key!r}{at}, which {stack_file} does not set: add it "
            f"(`pulumi config set {'--secret ' if exc.secret else ''}{short} <value> -s {stack}`)"
        )
    if isinstance(exc, pulumi.config.ConfigTypeError) and exc.key in secret_keys:
        return (
            f"config {exc.key!r} is encrypted in {stack_file}; offline its value is unknown, but the program reads "
            f"it as {exc.expect_type}{at}: keep such values unencrypted or read them with get_secret/require_secret"
        )
    data_source = _failed_data_source(exc)
    if data_source and secret_keys:
        return (
            f"the data source {data_source}{at} got a value that is unknown offline (encrypted config "
            f"{', '.join(repr(k) for k in secret_keys)}, or a stack reference output), so it returned nothing: "
            f"pass it a plain value, or call {data_source}_output"
        )
    if data_source:
        return (
            f"the data source {data_source}{at} got a value that is unknown at preview (a stack reference "
            f"output, or an output of a resource not yet created), so it returned nothing: call {data_source}_output"
        )
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return (
            f"the program failed: ModuleNotFoundError: No module named {exc.name!r}{at}: install it "
            f"({_install_hint(exc.name, project)}) in the environment that runs `enclave check`"
        )
    exc = _original(exc)
    message = _one_line(str(exc)) or type(exc).__name__
    hint = _sdk_hint(exc)
    if hint:  # the SDK's constructors take their arguments in _internal_init: name the class the program called
        message = re.sub(r"\b(\w+)\._internal_init\(\)", r"\1()", message)
    return f"the program failed: {type(exc).__name__}: {message}{at}{hint}"


# --------------------------------------------------------------------------- entry point


def _timeout(timeout: float | None) -> float:
    if timeout is not None:
        if timeout <= 0:
            raise HarnessError(f"timeout must be a positive number of seconds, got {timeout}")
        return float(timeout)
    raw = os.environ.get(TIMEOUT_ENV)
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise HarnessError(f"{TIMEOUT_ENV}={raw!r}: expected a number of seconds") from None
    if value <= 0:
        raise HarnessError(f"{TIMEOUT_ENV}={raw!r}: expected a positive number of seconds")
    return value


def run_program(
    stack: str,
    program_dir: Path | None = None,
    config: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> ProgramRun:
    """Evaluate ``program_dir``'s program for ``stack`` under mocks, as ``pulumi preview`` would run it.

    ``config`` replaces the stack file's config when given (tests use it).
    ``timeout`` bounds the run in seconds (default ``ENCLAVE_TIMEOUT``, else
    ``DEFAULT_TIMEOUT``). Raises ``HarnessError`` with a one-line message on
    any failure.
    """
    project = load_project(program_dir or PROJECT_DIR)
    if project.runtime != "python":
        raise HarnessError(
            f"{project.file}: runtime {project.runtime!r} is not supported: `enclave check` evaluates Pulumi "
            "Python programs (runtime: python)"
        )
    if not project.main.exists():
        raise HarnessError(f"{project.root}: no {project.main.name} (is this a Pulumi Python program?)")
    limit = _timeout(timeout)
    notes: list[str] = []
    secret_keys: list[str] = []
    if config is None:
        stack_config = read_stack_config(project.root, stack)
        config, secret_keys = stack_config.values, stack_config.secret_keys
        notes.extend(stack_config.notes)
    if project.options.get("typechecker"):
        notes.append(f"runtime.options.typechecker {project.options['typechecker']!r} was not run offline")
    extra_paths = _virtualenv_paths(project, notes)

    mocks = EnclaveMocks(config, stack)
    monitor = RecordingMonitor(mocks, project.root)
    run = _Run(project, stack, config, secret_keys, monitor)
    invoke_sites: dict[str, list[str]] = {}
    with _collector_paused(), _program_environment(project, extra_paths, mocks.note, invoke_sites):
        thread = run.thread()
        thread.start()
        thread.join(limit)
        if thread.is_alive():
            pending = run.pending(thread)
            run.abandon(thread)
            thread.join(1.0)
            raise HarnessError(
                f"stack {stack!r}: the program did not finish within {limit:g} s (--timeout, {TIMEOUT_ENV}); {pending}",
                monitor.records,
            )
    if run.error is not None:
        message = _describe(run.error, project, stack, secret_keys, run.program_traceback, invoke_sites)
        raise HarnessError(f"stack {stack!r}: {message}", monitor.records) from run.error
    remote = [f"{r.type} {r.name!r}" for r in monitor.records if r.remote]
    if remote:
        many = len(remote) > 1
        notes.append(
            f"{len(remote)} remote component{'s' if many else ''} ({', '.join(remote[:3])}"
            f"{', ...' if len(remote) > 3 else ''}): built by the package's provider plugin, which cannot run "
            f"offline; {'their' if many else 'its'} child resources do not exist here, so no policy checked them"
        )
    return ProgramRun(
        project=project.name,
        stack=stack,
        config=dict(config),
        resources=monitor.records,
        stack_outputs=run.outputs,
        notes=notes + mocks.notes,
        reads=monitor.reads,
    )
