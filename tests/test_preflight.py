"""``enclave preflight`` on moto: a ready account passes, and each missing prerequisite fails exactly its check."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from enclave.audit import report as rep
from enclave.cli import main
from enclave.preflight import PREREQUISITES, READ_ONLY_PERMISSIONS, run_checks
from tests.estate import AccountSession, assume, aws_environment
from tests.recording import Call, Recording, writes

aws_env = pytest.fixture(aws_environment)


def trust(principal: str, external_id: str | None) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def prepare(cfg) -> tuple[AccountSession, AccountSession]:
    """Everything the site needs before its first deployment, in moto's data and operator accounts."""
    data = AccountSession(cfg.region, cfg.data_account_id)
    operator = AccountSession(cfg.region, cfg.operator_account_id)
    ec2 = data.client("ec2")
    for vpc in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
        for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        for igw in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])[
            "InternetGateways"
        ]:
            ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc["VpcId"])
            ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
        ec2.delete_vpc(VpcId=vpc["VpcId"])
    iam = data.client("iam")
    ci = trust(f"arn:aws:iam::{cfg.data_account_id}:root", None)
    for arn in (cfg.deployment_role_arn, *cfg.staff_principals):
        name = arn.rsplit("/", 1)[-1]
        if ":user/" in arn:
            iam.create_user(UserName=name)
            serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
            iam.enable_mfa_device(
                UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
            )
        else:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=ci)
    operator.client("iam").create_role(
        RoleName=cfg.operator_role_arn.rsplit("/", 1)[-1],
        AssumeRolePolicyDocument=trust(cfg.deployment_role_arn, cfg.operator_external_id),
    )
    return data, operator


def failing(results) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for r in results:
        if r.status == "fail":
            out.setdefault(r.id, []).append(r.resources)
    return out


@pytest.fixture
def ready(aws_env, dublin_config):
    data, operator = prepare(dublin_config)
    return dublin_config, data, operator


def test_a_ready_account_passes_every_check(ready):
    cfg, data, operator = ready
    results = run_checks(cfg, data, operator)
    assert failing(results) == {}
    # Every prerequisite was checked on something (the shipped staff are roles: no MFA check).
    assert {r.id for r in results} == set(PREREQUISITES) - {"staff-user-has-mfa"}
    assert {a for r in results for a in r.resources} >= {
        cfg.deployment_role_arn,
        cfg.operator_role_arn,
        *cfg.staff_principals,
    }


def test_an_opt_in_region_that_is_not_enabled(aws_env, dublin_config):
    cfg = replace(dublin_config, region="eu-south-2", availability_zones=("eu-south-2a",))
    data, operator = prepare(cfg)
    assert failing(run_checks(cfg, data, operator)) == {
        "region-enabled": [[f"arn:aws:ec2:eu-south-2:{cfg.data_account_id}:region/eu-south-2"]]
    }


def test_a_default_vpc_left_in_the_region(ready):
    cfg, data, operator = ready
    vpc = data.client("ec2").create_default_vpc()["Vpc"]["VpcId"]
    assert failing(run_checks(cfg, data, operator)) == {
        "no-default-vpc": [[f"arn:aws:ec2:{cfg.region}:{cfg.data_account_id}:vpc/{vpc}"]]
    }


def test_a_missing_deployment_role(ready):
    cfg, data, operator = ready
    data.client("iam").delete_role(RoleName=cfg.deployment_role_arn.rsplit("/", 1)[-1])
    assert failing(run_checks(cfg, data, operator)) == {"deployment-role-exists": [[cfg.deployment_role_arn]]}


def test_a_missing_staff_principal(ready):
    cfg, data, operator = ready
    gone = cfg.staff_principals[1]
    data.client("iam").delete_role(RoleName=gone.rsplit("/", 1)[-1])
    assert failing(run_checks(cfg, data, operator)) == {"staff-principal-exists": [[gone]]}


def test_a_staff_principal_of_another_account_is_not_proven(ready):
    cfg, data, operator = ready
    elsewhere = "arn:aws:iam::999999999999:role/contractor"
    cfg = replace(cfg, staff_principals=(*cfg.staff_principals, elsewhere))
    assert failing(run_checks(cfg, data, operator)) == {"staff-principal-exists": [[elsewhere]]}


def test_a_staff_user_without_mfa(ready):
    cfg, data, operator = ready
    user = f"arn:aws:iam::{cfg.data_account_id}:user/alice"
    data.client("iam").create_user(UserName="alice")
    cfg = replace(cfg, staff_principals=(*cfg.staff_principals, user))
    assert failing(run_checks(cfg, data, operator)) == {"staff-user-has-mfa": [[user]]}


def test_a_missing_operator_role(ready):
    cfg, data, operator = ready
    operator.client("iam").delete_role(RoleName=cfg.operator_role_arn.rsplit("/", 1)[-1])
    assert failing(run_checks(cfg, data, operator)) == {
        "operator-role-exists": [[cfg.operator_role_arn]],
        "operator-role-trusts-deployer": [[cfg.operator_role_arn, cfg.deployment_role_arn]],
    }


@pytest.mark.parametrize(
    "document",
    [
        trust("arn:aws:iam::111111111111:role/enclave-deployer", "another-external-id"),
        trust("arn:aws:iam::111111111111:role/enclave-deployer", None),
        trust("arn:aws:iam::999999999999:role/enclave-deployer", "dublin-operator-7f3a"),
    ],
    ids=["wrong-external-id", "no-external-id", "another-account"],
)
def test_an_operator_role_that_does_not_trust_the_deployer_with_the_external_id(ready, document):
    cfg, data, operator = ready
    operator.client("iam").update_assume_role_policy(
        RoleName=cfg.operator_role_arn.rsplit("/", 1)[-1], PolicyDocument=document
    )
    assert failing(run_checks(cfg, data, operator)) == {
        "operator-role-trusts-deployer": [[cfg.operator_role_arn, cfg.deployment_role_arn]]
    }


def test_the_data_accounts_root_may_be_trusted_instead_of_the_role(ready):
    cfg, data, operator = ready
    operator.client("iam").update_assume_role_policy(
        RoleName=cfg.operator_role_arn.rsplit("/", 1)[-1],
        PolicyDocument=trust(f"arn:aws:iam::{cfg.data_account_id}:root", cfg.operator_external_id),
    )
    assert failing(run_checks(cfg, data, operator)) == {}


def test_without_operator_credentials_the_operator_checks_fail_closed(ready):
    cfg, data, _ = ready
    results = run_checks(cfg, data, None)
    assert failing(results) == {
        "operator-role-exists": [[cfg.operator_role_arn]],
        "operator-role-trusts-deployer": [[cfg.operator_role_arn]],
    }
    assert all("--operator-profile" in r.found for r in results if r.status == "fail")


@pytest.mark.parametrize("cross_account_read", ["false", "true"], ids=["403-as-aws", "200"])
def test_a_bucket_name_held_by_another_account(ready, monkeypatch, cross_account_read):
    cfg, data, operator = ready
    # AWS answers HeadBucket on another account's bucket with 403; moto by default with 200.
    monkeypatch.setenv("MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS", cross_account_read)
    name = cfg.bucket_name("audit-logs")
    AccountSession(cfg.region, "999999999999").client("s3").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": cfg.region}
    )
    assert failing(run_checks(cfg, data, operator)) == {"bucket-name-available": [[cfg.bucket_arn("audit-logs")]]}


def test_a_bucket_the_data_account_already_has_is_fine(ready):
    cfg, data, operator = ready
    data.client("s3").create_bucket(
        Bucket=cfg.bucket_name("user-data"), CreateBucketConfiguration={"LocationConstraint": cfg.region}
    )
    assert failing(run_checks(cfg, data, operator)) == {}


def test_no_room_for_the_trail(ready):
    cfg, data, operator = ready
    s3, trails = data.client("s3"), data.client("cloudtrail")
    s3.create_bucket(Bucket="other-trails", CreateBucketConfiguration={"LocationConstraint": cfg.region})
    for i in range(5):
        trails.create_trail(Name=f"other-{i}", S3BucketName="other-trails")
    assert failing(run_checks(cfg, data, operator)) == {"trail-quota": [[cfg.trail_arn]]}


def test_preflight_makes_only_read_only_calls(ready):
    cfg, data, operator = ready
    # A staff user too, so that the user and MFA reads are exercised.
    iam = data.client("iam")
    iam.create_user(UserName="alice")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="alice", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    cfg = replace(cfg, staff_principals=(*cfg.staff_principals, f"arn:aws:iam::{cfg.data_account_id}:user/alice"))
    calls: list[Call] = []
    sessions = (Recording(cfg.region, data.account, calls), Recording(cfg.region, operator.account, calls))
    assert failing(run_checks(cfg, *sessions)) == {}
    assert calls and writes(calls) == []
    assert sorted({c.action for c in calls}) == sorted(READ_ONLY_PERMISSIONS)


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def as_data_account(ready, monkeypatch, tmp_path):
    cfg, _, _ = ready
    for key, value in assume(cfg, cfg.deployment_role_arn).items():
        monkeypatch.setenv(key.upper(), value)
    operator = assume(cfg, cfg.operator_role_arn)
    (tmp_path / "aws-config").write_text(
        "[profile operator]\n" + "".join(f"{k} = {v}\n" for k, v in operator.items()), encoding="utf-8"
    )
    return ready


def test_cli_ready_exits_0_with_a_sealed_report_in_the_audit_layout(as_data_account, tmp_path, capsys):
    out = tmp_path / "reports"
    code = main(
        ["preflight", "--stack", "dublin", "--operator-profile", "operator", "--format", "json", "--out", str(out)]
    )
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    report = json.loads(stdout)
    assert report["format"] == "enclave-preflight/1" and rep.verify(report)
    assert (report["account"], report["region"], report["summary"]["failed"]) == ("111111111111", "eu-west-1", 0)
    assert json.loads((out / "preflight.json").read_text()) == report
    markdown = (out / "preflight.md").read_text()
    assert markdown.startswith("# Preflight: dublin (dublin)") and "## Prerequisites" in markdown
    assert "## Checks" not in markdown and "`trail-quota`" in markdown


def test_cli_missing_prerequisite_exits_1_and_says_how_to_fix(as_data_account, capsys):
    cfg, data, _ = as_data_account
    data.client("iam").delete_role(RoleName=cfg.staff_principals[0].rsplit("/", 1)[-1])
    code = main(["preflight", "--stack", "dublin", "--operator-profile", "operator"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0].startswith("enclave preflight: stack dublin, account 111111111111, region eu-west-1")
    assert lines[1].startswith("FAIL  staff-principal-exists") and cfg.staff_principals[0] in lines[1]
    assert lines[-2].startswith("FAILED: ") and re.fullmatch(r"sha256 [0-9a-f]{64}", lines[-1])


def test_cli_operator_profile_of_the_wrong_account_exits_2(as_data_account, tmp_path, capsys):
    cfg, _, _ = as_data_account
    wrong = assume(cfg, cfg.deployment_role_arn)
    (tmp_path / "aws-config").write_text(
        "[profile operator]\n" + "".join(f"{k} = {v}\n" for k, v in wrong.items()), encoding="utf-8"
    )
    code = main(["preflight", "--stack", "dublin", "--operator-profile", "operator"])
    err = capsys.readouterr().err
    assert code == 2 and "operator account" in err and "222222222222" in err
