"""Queues, topics, streams and events: SQS, SNS, Kinesis, Firehose, MSK, MQ, EventBridge, Step Functions, Pipes, Scheduler."""

from . import checked, forbidden, safe
from ._rules import ENC, ID, NET, PUB, REG
from ._rules import ONE_PER_TARGET as _ONE_PER_TARGET

_POLICY = "a resource policy: principals stay in the site, nothing public"
_TARGETS = "delivers to targets named by ARN, which must be the site's; endpoints outside AWS are refused"

# One entry per line: the registry is a table reviewers read and diff line by line.
# fmt: off
TYPES = {
    "aws:sqs/queue:Queue": checked("holds messages: encrypted with the operator key; its inline policy stays in the site", ENC, PUB, ID),
    "aws:sqs/queuePolicy:QueuePolicy": checked(_POLICY, PUB, ID),
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": checked("which queues may use this one as a dead-letter queue; they must be the site's", ID),
    "aws:sqs/redrivePolicy:RedrivePolicy": checked("the dead-letter queue, named by ARN, must be the site's", REG, ID),
    "aws:sns/dataProtectionPolicy:DataProtectionPolicy": safe("masks or audits personal data in the messages of a topic of the site"),
    "aws:sns/platformApplication:PlatformApplication": forbidden("push notifications go to Apple's, Google's or other push services on the internet", NET),
    "aws:sns/smsPreferences:SmsPreferences": forbidden("SMS delivery sends messages to phone networks outside AWS", NET),
    "aws:sns/topic:Topic": checked("holds messages: encrypted with the operator key; its inline policy stays in the site", ENC, PUB, ID),
    "aws:sns/topicPolicy:TopicPolicy": checked(_POLICY, PUB, ID),
    "aws:sns/topicSubscription:TopicSubscription": checked("only SQS, Lambda and Firehose endpoints of the site; HTTP, e-mail, SMS and push go out", NET, ID, REG),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": checked("encrypted with the operator key; delivers only to S3, Redshift, OpenSearch or Iceberg of the site", ENC, NET, REG, ID),
    "aws:kinesis/resourcePolicy:ResourcePolicy": checked("a resource policy: principals stay in the site", ID),
    "aws:kinesis/stream:Stream": checked("holds records: encrypted with the operator key", ENC),
    "aws:kinesis/streamConsumer:StreamConsumer": safe("a registered consumer of a stream of the site"),
    "aws:msk/cluster:Cluster": checked("holds records: encrypted with the operator key, no public broker access", ENC, NET),
    "aws:msk/clusterPolicy:ClusterPolicy": checked("a resource policy: principals stay in the site", ID),
    "aws:msk/configuration:Configuration": safe("broker settings; holds no data"),
    "aws:msk/replicator:Replicator": forbidden("an MSK replicator copies topics to another cluster, possibly in another region", REG),
    "aws:msk/scramSecretAssociation:ScramSecretAssociation": safe("links SASL/SCRAM secrets of the site to a cluster of the site"),
    "aws:msk/singleScramSecretAssociation:SingleScramSecretAssociation": safe("links a SASL/SCRAM secret of the site to a cluster of the site"),
    "aws:mskconnect/connector:Connector": checked("runs connectors in the cluster's subnets; every endpoint in their configuration is scanned", NET, REG, ID),
    "aws:mskconnect/customPlugin:CustomPlugin": checked("plugin code from an S3 bucket that must be the site's", REG, ID),
    "aws:mskconnect/workerConfiguration:WorkerConfiguration": safe("worker settings; holds no data"),
    "aws:mq/broker:Broker": checked("holds messages: encrypted with the operator key, never publicly accessible; no cross-region data replication", ENC, NET, REG),
    "aws:mq/configuration:Configuration": safe("broker settings; holds no data"),
    "aws:cloudwatch/eventApiDestination:EventApiDestination": forbidden("an API destination sends events to an HTTP endpoint on the internet", NET),
    "aws:cloudwatch/eventArchive:EventArchive": safe("keeps events of a bus of the site in the same region"),
    "aws:cloudwatch/eventBus:EventBus": safe("an event bus of the site; rules and targets on it are checked"),
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": checked(f"a resource policy: principals stay in the site{_ONE_PER_TARGET}", ID, PUB),
    "aws:cloudwatch/eventConnection:EventConnection": forbidden("holds the credentials API destinations use to call HTTP endpoints outside AWS", NET),
    "aws:cloudwatch/eventEndpoint:EventEndpoint": forbidden("a global endpoint replicates events to a secondary region", REG),
    "aws:cloudwatch/eventPermission:EventPermission": checked("lets the account it names put events on a bus; it must be the site's, never '*'", ID),
    "aws:cloudwatch/eventRule:EventRule": safe("matches events on a bus of the site; its targets are checked"),
    "aws:cloudwatch/eventTarget:EventTarget": checked(_TARGETS, REG, ID, NET),
    "aws:sfn/activity:Activity": safe("a task that workers of the site poll"),
    "aws:sfn/alias:Alias": safe("routes executions to versions of a state machine of the site"),
    "aws:sfn/stateMachine:StateMachine": checked("its definition is scanned: HTTP tasks and other regions' or accounts' resources are refused", NET, REG, ID),
    "aws:pipes/pipe:Pipe": checked("source, enrichment and target named by ARN must be the site's; API destinations are refused", NET, REG, ID),
    "aws:scheduler/schedule:Schedule": checked(_TARGETS, REG, ID, NET),
    "aws:scheduler/scheduleGroup:ScheduleGroup": safe("a group of schedules of the site"),
    "aws:schemas/discoverer:Discoverer": safe("infers schemas from events on a bus of the site"),
    "aws:schemas/registry:Registry": safe("a registry of event schemas of the site"),
    "aws:schemas/registryPolicy:RegistryPolicy": checked("a resource policy: principals stay in the site", ID),
    "aws:schemas/schema:Schema": safe("an event schema; holds no data"),
}
# fmt: on
