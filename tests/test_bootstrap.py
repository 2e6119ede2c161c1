"""Bootstrap on moto: creates the in-region state backend once, then changes nothing; refuses to fix a bad one."""

from __future__ import annotations

import json

import pytest

from enclave.audit.checks import run_checks
from enclave.cli import main
from tests.estate import assume, aws_environment, build_estate

aws_env = pytest.fixture(aws_environment)

BUCKET = "enclave-dublin-pulumi-state-111111111111"
ALIAS = "alias/enclave-dublin-pulumi-state"


@pytest.fixture
def data_account(aws_env, dublin_config, monkeypatch):
    """Environment credentials of the data account's deployment role; returns a boto3 client factory."""
    creds = assume(dublin_config, dublin_config.deployment_role_arn)
    for key, value in creds.items():
        monkeypatch.setenv(key.upper(), value)
    import boto3

    session = boto3.Session(region_name=dublin_config.region, **creds)
    return session.client


def bootstrap(capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["bootstrap", "--stack", "dublin", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_first_run_creates_the_backend_and_prints_how_to_use_it(data_account, capsys):
    code, out, _ = bootstrap(capsys)
    assert code == 0, out
    assert f"key {ALIAS}: created" in out
    assert f"bucket {BUCKET}: created" in out
    assert f"pulumi login 's3://{BUCKET}?region=eu-west-1&awssdk=v2'" in out
    assert f"--secrets-provider 'awskms://{ALIAS}?region=eu-west-1'" in out

    kms = data_account("kms")
    meta = kms.describe_key(KeyId=ALIAS)["KeyMetadata"]
    key = meta["Arn"]
    assert key.startswith("arn:aws:kms:eu-west-1:111111111111:key/")
    # moto omits MultiRegion on single-region keys; AWS answers false.
    assert meta.get("MultiRegion", False) is False
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    key_policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    assert any(s["Effect"] == "Deny" and "kms:ReplicateKey" in s["Action"] for s in key_policy["Statement"])

    s3 = data_account("s3")
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == "eu-west-1"
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    assert all(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    denies = {s["Sid"]: s for s in policy["Statement"] if s["Effect"] == "Deny"}
    assert denies["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert denies["DenyReplication"]["Action"] == "s3:PutReplicationConfiguration"
    assert denies["DenyBucketDeletion"]["Action"] == "s3:DeleteBucket"
    assert "Condition" not in denies["DenyBucketDeletion"]


def test_second_run_changes_nothing(data_account, capsys):
    assert bootstrap(capsys)[0] == 0
    kms, s3 = data_account("kms"), data_account("s3")
    keys_before = kms.list_keys()["Keys"]
    policy_before = s3.get_bucket_policy(Bucket=BUCKET)["Policy"]

    code, out, _ = bootstrap(capsys)
    assert code == 0, out
    assert f"key {ALIAS}: unchanged" in out
    assert f"bucket {BUCKET}: unchanged" in out
    assert kms.list_keys()["Keys"] == keys_before
    assert s3.get_bucket_policy(Bucket=BUCKET)["Policy"] == policy_before


def test_misconfigured_bucket_is_reported_and_left_alone(data_account, capsys):
    s3 = data_account("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    code, out, _ = bootstrap(capsys)
    assert code == 1
    assert "nothing was changed" in out
    assert "versioning never enabled" in out
    assert "no default encryption" in out
    assert "public access block settings off" in out
    assert "policy lacks" in out
    # Nothing was written: still no encryption, no versioning, no key.
    with pytest.raises(s3.exceptions.ClientError, match="ServerSideEncryptionConfigurationNotFound"):
        s3.get_bucket_encryption(Bucket=BUCKET)
    assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET)
    assert data_account("kms").list_keys()["Keys"] == []


def test_bucket_in_another_region_is_reported(data_account, capsys):
    data_account("s3", region_name="eu-central-1").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    code, out, _ = bootstrap(capsys)
    assert code == 1
    assert f"bucket {BUCKET} is in eu-central-1, expected eu-west-1" in out
    assert data_account("kms").list_keys()["Keys"] == []


def test_existing_key_without_rotation_is_reported_and_no_bucket_is_created(data_account, capsys):
    kms = data_account("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=key)

    code, out, _ = bootstrap(capsys)
    assert code == 1
    assert f"key {ALIAS} ({key}) has rotation off" in out
    assert data_account("s3").list_buckets()["Buckets"] == []


def test_wrong_account_exits_2_naming_both(aws_env, dublin_config, monkeypatch, capsys):
    for key, value in assume(dublin_config, dublin_config.operator_role_arn).items():
        monkeypatch.setenv(key.upper(), value)
    code, _, err = bootstrap(capsys)
    assert code == 2
    assert "account 222222222222" in err and "111111111111" in err


def test_bootstrapped_backend_passes_the_audit(data_account, dublin_config, capsys):
    estate = build_estate(dublin_config)
    assert bootstrap(capsys)[0] == 0
    results = run_checks(
        dublin_config, estate.data, dublin_config.data_account_id, estate.operator, guardrails=estate.guardrails
    )
    assert [r for r in results if r.status == "fail"] == []
    state = [r for r in results if f"arn:aws:s3:::{BUCKET}" in r.resources]
    assert {r.id for r in state} == {
        "s3-bucket-in-region",
        "s3-no-replication",
        "s3-sse-kms-operator-key",
        "s3-public-access-blocked",
        "s3-policy-denies",
        "s3-policy-site-only",
        "s3-acl-site-only",
        "s3-object-ownership-enforced",
        "s3-versioning-enabled",
        "s3-no-outside-destination",
    }
    state_key = data_account("kms").describe_key(KeyId=ALIAS)["KeyMetadata"]["Arn"]
    assert any(r.id == "kms-key-operator-administered" and r.resources == [state_key] for r in results)


def test_a_failure_midway_says_what_exists_and_the_next_run_lists_what_is_missing(data_account, monkeypatch, capsys):
    import enclave.audit.common as common

    real_session_in = common.session_in

    def denying_session_in(cfg, profile=None):
        session = real_session_in(cfg, profile)
        session.events.register("before-call.s3.PutBucketPolicy", _deny)
        return session

    monkeypatch.setattr(common, "session_in", denying_session_in)
    code, _, err = bootstrap(capsys)
    assert code == 2
    assert f"s3:PutBucketPolicy denied on bucket {BUCKET}" in err
    assert f"key {ALIAS} created and bucket {BUCKET} being created" in err

    monkeypatch.setattr(common, "session_in", real_session_in)
    code, out, _ = bootstrap(capsys)
    assert code == 1
    assert "policy lacks" in out
    assert "versioning" not in out  # everything before the policy was applied


def _deny(**_):
    from types import SimpleNamespace

    body = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    return (SimpleNamespace(status_code=403, headers={}), body)


def test_config_file_replaces_the_stack_file(data_account, tmp_path, capsys):
    import yaml

    from enclave.harness import PROJECT_DIR

    doc = yaml.safe_load((PROJECT_DIR / "Pulumi.dublin.yaml").read_text(encoding="utf-8"))
    doc["config"]["eu-data-enclave:site"] = "cork"
    other = tmp_path / "cork.yaml"
    other.write_text(yaml.safe_dump(doc), encoding="utf-8")

    code, out, _ = bootstrap(capsys, "--config", str(other))
    assert code == 0, out
    assert "bucket enclave-cork-pulumi-state-111111111111: created" in out
    assert [b["Name"] for b in data_account("s3").list_buckets()["Buckets"]] == [
        "enclave-cork-pulumi-state-111111111111"
    ]
