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


# --------------------------------------------------------------------------- a reviewer's pull request, end to end

REVIEWER_PR = """
aws.vpc.SecurityGroupEgressRule("open-egress", security_group_id=network.workload_security_group_id,
                                ip_protocol="-1", cidr_ipv4="0.0.0.0/0", opts=pulumi.ResourceOptions(provider=data))
aws.s3.Bucket("scratch", bucket="enclave-dublin-scratch", opts=pulumi.ResourceOptions(provider=data))
"""


@pytest.fixture(scope="module")
def reviewer_pr(tmp_path_factory):
    """The real program, changed as in a risky pull request: open egress, an unencrypted bucket, and the
    protected user-data bucket renamed (a new URN: the engine deletes it and creates another)."""
    from tests.test_check import make_variant

    program = make_variant(tmp_path_factory.mktemp("pr"), REVIEWER_PR)
    storage = program / "components" / "regional_storage.py"
    text = storage.read_text()
    old = 'data = self._create_bucket(f"{name}-user-data", '
    assert old in text
    storage.write_text(text.replace(old, 'data = self._create_bucket(f"{name}-userdata", '))
    return program


def test_reviewer_pr_fails_with_the_verdict_first_and_data_loss_ranked_first(reviewer_pr, capsys):
    from enclave.cli import main

    code = main(
        ["diff", str(PROJECT_DIR / "previews" / "dublin.json"), ".", "--stack", "dublin", "--program", str(reviewer_pr)]
    )
    out = capsys.readouterr().out
    assert code == EXIT_FAIL
    lines = out.splitlines()
    assert lines[0].startswith("enclave diff: FAIL")
    assert lines[1].startswith("VERDICT dublin: FAIL: 4 mandatory violation(s) (4 brought by this change)"), lines[1]
    verdict = out.split("\n\n", 1)[0]
    for policy in ("no-egress", "operator-held-encryption", "data-protected", "no-public-data"):
        assert f"  {policy} (1):" in verdict, verdict
    ranked = [line for line in lines if line[:2] in ("!!", "  ") and ". [" in line]
    assert ranked[0].startswith("!! 1. [data loss] REPLACED enclave-dublin-storage-userdata  (aws:s3/bucket:Bucket)")
    assert "DATA LOSS: replaces a data-bearing Bucket" in out and "it is protected" in out
    flagged = {line.split("] ", 1)[1].split("  ")[0] for line in ranked if line.startswith("!!")}
    assert {"ADDED open-egress", "ADDED scratch"} <= flagged, flagged


def test_reviewer_pr_github_comment_and_json(reviewer_pr, capsys):
    from enclave import comment
    from enclave.cli import main

    base = [
        "diff",
        str(PROJECT_DIR / "previews" / "dublin.json"),
        ".",
        "--stack",
        "dublin",
        "--program",
        str(reviewer_pr),
    ]
    assert main([*base, "--format", "github"]) == EXIT_FAIL
    body = capsys.readouterr().out
    assert body.startswith("<!-- eu-data-enclave:diff -->\n## enclave diff: ❌ FAIL")
    assert comment.size(body) <= comment.CAP
    assert body.index("**❌ FAIL** `dublin`") < body.index("| 1 | 🛑 data loss |")
    assert main([*base, "--format", "json"]) == EXIT_FAIL
    doc = json.loads(capsys.readouterr().out)
    [stack] = doc["stacks"]
    assert doc["failed"] and stack["verdict"]["broughtByChange"] == 4
    assert stack["changes"][0]["risk"] == "data-loss" and stack["changes"][0]["kind"] == "replaced"


def test_reviewer_pr_sarif_has_a_result_on_the_right_file_and_line(reviewer_pr, capsys):
    from enclave.cli import main
    from tests.test_formats import sarif_errors

    assert main(["check", "--stack", "dublin", "--program", str(reviewer_pr), "--format", "sarif"]) == EXIT_FAIL
    doc = json.loads(capsys.readouterr().out)
    assert sarif_errors(doc) == []
    results = {r["properties"]["urn"].rsplit("::", 1)[-1]: r for r in doc["runs"][0]["results"]}
    egress = results["open-egress"]
    location = egress["locations"][0]["physicalLocation"]
    assert egress["ruleId"] == "no-egress" and egress["level"] == "error"
    # With source positions (the harness records each registration's) the result is on the line that
    # registers the rule; without them, on the entry point's first line.
    main_py = (reviewer_pr / "__main__.py").read_text().splitlines()
    line = next(i for i, text in enumerate(main_py, 1) if "open-egress" in text)
    assert location["artifactLocation"]["uri"].endswith("__main__.py")
    assert location["region"]["startLine"] in (line, 1)
    if "source position unknown" not in egress["message"]["text"]:
        assert location["region"]["startLine"] == line


# --------------------------------------------------------------------------- the risk model


@pytest.mark.parametrize(
    ("path", "old", "new", "note", "direction"),
    [
        ("cidrIpv4", "10.20.0.0/16", "0.0.0.0/0", "", "weakens"),
        ("cidrIpv4", "10.20.0.0/16", "10.20.1.0/24", "", "hardens"),
        ("ingress[0].cidrBlocks", ["10.0.0.0/8"], ["10.0.0.0/8", "::/0"], "", "weakens"),
        ("options.protect", True, False, "", "weakens"),
        ("enableKeyRotation", False, True, "", "hardens"),
        ("forceDestroy", False, True, "", "weakens"),
        ("versioningConfiguration.status", "Enabled", "Suspended", "", "weakens"),
        ("rule.defaultRetention.mode", "COMPLIANCE", "GOVERNANCE", "", "weakens"),
        ("deletionWindowInDays", 30, 7, "", "weakens"),
        ("eu-data-enclave:auditLogRetentionDays", "2555", "400", "", "weakens"),
        ("policy.Statement[Sid=X]", None, {"Effect": "Deny"}, "deny statement added", "hardens"),
        ("policy.Statement[0]", {"Effect": "Deny"}, None, "deny statement removed: may allow more", "weakens"),
        ("policy.Statement[0].Principal", "a", ["a", "b"], "widened", "weakens"),
        ("firewallFailOpen", "DISABLED", "ENABLED", "", "weakens"),
        ("tags.team", "a", "b", "", ""),
        ("description", "x", "y", "", ""),
    ],
)
def test_direction_of_a_change(path, old, new, note, direction):
    from enclave.snapshot import direction_of

    assert direction_of(path, old, new, note) == direction


def test_weakening_ranks_above_hardening_and_cosmetic_is_never_flagged():
    from enclave.snapshot import Change, ResourceChange, order

    harden = ResourceChange("changed", "urn:a", "aws:s3/bucketPolicy:BucketPolicy", "a", "access")
    harden.changes = [
        Change("policy.Statement[Sid=D]", None, {"Effect": "Deny"}, "access", note="deny statement added")
    ]
    weaken = ResourceChange("changed", "urn:z", "aws:kms/key:Key", "z", "protection")
    weaken.changes = [Change("deletionWindowInDays", 30, 7, "protection")]
    tags = ResourceChange(
        "changed", "urn:t", "aws:s3/bucket:Bucket", "t", "other", [Change("tags.x", "a", "b", "other")]
    )
    ranked = order([tags, harden, weaken])
    assert [rc.name for rc in ranked] == ["z", "a", "t"]
    assert [rc.flagged for rc in ranked] == [True, False, False]


@pytest.mark.parametrize(
    ("type_", "props", "expected"),
    [
        ("aws:s3/bucket:Bucket", {"bucket"}, ("replaced", ["bucket"])),
        ("aws:s3/bucket:Bucket", {"forceDestroy", "tags"}, ("changed", [])),
        ("aws:s3/bucket:Bucket", {"objectLockEnabled"}, ("may-replace", ["objectLockEnabled"])),
        ("aws:kms/key:Key", {"policy", "enableKeyRotation"}, ("changed", [])),
        ("aws:kms/key:Key", {"multiRegion"}, ("replaced", ["multiRegion"])),
        ("aws:ec2/securityGroup:SecurityGroup", {"description"}, ("replaced", ["description"])),
        ("aws:iam/role:Role", {"assumeRolePolicy"}, ("changed", [])),
        ("aws:iam/rolePolicy:RolePolicy", {"policy"}, ("changed", [])),
        ("aws:iam/rolePolicy:RolePolicy", {"role"}, ("replaced", ["role"])),
        ("aws:sqs/queue:Queue", {"visibilityTimeoutSeconds"}, ("may-replace", ["visibilityTimeoutSeconds"])),
        ("aws:sqs/queue:Queue", {"tags", "tagsAll"}, ("changed", [])),
    ],
)
def test_replacement_follows_the_providers_schema_or_says_may_replace(type_, props, expected):
    assert diff.replacement(type_, props) == expected
    assert diff.replacement("enclave:storage:RegionalStorage", props, custom=False) == ("changed", [])
    assert diff.replacement(type_, {"anything"}, ["*"]) == ("replaced", ["anything"])


def test_deleting_a_protected_or_data_bearing_resource_is_data_loss(before):
    after = json.loads(dumps(before))
    after["resources"] = [r for r in after["resources"] if r["name"] not in ("key", "user-data")]
    changes = diff.diff_snapshots(before, after)
    lost = [(rc.kind, rc.name) for rc in changes if rc.risk == "data-loss"]
    assert lost == [("removed", "user-data"), ("removed", "key")] or lost == [
        ("removed", "key"),
        ("removed", "user-data"),
    ]
    assert changes[0].risk == changes[1].risk == "data-loss" and all(rc.flagged for rc in changes[:2])
    key = next(rc for rc in changes if rc.name == "key")
    assert "deletes a data-bearing Key" in key.note and "it is protected" in key.note


def test_violations_already_on_the_base_are_shown_but_do_not_fail(before, tmp_path, capsys):
    """The fixture program breaks the pack on both sides: the change brings nothing new."""
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(dumps(before))
    new.write_text(dumps(before))
    assert diff.run(diff_args(str(old), str(new))) == EXIT_OK
    out = capsys.readouterr().out
    assert "VERDICT dublin: PASS (violations already on the base)" in out
    assert "[already on the base]" in out and "brought by this change" in out
    assert diff.run(diff_args(str(old), str(new), "--fail-on", "any")) == EXIT_FAIL
