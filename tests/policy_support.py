"""Calling the residency pack's policies as the engine does, on small stacks built in the tests.

Props are wrapped in pulumi-policy's own unknown-checking proxy, so a rule
that touched an unknown value the engine's way would raise here exactly as it
would during a real preview. A stack starts from ``site()``: the dublin site's
two pinned providers, one bucket, key, VPC, subnet, security group and S3
endpoint, all compliant; a test adds or changes one thing.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))

UNKNOWN = UNKNOWN_STRING_VALUE
REGION = "eu-west-1"
DATA, OPERATOR, AUDITOR = "111111111111", "222222222222", "333333333333"
FOREIGN = "999999999999"
CONFIG = json.loads((POLICY_DIR / "config" / "dublin.json").read_text())
TAGS = CONFIG["residency-tags"]["requiredTags"]
KEY_ARN = f"arn:aws:kms:{REGION}:{OPERATOR}:key/1234abcd-0000-4000-8000-000000000000"
PREFIX = "urn:pulumi:dublin::eu-data-enclave::"
BUCKET_NAME = "enclave-dublin-user-data-111111111111"
VPC_ID, SUBNET_ID, SG_ID, VPCE_ID = "vpc-0a1b2c3d", "subnet-0a1b2c3d", "sg-0a1b2c3d", "vpce-0a1b2c3d"


def provider_props(region_: str = REGION, account: str = DATA, **extra: Any) -> dict:
    """Provider inputs as the engine holds them: non-strings JSON-encoded."""
    props = {
        "region": region_,
        "allowedAccountIds": json.dumps([account]),
        "defaultTags": json.dumps({"tags": TAGS}),
    }
    props.update(extra)
    return props


def provider(name: str = "enclave-dublin-data", **kw: Any) -> PolicyProviderResource:
    return PolicyProviderResource(
        "pulumi:providers:aws",
        unknown_checking_proxy(provider_props(**kw)),
        f"{PREFIX}pulumi:providers:aws::{name}",
        name,
    )


DATA_PROVIDER = provider()
OPERATOR_PROVIDER = provider("enclave-dublin-operator", account=OPERATOR)
EAST_PROVIDER = provider("east", region_="us-east-1")
FOREIGN_PROVIDER = provider("foreign", account=FOREIGN)


def opts(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def urn(type_: str, name: str) -> str:
    return f"{PREFIX}{type_}::{name}"


def res(type_: str, props: dict, *, name: str = "r", prov=DATA_PROVIDER, deps=None, protect=False) -> PolicyResource:
    """A stack policy's view of one resource (its props may include outputs such as ``id`` and ``arn``)."""
    return PolicyResource(
        type_, unknown_checking_proxy(props), urn(type_, name), name, opts(protect), prov, None, [], deps or {}
    )


def config_of(policy: Any, config: dict | None) -> dict | None:
    return CONFIG.get(policy.name) if config is None else config


def check(policy, type_: str, props: dict, *, prov=DATA_PROVIDER, protect=False, name="r", config=None) -> list[str]:
    """Messages a resource policy reports for one resource."""
    assert isinstance(policy, ResourceValidationPolicy)
    args = ResourceValidationArgs(
        type_, unknown_checking_proxy(props), urn(type_, name), name, opts(protect), prov, config_of(policy, config)
    )
    messages: list[str] = []
    policy.validate(args, lambda message, urn=None: messages.append(message))
    return messages


def check_stack(policy, resources: list, config: dict | None = None) -> list[tuple[str, str | None]]:
    """``(message, urn)`` pairs a stack policy reports."""
    assert isinstance(policy, StackValidationPolicy)
    found: list[tuple[str, str | None]] = []
    args = StackValidationArgs(resources, config_of(policy, config))
    policy.validate(args, lambda message, urn=None: found.append((message, urn)))
    return found


def messages_on(policy, resources: list, target: PolicyResource, config: dict | None = None) -> list[str]:
    """Messages a stack policy reports on ``target`` (the other resources must stay clean)."""
    found = check_stack(policy, resources, config)
    others = [(m, u) for m, u in found if u != target.urn]
    assert others == [], f"the rest of the stack must pass: {others}"
    return [m for m, _u in found]


# --------------------------------------------------------------------------- a compliant site


def bucket(name: str = BUCKET_NAME, prov=DATA_PROVIDER, res_name: str = "bucket") -> PolicyResource:
    return res(
        "aws:s3/bucket:Bucket", {"bucket": name, "id": name, "arn": f"arn:aws:s3:::{name}"}, name=res_name, prov=prov
    )


def site(*extra: PolicyResource) -> list[PolicyResource]:
    """The dublin site's core resources, each compliant, plus ``extra``."""
    key = res(
        "aws:kms/key:Key", {"multiRegion": False, "arn": KEY_ARN, "id": "1234abcd"}, name="key", prov=OPERATOR_PROVIDER
    )
    vpc = res(
        "aws:ec2/vpc:Vpc",
        {
            "cidrBlock": "10.20.0.0/16",
            "enableDnsSupport": False,
            "id": VPC_ID,
            "arn": f"arn:aws:ec2:{REGION}:{DATA}:vpc/{VPC_ID}",
        },
        name="vpc",
    )
    subnet = res(
        "aws:ec2/subnet:Subnet",
        {"vpcId": VPC_ID, "cidrBlock": "10.20.0.0/18", "availabilityZone": f"{REGION}a", "id": SUBNET_ID},
        name="subnet",
    )
    sg = res("aws:ec2/securityGroup:SecurityGroup", {"vpcId": VPC_ID, "egress": [], "id": SG_ID}, name="sg")
    endpoint = res(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {
            "vpcId": VPC_ID,
            "serviceName": f"com.amazonaws.{REGION}.s3",
            "vpcEndpointType": "Interface",
            "id": VPCE_ID,
            "policy": json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [f"arn:aws:s3:::{BUCKET_NAME}", f"arn:aws:s3:::{BUCKET_NAME}/*"],
                            "Condition": {"StringEquals": {"aws:PrincipalAccount": DATA, "aws:ResourceAccount": DATA}},
                        }
                    ]
                }
            ),
        },
        name="s3-endpoint",
    )
    return [key, bucket(), vpc, subnet, sg, endpoint, *extra]


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(**kw: Any) -> dict:
    return {"Effect": "Allow", **kw}


# --------------------------------------------------------------------------- the SDK


@cache
def sdk_types() -> dict[str, tuple[str, str]]:
    """Every resource type of the pinned pulumi-aws, as ``type -> (module, class)``."""
    import pulumi_aws

    text = (Path(pulumi_aws.__file__).parent / "__init__.py").read_text()
    modules = json.loads(re.search(r'resource_modules="""(.*?)"""', text, re.S).group(1))
    return {t: (m["fqn"], c) for m in modules for t, c in m["classes"].items()}


@cache
def sdk_inputs(type_: str) -> frozenset[str]:
    """The camelCase input names the SDK's ``<Class>Args`` declares for a type (read from its source, not imported:
    importing pulumi_aws's modules costs seconds)."""
    import pulumi_aws

    module, cls = sdk_types()[type_]
    folder = Path(pulumi_aws.__file__).parent / module.split(".", 1)[1].replace(".", "/")
    name = type_.split(":")[1].split("/")[1]
    path = folder / (re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower() + ".py")
    if not path.exists():  # an unusual file name: find the class
        path = next(f for f in folder.glob("*.py") if f"class {cls}(pulumi.CustomResource)" in f.read_text())
    source = path.read_text()
    # "<Class>InitArgs" where "<Class>Args" is taken by a nested input type of the same name.
    for name in (f"{cls}InitArgs", f"{cls}Args"):
        start = source.find(f"\nclass {name}:")
        if start >= 0:
            break
    body = source[start + 1 :]
    end = body.find("\nclass ", 1)
    body = body if end < 0 else body[:end]
    getters = re.findall(r'@pulumi\.getter(?:\(name="(\w+)"\))?\n(?:\s+@[^\n]*\n)*\s+def (\w+)\(', body)
    return frozenset(camel or snake_name for camel, snake_name in getters)


OUTPUT_KEYS = frozenset({"id", "arn"})


def assert_sdk_inputs(type_: str, props: dict) -> None:
    """A fixture may only use inputs the SDK really has (plus the ``id``/``arn`` outputs stacks see)."""
    unknown = set(props) - sdk_inputs(type_) - OUTPUT_KEYS
    assert not unknown, f"{type_} has no inputs {sorted(unknown)} in pulumi-aws 7.51.1"
