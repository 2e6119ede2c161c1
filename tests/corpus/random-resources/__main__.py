"""Names, ports and passwords from pulumi-random; zones shuffled; the random provider's own config read back."""

import pulumi
import pulumi_aws as aws
import pulumi_random as random

zones = aws.get_availability_zones()
shuffled = random.RandomShuffle("zones", inputs=zones.names, result_count=2)
pet = random.RandomPet("bucket-name", length=2, prefix="logs")
suffix = random.RandomString("suffix", length=6, special=False, upper=False)
port = random.RandomInteger("port", min=8000, max=8999)
password = random.RandomPassword("admin", length=24, special=True)
token = random.RandomId("token", byte_length=8)
uuid = random.RandomUuid("deployment")

bucket = aws.s3.Bucket("logs", bucket=pulumi.Output.concat(pet.id, "-", suffix.result))
aws.ssm.Parameter("admin-password", type="SecureString", value=password.result)
aws.ssm.Parameter("listen-port", type="String", value=port.result.apply(str))

provider = random.Provider("random")
settings = provider.terraform_config()

pulumi.export("zones", shuffled.results)
pulumi.export("bucket", bucket.bucket)
pulumi.export("token", token.hex)
pulumi.export("deployment", uuid.result)
pulumi.export("random_provider_config", settings.result)
