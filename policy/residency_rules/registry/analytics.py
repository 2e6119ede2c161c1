"""Analytics and ETL: Glue, Athena, EMR, Lake Formation, OpenSearch."""

from . import checked, safe
from ._rules import ENC, ID, NET, PROT, REG

_S3_PATH = "its S3 locations must be the site's buckets"
_CATALOG = "metadata in the Glue Data Catalog of the site"
_POLICY = "a resource policy: principals stay in the site"
_DOMAIN = "holds data: encrypted with the operator key, protected, in the site's subnets, policy in the site"

# One entry per line: the registry is a table reviewers read and diff line by line.
# fmt: off
TYPES = {
    "aws:glue/catalogDatabase:CatalogDatabase": checked(f"{_CATALOG}; {_S3_PATH}, and a target database in another account is refused", REG, ID),
    "aws:glue/catalogTable:CatalogTable": checked(f"{_CATALOG}; {_S3_PATH}", REG, ID),
    "aws:glue/catalogTableOptimizer:CatalogTableOptimizer": safe("compacts or cleans an Iceberg table of the site in place"),
    "aws:glue/classifier:Classifier": safe("how a crawler recognises formats; holds no data"),
    "aws:glue/connection:Connection": checked("only network-level connections in the site's subnets; every host in it is scanned", NET),
    "aws:glue/crawler:Crawler": checked(f"crawls targets of the site: {_S3_PATH}, JDBC targets use connections of the site", REG, ID),
    "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings": safe("encryption of the catalog's metadata and connection passwords"),
    "aws:glue/dataQualityRuleset:DataQualityRuleset": safe("data-quality rules over a table of the site"),
    "aws:glue/devEndpoint:DevEndpoint": checked("must run in a subnet of the site", NET),
    "aws:glue/job:Job": checked(f"must use a connection in the site's VPC; {_S3_PATH}", NET, REG, ID),
    "aws:glue/mLTransform:MLTransform": safe("a machine-learning transform over tables of the site"),
    "aws:glue/partition:Partition": checked(f"a partition of a table of the site; {_S3_PATH}", REG, ID),
    "aws:glue/partitionIndex:PartitionIndex": safe("an index over partitions of a table of the site"),
    "aws:glue/registry:Registry": safe("a schema registry of the site"),
    "aws:glue/resourcePolicy:ResourcePolicy": checked(_POLICY, ID),
    "aws:glue/schema:Schema": safe("a schema in a registry of the site"),
    "aws:glue/securityConfiguration:SecurityConfiguration": safe("encryption settings jobs and crawlers use"),
    "aws:glue/trigger:Trigger": safe("starts jobs and crawlers of the site"),
    "aws:glue/userDefinedFunction:UserDefinedFunction": checked(f"a function of the catalog; {_S3_PATH}", REG, ID),
    "aws:glue/workflow:Workflow": safe("orders jobs and crawlers of the site"),
    "aws:athena/capacityReservation:CapacityReservation": safe("reserved query capacity in the region"),
    "aws:athena/dataCatalog:DataCatalog": checked("a catalog whose function or catalog id must be the site's", REG, ID),
    "aws:athena/database:Database": checked("query results go to a bucket that must be the site's (and its owner the site)", REG, ID),
    "aws:athena/namedQuery:NamedQuery": safe("a saved query text"),
    "aws:athena/preparedStatement:PreparedStatement": safe("a saved query text"),
    "aws:athena/workgroup:Workgroup": checked("query results go to an S3 location (and expected owner) that must be the site's", REG, ID),
    "aws:emr/blockPublicAccessConfiguration:BlockPublicAccessConfiguration": checked("the account's block on public EMR security groups must stay on", NET),
    "aws:emr/cluster:Cluster": checked(f"must run in the site's subnets; {_S3_PATH}", NET, REG, ID),
    "aws:emr/instanceFleet:InstanceFleet": safe("instances of a cluster of the site"),
    "aws:emr/instanceGroup:InstanceGroup": safe("instances of a cluster of the site"),
    "aws:emr/managedScalingPolicy:ManagedScalingPolicy": safe("scales a cluster of the site"),
    "aws:emr/securityConfiguration:SecurityConfiguration": safe("encryption and authentication settings of clusters; its keys and paths are scanned"),
    "aws:emrserverless/application:Application": checked("must run in the site's subnets", NET),
    "aws:emrcontainers/jobTemplate:JobTemplate": checked(f"a job template for EMR on EKS of the site; {_S3_PATH}", REG, ID),
    "aws:emrcontainers/virtualCluster:VirtualCluster": safe("runs EMR jobs on an EKS cluster of the site"),
    "aws:lakeformation/dataCellsFilter:DataCellsFilter": safe("row and column filter on a table of the site"),
    "aws:lakeformation/dataLakeSettings:DataLakeSettings": checked("its administrators and trusted resource owners must be the site's", ID),
    "aws:lakeformation/lfTag:LfTag": safe("a Lake Formation tag"),
    "aws:lakeformation/lfTagExpression:LfTagExpression": safe("a Lake Formation tag expression"),
    "aws:lakeformation/optIn:OptIn": safe("opts a principal of the site into Lake Formation permissions"),
    "aws:lakeformation/permissions:Permissions": checked("grants a principal access to data; it must be the site's", ID),
    "aws:lakeformation/resource:Resource": checked(f"registers a data location; {_S3_PATH}", REG, ID),
    "aws:lakeformation/resourceLfTag:ResourceLfTag": safe("tags a catalog resource of the site"),
    "aws:lakeformation/resourceLfTags:ResourceLfTags": safe("tags a catalog resource of the site"),
    "aws:opensearch/authorizeVpcEndpointAccess:AuthorizeVpcEndpointAccess": checked("lets the account it names reach a domain; it must be the site's", ID),
    "aws:opensearch/domain:Domain": checked(_DOMAIN, ENC, PROT, NET, ID),
    "aws:opensearch/domainPolicy:DomainPolicy": checked(_POLICY, ID),
    "aws:opensearch/domainSamlOptions:DomainSamlOptions": checked("its identity provider's URLs are scanned: one outside the site is refused", NET),
    "aws:opensearch/inboundConnectionAccepter:InboundConnectionAccepter": checked("accepts a cross-cluster connection, whose other side must be the site's", ID, REG),
    "aws:opensearch/outboundConnection:OutboundConnection": checked("connects to a domain whose owner and region must be the site's", ID, REG),
    "aws:opensearch/package:Package": checked(f"a dictionary or plugin package; {_S3_PATH}", REG, ID),
    "aws:opensearch/packageAssociation:PackageAssociation": safe("installs a package of the site on a domain of the site"),
    "aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy": checked("data access rules: principals stay in the site", ID),
    "aws:opensearch/serverlessCollection:ServerlessCollection": safe("a collection of the site; its network and encryption policies are checked"),
    "aws:opensearch/serverlessLifecyclePolicy:ServerlessLifecyclePolicy": safe("retention of indexes of a collection of the site"),
    "aws:opensearch/serverlessSecurityConfig:ServerlessSecurityConfig": checked("its SAML identity provider is scanned: one outside the site is refused", NET),
    "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy": checked("network policies must not allow public access; keys are scanned", NET, ID),
    "aws:opensearch/serverlessVpcEndpoint:ServerlessVpcEndpoint": safe("an OpenSearch Serverless endpoint in the site's subnets"),
    "aws:opensearch/vpcEndpoint:VpcEndpoint": safe("an endpoint of a domain of the site in the site's subnets"),
    "aws:elasticsearch/domain:Domain": checked(_DOMAIN, ENC, NET, ID),
    "aws:elasticsearch/domainPolicy:DomainPolicy": checked(_POLICY, ID),
    "aws:elasticsearch/domainSamlOptions:DomainSamlOptions": checked("its identity provider's URLs are scanned: one outside the site is refused", NET),
    "aws:elasticsearch/vpcEndpoint:VpcEndpoint": safe("an endpoint of a domain of the site in the site's subnets"),
}
# fmt: on
