"""What a reviewer sees of a grant: `enclave diff` and `enclave review` rank each one by itself, with its window.

The snapshots are the real program's, run with grants in its stack config at the fixed clock of
tests/grants_fixture.py (a Monday 09:00 UTC), as `enclave plan` writes them.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from components import clock
from enclave import comment, diff
from enclave.cli import EXIT_USAGE, main
from enclave.harness import run_program
from enclave.snapshot import RANK, build_snapshot, dumps
from tests.grants_fixture import AT, RECIPIENT, STAFF, staff_grant, transfer_grant, values_with

NOW = clock.format_utc(AT)
STAFF_WINDOW = "2026-05-04T08:00:00Z -> 2026-05-04T16:00:00Z (8 h)"
TRANSFER_WINDOW = "2026-05-01T00:00:00Z -> 2026-05-31T00:00:00Z (30 days)"
EXPIRED = staff_grant(ticket="PRIV-1", notBefore="2026-05-03T08:00:00Z", notAfter="2026-05-03T16:00:00Z")
"""Yesterday's grant: still in the stack config, dropped from every document by the program."""


@pytest.fixture(scope="module")
def snaps(tmp_path_factory) -> dict[str, Path]:
    """Snapshot files of dublin: no grants; a staff and a transfer grant; the transfer extended by a day and
    yesterday's expired staff grant added."""
    variants = {
        "base": values_with(),
        "granted": values_with(staff=[staff_grant()], transfers=[transfer_grant()]),
        "extended": values_with(
            staff=[staff_grant(), EXPIRED], transfers=[transfer_grant(notAfter="2026-06-01T00:00:00Z")]
        ),
    }
    out = tmp_path_factory.mktemp("grant-snapshots")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(clock.ENV, NOW)
        for name, values in variants.items():
            (out / f"{name}.json").write_text(dumps(build_snapshot(run_program("dublin", config=values))))
    return {name: out / f"{name}.json" for name in variants}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def changes(snaps, old: str, new: str, at=AT):
    return diff.diff_snapshots(load(snaps[old]), load(snaps[new]), at)


def grant_rows(rc) -> dict[str, str]:
    return dict(rc.grant.rows())


def cli(capsys, monkeypatch, *argv: str) -> tuple[int, str]:
    monkeypatch.setenv(clock.ENV, NOW)
    code = main([*argv])
    return code, capsys.readouterr().out


# --------------------------------------------------------------------------- enclave diff


def test_new_grants_rank_at_the_top_with_who_ticket_approver_and_window(snaps):
    ranked = changes(snaps, "base", "granted")
    staff, transfer = ranked[:2]
    assert [(rc.kind, rc.name, rc.risk, rc.flagged, rc.weakens) for rc in (staff, transfer)] == [
        ("added", "staff grant PRIV-1234", "grant", True, True),
        ("added", "transfer grant XFER-77", "grant", True, True),
    ]
    # Above every ordinary access change the grants bring (the trust, the staff policy, the export policies).
    rest = ranked[2:]
    assert {rc.risk for rc in rest} >= {"access"} and all(rc.rank > RANK["grant"] for rc in rest)
    assert staff.note.startswith(f"NEW STAFF GRANT PRIV-1234: {STAFF['dublin']} may assume the staff-access role")
    assert grant_rows(staff) == {
        "principal": STAFF["dublin"],
        "ticket": "PRIV-1234",
        "approver": "dana.lead@platform.example",
        "reason": "Investigate abuse report 5521 on a user's uploads",
        "window": STAFF_WINDOW,
        "at the clock": f"{NOW}: in force: 7 h left",
        "statements": "enclave-dublin-gates-staff-access: GrantPRIV1234; enclave-dublin-gates-staff-access-policy: "
        "GrantPRIV1234ListUserData, GrantPRIV1234UserDataObjects",
    }
    assert transfer.note.startswith("NEW TRANSFER GRANT XFER-77: pseudonymised personal data may leave Europe")
    rows = grant_rows(transfer)
    assert (rows["recipient"], rows["prefix"], rows["window"]) == (RECIPIENT, "exports/acme-research/", TRANSFER_WINDOW)
    assert rows["legal basis"].startswith("SCC: standard contractual clauses")
    assert rows["at the clock"] == f"{NOW}: in force: 26 days 15 h left"
    assert "enclave-dublin-exports-key-key: TransferXFER77Decrypts" in rows["statements"]
    # The resources' own statement changes point at the grant; the grant keys leave the config entry.
    trust = next(rc for rc in ranked if rc.name == "enclave-dublin-gates-staff-access")
    added = next(c for c in trust.changes if c.path == "assumeRolePolicy.Statement[Sid=GrantPRIV1234]")
    assert "statement of staff grant PRIV-1234 (see its entry)" in added.note
    assert not any(rc.urn == "(stack config)" for rc in ranked)


def test_the_clock_says_future_or_expired(snaps):
    early = changes(snaps, "base", "granted", clock.parse_utc("2026-05-04T06:30:00Z"))
    staff = next(rc for rc in early if rc.name == "staff grant PRIV-1234")
    assert staff.flagged and staff.rank == RANK["grant"], "a grant that opens later opens without another review"
    assert grant_rows(staff)["at the clock"] == "2026-05-04T06:30:00Z: not yet in force: opens by itself in 1 h 30 min"
    late = changes(snaps, "base", "granted", clock.parse_utc("2026-06-02T00:00:00Z"))
    for rc in (rc for rc in late if rc.grant is not None):
        assert (rc.risk, rc.flagged, rc.grant.change) == ("other", False, "expired"), rc.name
        assert "AWS refuses its statements" in grant_rows(rc)["at the clock"]
        assert "not a risk, nothing opens (its statements are inert: AWS refuses them after notAfter)" in rc.note


def test_a_widened_window_ranks_top_with_the_old_and_new_not_after(snaps):
    ranked = changes(snaps, "granted", "extended")
    top = ranked[0]
    assert (top.kind, top.name, top.risk, top.flagged, top.grant.change) == (
        "changed",
        "transfer grant XFER-77",
        "grant",
        True,
        "widened",
    )
    [window] = top.changes
    assert window.note == "widened: notAfter moved from 2026-05-31T00:00:00Z to 2026-06-01T00:00:00Z"
    assert (window.old, window.new, window.direction) == (
        TRANSFER_WINDOW,
        "2026-05-01T00:00:00Z -> 2026-06-01T00:00:00Z (31 days)",
        "weakens",
    )
    assert top.note.startswith(
        "WIDENED TRANSFER GRANT XFER-77 (notAfter moved from 2026-05-31T00:00:00Z to 2026-06-01T00:00:00Z): "
        "pseudonymised personal data may leave Europe"
    )
    assert diff.grant_count(ranked) == 1
    # Back again: narrowed, which hardens; yesterday's grant leaves the config as a clean-up.
    back = {rc.name: rc for rc in changes(snaps, "extended", "granted") if rc.grant is not None}
    narrowed, cleanup = back["transfer grant XFER-77"], back["staff grant PRIV-1"]
    assert (narrowed.grant.change, narrowed.hardening_only, narrowed.flagged) == ("narrowed", True, False)
    assert narrowed.changes[0].note == "narrowed: notAfter moved from 2026-06-01T00:00:00Z to 2026-05-31T00:00:00Z"
    assert (cleanup.kind, cleanup.risk, cleanup.flagged) == ("removed", "other", False)
    assert cleanup.note == "STAFF GRANT PRIV-1 removed: it no longer opens anything (it had expired)"


def test_an_expired_grant_in_the_config_is_reported_as_expired_not_as_a_risk(snaps):
    extended = load(snaps["extended"])
    trust = next(e for e in extended["resources"] if e["name"] == "enclave-dublin-gates-staff-access")
    sids = [s["Sid"] for s in trust["inputs"]["assumeRolePolicy"]["$json"]["Statement"]]
    assert sids == ["GrantPRIV1234"], "the program dropped yesterday's grant"
    ranked = changes(snaps, "granted", "extended")
    [expired] = [rc for rc in ranked if rc.name == "staff grant PRIV-1"]
    assert (expired.kind, expired.risk, expired.flagged, expired.grant.change) == ("added", "other", False, "expired")
    assert expired.note.startswith("STAFF GRANT PRIV-1 declared but already expired at 2026-05-04T09:00:00Z")
    assert "not a risk" in expired.note
    rows = grant_rows(expired)
    assert rows["window"] == "2026-05-03T08:00:00Z -> 2026-05-03T16:00:00Z (8 h)"
    assert rows["at the clock"] == f"{NOW}: expired 17 h before the clock: AWS refuses its statements"
    assert rows["statements"] == "none: the program drops a grant from the documents once it has expired"
    assert ranked.index(expired) > max(i for i, rc in enumerate(ranked) if rc.flagged)


def test_removing_grants_hardens_and_ranks_after_every_flagged_change(snaps):
    ranked = changes(snaps, "granted", "base")
    removed = [rc for rc in ranked if rc.grant is not None]
    assert [(rc.kind, rc.name, rc.grant.change, rc.flagged) for rc in removed] == [
        ("removed", "staff grant PRIV-1234", "removed", False),
        ("removed", "transfer grant XFER-77", "removed", False),
    ]
    assert all(rc.hardening_only and "no longer opens anything" in rc.note for rc in removed)
    last_flagged = max((i for i, rc in enumerate(ranked) if rc.flagged), default=-1)
    assert all(ranked.index(rc) > last_flagged for rc in removed)
    assert diff.grant_count(ranked) == 0


def test_another_approver_is_a_flagged_change_a_new_reason_is_not(snaps):
    granted = load(snaps["granted"])
    reapproved = json.loads(json.dumps(granted))
    [entry] = reapproved["config"]["eu-data-enclave:transferGrants"]
    entry["approver"], entry["reason"] = "sam.other@platform.example", "Another study"
    [rc] = [rc for rc in diff.diff_snapshots(granted, reapproved, AT) if rc.grant is not None]
    assert (rc.kind, rc.grant.change, rc.risk, rc.flagged) == ("changed", "changed", "grant", True)
    assert [(c.path, c.risk) for c in rc.changes] == [("approver", "grant"), ("reason", "other")]
    assert rc.note.startswith("CHANGED TRANSFER GRANT XFER-77 (approver erik.dpo@platform.example -> sam.other@")
    entry["approver"] = "erik.dpo@platform.example"
    [rc] = [rc for rc in diff.diff_snapshots(granted, reapproved, AT) if rc.grant is not None]
    assert (rc.risk, rc.flagged) == ("other", False)


def test_statements_no_config_entry_explains_are_flagged(snaps):
    granted = load(snaps["granted"])
    del granted["config"]["eu-data-enclave:staffAccessGrants"]
    ranked = diff.diff_snapshots(load(snaps["base"]), granted, AT)
    staff = ranked[0]
    assert (staff.name, staff.risk, staff.flagged) == ("staff grant PRIV-1234", "grant", True)
    assert staff.note.startswith("NEW UNDECLARED STAFF GRANT PRIV-1234")
    rows = grant_rows(staff)
    assert rows["declared"] == "NO: no entry of the stack config explains these statements"
    assert (rows["window"], rows["approver"]) == (STAFF_WINDOW, "?"), "the window is the document's"


def test_a_config_window_the_documents_do_not_carry_is_shown_beside_theirs(snaps):
    granted = load(snaps["granted"])
    granted["config"]["eu-data-enclave:staffAccessGrants"][0]["notAfter"] = "2026-05-04T12:00:00Z"
    [staff] = [rc for rc in diff.diff_snapshots(load(snaps["base"]), granted, AT) if rc.name == "staff grant PRIV-1234"]
    rows = grant_rows(staff)
    assert rows["window"] == STAFF_WINDOW, "the documents' window: what AWS enforces"
    assert rows["config window"].startswith("2026-05-04T08:00:00Z -> 2026-05-04T12:00:00Z: differs from the documents'")


def test_a_grant_value_that_is_not_a_list_stays_in_the_config_diff_as_a_grant_risk(snaps):
    granted = load(snaps["granted"])
    granted["config"]["eu-data-enclave:transferGrants"] = "XFER-77 for the research partner"
    ranked = diff.diff_snapshots(load(snaps["base"]), granted, AT)
    config = next(rc for rc in ranked if rc.urn == "(stack config)")
    assert config.risk == "grant" and config.flagged
    assert [c.path for c in config.changes] == ["eu-data-enclave:transferGrants"]


def test_every_format_shows_the_grants(snaps, capsys, monkeypatch):
    old, new = str(snaps["base"]), str(snaps["granted"])
    base = ["diff", old, new, "--soft-fail"]
    _, text = cli(capsys, monkeypatch, *base)
    assert "2 GRANTS OPENED OR WIDENED" in text
    assert "!! 1. [security-gate grant] ADDED staff grant PRIV-1234  (eu-data-enclave:staffAccessGrants)" in text
    assert "!! 2. [security-gate grant] ADDED transfer grant XFER-77  (eu-data-enclave:transferGrants)" in text
    assert f"      window:       {STAFF_WINDOW}" in text
    assert f"      at the clock: {NOW} (ENCLAVE_NOW): in force: 7 h left" in text
    _, md = cli(capsys, monkeypatch, *base, "--format", "markdown")
    assert "#### Grants (stack dublin)" in md
    assert f"| ⚠️ new | staff `PRIV-1234` | {STAFF['dublin']} | dana.lead@platform.example | {STAFF_WINDOW} |" in md
    assert f"{RECIPIENT} reads exports/acme-research/ (SCC)" in md
    assert "| 1 | ⚠️ security-gate grant  weakens | added | `staff grant PRIV-1234` |" in md
    _, body = cli(capsys, monkeypatch, *base, "--format", "json")
    stack = json.loads(body)["stacks"][0]
    assert stack["summary"]["grantsOpenedOrWidened"] == 2 and stack["summary"]["added"] == 0
    grant = stack["changes"][1]["grant"]
    assert {k: grant[k] for k in ("change", "kind", "ticket", "recipientAccountId", "legalBasis", "status")} == {
        "change": "new",
        "kind": "transfer",
        "ticket": "XFER-77",
        "recipientAccountId": RECIPIENT,
        "legalBasis": "SCC",
        "status": "in-force",
    }
    assert (grant["notBefore"], grant["notAfter"], grant["windowSeconds"]) == (
        "2026-05-01T00:00:00Z",
        "2026-05-31T00:00:00Z",
        30 * 86400,
    )


def test_the_github_comment_keeps_the_grants_when_it_is_cut(snaps, capsys, monkeypatch):
    argv = ("diff", str(snaps["base"]), str(snaps["granted"]), "--format", "github")
    _, full = cli(capsys, monkeypatch, *argv)
    # A cap that leaves room for the verdict and little more: every change's details are cut.
    cap = comment.size(full[: full.index("### enclave diff: stack dublin")]) + 300
    monkeypatch.setattr(comment, "fit", functools.partial(comment.fit, cap=cap))
    _, body = cli(capsys, monkeypatch, *argv)
    assert "✂️" in body and comment.size(body) <= cap and "### enclave diff: stack dublin" not in body
    assert f"| ⚠️ new | staff `PRIV-1234` | {STAFF['dublin']} |" in body and TRANSFER_WINDOW in body


def test_a_malformed_clock_is_a_usage_error(snaps, capsys, monkeypatch):
    monkeypatch.setenv(clock.ENV, "tomorrow")
    assert main(["diff", str(snaps["base"]), str(snaps["granted"])]) == EXIT_USAGE
    assert "ENCLAVE_NOW" in capsys.readouterr().err


# --------------------------------------------------------------------------- enclave review


def _state(entry: dict) -> dict:
    """A snapshot entry as the preview's ResourceV3: JSON documents as strings, as the engine holds them."""
    inputs = {
        k: json.dumps(v["$json"]) if isinstance(v, dict) and set(v) == {"$json"} else v
        for k, v in entry["inputs"].items()
    }
    return {"urn": entry["urn"], "custom": True, "type": entry["type"], "inputs": inputs, "parent": entry["parent"]}


GRANT_DOCUMENTS = (
    "enclave-dublin-gates-staff-access",
    "enclave-dublin-exports-policy",
    "enclave-dublin-exports-key-key",
)


def preview_of(old: dict, new: dict, config: dict | None = None) -> dict:
    """The digest of `pulumi preview --json` updating the documents grants live in from OLD to NEW."""
    by_name = {e["name"]: e for e in old["resources"]}
    steps = []
    for entry in new["resources"]:
        if entry["name"] in GRANT_DOCUMENTS:
            steps.append(
                {
                    "op": "update",
                    "urn": entry["urn"],
                    "oldState": _state(by_name[entry["name"]]),
                    "newState": _state(entry),
                    "diffReasons": ["policy", "assumeRolePolicy"],
                }
            )
    digest = {"steps": steps, "changeSummary": {"update": len(steps)}}
    return digest | ({"config": {k: json.dumps(v) for k, v in config.items()}} if config else {})


def test_review_ranks_a_grant_statement_in_a_preview_at_the_top(snaps, tmp_path, capsys, monkeypatch):
    base, granted = load(snaps["base"]), load(snaps["granted"])
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(preview_of(base, granted)))
    _, text = cli(capsys, monkeypatch, "review", str(path))
    lines = text.splitlines()
    ranked = [line for line in lines if line[:2] in ("!!", "  ") and ". [" in line]
    assert ranked[0].startswith("!! 1. [security-gate grant] ADDED staff grant PRIV-1234")
    assert ranked[1].startswith("!! 2. [security-gate grant] ADDED transfer grant XFER77")
    assert "      ticket:       XFER77 (from its Sids: only the stack config names the ticket)" in lines
    assert f"      window:       {STAFF_WINDOW}" in lines and f"      window:       {TRANSFER_WINDOW}" in lines
    assert "      approver:     ?" in lines, (
        "the digest had no config: the documents say who and when, not who approved"
    )
    # With the preview's config: the approver, and yesterday's grant the program left out of the documents.
    config = {k: v for k, v in granted["config"].items() if not k.endswith("staffAccessGrants")}
    config["eu-data-enclave:staffAccessGrants"] = [staff_grant(), EXPIRED]
    path.write_text(json.dumps(preview_of(base, granted, config)))
    _, body = cli(capsys, monkeypatch, "review", str(path), "--format", "json")
    doc = json.loads(body)
    assert doc["grantsOpenedOrWidened"] == 2
    by_name = {c["name"]: c for c in doc["changes"] if c["grant"]}
    assert [c["name"] for c in doc["changes"][:2]] == ["staff grant PRIV-1234", "transfer grant XFER-77"]
    assert by_name["staff grant PRIV-1234"]["grant"]["approver"] == "dana.lead@platform.example"
    assert (by_name["staff grant PRIV-1"]["risk"], by_name["staff grant PRIV-1"]["grant"]["status"]) == (
        "other",
        "expired",
    )


def test_review_shows_a_widened_window_and_a_removal(snaps, tmp_path, capsys, monkeypatch):
    granted, extended, base = load(snaps["granted"]), load(snaps["extended"]), load(snaps["base"])
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(preview_of(granted, extended)))
    _, text = cli(capsys, monkeypatch, "review", str(path))
    assert "!! 1. [security-gate grant] CHANGED transfer grant XFER77" in text
    assert "widened: notAfter moved from 2026-05-31T00:00:00Z to 2026-06-01T00:00:00Z" in text
    path.write_text(json.dumps(preview_of(granted, base)))
    _, text = cli(capsys, monkeypatch, "review", str(path), "--format", "markdown")
    assert "| removed | staff `PRIV-1234` |" in text and "⚠️ security-gate grant" not in text


def test_review_fails_closed_on_a_document_known_only_after_apply(snaps, tmp_path, capsys, monkeypatch):
    """The trust is computed from a replaced resource's output: the preview cannot show whether the grant stays."""
    from enclave.snapshot import UNKNOWN

    granted = load(snaps["granted"])
    digest = preview_of(granted, granted, granted["config"])
    trust = next(s for s in digest["steps"] if s["urn"].endswith("::enclave-dublin-gates-staff-access"))
    trust["newState"]["inputs"]["assumeRolePolicy"] = UNKNOWN
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(digest))
    _, body = cli(capsys, monkeypatch, "review", str(path), "--format", "json")
    [staff] = [c for c in json.loads(body)["changes"] if c["grant"]]
    assert (staff["name"], staff["risk"], staff["flagged"], staff["grant"]["change"]) == (
        "staff grant PRIV-1234",
        "grant",
        True,
        "unknown",
    )
    assert "its document in NEW is known only after apply" in staff["note"]
