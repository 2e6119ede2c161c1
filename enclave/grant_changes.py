"""Grants in a change: each staff or transfer grant a change opens, widens, narrows or closes, as its own entry.

A grant (docs/grants.md) is a stack-config entry (``staffAccessGrants``,
``transferGrants``) that the program turns into policy statements: ``Grant<ticket>``
in the staff-access role's trust (and ``Grant<ticket>UserDataObjects``/``ListUserData``
in its policy), ``Transfer<ticket>Reads``/``Lists`` in the export bucket policy and
``Transfer<ticket>Decrypts`` in the export key policy. The residency pack admits every
declared grant (declaring it is what admits it), so a new grant passes the verdict: the
reviewer is its only control. ``enclave diff`` and ``enclave review`` therefore show
each grant change as one entry of the ``grant`` risk class, ranked right after data
loss, with who, ticket, approver, legal basis, prefix, the window and whether it is in
force at the clock (``components.clock``; ``ENCLAVE_NOW`` fixes it).

Grants are read from both places: the documents (``components.grants``' readers),
which say what AWS will enforce, and the stack config, which says who approved it and
why, and explains a grant the program did not render (it drops an expired grant).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from components.clock import format_utc, parse_utc
from components.grants import LEGAL_BASES, staff_grants_in_trust_policy, transfer_grants_in_policy

STAFF, TRANSFER = "staff", "transfer"
CONFIG_KEYS = {STAFF: "staffAccessGrants", TRANSFER: "transferGrants"}
"""The stack config key of each kind of grant (after ``<project>:``)."""
_SID_START = {STAFF: "Grant", TRANSFER: "Transfer"}
_SID_ENDS = {STAFF: ("", "UserDataObjects", "ListUserData"), TRANSFER: ("Reads", "Lists", "Decrypts")}
_WHO = {STAFF: ("principal", "principal"), TRANSFER: ("recipientAccountId", "recipient")}
_ROOT = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):root$")
_SID_OF = re.compile(r"Statement\[Sid=([^\]]+)\]")
_FIELDS = ("ticket", "who", "approver", "legalBasis", "prefix", "reason", "notBefore", "notAfter")
_DOCUMENTS = {
    # The inputs that carry each kind's statements, by resource type: an unknown one hides its grants.
    ("aws:iam/role:Role", "assumeRolePolicy"): STAFF,
    ("aws:iam/rolePolicy:RolePolicy", "policy"): STAFF,
    ("aws:s3/bucketPolicy:BucketPolicy", "policy"): TRANSFER,
    ("aws:kms/key:Key", "policy"): TRANSFER,
}


def _key(kind: str, ticket: str) -> str:
    # The Sid every statement of the grant starts with: as components.grants names them.
    return _SID_START[kind] + re.sub(r"[^A-Za-z0-9]", "", ticket)


def span(seconds: float) -> str:
    """A duration for reading: ``8 h``, ``30 days``, ``2 days 6 h``, ``45 min``."""
    days, rest = divmod(int(abs(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    parts = [f"{days} day{'s' if days != 1 else ''}" if days else "", f"{hours} h" if hours else ""]
    if not days:
        parts.append(f"{rest // 60} min" if rest >= 60 else "")
    return " ".join(p for p in parts if p) or "0 min"


# --------------------------------------------------------------------------- one side of a change


@dataclass
class Grant:
    """One grant as one side of a change has it: its config entry, and what the documents carry."""

    kind: str
    key: str
    """The Sid its statements start with (``GrantPRIV1234``, ``TransferXFER77``)."""
    entry: dict[str, str] | None = None
    """Its stack-config entry, fields named as in ``_FIELDS`` (None: not declared, or the config is unknown)."""
    observed: dict[str, str] = field(default_factory=dict)
    """What the documents say: who, prefix, ticket (staff), the window."""
    statements: dict[str, list[str]] = field(default_factory=dict)
    """Resource name -> the Sids of this grant's statements in its documents."""

    def get(self, name: str) -> str:
        """A field: the documents' value (what AWS enforces) before the config's."""
        for source in (self.observed, self.entry or {}):
            value = source.get(name)
            if isinstance(value, str) and value:
                return value
        return ""

    @property
    def ticket(self) -> str:
        return self.get("ticket") or self.key[len(_SID_START[self.kind]) :]

    @property
    def rendered(self) -> bool:
        return bool(self.observed)

    def window(self) -> tuple[datetime, datetime] | None:
        try:
            return parse_utc(self.get("notBefore")), parse_utc(self.get("notAfter"))
        except ValueError:
            return None

    def window_text(self) -> str:
        nb, na = self.get("notBefore") or "?", self.get("notAfter") or "?"
        window = self.window()
        return f"{nb} -> {na}" + (f" ({span((window[1] - window[0]).total_seconds())})" if window else "")

    def status(self, at: datetime) -> tuple[str, str]:
        """(``in-force`` | ``future`` | ``expired`` | ``unknown``, a sentence) at the clock ``at``."""
        window = self.window()
        if window is None:
            return "unknown", "window unreadable: treated as in force"
        nb, na = window
        if at > na:
            return "expired", f"expired {span((at - na).total_seconds())} before the clock: AWS refuses its statements"
        if at < nb:
            return "future", f"not yet in force: opens by itself in {span((nb - at).total_seconds())}"
        return "in-force", f"in force: {span((na - at).total_seconds())} left"

    def as_json(self, at: datetime) -> dict[str, Any]:
        window = self.window()
        return {
            "kind": self.kind,
            "ticket": self.ticket,
            _WHO[self.kind][0]: self.get("who"),
            "approver": self.get("approver"),
            **({"legalBasis": self.get("legalBasis"), "prefix": self.get("prefix")} if self.kind == TRANSFER else {}),
            "reason": self.get("reason"),
            "notBefore": self.get("notBefore"),
            "notAfter": self.get("notAfter"),
            "windowSeconds": int((window[1] - window[0]).total_seconds()) if window else None,
            "status": self.status(at)[0],
            "declared": self.entry is not None,
            "statements": self.statements,
        }


@dataclass
class Side:
    """The grants one side of a change has, by key."""

    grants: dict[str, Grant]
    config_known: bool
    """Whether this side's stack config was seen (a preview's OLD side has none)."""
    unreadable: set[str] = field(default_factory=set)
    """Grant config keys whose value is not a list of mappings: left to the raw config diff."""
    unknown: set[str] = field(default_factory=set)
    """Kinds of grant whose documents are known only after apply on this side (a real preview's)."""


def _entries(value: Any) -> list[Any] | None:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) else None


def _declared(kind: str, entry: Any) -> dict[str, str] | None:
    """A config entry with the fields named as ``_FIELDS`` (None when it has no ticket: not a grant)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("ticket"), str) or not entry["ticket"]:
        return None
    fields = {name: entry.get(name) for name in _FIELDS}
    fields["who"] = entry.get(_WHO[kind][0])
    return {k: v for k, v in fields.items() if isinstance(v, str)}


def side(config: Mapping[str, Any] | None, resources: Iterable[tuple[str, str, Mapping[str, Any]]]) -> Side:
    """The grants in ``config`` (``project:key`` -> value; None: unknown) and in the resources' documents.

    ``resources`` are (resource name, type, canonical inputs): JSON documents as ``{"$json": ...}``.
    """
    from enclave.snapshot import JSON_MARK, UNKNOWN

    found = Side({}, config is not None)
    for kind, suffix in CONFIG_KEYS.items():
        for config_key, value in (config or {}).items():
            if not config_key.endswith(f":{suffix}"):
                continue
            entries = _entries(value)
            if entries is None:
                found.unreadable.add(config_key)
                continue
            for entry in entries:
                declared = _declared(kind, entry)
                if declared is not None:
                    key = _key(kind, declared["ticket"])
                    found.grants.setdefault(key, Grant(kind, key)).entry = declared
    sids: dict[str, set[str]] = {}
    for name, type_, inputs in resources:
        found.unknown.update(kind for (t, key), kind in _DOCUMENTS.items() if t == type_ and inputs.get(key) == UNKNOWN)
        for value in inputs.values():
            doc = value.get(JSON_MARK) if isinstance(value, dict) else None
            if not isinstance(doc, dict) or "Statement" not in doc:
                continue
            statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
            sids.setdefault(name, set()).update(s["Sid"] for s in statements if isinstance(s, dict) and s.get("Sid"))
            for seen in staff_grants_in_trust_policy(doc):
                _observe(found, STAFF, _key(STAFF, seen.ticket), seen, ticket=seen.ticket)
            for seen in transfer_grants_in_policy(doc):
                key = seen.sid[: -len("Reads")] if seen.sid.endswith("Reads") else seen.sid
                _observe(found, TRANSFER, key, seen, prefix=seen.prefix)
    for grant in found.grants.values():
        wanted = {grant.key + end for end in _SID_ENDS[grant.kind]}
        grant.statements = {n: sorted(s & wanted) for n, s in sorted(sids.items()) if s & wanted}
    return found


def _observe(found: Side, kind: str, key: str, seen: Any, **extra: str) -> None:
    root = _ROOT.match(seen.principal)
    who = root.group(1) if kind == TRANSFER and root else seen.principal
    grant = found.grants.setdefault(key, Grant(kind, key))
    grant.observed.update(who=who, notBefore=seen.not_before, notAfter=seen.not_after, **extra)


# --------------------------------------------------------------------------- the entries


@dataclass
class GrantEntry:
    """What a change does to one grant, for the renderers: the grant's fields, old and new."""

    change: str
    """``new``, ``widened``, ``narrowed``, ``changed``, ``removed``, ``dropped``, ``expired`` or ``unknown``."""
    old: Grant | None
    new: Grant | None
    at: datetime
    clock_fixed: bool
    config_known: bool = True

    @property
    def grant(self) -> Grant:
        return self.new or self.old  # type: ignore[return-value]

    def clock_text(self) -> str:
        return format_utc(self.at) + (" (ENCLAVE_NOW)" if self.clock_fixed else "")

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) lines describing the grant as NEW has it (OLD's for a removal)."""
        g = self.grant
        rows = [(_WHO[g.kind][1], g.get("who") or "?")]
        if g.kind == TRANSFER:
            basis = g.get("legalBasis")
            rows += [
                ("prefix", g.get("prefix") or "?"),
                ("legal basis", f"{basis}: {LEGAL_BASES[basis]}" if basis in LEGAL_BASES else basis or "?"),
            ]
        ticket = g.ticket if g.get("ticket") else f"{g.ticket} (from its Sids: only the stack config names the ticket)"
        rows += [("ticket", ticket), ("approver", g.get("approver") or "?")]
        if g.get("reason"):
            rows.append(("reason", g.get("reason")))
        rows.append(("window", g.window_text()))
        declared = g.entry or {}
        config_window = (declared.get("notBefore"), declared.get("notAfter"))
        if g.rendered and declared and config_window != (g.observed.get("notBefore"), g.observed.get("notAfter")):
            rows.append(
                (
                    "config window",
                    f"{config_window[0]} -> {config_window[1]}: differs from the documents' "
                    "(the window above is the documents', which AWS enforces)",
                )
            )
        rows.append(("at the clock", f"{self.clock_text()}: {g.status(self.at)[1]}"))
        if g.statements:
            where = "; ".join(f"{name}: {', '.join(sids)}" for name, sids in g.statements.items())
        elif g.entry is not None and g.status(self.at)[0] == "expired":
            where = "none: the program drops a grant from the documents once it has expired"
        elif g.entry is not None:
            where = "none: declared, but in no document seen here"
        else:
            where = "none"
        rows.append(("statements", where))
        if self.new is not None and g.entry is None and self.config_known and g.rendered:
            rows.append(("declared", "NO: no entry of the stack config explains these statements"))
        return rows

    def as_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            **self.grant.as_json(self.at),
            "clock": format_utc(self.at),
            "old": self.old.as_json(self.at) if self.old is not None and self.new is not None else None,
        }


def _what(g: Grant) -> str:
    if g.kind == STAFF:
        return f"{g.get('who') or '?'} may assume the staff-access role and read European users' personal data"
    return (
        f"pseudonymised personal data may leave Europe: account {g.get('who') or '?'} may read "
        f"{g.get('prefix') or '?'} of the export bucket"
    )


def _headline(entry: GrantEntry, changes: list[Any]) -> str:
    g = entry.grant
    kind = f"{g.kind.upper()} GRANT {g.ticket}"
    if entry.new is not None and entry.config_known and g.entry is None and g.rendered:
        kind = f"UNDECLARED {kind}"
    state = g.status(entry.at)[0]
    if entry.change == "new":
        return f"NEW {kind}: {_what(g)}" + (" (not yet in force: it opens by itself)" if state == "future" else "")
    if entry.change == "expired":
        where = (
            "its statements are inert: AWS refuses them after notAfter"
            if g.rendered
            else "the program leaves it out of the documents"
        )
        return (
            f"{kind} {'declared but ' if g.entry is not None else ''}already expired at {entry.clock_text()}: "
            f"not a risk, nothing opens ({where})" + ("; remove it from the stack config" if g.entry else "")
        )
    if entry.change == "removed":
        return f"{kind} removed: it no longer opens anything" + (" (it had expired)" if state == "expired" else "")
    if entry.change == "unknown":
        return (
            f"{kind}: its document in NEW is known only after apply, so whether it opens anything, and how "
            f"wide, cannot be shown here: {_what(g)} as {'declared' if g.entry else 'OLD had it'}; check the deployment"
        )
    if entry.change == "dropped":
        why = "it expired" if state == "expired" else "though declared and not expired: check the program"
        return f"{kind} dropped from the documents: {why}"
    notes = [
        c.note.split(": ", 1)[-1]
        if c.path == "window"
        else c.note
        if c.path == "statements"
        else f"{c.path} {c.old} -> {c.new}"
        for c in changes
    ]
    return f"{entry.change.upper()} {kind} ({'; '.join(notes)}): {_what(g)}"


def _window_change(o: Grant, n: Grant) -> tuple[str, str] | None:
    """(note, direction) for a changed window: later notAfter or earlier notBefore widens."""
    ow, nw = o.window(), n.window()
    if ow == nw:
        return None
    if ow is None or nw is None:
        return "window changed (unreadable)", "weakens"
    moved = [
        f"{end} moved from {format_utc(was)} to {format_utc(now)}"
        for end, was, now in (("notBefore", ow[0], nw[0]), ("notAfter", ow[1], nw[1]))
        if was != now
    ]
    wider = nw[1] > ow[1] or nw[0] < ow[0]
    return ("widened: " if wider else "narrowed: ") + ", ".join(moved), "weakens" if wider else "hardens"


def _compare(o: Grant, n: Grant, at: datetime):
    """The changes between two sides of one grant (empty: the same grant)."""
    from enclave.snapshot import Change

    expired = n.status(at)[0] == "expired"
    risk = "other" if expired else "grant"
    changes: list[Change] = []
    for name, label in (("who", _WHO[n.kind][1]), ("prefix", "prefix")):
        was, now = o.get(name), n.get(name)
        if was and now and was != now:
            changes.append(Change(label, was, now, risk, note=f"another {label}", direction="weakens"))
    moved = _window_change(o, n)
    if moved:
        note, direction = moved
        changes.append(Change("window", o.window_text(), n.window_text(), risk, note=note, direction=direction))
    if o.entry is not None and n.entry is not None:
        for name, label, cls in (
            ("approver", "approver", risk),
            ("legalBasis", "legal basis", risk),
            ("reason", "reason", "other"),
        ):
            if o.get(name) != n.get(name):
                changes.append(
                    Change(label, o.get(name), n.get(name), cls, note="re-approved" if cls != "other" else "")
                )
    if o.rendered and not n.rendered:
        why = "expired" if expired else "left out though declared"
        changes.append(Change("statements", "present", None, "grant", note=f"dropped: {why}", direction="hardens"))
    elif n.rendered and not o.rendered and not expired:
        changes.append(Change("statements", None, "present", "grant", note="now in the documents", direction="weakens"))
    return changes


def _change(o: Grant | None, n: Grant | None, old: Side, new: Side, at: datetime):
    """(entry change, ResourceChange kind, risk, direction, changes) for one grant; None when nothing changed."""
    from enclave.snapshot import RANK

    g = n or o
    assert g is not None  # the key came from one side at least
    live = g.status(at)[0] != "expired"
    if (n is None or not n.rendered) and g.kind in new.unknown and live:
        # Fail closed: a document that would carry it is known only after apply.
        return "unknown", "changed" if o and n else "added" if n else "removed", "grant", "", []
    if o is None:
        if not g.rendered and not old.config_known and live:
            # A preview: a declared grant whose document the preview does not show is unchanged as far as it
            # shows; reported only once expired (then it is in no document anyway).
            return None
        return ("new", "added", "grant", "weakens", []) if live else ("expired", "added", "other", "", [])
    if n is None:
        return "removed", "removed", "grant" if o.status(at)[0] != "expired" else "other", "hardens", []
    changes = _compare(o, n, at)
    if not changes:
        return None
    directions = {c.direction for c in changes}
    if [c.path for c in changes] == ["statements"] and not n.rendered:
        change = "dropped"
    else:
        change = "widened" if "weakens" in directions else "narrowed" if directions == {"hardens"} else "changed"
    return change, "changed", min((c.risk for c in changes), key=RANK.__getitem__), "", changes


def clock() -> datetime:
    """The clock grants are judged at: ``components.clock.now()``; a malformed ``ENCLAVE_NOW`` is a usage error."""
    from components import clock as clocks
    from enclave.cli import UsageError

    try:
        return clocks.now()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def entries(old: Side, new: Side, project: str, at: datetime | None = None):
    """One ``ResourceChange`` per grant that differs between ``old`` and ``new``, each carrying its ``GrantEntry``.

    ``at`` is the clock that says whether a grant is in force (default: ``clock()``).
    """
    import os

    from components.clock import ENV
    from enclave.snapshot import ResourceChange

    if not (old.grants or new.grants):
        return []
    at = at or clock()
    clock_fixed = bool(os.environ.get(ENV))
    found = []
    for key in sorted(set(old.grants) | set(new.grants)):
        o, n = old.grants.get(key), new.grants.get(key)
        found_change = _change(o, n, old, new, at)
        if found_change is None:
            continue
        change, kind, risk, direction, changes = found_change
        entry = GrantEntry(change, o, n, at, clock_fixed, new.config_known)
        g = entry.grant
        rc = ResourceChange(
            kind,
            f"(grant) {project}:{CONFIG_KEYS[g.kind]}[{g.ticket}]",
            f"{project}:{CONFIG_KEYS[g.kind]}",
            f"{g.kind} grant {g.ticket}",
            risk,
            changes,
            _headline(entry, changes),
        )
        rc.direction, rc.grant = direction, entry
        found.append(rc)
    return found


def annotate(changes: Iterable[Any], grants: Iterable[Any]) -> None:
    """Policy statements of a grant, in the resources' own changes, name the grant whose entry explains them."""
    owner: dict[str, str] = {}
    for rc in grants:
        for g in (rc.grant.old, rc.grant.new):
            for sids in (g.statements if g is not None else {}).values():
                owner.update({sid: rc.name for sid in sids})
    for rc in changes:
        for c in rc.changes:
            sid = _SID_OF.search(c.path)
            if sid and sid.group(1) in owner:
                c.note = "; ".join(x for x in (c.note, f"statement of {owner[sid.group(1)]} (see its entry)") if x)


def is_grant_key(key: str) -> bool:
    """Whether a stack config key declares grants (its changes are shown as grant entries)."""
    return any(key.endswith(f":{suffix}") for suffix in CONFIG_KEYS.values())
