"""identity-perimeter: no account outside the site is named, trusted, shared with or sent to.

Each family starts from a compliant fixture; each failing case changes one
thing. Accounts: data 111111111111, operator 222222222222, auditor
333333333333; 999999999999 is any other account.
"""

from __future__ import annotations

import json

import pytest
from policy_support import (
    AUDITOR,
    BUCKET_NAME,
    CONFIG,
    DATA,
    FOREIGN,
    OPERATOR,
    REGION,
    UNKNOWN,
    VPCE_ID,
    allow,
    assert_sdk_inputs,
    check_stack,
    doc,
    messages_on,
    provider,
    provider_props,
    res,
    site,
)
from residency_rules import identity

ID = identity.POLICY
BUCKET_ARN = f"arn:aws:s3:::{BUCKET_NAME}"
SITE_ROLE = f"arn:aws:iam::{DATA}:role/enclave-dublin-workload"
FOREIGN_ROLE = f"arn:aws:iam::{FOREIGN}:role/partner"


def on_site(type_: str, props: dict, config: dict | None = None, **kw) -> list[str]:
    assert_sdk_inputs(type_, props)
    target = res(type_, props, name="target", **kw)
    return messages_on(ID, site(target), target, config)


def bucket_policy(*statements: dict) -> tuple[str, dict]:
    return "aws:s3/bucketPolicy:BucketPolicy", {"bucket": BUCKET_NAME, "policy": doc(*statements)}


def star(condition: dict | None = None, **kw) -> dict:
    st = allow(Principal="*", Action="s3:GetObject", Resource=f"{BUCKET_ARN}/*", **kw)
    if condition is not None:
        st["Condition"] = condition
    return st


# --------------------------------------------------------------------------- resource policies


@pytest.mark.parametrize(
    "statement",
    [
        allow(Principal={"AWS": SITE_ROLE}, Action="s3:GetObject", Resource=f"{BUCKET_ARN}/*"),
        allow(Principal={"AWS": f"arn:aws:iam::{AUDITOR}:root"}, Action="s3:GetObject", Resource=f"{BUCKET_ARN}/*"),
        allow(
            Principal={"Service": "logging.s3.amazonaws.com"},
            Action="s3:PutObject",
            Resource=f"{BUCKET_ARN}/*",
            Condition={"StringEquals": {"aws:SourceAccount": DATA}},
        ),
        star({"StringEquals": {"aws:PrincipalAccount": [DATA, OPERATOR]}}),
        star({"StringEquals": {"aws:SourceVpce": VPCE_ID}}),
        star({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{DATA}:role/enclave-*"}}),
        star({"ForAnyValue:StringEquals": {"aws:PrincipalAccount": [DATA]}}),
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": f"{BUCKET_ARN}/*",
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": FOREIGN}},
        },
        {"Effect": "Deny", "Principal": {"AWS": FOREIGN_ROLE}, "Action": "s3:*", "Resource": BUCKET_ARN},
    ],
)
def test_policies_that_stay_in_the_site_pass(statement):
    assert on_site(*bucket_policy(statement)) == []


@pytest.mark.parametrize(
    "statement,expected",
    [
        (allow(Principal={"AWS": FOREIGN_ROLE}, Action="s3:GetObject", Resource=f"{BUCKET_ARN}/*"), FOREIGN),
        (allow(Principal={"AWS": FOREIGN}, Action="s3:GetObject", Resource=f"{BUCKET_ARN}/*"), FOREIGN),
        (
            allow(
                Principal={"AWS": SITE_ROLE},
                Action="s3:GetObject",
                Resource=f"{BUCKET_ARN}/*",
                Condition={"StringEquals": {"aws:SourceAccount": FOREIGN}},
            ),
            FOREIGN,
        ),
        (star(), "without a condition that confines it"),
        (star({"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}), "organization"),
        (star({"StringEqualsIfExists": {"aws:PrincipalAccount": DATA}}), "without a condition that confines it"),
        (star({"StringNotEquals": {"aws:PrincipalAccount": FOREIGN}}), "without a condition that confines it"),
        (star({"StringEquals": {"aws:ResourceAccount": DATA}}), "without a condition that confines it"),
        (star({"StringEquals": {"aws:SourceVpce": "vpce-0000not0mine"}}), "without a condition that confines it"),
        (star({"StringLike": {"aws:PrincipalAccount": "1111*"}}), "without a condition that confines it"),
        (star({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}}), "without a condition that confines it"),
        (
            {"Effect": "Allow", "NotPrincipal": {"AWS": SITE_ROLE}, "Action": "s3:GetObject", "Resource": BUCKET_ARN},
            "NotPrincipal",
        ),
    ],
)
def test_policies_that_reach_other_accounts_fail(statement, expected):
    messages = on_site(*bucket_policy(statement))
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize(
    "type_,key",
    [
        ("aws:sqs/queuePolicy:QueuePolicy", "policy"),
        ("aws:sns/topicPolicy:TopicPolicy", "policy"),
        ("aws:kms/keyPolicy:KeyPolicy", "policy"),
        ("aws:secretsmanager/secretPolicy:SecretPolicy", "policy"),
        ("aws:ecr/repositoryPolicy:RepositoryPolicy", "policy"),
        ("aws:lambda/permission:Permission", None),
        ("aws:cloudwatch/eventBusPolicy:EventBusPolicy", "policy"),
        ("aws:opensearch/domainPolicy:DomainPolicy", "accessPolicies"),
        ("aws:glue/resourcePolicy:ResourcePolicy", "policy"),
        ("aws:dynamodb/resourcePolicy:ResourcePolicy", "policy"),
        ("aws:iam/role:Role", "assumeRolePolicy"),
    ],
)
def test_every_kind_of_resource_policy_is_read(type_, key):
    if key is None:  # a permission names its principal directly
        props = {"function": "f", "action": "lambda:InvokeFunction", "principal": FOREIGN}
    else:
        props = {key: doc(allow(Principal={"AWS": FOREIGN_ROLE}, Action="*", Resource="*"))}
    assert any(FOREIGN in m for m in on_site(type_, props)), type_


def test_identity_policies_that_name_any_account_fail():
    role_policy = {"role": "r", "policy": doc(allow(Action="sts:AssumeRole", Resource="arn:aws:iam::*:role/*"))}
    messages = on_site("aws:iam/rolePolicy:RolePolicy", role_policy)
    assert any("names any account" in m for m in messages), messages
    managed = {"role": "r", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    assert on_site("aws:iam/rolePolicyAttachment:RolePolicyAttachment", managed) == []


# --------------------------------------------------------------------------- grants, sharing, permissions


@pytest.mark.parametrize(
    "type_,props",
    [
        ("aws:kms/grant:Grant", {"keyId": "k", "granteePrincipal": FOREIGN_ROLE, "operations": ["Decrypt"]}),
        ("aws:ram/principalAssociation:PrincipalAssociation", {"principal": FOREIGN, "resourceShareArn": "arn"}),
        ("aws:ec2/amiLaunchPermission:AmiLaunchPermission", {"imageId": "ami-1", "accountId": FOREIGN}),
        (
            "aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission",
            {"snapshotId": "snap-1", "accountId": FOREIGN},
        ),
        (
            "aws:rds/snapshot:Snapshot",
            {"dbInstanceIdentifier": "db", "dbSnapshotIdentifier": "s", "sharedAccounts": [FOREIGN]},
        ),
        (
            "aws:redshift/dataShareAuthorization:DataShareAuthorization",
            {"dataShareArn": "arn", "consumerIdentifier": FOREIGN},
        ),
        ("aws:lakeformation/permissions:Permissions", {"principal": FOREIGN, "permissions": ["SELECT"]}),
        (
            "aws:ec2/vpcEndpointServiceAllowedPrinciple:VpcEndpointServiceAllowedPrinciple",
            {"vpcEndpointServiceId": "vpce-svc-1", "principalArn": f"arn:aws:iam::{FOREIGN}:root"},
        ),
        ("aws:guardduty/inviteAccepter:InviteAccepter", {"detectorId": "d", "masterAccountId": FOREIGN}),
        (
            "aws:oam/link:Link",
            {"resourceTypes": ["AWS::Logs::LogGroup"], "sinkIdentifier": f"arn:aws:oam:{REGION}:{FOREIGN}:sink/s"},
        ),
    ],
)
def test_grants_and_shares_with_another_account_fail(type_, props):
    messages = on_site(type_, props)
    assert any(FOREIGN in m for m in messages), messages


def test_sharing_inside_the_site_passes():
    assert (
        on_site("aws:kms/grant:Grant", {"keyId": "k", "granteePrincipal": SITE_ROLE, "operations": ["Decrypt"]}) == []
    )
    assert (
        on_site("aws:ram/principalAssociation:PrincipalAssociation", {"principal": OPERATOR, "resourceShareArn": "a"})
        == []
    )
    assert on_site("aws:ram/resourceShare:ResourceShare", {"name": "s", "allowExternalPrincipals": False}) == []


@pytest.mark.parametrize(
    "type_,props,expected",
    [
        ("aws:ram/resourceShare:ResourceShare", {"name": "s"}, "allowExternalPrincipals"),
        (
            "aws:ram/principalAssociation:PrincipalAssociation",
            {"principal": f"arn:aws:organizations::{DATA}:ou/o-abcdefghij/ou-ab12-abcdefgh", "resourceShareArn": "a"},
            "organization or OU",
        ),
        ("aws:ec2/amiLaunchPermission:AmiLaunchPermission", {"imageId": "ami-1", "group": "all"}, "public"),
        (
            "aws:lambda/permission:Permission",
            {"function": "f", "action": "lambda:InvokeFunction", "principal": "*"},
            "every AWS account",
        ),
        (
            "aws:lambda/permission:Permission",
            {"function": "f", "action": "lambda:InvokeFunction", "principal": DATA, "principalOrgId": "o-abcdefghij"},
            "organization",
        ),
        (
            "aws:lambda/layerVersionPermission:LayerVersionPermission",
            {
                "layerName": "l",
                "versionNumber": 1,
                "action": "lambda:GetLayerVersion",
                "statementId": "s",
                "principal": "*",
            },
            "every AWS account",
        ),
        ("aws:cloudwatch/eventPermission:EventPermission", {"principal": "*", "statementId": "s"}, "every AWS account"),
    ],
)
def test_open_or_organization_wide_sharing_fails(type_, props, expected):
    messages = on_site(type_, props)
    assert any(expected in m for m in messages), messages


def test_a_lambda_permission_for_a_service_of_the_site_passes():
    props = {
        "function": "f",
        "action": "lambda:InvokeFunction",
        "principal": "s3.amazonaws.com",
        "sourceAccount": DATA,
        "sourceArn": BUCKET_ARN,
    }
    assert on_site("aws:lambda/permission:Permission", props) == []


# --------------------------------------------------------------------------- links, destinations, owners


@pytest.mark.parametrize(
    "type_,props",
    [
        (
            "aws:dynamodb/tableExport:TableExport",
            {
                "tableArn": f"arn:aws:dynamodb:{REGION}:{DATA}:table/t",
                "s3Bucket": BUCKET_NAME,
                "s3BucketOwner": FOREIGN,
            },
        ),
        (
            "aws:s3/inventory:Inventory",
            {
                "bucket": BUCKET_NAME,
                "name": "i",
                "includedObjectVersions": "All",
                "schedule": {"frequency": "Daily"},
                "destination": {"bucket": {"format": "CSV", "bucketArn": BUCKET_ARN, "accountId": FOREIGN}},
            },
        ),
        (
            "aws:athena/workgroup:Workgroup",
            {
                "name": "w",
                "configuration": {
                    "resultConfiguration": {
                        "outputLocation": f"s3://{BUCKET_NAME}/results/",
                        "expectedBucketOwner": FOREIGN,
                    }
                },
            },
        ),
        (
            "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",
            {"logGroup": "g", "filterPattern": "", "destinationArn": f"arn:aws:logs:{REGION}:{FOREIGN}:destination:d"},
        ),
        (
            "aws:cloudwatch/eventTarget:EventTarget",
            {"rule": "r", "arn": f"arn:aws:events:{REGION}:{FOREIGN}:event-bus/b"},
        ),
        (
            "aws:ecs/taskDefinition:TaskDefinition",
            {
                "family": "app",
                "containerDefinitions": json.dumps(
                    [{"name": "app", "image": f"{FOREIGN}.dkr.ecr.{REGION}.amazonaws.com/app:1"}]
                ),
            },
        ),
        (
            "aws:lambda/function:Function",
            {
                "role": SITE_ROLE,
                "environment": {"variables": {"QUEUE": f"https://sqs.{REGION}.amazonaws.com/{FOREIGN}/jobs"}},
            },
        ),
        (
            "aws:lambda/function:Function",
            {"role": SITE_ROLE, "layers": [f"arn:aws:lambda:{REGION}:{FOREIGN}:layer:x:1"]},
        ),
    ],
)
def test_destinations_owners_and_links_in_another_account_fail(type_, props):
    messages = on_site(type_, props)
    assert any(FOREIGN in m for m in messages), messages


def test_a_provider_that_assumes_a_role_in_another_account_fails():
    props = provider_props(assumeRoles=json.dumps([{"roleArn": FOREIGN_ROLE}]))
    target = res("pulumi:providers:aws", props, name="target", prov=None)
    assert any(FOREIGN in m for m in messages_on(ID, site(target), target))


@pytest.mark.parametrize(
    "bucket_ref",
    [f"arn:aws:s3:::elsewhere-{FOREIGN}", "s3://elsewhere/exports/", "elsewhere"],
)
def test_a_bucket_that_is_not_the_programs_cannot_be_proven_and_fails(bucket_ref):
    if bucket_ref.startswith("arn:"):
        type_, props = (
            "aws:ec2/flowLog:FlowLog",
            {"logDestinationType": "s3", "logDestination": bucket_ref, "trafficType": "ALL"},
        )
    elif bucket_ref.startswith("s3://"):
        type_, props = (
            "aws:athena/workgroup:Workgroup",
            {"name": "w", "configuration": {"resultConfiguration": {"outputLocation": bucket_ref}}},
        )
    else:
        type_, props = "aws:cloudtrail/trail:Trail", {"name": "t", "s3BucketName": bucket_ref}
    messages = on_site(type_, props)
    assert any("is not a bucket of this program" in m for m in messages), messages


def test_a_bucket_of_the_program_unknown_at_preview_is_resolved_through_its_dependency():
    stack = site()
    bucket_res = next(r for r in stack if r.resource_type == "aws:s3/bucket:Bucket")
    ok = res("aws:s3/bucketVersioning:BucketVersioning", {"bucket": UNKNOWN}, name="v", deps={"bucket": [bucket_res]})
    orphan = res("aws:s3/bucketVersioning:BucketVersioning", {"bucket": UNKNOWN}, name="orphan")
    found = check_stack(ID, [*stack, ok, orphan])
    assert [u for _m, u in found] == [orphan.urn], found


# --------------------------------------------------------------------------- trusted accounts, endpoints


def test_a_trusted_account_is_admitted_only_where_the_config_says():
    trusted = {
        **CONFIG["identity-perimeter"],
        "trustedAccounts": [
            {"accountId": FOREIGN, "reason": "transfer recipient", "resources": ["*export-bucket-policy"]}
        ],
    }
    statement = allow(
        Principal={"AWS": f"arn:aws:iam::{FOREIGN}:root"}, Action="s3:GetObject", Resource=f"{BUCKET_ARN}/*"
    )
    type_, props = bucket_policy(statement)
    stack = site()
    there = res(type_, props, name="export-bucket-policy")
    elsewhere = res(type_, props, name="user-data-policy")
    found = check_stack(ID, [*stack, there, elsewhere], trusted)
    assert [u for _m, u in found] == [elsewhere.urn], found
    everywhere = {**trusted, "trustedAccounts": [{"accountId": FOREIGN, "reason": "r"}]}
    assert check_stack(ID, [*stack, there, elsewhere], everywhere) == []


def test_a_vpc_endpoint_without_a_policy_fails():
    props = {"vpcId": "vpc-1", "serviceName": f"com.amazonaws.{REGION}.sqs", "vpcEndpointType": "Interface"}
    assert any("full access" in m for m in on_site("aws:ec2/vpcEndpoint:VpcEndpoint", props))


# --------------------------------------------------------------------------- organization guardrails (issue #13)

SCP = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyOtherRegions",
                "Effect": "Deny",
                "NotAction": ["iam:*", "organizations:*"],
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": [REGION]}},
            },
            {
                "Sid": "DenyOutsideAccounts",
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"s3:ResourceAccount": [DATA, FOREIGN]}},
            },
        ],
    }
)
MANAGEMENT = "444444444444"


def guardrails(policy_type: str, target: str) -> tuple[list, object]:
    mgmt = provider("management", account=MANAGEMENT)
    policy = res(
        "aws:organizations/policy:Policy",
        {"name": "p", "type": policy_type, "content": SCP, "id": "p-abc12345"},
        name="scp",
        prov=mgmt,
    )
    attachment = res(
        "aws:organizations/policyAttachment:PolicyAttachment",
        {"policyId": UNKNOWN, "targetId": target},
        name="attach",
        prov=mgmt,
        deps={"policyId": [policy]},
    )
    return [*site(), policy, attachment], attachment


@pytest.mark.parametrize("target", [DATA, "ou-ab12-abcdefgh", "r-ab12"])
def test_guardrails_attached_to_the_site_or_its_ou_pass(target):
    stack, _attachment = guardrails("SERVICE_CONTROL_POLICY", target)
    assert check_stack(ID, stack) == []


def test_guardrails_that_do_not_only_restrict_may_not_reach_beyond_the_site():
    stack, attachment = guardrails("TAG_POLICY", "ou-ab12-abcdefgh")
    found = check_stack(ID, stack)
    assert found and all(u == attachment.urn for _m, u in found) and "OU or root" in found[0][0], found
    stack, attachment = guardrails("SERVICE_CONTROL_POLICY", FOREIGN)
    assert any(FOREIGN in m and u == attachment.urn for m, u in check_stack(ID, stack))


# --------------------------------------------------------------------------- Allow-everyone guarded by a Deny

API = "arn:aws:execute-api:eu-west-1:111111111111:abc123/*"


def private_api_policy(deny_vpce: str = VPCE_ID, deny_resource: str = API, deny_action: str = "execute-api:Invoke"):
    # AWS's documented pattern for private APIs: allow every principal, deny all but the site's endpoint.
    return doc(
        allow(Principal="*", Action="execute-api:Invoke", Resource=API),
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": deny_action,
            "Resource": deny_resource,
            "Condition": {"StringNotEquals": {"aws:SourceVpce": deny_vpce}},
        },
    )


def test_allow_everyone_denied_unless_through_the_sites_endpoint_passes():
    assert (
        on_site("aws:apigateway/restApiPolicy:RestApiPolicy", {"restApiId": "abc123", "policy": private_api_policy()})
        == []
    )
    assert (
        on_site(
            "aws:apigateway/restApiPolicy:RestApiPolicy",
            {"restApiId": "abc123", "policy": private_api_policy(deny_action="*", deny_resource="*")},
        )
        == []
    )


@pytest.mark.parametrize(
    "kw",
    [
        {"deny_vpce": "vpce-0000not0mine"},
        {"deny_resource": "arn:aws:execute-api:eu-west-1:111111111111:other/*"},
        {"deny_action": "execute-api:ManageConnections"},
    ],
)
def test_a_deny_that_does_not_cover_the_allow_or_is_not_the_sites_does_not_confine_it(kw):
    messages = on_site(
        "aws:apigateway/restApiPolicy:RestApiPolicy", {"restApiId": "abc123", "policy": private_api_policy(**kw)}
    )
    assert any("without a condition that confines it" in m for m in messages), messages


def test_credentials_are_not_read_as_addresses():
    props = {
        "instanceClass": "db.t4g.micro",
        "engine": "postgres",
        "username": "app",
        "password": "p@ssw0rd.example",
        "deletionProtection": True,
        "publiclyAccessible": False,
    }
    assert on_site("aws:rds/instance:Instance", props) == []
