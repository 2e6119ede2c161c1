"""``python -m enclave diff OLD NEW``: what a change does to each stack, riskiest first.

OLD and NEW are each a snapshot file written by ``enclave plan``, a git
revision (its committed ``previews/*.json`` are read with ``git show``; CI's
``plan --check`` guarantees they match that revision's program), or ``.`` for
the program as it is in the working tree now (evaluated under mocks).
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Any

from enclave.cli import EXIT_OK, UsageError

HELP = "Compare two plan snapshots (files, git revisions, or . for the working tree), riskiest changes first."

WORKTREE = "."

# Properties the AWS provider can only change by replacing the resource (pulumi-aws docs: "forces new").
FORCE_NEW: dict[str, frozenset[str]] = {
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix", "objectLockEnabled", "region"}),
    "aws:kms/key:Key": frozenset({"customerMasterKeySpec", "keySpec", "keyUsage", "multiRegion", "region"}),
    "aws:kms/alias:Alias": frozenset({"name", "region"}),
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    "aws:iam/policy:Policy": frozenset({"name", "namePrefix", "path"}),
    "aws:ec2/vpc:Vpc": frozenset({"cidrBlock", "region"}),
    "aws:ec2/subnet:Subnet": frozenset({"cidrBlock", "availabilityZone", "vpcId", "region"}),
    "aws:ec2/securityGroup:SecurityGroup": frozenset({"name", "description", "vpcId", "region"}),
    "aws:ec2/vpcEndpoint:VpcEndpoint": frozenset({"serviceName", "vpcId", "vpcEndpointType", "region"}),
    "aws:cloudtrail/trail:Trail": frozenset({"name", "region"}),
    "aws:secretsmanager/secret:Secret": frozenset({"name", "namePrefix", "region"}),
}

# Stack config keys (after the "project:" prefix) and the risk class a change to them falls in.
CONFIG_CLASSES = {
    "region": "residency",
    "availabilityZones": "residency",
    "dataAccountId": "residency",
    "operatorAccountId": "residency",
    "operatorRoleArn": "residency",
    "disable-default-providers": "residency",
    "deploymentRoleArn": "access",
    "auditorAccountId": "access",
    "auditorExternalId": "access",
    "operatorExternalId": "access",
    "staffPrincipals": "access",
    "vpcCidr": "network",
    "auditLogRetentionDays": "protection",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD", help="snapshot file, git revision, or . (the working tree)")
    parser.add_argument("new", metavar="NEW", help="snapshot file, git revision, or . (the working tree)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text", help="markdown: a PR comment")
    parser.add_argument("--stack", metavar="NAME", help="only this stack (default: every stack on either side)")
    parser.add_argument("--program", type=Path, metavar="DIR", help="the Pulumi program (default: this project)")


# --------------------------------------------------------------------------- comparing


def _config_class(key: str) -> str:
    return CONFIG_CLASSES.get(key.split(":", 1)[-1], "residency" if key == "aws:region" else "other")


def diff_snapshots(old: dict[str, Any] | None, new: dict[str, Any] | None):
    """The risk-ordered ``ResourceChange`` list between two snapshots (None: the stack does not exist)."""
    from enclave.snapshot import Change, ResourceChange, classify, diff_values, order, resource_class

    old = old or {"config": {}, "resources": []}
    new = new or {"config": {}, "resources": []}
    result: list[ResourceChange] = []

    cfg_changes = [
        Change(path, o, n, _config_class(path.split(".")[0].split("[")[0].split('"')[0]), scope="config", note=note)
        for key in sorted(set(old["config"]) | set(new["config"]))
        for path, o, n, note in diff_values(key, old["config"].get(key), new["config"].get(key))
    ]
    if cfg_changes:
        risk = min((c.risk for c in cfg_changes), key=_rank)
        result.append(ResourceChange("changed", "(stack config)", "pulumi:config", "stack config", risk, cfg_changes))

    old_by = {e["urn"]: e for e in old["resources"]}
    new_by = {e["urn"]: e for e in new["resources"]}
    removed = [old_by[u] for u in sorted(set(old_by) - set(new_by))]
    added = [new_by[u] for u in sorted(set(new_by) - set(old_by))]
    old_regions = {e.get("region") for e in old["resources"] if e.get("region")}

    # A type, name or parent change is a new URN: the engine deletes and creates (a replacement).
    pairs: list[tuple[dict, dict, str]] = []
    for same in (lambda a, b: a["type"] == b["type"], lambda a, b: True):
        for r in list(removed):
            match = [a for a in added if a["name"] == r["name"] and same(r, a)]
            if len(match) == 1:
                a = match[0]
                what = "parent" if r["type"] == a["type"] else "type"
                was, now = (_short(r[what]), _short(a[what])) if what == "parent" else (r[what], a[what])
                pairs.append((r, a, f"{what} changed: {was} -> {now}"))
                removed.remove(r)
                added.remove(a)
    # A rename: the only resource of a type and parent that went, and the only one that came.
    for r in list(removed):
        gone = [x for x in removed if (x["type"], x["parent"]) == (r["type"], r["parent"])]
        came = [a for a in added if (a["type"], a["parent"]) == (r["type"], r["parent"])]
        if len(gone) == 1 and len(came) == 1:
            a = came[0]
            pairs.append((r, a, f"renamed: {r['name']} -> {a['name']} (without an alias the engine replaces it)"))
            removed.remove(r)
            added.remove(a)

    def whole(entry: dict[str, Any], kind: str) -> ResourceChange:
        risk = resource_class(entry["type"], entry["inputs"])
        note = ""
        if kind == "added" and entry.get("region") and old_regions and entry["region"] not in old_regions:
            risk, note = "residency", f"new region {entry['region']}"
        changes = [
            Change(path, *((None, v) if kind == "added" else (v, None)), classify(entry["type"], path), note=n)
            for path, v, n in _flatten(entry["inputs"])
        ]
        return ResourceChange(kind, entry["urn"], entry["type"], entry["name"], risk, changes, note)

    result += [whole(e, "removed") for e in removed]
    result += [whole(e, "added") for e in added]

    for urn in sorted(set(old_by) & set(new_by)):
        rc = _compare(old_by[urn], new_by[urn])
        if rc is not None:
            result.append(rc)
    for o, n, note in pairs:
        rc = _compare(o, n) or ResourceChange("replaced", n["urn"], n["type"], n["name"], "other")
        rc.kind, rc.note = "replaced", "; ".join(x for x in (note, rc.note) if x)
        rc.risk = min([resource_class(n["type"], n["inputs"]), rc.risk], key=_rank)
        result.append(rc)
    return order(result)


def neutralise_stack(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A copy whose URNs, names, parents and providers say ``*`` where they said the stack's name."""
    stack = snapshot["stack"]

    def n(text: str) -> str:
        return text.replace(stack, "*")

    resources = []
    for e in snapshot["resources"]:
        e = dict(e, urn=n(e["urn"]), name=n(e["name"]), parent=n(e["parent"]), provider=n(e["provider"]))
        opts = e["options"]
        e["options"] = dict(
            opts,
            dependencies=sorted(n(d) for d in opts["dependencies"]),
            propertyDependencies={k: sorted(n(d) for d in v) for k, v in opts["propertyDependencies"].items()},
        )
        resources.append(e)
    return dict(snapshot, resources=resources)


def _short(urn: str) -> str:
    """A parent URN by its name; the root stack (or none) as "(stack)"."""
    if not urn or "::pulumi:pulumi:Stack::" in urn:
        return "(stack)"
    return urn.rsplit("::", 1)[-1]


def _rank(risk: str) -> int:
    from enclave.snapshot import RANK

    return RANK[risk]


def _flatten(inputs: dict[str, Any]):
    """(path, value, note) for each top-level input of an added or removed resource."""
    for key in sorted(inputs):
        yield key, inputs[key], ""


def _compare(old: dict[str, Any], new: dict[str, Any]):
    from enclave.snapshot import Change, ResourceChange, classify, diff_values

    typ = new["type"]
    changes: list[Change] = []
    for field in ("region", "provider"):
        if old.get(field) != new.get(field):
            changes.append(Change(field, old.get(field), new.get(field), "residency", scope="placement"))
    for path, o, n, note in diff_values("", old["inputs"], new["inputs"]):
        changes.append(Change(path, o, n, classify(typ, path), note=note))
    for path, o, n, note in diff_values("", old["options"], new["options"]):
        changes.append(Change(f"options.{path}", o, n, classify(typ, path.split(".")[0], "option"), "option", note))
    if not changes:
        return None
    top = {c.path.split(".")[0].split("[")[0] for c in changes if c.scope == "input"}
    forcing = sorted(top & (FORCE_NEW.get(typ, frozenset()) | set(new["options"]["replaceOnChanges"])))
    if "*" in new["options"]["replaceOnChanges"] and top:
        forcing = sorted(top)
    if old.get("region") != new.get("region"):
        forcing = sorted({*forcing, "region"})
    kind = "replaced" if forcing else "changed"
    note = f"replaced because {', '.join(forcing)} changed" if forcing else ""
    risk = min((c.risk for c in changes), key=_rank)
    return ResourceChange(kind, new["urn"], typ, new["name"], risk, changes, note)


# --------------------------------------------------------------------------- rendering


def _counts(changes) -> dict[str, int]:
    counts = {k: 0 for k in ("added", "removed", "replaced", "changed")}
    for rc in changes:
        counts[rc.kind] += 1
    return counts


def summary_line(changes) -> str:
    counts = _counts(changes)
    flagged = sum(1 for rc in changes if rc.flagged)
    parts = [f"{n} {k}" for k, n in counts.items()]
    return f"{flagged} flagged (residency or access), " + ", ".join(parts)


def render_text(title: str, changes, notes: list[str] | None = None) -> str:
    from enclave.snapshot import RISK, shorten

    lines = [title, "  " + summary_line(changes)]
    lines += [f"  note: {n}" for n in notes or []]
    if not changes:
        lines.append("  no changes")
    for i, rc in enumerate(changes, 1):
        mark = "!!" if rc.flagged else "  "
        lines.append("")
        lines.append(f"{mark} {i}. [{RISK[rc.risk].title}] {rc.kind.upper()} {rc.name}  ({rc.type})")
        if rc.note:
            lines.append(f"      {rc.note}")
        for c in rc.changes:
            flag = "!" if RISK[c.risk].flagged else " "
            lines.append(
                f"    {flag} {c.path or '(whole value)'}  [{RISK[c.risk].title}]" + (f"  {c.note}" if c.note else "")
            )
            if c.old is not None:
                lines.append(f"        - {shorten(c.old)}")
            if c.new is not None:
                lines.append(f"        + {shorten(c.new)}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def render_markdown(title: str, changes, notes: list[str] | None = None) -> str:
    from enclave.snapshot import RISK, RISK_CLASSES, shorten

    lines = [f"### {title}", "", f"**{summary_line(changes)}**. Riskiest first; ⚠️ marks residency/access changes.", ""]
    lines += [f"> {n}" for n in notes or []] + ([""] if notes else [])
    if not changes:
        return "\n".join(lines + ["No changes.", ""])
    lines += ["| # | risk | change | resource | type |", "| --- | --- | --- | --- | --- |"]
    for i, rc in enumerate(changes, 1):
        mark = "⚠️ " if rc.flagged else ""
        lines.append(f"| {i} | {mark}{RISK[rc.risk].title} | {rc.kind} | `{_md(rc.name)}` | `{rc.type}` |")
    lines.append("")
    for i, rc in enumerate(changes, 1):
        mark = "⚠️ " if rc.flagged else ""
        summary = f"{i}. {mark}{RISK[rc.risk].title}: {rc.kind} <code>{_md(rc.name)}</code>"
        lines += [f"<details{' open' if rc.flagged else ''}><summary>{summary}</summary>", ""]
        if rc.note:
            lines += [rc.note, ""]
        lines.append("```diff")
        for c in rc.changes:
            lines.append(f"@ {c.path or '(whole value)'} [{RISK[c.risk].title}]" + (f" {c.note}" if c.note else ""))
            if c.old is not None:
                lines.append(f"- {shorten(c.old, 400)}")
            if c.new is not None:
                lines.append(f"+ {shorten(c.new, 400)}")
        lines += ["```", "", "</details>", ""]
    legend = [f"{i}. **{c.title}**: {c.why}" for i, c in enumerate(RISK_CLASSES, 1)]
    lines += ["<details><summary>Risk classes, riskiest first</summary>", "", *legend, "", "</details>", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- inputs


def _git(program_dir: Path, *argv: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(program_dir), *argv], capture_output=True, text=True)
    except FileNotFoundError:
        raise UsageError("git is not installed, so revisions cannot be read; pass snapshot files instead") from None


def _side(arg: str, label: str, program_dir: Path, stack: str | None) -> tuple[str, dict[str, dict[str, Any]]]:
    """(display name, stack -> snapshot) for one side of the comparison."""
    from enclave.snapshot import SnapshotError, build_snapshot, load_snapshot, parse_snapshot

    path = Path(arg)
    if arg == WORKTREE:
        from enclave.harness import HarnessError, list_stacks, run_program

        stacks = [stack] if stack else list_stacks(program_dir)
        try:
            return "working tree", {s: build_snapshot(run_program(s, program_dir)) for s in stacks}
        except HarnessError as exc:
            raise UsageError(f"{label} (working tree): {exc}") from None
    if path.is_file():
        try:
            snap = load_snapshot(path)
        except SnapshotError as exc:
            raise UsageError(f"{label}: {exc}") from None
        return str(path), {snap["stack"]: snap}
    if path.suffix == ".json":
        raise UsageError(f"{label} {arg!r}: no such file")

    top = _git(program_dir, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise UsageError(f"{label} {arg!r}: not a file, and {program_dir} is not in a git repository")
    if _git(program_dir, "rev-parse", "--verify", "--quiet", f"{arg}^{{commit}}").returncode != 0:
        raise UsageError(f"{label} {arg!r} is neither a snapshot file nor a git revision (try a branch, tag or SHA)")
    rel = (program_dir / "previews").resolve().relative_to(Path(top.stdout.strip()).resolve()).as_posix()
    listing = _git(program_dir, "ls-tree", "--name-only", f"{arg}:{rel}")
    names = sorted(n for n in listing.stdout.split() if n.endswith(".json")) if listing.returncode == 0 else []
    snaps = {}
    for name in names:
        if stack and name != f"{stack}.json":
            continue
        shown = _git(program_dir, "show", f"{arg}:{rel}/{name}")
        try:
            snap = parse_snapshot(shown.stdout, f"{arg}:{rel}/{name}")
        except SnapshotError as exc:
            raise UsageError(f"{label}: {exc}") from None
        snaps[snap["stack"]] = snap
    return arg, snaps


def run(args: argparse.Namespace) -> int:
    from enclave.harness import PROJECT_DIR

    program_dir = (args.program or PROJECT_DIR).resolve()
    old_name, olds = _side(args.old, "OLD", program_dir, args.stack)
    new_name, news = _side(args.new, "NEW", program_dir, args.stack)
    render = render_markdown if args.format == "markdown" else render_text

    if len(olds) == 1 and len(news) == 1 and set(olds) != set(news) and not args.stack:
        # Two files of different stacks ("how does hamar differ from dublin"): line resources up by
        # URN and name with the stack name neutralised; inputs keep their real values.
        (os_, o), (ns_, n) = next(iter(olds.items())), next(iter(news.items()))
        pairs = [(f"{os_} -> {ns_}", neutralise_stack(o), neutralise_stack(n))]
    else:
        stacks = sorted(set(olds) | set(news))
        if args.stack:
            stacks = [args.stack]
            if args.stack not in olds and args.stack not in news:
                raise UsageError(f"--stack {args.stack}: neither {old_name} nor {new_name} has a snapshot of it")
        if not stacks:
            raise UsageError(f"no snapshots found in {old_name} or {new_name} (run: python -m enclave plan --all)")
        pairs = [(s, olds.get(s), news.get(s)) for s in stacks]

    out = []
    for stack, o, n in pairs:
        notes = []
        if o is None:
            notes.append(f"stack {stack} does not exist in {old_name}: everything is new")
        if n is None:
            notes.append(f"stack {stack} does not exist in {new_name}: everything goes")
        title = f"enclave diff: stack {stack} ({old_name} -> {new_name})"
        out.append(render(title, diff_snapshots(o, n), notes))
    print("\n".join(out), end="")
    return EXIT_OK
