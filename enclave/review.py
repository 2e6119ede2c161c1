"""``python -m enclave review PREVIEW.json``: the risk-ranked summary of a real ``pulumi preview --json``.

For teams that run the real CLI in CI. Reads the engine's preview digest (one
JSON object: ``steps``, ``diagnostics``, ``changeSummary``, ``maybeCorrupt``)
or the engine event stream (JSON Lines from ``--event-log FILE`` or
``PULUMI_ENABLE_STREAMING_JSON_PREVIEW=1``), and ranks the changes with the same
classification as ``enclave diff``. The digest carries no policy results
(the CLI drops policy events from it, pulumi/pulumi#18851); they are read
from the event stream when one is given.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enclave.cli import EXIT_OK, UsageError

HELP = "Summarise a real `pulumi preview --json` (digest or event log), riskiest changes first."

# Steps that change nothing, or only read: not shown (a "same" whose protect flag changed is).
_QUIET_OPS = {"same", "read", "refresh", "diff", "extend-parameterize"}
_KIND = {
    "create": "added",
    "import": "added",
    "delete": "removed",
    "discard": "removed",
    "update": "changed",
    "same": "changed",
    "replace": "replaced",
    "create-replacement": "replaced",
    "delete-replaced": "replaced",
    "import-replacement": "replaced",
    "read-replacement": "replaced",
    "discard-replaced": "replaced",
    "remove-pending-replace": "replaced",
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m|<\{%[a-z]*%\}>")


FORMATS = ("text", "markdown", "json", "sarif", "github")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("preview", metavar="PREVIEW.json", type=Path, help="stdout of `pulumi preview --json`")
    parser.add_argument(
        "--event-log",
        type=Path,
        metavar="FILE",
        help="the same preview's `--event-log FILE` (JSON Lines): adds the policy results the digest lacks",
    )
    from enclave.cli import add_report_arguments

    add_report_arguments(
        parser, FORMATS, "markdown; json; sarif (code scanning); github: a PR comment with a marker and a size cap"
    )
    parser.add_argument(
        "--program", type=Path, metavar="DIR", help="the Pulumi program the preview is of (default: the project here)"
    )


@dataclass
class Preview:
    """What one preview says, whichever format it came in."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    change_summary: dict[str, int] = field(default_factory=dict)
    maybe_corrupt: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    """The stack config the preview ran with (``project:key`` -> string; secrets ``[secret]``)."""
    policy_events: list[dict[str, Any]] | None = None
    """None: the input had no policy data at all (a digest)."""


# --------------------------------------------------------------------------- reading


def _read(path: Path, what: str) -> str:
    from enclave.files import read_text

    return read_text(path, what)


def _event_step(meta: dict[str, Any]) -> dict[str, Any]:
    """A ``StepEventMetadata`` (event stream) in the digest's ``PreviewStep`` shape."""
    detailed = meta.get("detailedDiff")
    return {
        "op": meta.get("op", ""),
        "urn": meta.get("urn", ""),
        "provider": meta.get("provider", ""),
        "oldState": meta.get("old"),
        "newState": meta.get("new"),
        "diffReasons": meta.get("diffs"),
        "replaceReasons": meta.get("keys"),
        "detailedDiff": None
        if detailed is None
        else {p: {"kind": d.get("diffKind"), "inputDiff": d.get("inputDiff", False)} for p, d in detailed.items()},
        "_type": meta.get("type", ""),
    }


def parse_events(text: str, source: str) -> Preview:
    """An engine event stream (JSON Lines of ``EngineEvent``)."""
    preview = Preview(policy_events=[])
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{source}: line {n} is not JSON ({exc.msg}); expected engine events, one per line"
            ) from None
        if not isinstance(event, dict):
            raise UsageError(f"{source}: line {n} is not an engine event object")
        if "resourcePreEvent" in event:
            preview.steps.append(_event_step(event["resourcePreEvent"].get("metadata") or {}))
        elif "policyEvent" in event:
            preview.policy_events.append(event["policyEvent"])
        elif "diagnosticEvent" in event:
            diag = event["diagnosticEvent"]
            if not diag.get("ephemeral"):
                preview.diagnostics.append(
                    {
                        "urn": diag.get("urn"),
                        "severity": diag.get("severity", ""),
                        "message": (diag.get("prefix") or "") + diag.get("message", ""),
                    }
                )
        elif "summaryEvent" in event:
            summary = event["summaryEvent"]
            preview.change_summary = dict(summary.get("resourceChanges") or {})
            preview.maybe_corrupt = bool(summary.get("maybeCorrupt"))
    return preview


def parse_preview(text: str, source: str) -> Preview:
    """A ``pulumi preview --json`` output: the digest, or (streaming mode) the event stream."""
    if not text.strip():
        raise UsageError(
            f"{source} is empty: the preview failed before printing a result (see the CLI's stderr and exit code)"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if data is None or (isinstance(data, dict) and any(k.endswith("Event") for k in data) and "steps" not in data):
        return parse_events(text, source)
    if data == {}:
        raise UsageError(
            f"{source} is {{}}: the preview failed before it planned anything (see the CLI's stderr and exit code)"
        )
    if not isinstance(data, dict) or not ({"steps", "changeSummary", "diagnostics"} & set(data)):
        raise UsageError(
            f"{source}: not the output of `pulumi preview --json` (no steps, changeSummary or diagnostics)"
        )
    steps = data.get("steps") or []
    if not isinstance(steps, list) or not all(isinstance(s, dict) and "op" in s and "urn" in s for s in steps):
        raise UsageError(f"{source}: 'steps' must be a list of steps, each with 'op' and 'urn'")
    return Preview(
        steps=steps,
        diagnostics=[d for d in data.get("diagnostics") or [] if isinstance(d, dict)],
        change_summary=dict(data.get("changeSummary") or {}),
        maybe_corrupt=bool(data.get("maybeCorrupt")),
        config={k: v for k, v in (data.get("config") or {}).items() if isinstance(v, str)},
    )


# --------------------------------------------------------------------------- classifying


def parse_path(path: str) -> list[str | int]:
    """A property path as the engine prints it: ``a.b``, ``a[0].b``, ``["a.b"]``, ``tags["x.y"]``."""
    out: list[str | int] = []
    i, buf = 0, ""
    while i < len(path):
        ch = path[i]
        if ch == ".":
            if buf:
                out.append(buf)
            buf = ""
        elif ch == "[":
            if buf:
                out.append(buf)
                buf = ""
            end = path.find("]", i)
            if end < 0:
                raise ValueError(f"unbalanced [ in property path {path!r}")
            inner = path[i + 1 : end]
            if inner.startswith('"'):
                # A quoted key may itself contain "]": find the closing quote first.
                close = path.find('"]', i + 2)
                inner, end = path[i + 2 : close], close + 1
                out.append(inner)
            else:
                out.append(int(inner) if inner.isdigit() else inner)
            i = end
        else:
            buf += ch
        i += 1
    if buf:
        out.append(buf)
    return out


_MISSING = object()


def get_path(value: Any, path: str) -> Any:
    """The value at an engine property path (``_MISSING`` when absent); JSON strings are entered."""
    from enclave.snapshot import JSON_MARK, canonical

    current = canonical(value)
    for seg in parse_path(path):
        if isinstance(current, dict) and set(current) == {JSON_MARK}:
            current = current[JSON_MARK]
        if isinstance(seg, int) and isinstance(current, list) and seg < len(current):
            current = current[seg]
        elif isinstance(seg, str) and isinstance(current, dict) and seg in current:
            current = current[seg]
        else:
            return _MISSING
    return current


def _type_of(step: dict[str, Any]) -> str:
    for state in (step.get("newState"), step.get("oldState")):
        if isinstance(state, dict) and state.get("type"):
            return state["type"]
    if step.get("_type"):
        return step["_type"]
    # urn:pulumi:stack::project::parent$type::name -> the last qualified type.
    parts = step["urn"].split("::")
    return parts[2].split("$")[-1] if len(parts) >= 4 else ""


def _name_of(urn: str) -> str:
    return urn.split("::", 3)[-1] if urn.count("::") >= 3 else urn


def _state(step: dict[str, Any], key: str) -> dict[str, Any]:
    state = step.get(key)
    return state if isinstance(state, dict) else {}


def _provider_urn(ref: str | None) -> str:
    return (ref or "").rsplit("::", 1)[0]


def _changes_of(step: dict[str, Any], typ: str):
    """The property changes one update/replace step describes, most precise source first."""
    from enclave.harness import SECRET_MARK
    from enclave.snapshot import UNKNOWN, Change, canonical, classify, diff_values

    old, new = _state(step, "oldState"), _state(step, "newState")
    old_in, old_out, new_in = old.get("inputs") or {}, old.get("outputs") or {}, new.get("inputs") or {}
    replace_reasons = set(step.get("replaceReasons") or [])
    changes: list[Change] = []

    def add(path: str, o: Any, n: Any, note: str) -> None:
        o = None if o is _MISSING else o
        n = None if n is _MISSING else n
        if o == n:
            # The provider saw a difference the recorded values cannot show: a secret, or a value the
            # provider normalises (key order in a JSON policy, state vs inputs).
            same = "secret value changed" if o == SECRET_MARK else "reported changed; old and new look the same here"
            found = [(path, o, n, same)]
        else:
            found = diff_values(path, o, n)
        for p, ov, nv, extra in found:
            risk = classify(typ, p)
            notes = [x for x in (note, extra) if x]
            if nv == UNKNOWN:
                notes.append("known only after apply")
            changes.append(Change(p, ov, nv, risk, note="; ".join(notes)))

    detailed = step.get("detailedDiff")
    if isinstance(detailed, dict) and detailed:
        for path in sorted(detailed):
            d = detailed[path] or {}
            kind = d.get("kind") or d.get("diffKind") or "update"
            # inputDiff false: the provider compared the old *state* with the new inputs.
            source = old_in if d.get("inputDiff") else old_out or old_in
            o = get_path(source, path)
            if o is _MISSING and source is not old_in:
                o = get_path(old_in, path)
            n = get_path(new_in, path) if not kind.startswith("delete") else _MISSING
            note = "forces replacement" if kind.endswith("-replace") else ""
            add(path, o if not kind.startswith("add") else _MISSING, n, note)
    else:
        keys = step.get("diffReasons") or sorted(set(old_in) | set(new_in))
        for key in sorted(set(keys)):
            o, n = canonical(old_in.get(key)), canonical(new_in.get(key))
            if o != n:
                add(key, o, n, "forces replacement" if key in replace_reasons else "")
    if bool(old.get("protect")) != bool(new.get("protect")):
        changes.append(
            Change("options.protect", bool(old.get("protect")), bool(new.get("protect")), "protection", "option")
        )
    if old and new and _provider_urn(old.get("provider")) != _provider_urn(new.get("provider")):
        changes.append(Change("provider", old.get("provider"), new.get("provider"), "residency", "placement"))
    return changes


def preview_grants(preview: Preview, at=None) -> list:
    """The grant entries of a preview: the grants in its steps' old states against those in its new states.

    The new side adds the preview's stack config (approver, reason, legal basis; an expired grant the
    program left out of the documents). The old side has no config: the digest carries only NEW's.
    """
    from enclave import grant_changes
    from enclave.snapshot import canonical

    olds: dict[str, tuple[str, str, dict]] = {}
    news: dict[str, tuple[str, str, dict]] = {}
    for step in preview.steps:
        urn, op = step.get("urn", ""), step.get("op", "")
        if op in ("read", "refresh") or _type_of(step) == "pulumi:pulumi:Stack":
            continue
        old, new = _state(step, "oldState"), _state(step, "newState")
        if old:
            olds.setdefault(urn, (_name_of(urn), _type_of(step), canonical(old.get("inputs") or {})))
        if new and op not in _GONE_OPS:
            news[urn] = (_name_of(urn), _type_of(step), canonical(new.get("inputs") or {}))
    old_side = grant_changes.side(None, olds.values())
    new_side = grant_changes.side(preview.config or None, news.values())
    return grant_changes.entries(old_side, new_side, stack_of(preview)[1], at)


def review(preview: Preview, at=None):
    """Risk-ordered ``ResourceChange``s of a preview (the same classes as ``enclave diff``), grants among them.

    ``at`` is the clock grants are judged at (default: ``components.clock.now()``).
    """
    from enclave import grant_changes
    from enclave.snapshot import (
        Change,
        ResourceChange,
        canonical,
        classify,
        data_bearing,
        order,
        resource_class,
        resource_direction,
    )

    by_urn: dict[str, ResourceChange] = {}
    olds: dict[str, dict] = {}
    news: dict[str, dict] = {}
    ops: dict[str, list[str]] = {}
    reasons: dict[str, set[str]] = {}
    for step in preview.steps:
        op, urn = step.get("op", ""), step.get("urn", "")
        typ = _type_of(step)
        if typ == "pulumi:pulumi:Stack":
            continue
        old, new = _state(step, "oldState"), _state(step, "newState")
        if op in _QUIET_OPS and not (op == "same" and bool(old.get("protect")) != bool(new.get("protect"))):
            continue
        if old:
            olds.setdefault(urn, old)
        if new:
            news[urn] = new
        kind = _KIND.get(op, "changed")
        if kind in ("added", "removed"):
            inputs = canonical((new if kind == "added" else old).get("inputs") or {})
            changes = [
                Change(k, *((None, v) if kind == "added" else (v, None)), classify(typ, k))
                for k, v in sorted(inputs.items())
            ]
            risk = resource_class(typ, inputs)
        elif not (old and new):
            # One half of a replacement (delete-replaced has only the old state): the other half describes it.
            changes = []
            risk = resource_class(typ, canonical(new.get("inputs") or old.get("inputs") or {}))
        else:
            changes = _changes_of(step, typ)
            fallback = resource_class(typ, canonical(new.get("inputs") or old.get("inputs") or {}))
            risk = min([c.risk for c in changes] or [fallback], key=_rank)
        ops.setdefault(urn, []).append(op)
        reasons.setdefault(urn, set()).update(step.get("replaceReasons") or [])
        previous = by_urn.get(urn)
        if previous is None:
            by_urn[urn] = ResourceChange(kind, urn, typ, _name_of(urn), risk, changes)
            continue
        # The halves of one replacement (create-replacement, delete-replaced, replace) make one entry,
        # described by the half with the most detail.
        previous.kind = "replaced"
        if len(changes) > len(previous.changes):
            previous.changes = changes
        previous.risk = min(previous.risk, risk, key=_rank)
    for urn, rc in by_urn.items():
        why = sorted(reasons[urn])
        rc.note = f"op: {', '.join(ops[urn])}" + (f"; replaced because {', '.join(why)} changed" if why else "")
        old = olds.get(urn) or {}
        if rc.kind in ("added", "removed"):
            state = old if rc.kind == "removed" else news.get(urn) or {}
            rc.direction = resource_direction(rc.type, canonical(state.get("inputs") or {}), rc.kind)
        if rc.kind in ("removed", "replaced") and (bool(old.get("protect")) or data_bearing(rc.type)):
            what = "deletes" if rc.kind == "removed" else "replaces"
            why_lost = (
                [f"{what} a data-bearing {rc.type.split(':')[-1]}: what it holds is lost"]
                if data_bearing(rc.type)
                else []
            )
            if old.get("protect"):
                why_lost.append("it is protected: the engine refuses until someone unprotects it")
            rc.risk = "data-loss"
            rc.note = f"DATA LOSS: {'; '.join(why_lost)}; {rc.note}"
    grants = preview_grants(preview, at)
    grant_changes.annotate(by_urn.values(), grants)
    return order([*by_urn.values(), *grants])


def _rank(risk: str) -> int:
    from enclave.snapshot import RANK

    return RANK[risk]


# --------------------------------------------------------------------------- rendering


def _clean(message: str) -> str:
    return _ANSI.sub("", message).strip()


def preview_notes(preview: Preview) -> list[str]:
    """What the reader must know before trusting the list: failure, corruption, missing policy data."""
    notes = []
    failed = any(d.get("severity") == "error" for d in preview.diagnostics)
    if preview.maybe_corrupt:
        notes.append("maybeCorrupt: the engine says this preview may be corrupt; do not trust or apply it")
    if failed:
        notes.append("the preview FAILED (an error diagnostic): the steps below may be incomplete")
    if preview.policy_events is None:
        why = (
            "a mandatory policy violation is one possible cause of the failure, but the digest does not say"
            if failed
            else "advisory violations leave no trace in it"
        )
        notes.append(
            "policy: this preview digest carries no policy results (pulumi/pulumi#18851); "
            f"{why}. Pass --event-log FILE from the same preview to see them"
        )
    if preview.change_summary:
        totals = ", ".join(f"{n} {op}" for op, n in sorted(preview.change_summary.items()))
        notes.append(f"engine change summary: {totals}")
    return notes


def _policy_lines(preview: Preview) -> list[str]:
    if preview.policy_events is None:
        return []
    if not preview.policy_events:
        return ["policy: no violations reported by the policy packs in the event log"]

    def level(e):
        return {"mandatory": 0, "remediate": 1, "advisory": 2}.get(e.get("enforcementLevel", ""), 3)

    lines = [f"policy: {len(preview.policy_events)} violation(s)"]
    for e in sorted(
        preview.policy_events, key=lambda e: (level(e), e.get("policyName", ""), e.get("resourceUrn") or "")
    ):
        where = _name_of(e.get("resourceUrn") or "") or "(stack)"
        lines.append(
            f"  [{e.get('enforcementLevel', '?')}] {e.get('policyPackName', '?')}/{e.get('policyName', '?')} "
            f"on {where}: {_clean(e.get('message', ''))}"
        )
    return lines


def _diagnostic_lines(preview: Preview) -> list[str]:
    lines = []
    for d in preview.diagnostics:
        if d.get("severity") in ("error", "warning"):
            where = f" ({_name_of(d['urn'])})" if d.get("urn") else ""
            lines.append(f"  {d['severity']}{where}: {_clean(d.get('message', ''))}")
    return (["diagnostics:"] + lines) if lines else []


# --------------------------------------------------------------------------- the offline verdict

_GONE_OPS = {"delete", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace", "read", "refresh"}


def stack_of(preview: Preview) -> tuple[str, str]:
    """(stack, project) from the URNs (``urn:pulumi:<stack>::<project>::...``)."""
    for step in preview.steps:
        parts = step.get("urn", "").split("::")
        if len(parts) >= 2 and parts[0].startswith("urn:pulumi:"):
            return parts[0][len("urn:pulumi:") :], parts[1]
    return "", ""


def completeness(preview: Preview) -> str:
    """ "" when the steps cover every resource the engine counted; else why not (the pack needs all of them)."""
    if not preview.change_summary:
        return "the preview has no change summary, so it cannot show that it lists every resource"
    listed: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    for step in preview.steps:
        op = step.get("op", "")
        if (step.get("urn"), op) not in seen:
            seen.add((step.get("urn"), op))
            listed[op] = listed.get(op, 0) + 1
    missing = {op: n - listed.get(op, 0) for op, n in preview.change_summary.items() if n > listed.get(op, 0)}
    if missing:
        counts = ", ".join(f"{n} {op}" for op, n in sorted(missing.items()))
        return (
            f"the preview does not list every resource ({counts} not shown; run `pulumi preview --json "
            "--show-sames`), and the pack needs all of them (providers, buckets' configurations)"
        )
    return ""


def _position(state: dict[str, Any]) -> tuple[str, int]:
    """(project-relative file, line) from a ``sourcePosition`` like ``project:///components/x.py#12,5``."""
    pos = state.get("sourcePosition") or ""
    if not isinstance(pos, str) or not pos.startswith("project:///"):
        return "", 0
    path, _, where = pos[len("project:///") :].partition("#")
    line = where.split(",")[0]
    return path, int(line) if line.isdigit() else 0


def run_from_preview(preview: Preview, config: dict[str, Any] | None = None):
    """The preview's new states as a ``ProgramRun`` (what the engine hands the policy pack), and source positions."""
    from enclave.harness import ProgramRun, RecordedResource
    from enclave.snapshot import BOOKKEEPING_KEYS

    stack, project = stack_of(preview)
    resources, positions = [], {}
    done: set[str] = set()
    for step in preview.steps:
        new = _state(step, "newState")
        urn = step.get("urn", "")
        if step.get("op") in _GONE_OPS or not new or urn in done or _type_of(step) == "pulumi:pulumi:Stack":
            continue
        done.add(urn)
        inputs = {k: v for k, v in (new.get("inputs") or {}).items() if k not in BOOKKEEPING_KEYS}
        positions[urn] = _position(new)
        resources.append(
            RecordedResource(
                urn=urn,
                type=_type_of(step),
                name=_name_of(urn),
                custom=bool(new.get("custom", True)),
                inputs=inputs,
                redacted_inputs=inputs,
                provider=new.get("provider") or step.get("provider") or "",
                parent=new.get("parent") or "",
                protect=bool(new.get("protect")),
                retain_on_delete=bool(new.get("retainOnDelete")),
                delete_before_replace=bool(new.get("deleteBeforeReplace")),
                dependencies=list(new.get("dependencies") or []),
                property_dependencies={k: list(v) for k, v in (new.get("propertyDependencies") or {}).items()},
                ignore_changes=[],
                replace_on_changes=[],
                additional_secret_outputs=list(new.get("additionalSecretOutputs") or []),
                id=str(new.get("id") or ""),
                outputs={k: v for k, v in (new.get("outputs") or {}).items() if k not in BOOKKEEPING_KEYS},
            )
        )
    return ProgramRun(project, stack, dict(config or {}), resources, {}), positions


def _event_violations(preview: Preview, positions: dict[str, tuple[str, int]]) -> list:
    """The event log's policy events as ``Violation``s (the engine's own verdict)."""
    from enclave.check import STACK_TYPE, Violation

    found = []
    for e in preview.policy_events or []:
        urn = e.get("resourceUrn") or ""
        level = e.get("enforcementLevel", "advisory")
        file, line = positions.get(urn, ("", 0))
        found.append(
            Violation(
                policy=e.get("policyName", "?"),
                enforcement="mandatory" if level in ("mandatory", "remediate") else "advisory",
                urn=urn,
                type=_type_from_urn(urn) if urn else STACK_TYPE,
                name=_name_of(urn) if urn else "",
                message=_clean(e.get("message", ""))
                + f" [{e.get('policyPackName', '?')} {e.get('policyPackVersion', '')}]".rstrip(),
                file=file,
                line=line,
            )
        )
    return found


def _type_from_urn(urn: str) -> str:
    parts = urn.split("::")
    return parts[2].split("$")[-1] if len(parts) >= 4 else ""


def preview_verdict(preview: Preview, args: argparse.Namespace, program_dir: Path | None):
    """The pack's verdict on the preview's new states (offline), plus the engine's policy events."""
    import dataclasses

    from enclave.check import evaluate, load_policies, policy_config_from_stack, read_policy_config
    from enclave.verdict import Verdict, exceptions_of

    stack, project = stack_of(preview)
    run, positions = run_from_preview(preview, preview.config)
    notes: list[str] = []
    violations: list = []
    config: dict = {}
    evaluated = False
    why_not = completeness(preview)
    try:
        if args.policy_config is not None:
            config = read_policy_config(args.policy_config)
        elif program_dir is not None and (program_dir / "policy" / "config" / f"{stack}.json").is_file():
            config = read_policy_config(program_dir / "policy" / "config" / f"{stack}.json")
        else:
            config = policy_config_from_stack(run.config, project)
    except UsageError as exc:
        if args.policy_config is not None:
            raise
        why_not = why_not or f"no policy config ({exc}); pass --policy-config FILE"
    if why_not:
        notes.append(f"offline policy verdict skipped: {why_not}")
    else:
        violations = evaluate(run, config)
        evaluated = True
        violations = [
            dataclasses.replace(
                v, file=v.file or positions.get(v.urn, ("", 0))[0], line=v.line or positions.get(v.urn, ("", 0))[1]
            )
            for v in violations
        ]
    events = _event_violations(preview, positions)
    if preview.policy_events is not None:
        evaluated = True
        ours = {(v.policy, v.urn) for v in violations}
        pack = {p.name for p in load_policies()}
        # The engine's results for our pack duplicate the offline ones: keep the engine's only where we have none.
        violations += [e for e in events if not (e.policy in pack and (e.policy, e.urn) in ours)]
        notes.append(f"{len(events)} policy result(s) from the engine's event log")
    return Verdict(
        stack or "(unknown stack)", violations, exceptions_of(config), notes=notes, evaluated=evaluated
    ), config


def run(args: argparse.Namespace) -> int:
    import json

    from enclave import comment, grant_changes
    from enclave import verdict as verdicts
    from enclave.cli import EXIT_FAIL, EXIT_USAGE, resolve_program
    from enclave.diff import blame, change_json, grant_count, markdown_parts, render_text
    from enclave.files import emit
    from enclave.snapshot import order

    at = grant_changes.clock()  # before anything is read: a malformed ENCLAVE_NOW is exit 2
    preview = parse_preview(_read(args.preview, "PREVIEW"), str(args.preview))
    if args.event_log is not None:
        events = parse_events(_read(args.event_log, "--event-log"), str(args.event_log))
        preview.policy_events = events.policy_events
        preview.diagnostics = preview.diagnostics or events.diagnostics
        preview.change_summary = preview.change_summary or events.change_summary
        if not preview.steps:
            preview.steps = events.steps
    try:
        program_dir = resolve_program(args.program)
    except UsageError:
        if args.program is not None:
            raise
        program_dir = None  # a preview of another project: its policy config must be given or derivable
    verdict, config = preview_verdict(preview, args, program_dir)
    changes = review(preview, at)
    blame(changes, verdict.violations)
    changes = order(changes)
    failed_preview = any(d.get("severity") == "error" for d in preview.diagnostics)
    failed = verdict.fails("any")
    title = f"enclave review: {args.preview.name}"
    extra = _policy_lines(preview) + _diagnostic_lines(preview)
    notes = preview_notes(preview)

    if args.format == "json":
        doc = {
            "preview": str(args.preview),
            "failed": failed,
            "previewFailed": failed_preview,
            "verdict": verdicts.to_json(verdict),
            "notes": notes,
            "changeSummary": preview.change_summary,
            "grantsOpenedOrWidened": grant_count(changes),
            "changes": [change_json(rc) for rc in changes],
            "diagnostics": [d for d in preview.diagnostics if d.get("severity") in ("error", "warning")],
        }
        body = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "sarif":
        from enclave.check import levels_of, load_policies
        from enclave.cli import version
        from enclave.sarif import to_sarif

        root = program_dir or Path.cwd()
        doc = to_sarif(
            [(verdict.stack, verdict.violations)],
            load_policies(),
            root,
            levels=levels_of(config),
            tool_version=version(),
        )
        body = json.dumps(doc, indent=2) + "\n"
    elif args.format in ("markdown", "github"):
        status = "❌ FAIL" if failed else "⛔ PREVIEW FAILED" if failed_preview else "✅ PASS"
        head = [f"## {title}: {status}", "", *verdicts.render_markdown(verdict)]
        if extra:
            head += ["```", *extra, "```", ""]
        h, details, tail = markdown_parts(title, changes, notes)
        head += h
        body = (
            comment.fit("review", head, details, tail)
            if args.format == "github"
            else "\n".join(head + details + tail) + "\n"
        )
    else:
        body = "\n".join(verdicts.render_text(verdict)) + "\n\n" + render_text(title, changes, notes)
        if extra:
            body += "\n" + "\n".join(extra) + "\n"
    emit(
        body,
        args.output,
        f"{'FAIL' if failed else 'PREVIEW FAILED' if failed_preview else 'PASS'}, {args.format} report",
    )
    if failed and not args.soft_fail:
        return EXIT_FAIL
    if failed_preview:
        print(
            "error: the preview failed (an error diagnostic): fix the preview first; its verdict is incomplete",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return EXIT_OK
