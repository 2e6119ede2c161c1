"""The enclave's components: one ``pulumi.ComponentResource`` per module."""
