"""`enclave plan`: byte-stable snapshots, redacted secrets, the stale check, the Markdown summary."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from enclave import plan
from enclave.cli import EXIT_FAIL, EXIT_OK, UsageError
from enclave.harness import PROJECT_DIR

SECRET = "hunter2-must-never-leak"

# A small program on the project's own components: what the previews must handle
# (a key, an encrypted bucket, a bucket policy, a security-group rule, a secret).
PROGRAM = """
import json

import pulumi
import pulumi_aws as aws

from components.config import load_site_config
from components.site_providers import SiteProviders, SiteProvidersArgs

cfg = load_site_config()
providers = SiteProviders(cfg.name_prefix, SiteProvidersArgs(config=cfg))
data = pulumi.ResourceOptions(provider=providers.data)
READERS = ["arn:aws:iam::111111111111:role/reader"]
KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Operator", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                   "Action": "kms:*", "Resource": "*"}],
}
key = aws.kms.Key("key", description="site key", policy=json.dumps(KEY_POLICY),
                  opts=pulumi.ResourceOptions(provider=providers.operator, protect=True))
bucket = aws.s3.Bucket("user-data", bucket=cfg.bucket_name("user-data"), tags={"team": "data"}, opts=data)
aws.s3.BucketServerSideEncryptionConfiguration(
    "user-data-sse",
    bucket=bucket.id,
    rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms", kms_master_key_id=key.arn))],
    opts=data,
)
aws.s3.BucketPolicy(
    "user-data-policy",
    bucket=bucket.id,
    policy=bucket.arn.apply(lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Readers", "Effect": "Allow", "Principal": {"AWS": READERS},
         "Action": ["s3:GetObject"], "Resource": f"{arn}/*"}]})),
    opts=data,
)
vpc = aws.ec2.Vpc("vpc", cidr_block="10.20.0.0/16", opts=data)
sg = aws.ec2.SecurityGroup("workload", vpc_id=vpc.id, description="workload", opts=data)
aws.vpc.SecurityGroupEgressRule("workload-https", security_group_id=sg.id, ip_protocol="tcp",
                                from_port=443, to_port=443, cidr_ipv4="10.20.0.0/16", opts=data)
aws.ssm.Parameter("pepper", type="SecureString", value=pulumi.Output.secret(SECRET_VALUE), opts=data)
"""


def write_program(root: Path, extra: str = "", replace: dict[str, str] | None = None) -> Path:
    """A copy of the fixture program (with the project's config and stacks) in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "Pulumi.dublin.yaml", "Pulumi.hamar.yaml"):
        shutil.copy(PROJECT_DIR / name, root / name)
    text = f"SECRET_VALUE = {SECRET!r}\n" + PROGRAM
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    (root / "__main__.py").write_text(text + extra)
    return root


def plan_args(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    plan.add_arguments(parser)
    argv = []
    for key, value in kw.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        else:
            for v in value if isinstance(value, list) else [value]:
                argv += [flag, str(v)]
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    return write_program(tmp_path_factory.mktemp("program"))


@pytest.fixture(scope="module")
def rendered(program) -> dict[str, str]:
    return plan.render_stack("dublin", program)


def test_snapshot_is_canonical_json(rendered):
    text = rendered["dublin.json"]
    snap = json.loads(text)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(snap, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    urns = [r["urn"] for r in snap["resources"]]
    assert urns == sorted(urns)
    by_name = {r["name"]: r for r in snap["resources"]}
    key = by_name["key"]
    assert key["options"]["protect"] is True, key["urn"]
    assert key["provider"].endswith("pulumi:providers:aws::enclave-dublin-operator"), key["provider"]
    assert key["region"] == "eu-west-1"
    # A policy document is stored parsed, so its Git diff is statement by statement.
    assert key["inputs"]["policy"]["$json"]["Statement"][0]["Sid"] == "Operator"
    # Provider inputs arrive JSON-encoded on the wire; the snapshot holds the values.
    assert by_name["enclave-dublin-data"]["inputs"]["allowedAccountIds"] == ["111111111111"]
    assert by_name["enclave-dublin"]["region"] is None, "components have no region"
    assert str(PROJECT_DIR) not in text and "/tmp" not in text


def test_secret_inputs_never_reach_the_previews(program, rendered):
    for name, text in rendered.items():
        assert SECRET not in text, name
    pepper = next(r for r in json.loads(rendered["dublin.json"])["resources"] if r["name"] == "pepper")
    assert pepper["inputs"]["value"] == "[secret]", pepper["urn"]


def test_same_bytes_twice_in_process(program, rendered):
    assert plan.render_stack("dublin", program) == rendered


def test_same_bytes_across_processes_and_hash_seeds(program, rendered):
    code = (
        "import json, sys\nfrom pathlib import Path\nfrom enclave.plan import render_stack\n"
        "json.dump(render_stack('dublin', Path(sys.argv[1])), sys.stdout)"
    )
    # The in-process run is one side; a subprocess with another hash seed is the other.
    for seed in ("4242",):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(PROJECT_DIR)}
        out = subprocess.run(
            [sys.executable, "-c", code, str(program)], env=env, capture_output=True, text=True, cwd=PROJECT_DIR
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == rendered, f"PYTHONHASHSEED={seed} changed the previews"


def test_markdown_names_the_key_and_the_policy(rendered):
    md = rendered["dublin.md"]
    row = next(line for line in md.splitlines() if line.startswith("| `user-data` |"))
    assert "| eu-west-1 | key |" in row, row
    assert "Readers: arn:aws:iam::111111111111:role/reader" in row, row
    assert "## Policy verdict" in md and "```mermaid" in md
    assert "-->|encrypted by|" in md
    dot = rendered["dublin.dot"]
    assert dot.startswith('digraph "dublin" {') and "encrypted by" in dot


def test_markdown_carries_the_policy_verdict(rendered):
    # The fixture program breaks the residency pack (e.g. its buckets lack a public access block).
    md = rendered["dublin.md"]
    verdict = md.split("## Policy verdict", 1)[1].split("## Components", 1)[0]
    assert "**FAIL**" in verdict and "| mandatory |" in verdict, verdict
    assert "unavailable" not in verdict


def test_plan_writes_then_check_passes(program, tmp_path, capsys):
    out = tmp_path / "previews"
    assert plan.run(plan_args(all=True, program=program, out=out)) == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == [
        f"{s}.{e}" for s in ("dublin", "hamar") for e in ("dot", "json", "md")
    ]
    assert plan.run(plan_args(check=True, program=program, out=out)) == EXIT_OK
    assert "previews are current" in capsys.readouterr().out


def test_check_names_each_stale_file(program, tmp_path, capsys):
    out = tmp_path / "previews"
    plan.run(plan_args(all=True, program=program, out=out))
    snap = json.loads((out / "dublin.json").read_text())
    snap["resources"] = snap["resources"][1:]
    (out / "dublin.json").write_text(json.dumps(snap, sort_keys=True, indent=2) + "\n")
    (out / "hamar.md").write_text("edited by hand\n")
    capsys.readouterr()
    assert plan.run(plan_args(check=True, program=program, out=out)) == EXIT_FAIL
    err = capsys.readouterr().err.splitlines()
    assert f"{os.path.relpath(out / 'dublin.json')} is stale: run python -m enclave plan --all" in err
    assert any(line.startswith(os.path.relpath(out / "hamar.md")) for line in err), err
    assert not any("hamar.json" in line for line in err), err


def test_check_flags_a_preview_of_a_removed_stack(program, tmp_path, capsys):
    out = tmp_path / "previews"
    plan.run(plan_args(all=True, program=program, out=out))
    (out / "oslo.json").write_text("{}\n")
    assert plan.run(plan_args(check=True, program=program, out=out)) == EXIT_FAIL
    assert "oslo.json is stale" in capsys.readouterr().err


def test_check_fails_when_the_program_changes(program, tmp_path):
    out = tmp_path / "previews"
    plan.run(plan_args(stack="dublin", program=program, out=out))
    changed = write_program(tmp_path / "changed", replace={"from_port=443": "from_port=22"})
    assert plan.run(plan_args(check=True, stack="dublin", program=changed, out=out)) == EXIT_FAIL


def test_bad_input_is_a_usage_error(program, tmp_path):
    with pytest.raises(UsageError, match="unknown stack 'oslo'"):
        plan.run(plan_args(stack="oslo", program=program, out=tmp_path))
    with pytest.raises(UsageError, match="--stack NAME .* or --all"):
        plan.run(plan_args(program=program, out=tmp_path))
    with pytest.raises(UsageError, match="no Pulumi.yaml"):
        plan.run(plan_args(all=True, program=tmp_path, out=tmp_path))
    broken = write_program(tmp_path / "broken", extra="\nraise RuntimeError('boom')\n")
    with pytest.raises(UsageError, match="boom"):
        plan.run(plan_args(all=True, program=broken, out=tmp_path / "out"))
    assert not (tmp_path / "out").exists(), "a failing stack must leave no previews behind"


def test_committed_previews_match_the_program(capsys):
    """What CI relies on: the committed previews/ are those of the program as committed."""
    code = plan.run(plan_args(check=True))
    assert code == EXIT_OK, capsys.readouterr().err


def _secret_values(recorded, redacted):
    """Plain values the harness recorded as secrets (where the redacted copy says "[secret]")."""
    if redacted == "[secret]":
        yield recorded
    elif isinstance(redacted, dict):
        for k, v in redacted.items():
            yield from _secret_values(recorded.get(k), v)
    elif isinstance(redacted, list):
        for r, v in zip(recorded, redacted, strict=False):
            yield from _secret_values(r, v)


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_real_program_secrets_stay_out_of_its_previews(program_run, stack):
    from enclave.snapshot import build_snapshot, dumps

    run = program_run(stack)
    snapshot = build_snapshot(run)
    texts = [dumps(snapshot), plan.render_markdown(run, snapshot, []), plan.render_dot(run, snapshot)]
    for res in run.resources:
        for value in _secret_values(res.inputs, res.redacted_inputs):
            for text in texts:
                assert json.dumps(value)[1:-1] not in text, f"{res.urn}: a secret input reached the preview"


def test_adding_one_resource_changes_only_its_own_diagram_lines(program, rendered, tmp_path):
    import difflib

    bigger = write_program(
        tmp_path / "bigger",
        extra='\naws.s3.Bucket("aaa-first", bucket="enclave-dublin-aaa", opts=data)\n',
    )
    after = plan.render_stack("dublin", bigger)

    def diagram(name: str, text: str) -> list[str]:
        return text.split("```mermaid", 1)[1].splitlines() if name.endswith(".md") else text.splitlines()

    for name in ("dublin.dot", "dublin.md"):
        diff = [
            line
            for line in difflib.unified_diff(
                diagram(name, rendered[name]), diagram(name, after[name]), lineterm="", n=0
            )
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        # Only the new node's line: no other node is renumbered (ids come from names and URNs).
        assert len(diff) == 1 and diff[0].startswith("+") and "aaa_first_" in diff[0], (name, diff)


def test_a_failed_write_leaves_the_previous_previews(program, tmp_path, capsys):
    out = tmp_path / "previews"
    assert plan.run(plan_args(all=True, program=program, out=out)) == EXIT_OK
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    changed = write_program(tmp_path / "changed", replace={"from_port=443": "from_port=22"})
    (out / "hamar.md").unlink()
    (out / "hamar.md").mkdir()  # one target cannot be written
    with pytest.raises(UsageError, match="hamar.md: it is a directory"):
        plan.run(plan_args(all=True, program=changed, out=out))
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == {
        k: v for k, v in before.items() if k != "hamar.md"
    }, "dublin.json and the others are untouched"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary file left"
