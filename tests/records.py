"""Lookups in a recorded program run that several test modules share."""

from __future__ import annotations

import functools


def audit_log_prerequisite_urns(run, cfg) -> set[str]:
    """URNs of the audit-log bucket's Object Lock, encryption and policy: what every log delivery waits for."""
    bucket = cfg.bucket_name("audit-logs")
    wanted = (
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketPolicy:BucketPolicy",
    )
    urns = {r.urn for r in run.resources if r.type in wanted and r.inputs.get("bucket") == bucket}
    assert len(urns) == 3, urns
    return urns


@functools.cache
def sandbox_run(stack: str = "dublin"):
    """The whole program for a shipped stack with ``eu-data-enclave:sandbox: true`` (cached per process)."""
    from enclave.harness import run_program
    from tests.conftest import stack_config

    config = dict(stack_config(stack))
    config["eu-data-enclave:sandbox"] = "true"
    return run_program(stack, config=config)
