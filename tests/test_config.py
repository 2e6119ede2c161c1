"""Site configuration: every bad value names the key, the value and the expected form."""

from __future__ import annotations

import pytest
import yaml

from components.config import CONFIG_KEYS, EEA_REGIONS, PROJECT, SiteConfigError, site_config_from_mapping
from enclave.harness import PROJECT_DIR, HarnessError, run_program
from tests.conftest import stack_config


def k(name: str) -> str:
    return f"{PROJECT}:{name}"


def problems_for(**changes) -> list[str]:
    """Validate the dublin config with some keys changed (None removes a key)."""
    values = stack_config("dublin")
    for key, value in changes.items():
        full = key if ":" in key else k(key)
        if value is None:
            values.pop(full, None)
        else:
            values[full] = value
    with pytest.raises(SiteConfigError) as err:
        site_config_from_mapping(values)
    return err.value.problems


def one_problem(**changes) -> str:
    problems = problems_for(**changes)
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize(
    ("stack", "region", "data", "operator"),
    [("dublin", "eu-west-1", "111111111111", "222222222222"), ("hamar", "eu-north-1", "444444444444", "555555555555")],
)
def test_shipped_stacks_are_valid(stack, region, data, operator):
    cfg = site_config_from_mapping(stack_config(stack))
    assert cfg.site == stack
    assert cfg.region == region
    assert cfg.data_account_id == data
    assert cfg.operator_account_id == operator
    assert all(az.startswith(region) for az in cfg.availability_zones)
    assert cfg.residency_tags["enclave:region"] == region


def test_defaults_apply_from_pulumi_yaml():
    values = stack_config("dublin")
    values.pop(k("auditLogRetentionDays"))
    values.pop(k("availabilityZones"))
    values[k("auditLogRetentionDays")] = "365"  # Pulumi.yaml's default, as the CLI passes it
    cfg = site_config_from_mapping(values)
    assert cfg.audit_log_retention_days == 365
    assert cfg.availability_zones == ("eu-west-1a", "eu-west-1b", "eu-west-1c")
    assert cfg.data_classification == "personal-data"


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-2", "eu-central-2", "EU-WEST-1", "eu-west-9"])
def test_region_outside_eea_is_refused(region):
    msg = problems_for(region=region)[0]
    assert msg.startswith(f"{k('region')}: {region!r} is invalid")
    assert "inside the EEA" in msg and "eu-west-1" in msg


def test_every_allowed_region_is_accepted():
    for region in EEA_REGIONS:
        cfg = site_config_from_mapping(
            {**stack_config("dublin"), k("region"): region, k("availabilityZones"): f'["{region}a"]'}
        )
        assert cfg.region == region


def test_operator_account_equal_to_data_account_is_refused():
    values = {"operatorAccountId": "111111111111", "operatorRoleArn": "arn:aws:iam::111111111111:role/custodian"}
    msg = one_problem(**values)
    assert msg.startswith(f"{k('operatorAccountId')}: '111111111111' equals {k('dataAccountId')}")
    assert "third-party custody" in msg


def test_auditor_must_be_independent():
    msg = one_problem(auditorAccountId="222222222222")
    assert msg.startswith(f"{k('auditorAccountId')}: '222222222222'")
    assert "independent" in msg


@pytest.mark.parametrize("key", ["dataAccountId", "operatorAccountId", "auditorAccountId"])
@pytest.mark.parametrize("bad", ["12345", "1111111111112", "abcdefghijkl", "1111-1111-11"])
def test_malformed_account_id(key, bad):
    problems = problems_for(**{key: bad})
    assert any(p.startswith(f"{k(key)}: {bad!r} is invalid; expected a 12-digit AWS account id") for p in problems)


@pytest.mark.parametrize("key", ["operatorRoleArn", "deploymentRoleArn"])
@pytest.mark.parametrize("bad", ["enclave-deployer", "arn:aws:iam::2222:role/x", "arn:aws:iam::222222222222:user/x"])
def test_malformed_role_arn(key, bad):
    msg = one_problem(**{key: bad})
    assert msg.startswith(f"{k(key)}: {bad!r} is invalid; expected an IAM role ARN")


def test_role_in_wrong_account_is_refused():
    msg = one_problem(operatorRoleArn="arn:aws:iam::111111111111:role/enclave-key-custodian")
    assert msg.startswith(f"{k('operatorRoleArn')}: ")
    assert "is in account 111111111111; expected a role of" in msg and "222222222222" in msg


def test_staff_principals_must_be_iam_arns():
    msg = one_problem(staffPrincipals='["arn:aws:iam::111111111111:role/ok", "alice@example.com"]')
    assert msg.startswith(f"{k('staffPrincipals')}: 'alice@example.com' is invalid")


def test_staff_principals_must_not_be_empty_or_a_string():
    assert one_problem(staffPrincipals="[]").startswith(f"{k('staffPrincipals')}: is empty")
    msg = one_problem(staffPrincipals="arn:aws:iam::111111111111:role/ok")
    assert msg.startswith(f"{k('staffPrincipals')}: 'arn:aws:iam::111111111111:role/ok' is not a YAML list")


@pytest.mark.parametrize(
    ("cidr", "expected"),
    [
        ("10.0.0.0/33", "expected an IPv4 CIDR like"),
        ("10.20.0.1/16", "expected an IPv4 CIDR like"),  # host bits set
        ("not-a-cidr", "expected an IPv4 CIDR like"),
        ("8.8.0.0/16", "is not private"),
        ("10.0.0.0/8", "has prefix /8; expected /16 to /24"),
        ("10.20.0.0/28", "has prefix /28; expected /16 to /24"),
    ],
)
def test_bad_vpc_cidr(cidr, expected):
    msg = one_problem(vpcCidr=cidr)
    assert msg.startswith(f"{k('vpcCidr')}: {cidr!r}")
    assert expected in msg


@pytest.mark.parametrize(
    ("value", "expected"), [("30", "from 90 to 3650"), ("99999", "from 90 to 3650"), ("ten", "is not an integer")]
)
def test_bad_retention(value, expected):
    msg = one_problem(auditLogRetentionDays=value)
    assert msg.startswith(f"{k('auditLogRetentionDays')}: ")
    assert expected in msg


def test_availability_zone_outside_region():
    msg = one_problem(availabilityZones='["eu-west-1a", "eu-north-1b"]')
    assert msg.startswith(f"{k('availabilityZones')}: 'eu-north-1b' is not a zone of eu-west-1")


def test_unknown_key_is_refused_with_the_known_keys():
    values = stack_config("dublin")
    values[k("regoin")] = "eu-west-1"
    with pytest.raises(SiteConfigError) as err:
        site_config_from_mapping(values)
    (msg,) = err.value.problems
    assert msg.startswith(f"{k('regoin')}: unknown key (value 'eu-west-1')")
    assert k("region") in msg


def test_aws_namespace_keys_are_refused():
    msg = one_problem(**{"aws:region": "us-east-1"})
    assert msg.startswith("aws:region: must not be set (value 'us-east-1')")


def test_default_providers_must_be_disabled():
    msg = one_problem(**{"pulumi:disable-default-providers": None})
    assert msg.startswith("pulumi:disable-default-providers: is None")
    assert '"aws"' in msg


@pytest.mark.parametrize("key", [key.name for key in CONFIG_KEYS if key.required])
def test_missing_required_key(key):
    msg = one_problem(**{key: None})
    assert msg.startswith(f"{k(key)}: missing; set it in Pulumi.<stack>.yaml")


def test_all_problems_are_reported_at_once():
    problems = problems_for(region="us-east-1", vpcCidr="8.8.0.0/16", dataAccountId="1")
    keys = {p.split(":")[1] for p in problems}
    assert {"region", "vpcCidr", "dataAccountId"} <= keys
    msg = str(SiteConfigError(problems))
    assert "nothing was deployed" in msg and msg.count("\n  - ") == len(problems)


def test_pulumi_yaml_documents_exactly_the_known_keys():
    doc = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    assert set(doc) == {key.name for key in CONFIG_KEYS}
    kinds = {"string": "string", "integer": "integer", "boolean": "boolean", "array": "array"}
    for key in CONFIG_KEYS:
        assert doc[key.name]["type"] == kinds[key.kind], key.name
        assert len(doc[key.name]["description"]) > 20, key.name
        if key.default is not None:
            assert doc[key.name]["default"] == key.default, key.name


def test_every_optional_key_has_a_default_the_cli_can_apply(tmp_path):
    """The CLI refuses a stack that omits a declared key without a default: a stack of required keys only runs."""
    import shutil

    doc = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    for key in CONFIG_KEYS:
        assert key.required or "default" in doc[key.name], f"{key.name}: optional, so Pulumi.yaml needs a default"
    program = tmp_path / "site"
    shutil.copytree(PROJECT_DIR, program, ignore=shutil.ignore_patterns(".*", "tests", "previews", "guardrails"))
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.dublin.yaml").read_text())
    required = {f"{PROJECT}:{key.name}" for key in CONFIG_KEYS if key.required}
    stack["config"] = {k: v for k, v in stack["config"].items() if k in required or not k.startswith(f"{PROJECT}:")}
    (program / "Pulumi.dublin.yaml").write_text(yaml.safe_dump(stack))
    run = run_program("dublin", program)
    assert run.stack_outputs["region"] == "eu-west-1" and run.resources


def test_bad_config_registers_no_resource():
    """A config error stops the program before the first resource: nothing half-applies."""
    config = stack_config("dublin")
    config[k("region")] = "us-east-1"
    with pytest.raises(HarnessError) as err:
        run_program("dublin", config=config)
    assert f"{k('region')}: 'us-east-1' is invalid" in str(err.value)
    assert err.value.resources == []
