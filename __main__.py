"""The EU data enclave: one isolated site per stack. Wiring only; see README.md."""

import pulumi
from components.operator_key import OperatorKey, OperatorKeyArgs
from components.regional_storage import RegionalStorage, RegionalStorageArgs

from components.config import load_site_config
from components.site_providers import SiteProviders, SiteProvidersArgs

cfg = load_site_config()
prefix = cfg.name_prefix

providers = SiteProviders(prefix, SiteProvidersArgs(config=cfg))
key = OperatorKey(f"{prefix}-key", OperatorKeyArgs(config=cfg, provider=providers.operator))
storage = RegionalStorage(
    f"{prefix}-storage",
    RegionalStorageArgs(config=cfg, provider=providers.data, key_arn=key.key_arn),
)

pulumi.export("site", cfg.site)
pulumi.export("region", cfg.region)
pulumi.export("data_account_id", cfg.data_account_id)
pulumi.export("operator_account_id", cfg.operator_account_id)
pulumi.export("operator_key_arn", key.key_arn)
pulumi.export("operator_key_alias", key.alias_name)
pulumi.export("data_bucket_name", storage.data_bucket_name)
pulumi.export("data_bucket_arn", storage.data_bucket_arn)
pulumi.export("access_log_bucket_name", storage.log_bucket_name)
