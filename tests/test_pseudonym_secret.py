"""PseudonymSecret: a protected, operator-key-encrypted, unreplicated pepper only the workload reads."""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json

import pulumi
import pytest
from parliament import analyze_policy_string

from components.config import SiteConfig
from components.pseudonym_secret import (
    PseudonymSecret,
    PseudonymSecretArgs,
    pepper_secret_arn_pattern,
    pepper_secret_policy,
    pseudonymise,
)
from enclave.harness import SECRET_MARK
from tests.conftest import KEY_ARN, settled

PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
SECRET_TYPE = "aws:secretsmanager/secret:Secret"
VERSION_TYPE = "aws:secretsmanager/secretVersion:SecretVersion"
POLICY_TYPE = "aws:secretsmanager/secretPolicy:SecretPolicy"


def only(records, type_):
    found = [r for r in records if r.type == type_]
    assert len(found) == 1, f"expected one {type_}, got {[r.urn for r in found]}"
    return found[0]


def build(cfg: SiteConfig, site_providers) -> PseudonymSecret:
    return PseudonymSecret(
        f"{cfg.name_prefix}-pseudonym",
        PseudonymSecretArgs(
            config=cfg,
            provider=site_providers.data,
            key_arn=KEY_ARN,
            workload_role_arn=pulumi.Output.from_input(cfg.role_arn("workload")),
        ),
    )


# --------------------------------------------------------------------------- the resources


@pulumi.runtime.test
def test_secret_is_named_encrypted_with_the_operator_key_and_never_replicated(site_providers, monitor, dublin_config):
    built = build(dublin_config, site_providers)

    def check(args):
        (arn, name), records = args
        rec = only(records, SECRET_TYPE)
        assert rec.inputs.get("name") == "enclave-dublin-pseudonym-pepper", rec.urn
        assert rec.inputs.get("kmsKeyId") == KEY_ARN, f"{rec.urn}: must be encrypted with the operator key"
        assert rec.inputs.get("recoveryWindowInDays") == 30, rec.urn
        assert not rec.inputs.get("replicas"), f"{rec.urn}: a replica would copy the pepper to another region"
        assert "policy" not in rec.inputs, f"{rec.urn}: the policy is the separate SecretPolicy resource"
        assert name == "enclave-dublin-pseudonym-pepper" and arn == rec.outputs["arn"], rec.urn
        assert fnmatch.fnmatchcase(arn, pepper_secret_arn_pattern(dublin_config)), f"{rec.urn}: {arn}"

    return settled(monitor, built.secret_arn, built.secret_name).apply(check)


@pulumi.runtime.test
def test_pepper_secret_and_version_are_protected(site_providers, monitor, dublin_config):
    built = build(dublin_config, site_providers)

    def check(args):
        _, records = args
        for type_ in (PASSWORD_TYPE, SECRET_TYPE, VERSION_TYPE):
            rec = only(records, type_)
            assert rec.protect, f"{rec.urn}: a new pepper would change every pseudonym"

    return settled(monitor, built.secret_arn).apply(check)


@pulumi.runtime.test
def test_pepper_is_long_random_and_stored_as_a_secret(site_providers, monitor, dublin_config):
    built = build(dublin_config, site_providers)

    def check(args):
        _, records = args
        password = only(records, PASSWORD_TYPE)
        assert password.inputs.get("length") == 64, password.urn
        assert password.inputs.get("special") is False, password.urn
        version = only(records, VERSION_TYPE)
        secret = only(records, SECRET_TYPE)
        assert version.inputs.get("secretId") == secret.id, f"{version.urn}: version of another secret"
        assert version.inputs.get("secretString") == password.outputs["result"], version.urn
        assert version.redacted_inputs.get("secretString") == SECRET_MARK, f"{version.urn}: pepper not marked secret"
        assert len(version.inputs["secretString"].encode()) >= 32, version.urn

    return settled(monitor, built.secret_arn).apply(check)


@pulumi.runtime.test
def test_secret_policy_is_attached_with_public_policies_blocked(site_providers, monitor, dublin_config):
    built = build(dublin_config, site_providers)

    def check(args):
        (arn,), records = args
        rec = only(records, POLICY_TYPE)
        assert rec.inputs.get("secretArn") == arn, rec.urn
        assert rec.inputs.get("blockPublicPolicy") is True, rec.urn
        expected = pepper_secret_policy(dublin_config, dublin_config.role_arn("workload"))
        assert json.loads(rec.inputs["policy"]) == expected, rec.urn

    return settled(monitor, built.secret_arn).apply(check)


@pulumi.runtime.test
def test_aws_resources_use_the_data_provider_under_the_component(site_providers, monitor, dublin_config):
    built = build(dublin_config, site_providers)

    def check(args):
        _, records = args
        component = only(records, "enclave:secrets:PseudonymSecret")
        for type_ in (SECRET_TYPE, VERSION_TYPE, POLICY_TYPE):
            rec = only(records, type_)
            assert rec.provider_urn.endswith("enclave-dublin-data"), f"{rec.urn}: {rec.provider}"
            assert rec.parent == component.urn, rec.urn
        assert only(records, PASSWORD_TYPE).parent == component.urn

    return settled(monitor, built.secret_arn).apply(check)


# --------------------------------------------------------------------------- the policy


def test_only_workload_and_deployer_may_read_the_pepper(dublin_config):
    doc = pepper_secret_policy(dublin_config, dublin_config.role_arn("workload"))
    (read,) = [s for s in doc["Statement"] if s["Sid"] == "DenyReadExceptWorkloadAndDeployer"]
    assert read["Effect"] == "Deny" and read["Principal"] == "*" and read["Resource"] == "*"
    assert read["Action"] == "secretsmanager:GetSecretValue"
    assert read["Condition"] == {
        "StringNotEquals": {"aws:PrincipalArn": [dublin_config.role_arn("workload"), dublin_config.deployment_role_arn]}
    }


def test_nobody_may_replicate_the_pepper(dublin_config):
    doc = pepper_secret_policy(dublin_config, dublin_config.role_arn("workload"))
    (replicate,) = [s for s in doc["Statement"] if s["Sid"] == "DenyReplication"]
    assert replicate["Effect"] == "Deny" and replicate["Principal"] == "*"
    assert replicate["Action"] == "secretsmanager:ReplicateSecretToRegions"
    assert "Condition" not in replicate, "no exception, not even the deployer"


def test_secret_policy_grants_nothing(dublin_config):
    doc = pepper_secret_policy(dublin_config, dublin_config.role_arn("workload"))
    assert all(s["Effect"] == "Deny" for s in doc["Statement"])


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_secret_policy_lints_clean(stack, dublin_config, hamar_config):
    cfg = dublin_config if stack == "dublin" else hamar_config
    doc = pepper_secret_policy(cfg, cfg.role_arn("workload"))
    findings = analyze_policy_string(json.dumps(doc), include_community_auditors=True).findings
    assert [(f.issue, f.detail) for f in findings] == []


# --------------------------------------------------------------------------- pseudonymise


def test_pseudonymise_is_hmac_sha256_hex():
    # RFC 4231 test case 6: a 131-byte key, the message below.
    key = b"\xaa" * 131
    message = "Test Using Larger Than Block-Size Key - Hash Key First"
    assert pseudonymise(key, message) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def test_pseudonyms_are_stable_per_site_and_differ_between_sites():
    dublin, hamar = b"d" * 64, b"h" * 64
    assert pseudonymise(dublin, "user-42") == pseudonymise(dublin, "user-42")
    assert pseudonymise(dublin, "user-42") != pseudonymise(dublin, "user-43")
    assert pseudonymise(dublin, "user-42") != pseudonymise(hamar, "user-42")
    # Unicode identifiers are hashed as their UTF-8 bytes.
    expected = hmac.new(dublin, "zoë@example.eu".encode(), hashlib.sha256).hexdigest()
    assert pseudonymise(dublin, "zoë@example.eu") == expected


@pytest.mark.parametrize("pepper", [b"", b"short", b"x" * 31])
def test_pseudonymise_refuses_a_short_pepper(pepper):
    with pytest.raises(ValueError, match=f"pepper is {len(pepper)} bytes; expected at least 32"):
        pseudonymise(pepper, "user-42")


# --------------------------------------------------------------------------- the whole program


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_program_encrypts_the_pepper_with_the_operator_key_and_names_the_workload(stack, program_run):
    run = program_run(stack)
    (key,) = [k for k in run.of_type("aws:kms/key:Key") if k.name == f"enclave-{stack}-key-key"]
    (secret,) = run.of_type(SECRET_TYPE)
    assert secret.inputs.get("kmsKeyId") == key.outputs["arn"], secret.urn
    assert secret.protect and run.effective_region(secret) == run.config["eu-data-enclave:region"], secret.urn
    (workload,) = [r for r in run.of_type("aws:iam/role:Role") if r.inputs["name"].endswith("-workload")]
    (policy,) = run.of_type(POLICY_TYPE)
    (read,) = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"].startswith("DenyRead")]
    assert workload.outputs["arn"] in read["Condition"]["StringNotEquals"]["aws:PrincipalArn"], policy.urn
