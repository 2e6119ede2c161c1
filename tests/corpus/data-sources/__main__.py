"""Everything this service needs already exists: it is looked up, then used the way programs use it."""

import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
domain = config.require("domain")

zone = aws.route53.get_zone(name=domain, private_zone=False)
cert = aws.acm.get_certificate(domain=f"*.{domain}", statuses=["ISSUED"], most_recent=True)
db_secret = aws.secretsmanager.get_secret_version(secret_id="shop/db")
settings = aws.ssm.get_parameter(name="/shop/settings")
logs = aws.cloudwatch.get_log_group(name="/shop/api")
topic = aws.sns.get_topic(name="shop-alerts")
queue = aws.sqs.get_queue(name="shop-orders")
table = aws.dynamodb.get_table(name="shop-carts")
repo = aws.ecr.get_repository(name="shop/api")
fn = aws.lambda_.get_function(function_name="shop-thumbnailer")
instance_type = aws.ec2.get_instance_type(instance_type="m7g.large")
images = aws.ec2.get_ami_ids(owners=["self"], filters=[{"name": "name", "values": ["shop-api-*"]}])
default_key = aws.ebs.get_default_kms_key()
lb = aws.lb.get_load_balancer(name="shop-public")
context = aws.iam.get_session_context(arn=aws.get_caller_identity().arn)
vpc = aws.ec2.get_vpc(tags={"Name": "shop"})
private = aws.ec2.get_subnets_output(
    filters=[{"name": "vpc-id", "values": [vpc.id]}, {"name": "tag:tier", "values": ["private"]}]
)
group = aws.ec2.get_security_group(vpc_id=vpc.id, name="shop-api")

tags = {"image": images.ids[0] if images.ids else "none", "arch": instance_type.supported_architectures[0]}
aws.ec2.LaunchTemplate(
    "api",
    image_id=images.ids[0],
    instance_type=instance_type.instance_type,
    vpc_security_group_ids=[group.id],
    block_device_mappings=[
        {"device_name": "/dev/xvda", "ebs": {"encrypted": "true", "kms_key_id": default_key.key_arn}}
    ],
    tags=tags,
)
aws.route53.Record(
    "api",
    zone_id=zone.zone_id,
    name=f"api.{zone.name.rstrip('.')}",
    type="CNAME",
    ttl=300,
    records=[lb.dns_name.lower()],
)
aws.cloudwatch.MetricAlarm(
    "api-errors",
    comparison_operator="GreaterThanThreshold",
    evaluation_periods=1,
    metric_name="5XXError",
    namespace="AWS/ApplicationELB",
    period=60,
    statistic="Sum",
    threshold=5,
    alarm_actions=[topic.arn],
    dimensions={"LoadBalancer": lb.arn_suffix},
)
aws.lambda_.Permission(
    "from-queue",
    action="lambda:InvokeFunction",
    function=fn.function_name,
    principal="sqs.amazonaws.com",
    source_arn=queue.arn,
)
aws.cloudwatch.LogSubscriptionFilter("api", log_group=logs.name, filter_pattern="ERROR", destination_arn=fn.arn)

pulumi.export("certificate", cert.arn)
pulumi.export("secret_version", db_secret.version_id)
pulumi.export("settings_type", settings.type)
pulumi.export("table_stream", table.stream_arn)
pulumi.export("repository", repo.repository_url)
pulumi.export("private_subnets", private.ids)
pulumi.export("issuer", context.issuer_arn)
pulumi.export("settings_size", len(json.dumps(settings.value)))
