"""Machine-learning inference: SageMaker endpoints in the VPC, Bedrock in the region (no cross-region profiles)."""

from . import checked, safe
from ._rules import ENC, ID, NET, REG

_MODEL = "models named by id or ARN must be invoked in the site's region: cross-region inference profiles are refused"
_S3 = "its S3 locations must be the site's buckets"

# One entry per line: the registry is a table reviewers read and diff line by line.
# fmt: off
TYPES = {
    "aws:sagemaker/app:App": safe("an app of a user profile in a Studio domain the pack checks"),
    "aws:sagemaker/appImageConfig:AppImageConfig": safe("kernel settings of a custom Studio image"),
    "aws:sagemaker/codeRepository:CodeRepository": checked("its Git URL is scanned: a repository outside the site is a way out", NET),
    "aws:sagemaker/domain:Domain": checked("Studio apps must be VpcOnly in the site's subnets", NET),
    "aws:sagemaker/endpoint:Endpoint": safe("serves a model of the site through SageMaker's runtime API in the region"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": checked(f"encrypted with the operator key; {_S3} (data capture, async output)", ENC, REG, ID),
    "aws:sagemaker/featureGroup:FeatureGroup": checked(f"holds features; {_S3} (offline store)", REG, ID),
    "aws:sagemaker/image:Image": safe("a custom Studio image registered from a repository of the site"),
    "aws:sagemaker/imageVersion:ImageVersion": safe("a version of a custom image; its ECR image URI is scanned"),
    "aws:sagemaker/model:Model": checked("containers must be network-isolated or in the site's subnets; image URIs and model data are scanned", NET, REG, ID),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": safe("a group of model versions of the site"),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": checked("a resource policy: principals stay in the site", ID),
    "aws:sagemaker/notebookInstance:NotebookInstance": checked("no direct internet access, in a subnet of the site, encrypted with the operator key", NET, ENC),
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration": checked("its scripts are decoded and scanned: no endpoint outside the site", NET, REG, ID),
    "aws:sagemaker/pipeline:Pipeline": checked("its definition is scanned: every step's data, images and endpoints must be the site's", NET, REG, ID),
    "aws:sagemaker/space:Space": safe("a shared space in a Studio domain the pack checks"),
    "aws:sagemaker/userProfile:UserProfile": safe("a user of a Studio domain the pack checks"),
    "aws:bedrock/agentAgent:AgentAgent": checked(_MODEL, REG, ID),
    "aws:bedrock/agentAgentActionGroup:AgentAgentActionGroup": checked("actions run a Lambda function of the site; its API schema's bucket must be the site's", NET, REG, ID),
    "aws:bedrock/agentAgentAlias:AgentAgentAlias": safe("routes to a version of an agent of the site"),
    "aws:bedrock/agentAgentKnowledgeBaseAssociation:AgentAgentKnowledgeBaseAssociation": safe("lets an agent of the site query a knowledge base of the site"),
    "aws:bedrock/agentDataSource:AgentDataSource": checked("S3 sources must be the site's; web crawlers and SaaS connectors are ways out", NET, REG, ID),
    "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase": checked(f"{_MODEL}; vector stores outside AWS (Pinecone, Redis Cloud, MongoDB Atlas) are ways out", NET, REG, ID),
    "aws:bedrock/agentPrompt:AgentPrompt": checked(_MODEL, REG),
    "aws:bedrock/customModel:CustomModel": checked(f"fine-tunes a base model of the region; {_S3}", REG, ID),
    "aws:bedrock/guardrail:Guardrail": safe("filters prompts and responses of models of the site"),
    "aws:bedrock/guardrailVersion:GuardrailVersion": safe("a version of a guardrail of the site"),
    "aws:bedrock/inferenceProfile:InferenceProfile": checked("an application profile copied from a model of the region; a cross-region source is refused", REG),
    "aws:bedrock/provisionedModelThroughput:ProvisionedModelThroughput": checked(_MODEL, REG),
    "aws:bedrockmodel/invocationJob:InvocationJob": checked(f"batch inference; {_MODEL}; {_S3}", REG, ID),
    "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration": checked("invocation logs go to a bucket or log group that must be the site's", REG, ID),
}
# fmt: on
