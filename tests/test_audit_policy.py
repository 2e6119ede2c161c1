"""The audit's statement analyser, case by case from AWS's policy evaluation rules (no AWS, no moto)."""

from __future__ import annotations

import pytest

from enclave.audit.policy import (
    Perimeter,
    account_of,
    outsiders,
    policy_outsiders,
    resources_outside,
    statements,
    wildcard_match,
)

DATA, OPERATOR, AUDITOR, STRANGER = "111111111111", "222222222222", "333333333333", "999999999999"
SITE = Perimeter(
    accounts=frozenset({DATA, OPERATOR, AUDITOR}),
    vpc_ids=frozenset({"vpc-site"}),
    endpoint_ids=frozenset({"vpce-site"}),
    bucket_names=frozenset({"site-bucket"}),
)


def allow(principal=None, condition=None, action="s3:GetObject", resource="*", **extra):
    s = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if principal is not None:
        s["Principal"] = principal
    if condition is not None:
        s["Condition"] = condition
    return s


@pytest.mark.parametrize(
    ("principal", "outside"),
    [
        ("*", ["*"]),
        ({"AWS": "*"}, ["*"]),
        ({"AWS": STRANGER}, [STRANGER]),
        ({"AWS": f"arn:aws:iam::{STRANGER}:root"}, [f"arn:aws:iam::{STRANGER}:root"]),
        ({"AWS": f"arn:aws:iam::{DATA}:root"}, []),
        ({"AWS": [f"arn:aws:iam::{DATA}:role/app", f"arn:aws:iam::{OPERATOR}:root"]}, []),
        ({"AWS": f"arn:aws:sts::{DATA}:assumed-role/app/session"}, []),
        # A wildcard in the account field names no account: it is outside.
        ({"AWS": "arn:aws:iam::*:root"}, ["arn:aws:iam::*:root"]),
        # A service acts for any customer: without a confused-deputy condition it is outside.
        ({"Service": "cloudtrail.amazonaws.com"}, ["Service:cloudtrail.amazonaws.com"]),
        ({"Federated": "cognito-identity.amazonaws.com"}, ["Federated:cognito-identity.amazonaws.com"]),
        ({"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}, ["CanonicalUser:79a59df900b949e55d96a1e698fbaced"]),
    ],
)
def test_principals_inside_and_outside_the_site(principal, outside):
    assert outsiders(allow(principal), SITE) == sorted(outside)


def test_not_principal_with_allow_admits_everyone_else():
    statement = {"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{DATA}:root"}, "Action": "s3:*"}
    assert outsiders(statement, SITE) == ["*"]


def test_deny_statements_admit_nobody():
    assert outsiders({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}, SITE) == []


@pytest.mark.parametrize(
    ("condition", "confined"),
    [
        ({"StringEquals": {"aws:PrincipalAccount": DATA}}, True),
        ({"StringEquals": {"aws:PrincipalAccount": [DATA, OPERATOR]}}, True),
        # Condition keys are case-insensitive.
        ({"StringEquals": {"AWS:principalaccount": DATA}}, True),
        ({"ForAnyValue:StringEquals": {"aws:PrincipalAccount": DATA}}, True),
        ({"StringEquals": {"kms:CallerAccount": DATA}}, True),
        ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{DATA}:role/*"}}, True),
        ({"StringEquals": {"aws:SourceVpce": "vpce-site"}}, True),
        ({"StringEquals": {"aws:SourceVpc": "vpc-site"}}, True),
        # One value outside is enough to let that account in.
        ({"StringEquals": {"aws:PrincipalAccount": [DATA, STRANGER]}}, False),
        # IfExists passes when the key is absent (anonymous callers carry no account).
        ({"StringEqualsIfExists": {"aws:PrincipalAccount": DATA}}, False),
        # ForAllValues is true for an absent key.
        ({"ForAllValues:StringEquals": {"aws:PrincipalAccount": DATA}}, False),
        # A wildcard account pattern can match any account.
        ({"StringLike": {"aws:PrincipalAccount": "1111*"}}, False),
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app"}}, False),
        # The organisation holds accounts outside the site.
        ({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, False),
        # A negated operator admits every account but the listed one.
        ({"StringNotEquals": {"aws:PrincipalAccount": STRANGER}}, False),
        ({"StringEquals": {"aws:SourceVpce": "vpce-elsewhere"}}, False),
        # Unrelated keys confine nothing.
        ({"Bool": {"aws:SecureTransport": "true"}}, False),
    ],
)
def test_which_conditions_confine_everyone_to_the_site(condition, confined):
    assert outsiders(allow("*", condition), SITE) == ([] if confined else ["*"])


@pytest.mark.parametrize(
    ("condition", "confined"),
    [
        ({"StringEquals": {"aws:SourceAccount": DATA}}, True),
        ({"ArnEquals": {"aws:SourceArn": f"arn:aws:cloudtrail:eu-west-1:{DATA}:trail/site"}}, True),
        # An S3 ARN has no account; the site's own bucket is inside, another is not.
        ({"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::site-bucket"}}, True),
        ({"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::someone-elses-bucket"}}, False),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::site-*"}}, False),
        ({"StringEquals": {"aws:SourceAccount": STRANGER}}, False),
        ({"StringEqualsIfExists": {"aws:SourceAccount": DATA}}, False),
        # Caller keys do not pin a service's customer.
        ({"StringEquals": {"aws:PrincipalAccount": DATA}}, False),
    ],
)
def test_service_principals_need_a_confused_deputy_condition(condition, confined):
    principal = {"Service": "logging.s3.amazonaws.com"}
    assert outsiders(allow(principal, condition), SITE) == ([] if confined else ["Service:logging.s3.amazonaws.com"])


def test_a_deny_of_every_outsider_makes_an_allow_dead():
    grant = allow({"AWS": STRANGER}, action="s3:GetObject", resource="arn:aws:s3:::site-bucket/*")
    perimeter_deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalAccount": [DATA, OPERATOR]}},
    }
    assert outsiders(grant, SITE, [grant, perimeter_deny]) == []


@pytest.mark.parametrize(
    "deny",
    [
        # The deny spares the stranger.
        {"Condition": {"StringNotEquals": {"aws:PrincipalAccount": [DATA, STRANGER]}}},
        # The deny covers fewer actions than the allow grants.
        {"Action": "s3:PutObject", "Condition": {"StringNotEquals": {"aws:PrincipalAccount": DATA}}},
        # The deny covers another resource.
        {"Resource": "arn:aws:s3:::other/*", "Condition": {"StringNotEquals": {"aws:PrincipalAccount": DATA}}},
        # An extra condition (ANDed) lets requests with TLS through.
        {
            "Condition": {
                "StringNotEquals": {"aws:PrincipalAccount": DATA},
                "Bool": {"aws:SecureTransport": "false"},
            }
        },
        # A deny of one principal only.
        {"Principal": {"AWS": f"arn:aws:iam::{DATA}:root"}},
    ],
)
def test_a_deny_that_spares_some_outsider_leaves_the_allow_alive(deny):
    grant = allow({"AWS": STRANGER}, action="s3:GetObject", resource="arn:aws:s3:::site-bucket/*")
    statement = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", **deny}
    assert outsiders(grant, SITE, [grant, statement]) == [STRANGER]


def test_an_allow_of_everything_but_something_is_covered_only_by_a_deny_of_everything():
    grant = {"Effect": "Allow", "Principal": {"AWS": STRANGER}, "NotAction": "s3:DeleteBucket", "Resource": "*"}
    deny_s3 = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
    deny_all = {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}
    assert outsiders(grant, SITE, [grant, deny_s3]) == [STRANGER]
    assert outsiders(grant, SITE, [grant, deny_all]) == []


def test_policy_outsiders_names_each_statement():
    document = {
        "Statement": [
            allow({"AWS": f"arn:aws:iam::{DATA}:root"}, Sid="Mine"),
            allow({"AWS": STRANGER}, Sid="Theirs"),
            allow("*"),
        ]
    }
    assert policy_outsiders(document, SITE) == [f"Theirs allows {STRANGER}", "statement 3 allows *"]


def test_endpoint_policies_without_a_principal_mean_everyone():
    document = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert policy_outsiders(document, SITE, default_anyone=True) == ["statement 1 allows *"]
    assert policy_outsiders(document, SITE) == []  # an identity policy names no principal


@pytest.mark.parametrize(
    ("statement", "outside"),
    [
        (allow("*", resource="*"), ["*"]),
        (allow("*", resource=f"arn:aws:kms:eu-west-1:{OPERATOR}:key/*"), []),
        (allow("*", resource=f"arn:aws:iam::{DATA}:role/*"), []),
        (allow("*", resource=["arn:aws:s3:::site-bucket", "arn:aws:s3:::site-bucket/*"]), []),
        (allow("*", resource="arn:aws:s3:::exfil/*"), ["arn:aws:s3:::exfil/*"]),
        (allow("*", resource="arn:aws:s3:::site-*"), ["arn:aws:s3:::site-*"]),
        (allow("*", resource="arn:aws:logs:eu-west-1:*:log-group:*"), ["arn:aws:logs:eu-west-1:*:log-group:*"]),
        (allow("*", resource="*", condition={"StringEquals": {"aws:ResourceAccount": DATA}}), []),
        (allow("*", resource="*", condition={"StringEquals": {"s3:ResourceAccount": [DATA, STRANGER]}}), ["*"]),
        (
            {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "NotResource": "arn:aws:s3:::x"},
            ["NotResource arn:aws:s3:::x"],
        ),
    ],
)
def test_endpoint_resources_outside_the_site(statement, outside):
    assert resources_outside(statement, SITE) == outside


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("s3:Get*", "s3:GetObject", True),
        ("S3:GETOBJECT", "s3:GetObject", True),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Get*", "s3:PutObject", False),
        ("*", "anything:at:all", True),
        # IAM has no character classes: "[" is literal.
        ("arn:aws:s3:::a[bc]", "arn:aws:s3:::ab", False),
        ("arn:aws:s3:::a[bc]", "arn:aws:s3:::a[bc]", True),
    ],
)
def test_wildcards_follow_iam(pattern, value, matches):
    assert wildcard_match(pattern, value) is matches


@pytest.mark.parametrize(
    ("value", "account"),
    [
        (DATA, DATA),
        (f"arn:aws:iam::{DATA}:role/path/name", DATA),
        (f"arn:aws:kms:eu-west-1:{OPERATOR}:key/abc", OPERATOR),
        ("arn:aws:s3:::bucket", None),
        ("arn:aws:iam::*:root", None),
        ("12345", None),
    ],
)
def test_account_of(value, account):
    assert account_of(value) == account


def test_the_programs_resource_policies_admit_no_outsider(dublin_config):
    from components.audit_trail import audit_log_bucket_policy
    from components.isolated_network import ENDPOINT_POLICIES
    from components.operator_key import operator_key_policy
    from components.pseudonym_secret import pepper_secret_policy
    from components.regional_storage import data_bucket_policy, log_bucket_policy

    cfg = dublin_config
    site = Perimeter(
        accounts=frozenset({cfg.data_account_id, cfg.operator_account_id, cfg.auditor_account_id}),
        bucket_names=frozenset(cfg.bucket_name(r) for r in ("user-data", "access-logs", "audit-logs")),
    )
    key = f"arn:aws:kms:{cfg.region}:{cfg.operator_account_id}:key/k"
    documents = {
        "key": operator_key_policy(cfg),
        "user-data": data_bucket_policy(cfg, cfg.bucket_arn("user-data"), key, "vpce-1"),
        "access-logs": log_bucket_policy(cfg, cfg.bucket_arn("access-logs"), cfg.bucket_arn("user-data")),
        "audit-logs": audit_log_bucket_policy(cfg),
        "pepper": pepper_secret_policy(cfg, cfg.role_arn("workload")),
    }
    for name, document in documents.items():
        assert policy_outsiders(document, site) == [], name
    for service, build in ENDPOINT_POLICIES.items():
        document = build(cfg)
        assert policy_outsiders(document, site, default_anyone=True) == [], service
        assert [r for s in statements(document) for r in resources_outside(s, site)] == [], service


@pytest.mark.parametrize("condition", [[1, 2], "aws:SecureTransport", {"Bool": "false"}, {"StringEquals": None}])
def test_a_condition_of_an_unreadable_shape_confines_nothing_and_denies_nothing(condition):
    # IAM refuses such a document; if one is ever read, an Allow counts as unconditional and a Deny as absent.
    deny = {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*", "Condition": condition}
    doc = {"Statement": [allow({"AWS": "*"}, condition), deny]}
    assert policy_outsiders(doc, SITE) == ["statement 1 allows *"]
    assert [s["Effect"] for s in statements(doc)] == ["Allow", "Unreadable"]
