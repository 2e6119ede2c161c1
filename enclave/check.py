"""``python -m enclave check``: run the program offline and evaluate the residency policy pack on it.

The engine's part of a ``pulumi preview --policy-pack policy`` is redone here:
every resource the program registers (recorded by ``enclave.harness``) becomes
the ``ResourceValidationArgs`` / ``StackValidationArgs`` the engine's analyzer
would build, and every policy of ``policy/residency_rules`` is called on them.
Other tools reuse ``evaluate`` and ``check_stack``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from enclave.cli import EXIT_FAIL, EXIT_OK, UsageError

if TYPE_CHECKING:
    from enclave.harness import ProgramRun

HELP = "Evaluate the residency policy pack on one stack (or --all) offline, under mocks."

POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"
"""The pack. Its rules are the top-level package ``residency_rules`` there, as the
real CLI imports them when it runs ``policy/__main__.py``; so the directory is put
on ``sys.path`` rather than turning ``policy`` into a package whose import would
run the pack's never-returning ``__main__``."""

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Violation:
    """One policy violation, as the engine would report it."""

    policy: str
    enforcement: str
    """``mandatory``, ``advisory``, or ``excepted`` (suppressed by an unexpired policy-config exception)."""
    urn: str
    """The resource's URN, or ``""`` for the stack as a whole."""
    type: str
    name: str
    message: str
    file: str = ""
    """Program-relative path of the source file that registered the resource ("" for the stack)."""
    line: int = 0
    """1-based line of that registration (0 when unknown)."""
    exception: dict[str, str] | None = None
    """For enforcement "excepted": the policy-config exception that suppressed it."""

    @property
    def mandatory(self) -> bool:
        return self.enforcement == "mandatory"


def load_policies() -> list:
    """The pack's ``ALL_POLICIES``: from this checkout's ``policy/`` when there is one, else installed."""
    if (POLICY_DIR / "residency_rules").is_dir():
        if str(POLICY_DIR) not in sys.path:
            sys.path.insert(0, str(POLICY_DIR))
    # An installed copy (``pip install .`` maps policy/residency_rules to this top-level package).
    from residency_rules import ALL_POLICIES

    return ALL_POLICIES


# --------------------------------------------------------------------------- policy config


def policy_config_from_stack(config: dict[str, Any], project: str) -> dict[str, dict[str, Any]]:
    """The ``--policy-pack-config`` document for a stack, derived from its program config.

    Raises ``UsageError`` naming the config keys that are missing.
    """

    def value(key: str) -> Any:
        return config.get(f"{project}:{key}")

    region = value("region") or config.get("aws:region")
    data, operator = value("dataAccountId"), value("operatorAccountId")
    missing = [k for k, v in (("region", region), ("dataAccountId", data), ("operatorAccountId", operator)) if not v]
    if missing:
        keys = ", ".join(f"{project}:{k}" for k in missing)
        raise UsageError(
            f"cannot derive the policy config: the stack config has no {keys}; set them or pass --policy-config FILE"
        )
    site = value("site") or ""
    tags = {
        "enclave:site": site,
        "enclave:region": region,
        "data-classification": value("dataClassification") or "personal-data",
    }
    perimeter = {"allowedRegion": region, "dataAccountId": data, "operatorAccountId": operator}
    if value("auditorAccountId"):
        perimeter["auditorAccountId"] = value("auditorAccountId")
    # A sandbox relaxes data-protected only through a reviewed policy-config file, never
    # through the stack's own config: a program cannot exempt itself.
    derived = {
        "no-cross-region-replication": dict(perimeter),
        "region-pinned": dict(perimeter),
        "operator-held-encryption": dict(perimeter),
        "no-egress": dict(perimeter),
        "identity-perimeter": dict(perimeter),
        "data-protected": {"minRetentionDays": 90},
        "residency-tags": {"requiredTags": tags},
    }
    # Declared transfer recipients (components/grants.py), trusted only on the export
    # bucket's policy and the export key, by every policy that checks accounts.
    from components.grants import transfer_trusted_accounts

    trusted = transfer_trusted_accounts(config, project)
    for block in derived.values():
        if trusted and "dataAccountId" in block:
            block["trustedAccounts"] = trusted
    return derived


ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")
"""What ``apitype.EnforcementLevel.IsValid`` accepts in the CLI."""

ALL_KEY = "all"
"""The config key whose enforcement level applies to every policy (the CLI's ``applyConfig``)."""


def read_policy_config(path: Path) -> dict[str, dict[str, Any]]:
    """A ``--policy-pack-config`` file, read and validated the way the Pulumi CLI does.

    See ``parse_policy_config``. Raises ``UsageError`` for a missing, non-UTF-8
    or invalid file, naming the policy and key at fault.
    """
    from enclave.files import read_text

    return parse_policy_config(read_text(path, "policy config"), str(path))


def parse_policy_config(text: str, source: str, policies: list | None = None) -> dict[str, dict[str, Any]]:
    """Parse, reconcile and validate a policy-pack config as the CLI does (pulumi/pulumi ``pkg/resource/analyzer/config.go``).

    - Blank text is no config at all (``parsePolicyPackConfig``: "gracefully allow empty content").
    - Each top-level key is a policy name (or ``all``) mapped to an enforcement-level string
      (``"no-egress": "advisory"``) or to an object of settings with an optional ``enforcementLevel``.
    - ``all``'s level applies to every policy; a policy's own level wins over it (``applyConfig``).
    - Every policy's settings, with its schema's defaults filled in, are validated against its
      ``config_schema`` as the object schema the CLI builds (``convertSchema``), for every policy,
      configured or not (``validatePolicyPackConfig``).

    Returns ``{policy: {"enforcementLevel": level, **settings}}`` for every policy of the pack.
    Unknown policy names are accepted, as by the CLI, with a warning on stderr.
    """
    import jsonschema

    where = f"policy config {source}"
    if not text.strip():
        doc: Any = {}
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise UsageError(f'{where}: expected an object {{"<policy-name>": {{"<key>": value}}}}, got {_kind(doc)}')
    if "environments" in doc:
        raise UsageError(
            f"{where}: 'environments' names Pulumi ESC environments, which cannot be opened offline; "
            "put their policy settings in the file itself"
        )

    given: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for name, value in doc.items():
        if isinstance(value, str):
            given[name] = (_level(value, f"{where}: {name!r} enforcementLevel"), {})
        elif isinstance(value, dict):
            settings = dict(value)
            level = settings.pop("enforcementLevel", None)
            if level is not None:
                if not isinstance(level, str):
                    raise UsageError(
                        f"{where}: {name!r} enforcementLevel {json.dumps(level)} is not a valid enforcement level; "
                        "must be a string"
                    )
                level = _level(level, f"{where}: {name!r} enforcementLevel")
            given[name] = (level, settings)
        else:
            raise UsageError(
                f"{where}: {name!r}: {json.dumps(value)} is not a valid value; must be a string "
                "(an enforcement level) or an object of settings"
            )

    policies = load_policies() if policies is None else policies
    names = {p.name for p in policies}
    unknown = sorted(set(given) - names - {ALL_KEY})
    if unknown:
        print(
            f"warning: {where}: no policy named {', '.join(map(repr, unknown))} in the pack "
            f"(the CLI ignores it too; a typo?). Policies: {', '.join(sorted(names))}",
            file=sys.stderr,
        )

    all_level = given.get(ALL_KEY, (None, {}))[0]
    result: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for policy in policies:
        schema = policy.config_schema
        properties = dict(schema.properties or {}) if schema else {}
        settings = {
            k: spec["default"] for k, spec in properties.items() if isinstance(spec, dict) and "default" in spec
        }
        own_level, own = given.get(policy.name, (None, {}))
        settings.update(own)
        level = own_level or all_level or _level_of(policy)
        if schema is not None:
            object_schema: dict[str, Any] = {"type": "object"}
            if properties:
                object_schema["properties"] = properties
            if schema.required:
                object_schema["required"] = list(schema.required)
            validator = jsonschema.Draft7Validator(object_schema)
            for err in sorted(validator.iter_errors(settings), key=lambda e: (list(e.absolute_path), e.message)):
                errors.append(_schema_error(policy.name, err))
        result[policy.name] = {"enforcementLevel": level, **settings}
    if errors:
        raise UsageError(f"{where}: " + "; ".join(errors))
    return result


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _level(value: str, where: str) -> str:
    if value not in ENFORCEMENT_LEVELS:
        raise UsageError(
            f"{where} {value!r} is not a valid enforcement level; expected {', '.join(ENFORCEMENT_LEVELS)}"
        )
    return value


def _level_of(policy) -> str:
    level = getattr(policy, "enforcement_level", None)
    return getattr(level, "value", level) or "mandatory"


def _schema_error(policy: str, err) -> str:
    """One validation error, naming the policy and the key: ``'no-egress'.allowedRegion: 5 is not of type 'string'``."""
    key = _json_path(err.absolute_path)
    if err.validator == "required" and not key:
        missing = next((k for k in err.validator_value if k not in err.instance), "?")
        return f"{policy!r} needs {missing!r} (required by its config schema); add it"
    return f"{policy!r}{'.' + key if key else ''}: {err.message}"


def _json_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def resolve_policy_config(program_dir: Path, stack: str, run: ProgramRun, explicit: Path | None = None) -> dict:
    """The policy config for a stack: ``explicit``, else ``<program>/policy/config/<stack>.json``, else derived."""
    if explicit is not None:
        return read_policy_config(explicit)
    shipped = program_dir / "policy" / "config" / f"{stack}.json"
    if shipped.exists():
        return read_policy_config(shipped)
    return policy_config_from_stack(run.config, run.project)


def shipped_config_notes(program_dir: Path, run: ProgramRun) -> list[str]:
    """Why the shipped ``policy/config/<stack>.json`` (if any) disagrees with the stack config (empty: it agrees)."""
    from enclave.policy_config import disagreements

    path = program_dir / "policy" / "config" / f"{run.stack}.json"
    if not path.exists():
        return []
    try:
        derived = policy_config_from_stack(run.config, run.project)
        shipped = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (UsageError, ValueError):
        return []  # not derivable (another kind of program), or reported by the config reader itself
    keys = disagreements(shipped if isinstance(shipped, dict) else {}, derived)
    if not keys:
        return []
    return [
        f"{path.name} disagrees with the stack config ({', '.join(keys)}): run python -m enclave policy-config "
        f"--stack {run.stack} to write the derived values (reviewed entries are kept)"
    ]


# --------------------------------------------------------------------------- evaluation


def engine_props(value: Any) -> Any:
    """Proxies that behave like pulumi-policy's ``unknown_checking_proxy`` around ``props``.

    Built lazily: a nested dict or list is wrapped when it is accessed, not up
    front, since most policies read a resource's inputs through ``__target``
    (raw) and wrapping every container of every resource was the largest cost
    of evaluation. A test checks both give the same values and the same
    ``UnknownValueError`` paths.
    """
    _lazy_proxy_types()
    return _LAZY[0](value, []) if type(value) is dict else value


_LAZY: list = []


def _lazy_proxy_types() -> None:
    """Define the lazy proxies once pulumi-policy is imported (it is only needed to evaluate)."""
    if _LAZY:
        return
    from pulumi_policy.proxy import _DictProxy, _ListProxy, _raise_if_unknown

    def wrap(value: Any, path: list, key: Any) -> Any:
        kind = type(value)
        if kind is dict:
            return LazyDictProxy(value, [*path, str(key)])
        if kind is list:
            return LazyListProxy(value, [*path, str(key)])
        return value

    class Lazy:
        """Wraps a nested dict or list when it is read; ``__target`` is the raw container."""

        __slots__ = ()

        def __init__(self, target: Any, path: list) -> None:
            super().__init__(target, path)
            self._raw, self._path = target, path

        def __getitem__(self, key: Any) -> Any:
            if key == "__target":
                return self._raw
            return wrap(_raise_if_unknown(key, self._raw[key], self._path), self._path, key)

    class LazyDictProxy(Lazy, _DictProxy):
        pass

    class LazyListProxy(Lazy, _ListProxy):
        pass

    _LAZY.extend((LazyDictProxy, LazyListProxy))
    load_policies()
    from residency_rules.values import register_proxy_types

    register_proxy_types(LazyDictProxy, LazyListProxy)


def state_props(rec: Any, input_props: Any) -> Any:
    """The engine's view of a resource's state (its outputs, which repeat the inputs)."""
    if not (rec.custom and rec.outputs):
        return input_props
    return engine_props(rec.outputs)


def evaluate(run: ProgramRun, policy_config: dict | None = None) -> list[Violation]:
    """Evaluate every policy of the pack on a recorded program run, as the engine's analyzer would.

    ``policy_config`` is the ``--policy-pack-config`` document; by default it is
    derived from the run's stack config.
    """
    # Evaluation allocates many small, acyclic containers (proxies, args); the
    # cyclic collector's repeated scans of them cost about 40% of the time.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _evaluate(run, policy_config)
    finally:
        if enabled:
            gc.enable()


def _evaluate(run: ProgramRun, policy_config: dict | None) -> list[Violation]:
    from pulumi_policy import (
        EnforcementLevel,
        PolicyCustomTimeouts,
        PolicyProviderResource,
        PolicyResource,
        PolicyResourceOptions,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
        StackValidationPolicy,
    )
    from pulumi_policy.policy import _NotApplicableError
    from pulumi_policy.proxy import UnknownValueError

    policies = load_policies()
    from residency_rules import exceptions as pack_exceptions
    from residency_rules.scan import clear_caches

    clear_caches()  # each evaluation starts cold, as a fresh `enclave check` or engine run does

    if policy_config is None:
        policy_config = policy_config_from_stack(run.config, run.project)

    # Settings per policy, split like the engine does: "enforcementLevel" overrides, the rest is config.
    levels: dict[str, Any] = {}
    configs: dict[str, dict | None] = {}
    for policy in policies:
        entry = dict(policy_config.get(policy.name) or {})
        level = entry.pop("enforcementLevel", None)
        levels[policy.name] = (
            EnforcementLevel(level) if level else (policy.enforcement_level or EnforcementLevel.MANDATORY)
        )
        configs[policy.name] = entry or None

    by_urn = {r.urn: r for r in run.resources}  # one index per stack: no quadratic lookups
    no_timeouts = PolicyCustomTimeouts(0, 0, 0)
    providers: dict[str, Any] = {}

    def provider_of(ref: str):
        if not ref:
            return None
        if ref not in providers:
            prov = by_urn.get(ref.rsplit("::", 1)[0])
            providers[ref] = (
                None
                if prov is None
                else PolicyProviderResource(prov.type, engine_props(prov.inputs), prov.urn, prov.name)
            )
        return providers[ref]

    def options(rec) -> PolicyResourceOptions:
        return PolicyResourceOptions(
            protect=rec.protect,
            ignore_changes=list(rec.ignore_changes),
            delete_before_replace=rec.delete_before_replace or None,
            aliases=[],
            custom_timeouts=no_timeouts,
            additional_secret_outputs=list(rec.additional_secret_outputs),
            parent=rec.parent or None,
        )

    violations: list[Violation] = []

    class Reporter:
        """``report_violation`` for one policy: resource policies always report on their resource (the
        engine ignores ``urn``); stack policies name a resource, or none for the stack as a whole.

        Policies are synchronous, so one reporter per resource policy serves every resource in turn
        (its ``urn`` set before each call) instead of a new closure per resource and policy.
        """

        __slots__ = ("exception", "level", "policy", "urn")

        def __init__(self, policy, level, urn: str = "", exception: dict | None = None):
            self.policy, self.level, self.urn, self.exception = policy, level, urn, exception

        def __call__(self, message: str, urn: str | None = None) -> None:
            target = self.urn or urn or ""
            rec = by_urn.get(target)
            violations.append(
                Violation(
                    policy=self.policy.name,
                    enforcement="excepted" if self.exception is not None else self.level.value,
                    urn=target,
                    type=rec.type if rec else STACK_TYPE,
                    name=rec.name if rec else run.stack,
                    message=message or self.policy.description,
                    file=rec.source_file if rec else "",
                    line=rec.source_line if rec else 0,
                    exception=self.exception,
                )
            )

    # What the pack's exceptions suppress reaches the engine as nothing; offline it is listed.
    suppressed: list = []
    token = pack_exceptions.SUPPRESSED.set(suppressed)

    def call(policy, args, report: Reporter) -> None:
        try:
            policy.validate(args, report)
        except UnknownValueError as exc:
            # The engine downgrades this to an advisory note and lets the resource pass.
            note = f"can't run policy '{policy.name}' during preview: {exc.message}"
            Reporter(policy, EnforcementLevel.ADVISORY)(note)
        except _NotApplicableError:
            pass
        except Exception as exc:  # noqa: BLE001 - a crashing policy fails the preview; fail closed here too
            crash = f"policy '{policy.name}' raised {type(exc).__name__}: {exc}; the engine would fail the preview"
            Reporter(policy, EnforcementLevel.MANDATORY, report.urn)(crash)
        if suppressed:
            for message, target, exception in suppressed:
                Reporter(policy, report.level, report.urn, exception)(message, target)
            suppressed.clear()

    def effective(policy):
        level = levels[policy.name]
        return EnforcementLevel.MANDATORY if level is EnforcementLevel.REMEDIATE else level

    resource_policies = [
        p
        for p in policies
        if isinstance(p, ResourceValidationPolicy) and levels[p.name] is not EnforcementLevel.DISABLED
    ]
    stack_policies = [
        p for p in policies if isinstance(p, StackValidationPolicy) and levels[p.name] is not EnforcementLevel.DISABLED
    ]

    try:
        opts_of = {rec.urn: options(rec) for rec in run.resources}
        props_of: dict[str, Any] = {}
        plan = [(policy, Reporter(policy, effective(policy)), configs[policy.name]) for policy in resource_policies]
        for rec in run.resources:
            props = props_of[rec.urn] = engine_props(rec.inputs)
            opts = opts_of[rec.urn]
            provider = provider_of(rec.provider)
            for policy, report, config in plan:
                report.urn = rec.urn
                call(policy, ResourceValidationArgs(rec.type, props, rec.urn, rec.name, opts, provider, config), report)

        if stack_policies:
            # Stack policies see each resource's state (outputs), with parents and dependencies resolved.
            resources: dict[str, PolicyResource] = {}
            for rec in run.resources:
                resources[rec.urn] = PolicyResource(
                    rec.type,
                    state_props(rec, props_of[rec.urn]),
                    rec.urn,
                    rec.name,
                    opts_of[rec.urn],
                    provider_of(rec.provider),
                    None,
                    [],
                    {},
                )
            for rec in run.resources:
                res = resources[rec.urn]
                res.parent = resources.get(rec.parent)
                res.dependencies = [resources[u] for u in rec.dependencies if u in resources]
                res.property_dependencies = {
                    k: [resources[u] for u in urns if u in resources] for k, urns in rec.property_dependencies.items()
                }
            stack_resources = list(resources.values())
            for policy in stack_policies:
                call(
                    policy,
                    StackValidationArgs(stack_resources, configs[policy.name]),
                    Reporter(policy, effective(policy)),
                )
    finally:
        pack_exceptions.SUPPRESSED.reset(token)
    violations.extend(_remote_components(run, {p.name: p for p in resource_policies}, effective))
    return violations


REMOTE_COMPONENT_MESSAGE = (
    "{type} is a remote component: its package's provider plugin builds its child resources (gateways, "
    "roles, buckets, ...), which cannot run offline, so no rule of the pack has seen what it creates. Write "
    "the pulumi-aws resources it would create in the program instead, or check the stack with the real engine "
    "(pulumi preview --policy-pack policy), where its children are registered and checked"
)
"""Offline only: under ``pulumi preview`` the engine runs the plugin and the pack sees every child."""


def _remote_components(run: ProgramRun, policies: dict, effective: Any) -> list[Violation]:
    """``reviewed-types`` fails closed on each remote component: what it builds is unknown offline."""
    from residency_rules import names

    policy = policies.get(names.REVIEWED_TYPES)
    if policy is None:
        return []
    return [
        Violation(
            policy=policy.name,
            enforcement=effective(policy).value,
            urn=rec.urn,
            type=rec.type,
            name=rec.name,
            message=REMOTE_COMPONENT_MESSAGE.format(type=rec.type),
            file=rec.source_file,
            line=rec.source_line,
        )
        for rec in run.resources
        if rec.remote
    ]


def check_stack(
    stack: str, program_dir: Path | None = None, policy_config_file: Path | None = None, timeout: float | None = None
) -> tuple[ProgramRun, list[Violation]]:
    """Run ``program_dir``'s program for ``stack`` under mocks and evaluate the pack on it.

    ``timeout`` bounds the program's run (seconds; default ``ENCLAVE_TIMEOUT``, else the harness default).
    Raises ``UsageError`` for a missing stack, a broken or hanging program or a bad policy config.
    """
    from enclave.harness import PROJECT_DIR, HarnessError, run_program

    program_dir = (program_dir or PROJECT_DIR).resolve()
    try:
        run = run_program(stack, program_dir, timeout=timeout)
    except HarnessError as exc:
        raise UsageError(str(exc)) from None
    return run, evaluate(run, resolve_policy_config(program_dir, stack, run, policy_config_file))


# --------------------------------------------------------------------------- command


FORMATS = ("text", "json", "sarif", "junit")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--stack", help="stack to check: NAME, ORG/NAME or ORG/PROJECT/NAME (Pulumi.<NAME>.yaml holds its config)"
    )
    target.add_argument("--all", action="store_true", help="check every Pulumi.<stack>.yaml stack of the program")
    parser.add_argument(
        "--program", type=Path, help="Pulumi program directory (default: the Pulumi project here or above)"
    )
    from enclave.cli import add_report_arguments

    add_report_arguments(parser, FORMATS, "text, json, sarif (SARIF 2.1.0 for code scanning) or junit (JUnit XML)")
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop a program that has not finished after this long, exit 2 (default: $ENCLAVE_TIMEOUT, else 30)",
    )


def _report(run: ProgramRun, violations: list[Violation], exceptions: list | None = None) -> dict[str, Any]:
    return {
        "stack": run.stack,
        "resources": len(run.resources),
        "violations": [asdict(v) for v in violations],
        "exceptions": [asdict(x) for x in exceptions or []],
    }


def _text(run: ProgramRun, violations: list[Violation], exceptions: list | None = None) -> str:
    mandatory = sum(v.mandatory for v in violations)
    excepted = sum(v.enforcement == "excepted" for v in violations)
    advisory = len(violations) - mandatory - excepted
    verdict = "FAIL" if mandatory else "PASS"
    lines = [
        f"{verdict} {run.stack}: {len(run.resources)} resources, {mandatory} mandatory and {advisory} advisory violations"
        + (f", {excepted} excepted" if excepted else "")
    ]
    for v in violations:
        lines.append(f"  [{v.enforcement}] {v.policy}: {v.type} {v.name}")
        if v.urn:
            lines.append(f"      urn: {v.urn}")
        if v.file and v.line:
            lines.append(f"      at: {v.file}:{v.line}")
        lines.append(f"      {v.message}")
        if v.exception:
            why = v.exception
            lines.append(
                f"      excepted: {why.get('reason', '?')} (approved by {why.get('approver', '?')}, "
                f"expires {why.get('expires', '?')})"
            )
    for x in exceptions or []:
        lines.append(f"  exception: {x.describe()}")
    return "\n".join(lines)


def levels_of(policy_config: dict) -> dict[str, str]:
    """Policy -> the enforcement level its config sets (for SARIF rules and JUnit skips)."""
    return {
        name: entry["enforcementLevel"]
        for name, entry in policy_config.items()
        if isinstance(entry, dict) and isinstance(entry.get("enforcementLevel"), str)
    }


def run(args: argparse.Namespace) -> int:
    from enclave.cli import resolve_program, short_stack_name
    from enclave.files import emit
    from enclave.harness import HarnessError, list_stacks, run_program
    from enclave.verdict import exceptions_of

    program_dir = resolve_program(args.program)
    if args.all:
        stacks = list_stacks(program_dir)
        if not stacks:
            raise UsageError(f"{program_dir}: no Pulumi.<stack>.yaml files, so --all has nothing to check")
    else:
        stack = short_stack_name(args.stack)
        stacks = [stack]
        try:
            known = list_stacks(program_dir)
        except HarnessError as exc:
            raise UsageError(str(exc)) from None
        if stack not in known:
            raise UsageError(
                f"--stack {args.stack}: {program_dir}/Pulumi.{stack}.yaml does not exist "
                f"(stacks: {', '.join(known) or 'none'})"
            )

    # Evaluate every stack before printing anything: a config error in one stack
    # must not leave a half-printed report.
    results = []
    for stack in stacks:
        try:
            recorded = run_program(stack, program_dir, timeout=args.timeout)
        except HarnessError as exc:
            raise UsageError(str(exc)) from None
        for note in recorded.notes:
            print(f"note: {recorded.stack}: {note}", file=sys.stderr)
        config = resolve_policy_config(program_dir, stack, recorded, args.policy_config)
        if args.policy_config is None:
            for note in shipped_config_notes(program_dir, recorded):
                print(f"note: {recorded.stack}: {note}", file=sys.stderr)
        results.append((recorded, evaluate(recorded, config), config))
    failed = any(v.mandatory for _run, violations, _c in results for v in violations)

    if args.format == "json":
        reports = [_report(r, v, exceptions_of(c)) for r, v, c in results]
        body = json.dumps({"stacks": reports} if args.all else reports[0], indent=2) + "\n"
    elif args.format in ("sarif", "junit"):
        pairs = [(r.stack, v) for r, v, _c in results]
        levels = {k: lv for _r, _v, c in results for k, lv in levels_of(c).items()}
        if args.format == "sarif":
            from enclave.cli import version
            from enclave.sarif import to_sarif

            doc = to_sarif(pairs, load_policies(), program_dir, levels=levels, tool_version=version())
            body = json.dumps(doc, indent=2) + "\n"
        else:
            from enclave.junit import to_junit

            body = to_junit(pairs, load_policies(), levels)
    else:
        body = "\n".join(_text(r, v, exceptions_of(c)) for r, v, c in results) + "\n"
    emit(body, args.output, f"{'FAIL' if failed else 'PASS'}, {args.format} report")
    return EXIT_FAIL if failed and not args.soft_fail else EXIT_OK
