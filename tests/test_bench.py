"""Smoke tests of the benchmark code (``python -m bench``) at tiny sizes."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from bench.floor import floor_script, program_classes
from bench.run import main, table
from bench.sites import program_files, write_estate
from bench.synthetic import synthetic_run
from bench.timing import BenchError, time_call, time_command
from components.config import site_config_from_mapping
from enclave.check import check_stack, evaluate, resolve_policy_config
from enclave.harness import PROJECT_DIR, load_stack_config


def test_floor_covers_every_recorded_type(program_run):
    run = program_run("dublin")
    classes = program_classes(run)
    assert ("pulumi_aws", "Provider") in classes
    assert ("pulumi_aws.s3", "Bucket") in classes
    assert ("pulumi_random", "RandomPassword") in classes
    # One class per custom type, each importable from the module the registry names.
    assert len(classes) == len({r.type for r in run.resources if r.custom})
    exec(compile(floor_script(classes), "<floor>", "exec"), {})


def test_floor_refuses_a_type_no_package_registered(program_run):
    run = program_run("dublin")
    bucket = next(r for r in run.resources if r.type == "aws:s3/bucket:Bucket")
    odd = replace(run, resources=[replace(bucket, type="aws:nosuch/thing:Thing")])
    with pytest.raises(BenchError, match="aws:nosuch/thing:Thing"):
        program_classes(odd)


def test_synthetic_replicas_are_whole_sites(program_run):
    base = program_run("dublin")
    prefix = site_config_from_mapping(base.config).name_prefix
    n = len(base.resources)
    run = synthetic_run(base, 2 * n + 5, prefix)
    assert len(run.resources) == 2 * n + 5
    urns = [r.urn for r in run.resources]
    assert len(set(urns)) == len(urns)
    copy = run.resources[n : 2 * n]
    own = {r.urn for r in copy}
    for res in copy:
        assert res.urn.endswith("-r1"), res.urn
        if res.provider:
            assert res.provider_urn in own, f"{res.urn}: provider {res.provider} outside its replica"
        assert not res.parent or res.parent in own or res.parent.endswith("pulumi:pulumi:Stack::eu-data-enclave-dublin")
    buckets = [r.inputs["bucket"] for r in copy if r.type == "aws:s3/bucket:Bucket"]
    assert buckets and all(b.startswith(f"{prefix}-r1-") for b in buckets), buckets

    # Replicas are consistent: two whole copies break only the one-trail-per-stack rule.
    config = resolve_policy_config(PROJECT_DIR, "dublin", base)
    assert evaluate(synthetic_run(base, n, prefix), config) == []
    violations = evaluate(synthetic_run(base, 2 * n, prefix), config)
    assert [v.policy for v in violations] == ["audit-on"], violations


def test_estate_has_distinct_valid_sites_that_pass(tmp_path):
    assert program_files(PROJECT_DIR) == ["Pulumi.yaml", "__main__.py", "components"]
    stacks = write_estate(tmp_path, 2, PROJECT_DIR)
    assert stacks == ["site00", "site01"]
    configs = [site_config_from_mapping(load_stack_config(tmp_path, s)) for s in stacks]
    assert len({c.region for c in configs}) == 2
    assert len({c.data_account_id for c in configs} | {c.operator_account_id for c in configs}) == 4
    assert len({c.vpc_cidr for c in configs}) == 2
    run, violations = check_stack("site01", tmp_path)
    assert run.stack == "site01" and len(run.resources) > 50
    assert violations == []


def test_timing_runs_fresh_interpreters_and_rejects_failures(tmp_path):
    stats, code = time_command([sys.executable, "-c", "pass"], 2, tmp_path)
    assert code == 0 and len(stats.samples) == 2 and stats.min <= stats.median <= stats.max
    with pytest.raises(BenchError, match="exited 3"):
        time_command([sys.executable, "-c", "raise SystemExit(3)"], 1, tmp_path)
    assert len(time_call(lambda: None, 3).samples) == 3


def test_table_aligns_and_bad_runs_exit_2(capsys):
    text = table([["a", "1", "0.1", "0.2", "0.3", "", "", ""], ["longer label", "1", "1", "2", "3", "x", "g", "yes"]])
    lines = text.splitlines()
    assert lines[0].startswith("figure") and lines[1].startswith("----")
    assert lines[2].index("1") == lines[3].index("1", len("longer label"))
    assert main(["--runs", "0"]) == 2
    assert "--runs" in capsys.readouterr().err


def test_unwritable_out_exits_2_before_measuring(tmp_path, capsys):
    assert main(["--quick", "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["--quick", "--out", str(blocker / "results.json")]) == 2
    assert "--out" in capsys.readouterr().err


def test_effective_region_index_follows_the_resource_list(program_run):
    base = program_run("dublin")
    prefix = site_config_from_mapping(base.config).name_prefix
    run = synthetic_run(base, 2 * len(base.resources), prefix)
    region = base.config["eu-data-enclave:region"]
    bucket = next(r for r in run.resources if r.type == "aws:s3/bucket:Bucket" and r.urn.endswith("-r1"))
    assert run.effective_region(bucket) == region, bucket.urn
    # A provider added later (the list grows) is found: the URN index is not stale.
    prov = next(r for r in run.resources if r.urn == bucket.provider_urn)
    moved = replace(prov, urn=prov.urn + "-moved", inputs={**prov.inputs, "region": "eu-central-1"})
    run.resources.append(moved)
    elsewhere = replace(bucket, inputs={k: v for k, v in bucket.inputs.items() if k != "region"})
    elsewhere = replace(elsewhere, provider=f"{moved.urn}::x")
    assert run.effective_region(elsewhere) == "eu-central-1", elsewhere.urn
