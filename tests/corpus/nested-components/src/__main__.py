"""Wiring only: a provider, a network and a store."""

import json

import pulumi
import pulumi_aws as aws
from app.network import Network, NetworkArgs
from app.storage import Store

config = pulumi.Config()
with open("config/tags.json") as f:
    tags = json.load(f)

provider = aws.Provider(
    "eu",
    region=config.require("region"),
    allowed_account_ids=[config.require("dataAccountId")],
    default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
)
network = Network(
    "core", NetworkArgs(cidr=config.require("cidr"), zones=2), opts=pulumi.ResourceOptions(provider=provider)
)
store = Store("orders", opts=pulumi.ResourceOptions(provider=provider))

pulumi.export("vpc_id", network.vpc_id)
pulumi.export("subnet_ids", network.subnet_ids)
pulumi.export("bucket", store.bucket_name)
