"""AccountGuardrails: the data account's own blocks in the site region, which hold for hand-made resources too."""

from __future__ import annotations

import pytest

from components.account_guardrails import SSM_PUBLIC_SHARING_SETTING
from components.config import site_config_from_mapping
from tests.conftest import STACKS, stack_config

EXPECTED = {
    "aws:ec2/vpcBlockPublicAccessOptions:VpcBlockPublicAccessOptions": {
        "internetGatewayBlockMode": "block-bidirectional"
    },
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock": {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    },
    "aws:ebs/snapshotBlockPublicAccess:SnapshotBlockPublicAccess": {"state": "block-all-sharing"},
    "aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess": {"state": "block-new-sharing"},
    "aws:ebs/encryptionByDefault:EncryptionByDefault": {"enabled": True},
    "aws:ec2/serialConsoleAccess:SerialConsoleAccess": {"enabled": False},
    "aws:ec2/instanceMetadataDefaults:InstanceMetadataDefaults": {
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
        "httpEndpoint": "enabled",
        "instanceMetadataTags": "disabled",
    },
    "aws:ssm/serviceSetting:ServiceSetting": {"settingId": SSM_PUBLIC_SHARING_SETTING, "settingValue": "Disable"},
    "aws:emr/blockPublicAccessConfiguration:BlockPublicAccessConfiguration": {"blockPublicSecurityGroupRules": True},
}


@pytest.fixture(params=STACKS)
def site(request, program_run):
    return program_run(request.param), site_config_from_mapping(stack_config(request.param))


def test_each_block_is_set_exactly_once_as_reviewed(site):
    run, _ = site
    for type_, settings in EXPECTED.items():
        (rec,) = run.of_type(type_)
        got = {key: rec.inputs.get(key) for key in settings}
        assert got == settings, f"{rec.urn}: {got}"
    assert not run.of_type("aws:ebs/defaultKmsKey:DefaultKmsKey"), "EBS needs grants, which the operator key refuses"


def test_no_emr_port_is_exempt_from_its_block(site):
    run, _ = site
    (rec,) = run.of_type("aws:emr/blockPublicAccessConfiguration:BlockPublicAccessConfiguration")
    assert not rec.inputs.get("permittedPublicSecurityGroupRuleRanges"), rec.urn


def test_s3_block_is_for_the_data_account(site):
    run, cfg = site
    (rec,) = run.of_type("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock")
    assert rec.inputs["accountId"] == cfg.data_account_id


def test_blocks_are_protected_in_the_component_on_the_data_provider_in_the_region(site):
    run, cfg = site
    (component,) = [r for r in run.resources if r.type == "enclave:account:AccountGuardrails"]
    children = [r for r in run.resources if r.parent == component.urn]
    assert {r.type for r in children} == set(EXPECTED)
    for rec in children:
        # Deleting one would reset the account setting and lift the block.
        assert rec.protect is True, rec.urn
        assert rec.provider_urn.endswith(f"::{cfg.name_prefix}-data"), rec.urn
        assert run.effective_region(rec) == cfg.region and "region" not in rec.inputs, rec.urn
