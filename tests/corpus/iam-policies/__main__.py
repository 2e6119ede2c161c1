"""A function role: trust policy, a merged inline policy, and a managed policy from the same document."""

import pulumi
import pulumi_aws as aws
from documents import read_document

me = aws.get_caller_identity()

assume = aws.iam.get_policy_document(
    statements=[
        {
            "effect": "Allow",
            "actions": ["sts:AssumeRole"],
            "principals": [{"type": "Service", "identifiers": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]}],
        }
    ]
)
role = aws.iam.Role("app", assume_role_policy=assume.json)

access = aws.iam.get_policy_document(
    source_policy_documents=[read_document("base.json")],
    override_policy_documents=[read_document("override.json")],
    statements=[
        aws.iam.GetPolicyDocumentStatementArgs(
            sid="ReadOwnBucket",
            actions=["s3:GetObject", "s3:ListBucket"],
            resources=["arn:aws:s3:::app-data", "arn:aws:s3:::app-data/home/&{aws:username}/*"],
            conditions=[
                aws.iam.GetPolicyDocumentStatementConditionArgs(
                    test="StringEquals", variable="aws:PrincipalAccount", values=[me.account_id]
                ),
                aws.iam.GetPolicyDocumentStatementConditionArgs(
                    test="Bool", variable="aws:SecureTransport", values=["true"]
                ),
            ],
        ),
        aws.iam.GetPolicyDocumentStatementArgs(
            effect="Deny",
            not_actions=["s3:GetObject"],
            resources=["arn:aws:s3:::app-data/*"],
            not_principals=[{"type": "AWS", "identifiers": [f"arn:aws:iam::{me.account_id}:root"]}],
        ),
    ],
)
aws.iam.RolePolicy("app-access", role=role.id, policy=access.json)
aws.iam.Policy("app-access", policy=access.minified_json)

pulumi.export("role_arn", role.arn)
pulumi.export("policy_id", access.id)
