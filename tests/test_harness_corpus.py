"""Realistic programs nobody here would write for the enclave, each run the way ``pulumi preview`` runs it.

Each program in ``tests/corpus/`` is evaluated once per process (``corpus``)
and its recorded registrations are checked against what AWS and the engine
would do with them.
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from pathlib import Path

import pytest

from enclave.cli import main
from enclave.harness import SECRET_MARK, UNKNOWN, ProgramRun, RecordedResource, run_program
from enclave.policy_document import render

CORPUS = Path(__file__).resolve().parent / "corpus"
PROGRAMS = sorted(p.name for p in CORPUS.iterdir() if (p / "Pulumi.yaml").exists() and not p.name.startswith("fail-"))


@functools.cache
def corpus(name: str, stack: str) -> ProgramRun:
    return run_program(stack, CORPUS / name, timeout=20)


def one(run: ProgramRun, type_: str, name: str | None = None) -> RecordedResource:
    found = [r for r in run.resources if r.type == type_ and (name is None or r.name == name)]
    assert len(found) == 1, [(r.type, r.name) for r in run.resources]
    return found[0]


def line_of(path: Path, line: int) -> str:
    return path.read_text().splitlines()[line - 1]


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_corpus_program_evaluates_and_names_where_each_resource_was_made(program):
    from enclave.harness import list_stacks

    for stack in list_stacks(CORPUS / program):
        run = corpus(program, stack)
        assert run.resources, f"{program}/{stack} registered nothing"
        for res in run.resources:
            # The position is the constructor call, in the program's own source.
            assert res.source_file and not Path(res.source_file).is_absolute(), (program, res.urn)
            cls = "Provider" if res.type.startswith("pulumi:providers:") else res.type.rsplit(":", 1)[-1]
            text = line_of(CORPUS / program / res.source_file, res.source_line)
            assert f"{cls}(" in text, (res.urn, res.source_file, res.source_line, text)


# --------------------------------------------------------------------------- webserver


def test_webserver_uses_what_its_data_sources_found():
    run = corpus("webserver", "dev")
    server = one(run, "aws:ec2/instance:Instance")
    group = one(run, "aws:ec2/securityGroup:SecurityGroup")
    assert re.fullmatch(r"ami-[0-9a-f]{17}", server.inputs["ami"]) and run.stack_outputs["ami"] == server.inputs["ami"]
    assert server.inputs["subnetId"].startswith("subnet-")
    assert server.inputs["availabilityZone"] == "eu-west-1a"
    assert run.stack_outputs["zones"] == ["eu-west-1a", "eu-west-1b"]
    assert server.inputs["instanceType"] == "t3.micro"  # Pulumi.yaml's default
    # The file was read relative to the program's directory, whatever the caller's cwd.
    assert server.inputs["userData"] == (CORPUS / "webserver" / "user_data.sh").read_text()
    # A default VPC is 172.31.0.0/16 (Amazon VPC user guide, "Default VPCs").
    assert group.inputs["ingress"][0]["cidrBlocks"] == ["172.31.0.0/16"]
    assert group.inputs["vpcId"].startswith("vpc-")
    assert any("virtualenv venv" in n for n in run.notes)


# --------------------------------------------------------------------------- iam-policies


def test_trust_policy_is_the_providers_rendering():
    role = one(corpus("iam-policies", "dev"), "aws:iam/role:Role")
    assert json.loads(role.inputs["assumeRolePolicy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                # Several identifiers of one set are sorted in reverse by the provider.
                "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]},
            }
        ],
    }


def test_merged_policy_keeps_source_order_overrides_in_place_and_names_the_account():
    run = corpus("iam-policies", "dev")
    inline = one(run, "aws:iam/rolePolicy:RolePolicy")
    managed = one(run, "aws:iam/policy:Policy")
    doc = json.loads(inline.inputs["policy"])
    assert [s.get("Sid") for s in doc["Statement"]] == ["ReadLogs", "DenyOutsideEurope", "ReadOwnBucket", None]
    assert doc["Statement"][0] == {
        "Sid": "ReadLogs",
        "Effect": "Allow",
        "Action": "logs:GetLogEvents",
        "Resource": "arn:aws:logs:eu-north-1:111122223333:log-group:/app/*",
    }
    assert doc["Statement"][1]["Condition"] == {"StringNotEquals": {"aws:RequestedRegion": "eu-north-1"}}
    own = doc["Statement"][2]
    assert own["Condition"] == {
        "Bool": {"aws:SecureTransport": "true"},
        "StringEquals": {"aws:PrincipalAccount": "111122223333"},
    }
    assert own["Resource"] == ["arn:aws:s3:::app-data/home/${aws:username}/*", "arn:aws:s3:::app-data"]
    assert doc["Statement"][3]["NotPrincipal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert json.loads(managed.inputs["policy"]) == doc and "\n" not in managed.inputs["policy"]
    # The data source's id is the crc32 of its JSON, as the provider computes it.
    assert run.stack_outputs["policy_id"] == str(zlib.crc32(inline.inputs["policy"].encode()))


# --------------------------------------------------------------------------- static-site


def test_static_site_reads_its_files_relative_to_itself():
    run = corpus("static-site", "dev")
    bucket = one(run, "aws:s3/bucket:Bucket")
    obj = one(run, "aws:s3/bucketObject:BucketObject")
    assert obj.inputs["source"]["path"] == "www/index.html" and obj.inputs["contentType"] == "text/html"
    policy = json.loads(one(run, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    statement = policy["Statement"][0]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::444455556666:role/cdn-reader"}
    assert statement["Resource"] == f"arn:aws:s3:::{bucket.outputs['bucket']}/*"


# --------------------------------------------------------------------------- secrets


def test_encrypted_config_is_an_unknown_secret():
    run = corpus("secrets", "prod")
    db = one(run, "aws:rds/instance:Instance")
    assert db.inputs["password"] == UNKNOWN and db.redacted_inputs["password"] == SECRET_MARK
    assert db.inputs["username"] == "app"  # Pulumi.yaml's default
    version = one(run, "aws:secretsmanager/secretVersion:SecretVersion")
    assert version.redacted_inputs["secretString"] == SECRET_MARK
    assert json.loads(version.inputs["secretString"]) == {"client_id": "reporting", "client_secret": UNKNOWN}
    assert [n for n in run.notes if "'secrets:apiCredentials', 'secrets:dbPassword' and 'secrets:drRegion'" in n]


def test_a_policy_that_needs_an_encrypted_value_fails_closed(capsys):
    code = main(["check", "--stack", "prod", "--program", str(CORPUS / "secrets"), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 1
    report = json.loads(out)
    unknown = [v for v in report["violations"] if v["name"] == "dr" and "region is unknown" in v["message"]]
    assert unknown and unknown[0]["enforcement"] == "mandatory"
    assert (unknown[0]["file"], unknown[0]["line"]) == ("__main__.py", 29)
    assert "note: prod: encrypted config" in err


# --------------------------------------------------------------------------- nested-components (main: src/)


def test_main_directory_runs_in_its_own_directory_with_nested_components():
    run = corpus("nested-components", "staging")
    provider = one(run, "pulumi:providers:aws")
    # src/config/tags.json was read relative to src/, the program's working directory.
    assert json.loads(provider.inputs["defaultTags"])["tags"] == {"team": "payments", "cost-centre": "eu-4711"}
    vpc = one(run, "aws:ec2/vpc:Vpc")
    subnets = run.of_type("aws:ec2/subnet:Subnet")
    assert sorted(s.inputs["cidrBlock"] for s in subnets) == ["10.42.0.0/24", "10.42.1.0/24"]
    assert {s.inputs["availabilityZone"] for s in subnets} == {"eu-south-2a", "eu-south-2b"}
    assert all(s.inputs["vpcId"] == vpc.id for s in subnets)
    zone_components = {r.urn for r in run.of_type("nested:net:ZoneSubnet")}
    assert {s.parent for s in subnets} == zone_components
    assert set(run.stack_outputs["subnet_ids"]) == {s.id for s in subnets}


@pytest.mark.parametrize(
    ("type_", "file", "call"),
    [
        ("aws:ec2/vpc:Vpc", "src/app/network.py", "aws.ec2.Vpc("),
        ("aws:ec2/subnet:Subnet", "src/app/subnets.py", "aws.ec2.Subnet("),
        ("aws:s3/bucket:Bucket", "src/app/storage.py", "aws.s3.Bucket("),
        ("aws:s3/bucketVersioning:BucketVersioning", "src/app/storage.py", "aws.s3.BucketVersioning("),
        ("nested:net:Network", "src/__main__.py", "Network("),
        ("nested:storage:Versioning", "src/app/storage.py", "Versioning("),
    ],
)
def test_source_positions_are_the_constructor_calls(type_, file, call):
    run = corpus("nested-components", "staging")
    for res in run.of_type(type_):
        assert res.source_file == file, res.urn
        assert call in line_of(CORPUS / "nested-components" / file, res.source_line), res.urn


def test_violations_name_file_and_line(capsys):
    code = main(["check", "--stack", "staging", "--program", str(CORPUS / "nested-components")])
    out, _err = capsys.readouterr()
    assert code == 1
    bucket = one(corpus("nested-components", "staging"), "aws:s3/bucket:Bucket")
    assert f"      at: src/app/storage.py:{bucket.source_line}" in out
    code = main(["check", "--stack", "staging", "--program", str(CORPUS / "nested-components"), "--format", "json"])
    violations = json.loads(capsys.readouterr()[0])["violations"]
    for v in violations:
        if v["urn"]:
            assert v["file"].startswith("src/") and v["line"] > 0, v
        else:
            assert (v["file"], v["line"]) == ("", 0), v


# --------------------------------------------------------------------------- random-resources


def test_random_values_flow_into_the_resources_that_use_them():
    run = corpus("random-resources", "dev")
    pet = one(run, "random:index/randomPet:RandomPet")
    suffix = one(run, "random:index/randomString:RandomString")
    bucket = one(run, "aws:s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == f"{pet.id}-{suffix.outputs['result']}"
    assert pet.id.startswith("logs-") and len(pet.id.split("-")) == 3
    assert len(suffix.outputs["result"]) == 6
    shuffle = one(run, "random:index/randomShuffle:RandomShuffle")
    assert shuffle.inputs["inputs"] == ["eu-north-1a", "eu-north-1b", "eu-north-1c"]
    assert set(run.stack_outputs["zones"]) <= set(shuffle.inputs["inputs"]) and len(run.stack_outputs["zones"]) == 2
    port = one(run, "aws:ssm/parameter:Parameter", "listen-port")
    assert 8000 <= int(port.inputs["value"]) <= 8999
    password = one(run, "aws:ssm/parameter:Parameter", "admin-password")
    assert password.redacted_inputs["value"] == SECRET_MARK  # a RandomPassword's result is a secret
    assert run.stack_outputs["random_provider_config"] == {}


# --------------------------------------------------------------------------- config-objects


def test_structured_config_and_project_defaults():
    run = corpus("config-objects", "prod")
    vpc = one(run, "aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.8.0.0/16"
    assert vpc.inputs["tags"] == {"env": "production", "owners": "platform"}  # project value and default
    assert len(run.of_type("aws:ec2/subnet:Subnet")) == 2
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in run.of_type("aws:ec2/subnet:Subnet"))
    assert len(run.of_type("aws:sqs/queue:Queue")) == 3  # the stack overrides the default of 2
    assert run.stack_outputs["region"] == "eu-west-1"  # a namespaced project-level value
    flow = one(run, "aws:ec2/flowLog:FlowLog")
    logs = one(run, "aws:cloudwatch/logGroup:LogGroup")
    assert flow.inputs["logDestination"] == logs.outputs["arn"]


# --------------------------------------------------------------------------- account-arns


@pytest.mark.parametrize(
    ("stack", "partition", "region", "account", "suffix"),
    [
        ("paris", "aws", "eu-west-3", "246813579024", "amazonaws.com"),
        ("sovereign", "aws-eusc", "eusc-de-east-1", "135792468013", "amazonaws.eu"),
    ],
)
def test_arns_are_in_the_providers_account_region_and_partition(stack, partition, region, account, suffix):
    run = corpus("account-arns", stack)
    key = one(run, "aws:kms/key:Key")
    policy = json.loads(key.inputs["policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:{partition}:iam::{account}:root"}
    assert policy["Statement"][1]["Condition"]["StringEquals"] == {
        "kms:CallerAccount": account,
        "kms:ViaService": f"s3.{region}.{suffix}",
    }
    assert key.outputs["arn"].startswith(f"arn:{partition}:kms:{region}:{account}:key/")
    assert run.stack_outputs["caller"].startswith(f"arn:{partition}:iam::{account}:")
    assert run.stack_outputs["caller_service"] == "iam"
    assert run.stack_outputs["kms_endpoint"] == f"kms.{region}.{suffix}"


# --------------------------------------------------------------------------- stack-reference


def test_stack_reference_outputs_are_unknown_and_fail_closed(capsys):
    run = corpus("stack-reference", "prod")
    group = one(run, "aws:ec2/securityGroup:SecurityGroup")
    provider = one(run, "pulumi:providers:aws")
    assert group.inputs["vpcId"] == UNKNOWN and provider.inputs["region"] == UNKNOWN
    assert run.stack_outputs["first_subnet"] is None
    assert [r.type for r in run.reads] == ["pulumi:pulumi:StackReference"]
    assert any("'acme/network/prod'" in n for n in run.notes)
    code = main(["check", "--stack", "prod", "--program", str(CORPUS / "stack-reference"), "--format", "json"])
    violations = json.loads(capsys.readouterr()[0])["violations"]
    assert code == 1
    assert any(v["name"] == "shared" and "region is unknown" in v["message"] for v in violations)


# --------------------------------------------------------------------------- resource-as-string


def test_resources_passed_as_strings_arrive_as_their_ids():
    run = corpus("resource-as-string", "dev")
    bucket = one(run, "aws:s3/bucket:Bucket")
    role = one(run, "aws:iam/role:Role")
    vpc = one(run, "aws:ec2/vpc:Vpc")
    group = one(run, "aws:ec2/securityGroup:SecurityGroup")
    subnet = one(run, "aws:ec2/subnet:Subnet")
    assert one(run, "aws:s3/bucketVersioning:BucketVersioning").inputs["bucket"] == bucket.id
    assert one(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").inputs["role"] == role.id
    instance = one(run, "aws:ec2/instance:Instance")
    assert instance.inputs["subnetId"] == subnet.id and instance.inputs["vpcSecurityGroupIds"] == [group.id]
    assert group.inputs["vpcId"] == vpc.id
    # A component has no id: the engine passes its URN.
    assert one(run, "aws:ssm/parameter:Parameter").inputs["value"] == one(run, "example:index:Tagged").urn
    # And the dependency is recorded, as for any input built from another resource.
    assert bucket.urn in one(run, "aws:s3/bucketVersioning:BucketVersioning").dependencies


# --------------------------------------------------------------------------- data-sources


def test_looked_up_values_are_used_like_real_ones():
    run = corpus("data-sources", "dev")
    template = one(run, "aws:ec2/launchTemplate:LaunchTemplate")
    assert template.inputs["imageId"].startswith("ami-") and template.inputs["instanceType"] == "m7g.large"
    assert template.inputs["vpcSecurityGroupIds"][0].startswith("sg-")
    assert template.inputs["blockDeviceMappings"][0]["ebs"]["kmsKeyId"].startswith("arn:aws:kms:eu-west-1:")
    record = one(run, "aws:route53/record:Record")
    assert re.fullmatch(r"Z[0-9A-F]{13}", record.inputs["zoneId"])
    assert record.inputs["name"] == "api.shop.example.eu"
    alarm = one(run, "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["alarmActions"][0].startswith("arn:aws:sns:eu-west-1:")
    permission = one(run, "aws:lambda/permission:Permission")
    assert permission.inputs["function"] == "shop-thumbnailer"
    assert permission.inputs["sourceArn"].startswith("arn:aws:sqs:eu-west-1:")
    assert len(run.stack_outputs["private_subnets"]) == 3


# --------------------------------------------------------------------------- lookups


def test_existing_resources_are_read_not_created():
    run = corpus("lookups", "dev")
    assert sorted((r.type, r.name) for r in run.reads) == [
        ("aws:ec2/vpc:Vpc", "shared"),
        ("aws:s3/bucket:Bucket", "legacy"),
    ]
    assert not {r.type for r in run.resources} & {"aws:s3/bucket:Bucket", "aws:ec2/vpc:Vpc"}
    sse = one(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["bucket"] == "acme-legacy-exports"
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["kmsMasterKeyId"].startswith("arn:aws:kms:eu-north-1:555566667777:key/")
    assert run.stack_outputs["shared_key_account"] == "555566667777"
    assert run.stack_outputs["peer_vpc"] == "vpc-0123456789abcdef0"  # from the async entry point


def test_policy_document_answers_match_the_renderer():
    run = corpus("iam-policies", "dev")
    role = one(run, "aws:iam/role:Role")
    args = {
        "statements": [
            {
                "effect": "Allow",
                "actions": ["sts:AssumeRole"],
                "principals": [
                    {"type": "Service", "identifiers": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]}
                ],
            }
        ]
    }
    assert role.inputs["assumeRolePolicy"] == render(args)["json"]


# --------------------------------------------------------------------------- transforms


def test_stack_and_inherited_resource_transforms_apply_as_in_the_engine():
    run = corpus("transforms", "dev")
    bucket = one(run, "aws:s3/bucket:Bucket", "archive-objects")
    table = one(run, "aws:dynamodb/table:Table")
    scratch = one(run, "aws:s3/bucket:Bucket", "scratch")
    # The stack transform tags every AWS resource; the component's transform reaches its children.
    assert scratch.inputs["tags"] == {"purpose": "tmp", "cost-centre": "eu-4711"}
    assert bucket.inputs["tags"] == table.inputs["tags"] == {"cost-centre": "eu-4711"}
    assert bucket.protect and table.protect and not scratch.protect
    assert one(run, "example:storage:Archive").inputs == {}
