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
    """``mandatory`` or ``advisory``."""
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
    """The pack's ``ALL_POLICIES``."""
    if str(POLICY_DIR) not in sys.path:
        sys.path.insert(0, str(POLICY_DIR))
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
    accounts = {"dataAccountId": data, "operatorAccountId": operator}
    return {
        "no-cross-region-replication": {"allowedRegion": region},
        "region-pinned": {"allowedRegion": region, **accounts},
        "operator-held-encryption": {"allowedRegion": region, **accounts},
        "no-egress": {"allowedRegion": region},
        "residency-tags": {"requiredTags": tags},
    }


def read_policy_config(path: Path) -> dict[str, dict[str, Any]]:
    """A ``--policy-pack-config`` file, checked against the pack's policies and their required keys."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"policy config {path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"policy config {path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise UsageError(f'policy config {path}: expected an object {{"<policy-name>": {{"<key>": value}}}}')
    policies = {p.name: p for p in load_policies()}
    for name, entry in doc.items():
        if name not in policies:
            raise UsageError(f"policy config {path}: no policy named {name!r} (policies: {', '.join(policies)})")
        if not isinstance(entry, dict):
            raise UsageError(f"policy config {path}: {name!r} must map to an object of settings")
        level = entry.get("enforcementLevel")
        if level is not None and level not in ("advisory", "mandatory", "remediate", "disabled"):
            raise UsageError(
                f"policy config {path}: {name!r} enforcementLevel {level!r}; expected advisory, mandatory or disabled"
            )
    for name, policy in policies.items():
        schema = policy.config_schema
        for key in (schema.required or []) if schema else []:
            if key not in doc.get(name, {}):
                raise UsageError(f"policy config {path}: {name!r} needs {key!r}; add it")
    return doc


def resolve_policy_config(program_dir: Path, stack: str, run: ProgramRun, explicit: Path | None = None) -> dict:
    """The policy config for a stack: ``explicit``, else ``<program>/policy/config/<stack>.json``, else derived."""
    if explicit is not None:
        return read_policy_config(explicit)
    shipped = program_dir / "policy" / "config" / f"{stack}.json"
    if shipped.exists():
        return read_policy_config(shipped)
    return policy_config_from_stack(run.config, run.project)


# --------------------------------------------------------------------------- evaluation


def engine_props(value: Any) -> Any:
    """The same proxies pulumi-policy's ``unknown_checking_proxy`` builds around ``props``.

    Built without the per-leaf path copies of the SDK's helper (the largest cost
    of evaluation); a test checks both give the same values and the same
    ``UnknownValueError`` paths.
    """
    from pulumi_policy.proxy import _DictProxy, _ListProxy

    def build(node: Any, path: list[str]) -> Any:
        kind = type(node)
        if kind is dict:
            return _DictProxy(
                {k: build(v, [*path, str(k)]) if type(v) in (dict, list) else v for k, v in node.items()}, path
            )
        if kind is list:
            return _ListProxy(
                [build(v, [*path, str(i)]) if type(v) in (dict, list) else v for i, v in enumerate(node)], path
            )
        return node

    return build(value, [])


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

    def reporter(policy, level, resource_urn: str):
        def report(message: str, urn: str | None = None) -> None:
            # Resource policies always report on their resource (the engine ignores `urn`);
            # stack policies name a resource, or none for the stack as a whole.
            target = resource_urn or urn or ""
            rec = by_urn.get(target)
            violations.append(
                Violation(
                    policy=policy.name,
                    enforcement=level.value,
                    urn=target,
                    type=rec.type if rec else STACK_TYPE,
                    name=rec.name if rec else run.stack,
                    message=message or policy.description,
                    file=rec.source_file if rec else "",
                    line=rec.source_line if rec else 0,
                )
            )

        return report

    def call(policy, args, level, urn: str) -> None:
        try:
            policy.validate(args, reporter(policy, level, urn))
        except UnknownValueError as exc:
            # The engine downgrades this to an advisory note and lets the resource pass.
            note = f"can't run policy '{policy.name}' during preview: {exc.message}"
            reporter(policy, EnforcementLevel.ADVISORY, "")(note)
        except _NotApplicableError:
            pass
        except Exception as exc:  # noqa: BLE001 - a crashing policy fails the preview; fail closed here too
            crash = f"policy '{policy.name}' raised {type(exc).__name__}: {exc}; the engine would fail the preview"
            reporter(policy, EnforcementLevel.MANDATORY, urn)(crash)

    resource_policies = [
        p
        for p in policies
        if isinstance(p, ResourceValidationPolicy) and levels[p.name] is not EnforcementLevel.DISABLED
    ]
    stack_policies = [
        p for p in policies if isinstance(p, StackValidationPolicy) and levels[p.name] is not EnforcementLevel.DISABLED
    ]

    opts_of = {rec.urn: options(rec) for rec in run.resources}
    for rec in run.resources:
        props = engine_props(rec.inputs)
        opts = opts_of[rec.urn]
        provider = provider_of(rec.provider)
        for policy in resource_policies:
            level = levels[policy.name]
            if level is EnforcementLevel.REMEDIATE:
                level = EnforcementLevel.MANDATORY
            args = ResourceValidationArgs(rec.type, props, rec.urn, rec.name, opts, provider, configs[policy.name])
            call(policy, args, level, rec.urn)

    if stack_policies:
        # Stack policies see each resource's state (outputs), with parents and dependencies resolved.
        resources: dict[str, PolicyResource] = {}
        for rec in run.resources:
            state = rec.outputs if rec.custom and rec.outputs else rec.inputs
            resources[rec.urn] = PolicyResource(
                rec.type,
                engine_props(state),
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
            level = levels[policy.name]
            if level is EnforcementLevel.REMEDIATE:
                level = EnforcementLevel.MANDATORY
            call(policy, StackValidationArgs(stack_resources, configs[policy.name]), level, "")

    return violations


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="stack to check (its Pulumi.<stack>.yaml holds the config)")
    target.add_argument("--all", action="store_true", help="check every Pulumi.<stack>.yaml stack of the program")
    parser.add_argument("--program", type=Path, help="Pulumi program directory (default: this project)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.add_argument(
        "--policy-config",
        type=Path,
        help="--policy-pack-config JSON (default: <program>/policy/config/<stack>.json, else derived from the stack config)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop a program that has not finished after this long, exit 2 (default: $ENCLAVE_TIMEOUT, else 30)",
    )


def _report(run: ProgramRun, violations: list[Violation]) -> dict[str, Any]:
    return {
        "stack": run.stack,
        "resources": len(run.resources),
        "violations": [asdict(v) for v in violations],
    }


def _text(run: ProgramRun, violations: list[Violation]) -> str:
    mandatory = sum(v.mandatory for v in violations)
    advisory = len(violations) - mandatory
    verdict = "FAIL" if mandatory else "PASS"
    lines = [
        f"{verdict} {run.stack}: {len(run.resources)} resources, {mandatory} mandatory and {advisory} advisory violations"
    ]
    for v in violations:
        lines.append(f"  [{v.enforcement}] {v.policy}: {v.type} {v.name}")
        if v.urn:
            lines.append(f"      urn: {v.urn}")
        if v.file:
            lines.append(f"      at: {v.file}:{v.line}")
        lines.append(f"      {v.message}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from enclave.harness import PROJECT_DIR, HarnessError, list_stacks

    program_dir = (args.program or PROJECT_DIR).resolve()
    if not program_dir.is_dir():
        raise UsageError(f"--program {args.program}: no such directory")
    if not (program_dir / "Pulumi.yaml").exists():
        raise UsageError(f"--program {args.program}: no Pulumi.yaml there (is it a Pulumi project?)")
    if args.all:
        stacks = list_stacks(program_dir)
        if not stacks:
            raise UsageError(f"{program_dir}: no Pulumi.<stack>.yaml files, so --all has nothing to check")
    else:
        stacks = [args.stack]
        try:
            known = list_stacks(program_dir)
        except HarnessError as exc:
            raise UsageError(str(exc)) from None
        if args.stack not in known:
            raise UsageError(
                f"--stack {args.stack}: {program_dir}/Pulumi.{args.stack}.yaml does not exist "
                f"(stacks: {', '.join(known) or 'none'})"
            )

    # Evaluate every stack before printing anything: a config error in one stack
    # must not leave a half-printed report.
    results = [check_stack(stack, program_dir, args.policy_config, args.timeout) for stack in stacks]
    for r, _violations in results:
        for note in r.notes:
            print(f"note: {r.stack}: {note}", file=sys.stderr)
    failed = any(v.mandatory for _run, violations in results for v in violations)
    if args.format == "json":
        reports = [_report(r, v) for r, v in results]
        print(json.dumps({"stacks": reports} if args.all else reports[0], indent=2))
    else:
        print("\n".join(_text(r, v) for r, v in results))
    return EXIT_FAIL if failed else EXIT_OK
