import pulumi

pulumi.export("cidr", pulumi.Config().require("vpcCidr"))
