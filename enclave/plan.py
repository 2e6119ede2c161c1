"""``python -m enclave plan``: write (or check) each stack's committed preview.

For every stack, three deterministic files in ``previews/``: ``NAME.json``
(the canonical snapshot, see ``enclave.snapshot``), ``NAME.md`` (per-component
summary, policy verdict, Mermaid diagram) and ``NAME.dot`` (the same diagram
for Graphviz). ``NAME.svg`` is written only when Graphviz's ``dot`` is on PATH,
and is not committed: its bytes depend on the Graphviz version and fonts.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enclave.cli import EXIT_FAIL, EXIT_OK, UsageError

HELP = "Write each stack's canonical preview (previews/NAME.json, .md, .dot), or --check that they are current."

REGENERATE = "python -m enclave plan --all"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--stack", action="append", metavar="NAME", help="a stack (repeatable)")
    which.add_argument("--all", action="store_true", help="every stack with a Pulumi.<stack>.yaml")
    parser.add_argument("--program", type=Path, metavar="DIR", help="the Pulumi program (default: this project)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="where previews go (default: <program>/previews)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate in memory and exit 1 naming each committed preview that is stale (default: all stacks)",
    )


# --------------------------------------------------------------------------- rendering


@dataclass
class Graph:
    """Components, resources and the labelled references between them, in a stable order."""

    components: list[dict[str, Any]]
    members: dict[str, list[dict[str, Any]]]  # component URN -> its custom resources
    edges: list[tuple[str, str, str]]  # (from URN, to URN, label)
    node_ids: dict[str, str] = field(default_factory=dict)


# Input keys whose references are drawn, and how the edge is labelled.
_EDGE_LABELS = {
    "kmsKeyId": "encrypted by",
    "kmsMasterKeyId": "encrypted by",
    "kmsKeyArn": "encrypted by",
    "targetKeyId": "alias of",
    "logDestination": "logs to",
    "s3BucketName": "logs to",
    "targetBucket": "logs to",
    "bucket": "configures",
    "role": "attached to",
    "policyArn": "attaches",
    "permissionsBoundary": "bounded by",
    "securityGroupIds": "guarded by",
    "securityGroupId": "rule of",
    "referencedSecurityGroupId": "allows peer",
    "vpcEndpointIds": "endpoint",
    "secretId": "configures",
    "secretArn": "configures",
    "Resource": "policy covers",
    "aws:SourceVpce": "only via",
    "aws:sourceVpce": "only via",
}
_EDGE_PRIORITY = (
    "encrypted by",
    "logs to",
    "only via",
    "policy covers",
    "alias of",
    "attached to",
    "attaches",
    "bounded by",
    "guarded by",
    "endpoint",
    "rule of",
    "allows peer",
    "flow logs of",
    "configures",
)


def _reference_index(run) -> dict[str, str]:
    """Physical ids, names and ARNs the mocks returned -> URN of the resource they identify."""
    index: dict[str, str] = {}
    # Sub-resources echo their target's name in their own state (a BucketPolicy's "bucket"): only
    # the resource that owns a name is indexed by it, and URN order settles any other tie.
    own_names = {"aws:s3/bucket:Bucket": ("bucket",), "aws:kms/key:Key": ("keyId",)}
    for res in sorted(run.resources, key=lambda r: r.urn):
        if not res.custom or res.type.startswith("pulumi:providers:"):
            continue
        for key in ("arn", "id", *own_names.get(res.type, ())):
            value = res.outputs.get(key)
            if isinstance(value, str) and value and value not in index:
                index[value] = res.urn
    return index


def _walk(value: Any, key: str = ""):
    """Yield (nearest property key, string) for every string inside a value."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in ("tags", "tagsAll"):
                yield from _walk(v, key if k == "$json" else k)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, key)
    elif isinstance(value, str):
        yield key, value


def _target(index: dict[str, str], value: str) -> str | None:
    if value in index:
        return index[value]
    # "arn:aws:s3:::bucket/*" in a policy names the bucket's objects.
    base = value.split("/", 1)[0] if value.startswith("arn:aws:s3:::") else None
    return index.get(base) if base else None


def build_graph(run, snapshot: dict[str, Any]) -> Graph:
    index = _reference_index(run)
    entries = {e["urn"]: e for e in snapshot["resources"]}
    components = [e for e in snapshot["resources"] if not e["custom"] and e["type"] != "pulumi:pulumi:Stack"]
    comp_urns = {c["urn"] for c in components}

    def owner(entry: dict[str, Any]) -> str:
        parent = entry["parent"]
        while parent and parent not in comp_urns and parent in entries:
            parent = entries[parent]["parent"]
        return parent if parent in comp_urns else ""

    members: dict[str, list[dict[str, Any]]] = {}
    for e in snapshot["resources"]:
        if e["custom"]:
            members.setdefault(owner(e), []).append(e)
    edges: set[tuple[str, str, str]] = set()
    for e in snapshot["resources"]:
        if not e["custom"]:
            continue
        for key, value in _walk(e["inputs"]):
            label = _EDGE_LABELS.get(key)
            if key == "vpcId" and e["type"] == "aws:ec2/flowLog:FlowLog":
                label = "flow logs of"
            dest = _target(index, value) if label else None
            if dest and dest != e["urn"]:
                edges.add((e["urn"], dest, label))
    # One edge per pair, the most telling label first (a policy's "configures" says less than "policy covers").
    best: dict[tuple[str, str], str] = {}
    for src, dst, label in sorted(edges, key=lambda e: (e[0], e[1], _EDGE_PRIORITY.index(e[2]))):
        best.setdefault((src, dst), label)
    graph = Graph(components=components, members=members, edges=sorted((s, d, lbl) for (s, d), lbl in best.items()))
    ordered = [c["urn"] for c in components] + [r["urn"] for rs in members.values() for r in rs]
    graph.node_ids = node_ids(ordered, entries)
    return graph


def node_ids(urns: list[str], entries: dict[str, dict[str, Any]]) -> dict[str, str]:
    """A diagram id per resource from its own name and URN, never its position in a list: adding or
    removing one resource changes only the lines that mention it."""
    ids: dict[str, str] = {}
    for urn in sorted(set(urns)):
        name = re.sub(r"[^A-Za-z0-9]+", "_", entries[urn]["name"]).strip("_") or "r"
        ids[urn] = f"{name}_{hashlib.sha256(urn.encode()).hexdigest()[:6]}"
    return ids


def _short_type(type_: str) -> str:
    # "aws:s3/bucketPolicy:BucketPolicy" -> "s3 BucketPolicy"; providers and components as they are.
    parts = type_.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        module = parts[1].split("/")[0]
        return f"{parts[0] if module == 'index' else module} {parts[2]}"
    return type_


def _policy_summary(doc: Any) -> str:
    """Who a policy document lets in, in one line: Allow principals and the conditions they need."""
    stmts = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(stmts, dict):
        stmts = [stmts]
    if not isinstance(stmts, list):
        return ""
    allows, denies = [], 0
    for s in stmts:
        if not isinstance(s, dict):
            continue
        if s.get("Effect") == "Deny":
            denies += 1
            continue
        principal = s.get("Principal")
        if isinstance(principal, dict):
            principal = ", ".join(
                p for v in principal.values() for p in (v if isinstance(v, list) else [v]) if isinstance(p, str)
            )
        conds = sorted({k for ops in (s.get("Condition") or {}).values() if isinstance(ops, dict) for k in ops})
        # An identity policy has no Principal: whoever holds it is the principal.
        who = f": {principal}" if principal else ""
        allows.append(f"{s.get('Sid') or 'Allow'}{who}" + (f" if {', '.join(conds)}" if conds else ""))
    parts = allows + ([f"{denies} deny statement(s)"] if denies else [])
    return "; ".join(parts)


def _reach(entry: dict[str, Any], snapshot: dict[str, Any], graph: Graph) -> str:
    """What can reach a resource: its own policy, or the policies and rules that point at it."""
    notes = []
    for key in ("policy", "assumeRolePolicy"):
        doc = entry["inputs"].get(key)
        if isinstance(doc, dict) and "$json" in doc:
            notes.append(("trust: " if key == "assumeRolePolicy" else "") + _policy_summary(doc["$json"]))
    entries = {e["urn"]: e for e in snapshot["resources"]}
    naming, requiring = [], []
    for src, dst, label in graph.edges:
        if dst != entry["urn"] or label not in ("configures", "policy covers", "attached to", "only via"):
            continue
        other = entries[src]
        doc = other["inputs"].get("policy")
        if label == "only via":
            requiring.append(other["name"])
        elif isinstance(doc, dict) and "$json" in doc:
            if other["type"].startswith("aws:iam/"):
                # Identity policies and boundaries that name this resource: who holds them may reach it.
                naming.append(other["name"])
            else:
                notes.append(f"{other['name']}: {_policy_summary(doc['$json'])}")
    names = {urn: e["name"] for urn, e in entries.items()}
    for src, dst, label in graph.edges:
        if src == entry["urn"] and label in ("logs to", "flow logs of"):
            notes.append(f"{label} {names[dst]}")
        elif dst == entry["urn"] and label in ("logs to", "flow logs of"):
            notes.append(f"{'logs from' if label == 'logs to' else 'flow logs by'} {names[src]}")
        elif dst == entry["urn"] and label == "rule of" and entries[src]["type"].startswith("aws:vpc/securityGroup"):
            notes.append(_sg_rule(entries[src], graph, names))
        elif dst == entry["urn"] and label == "rule of":
            notes.append(f"rules managed exclusively by {names[src]}")
    if entry["type"].startswith("aws:vpc/securityGroup"):
        notes.append(_sg_rule(entry, graph, names))
    if requiring:
        notes.append(f"policies that require this endpoint: {', '.join(requiring)}")
    if naming:
        notes.append(f"IAM policies naming it: {', '.join(naming)}")
    if entry["type"].startswith("pulumi:providers:"):
        inputs = entry["inputs"]
        roles = [r.get("roleArn") for r in inputs.get("assumeRoles") or [] if isinstance(r, dict)]
        notes.append(
            f"account {', '.join(inputs.get('allowedAccountIds') or ['(any)'])}"
            + (f", assumes {', '.join(str(r) for r in roles)}" if roles else "")
        )
    rules = [
        f"{k} {_summarise_rules(entry['inputs'][k])}"
        for k in ("ingress", "egress")
        if entry["inputs"].get(k) is not None
    ]
    return "; ".join(n for n in notes + rules if n) or "-"


def _sg_rule(rule: dict[str, Any], graph: Graph, names: dict[str, str]) -> str:
    """``egress tcp 443-443 to <peer>`` for a standalone security-group rule."""
    i = rule["inputs"]
    direction, prep = ("egress", "to") if "Egress" in rule["type"] else ("ingress", "from")
    peer = i.get("cidrIpv4") or i.get("cidrIpv6") or i.get("prefixListId") or i.get("referencedSecurityGroupId")
    peer_name = next((names[d] for s, d, lbl in graph.edges if s == rule["urn"] and lbl == "allows peer"), None)
    return (
        f"{direction} {i.get('ipProtocol')} {i.get('fromPort', '*')}-{i.get('toPort', '*')} {prep} {peer_name or peer}"
    )


def _summarise_rules(rules: Any) -> str:
    if not rules:
        return "none"
    if not isinstance(rules, list):
        return "set"
    out = []
    for r in rules:
        if isinstance(r, dict):
            where = (
                r.get("cidrBlock")
                or r.get("ipv6CidrBlock")
                or r.get("cidrBlocks")
                or r.get("securityGroups")
                or r.get("prefixListIds")
            )
            out.append(f"{r.get('action', r.get('ruleAction', 'allow'))} {r.get('protocol', '')} {where}".strip())
    return ", ".join(out)


def _key_of(entry: dict[str, Any], graph: Graph, entries: dict[str, dict[str, Any]]) -> str:
    """The KMS key that encrypts a resource: its own key input, or the one of the config that targets it."""
    for src, dst, label in graph.edges:
        if src == entry["urn"] and label == "encrypted by":
            return entries[dst]["name"]
    for src, dst, label in graph.edges:
        if dst == entry["urn"] and label == "configures":
            for s2, d2, l2 in graph.edges:
                if s2 == src and l2 == "encrypted by":
                    return entries[d2]["name"]
    return "-"


def _region_cell(entry: dict[str, Any]) -> str:
    # IAM is global: the provider's region only says where the API calls go.
    if entry["type"].startswith("aws:iam/"):
        return "global (IAM)"
    return entry["region"] or "-"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(run, snapshot: dict[str, Any], verdict: list[str]) -> str:
    graph = build_graph(run, snapshot)
    entries = {e["urn"]: e for e in snapshot["resources"]}
    stack = snapshot["stack"]
    custom = [e for e in snapshot["resources"] if e["custom"]]
    regions = sorted({e["region"] for e in custom if e["region"]})
    lines = [
        f"# Preview: stack `{stack}`",
        "",
        f"Generated by `{REGENERATE}` from the program under mocks; do not edit. "
        f"{len(custom)} resources in {len(graph.components)} components; regions: "
        f"{', '.join(f'`{r}`' for r in regions) or 'none'}. Snapshot: [`{stack}.json`]({stack}.json).",
        "",
        "## Policy verdict",
        "",
        *verdict,
        "",
        "## Components",
    ]
    comp_by_urn = {c["urn"]: c for c in graph.components}
    for comp_urn in sorted(graph.members, key=lambda u: (u == "", u)):
        comp = comp_by_urn.get(comp_urn)
        title = f"`{comp['name']}` ({comp['type']})" if comp else "Not in a component"
        lines += [
            "",
            f"### {title}",
            "",
            "| resource | type | region | encrypted by | what can reach it / notes |",
            "| --- | --- | --- | --- | --- |",
        ]
        for e in sorted(graph.members[comp_urn], key=lambda e: e["urn"]):
            flags = [o for o in ("protect", "retainOnDelete") if e["options"].get(o)]
            note = _reach(e, snapshot, graph) + (f" ({', '.join(flags)})" if flags else "")
            lines.append(
                f"| `{e['name']}` | {_short_type(e['type'])} | {_region_cell(e)} | "
                f"{_key_of(e, graph, entries)} | {_cell(note)} |"
            )
    lines += ["", "## Architecture", "", "```mermaid", *render_mermaid(graph, entries), "```", ""]
    return "\n".join(lines)


def _label(entry: dict[str, Any]) -> str:
    return f"{entry['name']}<br/>{_short_type(entry['type'])}".replace('"', "#quot;")


def render_mermaid(graph: Graph, entries: dict[str, dict[str, Any]]) -> list[str]:
    out = ["flowchart LR"]
    for comp_urn in sorted(graph.members, key=lambda u: (u == "", u)):
        indent = "  "
        if comp_urn:
            comp = entries[comp_urn]
            out.append(f'  subgraph {graph.node_ids[comp_urn]}["{comp["name"]} ({comp["type"]})"]')
            indent = "    "
        for e in sorted(graph.members[comp_urn], key=lambda e: e["urn"]):
            out.append(f'{indent}{graph.node_ids[e["urn"]]}["{_label(e)}"]')
        if comp_urn:
            out.append("  end")
    for src, dst, label in graph.edges:
        arrow = "-.->" if label in ("configures", "policy covers") else "-->"
        out.append(f"  {graph.node_ids[src]} {arrow}|{label}| {graph.node_ids[dst]}")
    return out


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(run, snapshot: dict[str, Any]) -> str:
    graph = build_graph(run, snapshot)
    entries = {e["urn"]: e for e in snapshot["resources"]}
    out = [
        f"digraph {_dot_quote(snapshot['stack'])} {{",
        "  rankdir=LR;",
        "  node [shape=box, fontname=Helvetica, fontsize=10];",
        "  edge [fontname=Helvetica, fontsize=9];",
    ]
    for comp_urn in sorted(graph.members, key=lambda u: (u == "", u)):
        indent = "  "
        if comp_urn:
            comp = entries[comp_urn]
            out.append(f"  subgraph cluster_{graph.node_ids[comp_urn]} {{")
            out.append(f"    label={_dot_quote(comp['name'] + ' (' + comp['type'] + ')')};")
            indent = "    "
        for e in sorted(graph.members[comp_urn], key=lambda e: e["urn"]):
            # "\n" is DOT's own line break inside a quoted label.
            label = _dot_quote(e["name"])[:-1] + "\\n" + _dot_quote(_short_type(e["type"]))[1:]
            out.append(f"{indent}{graph.node_ids[e['urn']]} [label={label}];")
        if comp_urn:
            out.append("  }")
    for src, dst, label in graph.edges:
        style = ", style=dashed" if label in ("configures", "policy covers") else ""
        out.append(f"  {graph.node_ids[src]} -> {graph.node_ids[dst]} [label={_dot_quote(label)}{style}];")
    out.append("}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- verdict


def policy_verdict(run, program_dir: Path) -> list[str]:
    """Markdown lines with the residency policy pack's verdict on this run (as ``enclave check`` gives it)."""
    try:
        check = importlib.import_module("enclave.check")
    except ModuleNotFoundError as exc:
        if exc.name != "enclave.check":
            raise
        return ["policy verdict: unavailable (the policy pack, `enclave.check`, is not installed)"]
    violations = check.evaluate(run, check.resolve_policy_config(program_dir, run.stack, run))
    if not violations:
        return ["**PASS**: no policy of the residency pack reports a violation."]
    mandatory = [v for v in violations if v.enforcement == "mandatory"]
    head = "**FAIL**" if mandatory else "**PASS with advisories**"
    lines = [f"{head}: {len(violations)} violation(s), {len(mandatory)} mandatory.", ""]
    lines += ["| policy | enforcement | resource | message |", "| --- | --- | --- | --- |"]
    rows = sorted((v.policy, v.enforcement, v.name or "(stack)", v.message) for v in violations)
    lines += [f"| {p} | {e} | `{n}` | {_cell(m)} |" for p, e, n, m in rows]
    return lines


# --------------------------------------------------------------------------- command


def render_stack(stack: str, program_dir: Path | None) -> dict[str, str]:
    """File name -> exact content of every committed preview file of one stack."""
    from enclave.harness import PROJECT_DIR, HarnessError, run_program
    from enclave.snapshot import build_snapshot, dumps

    program_dir = (program_dir or PROJECT_DIR).resolve()
    try:
        run = run_program(stack, program_dir)
    except HarnessError as exc:
        raise UsageError(str(exc)) from None
    snapshot = build_snapshot(run)
    return {
        f"{stack}.json": dumps(snapshot),
        f"{stack}.md": render_markdown(run, snapshot, policy_verdict(run, program_dir)),
        f"{stack}.dot": render_dot(run, snapshot),
    }


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _stacks(args, program_dir: Path) -> list[str]:
    from enclave.harness import list_stacks

    known = list_stacks(program_dir)
    if args.stack:
        for s in args.stack:
            if s not in known:
                raise UsageError(
                    f"unknown stack {s!r}: no Pulumi.{s}.yaml in {program_dir} (stacks: {', '.join(known) or 'none'})"
                )
        return sorted(set(args.stack))
    if args.all or args.check:
        if not known:
            raise UsageError(f"{program_dir}: no Pulumi.<stack>.yaml files, so no stacks to preview")
        return known
    raise UsageError("say which stacks: --stack NAME (repeatable) or --all")


def run(args: argparse.Namespace) -> int:

    from enclave.cli import resolve_program

    program_dir = resolve_program(args.program)
    out_dir = (args.out or program_dir / "previews").resolve()
    stacks = _stacks(args, program_dir)
    # Render everything before writing anything: a failing stack leaves no half-updated previews.
    files: dict[str, str] = {}
    for stack in stacks:
        files.update(render_stack(stack, program_dir))

    if args.check:
        stale = [name for name, text in sorted(files.items()) if _read(out_dir / name) != text]
        if args.all or not args.stack:
            # A preview of a stack that no longer exists is stale too.
            stale += sorted(
                p.name
                for p in out_dir.glob("*.json")
                if p.stem not in stacks and re.fullmatch(r"[A-Za-z0-9_.-]+", p.stem)
            )
        for name in stale:
            print(f"{_display(out_dir / name)} is stale: run {REGENERATE}", file=sys.stderr)
        if stale:
            return EXIT_FAIL
        print(f"previews are current: {', '.join(stacks)}")
        return EXIT_OK

    # Every file goes to a temporary first and replaces its target only when all are written:
    # a failure leaves the previous previews as they were.
    from enclave.files import write_files

    write_files({out_dir / name: text for name, text in sorted(files.items())})
    for name in sorted(files):
        print(f"wrote {_display(out_dir / name)}")
    if shutil.which("dot"):
        for stack in stacks:
            svg = out_dir / f"{stack}.svg"
            temp = out_dir / f".{stack}.svg.tmp"
            done = subprocess.run(["dot", "-Tsvg", "-o", str(temp), str(out_dir / f"{stack}.dot")], capture_output=True)
            if done.returncode != 0:
                temp.unlink(missing_ok=True)
                print(f"warning: Graphviz could not render {svg.name}: {done.stderr.decode(errors='replace').strip()}")
                continue
            os.replace(temp, svg)
            print(f"wrote {_display(svg)} (Graphviz; not committed: its bytes depend on the Graphviz version)")
    return EXIT_OK


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None
