"""Data sources under the harness: every answer has the SDK's result type; residency facts are AWS's."""

from __future__ import annotations

import re
import typing
import warnings
from pathlib import Path

import pulumi
import pytest
from pulumi.runtime import rpc

from enclave.invokes import (
    Placement,
    _Context,
    _is_output_type,
    _optional,
    _properties,
    answer,
    build,
    partition_of,
    result_type,
    zone_id,
)

SDK = Path(rpc.__file__).resolve().parents[2] / "pulumi_aws"
INVOKE = re.compile(r"pulumi\.runtime\.invoke\('([^']+)'")
MODULES = (
    "index acm cloudtrail cloudwatch dynamodb ebs ec2 iam kms lambda_ organizations route53 s3 secretsmanager sns "
    "sqs ssm vpc".split()
)
"""The modules real programs (and this corpus) call most; every one of their data sources is checked."""
PLACEMENT = Placement(region="eu-west-1", account="111122223333")
REQUIRED_ARGUMENTS = {"aws:index/getArn:getArn": {"arn": "arn:aws:s3:::bucket"}}
"""Arguments without which the provider itself refuses the call."""


def _tokens(modules: tuple[str, ...]) -> list[str]:
    found = set()
    for path in SDK.rglob("get_*.py"):
        module = "index" if path.parent == SDK else path.parent.name
        if module in modules:
            found.update(INVOKE.findall(path.read_text()))
    return sorted(found)


def _type_errors(value, hint, where: str) -> list[str]:
    """Where ``value`` is not what the SDK's annotation ``hint`` promises (None only where Optional)."""
    optional, tp = _optional(hint)
    if value is None:
        return [] if optional else [f"{where}: None"]
    origin = typing.get_origin(tp)
    if tp in (str, bool):
        return [] if type(value) is tp else [f"{where}: {type(value).__name__}, not {tp.__name__}"]
    if tp is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: not int"]
    if tp is float:
        return [] if isinstance(value, (int, float)) else [f"{where}: not float"]
    if _is_output_type(tp):
        if not isinstance(value, tp):
            return [f"{where}: {type(value).__name__}, not {tp.__name__}"]
        return [e for py, _w, h in _properties(tp) for e in _type_errors(pulumi.get(value, py), h, f"{where}.{py}")]
    if origin is typing.Sequence.__origin__ or origin is list:
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        (item,) = typing.get_args(tp)
        return [e for i, v in enumerate(value) for e in _type_errors(v, item, f"{where}[{i}]")]
    return []


def test_every_data_source_of_the_common_modules_answers_its_own_result_type():
    tokens = _tokens(MODULES)
    assert len(tokens) > 200, "the SDK scan found too few data sources"
    errors = []
    for token in tokens:
        cls = result_type(token)
        assert cls is not None, f"{token}: no result type found"
        result, note = answer(token, REQUIRED_ARGUMENTS.get(token, {}), PLACEMENT)
        assert note is None
        # Exactly what the SDK does with an invoke's answer (pulumi.runtime.invoke, typ=...).
        typed = rpc.translate_output_properties(result, lambda p: p, cls)
        with warnings.catch_warnings():  # reading deprecated properties warns, as it would in a program
            warnings.simplefilter("ignore", UserWarning)
            for py, _wire, hint in _properties(cls):
                errors += _type_errors(getattr(typed, py), hint, f"{token}.{py}")
    assert errors == []


def test_result_types_are_found_for_keyword_modules_and_the_index():
    assert result_type("aws:lambda/getFunction:getFunction").__module__ == "pulumi_aws.lambda_.get_function"
    assert result_type("aws:index/getRegion:getRegion").__name__ == "GetRegionResult"
    assert result_type("gcp:storage/getBucket:getBucket") is None  # not installed here


def test_a_data_source_of_an_uninstalled_package_answers_nothing_and_says_so():
    result, note = answer("gcp:storage/getBucket:getBucket", {"name": "b"}, PLACEMENT)
    assert result == {} and "gcp:storage/getBucket:getBucket" in note


def test_arguments_come_back_as_given():
    result, _ = answer(
        "aws:ec2/getSubnet:getSubnet", {"vpcId": "vpc-0abc", "availabilityZone": "eu-west-1c"}, PLACEMENT
    )
    assert result["vpcId"] == "vpc-0abc" and result["availabilityZone"] == "eu-west-1c"
    filters = [{"name": "vpc-id", "values": ["vpc-0abc"]}]
    result, _ = answer("aws:ec2/getSubnets:getSubnets", {"filters": filters}, PLACEMENT)
    assert result["filters"] == filters
    assert len(result["ids"]) == 3 and all(i.startswith("subnet-") for i in result["ids"])


def test_answers_are_deterministic_per_call_and_differ_between_lookups():
    one, _ = answer("aws:ec2/getVpc:getVpc", {"tags": {"Name": "a"}}, PLACEMENT)
    again, _ = answer("aws:ec2/getVpc:getVpc", {"tags": {"Name": "a"}}, PLACEMENT)
    other, _ = answer("aws:ec2/getVpc:getVpc", {"tags": {"Name": "b"}}, PLACEMENT)
    assert one == again and one["id"] != other["id"]
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", one["id"])


# --------------------------------------------------------------------------- facts that decide residency


@pytest.mark.parametrize(
    ("region", "first"),
    # AWS's AZ ids (AWS RAM user guide, "AZ IDs for your AWS resources").
    [
        ("eu-west-1", "euw1-az1"),
        ("us-east-1", "use1-az1"),
        ("ap-southeast-2", "apse2-az1"),
        ("eu-north-1", "eun1-az1"),
        ("ca-central-1", "cac1-az1"),
        ("us-gov-west-1", "usgw1-az1"),
    ],
)
def test_zone_ids_are_awss(region, first):
    assert zone_id(region, 1) == first


def test_regions_and_partitions_come_from_botocores_data():
    assert partition_of("eu-west-1")["name"] == "aws"
    sovereign = partition_of("eusc-de-east-1")
    assert sovereign["name"] == "aws-eusc" and sovereign["dnsSuffix"] == "amazonaws.eu"
    assert partition_of("cn-north-1")["dnsSuffix"] == "amazonaws.com.cn"
    region, _ = answer("aws:index/getRegion:getRegion", {}, Placement(region="eu-north-1"))
    assert region["region"] == "eu-north-1" and region["description"] == "Europe (Stockholm)"
    assert region["endpoint"] == "ec2.eu-north-1.amazonaws.com"
    part, _ = answer("aws:index/getPartition:getPartition", {}, Placement(region="eusc-de-east-1"))
    assert part == {
        "partition": "aws-eusc",
        "id": "aws-eusc",
        "dnsSuffix": "amazonaws.eu",
        "reverseDnsPrefix": "eu.amazonaws",
    }
    regions, _ = answer("aws:index/getRegions:getRegions", {}, PLACEMENT)
    assert "eu-west-1" in regions["names"] and "cn-north-1" not in regions["names"]


def test_a_lookup_in_another_region_answers_for_that_region():
    result, _ = answer("aws:s3/getBucket:getBucket", {"bucket": "logs", "region": "eu-central-1"}, PLACEMENT)
    assert (
        result["region"] == "eu-central-1"
        and result["bucketRegionalDomainName"] == "logs.s3.eu-central-1.amazonaws.com"
    )
    assert result["arn"] == "arn:aws:s3:::logs"


def test_caller_identity_is_the_providers_account():
    plain, _ = answer("aws:index/getCallerIdentity:getCallerIdentity", {}, PLACEMENT)
    assert plain["accountId"] == "111122223333" and plain["arn"].startswith("arn:aws:iam::111122223333:")
    assumed = Placement(
        region="eu-west-1",
        account="222233334444",
        provider_inputs={"assumeRoles": [{"roleArn": "arn:aws:iam::222233334444:role/deployer"}]},
    )
    result, _ = answer("aws:index/getCallerIdentity:getCallerIdentity", {}, assumed)
    assert result["arn"].startswith("arn:aws:sts::222233334444:assumed-role/deployer/")


def test_a_key_looked_up_by_arn_keeps_its_account_and_region():
    arn = "arn:aws:kms:eu-north-1:555566667777:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    key, _ = answer("aws:kms/getKey:getKey", {"keyId": arn}, PLACEMENT)
    assert key["arn"] == arn and key["awsAccountId"] == "555566667777" and key["region"] == "eu-north-1"
    assert key["multiRegion"] is False


def test_get_arn_parses_and_refuses_what_is_not_an_arn():
    parsed, _ = answer("aws:index/getArn:getArn", {"arn": "arn:aws-eusc:s3:::bucket/key"}, PLACEMENT)
    assert (parsed["partition"], parsed["service"], parsed["region"], parsed["account"], parsed["resource"]) == (
        "aws-eusc",
        "s3",
        "",
        "",
        "bucket/key",
    )
    with pytest.raises(ValueError, match="invalid ARN"):
        answer("aws:index/getArn:getArn", {"arn": "bucket/key"}, PLACEMENT)


def test_availability_zones_honour_exclusions():
    zones, _ = answer(
        "aws:index/getAvailabilityZones:getAvailabilityZones", {"excludeNames": ["eu-west-1b"]}, PLACEMENT
    )
    assert zones["names"] == ["eu-west-1a", "eu-west-1c"] and zones["zoneIds"] == ["euw1-az1", "euw1-az3"]


def test_default_tags_are_the_providers():
    tagged = Placement(region="eu-west-1", provider_inputs={"defaultTags": {"tags": {"team": "a"}}})
    tags, _ = answer("aws:index/getDefaultTags:getDefaultTags", {}, tagged)
    assert tags["tags"] == {"team": "a"}


def test_nested_result_types_are_built_not_left_out():
    cls = result_type("aws:ec2/getVpc:getVpc")
    ctx = _Context("aws:ec2/getVpc:getVpc", {}, PLACEMENT)
    built = build(cls, {}, ctx)
    associations = built["cidrBlockAssociations"]
    assert isinstance(associations, list) and associations and "cidrBlock" in associations[0]


def test_a_lookup_by_one_identifier_reads_back_the_others():
    # The SDK types get_cache_policy's id and name Optional (either one is the lookup's key),
    # but the provider, like every Terraform data source, always sets the id and reads back the name.
    by_name, _ = answer("aws:cloudfront/getCachePolicy:getCachePolicy", {"name": "Managed-CachingOptimized"}, PLACEMENT)
    assert isinstance(by_name["id"], str) and by_name["id"] and by_name["name"] == "Managed-CachingOptimized"
    by_id, _ = answer("aws:cloudfront/getCachePolicy:getCachePolicy", {"id": "658327ea"}, PLACEMENT)
    assert by_id["id"] == "658327ea" and isinstance(by_id["name"], str) and by_id["name"]
    # An optional filter stays what the program passed: nothing.
    assert "filters" not in answer("aws:ec2/getVpc:getVpc", {}, PLACEMENT)[0]


def test_ids_of_a_noun_look_like_that_nouns_ids():
    result, _ = answer("aws:ec2/getAmiIds:getAmiIds", {"owners": ["amazon"]}, PLACEMENT)
    assert all(re.fullmatch(r"ami-[0-9a-f]{17}", i) for i in result["ids"]), result["ids"]
    zone, _ = answer("aws:lb/getHostedZoneId:getHostedZoneId", {}, PLACEMENT)
    assert re.fullmatch(r"Z[0-9A-F]{13}", zone["id"]), zone["id"]


@pytest.mark.parametrize(("region", "account"), [("eu-west-1", "156460612806"), ("eu-north-1", "897822967062")])
def test_elbs_log_writing_account_is_awss_own_for_the_region(region, account):
    # A load balancer's access-log bucket policy names it: a foreign account, which the pack must see as one.
    result, _ = answer("aws:elb/getServiceAccount:getServiceAccount", {}, Placement(region=region))
    assert result["arn"] == f"arn:aws:iam::{account}:root" and result["id"] == account
    with pytest.raises(ValueError, match="unsupported AWS Region"):
        answer("aws:elb/getServiceAccount:getServiceAccount", {}, Placement(region="ap-southeast-4"))
