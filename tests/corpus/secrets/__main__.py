"""A database with an encrypted password, API credentials with an encrypted field, and a DR copy target."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
password = config.require_secret("dbPassword")
api = config.require_object("apiCredentials")

db = aws.rds.Instance(
    "orders",
    engine="postgres",
    instance_class="db.t4g.micro",
    allocated_storage=20,
    username=config.get("dbUser"),
    password=password,
    storage_encrypted=True,
    skip_final_snapshot=True,
)

credentials = aws.secretsmanager.Secret("api-credentials")
aws.secretsmanager.SecretVersion(
    "api-credentials",
    secret_id=credentials.id,
    secret_string=pulumi.Output.json_dumps({"client_id": api["clientId"], "client_secret": api["clientSecret"]}),
)

# The disaster-recovery region is kept encrypted too: offline it cannot be known.
dr = aws.Provider("dr", region=config.require_secret("drRegion"))
aws.s3.Bucket("orders-dr", opts=pulumi.ResourceOptions(provider=dr))

pulumi.export("endpoint", db.endpoint)
pulumi.export("connection", pulumi.Output.concat("postgres://", config.get("dbUser"), ":", password, "@db"))
