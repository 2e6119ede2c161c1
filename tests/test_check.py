"""`python -m enclave check` on the real program and on variants that each add one violation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from enclave import check as check_module
from enclave.check import Violation, engine_props, evaluate, policy_config_from_stack
from enclave.cli import main
from enclave.harness import PROJECT_DIR, load_stack_config

STACKS = ("dublin", "hamar")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- the real project


@pytest.mark.parametrize("stack", STACKS)
def test_real_stack_json_report(capsys, stack, program_run):
    code, out, _err = run_cli(capsys, "--stack", stack, "--format", "json")
    report = json.loads(out)
    assert code == 0
    resources = len(program_run(stack).resources)
    assert report == {"stack": stack, "resources": resources, "violations": [], "exceptions": []}


def test_all_json_lists_every_stack(capsys):
    code, out, _err = run_cli(capsys, "--all", "--format", "json")
    assert code == 0
    assert [s["stack"] for s in json.loads(out)["stacks"]] == list(STACKS)


def test_evaluate_api_on_the_real_program(program_run):
    run = program_run("dublin")
    assert evaluate(run) == []
    # The evaluation really ran: a hostile config turns the same run red.
    bad = json.loads((PROJECT_DIR / "policy/config/dublin.json").read_text())
    bad["region-pinned"]["allowedRegion"] = "eu-central-1"
    violations = evaluate(run, bad)
    assert violations and {v.policy for v in violations} == {"region-pinned"}
    assert all(isinstance(v, Violation) and v.enforcement == "mandatory" for v in violations)
    assert any(v.type == "pulumi:providers:aws" for v in violations)


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_policy_config_agrees_with_the_stack_config(stack):
    from enclave.policy_config import disagreements, merge, render

    path = PROJECT_DIR / "policy" / "config" / f"{stack}.json"
    shipped = json.loads(path.read_text())
    derived = policy_config_from_stack(load_stack_config(PROJECT_DIR, stack), "eu-data-enclave")
    assert disagreements(shipped, derived) == []
    # What `enclave policy-config` writes is the file as committed, byte for byte.
    assert render(merge(shipped, derived)) == path.read_text()


def test_engine_props_match_the_sdk_proxy():
    value = {"a": [{"b": UNKNOWN_STRING_VALUE, "c": 1.0}], "d": {"e": ["x"]}, "f": "g"}
    fast, slow = engine_props(value), unknown_checking_proxy(value)
    assert fast["f"] == slow["f"] and fast["d"]["e"][0] == slow["d"]["e"][0] == "x"
    for proxy in (fast, slow):
        with pytest.raises(UnknownValueError) as exc:
            proxy["a"][0]["b"]  # noqa: B018 - the access is the test
        assert exc.value.message == "string value at .a.0.b can't be known during preview"


def test_entry_point_runs_as_a_module():
    proc = subprocess.run(
        [sys.executable, "-m", "enclave", "check", "--all"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS dublin" in proc.stdout and "PASS hamar" in proc.stdout


# --------------------------------------------------------------------------- violating variants

VARIANTS = {
    "replication": (
        "no-cross-region-replication",
        "bad-replication",
        """
        aws.s3.BucketReplicationConfig(
            "bad-replication",
            bucket=storage.data_bucket_name,
            role=f"arn:aws:iam::{cfg.data_account_id}:role/replicator",
            rules=[aws.s3.BucketReplicationConfigRuleArgs(
                status="Enabled",
                destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(bucket="arn:aws:s3:::elsewhere"),
            )],
            opts=pulumi.ResourceOptions(provider=data),
        )
        """,
    ),
    "region-override": (
        "region-pinned",
        "bad-queue",
        """
        aws.sqs.Queue("bad-queue", region="us-east-1", kms_master_key_id=key.key_arn,
                      opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "second-provider": (
        "region-pinned",
        "bad-bucket",
        """
        east = aws.Provider("east", region="us-east-1", allowed_account_ids=[cfg.data_account_id],
                            default_tags=aws.ProviderDefaultTagsArgs(tags=cfg.residency_tags))
        aws.s3.Bucket("bad-bucket", bucket="enclave-extra", opts=pulumi.ResourceOptions(provider=east, protect=True))
        """,
    ),
    "internet-gateway": (
        "no-egress",
        "bad-igw",
        """
        aws.ec2.InternetGateway("bad-igw", vpc_id=network.vpc_id, opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "world-egress": (
        "no-egress",
        "bad-egress",
        """
        aws.vpc.SecurityGroupEgressRule("bad-egress", security_group_id=network.workload_security_group_id,
                                        ip_protocol="-1", cidr_ipv4="0.0.0.0/0",
                                        opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "multi-region-key": (
        "no-cross-region-replication",
        "bad-key",
        """
        aws.kms.Key("bad-key", multi_region=True, deletion_window_in_days=30,
                    opts=pulumi.ResourceOptions(provider=providers.operator, protect=True))
        """,
    ),
    "default-provider": (
        "region-pinned",
        "bad-default",
        """
        aws.sqs.Queue("bad-default", kms_master_key_id=key.key_arn)
        """,
    ),
    "aws-managed-key": (
        "operator-held-encryption",
        "bad-secret",
        """
        aws.secretsmanager.Secret("bad-secret", kms_key_id="alias/aws/secretsmanager",
                                  opts=pulumi.ResourceOptions(provider=data, protect=True))
        """,
    ),
    "secret-replica": (
        "no-cross-region-replication",
        "bad-replica",
        """
        aws.secretsmanager.Secret("bad-replica", kms_key_id=key.key_arn,
                                  replicas=[aws.secretsmanager.SecretReplicaArgs(region="eu-central-1")],
                                  opts=pulumi.ResourceOptions(provider=data, protect=True))
        """,
    ),
    "multi-region-trail": (
        "audit-on",
        "bad-trail",
        """
        aws.cloudtrail.Trail("bad-trail", s3_bucket_name=audit.log_bucket_name, is_multi_region_trail=True,
                             enable_log_file_validation=True, kms_key_id=key.key_arn,
                             opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "unprotected-key": (
        "data-protected",
        "bad-unprotected",
        """
        aws.kms.Key("bad-unprotected", deletion_window_in_days=7, opts=pulumi.ResourceOptions(provider=providers.operator))
        """,
    ),
    "public-policy": (
        "no-public-data",
        "bad-policy",
        """
        aws.sqs.QueuePolicy("bad-policy", queue_url="https://sqs.eu-west-1.amazonaws.com/1/q",
                            policy='{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*"}]}',
                            opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "contradicting-tag": (
        "residency-tags",
        "bad-tags",
        """
        aws.sqs.Queue("bad-tags", kms_master_key_id=key.key_arn, tags={"enclave:region": "us-east-1"},
                      opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    # The perimeter families: each is one ordinary program change that moves data out by a means no
    # list of known mechanisms names.
    "unreviewed-type": (
        "reviewed-types",
        "bad-video",
        """
        aws.kinesis.VideoStream("bad-video", data_retention_in_hours=1, opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "https-endpoint-outside-aws": (
        "no-egress",
        "bad-webhook",
        """
        aws.ssm.Parameter("bad-webhook", type="String", value="https://hooks.partner.example/ingest",
                          opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "function-outside-the-vpc": (
        "no-egress",
        "bad-function",
        """
        aws.lambda_.Function("bad-function", role=gates.workload_role_arn, runtime="python3.12", handler="index.handler",
                             code=pulumi.AssetArchive({"index.py": pulumi.StringAsset("def handler(e, c): return e")}),
                             opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "shared-with-another-account": (
        "identity-perimeter",
        "bad-share",
        """
        share = aws.ram.ResourceShare("bad-share-share", name="bad-share", allow_external_principals=False,
                                      opts=pulumi.ResourceOptions(provider=data))
        aws.ram.PrincipalAssociation("bad-share", principal="999999999999", resource_share_arn=share.arn,
                                     opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "region-in-a-hostname": (
        "no-cross-region-replication",
        "bad-endpoint",
        """
        aws.ssm.Parameter("bad-endpoint", type="String", value="s3.us-east-1.amazonaws.com",
                          opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "region-inside-a-json-document": (
        "no-cross-region-replication",
        "bad-machine",
        """
        aws.sfn.StateMachine("bad-machine", role_arn=gates.workload_role_arn, definition=json.dumps({
            "StartAt": "Copy", "States": {"Copy": {"Type": "Task", "End": True,
            "Resource": f"arn:aws:lambda:us-east-1:{cfg.data_account_id}:function:copy"}}}),
            opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "vpc-without-a-dns-firewall": (
        "no-egress",
        "bad-vpc",
        """
        aws.ec2.Vpc("bad-vpc", cidr_block="10.99.0.0/16", opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
    "logs-to-a-bucket-of-nobody-knows": (
        "no-cross-region-replication",
        "bad-logging",
        """
        aws.s3.BucketLogging("bad-logging", bucket=storage.log_bucket_name, target_bucket="central-logs-bucket",
                             target_prefix="enclave/", opts=pulumi.ResourceOptions(provider=data))
        """,
    ),
}


def make_variant(tmp_path: Path, code: str) -> Path:
    """A copy of the real program with ``code`` appended to its __main__.py (no policy/ dir: config is derived)."""
    code = f"import json\n{textwrap.dedent(code)}"
    program = tmp_path / "program"
    program.mkdir(parents=True)
    shutil.copytree(PROJECT_DIR / "components", program / "components", ignore=shutil.ignore_patterns("__pycache__"))
    for path in PROJECT_DIR.glob("Pulumi*.yaml"):
        shutil.copy(path, program / path.name)
    main_py = (PROJECT_DIR / "__main__.py").read_text()
    (program / "__main__.py").write_text(f"{main_py}\nimport pulumi_aws as aws\n{code}")
    return program


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_violating_variant_fails_with_the_right_rule(tmp_path, capsys, variant):
    policy, resource, code = VARIANTS[variant]
    program = make_variant(tmp_path, code)
    exit_code, out, err = run_cli(capsys, "--stack", "dublin", "--program", str(program), "--format", "json")
    assert exit_code == 1, out + err
    violations = json.loads(out)["violations"]
    assert any(v["policy"] == policy and v["name"] == resource for v in violations), violations
    # Nothing of the real program is blamed, except the real trail when a second one makes two.
    allowed = {resource, "east"} | ({"enclave-dublin-audit-trail"} if policy == "audit-on" else set())
    assert {v["name"] for v in violations} <= allowed, violations


def test_unmodified_copy_passes_with_derived_config(tmp_path, capsys):
    program = make_variant(tmp_path, "")
    code, out, err = run_cli(capsys, "--stack", "hamar", "--program", str(program))
    assert code == 0, out + err
    assert out.startswith("PASS hamar: ")


def test_text_report_names_policy_resource_and_fix(tmp_path, capsys):
    _policy, _resource, code = VARIANTS["internet-gateway"]
    exit_code, out, _err = run_cli(capsys, "--stack", "dublin", "--program", str(make_variant(tmp_path, code)))
    assert exit_code == 1
    assert out.startswith("FAIL dublin: ")
    assert "[mandatory] no-egress: aws:ec2/internetGateway:InternetGateway bad-igw" in out
    assert "Remove it" in out


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["--stack", "frankfurt"], "Pulumi.frankfurt.yaml does not exist"),
        (["--stack", "dublin", "--program", "/nonexistent/dir"], "no such directory"),
        (["--stack", "dublin", "--policy-config", "/nonexistent.json"], "no such file"),
    ],
)
def test_bad_input_exits_2_with_a_message(capsys, argv, expected):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1, err


@pytest.mark.parametrize("argv", [["--stack", "dublin", "--format", "yaml"], [], ["--stack", "dublin", "--all"]])
def test_bad_arguments_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(["check", *argv])
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_policy_config_naming_an_unknown_policy_is_a_warning_as_in_the_cli(tmp_path, capsys):
    doc = json.loads((PROJECT_DIR / "policy/config/dublin.json").read_text())
    doc["no-such-rule"] = {}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, _out, err = run_cli(capsys, "--stack", "dublin", "--policy-config", str(bad))
    assert code == 0 and "warning:" in err and "no policy named 'no-such-rule'" in err


def test_policy_config_missing_a_required_key_is_refused(tmp_path, capsys):
    doc = json.loads((PROJECT_DIR / "policy/config/dublin.json").read_text())
    del doc["region-pinned"]["operatorAccountId"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, _out, err = run_cli(capsys, "--stack", "dublin", "--policy-config", str(bad))
    assert code == 2 and "'region-pinned' needs 'operatorAccountId'" in err


def test_broken_stack_config_exits_2(tmp_path, capsys):
    program = make_variant(tmp_path, "")
    stack_file = program / "Pulumi.dublin.yaml"
    stack_file.write_text(stack_file.read_text().replace("eu-west-1\n", "us-east-1\n", 1))
    code, out, err = run_cli(capsys, "--stack", "dublin", "--program", str(program))
    assert code == 2 and out == "" and "error:" in err


def test_program_without_region_config_cannot_derive_policy_config(tmp_path, capsys):
    program = tmp_path / "p"
    program.mkdir(parents=True)
    (program / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    (program / "Pulumi.dev.yaml").write_text("config: {}\n")
    (program / "__main__.py").write_text("import pulumi\n")
    code, _out, err = run_cli(capsys, "--stack", "dev", "--program", str(program))
    assert code == 2 and "cannot derive the policy config" in err and "other:region" in err


def test_policy_dir_is_importable_without_starting_the_pack():
    assert check_module.POLICY_DIR == PROJECT_DIR / "policy"
    assert len(check_module.load_policies()) == 10


def test_enforcement_level_from_policy_config_downgrades_like_the_cli(program_run):
    run = program_run("dublin")
    doc = json.loads((PROJECT_DIR / "policy/config/dublin.json").read_text())
    doc["region-pinned"].update(allowedRegion="eu-central-1", enforcementLevel="advisory")
    violations = evaluate(run, doc)
    assert violations and all(v.enforcement == "advisory" and not v.mandatory for v in violations)
    doc["region-pinned"]["enforcementLevel"] = "disabled"
    assert evaluate(run, doc) == []


def test_bad_enforcement_level_in_policy_config_is_refused(tmp_path, capsys):
    doc = json.loads((PROJECT_DIR / "policy/config/dublin.json").read_text())
    doc["no-egress"]["enforcementLevel"] = "strict"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, _out, err = run_cli(capsys, "--stack", "dublin", "--policy-config", str(bad))
    assert code == 2 and "enforcementLevel 'strict'" in err


def test_policy_errors_are_reported_like_the_engine(program_run, monkeypatch):
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

    def touches_unknown(args, report):
        args.props["x"]  # noqa: B018 - the engine's proxy raises on this access

    def crashes(args, report):
        raise RuntimeError("boom")

    run = program_run("dublin")
    rec = next(r for r in run.resources if r.type == "aws:s3/bucket:Bucket")
    rec_copy = type(rec)(**{**rec.__dict__, "inputs": {"x": UNKNOWN_STRING_VALUE}})
    from enclave.harness import ProgramRun

    one = ProgramRun(run.project, run.stack, run.config, [rec_copy], {})
    policies = [
        ResourceValidationPolicy("lenient", "d.", touches_unknown, EnforcementLevel.MANDATORY),
        ResourceValidationPolicy("broken", "d.", crashes, EnforcementLevel.ADVISORY),
    ]
    monkeypatch.setattr(check_module, "load_policies", lambda: policies)
    found = {v.policy: v for v in evaluate(one, {})}
    # CrossGuard's default: an unknown value makes the policy an advisory no-op...
    assert found["lenient"].enforcement == "advisory" and "during preview" in found["lenient"].message
    # ...while a crashing policy fails the run, whatever its level.
    assert found["broken"].enforcement == "mandatory" and "RuntimeError: boom" in found["broken"].message


def preview_of(run):
    """The run as a first ``pulumi preview`` would show it: values computed by other resources are unknown.

    A leaf equal to a computed output (id, ARN, ...) of a resource the property
    depends on becomes the unknown sentinel, and so does any string built from
    one (``Output.json_dumps`` documents), as the engine shows them.
    """
    import dataclasses

    from enclave.harness import ProgramRun

    by_urn = run.by_urn()

    def computed(urn):
        dep = by_urn.get(urn)
        if dep is None or not dep.custom or dep.type.startswith("pulumi:providers:"):
            return set()
        return {
            v
            for k, v in dep.outputs.items()
            if k not in dep.inputs and isinstance(v, str) and (k in ("id", "arn") or k.endswith(("Id", "Arn")))
        }

    def blank(value, values):
        if isinstance(value, str):
            return UNKNOWN_STRING_VALUE if any(v in value for v in values) else value
        if isinstance(value, dict):
            return {k: blank(v, values) for k, v in value.items()}
        if isinstance(value, list):
            return [blank(v, values) for v in value]
        return value

    resources = []
    for rec in run.resources:
        inputs = dict(rec.inputs)
        for prop, deps in rec.property_dependencies.items():
            values = set().union(*(computed(u) for u in deps)) if deps else set()
            if prop in inputs and values:
                inputs[prop] = blank(inputs[prop], values)
        outputs = {**rec.outputs, **inputs} if rec.custom else rec.outputs
        resources.append(dataclasses.replace(rec, inputs=inputs, outputs=outputs))
    return ProgramRun(run.project, run.stack, run.config, resources, {})


@pytest.mark.parametrize("stack", STACKS)
def test_a_first_preview_with_unknown_values_still_passes(program_run, stack):
    run = program_run(stack)
    preview = preview_of(run)
    unknown = sum(UNKNOWN_STRING_VALUE in json.dumps(r.inputs) for r in preview.resources)
    assert unknown >= 10, "the simulated preview must actually hide computed values"
    # Key ARNs resolve through their dependency on the operator key; bucket and
    # secret policies are guarded by AWS's own public-policy blocks.
    assert [v for v in evaluate(preview) if v.mandatory] == []


def test_a_preview_with_a_data_account_key_still_fails(program_run):
    run = preview_of(program_run("dublin"))
    key = next(r for r in run.resources if r.type == "aws:kms/key:Key")
    data_provider = next(r for r in run.resources if r.type == "pulumi:providers:aws" and r.name.endswith("-data"))
    key.provider = f"{data_provider.urn}::{data_provider.id}"
    violations = [v for v in evaluate(run) if v.policy == "operator-held-encryption"]
    assert violations and all("not pinned to the operator account" in v.message for v in violations), violations


# --------------------------------------------------------------------------- what the perimeter must let through

# An ordinary in-region data platform added to the site: each resource is a common choice, placed and
# keyed the way the pack asks, and the pack must not refuse any of it.
COMPLIANT_PLATFORM = """
subnets = network.private_subnet_ids
queue = aws.sqs.Queue("jobs", kms_master_key_id=key.key_arn, opts=pulumi.ResourceOptions(provider=data))
table = aws.dynamodb.Table(
    "records", hash_key="id", attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
    billing_mode="PAY_PER_REQUEST", deletion_protection_enabled=True,
    server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True, kms_key_arn=key.key_arn),
    opts=pulumi.ResourceOptions(provider=data, protect=True))
logs = aws.cloudwatch.LogGroup("worker-logs", retention_in_days=365, kms_key_id=key.key_arn,
                               opts=pulumi.ResourceOptions(provider=data))
aws.lambda_.Function(
    "worker", role=gates.workload_role_arn, runtime="python3.12", handler="index.handler",
    code=pulumi.AssetArchive({"index.py": pulumi.StringAsset("def handler(event, context):\\n    return event\\n")}),
    vpc_config=aws.lambda_.FunctionVpcConfigArgs(subnet_ids=subnets, security_group_ids=[network.workload_security_group_id]),
    environment=aws.lambda_.FunctionEnvironmentArgs(variables={
        "QUEUE_ARN": queue.arn, "TABLE": table.name, "REGION": cfg.region,
        "SQS_ENDPOINT": f"https://sqs.{cfg.region}.amazonaws.com"}),
    logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=logs.name),
    opts=pulumi.ResourceOptions(provider=data))
aws.ssm.Parameter("worker-endpoint", type="String", value=f"https://dynamodb.{cfg.region}.amazonaws.com",
                  opts=pulumi.ResourceOptions(provider=data))
aws.cloudwatch.MetricAlarm(
    "queue-depth", comparison_operator="GreaterThanThreshold", evaluation_periods=1, metric_name="ApproximateNumberOfMessagesVisible",
    namespace="AWS/SQS", period=300, statistic="Maximum", threshold=1000, dimensions={"QueueName": queue.name},
    opts=pulumi.ResourceOptions(provider=data))

# Same-region replication and an inventory into a bucket of this program, in the site.
replica = aws.s3.Bucket("replica", bucket=f"{prefix}-replica-{cfg.data_account_id}",
                        opts=pulumi.ResourceOptions(provider=data, protect=True))
aws.s3.BucketServerSideEncryptionConfiguration(
    "replica-encryption", bucket=replica.id,
    rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms", kms_master_key_id=key.key_arn), bucket_key_enabled=True)],
    opts=pulumi.ResourceOptions(provider=data))
aws.s3.BucketPublicAccessBlock("replica-public-access", bucket=replica.id, block_public_acls=True, block_public_policy=True,
                               ignore_public_acls=True, restrict_public_buckets=True, opts=pulumi.ResourceOptions(provider=data))
aws.s3.BucketReplicationConfig(
    "same-region-replication", bucket=storage.data_bucket_name, role=gates.workload_role_arn,
    rules=[aws.s3.BucketReplicationConfigRuleArgs(
        id="in-region-copy", status="Enabled",
        source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
            sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(status="Enabled")),
        destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
            bucket=replica.arn, encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                replica_kms_key_id=key.key_arn)))],
    opts=pulumi.ResourceOptions(provider=data))
# Kinesis -> Firehose -> a site bucket: a stream-sourced Firehose stream stores nothing at rest (AWS refuses
# SSE on it), so the stream's operator key is what counts; an Amazon MQ broker whose instance type looks like a name.
clicks = aws.kinesis.Stream("clicks", stream_mode_details=aws.kinesis.StreamStreamModeDetailsArgs(stream_mode="ON_DEMAND"),
                            encryption_type="KMS", kms_key_id=key.key_arn, opts=pulumi.ResourceOptions(provider=data, protect=True))
aws.kinesis.FirehoseDeliveryStream(
    "clicks-to-lake", destination="extended_s3",
    kinesis_source_configuration=aws.kinesis.FirehoseDeliveryStreamKinesisSourceConfigurationArgs(
        kinesis_stream_arn=clicks.arn, role_arn=gates.workload_role_arn),
    extended_s3_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs(
        role_arn=gates.workload_role_arn, bucket_arn=storage.data_bucket_arn, kms_key_arn=key.key_arn, prefix="raw/clicks/"),
    opts=pulumi.ResourceOptions(provider=data))
aws.mq.Broker("events", broker_name="events", engine_type="ActiveMQ", engine_version="5.18", host_instance_type="mq.m5.large",
              publicly_accessible=False, subnet_ids=subnets.apply(lambda s: s[:1]),
              encryption_options=aws.mq.BrokerEncryptionOptionsArgs(use_aws_owned_key=False, kms_key_id=key.key_arn),
              security_groups=[network.workload_security_group_id],
              users=[aws.mq.BrokerUserArgs(username="app", password="correct-horse-battery-staple")],
              opts=pulumi.ResourceOptions(provider=data))
aws.s3.Inventory(
    "inventory", bucket=storage.data_bucket_name, included_object_versions="Current",
    schedule=aws.s3.InventoryScheduleArgs(frequency="Weekly"),
    destination=aws.s3.InventoryDestinationArgs(bucket=aws.s3.InventoryDestinationBucketArgs(
        format="Parquet", bucket_arn=replica.arn, account_id=cfg.data_account_id)),
    opts=pulumi.ResourceOptions(provider=data))
"""


@pytest.mark.parametrize("stack", STACKS)
def test_an_ordinary_in_region_platform_passes_the_perimeter(tmp_path, capsys, stack, program_run):
    program = make_variant(tmp_path, COMPLIANT_PLATFORM)
    code, out, err = run_cli(capsys, "--stack", stack, "--program", str(program), "--format", "json")
    assert code == 0, out + err
    assert json.loads(out)["resources"] == len(program_run(stack).resources) + 14


# A second DNS firewall rule group on the program's VPC (issue #12 built the first): one that lets names out.
LEAKY_DNS_FIREWALL = """
leaky = aws.route53.ResolverFirewallDomainList("dns-exfil", domains=["*.exfil.example"],
                                               opts=pulumi.ResourceOptions(provider=data))
group = aws.route53.ResolverFirewallRuleGroup("dns-extra-rules", opts=pulumi.ResourceOptions(provider=data))
aws.route53.ResolverFirewallRule("dns-allow", action="ALLOW", priority=100, firewall_domain_list_id=leaky.id,
                                 firewall_rule_group_id=group.id, opts=pulumi.ResourceOptions(provider=data))
aws.route53.ResolverFirewallRuleGroupAssociation("dns-extra-association", firewall_rule_group_id=group.id,
                                                 priority=300, vpc_id=network.vpc_id, mutation_protection="ENABLED",
                                                 opts=pulumi.ResourceOptions(provider=data))
"""


def test_a_dns_firewall_rule_that_lets_names_out_is_refused(tmp_path, capsys):
    code, out, err = run_cli(
        capsys, "--stack", "dublin", "--program", str(make_variant(tmp_path, LEAKY_DNS_FIREWALL)), "--format", "json"
    )
    violations = json.loads(out)["violations"]
    assert code == 1 and {(v["policy"], v["name"]) for v in violations} == {("no-egress", "dns-allow")}, violations
    assert "not an AWS name of eu-west-1" in violations[0]["message"]


def test_the_shipped_configs_require_the_dns_firewall_the_program_has(program_run):
    for stack in STACKS:
        shipped = json.loads((PROJECT_DIR / "policy" / "config" / f"{stack}.json").read_text())
        assert shipped["no-egress"].get("requireDnsFirewall", True) is True
        types = {r.type for r in program_run(stack).resources}
        assert "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation" in types
