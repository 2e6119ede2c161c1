"""The EU data enclave: one isolated site per stack. Wiring only; see README.md."""

import pulumi

from components.account_guardrails import AccountGuardrails, AccountGuardrailsArgs
from components.audit_trail import AuditTrail, AuditTrailArgs
from components.config import load_site_config
from components.dns_firewall import DnsFirewall, DnsFirewallArgs
from components.grants import grants_summary, report_grants
from components.isolated_network import IsolatedNetwork, IsolatedNetworkArgs
from components.operator_key import OperatorKey, OperatorKeyArgs
from components.pseudonym_secret import PseudonymSecret, PseudonymSecretArgs
from components.regional_storage import RegionalStorage, RegionalStorageArgs
from components.security_gates import SecurityGates, SecurityGatesArgs
from components.site_providers import SiteProviders, SiteProvidersArgs
from components.transfer_export import TransferExport, TransferExportArgs

cfg = load_site_config()
prefix = cfg.name_prefix
report_grants(cfg)

providers = SiteProviders(prefix, SiteProvidersArgs(config=cfg))
data = providers.data
AccountGuardrails(f"{prefix}-account", AccountGuardrailsArgs(config=cfg, provider=data))
key = OperatorKey(f"{prefix}-key", OperatorKeyArgs(config=cfg, provider=providers.operator))
# Order breaks the only cycle: flow logs need the audit bucket, the bucket
# policy needs the network's S3 endpoint. Documents name the rest by config.
audit = AuditTrail(f"{prefix}-audit", AuditTrailArgs(config=cfg, provider=data, key_arn=key.key_arn))
logs_ready = audit.log_delivery_prerequisites
network = IsolatedNetwork(
    f"{prefix}-network",
    IsolatedNetworkArgs(
        config=cfg, provider=data, flow_log_bucket_arn=audit.log_bucket_arn, log_delivery_prerequisites=logs_ready
    ),
)
dns = DnsFirewall(
    f"{prefix}-dns",
    DnsFirewallArgs(
        config=cfg,
        provider=data,
        vpc_id=network.vpc_id,
        log_bucket_arn=audit.log_bucket_arn,
        log_delivery_prerequisites=logs_ready,
    ),
)
gates = SecurityGates(
    f"{prefix}-gates",
    SecurityGatesArgs(config=cfg, provider=data, key_arn=key.key_arn, s3_endpoint_id=network.s3_endpoint_id),
)
storage = RegionalStorage(
    f"{prefix}-storage",
    RegionalStorageArgs(config=cfg, provider=data, key_arn=key.key_arn, read_vpc_endpoint_id=network.s3_endpoint_id),
)
exports = TransferExport(
    f"{prefix}-exports",
    TransferExportArgs(
        config=cfg, data_provider=data, operator_provider=providers.operator, s3_endpoint_id=network.s3_endpoint_id
    ),
)
pepper = PseudonymSecret(
    f"{prefix}-pseudonym",
    PseudonymSecretArgs(config=cfg, provider=data, key_arn=key.key_arn, workload_role_arn=gates.workload_role_arn),
)

pulumi.export("site", cfg.site)
pulumi.export("region", cfg.region)
pulumi.export("sandbox", cfg.sandbox)
pulumi.export("data_account_id", cfg.data_account_id)
pulumi.export("operator_account_id", cfg.operator_account_id)
pulumi.export("operator_key_arn", key.key_arn)
pulumi.export("operator_key_alias", key.alias_name)
pulumi.export("data_bucket_name", storage.data_bucket_name)
pulumi.export("data_bucket_arn", storage.data_bucket_arn)
pulumi.export("access_log_bucket_name", storage.log_bucket_name)
pulumi.export("audit_log_bucket_name", audit.log_bucket_name)
pulumi.export("trail_arn", audit.trail_arn)
pulumi.export("vpc_id", network.vpc_id)
pulumi.export("private_subnet_ids", network.private_subnet_ids)
pulumi.export("s3_endpoint_id", network.s3_endpoint_id)
pulumi.export("dns_firewall_rule_group_id", dns.rule_group_id)
pulumi.export("workload_role_arn", gates.workload_role_arn)
pulumi.export("staff_access_role_arn", gates.staff_access_role_arn)
pulumi.export("auditor_role_arn", gates.auditor_role_arn)
pulumi.export("permissions_boundary_arn", gates.permissions_boundary_arn)
pulumi.export("auditor_boundary_arn", gates.auditor_boundary_arn)
pulumi.export("pseudonym_secret_arn", pepper.secret_arn)
pulumi.export("export_bucket_name", exports.bucket_name)
pulumi.export("export_key_arn", exports.key_arn)
pulumi.export("export_key_alias", exports.key_alias)
for output, grants in grants_summary(cfg).items():
    pulumi.export(output, grants)
