"""Report formats CI tools read: SARIF 2.1.0 (validated against the official schema), JUnit XML, the PR comment."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from enclave import comment
from enclave.check import Violation, load_policies
from enclave.junit import to_junit
from enclave.sarif import to_sarif
from enclave.verdict import Verdict, exceptions_of, render_markdown, render_text

FIXTURES = Path(__file__).parent / "fixtures"
SARIF_SCHEMA = json.loads((FIXTURES / "sarif-schema-2.1.0.json").read_text())
URN = "urn:pulumi:dublin::eu-data-enclave::enclave:storage:RegionalStorage$aws:s3/bucket:Bucket::"
EXCEPTION = {
    "resource": "scratch",
    "reason": "load test, no personal data",
    "approver": "dpo@example.eu",
    "expires": "2099-01-31",
}


def sarif_errors(doc: dict) -> list[str]:
    validator = jsonschema.Draft4Validator(SARIF_SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def violations() -> list[Violation]:
    return [
        Violation(
            "no-egress",
            "mandatory",
            URN + "open",
            "aws:vpc/x:X",
            "open",
            "reaches the internet",
            "components/net.py",
            42,
        ),
        Violation("data-protected", "mandatory", URN + "nopos", "aws:s3/bucket:Bucket", "nopos", "no protect"),
        Violation("audit-on", "advisory", "", "pulumi:pulumi:Stack", "dublin", "no trail", ""),
        Violation(
            "operator-held-encryption",
            "excepted",
            URN + "scratch",
            "aws:s3/bucket:Bucket",
            "scratch",
            "SSE-S3",
            "__main__.py",
            7,
            exception=EXCEPTION,
        ),
    ]


@pytest.fixture
def program(tmp_path) -> Path:
    """A program directory two levels below a repository root (URIs must be repo-relative)."""
    (tmp_path / ".git").mkdir()
    program = tmp_path / "infra" / "site"
    program.mkdir(parents=True)
    return program


def test_sarif_validates_and_locates_each_result(program):
    doc = to_sarif([("dublin", violations())], load_policies(), program, tool_version="0.1.0")
    assert sarif_errors(doc) == []
    [run] = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [p.name for p in load_policies()]
    egress = next(r for r in rules if r["id"] == "no-egress")
    assert egress["defaultConfiguration"]["level"] == "error" and egress["help"]["text"]
    assert egress["properties"]["security-severity"] == "8.0"
    by_rule = {r["ruleId"]: r for r in run["results"]}
    loc = by_rule["no-egress"]["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": "infra/site/components/net.py"}, "region": {"startLine": 42}}
    assert rules[by_rule["no-egress"]["ruleIndex"]]["id"] == "no-egress"
    # Unknown position: still a location (code scanning needs one), at the entry point, and said so.
    nopos = by_rule["data-protected"]
    assert nopos["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "infra/site/__main__.py"
    assert nopos["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert "source position unknown" in nopos["message"]["text"]
    assert by_rule["audit-on"]["level"] == "warning"
    [suppression] = by_rule["operator-held-encryption"]["suppressions"]
    assert suppression["kind"] == "external" and suppression["status"] == "accepted"
    assert (
        suppression["justification"] == "load test, no personal data (approved by dpo@example.eu, expires 2099-01-31)"
    )


def test_sarif_fingerprints_are_stable_and_distinct(program):
    first = to_sarif([("dublin", violations())], load_policies(), program)
    moved = [Violation(**{**v.__dict__, "line": v.line + 10}) for v in violations()]
    again = to_sarif([("dublin", moved)], load_policies(), program)
    prints = [r["partialFingerprints"] for r in first["runs"][0]["results"]]
    assert prints == [r["partialFingerprints"] for r in again["runs"][0]["results"]], "a moved line is the same finding"
    assert len({json.dumps(p) for p in prints}) == len(prints)


def test_sarif_rule_level_follows_the_policy_config(program):
    doc = to_sarif([("dublin", [])], load_policies(), program, levels={"no-egress": "advisory"})
    assert sarif_errors(doc) == []
    rule = next(r for r in doc["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "no-egress")
    assert rule["defaultConfiguration"]["level"] == "warning"


def test_junit_one_suite_per_stack_failures_and_waivers():
    xml = to_junit([("dublin", violations()), ("hamar", [])], load_policies(), {"residency-tags": "disabled"})
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    dublin, hamar = root.findall("testsuite")
    assert (dublin.get("name"), hamar.get("name")) == ("residency.dublin", "residency.hamar")
    cases = {c.get("name"): c for c in dublin.findall("testcase")}
    n = len(load_policies())
    assert dublin.get("tests") == str(n + 1) and dublin.get("failures") == "2"
    assert dublin.get("skipped") == "2", "the disabled policy and the waived violation"
    failure = cases["no-egress"].find("failure")
    assert failure.get("type") == "mandatory" and "components/net.py:42" in failure.text
    assert cases["audit-on"].find("failure") is None and "no trail" in cases["audit-on"].find("system-out").text
    waived = cases["operator-held-encryption [scratch]"].find("skipped")
    assert "load test, no personal data" in waived.get("message") and "dpo@example.eu" in waived.get("message")
    assert cases["residency-tags"].find("skipped").get("message") == "disabled by the policy config"
    assert hamar.get("failures") == "0" and root.get("failures") == "2"
    assert to_junit([("dublin", violations())], load_policies()) == to_junit(
        [("dublin", violations())], load_policies()
    )


def test_exceptions_in_force_and_expired():
    config = {
        "operator-held-encryption": {
            "exceptions": [EXCEPTION, {**EXCEPTION, "resource": "old", "expires": "2020-01-01"}]
        },
        "no-egress": {"exceptions": [{**EXCEPTION, "expires": "someday"}]},
    }
    found = exceptions_of(config, on=dt.date(2026, 6, 1))
    assert [(x.policy, x.resource, x.expired) for x in found] == [
        ("no-egress", "scratch", True),
        ("operator-held-encryption", "scratch", False),
        ("operator-held-encryption", "old", True),
    ]
    verdict = Verdict("dublin", violations(), found)
    text = "\n".join(render_text(verdict))
    assert text.startswith("VERDICT dublin: FAIL: 2 mandatory violation(s), 1 advisory, 1 excepted, 3 exception(s)")
    assert "excepted operator-held-encryption: scratch: load test, no personal data (approved by dpo@example.eu" in text
    assert "EXPIRED on 2020-01-01" in text
    md = "\n".join(render_markdown(verdict))
    assert "| 🟦 excepted | operator-held-encryption | `scratch` |" in md and "⛔ operator-held-encryption on old" in md


def test_verdict_against_a_baseline_fails_only_on_what_the_change_brings():
    vs = violations()
    old = {(v.policy, v.urn, v.message) for v in vs if v.policy == "no-egress"}
    verdict = Verdict("dublin", vs, baseline=old)
    assert [v.policy for v in verdict.brought] == ["data-protected"]
    assert verdict.fails("new") and verdict.fails("any")
    settled = Verdict("dublin", [vs[0]], baseline=old)
    assert not settled.fails("new") and settled.fails("any")
    assert settled.status == "PASS (violations already on the base)"
    assert "[already on the base]" in "\n".join(render_text(settled))


def test_github_comment_keeps_the_verdict_and_fits_the_cap():
    head = ["**❌ FAIL** `dublin`: 1 mandatory violation(s)", "", "| # | risk |", "| --- | --- |"]
    details = [f"<details><summary>{i}</summary>\n\n```diff\n+ {'x' * 900}\n```\n</details>\n" for i in range(200)]
    body = comment.fit("review", head, details, ["legend"])
    assert body.startswith("<!-- eu-data-enclave:review -->\n**❌ FAIL** `dublin`")
    assert comment.size(body) <= comment.CAP < comment.GITHUB_LIMIT
    shown = body.count("<details>")
    assert 0 < shown < 200
    assert f"✂️ {200 - shown} of 200 changes not shown" in body and "artifacts" in body
    small = comment.fit("diff", head, details[:3], ["legend"])
    assert small.startswith("<!-- eu-data-enclave:diff -->") and "✂️" not in small and small.rstrip().endswith("legend")


def test_github_comment_counts_utf16_and_cuts_an_oversized_head():
    head = ["verdict"] + [f"| {i} | 🛑 data loss | {'é' * 100} |" for i in range(2000)]
    body = comment.fit("diff", head, ["detail"], [])
    assert comment.size(body) <= comment.CAP and body.startswith("<!-- eu-data-enclave:diff -->\nverdict")
    assert "summary lines and every change detail not shown" in body
