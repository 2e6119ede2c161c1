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

# What the AWS provider replaces rather than updates, per type: (force-new, updatable) inputs, as
# Pulumi names them. From hashicorp/terraform-provider-aws (which pulumi-aws bridges), each
# resource's schema under internal/service/: `ForceNew: true` is force-new, every other argument is
# updatable. Read at (file @ commit):
#   s3/bucket.go @0070bcd1 (bucket, bucket_prefix; the argument list read is partial, so only
#   what it showed is listed), s3/bucket_policy.go @0073593e, s3/bucket_versioning.go @01c08000,
#   kms/key.go @00a35305, secretsmanager/secret.go @00c21ced, iam/role.go @0040ea69,
#   iam/role_policy.go @02f97af8,
#   ec2/vpc_.go @00081ce4, ec2/vpc_subnet.go @00cda125, ec2/vpc_security_group.go @01606926,
#   ec2/vpc_endpoint.go @008db85a, logs/group.go @0073593e, cloudtrail/trail.go @0a9af16a.
# `region` (pulumi-aws v7's per-resource region) moves the resource, so it is force-new for every
# regional type. Tags are updatable everywhere (tagging APIs). A property in neither set, or a
# type not in the table, is reported as "may replace": only the provider's diff can say.
FORCE_NEW: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    t: (frozenset(f.split()), frozenset(u.split()))
    for t, f, u in (
        ("aws:s3/bucket:Bucket", "bucket bucketPrefix region", "acl grants forceDestroy versioning lifecycleRules"),
        ("aws:s3/bucketPolicy:BucketPolicy", "bucket region", "policy"),
        (
            "aws:s3/bucketVersioning:BucketVersioning",
            "bucket expectedBucketOwner region",
            "mfa versioningConfiguration",
        ),
        (
            "aws:kms/key:Key",
            "customKeyStoreId customerMasterKeySpec keyUsage multiRegion xksKeyId region",
            "bypassPolicyLockoutSafetyCheck deletionWindowInDays description enableKeyRotation isEnabled policy "
            "rotationPeriodInDays",
        ),
        (
            "aws:secretsmanager/secret:Secret",
            "name namePrefix region",
            "description forceOverwriteReplicaSecret kmsKeyId policy recoveryWindowInDays replicas",
        ),
        (
            "aws:iam/role:Role",
            "name namePrefix path",
            "assumeRolePolicy description forceDetachPolicies inlinePolicies managedPolicyArns maxSessionDuration "
            "permissionsBoundary",
        ),
        # A role's inline policy: a grant adds statements to the staff-access role's, updated in place.
        ("aws:iam/rolePolicy:RolePolicy", "name namePrefix role", "policy"),
        (
            "aws:ec2/vpc:Vpc",
            "cidrBlock ipv4IpamPoolId ipv4NetmaskLength region",
            "assignGeneratedIpv6CidrBlock enableDnsHostnames enableDnsSupport enableNetworkAddressUsageMetrics "
            "instanceTenancy ipv6CidrBlock ipv6CidrBlockNetworkBorderGroup ipv6IpamPoolId ipv6NetmaskLength",
        ),
        (
            # ipv6CidrBlock is force-new only in some cases (CustomizeDiff): in neither set.
            "aws:ec2/subnet:Subnet",
            "availabilityZone availabilityZoneId cidrBlock ipv4IpamPoolId ipv4NetmaskLength ipv6IpamPoolId "
            "ipv6Native ipv6NetmaskLength outpostArn vpcId region",
            "assignIpv6AddressOnCreation customerOwnedIpv4Pool enableDns64 enableLniAtDeviceIndex "
            "enableResourceNameDnsAaaaRecordOnLaunch enableResourceNameDnsARecordOnLaunch mapCustomerOwnedIpOnLaunch "
            "mapPublicIpOnLaunch privateDnsHostnameTypeOnLaunch",
        ),
        (
            "aws:ec2/securityGroup:SecurityGroup",
            "description name namePrefix vpcId region",
            "egress ingress revokeRulesOnDelete",
        ),
        (
            # dnsOptions (some nested fields force new) and privateDnsEnabled (force-new unless the
            # endpoint is an interface endpoint, by CustomizeDiff) are in neither set.
            "aws:ec2/vpcEndpoint:VpcEndpoint",
            "resourceConfigurationArn serviceName serviceNetworkArn serviceRegion vpcEndpointType vpcId region",
            "autoAccept ipAddressType policy routeTableIds securityGroupIds subnetConfigurations subnetIds",
        ),
        (
            "aws:cloudwatch/logGroup:LogGroup",
            "logGroupClass name namePrefix region",
            "kmsKeyId retentionInDays skipDestroy",
        ),
        (
            "aws:cloudtrail/trail:Trail",
            "name region",
            "advancedEventSelectors cloudWatchLogsGroupArn cloudWatchLogsRoleArn enableLogFileValidation enableLogging "
            "eventSelectors includeGlobalServiceEvents insightSelectors isMultiRegionTrail isOrganizationTrail kmsKeyId "
            "s3BucketName s3KeyPrefix snsTopicName",
        ),
    )
}
ALWAYS_UPDATABLE = frozenset({"tags", "tagsAll"})


def replacement(
    type_: str, props: set[str], replace_on_changes: list[str] | None = None, custom: bool = True
) -> tuple[str, list[str]]:
    """``("replaced" | "may-replace" | "changed", the properties that decide it)`` for changed top-level inputs.

    Components (``custom=False``) and providers are never replaced by a provider's diff.
    """
    props = set(props) - ALWAYS_UPDATABLE
    roc = set(replace_on_changes or [])
    forcing = sorted(props if "*" in roc else props & roc)
    if type_ in FORCE_NEW:
        force_new, updatable = FORCE_NEW[type_]
        forcing = sorted({*forcing, *(props & force_new)})
        if forcing:
            return "replaced", forcing
        unknown = sorted(props - updatable)
        return ("may-replace", unknown) if unknown else ("changed", [])
    if forcing:
        return "replaced", forcing
    if props and custom and not type_.startswith("pulumi:"):
        return "may-replace", sorted(props)
    return "changed", []


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


FORMATS = ("text", "markdown", "json", "github")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD", help="snapshot file, git revision, or . (the working tree)")
    parser.add_argument("new", metavar="NEW", help="snapshot file, git revision, or . (the working tree)")
    from enclave.cli import add_report_arguments

    add_report_arguments(parser, FORMATS, "markdown; json; github: a PR comment with a marker and a size cap")
    parser.add_argument("--stack", metavar="NAME", help="only this stack (default: every stack on either side)")
    parser.add_argument("--program", type=Path, metavar="DIR", help="the Pulumi program (default: the project here)")
    parser.add_argument(
        "--fail-on",
        choices=("new", "any"),
        default="new",
        help="exit 1 on mandatory violations NEW brings (default) or on any NEW has",
    )


# --------------------------------------------------------------------------- comparing


def _config_class(key: str) -> str:
    return CONFIG_CLASSES.get(key.split(":", 1)[-1], "residency" if key == "aws:region" else "other")


def _pair_renames(removed: list[dict], added: list[dict]) -> list[tuple[dict, dict, str]]:
    """Removed/added entries that are one resource moved or renamed (a new URN: the engine replaces it)."""
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
    return pairs


def diff_snapshots(old: dict[str, Any] | None, new: dict[str, Any] | None, at=None):
    """The risk-ordered ``ResourceChange`` list between two snapshots (None: the stack does not exist).

    Each grant the change opens, widens or closes is an entry of its own (``enclave.grant_changes``),
    judged at the clock ``at`` (default: ``components.clock.now()``).
    """
    from enclave import grant_changes
    from enclave.snapshot import Change, ResourceChange, classify, diff_values, order, resource_class

    old = old or {"config": {}, "resources": []}
    new = new or {"config": {}, "resources": []}
    result: list[ResourceChange] = []
    before: dict[int, dict] = {}  # id(ResourceChange) -> the OLD entry it changes or removes
    old_grants, new_grants = (
        grant_changes.side(s["config"], ((e["name"], e["type"], e["inputs"]) for e in s["resources"]))
        for s in (old, new)
    )
    unreadable = old_grants.unreadable | new_grants.unreadable

    def config_class(key: str) -> str:
        # A grant entry's changes are its own entries below, unless the value could not be read as grants.
        return "grant" if key in unreadable else _config_class(key)

    cfg_changes = [
        Change(path, o, n, config_class(key), scope="config", note=note)
        for key in sorted(set(old["config"]) | set(new["config"]))
        if not grant_changes.is_grant_key(key) or key in unreadable
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
    pairs = _pair_renames(removed, added)

    def whole(entry: dict[str, Any], kind: str) -> ResourceChange:
        from enclave.snapshot import resource_direction

        risk = resource_class(entry["type"], entry["inputs"])
        note = ""
        if kind == "added" and entry.get("region") and old_regions and entry["region"] not in old_regions:
            risk, note = "residency", f"new region {entry['region']}"
        changes = [
            Change(path, *((None, v) if kind == "added" else (v, None)), classify(entry["type"], path), note=n)
            for path, v, n in _flatten(entry["inputs"])
        ]
        rc = ResourceChange(kind, entry["urn"], entry["type"], entry["name"], risk, changes, note)
        rc.direction = resource_direction(entry["type"], entry["inputs"], kind)
        return rc

    for e in removed:
        rc = whole(e, "removed")
        before[id(rc)] = e
        result.append(rc)
    result += [whole(e, "added") for e in added]

    for urn in sorted(set(old_by) & set(new_by)):
        rc = _compare(old_by[urn], new_by[urn], {o["urn"]: n["urn"] for o, n, _ in pairs})
        if rc is not None:
            before[id(rc)] = old_by[urn]
            result.append(rc)
    renamed = {o["urn"]: n["urn"] for o, n, _ in pairs}
    for o, n, note in pairs:
        rc = _compare(o, n, renamed) or ResourceChange("replaced", n["urn"], n["type"], n["name"], "other")
        rc.kind, rc.note = "replaced", "; ".join(x for x in (note, rc.note) if x)
        rc.risk = min([resource_class(n["type"], n["inputs"]), rc.risk], key=_rank)
        before[id(rc)] = o
        result.append(rc)
    _propagate_replacements(result, new_by, renamed)
    for rc in result:
        _flag_data_loss(rc, before.get(id(rc)))
    grants = grant_changes.entries(old_grants, new_grants, new.get("project") or old.get("project") or "", at)
    grant_changes.annotate(result, grants)
    return order(result + grants)


def _propagate_replacements(result: list, new_by: dict[str, dict], renamed: dict[str, str]) -> None:
    """Dependents of a replaced resource change too: their inputs hold its (new) id or ARN.

    A resource whose input depends (``options.propertyDependencies``) on a replaced one gets that
    input marked "known after apply"; whether it is then replaced depends on whether the input forces
    replacement (``FORCE_NEW``), else it "may replace". Repeated until nothing new is replaced.
    """
    from enclave.snapshot import UNKNOWN, Change, ResourceChange, classify

    by_urn = {rc.urn: rc for rc in result}
    replaced = {rc.urn for rc in result if rc.kind == "replaced"} | set(renamed) | set(renamed.values())
    names = {urn: e["name"] for urn, e in new_by.items()}
    names.update({old: names.get(new, old.rsplit("::", 1)[-1]) for old, new in renamed.items()})
    done: set[tuple[str, str]] = set()
    changed = True
    while changed:
        changed = False
        for urn in sorted(new_by):
            entry = new_by[urn]
            if not entry["custom"]:
                continue
            for prop, deps in sorted(entry["options"].get("propertyDependencies", {}).items()):
                sources = sorted(d for d in deps if d in replaced and d != urn)
                if not sources or (urn, prop) in done:
                    continue
                done.add((urn, prop))
                source = names.get(sources[0], sources[0].rsplit("::", 1)[-1])
                kind, _ = replacement(entry["type"], {prop}, entry["options"].get("replaceOnChanges"))
                if kind == "changed" and prop in ALWAYS_UPDATABLE:
                    continue
                note = (
                    f"input from replaced {source} will change; "
                    + {
                        "replaced": "forces replacement",
                        "may-replace": "may replace if that input forces replacement",
                        "changed": "updated in place",
                    }[kind]
                )
                change = Change(prop, entry["inputs"].get(prop), UNKNOWN, classify(entry["type"], prop), note=note)
                rc = by_urn.get(urn)
                if rc is None:
                    rc = ResourceChange(kind, urn, entry["type"], entry["name"], change.risk, [], "")
                    result.append(rc)
                    by_urn[urn] = rc
                elif KIND_STRENGTH[kind] > KIND_STRENGTH.get(rc.kind, 0):
                    rc.kind = kind
                rc.changes.append(change)
                rc.risk = min([rc.risk, change.risk], key=_rank)
                rc.note = "; ".join(x for x in (rc.note, f"{prop}: {note}") if x)
                if rc.kind == "replaced" and urn not in replaced:
                    replaced.add(urn)
                    changed = True


KIND_STRENGTH = {"changed": 1, "may-replace": 2, "replaced": 3}


def _flag_data_loss(rc, old_entry: dict | None) -> None:
    """Deleting or replacing a protected or data-bearing resource: the top risk, always flagged."""
    from enclave.snapshot import data_bearing

    if rc.kind not in ("removed", "replaced", "may-replace") or old_entry is None:
        return
    protected = bool(old_entry.get("options", {}).get("protect"))
    holds_data = data_bearing(old_entry["type"])
    if not (protected or holds_data) or (rc.kind == "may-replace" and not holds_data):
        return
    what = "deletes" if rc.kind == "removed" else "replaces" if rc.kind == "replaced" else "may replace"
    why = []
    if holds_data:
        why.append(f"{what} a data-bearing {old_entry['type'].split(':')[-1]}: what it holds is lost")
    if protected:
        why.append(
            "it is protected: the engine refuses until someone unprotects it; "
            "to rename or move it keep the old URN with an alias (ResourceOptions(aliases=[...]))"
        )
    rc.risk = "data-loss"
    rc.note = "; ".join(x for x in (f"DATA LOSS: {'; '.join(why)}", rc.note) if x)


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


def _follow_renames(options: dict[str, Any], renamed: dict[str, str]) -> dict[str, Any]:
    """OLD's options with the URNs of renamed resources replaced by their new URNs (no noise from a rename)."""
    if not renamed:
        return options
    return dict(
        options,
        dependencies=sorted(renamed.get(u, u) for u in options.get("dependencies", [])),
        propertyDependencies={
            k: sorted(renamed.get(u, u) for u in v) for k, v in options.get("propertyDependencies", {}).items()
        },
    )


def _compare(old: dict[str, Any], new: dict[str, Any], renamed: dict[str, str] | None = None):
    from enclave.snapshot import Change, ResourceChange, classify, diff_values

    old = dict(old, options=_follow_renames(old["options"], renamed or {}))
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
    if old.get("region") != new.get("region"):
        top.add("region")
    kind, why = replacement(typ, top, new["options"]["replaceOnChanges"], new["custom"])
    if kind == "replaced":
        note = f"replaced because {', '.join(why)} changed"
    elif kind == "may-replace":
        note = (
            f"may replace: whether the AWS provider replaces {typ} on a change of {', '.join(why)} is not in "
            "enclave/diff.py's FORCE_NEW table; the real preview decides"
        )
    else:
        note = ""
    risk = min((c.risk for c in changes), key=_rank)
    return ResourceChange(kind, new["urn"], typ, new["name"], risk, changes, note)


# --------------------------------------------------------------------------- rendering


def _counts(changes) -> dict[str, int]:
    """Resources by kind of change (grant entries are not resources: see ``grant_count``)."""
    counts = {k: 0 for k in ("added", "removed", "replaced", "may-replace", "changed")}
    for rc in changes:
        if rc.grant is None:
            counts[rc.kind] = counts.get(rc.kind, 0) + 1
    return counts


def grant_count(changes) -> int:
    """Grants the change opens or widens (flagged grant entries)."""
    return sum(1 for rc in changes if rc.grant is not None and rc.flagged)


def summary_line(changes) -> str:
    from enclave.snapshot import KIND_LABEL

    counts = _counts(changes)
    flagged = sum(1 for rc in changes if rc.flagged)
    data_loss = sum(1 for rc in changes if rc.risk == "data-loss")
    grants = grant_count(changes)
    parts = [f"{n} {KIND_LABEL.get(k, k)}" for k, n in counts.items() if n or k != "may-replace"]
    lead = f"{flagged} flagged (residency or access)" + (f", {data_loss} DATA LOSS" if data_loss else "")
    lead += f", {grants} GRANT{'S' if grants != 1 else ''} OPENED OR WIDENED" if grants else ""
    return lead + ", " + ", ".join(parts)


def _label(rc) -> str:
    from enclave.snapshot import KIND_LABEL

    return KIND_LABEL.get(rc.kind, rc.kind)


def _direction(rc) -> str:
    return "  weakens" if rc.weakens else "  hardens" if rc.hardening_only and rc.risk != "other" else ""


def render_text(title: str, changes, notes: list[str] | None = None) -> str:
    from enclave.snapshot import RISK, shorten

    lines = [title, "  " + summary_line(changes)]
    lines += [f"  note: {n}" for n in notes or []]
    if not changes:
        lines.append("  no changes")
    for i, rc in enumerate(changes, 1):
        mark = "!!" if rc.flagged else "  "
        lines.append("")
        lines.append(f"{mark} {i}. [{RISK[rc.risk].title}] {_label(rc).upper()} {rc.name}  ({rc.type}){_direction(rc)}")
        if rc.note:
            lines.append(f"      {rc.note}")
        if rc.grant is not None:
            lines += [f"      {label + ':':<13} {value}" for label, value in rc.grant.rows()]
        for c in rc.changes:
            flag = "!" if RISK[c.risk].flagged and c.direction != "hardens" else " "
            extra = "; ".join(x for x in (c.note, c.direction) if x)
            lines.append(
                f"    {flag} {c.path or '(whole value)'}  [{RISK[c.risk].title}]" + (f"  {extra}" if extra else "")
            )
            if c.old is not None:
                lines.append(f"        - {shorten(c.old)}")
            if c.new is not None:
                lines.append(f"        + {shorten(c.new)}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def grants_markdown(changes, title: str = "") -> list[str]:
    """The grants a change opens, widens or closes, as a table (empty when there are none).

    Part of a report's head, so the GitHub comment's size cap never drops it.
    """
    grants = [rc for rc in changes if rc.grant is not None]
    if not grants:
        return []
    lines = [
        f"#### Grants{f' ({_md(title)})' if title else ''}: the pack admits every declared grant, so this review is "
        "their control",
        "",
        "| change | grant | who | approver | window | at the clock |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for rc in grants:
        entry, g = rc.grant, rc.grant.grant
        who = g.get("who") or "?"
        if g.kind == "transfer":
            who += f" reads {g.get('prefix') or '?'}" + (f" ({g.get('legalBasis')})" if g.get("legalBasis") else "")
        window = next((c.note for c in rc.changes if c.path == "window"), "")
        change = ("⚠️ " if rc.flagged else "") + entry.change + (f": {window}" if window else "")
        lines.append(
            f"| {_md(change)} | {g.kind} `{_md(g.ticket)}` | {_md(who)} | "
            f"{_md(g.get('approver') or '?')} | {_md(g.window_text())} | "
            f"{_md(entry.clock_text())}: {_md(g.status(entry.at)[1])} |"
        )
    return [*lines, ""]


def markdown_parts(
    title: str, changes, notes: list[str] | None = None, grants: bool = True
) -> tuple[list[str], list[str], list[str]]:
    """(head: title, summary, grants and table; one detail block per change; the legend) of the Markdown report.

    ``grants=False`` leaves the grants table out of the head (the caller puts it in its own).
    """
    from enclave.snapshot import RISK, RISK_CLASSES, shorten

    head = [f"### {title}", "", f"**{summary_line(changes)}**. Riskiest first; ⚠️ marks residency/access changes.", ""]
    head += [f"> {n}" for n in notes or []] + ([""] if notes else [])
    if grants:
        head += grants_markdown(changes)
    if not changes:
        return head + ["No changes.", ""], [], []
    head += ["| # | risk | change | resource | type |", "| --- | --- | --- | --- | --- |"]
    for i, rc in enumerate(changes, 1):
        mark = "🛑 " if rc.risk == "data-loss" else "⚠️ " if rc.flagged else ""
        head.append(
            f"| {i} | {mark}{RISK[rc.risk].title}{_direction(rc)} | {_label(rc)} | `{_md(rc.name)}` | `{rc.type}` |"
        )
    head.append("")
    details = []
    for i, rc in enumerate(changes, 1):
        mark = "🛑 " if rc.risk == "data-loss" else "⚠️ " if rc.flagged else ""
        summary = f"{i}. {mark}{RISK[rc.risk].title}: {_label(rc)} <code>{_md(rc.name)}</code>"
        block = [f"<details{' open' if rc.flagged else ''}><summary>{summary}</summary>", ""]
        if rc.note:
            block += [_md(rc.note), ""]
        if rc.grant is not None:
            block += [f"- **{label}**: {_md(value)}" for label, value in rc.grant.rows()] + [""]
        if rc.changes:
            block.append("```diff")
        elif rc.grant is None:
            block += ["(no property changes)", ""]
        for c in rc.changes:
            extra = "; ".join(x for x in (c.note, c.direction) if x)
            block.append(f"@ {c.path or '(whole value)'} [{RISK[c.risk].title}]" + (f" {extra}" if extra else ""))
            if c.old is not None:
                block.append(f"- {shorten(c.old, 400)}")
            if c.new is not None:
                block.append(f"+ {shorten(c.new, 400)}")
        block += (["```", ""] if rc.changes else []) + ["</details>", ""]
        details.append("\n".join(block))
    legend = [f"{i}. **{c.title}**: {c.why}" for i, c in enumerate(RISK_CLASSES, 1)]
    tail = ["<details><summary>Risk classes, riskiest first</summary>", "", *legend, "", "</details>", ""]
    return head, details, tail


def render_markdown(title: str, changes, notes: list[str] | None = None) -> str:
    head, details, tail = markdown_parts(title, changes, notes)
    return "\n".join(head) + ("\n" + "\n".join(details) if details else "") + ("\n" + "\n".join(tail) if tail else "")


def change_json(rc) -> dict[str, Any]:
    """One ``ResourceChange`` as JSON (the ``--format json`` of diff and review)."""
    from enclave.snapshot import RISK

    return {
        "kind": rc.kind,
        "urn": rc.urn,
        "type": rc.type,
        "name": rc.name,
        "risk": rc.risk,
        "riskTitle": RISK[rc.risk].title,
        "flagged": rc.flagged,
        "direction": "weakens" if rc.weakens else "hardens" if rc.hardening_only else "",
        "note": rc.note,
        "grant": rc.grant.as_json() if rc.grant is not None else None,
        "changes": [
            {
                "path": c.path,
                "old": c.old,
                "new": c.new,
                "risk": c.risk,
                "scope": c.scope,
                "note": c.note,
                "direction": c.direction,
            }
            for c in rc.changes
        ],
    }


# --------------------------------------------------------------------------- inputs


def _git(program_dir: Path, *argv: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(program_dir), *argv], capture_output=True, text=True)
    except FileNotFoundError:
        raise UsageError("git is not installed, so revisions cannot be read; pass snapshot files instead") from None


def _side(arg: str, label: str, program_dir: Path, stack: str | None):
    """(display name, stack -> snapshot, stack -> ProgramRun for the working tree) for one side."""
    from enclave.files import read_text
    from enclave.snapshot import SnapshotError, build_snapshot, parse_snapshot

    path = Path(arg)
    if arg == WORKTREE:
        from enclave.harness import HarnessError, list_stacks, run_program

        stacks = [stack] if stack else list_stacks(program_dir)
        try:
            runs = {s: run_program(s, program_dir) for s in stacks}
        except HarnessError as exc:
            raise UsageError(f"{label} (working tree): {exc}") from None
        return "working tree", {s: build_snapshot(r) for s, r in runs.items()}, runs
    if path.is_file():
        try:
            snap = parse_snapshot(read_text(path, label), str(path))
        except SnapshotError as exc:
            raise UsageError(f"{label}: {exc}") from None
        return str(path), {snap["stack"]: snap}, {}
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
    return arg, snaps, {}


# The risk class of each policy's subject, for changes the verdict blames.
POLICY_CLASSES = {
    "no-cross-region-replication": "replication",
    "region-pinned": "residency",
    "operator-held-encryption": "encryption",
    "no-egress": "network",
    "no-public-data": "access",
    "identity-perimeter": "access",
    "reviewed-types": "residency",
    "data-protected": "protection",
    "audit-on": "audit",
    "residency-tags": "residency",
}


def blame(changes, violations) -> None:
    """A change whose resource has a mandatory violation in NEW is flagged at least at that policy's class."""
    by_urn: dict[str, list[str]] = {}
    for v in violations:
        if v.enforcement == "mandatory" and v.urn:
            by_urn.setdefault(v.urn, []).append(v.policy)
    for rc in changes:
        policies = sorted(set(by_urn.get(rc.urn, [])))
        if not policies:
            continue
        rc.risk = min([rc.risk, *(POLICY_CLASSES.get(p, "residency") for p in policies)], key=_rank)
        rc.direction = "weakens"
        rc.note = "; ".join(x for x in (f"violates {', '.join(policies)} (see the verdict)", rc.note) if x)


def stack_verdict(program_dir: Path, stack: str, new_snap, new_run, old_snap, policy_config_file: Path | None):
    """The pack's verdict on NEW, with OLD's violations (same policy config) as the baseline.

    Both sides are evaluated the same way, from their snapshots (as a first preview would see them:
    secret values and outputs unknown), so a violation OLD already had compares equal. When NEW is
    the working tree, its violations take their source positions from the real run.
    """
    import dataclasses

    from enclave.check import evaluate, resolve_policy_config
    from enclave.snapshot import run_from_snapshot
    from enclave.verdict import Verdict, exceptions_of, key

    if new_snap is None:
        return Verdict(stack, [], notes=["the stack is gone in NEW: nothing to evaluate"], baseline=set())
    run = run_from_snapshot(new_snap)
    config = resolve_policy_config(program_dir, new_snap["stack"], new_run or run, policy_config_file)
    violations = evaluate(run, config)
    if new_run is not None:
        where = {r.urn: (getattr(r, "source_file", ""), getattr(r, "source_line", 0)) for r in new_run.resources}
        violations = [
            dataclasses.replace(v, file=where[v.urn][0], line=where[v.urn][1]) if not v.file and v.urn in where else v
            for v in violations
        ]
    baseline = {key(v) for v in evaluate(run_from_snapshot(old_snap), config)} if old_snap is not None else set()
    return Verdict(stack, violations, exceptions_of(config), baseline=baseline)


def run(args: argparse.Namespace) -> int:
    import json

    from enclave import comment, grant_changes, verdict
    from enclave.cli import EXIT_FAIL, resolve_program
    from enclave.files import emit

    at = grant_changes.clock()  # before anything runs: a malformed ENCLAVE_NOW is exit 2
    program_dir = resolve_program(args.program)
    old_name, olds, _ = _side(args.old, "OLD", program_dir, args.stack)
    new_name, news, new_runs = _side(args.new, "NEW", program_dir, args.stack)

    if len(olds) == 1 and len(news) == 1 and set(olds) != set(news) and not args.stack:
        # Two files of different stacks ("how does hamar differ from dublin"): line resources up by
        # URN and name with the stack name neutralised; inputs keep their real values.
        (os_, o), (ns_, n) = next(iter(olds.items())), next(iter(news.items()))
        pairs = [(f"{os_} -> {ns_}", ns_, neutralise_stack(o), neutralise_stack(n), o, n)]
    else:
        stacks = sorted(set(olds) | set(news))
        if args.stack:
            stacks = [args.stack]
            if args.stack not in olds and args.stack not in news:
                raise UsageError(f"--stack {args.stack}: neither {old_name} nor {new_name} has a snapshot of it")
        if not stacks:
            raise UsageError(f"no snapshots found in {old_name} or {new_name} (run: python -m enclave plan --all)")
        pairs = [(s, s, olds.get(s), news.get(s), olds.get(s), news.get(s)) for s in stacks]

    # Everything is computed before anything is printed or written.
    reports = []
    for label, stack, o, n, raw_old, raw_new in pairs:
        notes = []
        if o is None:
            notes.append(f"stack {stack} does not exist in {old_name}: everything is new")
        if n is None:
            notes.append(f"stack {stack} does not exist in {new_name}: everything goes")
        v = stack_verdict(program_dir, stack, raw_new, new_runs.get(stack), raw_old, args.policy_config)
        if label != stack:
            v.baseline = None  # two different sites: OLD's violations are another stack's
        title = f"enclave diff: stack {label} ({old_name} -> {new_name})"
        changes = diff_snapshots(o, n, at)
        if label == stack:
            from enclave.snapshot import order

            blame(changes, v.violations)
            changes = order(changes)
        reports.append((title, label, v, changes, notes))
    failed = any(v.fails(args.fail_on) for _t, _l, v, _c, _n in reports)

    if args.format == "json":
        doc = {
            "old": old_name,
            "new": new_name,
            "failed": failed,
            "stacks": [
                {
                    "stack": label,
                    "verdict": verdict.to_json(v),
                    "summary": {**_counts(changes), "grantsOpenedOrWidened": grant_count(changes)},
                    "notes": notes,
                    "changes": [change_json(rc) for rc in changes],
                }
                for _t, label, v, changes, notes in reports
            ],
        }
        body = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    elif args.format in ("markdown", "github"):
        head: list[str] = [f"## enclave diff: {'❌ FAIL' if failed else '✅ PASS'} ({old_name} -> {new_name})", ""]
        for _t, _l, v, _c, _n in reports:
            head += verdict.render_markdown(v)
        for _t, label, _v, changes, _n in reports:
            head += grants_markdown(changes, f"stack {label}")  # in the head: the comment's cap keeps it
        details: list[str] = []
        tail: list[str] = []
        for title, _l, _v, changes, notes in reports:
            h, d, t = markdown_parts(title, changes, notes, grants=False)
            details += ["\n".join(h), *d]
            tail = t
        if args.format == "github":
            body = comment.fit("diff", head, details, tail)
        else:
            body = "\n".join(head + details + tail) + "\n"
    else:
        lines = [f"enclave diff: {'FAIL' if failed else 'PASS'} ({old_name} -> {new_name})"]
        for _t, _l, v, _c, _n in reports:
            lines += verdict.render_text(v)
        body = "\n".join(lines) + "\n\n" + "\n".join(render_text(t, c, n) for t, _l, _v, c, n in reports)
    emit(body, args.output, f"{'FAIL' if failed else 'PASS'}, {args.format} report")
    return EXIT_FAIL if failed and not args.soft_fail else EXIT_OK
