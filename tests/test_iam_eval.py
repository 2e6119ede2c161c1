"""The small IAM evaluator, on its own: each operator and rule of the IAM reference it implements."""

from __future__ import annotations

import pytest

from tests.iam_eval import Request, UnsupportedError, allows, conditions_hold, denies, role_request, statement_matches

ROLE = "arn:aws:iam::111111111111:role/enclave-deployer"
BUCKET = "arn:aws:s3:::example-bucket"


def deny(condition=None, action="s3:*", resource="*", principal="*") -> dict:
    statement = {"Sid": "S", "Effect": "Deny", "Principal": principal, "Action": action, "Resource": resource}
    if condition is not None:
        statement["Condition"] = condition
    return {"Statement": [statement]}


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringEquals": {"k": "a"}}, {"k": "a"}, True),
        ({"StringEquals": {"k": "a"}}, {"k": "A"}, False),  # case-sensitive
        ({"StringEquals": {"k": "a"}}, {}, False),  # absent key: positive operator is false
        ({"StringEquals": {"k": ["a", "b"]}}, {"k": "b"}, True),  # values ORed
        ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "b"}, False),  # negated: matches none
        ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "c"}, True),
        ({"StringNotEquals": {"k": "a"}}, {}, True),  # absent key: negated operator is true
        ({"StringLike": {"k": "ab*"}}, {"k": "abc"}, True),
        ({"StringLike": {"k": "a?c"}}, {"k": "abc"}, True),
        ({"StringLike": {"k": "a[b]c"}}, {"k": "abc"}, False),  # no character classes in IAM
        ({"StringLike": {"k": "a[b]c"}}, {"k": "a[b]c"}, True),
        ({"StringNotLike": {"k": "x*"}}, {}, True),  # AWS: negated on an absent key is true
        ({"StringNotLike": {"k": "x*"}}, {"k": "xy"}, False),
        ({"StringEqualsIfExists": {"k": "a"}}, {}, True),
        ({"StringEqualsIfExists": {"k": "a"}}, {"k": "b"}, False),
        ({"StringNotEqualsIfExists": {"k": "a"}}, {"k": "a"}, False),
        ({"Null": {"k": "true"}}, {}, True),
        ({"Null": {"k": "true"}}, {"k": "v"}, False),
        ({"Null": {"k": "false"}}, {"k": "v"}, True),
        ({"Null": {"k": "false"}}, {}, False),
        ({"Bool": {"k": "false"}}, {"k": "False"}, True),
        ({"Bool": {"k": "false"}}, {}, False),
        ({"NumericLessThanEquals": {"k": "3600"}}, {"k": "3600"}, True),
        ({"NumericLessThanEquals": {"k": "3600"}}, {"k": "3601"}, False),
        ({"ArnEquals": {"k": "arn:aws:iam::1:role/r"}}, {"k": "arn:aws:iam::1:role/r"}, True),
        ({"ArnLike": {"k": "arn:aws:logs:eu-west-1:1:*"}}, {"k": "arn:aws:logs:eu-west-1:1:log-group:x"}, True),
        ({"ArnLike": {"k": "arn:aws:logs:*:1:*"}}, {"k": "arn:aws:logs:eu-west-1:2:x"}, False),  # per component
        ({"ArnLike": {"k": "arn:aws:s3:::b"}}, {"k": "not-an-arn"}, False),
        (
            {"ArnNotEquals": {"k": ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]}},
            {"k": "arn:aws:iam::1:role/b"},
            False,
        ),
        ({"ArnNotEquals": {"k": "arn:aws:iam::1:role/a"}}, {}, True),
        ({"ArnNotEqualsIfExists": {"k": "arn:aws:kms:r:1:key/a"}}, {"k": "arn:aws:kms:r:1:key/b"}, True),
        ({"ForAllValues:StringEquals": {"k": ["t"]}}, {"k": ["t"]}, True),
        ({"ForAllValues:StringEquals": {"k": ["t"]}}, {"k": ["t", "u"]}, False),
        ({"ForAllValues:StringEquals": {"k": ["t"]}}, {}, True),
        ({"ForAnyValue:StringEquals": {"k": ["t"]}}, {"k": ["u", "t"]}, True),
        ({"ForAnyValue:StringEquals": {"k": ["t"]}}, {}, False),
    ],
)
def test_operator(condition, context, expected):
    assert conditions_hold(condition, context) is expected


def test_operators_and_keys_of_one_block_are_anded():
    condition = {"StringNotEquals": {"a": "x"}, "ArnNotEquals": {"b": "arn:aws:iam::1:role/r"}}
    assert conditions_hold(condition, {"a": "y", "b": "arn:aws:iam::1:role/other"})
    assert not conditions_hold(condition, {"a": "x", "b": "arn:aws:iam::1:role/other"})
    assert not conditions_hold(condition, {"a": "y", "b": "arn:aws:iam::1:role/r"})
    two_keys = {"Null": {"a": "false", "b": "true"}}
    assert conditions_hold(two_keys, {"a": "v"}) and not conditions_hold(two_keys, {"a": "v", "b": "w"})


def test_unknown_operators_and_elements_are_refused():
    with pytest.raises(UnsupportedError):
        conditions_hold({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.0.0.1"})
    with pytest.raises(UnsupportedError):
        conditions_hold({"StringEquals": {"aws:TagKeys": "t"}}, {"aws:TagKeys": ["t"]})
    with pytest.raises(UnsupportedError):
        statement_matches(
            {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "*"}, role_request(ROLE, "s3:x", "*")
        )


def test_actions_match_case_insensitively_with_wildcards_and_not_action():
    assert denies(deny(action="s3:GetObject*"), role_request(ROLE, "s3:getobjectversion", BUCKET))
    assert not denies(deny(action="s3:GetObject*"), role_request(ROLE, "s3:GetBucketPolicy", BUCKET))
    not_action = {"Statement": [{"Effect": "Deny", "NotAction": ["iam:*"], "Resource": "*"}]}
    assert denies(not_action, role_request(ROLE, "s3:GetObject", BUCKET))
    assert not denies(not_action, role_request(ROLE, "iam:GetRole", BUCKET))


def test_resources_match_case_sensitively():
    assert denies(deny(resource=f"{BUCKET}/*"), role_request(ROLE, "s3:GetObject", f"{BUCKET}/key"))
    assert not denies(deny(resource=f"{BUCKET}/*"), role_request(ROLE, "s3:ListBucket", BUCKET))
    assert not denies(deny(resource=BUCKET.upper()), role_request(ROLE, "s3:ListBucket", BUCKET))


def test_principals_account_root_stands_for_its_principals_and_services_match_by_name():
    root = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "*"}]}
    assert allows(root, role_request(ROLE, "kms:Decrypt", "*"))
    assert not allows(root, role_request("arn:aws:iam::222222222222:role/x", "kms:Decrypt", "*"))
    service = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "*"}]}
    assert allows(service, Request(action="s3:PutObject", resource="*", service="logging.s3.amazonaws.com"))
    assert not allows(service, role_request(ROLE, "s3:PutObject", "*"))


def test_role_request_carries_the_keys_aws_always_sets():
    request = role_request(ROLE, "s3:ListBucket", BUCKET, {"aws:SourceVpce": "vpce-1"})
    assert request.context == {
        "aws:PrincipalArn": ROLE,
        "aws:PrincipalAccount": "111111111111",
        "aws:PrincipalIsAWSService": "false",
        "aws:SecureTransport": "true",
        "aws:SourceVpce": "vpce-1",
    }
    assert not denies(deny({"Bool": {"aws:SecureTransport": "false"}}), request)
