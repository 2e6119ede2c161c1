"""Containers: ECS on Fargate or EC2 in private subnets, ECR, EKS."""

from . import checked, forbidden, safe
from ._rules import ENC, ID, NET, PUB, REG

_TAG = "a tag: it labels a resource and moves nothing"

# One entry per line: the registry is a table reviewers read and diff line by line.
# fmt: off
TYPES = {
    "aws:ecs/accountSettingDefault:AccountSettingDefault": safe("account defaults for ECS (ARN formats, insights)"),
    "aws:ecs/capacityProvider:CapacityProvider": safe("links a cluster of the site to an Auto Scaling group of the site"),
    "aws:ecs/cluster:Cluster": safe("a cluster of the site; its execute-command logs are scanned like every input"),
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": safe("which capacity providers a cluster of the site uses"),
    "aws:ecs/service:Service": checked("tasks run in the site's subnets without public IPs", NET),
    "aws:ecs/tag:Tag": safe(_TAG),
    "aws:ecs/taskDefinition:TaskDefinition": checked("container definitions are scanned: images, environment and log targets must be the site's", NET, REG, ID),
    "aws:ecs/taskSet:TaskSet": checked("tasks run in the site's subnets without public IPs", NET),
    "aws:ecr/accountSetting:AccountSetting": safe("registry-wide ECR settings"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": safe("expires images of a repository of the site"),
    "aws:ecr/pullThroughCacheRule:PullThroughCacheRule": checked("its upstream registry is scanned: registries outside the site are a way out", NET),
    "aws:ecr/registryPolicy:RegistryPolicy": checked("a resource policy: principals stay in the site", ID),
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration": safe("image vulnerability scanning in the same region"),
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": forbidden("ECR replication copies images to other regions or accounts", REG),
    "aws:ecr/repository:Repository": checked("holds images: encrypted with the operator key", ENC),
    "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": safe("settings of repositories ECR creates; each repository is checked"),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": checked("a resource policy: principals stay in the site, nothing public", PUB, ID),
    "aws:ecrpublic/repository:Repository": forbidden("a public ECR repository is readable by anyone", PUB),
    "aws:ecrpublic/repositoryPolicy:RepositoryPolicy": forbidden("a public ECR repository is readable by anyone", PUB),
    "aws:eks/accessEntry:AccessEntry": checked("lets the principal it names into a cluster; it must be the site's", ID),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": safe("attaches an EKS access policy to an access entry of the site"),
    "aws:eks/addon:Addon": safe("an AWS-managed add-on of a cluster of the site"),
    "aws:eks/cluster:Cluster": checked("its API endpoint must be private", NET),
    "aws:eks/fargateProfile:FargateProfile": safe("runs pods of a cluster of the site on Fargate in the subnets it names"),
    "aws:eks/identityProviderConfig:IdentityProviderConfig": checked("its OIDC issuer URL is scanned: an identity provider outside the site is a way in and out", NET),
    "aws:eks/nodeGroup:NodeGroup": safe("nodes of a cluster of the site, from a launch template the pack checks"),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": safe("lets pods of a cluster of the site use an IAM role of the site"),
}
# fmt: on
