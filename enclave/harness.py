"""Run a Pulumi program offline under mocks and record what the engine would receive.

The Pulumi CLI cannot run here, so this is the engine's stand-in for the
checks: it loads a stack's config from ``Pulumi.<stack>.yaml`` the way the CLI
does, runs the program's ``__main__.py`` under ``pulumi.runtime.set_mocks``,
and captures each ``RegisterResource`` request *whole*: inputs (secrets still
marked), provider reference, parent, protect, dependencies and the other
options that ``Mocks.new_resource`` never sees.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import runpy
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.sync_await import _sync_await

PROJECT_DIR = Path(__file__).resolve().parent.parent
"""The enclave project itself: the default program."""

SECRET_MARK = "[secret]"
"""How a secret value is shown anywhere outside the policies (the CLI's own marker)."""

_SECRET_SIG = rpc._special_secret_sig  # noqa: SLF001 - the wire marker of a secret
_SIG_KEY = rpc._special_sig_key  # noqa: SLF001


class HarnessError(Exception):
    """The program could not be evaluated (bad stack file, bad config, program error)."""

    def __init__(self, message: str, resources: list | None = None):
        super().__init__(message)
        self.resources = resources or []
        """What had been registered before the failure (a bad config must leave this empty)."""


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


# --------------------------------------------------------------------------- secrets


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG


def unwrap_secrets(value: Any) -> Any:
    """Plain value with every secret marker removed."""
    if is_secret(value):
        return unwrap_secrets(value.get("value"))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def redact_secrets(value: Any) -> Any:
    """Plain value with every secret replaced by ``[secret]``."""
    if is_secret(value):
        return SECRET_MARK
    if isinstance(value, dict):
        return {k: redact_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v) for v in value]
    return value


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


class EnclaveMocks(pulumi.runtime.Mocks):
    """Mocks that answer like AWS would: ARNs in the right account and region.

    The account of a resource is the one its provider is pinned to
    (``allowed_account_ids``); its region is the effective region. That lets the
    policies check, for example, that a bucket's KMS key ARN is in the
    operator's account, exactly as they would on a real preview's state.
    """

    def __init__(self, config: dict[str, Any], stack: str):
        self.config = config
        self.stack = stack
        self.providers: dict[str, dict[str, Any]] = {}  # "<urn>::<id>" -> {region, account}

    def _placement(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, str]:
        prov = self.providers.get(args.provider or "", {})
        region = args.inputs.get("region") or prov.get("region") or self.config.get("aws:region") or "unknown-region"
        return region, prov.get("account", "000000000000")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = unwrap_secrets(args.inputs)
        typ = args.typ
        state = dict(inputs)
        seed = _short_hash(self.stack, typ, args.name)
        if typ == "pulumi:providers:aws":
            # The monitor files the provider under its "<urn>::<id>" reference.
            return f"{args.name}-{seed}", state
        if not args.custom:
            return "", {}
        region, account = self._placement(args)
        name_input = _NAME_INPUTS.get(typ)
        if name_input and not state.get(name_input):
            prefix = state.get(f"{name_input}Prefix") or f"{args.name}-"
            state[name_input] = f"{prefix}{seed[:7]}"
        physical = state.get(name_input) if name_input else None
        rid = physical or f"{args.name}-{seed}"
        service = typ.split(":")[1].split("/")[0]
        arn = f"arn:aws:{service}:{region}:{account}:{typ.split(':')[-1].lower()}/{rid}"

        if typ == "aws:s3/bucket:Bucket":
            arn = f"arn:aws:s3:::{rid}"
            state.update(
                bucketDomainName=f"{rid}.s3.amazonaws.com",
                bucketRegionalDomainName=f"{rid}.s3.{region}.amazonaws.com",
                region=region,
            )
        elif typ == "aws:kms/key:Key":
            rid = f"{seed}-0000-4000-8000-{_short_hash(seed, length=12)}"
            arn = f"arn:aws:kms:{region}:{account}:key/{rid}"
            state["keyId"] = rid
        elif typ == "aws:kms/alias:Alias":
            rid = inputs.get("name", f"alias/{args.name}")
            arn = f"arn:aws:kms:{region}:{account}:{rid}"
        elif typ in ("aws:iam/role:Role", "aws:iam/policy:Policy"):
            kind = "role" if typ.endswith("Role") else "policy"
            arn = f"arn:aws:iam::{account}:{kind}{inputs.get('path', '/')}{rid}"
            state["uniqueId"] = f"AROA{seed.upper()}"
        elif typ == "aws:secretsmanager/secret:Secret":
            arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{rid}-{seed[:6]}"
            rid = arn
        elif typ == "aws:cloudtrail/trail:Trail":
            arn = f"arn:aws:cloudtrail:{region}:{account}:trail/{rid}"
            state["homeRegion"] = region
        elif typ == "aws:ec2/vpc:Vpc":
            rid = f"vpc-{seed}"
            arn = f"arn:aws:ec2:{region}:{account}:vpc/{rid}"
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
                rid = f"{prefixes[kind]}-{seed}"
                arn = f"arn:aws:ec2:{region}:{account}:{kind.lower()}/{rid}"
            if kind == "vpcEndpoint":
                state["prefixListId"] = f"pl-{_short_hash(seed, 'pl')}"
                state["dnsEntries"] = [{"dnsName": f"{rid}.{region}.vpce.amazonaws.com", "hostedZoneId": "Z0"}]
        elif typ == "random:index/randomPassword:RandomPassword":
            length = int(inputs.get("length", 32))
            state["result"] = (hashlib.sha256(seed.encode()).hexdigest() * 4)[:length]
            state["bcryptHash"] = f"$2a$10${seed}"
        state.setdefault("arn", arn)
        state["id"] = rid
        if "tagsAll" not in state and "tags" in state:
            state["tagsAll"] = state["tags"]
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs):
        # The enclave program calls no data sources; a program that does gets
        # plausible answers for the common ones rather than a crash on None.
        prov = self.providers.get(args.provider or "", {})
        region = prov.get("region") or self.config.get("aws:region") or "unknown-region"
        account = prov.get("account", "000000000000")
        tok = args.token
        if tok == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": account,
                "arn": f"arn:aws:iam::{account}:user/mock",
                "userId": "MOCK",
                "id": account,
            }, []
        if tok == "aws:index/getRegion:getRegion":
            return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com"}, []
        if tok == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if tok == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{region}{c}" for c in "abc"]
            return {"names": names, "zoneIds": [f"{region}-az{i}" for i in (1, 2, 3)], "id": region}, []
        return {}, []


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also keeps each register request's options."""

    def __init__(self, mocks: EnclaveMocks):
        super().__init__(mocks)
        self.records: list[RecordedResource] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the root stack out of its children's qualified
        # type (urn:...::aws:s3/bucket:Bucket::x); the stock mock keeps it.
        if parent and parent.split("::")[2] == "pulumi:pulumi:Stack":
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        raw = rpc.deserialize_properties(request.object)
        mocks: EnclaveMocks = self.mocks
        if request.type.startswith("pulumi:providers:"):
            allowed = _json_input(unwrap_secrets(raw).get("allowedAccountIds")) or []
            mocks.providers[f"{response.urn}::{response.id}"] = {
                "region": raw.get("region"),
                "account": allowed[0] if allowed else "000000000000",
            }
        reg = self.resources[response.urn]
        self.records.append(
            RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                inputs=unwrap_secrets(raw),
                redacted_inputs=redact_secrets(raw),
                provider=request.provider,
                parent=request.parent,
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                ignore_changes=list(request.ignoreChanges),
                replace_on_changes=list(request.replaceOnChanges),
                additional_secret_outputs=list(request.additionalSecretOutputs),
                id=reg.id or "",
                outputs=reg.state,
            )
        )
        return response


# --------------------------------------------------------------------------- config


# libyaml's parser is about 15 times faster (a run reads four files); the
# pure-Python one quotes the offending line, so it reads any file libyaml rejects.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise HarnessError(f"{path}: no such file") from None
    try:
        data = yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise HarnessError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a YAML mapping at the top level")
    return data


def project_name(program_dir: Path) -> str:
    data = _read_yaml(program_dir / "Pulumi.yaml")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise HarnessError(f"{program_dir / 'Pulumi.yaml'}: missing the project 'name'")
    return name


def list_stacks(program_dir: Path) -> list[str]:
    """Stacks with a ``Pulumi.<stack>.yaml`` in the program directory, sorted."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in program_dir.glob("Pulumi.*.yaml"))


def _encode(value: Any) -> Any:
    # The CLI hands structured config to the program as JSON strings. PyYAML reads an
    # unquoted timestamp (a grant's notAfter) as a datetime, where the CLI's YAML keeps
    # the text: give it back as ISO 8601 text rather than fail to encode it.
    if isinstance(value, str):
        return value
    return json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))


def load_stack_config(program_dir: Path, stack: str) -> dict[str, Any]:
    """The flat ``namespace:key`` config the CLI would pass for ``stack``.

    Project-level defaults from ``Pulumi.yaml`` apply first; the stack file's
    values override them. Encrypted (``secure:``) values cannot be decrypted
    offline and are refused with a message.
    """
    project = project_name(program_dir)
    stack_file = program_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        known = ", ".join(list_stacks(program_dir)) or "none"
        raise HarnessError(f"stack {stack!r}: {stack_file} does not exist (stacks here: {known})")

    def qualify(key: str) -> str:
        return key if ":" in key else f"{project}:{key}"

    config: dict[str, Any] = {}
    for key, spec in (_read_yaml(program_dir / "Pulumi.yaml").get("config") or {}).items():
        if isinstance(spec, dict):
            value = spec.get("value", spec.get("default"))
        else:
            value = spec
        if value is not None:
            config[qualify(key)] = _encode(value)
    stack_config = _read_yaml(stack_file).get("config") or {}
    if not isinstance(stack_config, dict):
        raise HarnessError(f"{stack_file}: 'config' must be a mapping of key: value")
    for key, value in stack_config.items():
        if isinstance(value, dict) and "secure" in value:
            raise HarnessError(
                f"{stack_file}: {key} is an encrypted secret; offline evaluation cannot decrypt it. "
                "The enclave keeps no secrets in stack config: remove it"
            )
        config[qualify(key)] = _encode(value)
    return config


# --------------------------------------------------------------------------- run


@contextmanager
def _program_modules(program_dir: Path):
    """Import the program's own modules fresh, and put the caller's back afterwards.

    Two programs (the project and a test's variant of it) both have a
    ``components`` package: each run must import its own. The caller's
    modules are restored after the run, not purged, because Pulumi resolves
    output types through ``sys.modules[cls.__module__]`` long after import.
    """
    # Top-level names the program dir provides, minus this tooling (it is running).
    names = {p.stem if p.suffix == ".py" else p.name for p in program_dir.iterdir() if not p.name.startswith(".")}
    names -= {"enclave", "tests", "__main__"}

    def ours(module_name: str) -> bool:
        return module_name.split(".", 1)[0] in names

    stash = {name: mod for name, mod in sys.modules.items() if ours(name)}
    for name in stash:
        del sys.modules[name]
    sys.path.insert(0, str(program_dir))
    try:
        yield
    finally:
        sys.path.remove(str(program_dir))
        for name in [n for n in sys.modules if ours(n)]:
            del sys.modules[name]
        sys.modules.update(stash)


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


def run_program(
    stack: str,
    program_dir: Path | None = None,
    config: dict[str, Any] | None = None,
) -> ProgramRun:
    """Evaluate ``program_dir``'s ``__main__.py`` for ``stack`` under mocks.

    ``config`` replaces the stack file's config when given (tests use it).
    Raises ``HarnessError`` with a readable message on any failure.
    """
    program_dir = (program_dir or PROJECT_DIR).resolve()
    main = program_dir / "__main__.py"
    if not main.exists():
        raise HarnessError(f"{program_dir}: no __main__.py (is this a Pulumi Python program?)")
    project = project_name(program_dir)
    if config is None:
        config = load_stack_config(program_dir, stack)

    mocks = EnclaveMocks(config, stack)
    monitor = RecordingMonitor(mocks)
    # Pulumi's runtime is process-global: start every run from a clean slate.
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config(dict(config))
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()

    error: BaseException | None = None
    with _collector_paused(), _program_modules(program_dir):
        try:
            runpy.run_path(str(main), run_name="__main__")
            # Registrations and applies run as tasks; wait for every one (and
            # re-raise the first failure), as the language host does.
            _sync_await(pulumi.runtime.stack.wait_for_rpcs())
        except SystemExit as exc:  # a program may exit on its own
            error = exc
        except Exception as exc:  # noqa: BLE001 - reported to the user below
            error = exc
    if error is not None:
        msg = str(error) or type(error).__name__
        raise HarnessError(f"stack {stack!r}: the program failed: {msg}", monitor.records) from error

    outputs: dict[str, Any] = {}
    root = settings.get_root_resource()
    if root is not None:
        for key, out in getattr(root, "outputs", {}).items():
            outputs[key] = _resolve(out)
    return ProgramRun(
        project=project, stack=stack, config=dict(config), resources=monitor.records, stack_outputs=outputs
    )


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
