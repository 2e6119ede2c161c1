"""``iam.get_policy_document`` offline renders what terraform-provider-aws renders.

Every expected document below is taken from the provider's own acceptance
tests, ``internal/service/iam/policy_document_data_source_test.go``
(hashicorp/terraform-provider-aws, the 5.x/6.x data source that pulumi-aws 7
bridges), with ``acctest.Partition()`` as ``aws`` (and ``aws-us-gov`` for the
GovCloud variant). Where the provider's test compares with
``CheckResourceAttrEquivalentJSON`` the comparison here is on parsed JSON too;
everywhere else it is byte for byte, as ``TestCheckResourceAttr`` is.
"""

from __future__ import annotations

import json
import zlib

import pytest

from enclave.policy_document import PolicyDocumentError, render

# --------------------------------------------------------------------------- testAccPolicyDocumentDataSourceConfig_basic

BASIC = {
    "policyId": "policy_id",
    "statements": [
        {"sid": "1", "actions": ["s3:ListAllMyBuckets", "s3:GetBucketLocation"], "resources": ["arn:aws:s3:::*"]},
        {
            "actions": ["s3:ListBucket"],
            "resources": ["arn:aws:s3:::foo"],
            "conditions": [
                {"test": "StringLike", "variable": "s3:prefix", "values": ["home/", "", "home/&{aws:username}/"]}
            ],
            "notPrincipals": [{"type": "AWS", "identifiers": ["arn:blahblah:example"]}],
        },
        {
            "actions": ["s3:*"],
            "resources": ["arn:aws:s3:::foo/home/&{aws:username}", "arn:aws:s3:::foo/home/&{aws:username}/*"],
            "principals": [{"type": "AWS", "identifiers": ["arn:blahblah:example"]}],
        },
        {"effect": "Deny", "notActions": ["s3:*"], "notResources": ["arn:aws:s3:::*"]},
        {"effect": "Allow", "actions": ["kinesis:*"], "principals": [{"type": "AWS", "identifiers": ["*"]}]},
        {"effect": "Allow", "actions": ["firehose:*"], "principals": [{"type": "*", "identifiers": ["*"]}]},
    ],
}

BASIC_JSON = """{
  "Version": "2012-10-17",
  "Id": "policy_id",
  "Statement": [
    {
      "Sid": "1",
      "Effect": "Allow",
      "Action": [
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation"
      ],
      "Resource": "arn:aws:s3:::*"
    },
    {
      "Effect": "Allow",
      "Action": "s3:ListBucket",
      "Resource": "arn:aws:s3:::foo",
      "NotPrincipal": {
        "AWS": "arn:blahblah:example"
      },
      "Condition": {
        "StringLike": {
          "s3:prefix": [
            "home/",
            "",
            "home/${aws:username}/"
          ]
        }
      }
    },
    {
      "Effect": "Allow",
      "Action": "s3:*",
      "Resource": [
        "arn:aws:s3:::foo/home/${aws:username}/*",
        "arn:aws:s3:::foo/home/${aws:username}"
      ],
      "Principal": {
        "AWS": "arn:blahblah:example"
      }
    },
    {
      "Effect": "Deny",
      "NotAction": "s3:*",
      "NotResource": "arn:aws:s3:::*"
    },
    {
      "Effect": "Allow",
      "Action": "kinesis:*",
      "Principal": {
        "AWS": "*"
      }
    },
    {
      "Effect": "Allow",
      "Action": "firehose:*",
      "Principal": "*"
    }
  ]
}"""

BASIC_MINIFIED = (
    '{"Version":"2012-10-17","Id":"policy_id","Statement":[{"Sid":"1","Effect":"Allow","Action":["s3:ListAllMyBuckets",'
    '"s3:GetBucketLocation"],"Resource":"arn:aws:s3:::*"},{"Effect":"Allow","Action":"s3:ListBucket","Resource":'
    '"arn:aws:s3:::foo","NotPrincipal":{"AWS":"arn:blahblah:example"},"Condition":{"StringLike":{"s3:prefix":["home/",'
    '"","home/${aws:username}/"]}}},{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::foo/home/${aws:username}/*",'
    '"arn:aws:s3:::foo/home/${aws:username}"],"Principal":{"AWS":"arn:blahblah:example"}},{"Effect":"Deny","NotAction":'
    '"s3:*","NotResource":"arn:aws:s3:::*"},{"Effect":"Allow","Action":"kinesis:*","Principal":{"AWS":"*"}},{"Effect":'
    '"Allow","Action":"firehose:*","Principal":"*"}]}'
)


def test_basic_document_is_byte_identical():
    out = render(BASIC)
    assert out["json"] == BASIC_JSON
    assert out["minifiedJson"] == BASIC_MINIFIED
    # The data source's id is the hash code of its JSON (create.StringHashcode: crc32).
    assert out["id"] == str(zlib.crc32(BASIC_JSON.encode()))


def test_dict_literals_with_snake_case_keys_render_the_same():
    snake = json.loads(
        json.dumps(BASIC).replace("notPrincipals", "not_principals").replace("notActions", "not_actions")
    )
    snake["statements"][3]["not_resources"] = snake["statements"][3].pop("notResources")
    assert render(snake)["json"] == BASIC_JSON


# --------------------------------------------------------------------------- conditions


def test_single_condition_value_collapses_to_a_string():
    args = {
        "statements": [
            {
                "effect": "Deny",
                "principals": [{"type": "AWS", "identifiers": ["*"]}],
                "actions": ["elasticfilesystem:*"],
                "resources": ["*"],
                "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
            }
        ]
    }
    assert (
        render(args)["json"]
        == """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Deny",
      "Action": "elasticfilesystem:*",
      "Resource": "*",
      "Principal": {
        "AWS": "*"
      },
      "Condition": {
        "Bool": {
          "aws:SecureTransport": "false"
        }
      }
    }
  ]
}"""
    )


def _statement(**extra):
    return {
        "sid": "AWSCloudTrailWrite20150319",
        "effect": "Allow",
        "principals": [{"type": "Service", "identifiers": ["cloudtrail.amazonaws.com"]}],
        "actions": ["s3:PutObject"],
        "resources": ["*"],
        **extra,
    }


def test_conditions_on_two_keys_of_one_operator_share_it():
    conditions = [
        {"test": "StringEquals", "variable": "s3:x-amz-acl", "values": ["bucket-owner-full-control"]},
        {"test": "StringEquals", "variable": "aws:SourceArn", "values": ["some-other-value"]},
    ]
    got = json.loads(render({"statements": [_statement(conditions=conditions)]})["json"])
    assert got["Statement"][0]["Condition"] == {
        "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": "some-other-value"}
    }


def test_duplicate_condition_keys_merge_their_values_in_set_order():
    conditions = [
        {"test": "StringEquals", "variable": "s3:prefix", "values": ["one/", "two/"]},
        {"test": "StringEquals", "variable": "s3:prefix", "values": ["three/"]},
    ]
    statement = _statement(conditions=conditions, sid="DuplicateConditionTest")
    got = json.loads(render({"statements": [statement]})["json"])
    assert got["Statement"][0]["Condition"] == {"StringEquals": {"s3:prefix": ["one/", "two/", "three/"]}}


def test_source_document_condition_with_a_boolean_and_a_one_item_list():
    source = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "RestrictAccessToSpecialTag",
                    "Effect": "Deny",
                    "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
                    "Resource": "arn:aws:ec2:*:*:vpc/*",
                    "Condition": {
                        "Null": {"aws:ResourceTag/SpecialTag": False},
                        "StringLike": {
                            "aws:ResourceAccount": ["123456"],
                            "aws:PrincipalArn": "arn:aws:iam::*:role/AWSAFTExecution",
                        },
                    },
                }
            ],
        }
    )
    got = json.loads(render({"sourcePolicyDocuments": [source]})["json"])
    assert got == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RestrictAccessToSpecialTag",
                "Effect": "Deny",
                "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
                "Resource": "arn:aws:ec2:*:*:vpc/*",
                "Condition": {
                    "Null": {"aws:ResourceTag/SpecialTag": "false"},
                    "StringLike": {
                        "aws:ResourceAccount": "123456",
                        "aws:PrincipalArn": "arn:aws:iam::*:role/AWSAFTExecution",
                    },
                },
            }
        ],
    }


# --------------------------------------------------------------------------- source and override documents


def test_source_document_then_own_statement():
    deprecated = dict(BASIC)
    deprecated["statements"] = [dict(s) for s in BASIC["statements"]]
    deprecated["statements"][1] = dict(
        deprecated["statements"][1],
        conditions=[{"test": "StringLike", "variable": "s3:prefix", "values": ["home/", "home/&{aws:username}/"]}],
    )
    deprecated["statements"][2] = dict(
        deprecated["statements"][2],
        principals=[{"type": "AWS", "identifiers": ["arn:blahblah:example", "arn:blahblahblah:example"]}],
    )
    test_json = render(deprecated)["json"]
    got = render(
        {
            "sourcePolicyDocuments": [test_json],
            "statements": [{"sid": "SourceJSONTest1", "actions": ["*"], "resources": ["*"]}],
        }
    )["json"]
    statements = json.loads(got)["Statement"]
    assert json.loads(got)["Id"] == "policy_id"
    assert statements[1]["Condition"] == {"StringLike": {"s3:prefix": ["home/", "home/${aws:username}/"]}}
    assert statements[2]["Principal"] == {"AWS": ["arn:blahblahblah:example", "arn:blahblah:example"]}
    assert statements[-1] == {"Sid": "SourceJSONTest1", "Effect": "Allow", "Action": "*", "Resource": "*"}
    assert len(statements) == 7


def _doc(*statements) -> str:
    return render({"statements": list(statements)})["json"]


POLICY_A = _doc(
    {"sid": "", "effect": "Allow", "actions": ["foo:ActionOne"]},
    {"sid": "validSidOne", "effect": "Allow", "actions": ["bar:ActionOne"]},
)


def test_source_list_merges_in_order():
    policy_b = _doc({"sid": "validSidTwo", "effect": "Deny", "actions": ["foo:ActionTwo"]})
    policy_c = _doc({"sid": "", "effect": "Allow", "actions": ["bar:ActionTwo"]})
    got = render({"version": "2012-10-17", "sourcePolicyDocuments": [POLICY_A, policy_b, policy_c]})["json"]
    assert (
        got
        == """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "foo:ActionOne"
    },
    {
      "Sid": "validSidOne",
      "Effect": "Allow",
      "Action": "bar:ActionOne"
    },
    {
      "Sid": "validSidTwo",
      "Effect": "Deny",
      "Action": "foo:ActionTwo"
    },
    {
      "Effect": "Allow",
      "Action": "bar:ActionTwo"
    }
  ]
}"""
    )


def test_an_empty_source_document_is_skipped():
    got = render(
        {
            "sourcePolicyDocuments": [""],
            "statements": [{"sid": "SourceJSONTest2", "actions": ["*"], "resources": ["*"]}],
        }
    )
    assert (
        got["json"]
        == """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "SourceJSONTest2",
      "Effect": "Allow",
      "Action": "*",
      "Resource": "*"
    }
  ]
}"""
    )
    assert render({"sourcePolicyDocuments": [""]})["json"] == '{\n  "Version": "2012-10-17"\n}'
    assert render({"overridePolicyDocuments": [""]})["json"] == '{\n  "Version": "2012-10-17"\n}'


def test_own_statement_replaces_a_source_statement_with_its_sid():
    source = _doc({"sid": "SourceJSONTestConflicting", "actions": ["iam:*"], "resources": ["*"]})
    got = render(
        {
            "sourcePolicyDocuments": [source],
            "statements": [{"sid": "SourceJSONTestConflicting", "actions": ["*"], "resources": ["*"]}],
        }
    )
    assert json.loads(got["json"])["Statement"] == [
        {"Sid": "SourceJSONTestConflicting", "Effect": "Allow", "Action": "*", "Resource": "*"}
    ]


def test_duplicate_sids_across_source_documents_are_refused():
    policy_b = _doc({"sid": "validSid", "effect": "Deny", "actions": ["foo:ActionTwo"]})
    conflicting_a = _doc(
        {"sid": "", "effect": "Allow", "actions": ["foo:ActionOne"]},
        {"sid": "conflictSid", "effect": "Allow", "actions": ["bar:ActionOne"]},
    )
    policy_c = _doc({"sid": "conflictSid", "effect": "Allow", "actions": ["bar:ActionTwo"]})
    with pytest.raises(PolicyDocumentError, match=r"duplicate Sid \(conflictSid\)"):
        render({"sourcePolicyDocuments": [conflicting_a, policy_b, policy_c]})


def test_override_replaces_by_sid_in_place():
    override = _doc({"sid": "SidToOverwrite", "actions": ["s3:*"], "resources": ["*"]})
    got = render(
        {
            "overridePolicyDocuments": [override],
            "statements": [
                {"actions": ["ec2:*"], "resources": ["*"]},
                {
                    "sid": "SidToOverwrite",
                    "actions": ["s3:*"],
                    "resources": ["arn:aws:s3:::somebucket", "arn:aws:s3:::somebucket/*"],
                },
            ],
        }
    )
    assert (
        got["json"]
        == """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "ec2:*",
      "Resource": "*"
    },
    {
      "Sid": "SidToOverwrite",
      "Effect": "Allow",
      "Action": "s3:*",
      "Resource": "*"
    }
  ]
}"""
    )


def test_override_list_applies_in_order():
    policy_b = _doc({"sid": "validSid", "effect": "Deny", "actions": ["foo:ActionTwo"]})
    policy_c = _doc({"sid": "overrideSid", "effect": "Deny", "actions": ["bar:ActionOne"]})
    policy_a = _doc(
        {"sid": "", "effect": "Allow", "actions": ["foo:ActionOne"]},
        {"sid": "overrideSid", "effect": "Allow", "actions": ["bar:ActionOne"]},
    )
    got = render({"version": "2012-10-17", "overridePolicyDocuments": [policy_a, policy_b, policy_c]})
    assert json.loads(got["json"])["Statement"] == [
        {"Effect": "Allow", "Action": "foo:ActionOne"},
        {"Sid": "overrideSid", "Effect": "Deny", "Action": "bar:ActionOne"},
        {"Sid": "validSid", "Effect": "Deny", "Action": "foo:ActionTwo"},
    ]


@pytest.mark.parametrize(
    ("source_sid", "expected"),
    [
        (
            "",
            [
                {"Effect": "Allow", "Action": "ec2:DescribeAccountAttributes", "Resource": "*"},
                {"Sid": "OverridePlaceholder", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            ],
        ),
        (
            "OverridePlaceholder",
            [{"Sid": "OverridePlaceholder", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        ),
    ],
)
def test_source_and_override_without_statements(source_sid, expected):
    source = _doc({"sid": source_sid, "actions": ["ec2:DescribeAccountAttributes"], "resources": ["*"]})
    override = _doc({"sid": "OverridePlaceholder", "actions": ["s3:GetObject"], "resources": ["*"]})
    got = json.loads(render({"sourcePolicyDocuments": [source], "overridePolicyDocuments": [override]})["json"])
    assert got == {"Version": "2012-10-17", "Statement": expected}


def test_duplicate_sid_is_refused_and_blank_sids_are_not_duplicates():
    first = {"sid": "1", "effect": "Allow", "actions": ["ec2:DescribeAccountAttributes"], "resources": ["*"]}
    with pytest.raises(PolicyDocumentError, match="duplicate Sid"):
        render({"statements": [first, {**first, "actions": ["s3:GetObject"]}]})
    blank = [{**first, "sid": ""}, {**first, "sid": "", "actions": ["s3:GetObject"]}]
    assert json.loads(render({"statements": blank})["json"])["Statement"] == [
        {"Effect": "Allow", "Action": "ec2:DescribeAccountAttributes", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    ]


def test_invalid_json_documents_are_refused_like_the_provider():
    with pytest.raises(PolicyDocumentError, match=r'"source_policy_documents.0" contains an invalid JSON'):
        render({"sourcePolicyDocuments": ["{"]})
    with pytest.raises(PolicyDocumentError, match=r'"override_policy_documents.0" contains an invalid JSON'):
        render({"overridePolicyDocuments": ["{"]})


# --------------------------------------------------------------------------- version 2008-10-17


def test_version_2008():
    got = render({"version": "2008-10-17", "statements": [{"actions": ["ec2:*"], "resources": ["*"]}]})
    assert (
        got["json"]
        == """{
  "Version": "2008-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "ec2:*",
      "Resource": "*"
    }
  ]
}"""
    )


@pytest.mark.parametrize(
    "statement",
    [
        {
            "actions": ["*"],
            "resources": ["*"],
            "conditions": [
                {"test": "StringLike", "values": ["home/", "home/&{aws:username}/"], "variable": "s3:prefix"}
            ],
        },
        {"actions": ["*"], "resources": ["*"], "notPrincipals": [{"identifiers": ["&{aws:username}"], "type": "AWS"}]},
        {"actions": ["*"], "notResources": ["arn:aws:s3:::foo/home/&{aws:username}"]},
        {"actions": ["*"], "resources": ["*"], "principals": [{"identifiers": ["&{aws:username}"], "type": "AWS"}]},
        {"actions": ["*"], "resources": ["arn:aws:s3:::foo/home/&{aws:username}"]},
    ],
)
def test_version_2008_refuses_variable_sequences(statement):
    with pytest.raises(
        PolicyDocumentError,
        match=r"found &\{ sequence in \(.+\), which is not supported in document version 2008-10-17",
    ):
        render({"version": "2008-10-17", "statements": [statement]})


# --------------------------------------------------------------------------- principal blocks (sets ordered by hash)


def test_principal_identifiers_string_and_slice():
    got = render(
        {
            "statements": [
                {
                    "actions": ["*"],
                    "resources": ["*"],
                    "sid": "StatementPrincipalIdentifiersStringAndSlice",
                    "principals": [
                        {"identifiers": ["arn:aws:iam::111111111111:root"], "type": "AWS"},
                        {
                            "identifiers": ["arn:aws:iam::222222222222:root", "arn:aws:iam::333333333333:root"],
                            "type": "AWS",
                        },
                    ],
                }
            ]
        }
    )
    assert json.loads(got["json"])["Statement"][0]["Principal"] == {
        "AWS": ["arn:aws:iam::111111111111:root", "arn:aws:iam::333333333333:root", "arn:aws:iam::222222222222:root"]
    }


@pytest.mark.parametrize(
    ("partition", "order"),
    [
        ("aws", ["333333333333", "444444444444", "222222222222", "111111111111"]),
        ("aws-us-gov", ["333333333333", "222222222222", "111111111111", "444444444444"]),
    ],
)
def test_multiple_principal_blocks_follow_the_providers_set_order(partition, order):
    """The provider's fixture differs by partition: the blocks come out in schema-hash order."""

    def root(account):
        return f"arn:{partition}:iam::{account}:root"

    got = render(
        {
            "statements": [
                {
                    "actions": ["*"],
                    "resources": ["*"],
                    "sid": "StatementPrincipalIdentifiersStringAndSlice",
                    "principals": [
                        {"identifiers": [root("111111111111"), root("222222222222")], "type": "AWS"},
                        {"identifiers": [root("333333333333")], "type": "AWS"},
                        {"identifiers": [root("444444444444")], "type": "AWS"},
                    ],
                }
            ]
        }
    )
    assert json.loads(got["json"])["Statement"][0]["Principal"] == {"AWS": [root(a) for a in order]}


# --------------------------------------------------------------------------- Go's encoding/json


def test_json_escapes_html_characters_as_go_does():
    got = render({"statements": [{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::a<b>&c"]}]})
    assert '"arn:aws:s3:::a\\u003cb\\u003e\\u0026c"' in got["json"]
    assert json.loads(got["json"])["Statement"][0]["Resource"] == "arn:aws:s3:::a<b>&c"


def test_bad_effect_and_version_are_refused():
    with pytest.raises(PolicyDocumentError, match="effect to be one of"):
        render({"statements": [{"effect": "allow", "actions": ["*"]}]})
    with pytest.raises(PolicyDocumentError, match="version to be one of"):
        render({"version": "2020-01-01"})
