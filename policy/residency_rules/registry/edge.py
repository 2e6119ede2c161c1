"""Edge networks and multi-region services: CloudFront, Global Accelerator, and other ways to serve from many places."""

from . import forbidden
from ._rules import REG

_CLOUDFRONT = (
    "CloudFront caches and serves content from edge locations worldwide (its settings exist only for distributions)"
)
_ACCELERATOR = "Global Accelerator carries traffic through edge locations worldwide"

# One entry per line: the registry is a table reviewers read and diff line by line.
# fmt: off
TYPES = {
    "aws:cloudfront/anycastIpList:AnycastIpList": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/cachePolicy:CachePolicy": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/connectionFunction:ConnectionFunction": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/connectionGroup:ConnectionGroup": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/continuousDeploymentPolicy:ContinuousDeploymentPolicy": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/distribution:Distribution": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/distributionTenant:DistributionTenant": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/fieldLevelEncryptionConfig:FieldLevelEncryptionConfig": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/fieldLevelEncryptionProfile:FieldLevelEncryptionProfile": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/function:Function": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/keyGroup:KeyGroup": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/keyValueStore:KeyValueStore": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/keyvaluestoreKey:KeyvaluestoreKey": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/keyvaluestoreKeysExclusive:KeyvaluestoreKeysExclusive": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/monitoringSubscription:MonitoringSubscription": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/multitenantDistribution:MultitenantDistribution": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/originAccessControl:OriginAccessControl": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/originAccessIdentity:OriginAccessIdentity": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/originRequestPolicy:OriginRequestPolicy": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/publicKey:PublicKey": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/realtimeLogConfig:RealtimeLogConfig": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/trustStore:TrustStore": forbidden(_CLOUDFRONT, REG),
    "aws:cloudfront/vpcOrigin:VpcOrigin": forbidden(_CLOUDFRONT, REG),
    "aws:globalaccelerator/accelerator:Accelerator": forbidden(_ACCELERATOR, REG),
    "aws:globalaccelerator/crossAccountAttachment:CrossAccountAttachment": forbidden(_ACCELERATOR, REG),
    "aws:globalaccelerator/customRoutingAccelerator:CustomRoutingAccelerator": forbidden(_ACCELERATOR, REG),
    "aws:globalaccelerator/customRoutingEndpointGroup:CustomRoutingEndpointGroup": forbidden(_ACCELERATOR, REG),
    "aws:globalaccelerator/customRoutingListener:CustomRoutingListener": forbidden(_ACCELERATOR, REG),
    "aws:globalaccelerator/endpointGroup:EndpointGroup": forbidden(_ACCELERATOR, REG),
    "aws:globalaccelerator/listener:Listener": forbidden(_ACCELERATOR, REG),
    "aws:lightsail/distribution:Distribution": forbidden("a Lightsail distribution caches content in edge locations worldwide", REG),
    "aws:arcregionswitch/plan:Plan": forbidden("a Region switch plan fails workloads over to other regions", REG),
    "aws:drs/replicationConfigurationTemplate:ReplicationConfigurationTemplate": forbidden("Elastic Disaster Recovery replicates disks to a staging region", REG),
    "aws:ssmincidents/replicationSet:ReplicationSet": forbidden("an incident replication set stores incident data in several regions", REG),
    "aws:sesv2/multiRegionEndpoint:MultiRegionEndpoint": forbidden("a multi-region endpoint sends mail through several regions", REG),
}
# fmt: on
