"""Every policy document of the key and the buckets lints clean with parliament (community auditors included)."""

import json

import pytest
from parliament import analyze_policy_string

from components.operator_key import operator_key_policy
from components.regional_storage import data_bucket_policy, log_bucket_policy
from tests.conftest import KEY_ARN

VPCE = "vpce-0123456789abcdef0"

# Findings accepted on purpose, per document, each with the reason. Anything else fails.
KEY_POLICY_SUPPRESSIONS = {
    # In a key policy "Resource": "*" means "this key" and nothing else; the key's
    # own ARN cannot be written because the policy is set when the key is created.
    "RESOURCE_STAR": "a key policy's Resource '*' is the key itself",
    # The operator account must be able to administer the key, which includes
    # editing its policy: that is the custody model (use is separately denied to it).
    "PERMISSIONS_MANAGEMENT_ACTIONS": "the operator (key custodian) administers the key policy",
}


def findings(doc: dict) -> list[tuple[str, object, dict]]:
    policy = analyze_policy_string(json.dumps(doc), include_community_auditors=True)
    return [(f.issue, f.detail, f.location) for f in policy.findings]


def documents(cfg) -> dict[str, dict]:
    data_arn, log_arn = cfg.bucket_arn("user-data"), cfg.bucket_arn("access-logs")
    return {
        "user-data bucket": data_bucket_policy(cfg, data_arn, KEY_ARN),
        "user-data bucket with VPC endpoint": data_bucket_policy(cfg, data_arn, KEY_ARN, VPCE),
        "access-log bucket": log_bucket_policy(cfg, log_arn, data_arn),
    }


@pytest.mark.parametrize("stack_fixture", ["dublin_config", "hamar_config"])
def test_bucket_policies_have_no_findings(stack_fixture, request):
    cfg = request.getfixturevalue(stack_fixture)
    for name, doc in documents(cfg).items():
        assert findings(doc) == [], f"{cfg.site} {name}: {findings(doc)}"


@pytest.mark.parametrize("stack_fixture", ["dublin_config", "hamar_config"])
def test_key_policy_has_only_the_explained_findings(stack_fixture, request):
    cfg = request.getfixturevalue(stack_fixture)
    got = findings(operator_key_policy(cfg))
    unexplained = [f for f in got if f[0] not in KEY_POLICY_SUPPRESSIONS]
    assert unexplained == [], f"{cfg.site} key policy: {unexplained}"
    # The suppression stays narrow: PutKeyPolicy is the only permissions-management action flagged.
    pm = [loc.get("actions") for issue, _, loc in got if issue == "PERMISSIONS_MANAGEMENT_ACTIONS"]
    assert pm == [["kms:putkeypolicy"]], pm


def test_the_linter_would_catch_a_misspelt_condition_key():
    """ "No findings" above means something: parliament reports an unknown key such as kms:ViaServices."""
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaServices": "s3.eu-west-1.amazonaws.com"}},
            }
        ],
    }
    assert any(issue.startswith("UNKNOWN") for issue, _, _ in findings(doc)), findings(doc)
