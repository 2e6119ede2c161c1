"""`enclave diff`: real program changes come out flagged and in risk order; files, revisions, bad input."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from enclave import diff
from enclave.cli import EXIT_FAIL, EXIT_OK, UsageError
from enclave.harness import PROJECT_DIR, run_program
from enclave.snapshot import build_snapshot, dumps
from tests.test_plan import write_program

WIDER_READERS = 'READERS = ["arn:aws:iam::111111111111:role/reader", "arn:aws:iam::999999999999:root"]'
NEW_EGRESS = """
aws.vpc.SecurityGroupEgressRule("workload-anywhere", security_group_id=sg.id, ip_protocol="-1",
                                cidr_ipv4="0.0.0.0/0", opts=data)
"""


def snapshot_of(program: Path, stack: str = "dublin") -> dict:
    return build_snapshot(run_program(stack, program))


def diff_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    diff.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(scope="module")
def before(tmp_path_factory) -> dict:
    return snapshot_of(write_program(tmp_path_factory.mktemp("before")))


@pytest.fixture(scope="module")
def after(tmp_path_factory) -> dict:
    """The fixture program with a new egress rule, a widened bucket policy and a tag change."""
    program = write_program(
        tmp_path_factory.mktemp("after"),
        extra=NEW_EGRESS,
        replace={
            'READERS = ["arn:aws:iam::111111111111:role/reader"]': WIDER_READERS,
            'tags={"team": "data"}': 'tags={"team": "platform"}',
        },
    )
    return snapshot_of(program)


def test_identical_snapshots_have_no_changes(before):
    assert diff.diff_snapshots(before, json.loads(dumps(before))) == []


def test_real_changes_are_flagged_in_risk_order(before, after):
    changes = diff.diff_snapshots(before, after)
    summary = [(rc.kind, rc.name, rc.risk) for rc in changes]
    assert summary == [
        ("changed", "user-data-policy", "access"),
        ("added", "workload-anywhere", "network"),
        ("changed", "user-data", "other"),
    ], summary
    policy = changes[0]
    assert policy.flagged and changes[1].flagged and not changes[2].flagged
    [principal] = policy.changes
    assert principal.path == "policy.Statement[Sid=Readers].Principal", principal.path
    assert principal.old == {"AWS": ["arn:aws:iam::111111111111:role/reader"]}
    assert principal.new == {"AWS": ["arn:aws:iam::111111111111:role/reader", "arn:aws:iam::999999999999:root"]}
    assert principal.note == "widened"
    egress = {c.path: c.new for c in changes[1].changes}
    assert egress["cidrIpv4"] == "0.0.0.0/0" and egress["ipProtocol"] == "-1", egress


def test_text_output_puts_flagged_first(before, after):
    text = diff.render_text("enclave diff: stack dublin", diff.diff_snapshots(before, after))
    lines = text.splitlines()
    assert lines[1].strip() == "2 flagged (residency or access), 1 added, 0 removed, 0 replaced, 2 changed"
    headers = [line for line in lines if line[:2] in ("!!", "  ") and ". [" in line]
    assert headers[0].startswith("!! 1. [access policy] CHANGED user-data-policy"), headers
    assert headers[1].startswith("!! 2. [egress / routes] ADDED workload-anywhere"), headers
    assert headers[2].startswith("   3. [other] CHANGED user-data"), headers
    assert "+ 0.0.0.0/0" in text


def test_markdown_is_a_pr_comment(before, after):
    md = diff.render_markdown("enclave diff: stack dublin", diff.diff_snapshots(before, after))
    assert md.startswith("### enclave diff: stack dublin\n")
    assert "| 1 | ⚠️ access policy  weakens | changed | `user-data-policy` |" in md
    assert "| 3 | other | changed | `user-data` |" in md
    assert '+ {"AWS": ["arn:aws:iam::111111111111:role/reader", "arn:aws:iam::999999999999:root"]}' in md


def test_protection_region_and_replacement(before):
    after = json.loads(dumps(before))
    by_name = {r["name"]: r for r in after["resources"]}
    by_name["key"]["options"]["protect"] = False
    by_name["user-data"]["inputs"]["bucket"] = "renamed-bucket"
    by_name["user-data"]["region"] = "us-east-1"
    changes = diff.diff_snapshots(before, after)
    # Replacing the bucket loses its data: ranked first whatever else changed. Its configurations
    # read its name, so they change too; whether they are replaced only the provider knows.
    assert [(rc.kind, rc.name, rc.risk) for rc in changes] == [
        ("replaced", "user-data", "data-loss"),
        ("replaced", "user-data-policy", "access"),
        ("may-replace", "user-data-sse", "encryption"),
        ("changed", "key", "protection"),
    ]
    assert changes[0].flagged and "DATA LOSS: replaces a data-bearing Bucket" in changes[0].note
    assert changes[1].note.startswith("bucket: input from replaced user-data will change; forces replacement")
    assert changes[3].weakens and changes[3].changes[0].direction == "weakens", "protect turned off"
    bucket = changes[0]
    assert bucket.changes[0].path == "region" and bucket.changes[0].new == "us-east-1"
    assert bucket.note.endswith("; replaced because bucket, region changed")
    by_name["user-data"]["inputs"]["region"] = "us-east-1"  # the per-resource region input as well
    [bucket] = [rc for rc in diff.diff_snapshots(before, after) if rc.name == "user-data"]
    assert bucket.note.endswith("; replaced because bucket, region changed"), "each reason once"


def test_moved_resource_is_a_replacement(before):
    after = json.loads(dumps(before))
    vpc = next(r for r in after["resources"] if r["name"] == "vpc")
    vpc["urn"] = vpc["urn"].replace("::aws:ec2/vpc:Vpc::", "::enclave:net:Net$aws:ec2/vpc:Vpc::")
    vpc["parent"] = "urn:pulumi:dublin::eu-data-enclave::enclave:net:Net::net"
    changes = {rc.name: rc for rc in diff.diff_snapshots(before, after)}
    rc = changes.pop("vpc")
    assert (rc.kind, rc.risk) == ("replaced", "network")
    assert rc.note == "parent changed: (stack) -> net", rc.note
    # A new VPC id reaches the security group (vpcId forces a new group) and, through it, its rule.
    assert {n: d.kind for n, d in changes.items()} == {"workload": "replaced", "workload-https": "may-replace"}


def test_rename_is_a_replacement(before):
    after = json.loads(dumps(before))
    sg = next(r for r in after["resources"] if r["name"] == "workload")
    sg["urn"], sg["name"] = sg["urn"].replace("::workload", "::workload-v2"), "workload-v2"
    rc, rule = diff.diff_snapshots(before, after)
    assert (rc.kind, rc.name, rc.risk) == ("replaced", "workload-v2", "network")
    assert rc.note == "renamed: workload -> workload-v2 (without an alias the engine replaces it)"
    assert [c.path for c in rc.changes] == [], "the options follow the rename: no dependency noise"
    # The rule reads the group's id, which a replacement changes; the table cannot say if it replaces.
    assert (rule.kind, rule.name) == ("may-replace", "workload-https")
    assert "securityGroupId: input from replaced workload-v2 will change" in rule.note


def test_real_program_replication_outranks_protection(tmp_path, program_run):
    """The project's own program, copied, with replication, an open egress rule and a shorter log retention.

    Uses the names ``__main__.py`` gives its components (``providers``, ``storage``, ``network``).
    """
    program = tmp_path / "program"
    shutil.copytree(PROJECT_DIR / "components", program / "components", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("__main__.py", "Pulumi.yaml", "Pulumi.dublin.yaml"):
        shutil.copy(PROJECT_DIR / name, program / name)
    old = build_snapshot(program_run("dublin"))
    with (program / "__main__.py").open("a") as main:
        main.write(
            "\nimport pulumi_aws as aws\n"
            "aws.s3.BucketReplicationConfig('leak', bucket=storage.data_bucket_name,"
            " role='arn:aws:iam::111111111111:role/replicator',"
            " rules=[aws.s3.BucketReplicationConfigRuleArgs(status='Enabled',"
            " destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(bucket='arn:aws:s3:::copy-in-us-east-1'))],"
            " opts=pulumi.ResourceOptions(provider=providers.data))\n"
            "aws.vpc.SecurityGroupEgressRule('workload-anywhere', security_group_id=network.workload_security_group_id,"
            " ip_protocol='-1', cidr_ipv4='0.0.0.0/0', opts=pulumi.ResourceOptions(provider=providers.data))\n"
        )
    stack_file = program / "Pulumi.dublin.yaml"
    text = stack_file.read_text()
    assert "auditLogRetentionDays: 2555" in text
    stack_file.write_text(text.replace("auditLogRetentionDays: 2555", "auditLogRetentionDays: 400"))
    changes = diff.diff_snapshots(old, snapshot_of(program))
    summary = [(c.kind, c.name, c.risk) for c in changes]
    assert summary[:3] == [
        ("added", "leak", "replication"),
        ("added", "workload-anywhere", "network"),
        ("may-replace", "enclave-dublin-audit-object-lock", "protection"),
    ], summary
    assert ("changed", "stack config", "protection") in summary
    # The retention also reaches the audit bucket's object lock: a protection change as well.
    assert {risk for _, _, risk in summary[3:]} == {"protection"}, summary
    risks = [rc.rank for rc in changes]
    assert risks == sorted(risks), "riskiest first"
    config = next(rc for rc in changes if rc.urn == "(stack config)")
    assert config.risk == "protection"
    assert [(c.old, c.new) for c in config.changes] == [("2555", "400")], config.changes


def test_cli_compares_two_files(before, after, tmp_path, capsys):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(dumps(before))
    new.write_text(dumps(after))
    # The fixture program breaks the pack, and the change adds violations: the verdict fails.
    assert diff.run(diff_args(str(old), str(new), "--format", "markdown")) == EXIT_FAIL
    out = capsys.readouterr().out
    assert out.startswith(f"## enclave diff: ❌ FAIL ({old} -> {new})")
    assert f"### enclave diff: stack dublin ({old} -> {new})" in out
    assert diff.run(diff_args(str(old), str(new), "--soft-fail")) == EXIT_OK


def _git(repo: Path, *argv: str) -> None:
    subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True)


def test_cli_compares_two_git_revisions(before, after, tmp_path, capsys):
    repo = tmp_path / "repo"
    write_program(repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "ci@example.invalid")
    _git(repo, "config", "user.name", "ci")
    (repo / "previews").mkdir()
    (repo / "previews" / "dublin.json").write_text(dumps(before))
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "before")
    (repo / "previews" / "dublin.json").write_text(dumps(after))
    _git(repo, "commit", "-qam", "after")
    assert diff.run(diff_args("HEAD~1", "HEAD", "--program", str(repo))) == EXIT_FAIL
    out = capsys.readouterr().out
    assert out.startswith("enclave diff: FAIL (HEAD~1 -> HEAD)\nVERDICT dublin: FAIL")
    assert "enclave diff: stack dublin (HEAD~1 -> HEAD)" in out
    assert "!! 1. [access policy] CHANGED user-data-policy" in out
    with pytest.raises(UsageError, match="neither a snapshot file nor a git revision"):
        diff.run(diff_args("no-such-branch", "HEAD", "--program", str(repo)))
    with pytest.raises(UsageError, match="--stack hamar: neither"):
        diff.run(diff_args("HEAD~1", "HEAD", "--program", str(repo), "--stack", "hamar"))


def test_bad_files_are_usage_errors(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(dumps({"format": 1, "stack": "dublin", "config": {}, "resources": []}))
    with pytest.raises(UsageError, match="no such file"):
        diff.run(diff_args(str(tmp_path / "missing.json"), str(good)))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="bad.json: not JSON"):
        diff.run(diff_args(str(bad), str(good)))
    other = tmp_path / "preview.json"
    other.write_text('{"steps": []}')
    with pytest.raises(UsageError, match="not a plan snapshot"):
        diff.run(diff_args(str(other), str(good)))


ALLOW_GET = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
DENY_ALL = {
    "Effect": "Deny",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def policy_diff(old: list, new: list):
    from enclave.snapshot import diff_values

    return [
        (p, note)
        for p, _, _, note in diff_values("policy", {"$json": {"Statement": old}}, {"$json": {"Statement": new}})
    ]


def test_statements_without_sid_are_matched_by_content():
    assert policy_diff([ALLOW_GET, DENY_ALL], [DENY_ALL, ALLOW_GET]) == [], "reordering changes nothing"
    assert policy_diff([ALLOW_GET, DENY_ALL], [ALLOW_GET]) == [
        ("policy.Statement[1]", "deny statement removed: may allow more")
    ]
    wider = dict(ALLOW_GET, Action=["s3:GetObject", "s3:PutObject"])
    assert policy_diff([ALLOW_GET, DENY_ALL], [wider, DENY_ALL]) == [("policy.Statement[0].Action", "widened")]
    assert policy_diff([ALLOW_GET], [dict(ALLOW_GET, Action="s3:*")]) == [
        ("policy.Statement[0].Action", "wildcard added")
    ]


def test_condition_changes_are_shown_per_key():
    loose = dict(DENY_ALL, Condition={})
    assert policy_diff([DENY_ALL], [loose]) == [
        ("policy.Statement[0].Condition.Bool", "deny changed: check it still covers what it did")
    ]
    guarded = dict(ALLOW_GET, Condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}})
    assert policy_diff([guarded], [ALLOW_GET]) == [
        ("policy.Statement[0].Condition", "condition removed: may allow more")
    ]
    unguarded = dict(guarded, Condition={"StringEquals": {}})
    assert policy_diff([guarded], [unguarded]) == [
        ('policy.Statement[0].Condition.StringEquals["aws:SourceVpce"]', "condition removed: may allow more")
    ]


def test_two_sites_line_up_by_role(before, tmp_path):
    """dublin.json vs hamar.json: the same resources, each moved to the other region."""
    hamar = snapshot_of(write_program(tmp_path / "program"), "hamar")
    changes = diff.diff_snapshots(diff.neutralise_stack(before), diff.neutralise_stack(hamar))
    kinds = {rc.kind for rc in changes if rc.urn != "(stack config)"}
    assert "replaced" in kinds and kinds <= {"replaced", "may-replace", "changed"}, kinds
    key = next(rc for rc in changes if rc.name == "key")
    region = next(c for c in key.changes if c.path == "region")
    assert (region.old, region.new, region.risk) == ("eu-west-1", "eu-north-1", "residency")
