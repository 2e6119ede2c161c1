"""`enclave review` on real `pulumi preview --json` samples and on fixtures built from the documented format.

Samples: /work/shared/reference/preview-json/ (see each .SOURCE.txt); format:
/work/shared/reference/PREVIEW_JSON.md (PreviewDigest, PreviewStep, ResourceV3, EngineEvent).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from enclave import review
from enclave.cli import EXIT_OK, UsageError

SAMPLES = Path("/work/shared/reference/preview-json")
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="reference samples not on this machine")

STACK = "urn:pulumi:prod::enclave::pulumi:pulumi:Stack::enclave-prod"
PROVIDER = "urn:pulumi:prod::enclave::pulumi:providers:aws::data::1f0d6c4e-2b1a-4c3e-9a51-6f3b2d8e7c10"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:prod::enclave::{type_}::{name}"


def state(type_: str, name: str, inputs: dict, **extra) -> dict:
    """A ``ResourceV3`` as the CLI prints it (always urn, custom, type)."""
    return {
        "urn": urn(type_, name),
        "custom": True,
        "type": type_,
        "inputs": inputs,
        "parent": STACK,
        "provider": PROVIDER,
        **extra,
    }


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


READ = {
    "Sid": "Read",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
    "Action": "s3:GetObject",
}
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SG_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
KEY = "aws:kms/key:Key"


def digest(*steps: dict, **top) -> dict:
    root = {"op": "same", "urn": STACK, "oldState": {"urn": STACK, "custom": False, "type": "pulumi:pulumi:Stack"}}
    root["newState"] = root["oldState"]
    return {"steps": [root, *steps], "duration": 1200000000, **top}


def run_review(tmp_path: Path, data, *extra: str, name: str = "preview.json", code: int = EXIT_OK) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=4))
    parser = argparse.ArgumentParser()
    review.add_arguments(parser)
    args = parser.parse_args([str(path), *extra])
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert review.run(args) == code
    return out.getvalue()


def changes_of(data: dict):
    return review.review(review.parse_preview(json.dumps(data), "fixture"))


# --------------------------------------------------------------------------- real samples


@needs_samples
def test_sample_tags_and_sets():
    preview = review.parse_preview((SAMPLES / "drift-adopter-aws-tags-and-sets.json").read_text(), "sample")
    assert preview.change_summary == {"replace": 1, "same": 2, "update": 3}
    changes = review.review(preview)
    # Dropping two actions narrows the role and enabling versioning protects more: both harden, so
    # they rank after the replaced security group and raise no alarm.
    assert [(rc.kind, rc.name, rc.risk, rc.flagged) for rc in changes] == [
        ("replaced", "test-sg", "network", True),
        ("changed", "test-role", "access", False),
        ("changed", "test-bucket-versioning", "protection", False),
        ("changed", "test-bucket", "other", False),
    ]
    changes = [changes[1], changes[0], changes[2], changes[3]]
    [action] = changes[0].changes
    assert action.direction == "hardens" and action.note == "narrowed"
    # The inline policy is a JSON string: compared statement by statement, two log actions dropped.
    assert action.path == "inlinePolicies[0].policy.Statement[0].Action"
    assert set(action.old) - set(action.new) == {"logs:DescribeLogGroups", "logs:DescribeLogStreams"}
    sg = changes[1]
    assert sg.note == "op: replace; replaced because description changed"
    by_path = {c.path: c for c in sg.changes}
    assert by_path["description"].note == "forces replacement"
    assert by_path["ingress[0]"].old is None and by_path["ingress[0]"].new["fromPort"] == 80
    assert by_path["ingress[1]"].new is None and by_path["ingress[1]"].old["fromPort"] == 8080
    versioning = changes[2].changes[0]
    assert (versioning.path, versioning.old, versioning.new) == (
        "versioningConfiguration.status",
        "Suspended",
        "Enabled",
    )
    assert not changes[3].flagged


@needs_samples
def test_sample_cascading_deps_keeps_secrets_redacted(tmp_path):
    text = run_review(tmp_path, (SAMPLES / "drift-adopter-aws-cascading-deps.json").read_text())
    lines = text.splitlines()
    assert lines[0].startswith("VERDICT test-d67e0b53: UNKNOWN"), lines[0]
    assert "offline policy verdict skipped: the preview does not list every resource (3 same not shown" in text
    lines = lines[lines.index("enclave review: preview.json") :]
    # Turning key rotation on hardens: listed first (the only non-"other" change), without an alarm.
    assert lines[1] == "  0 flagged (residency or access), 0 added, 0 removed, 0 replaced, 4 changed"
    assert lines[5].startswith("   1. [encryption] CHANGED app-key  (aws:kms/key:Key)  hardens")
    assert "      enableKeyRotation  [encryption]  hardens" in lines
    assert "digest carries no policy results" in text
    assert "engine change summary: 4 same, 4 update" in text
    values = [
        c
        for rc in review.review(
            review.parse_preview((SAMPLES / "drift-adopter-aws-cascading-deps.json").read_text(), "s")
        )
        if rc.name == "db-password"
        for c in rc.changes
    ]
    value = {c.path: c for c in values}["value"]
    assert (value.old, value.new, value.note) == ("[secret]", "[secret]", "secret value changed")


@needs_samples
def test_sample_creates_with_unknowns(tmp_path):
    preview = review.parse_preview((SAMPLES / "stratify-aws-creates.json").read_text(), "sample")
    changes = review.review(preview)
    assert len(changes) == 15, "16 creates minus the root stack"
    assert all(rc.kind == "added" for rc in changes)
    assert changes[0].type.startswith("aws:iam/") and changes[0].risk == "access"
    ranks = [rc.rank for rc in changes]
    assert ranks == sorted(ranks)
    attachments = {
        c.new for rc in changes if rc.type.endswith("RolePolicyAttachment") for c in rc.changes if c.path == "policyArn"
    }
    assert "arn:aws:iam::aws:policy/AmazonS3FullAccess" in attachments
    text = run_review(tmp_path, (SAMPLES / "stratify-aws-creates.json").read_text())
    assert "(known after apply)" in text and UNKNOWN not in text


# --------------------------------------------------------------------------- fixtures from the format


def test_replacement_halves_are_one_entry():
    old = state(KEY, "key", {"multiRegion": False, "policy": policy(READ)}, id="k-1")
    new = state(KEY, "key", {"multiRegion": True, "policy": policy(READ)})
    diff = {"multiRegion": {"kind": "update-replace", "inputDiff": True}}
    data = digest(
        {
            "op": "create-replacement",
            "urn": old["urn"],
            "provider": PROVIDER,
            "oldState": old,
            "newState": new,
            "diffReasons": ["multiRegion"],
            "replaceReasons": ["multiRegion"],
            "detailedDiff": diff,
        },
        {
            "op": "replace",
            "urn": old["urn"],
            "provider": PROVIDER,
            "oldState": old,
            "newState": new,
            "diffReasons": ["multiRegion"],
            "replaceReasons": ["multiRegion"],
            "detailedDiff": diff,
        },
        {"op": "delete-replaced", "urn": old["urn"], "provider": PROVIDER, "oldState": old, "detailedDiff": None},
        changeSummary={"replace": 1},
    )
    [rc] = changes_of(data)
    # Replacing a KMS key loses what it encrypts: data loss outranks the replication it adds.
    assert (rc.kind, rc.name, rc.risk) == ("replaced", "key", "data-loss")
    assert rc.note.startswith("DATA LOSS: replaces a data-bearing Key")
    assert rc.note.endswith("op: create-replacement, replace, delete-replaced; replaced because multiRegion changed")
    [change] = rc.changes
    assert (change.path, change.old, change.new, change.note) == ("multiRegion", False, True, "forces replacement")


def test_widened_policy_outranks_new_egress_rule_and_tags():
    old = state(BUCKET_POLICY, "data-policy", {"bucket": "data", "policy": policy(READ)}, id="data")
    wider = dict(READ, Principal={"AWS": ["arn:aws:iam::111111111111:root", "arn:aws:iam::999999999999:root"]})
    new = state(BUCKET_POLICY, "data-policy", {"bucket": "data", "policy": policy(wider)})
    rule = state(
        SG_RULE, "anywhere", {"__defaults": [], "cidrIpv4": "0.0.0.0/0", "ipProtocol": "-1", "securityGroupId": UNKNOWN}
    )
    bucket_old = state("aws:s3/bucket:Bucket", "data", {"tags": {"team": "a"}}, id="data")
    bucket_new = state("aws:s3/bucket:Bucket", "data", {"tags": {"team": "b"}})
    data = digest(
        {
            "op": "update",
            "urn": bucket_old["urn"],
            "oldState": bucket_old,
            "newState": bucket_new,
            "diffReasons": ["tags"],
            "detailedDiff": {"tags.team": {"kind": "update", "inputDiff": True}},
        },
        {"op": "create", "urn": rule["urn"], "provider": PROVIDER, "newState": rule, "detailedDiff": None},
        {
            "op": "update",
            "urn": old["urn"],
            "oldState": old,
            "newState": new,
            "diffReasons": ["policy"],
            "detailedDiff": {"policy": {"kind": "update", "inputDiff": True}},
        },
    )
    changes = changes_of(data)
    assert [(rc.kind, rc.name, rc.risk) for rc in changes] == [
        ("changed", "data-policy", "access"),
        ("added", "anywhere", "network"),
        ("changed", "data", "other"),
    ]
    [principal] = changes[0].changes
    assert principal.path == "policy.Statement[Sid=Read].Principal" and principal.note == "widened"
    added = {c.path: c.new for c in changes[1].changes}
    assert added == {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "-1", "securityGroupId": UNKNOWN}, "no __defaults"


def test_detailed_diff_null_falls_back_to_diff_reasons():
    old = state(SG_RULE, "r", {"cidrIpv4": "10.0.0.0/16", "ipProtocol": "tcp"}, id="sgr-1")
    new = state(SG_RULE, "r", {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp"})
    data = digest(
        {
            "op": "update",
            "urn": old["urn"],
            "oldState": old,
            "newState": new,
            "diffReasons": ["cidrIpv4"],
            "detailedDiff": None,
        }
    )
    [rc] = changes_of(data)
    assert [(c.path, c.old, c.new, c.risk) for c in rc.changes] == [("cidrIpv4", "10.0.0.0/16", "0.0.0.0/0", "network")]


def test_input_diff_false_compares_old_state_outputs():
    old = state(
        KEY,
        "key",
        {"deletionWindowInDays": 30},
        id="k",
        outputs={"deletionWindowInDays": 30, "enableKeyRotation": False},
    )
    new = state(KEY, "key", {"deletionWindowInDays": 7, "enableKeyRotation": True})
    data = digest(
        {
            "op": "update",
            "urn": old["urn"],
            "oldState": old,
            "newState": new,
            "diffReasons": ["deletionWindowInDays", "enableKeyRotation"],
            "detailedDiff": {
                "deletionWindowInDays": {"kind": "update", "inputDiff": False},
                "enableKeyRotation": {"kind": "update", "inputDiff": False},
            },
        }
    )
    [rc] = changes_of(data)
    by = {c.path: (c.old, c.new, c.risk) for c in rc.changes}
    assert by == {"enableKeyRotation": (False, True, "encryption"), "deletionWindowInDays": (30, 7, "protection")}


def test_same_step_with_protect_change_is_shown():
    old = state(KEY, "key", {}, id="k", protect=True)
    new = state(KEY, "key", {}, protect=False)
    data = digest(
        {"op": "same", "urn": old["urn"], "oldState": old, "newState": new, "detailedDiff": None},
        {
            "op": "same",
            "urn": urn(KEY, "other"),
            "oldState": state(KEY, "other", {}),
            "newState": state(KEY, "other", {}),
            "detailedDiff": None,
        },
    )
    [rc] = changes_of(data)
    assert (rc.name, rc.risk) == ("key", "protection")
    assert [(c.path, c.old, c.new) for c in rc.changes] == [("options.protect", True, False)]


def test_delete_is_a_removal():
    gone = state(
        BUCKET_POLICY, "deny-insecure", {"bucket": "data", "policy": policy(dict(READ, Effect="Deny"))}, id="x"
    )
    [rc] = changes_of(digest({"op": "delete", "urn": gone["urn"], "oldState": gone, "detailedDiff": None}))
    assert (rc.kind, rc.risk) == ("removed", "access")
    assert {c.path for c in rc.changes} == {"bucket", "policy"}


def test_failed_digest_says_policy_data_is_missing(tmp_path):
    data = digest(
        diagnostics=[
            {"message": "error: preview failed\n", "severity": "error"},
            {"urn": urn(KEY, "key"), "message": "warning: \x1b[1mdeprecated\x1b[0m\n", "severity": "warning"},
        ],
        maybeCorrupt=True,
    )
    text = run_review(tmp_path, data, code=2)  # a failed preview cannot be judged
    assert "maybeCorrupt: the engine says this preview may be corrupt" in text
    assert "the preview FAILED" in text
    assert "a mandatory policy violation is one possible cause of the failure, but the digest does not say" in text
    assert "  error: error: preview failed" in text
    assert "  warning (key): warning: deprecated" in text


def _events(*events: dict) -> str:
    return "\n".join(json.dumps({"sequence": i, "timestamp": 1700000000 + i, **e}) for i, e in enumerate(events)) + "\n"


POLICY_EVENT = {
    "policyEvent": {
        "resourceUrn": urn(BUCKET_POLICY, "data-policy"),
        "message": "Bucket policy grants another account.",
        "color": "never",
        "policyName": "no-foreign-principals",
        "policyPackName": "eu-data-residency",
        "policyPackVersion": "0.1.0",
        "policyPackVersionTag": "0.1.0",
        "enforcementLevel": "mandatory",
    }
}


def test_event_log_adds_policy_results(tmp_path):
    data = digest(diagnostics=[{"message": "error: preview failed\n", "severity": "error"}])
    log = tmp_path / "events.jsonl"
    log.write_text(
        _events(
            {"preludeEvent": {"config": {}}},
            POLICY_EVENT,
            {
                "summaryEvent": {
                    "maybeCorrupt": False,
                    "durationSeconds": 1,
                    "resourceChanges": {},
                    "PolicyPacks": {"eu-data-residency": "0.1.0"},
                }
            },
        )
    )
    text = run_review(tmp_path, data, "--event-log", str(log), code=1)  # a mandatory violation fails
    assert text.startswith("VERDICT prod: FAIL: 1 mandatory violation(s)")
    assert "digest carries no policy results" not in text
    assert (
        "[mandatory] eu-data-residency/no-foreign-principals on data-policy: Bucket policy grants another account."
        in text
    )


def test_streaming_json_lines_as_the_preview(tmp_path):
    old = state(SG_RULE, "r", {"cidrIpv4": "10.0.0.0/16"}, id="sgr")
    new = state(SG_RULE, "r", {"cidrIpv4": "0.0.0.0/0"})
    meta = {
        "op": "update",
        "urn": old["urn"],
        "type": SG_RULE,
        "provider": PROVIDER,
        "old": old,
        "new": new,
        "diffs": ["cidrIpv4"],
        "detailedDiff": {"cidrIpv4": {"diffKind": "update", "inputDiff": True}},
    }
    stream = _events(
        {"resourcePreEvent": {"metadata": meta, "planning": True}},
        POLICY_EVENT,
        {"diagnosticEvent": {"message": "progress", "severity": "info", "ephemeral": True}},
        {
            "summaryEvent": {
                "maybeCorrupt": False,
                "durationSeconds": 2,
                "resourceChanges": {"update": 1},
                "PolicyPacks": {},
            }
        },
    )
    text = run_review(tmp_path, stream, name="preview.jsonl", code=1)
    assert "!! 1. [egress / routes] CHANGED r" in text
    assert "        + 0.0.0.0/0" in text
    assert "engine change summary: 1 update" in text
    assert "policy: 1 violation(s)" in text


def test_markdown_format(tmp_path):
    old = state(SG_RULE, "r", {"cidrIpv4": "10.0.0.0/16"}, id="sgr")
    new = state(SG_RULE, "r", {"cidrIpv4": "0.0.0.0/0"})
    data = digest(
        {
            "op": "update",
            "urn": old["urn"],
            "oldState": old,
            "newState": new,
            "diffReasons": ["cidrIpv4"],
            "detailedDiff": {"cidrIpv4": {"kind": "update", "inputDiff": True}},
        }
    )
    md = run_review(tmp_path, data, "--format", "markdown")
    assert md.startswith("## enclave review: preview.json: ✅ PASS\n\n**❔ UNKNOWN** `prod`")
    assert "\n### enclave review: preview.json\n" in md
    assert "| 1 | ⚠️ egress / routes  weakens | changed | `r` |" in md


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty: the preview failed before printing a result"),
        ("   \n", "is empty"),
        ("{}", "is {}: the preview failed before it planned anything"),
        ('{"resources": []}', "not the output of `pulumi preview --json`"),
        ('{"steps": [{"urn": "x"}]}', "each with 'op' and 'urn'"),
        ('{"a": 1}\nnot json', "line 2 is not JSON"),
    ],
)
def test_bad_previews_are_usage_errors(tmp_path, text, message):
    with pytest.raises(UsageError, match=message.replace("{", r"\{").replace("}", r"\}").replace("`", ".")):
        run_review(tmp_path, text)


def test_missing_file_is_a_usage_error(tmp_path):
    parser = argparse.ArgumentParser()
    review.add_arguments(parser)
    with pytest.raises(UsageError, match="nope.json: no such file"):
        review.run(parser.parse_args([str(tmp_path / "nope.json")]))


def test_property_paths():
    assert review.parse_path('a.b[0]["c.d"].e') == ["a", "b", 0, "c.d", "e"]
    assert review.parse_path('["tags"]["x]y"]') == ["tags", "x]y"]
    assert review.get_path({"p": policy(READ)}, "p.Statement[0].Sid") == "Read"


def test_cli_entry_point_exit_codes(tmp_path, capsys):
    from enclave.cli import main

    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert main(["review", str(empty)]) == 2
    assert "empty.json is empty" in capsys.readouterr().err
    fixture = tmp_path / "ok.json"
    fixture.write_text(json.dumps(digest(changeSummary={"same": 1})))
    assert main(["review", str(fixture)]) == 0
    assert "0 flagged (residency or access)" in capsys.readouterr().out


# --------------------------------------------------------------------------- the offline verdict on a complete preview

DATA_PROVIDER = "urn:pulumi:dublin::eu-data-enclave::pulumi:providers:aws::enclave-dublin-data"
DUBLIN_STACK = "urn:pulumi:dublin::eu-data-enclave::pulumi:pulumi:Stack::eu-data-enclave-dublin"
TAGS = {"enclave:site": "dublin", "enclave:region": "eu-west-1", "data-classification": "personal-data"}


def complete_preview() -> dict:
    """A `pulumi preview --json --show-sames` of a small dublin program: its provider, a bucket created without
    protection, encryption or public access block, and a same step, with source positions."""
    provider = {
        "urn": DATA_PROVIDER,
        "custom": True,
        "type": "pulumi:providers:aws",
        "inputs": {
            "region": "eu-west-1",
            "allowedAccountIds": '["111111111111"]',
            "defaultTags": json.dumps({"tags": TAGS}),
            "version": "7.51.1",
        },
        "parent": DUBLIN_STACK,
    }
    bucket_urn = "urn:pulumi:dublin::eu-data-enclave::aws:s3/bucket:Bucket::scratch"
    bucket = {
        "urn": bucket_urn,
        "custom": True,
        "type": "aws:s3/bucket:Bucket",
        "inputs": {"__defaults": [], "bucket": "enclave-dublin-scratch", "tags": TAGS},
        "parent": DUBLIN_STACK,
        "provider": f"{DATA_PROVIDER}::0d3c",
        "sourcePosition": "project:///components/scratch.py#17,5",
    }
    root = {"urn": DUBLIN_STACK, "custom": False, "type": "pulumi:pulumi:Stack"}
    return {
        "config": {"eu-data-enclave:region": "eu-west-1"},
        "steps": [
            {"op": "same", "urn": DUBLIN_STACK, "oldState": root, "newState": root},
            {"op": "same", "urn": DATA_PROVIDER, "oldState": {**provider, "id": "0d3c"}, "newState": provider},
            {
                "op": "create",
                "urn": bucket_urn,
                "provider": f"{DATA_PROVIDER}::0d3c",
                "newState": bucket,
                "detailedDiff": None,
            },
        ],
        "changeSummary": {"same": 2, "create": 1},
    }


def test_complete_preview_gets_the_packs_verdict_with_source_positions(tmp_path):
    config = str(Path(__file__).resolve().parent.parent / "policy" / "config" / "dublin.json")
    text = run_review(tmp_path, complete_preview(), "--policy-config", config, code=1)
    assert text.startswith("VERDICT dublin: FAIL:"), text.splitlines()[0]
    assert "  data-protected (1):" in text and "  no-public-data (1):" in text
    assert "scratch (aws:s3/bucket:Bucket) at components/scratch.py:17:" in text
    sarif = json.loads(run_review(tmp_path, complete_preview(), "--policy-config", config, "--format", "sarif", code=1))
    from tests.test_formats import sarif_errors

    assert sarif_errors(sarif) == []
    on_bucket = [r for r in sarif["runs"][0]["results"] if r["properties"]["urn"].endswith("::scratch")]
    assert {r["ruleId"] for r in on_bucket} >= {"data-protected", "operator-held-encryption"}
    for result in on_bucket:
        where = result["locations"][0]["physicalLocation"]
        assert where["artifactLocation"]["uri"].endswith("components/scratch.py") and where["region"]["startLine"] == 17


def test_a_partial_preview_is_not_judged_offline_and_says_why(tmp_path):
    data = complete_preview()
    data["steps"] = [s for s in data["steps"] if s["urn"] != DATA_PROVIDER]  # the default digest hides sames
    text = run_review(tmp_path, data, "--format", "json")
    doc = json.loads(text)
    assert doc["verdict"]["status"] == "UNKNOWN" and not doc["failed"]
    assert "1 same not shown; run `pulumi preview --json --show-sames`" in doc["verdict"]["notes"][0]


def test_review_github_comment_starts_with_its_marker_and_verdict(tmp_path):
    config = str(Path(__file__).resolve().parent.parent / "policy" / "config" / "dublin.json")
    body = run_review(tmp_path, complete_preview(), "--policy-config", config, "--format", "github", code=1)
    assert body.startswith("<!-- eu-data-enclave:review -->\n## enclave review: preview.json: ❌ FAIL")
    assert body.index("**❌ FAIL** `dublin`") < body.index("### enclave review: preview.json")
    out = tmp_path / "comment.md"
    run_review(
        tmp_path, complete_preview(), "--policy-config", config, "--format", "github", "--output", str(out), code=1
    )
    assert out.read_text(encoding="utf-8") == body
