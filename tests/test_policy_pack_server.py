"""The pack as the Pulumi engine runs it: `policy/__main__.py` serves the analyzer gRPC protocol.

The engine starts the pack, calls GetAnalyzerInfo, Configure (with the
--policy-pack-config document), then Analyze for each resource and
AnalyzeStack once. Here the same calls go to the real pack process, and the
answers must match what the offline ``enclave check`` says.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as pb
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE

from enclave.check import evaluate

POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"
CONFIG = json.loads((POLICY_DIR / "config" / "dublin.json").read_text())


def struct(value: dict) -> struct_pb2.Struct:
    return json_format.ParseDict(value, struct_pb2.Struct())


@pytest.fixture(scope="module")
def analyzer():
    """The pack's server, configured with dublin's policy config, as the CLI does."""
    proc = subprocess.Popen([sys.executable, "__main__.py"], cwd=POLICY_DIR, stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().strip())  # the pack prints its port first, like every plugin
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        stub.Configure(
            pb.ConfigureAnalyzerRequest(
                policyConfig={
                    name: pb.PolicyConfig(enforcementLevel=pb.MANDATORY, properties=struct(CONFIG.get(name, {})))
                    for name in (p.name for p in stub.GetAnalyzerInfo(empty_pb2.Empty()).policies)
                }
            )
        )
        yield stub
        channel.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def provider_message(rec) -> pb.AnalyzerProviderResource:
    return pb.AnalyzerProviderResource(type=rec.type, properties=struct(rec.inputs), urn=rec.urn, name=rec.name)


def options(rec) -> pb.AnalyzerResourceOptions:
    return pb.AnalyzerResourceOptions(
        protect=rec.protect,
        ignoreChanges=rec.ignore_changes,
        additionalSecretOutputs=rec.additional_secret_outputs,
        parent=rec.parent,
    )


def test_pack_info_lists_every_policy_mandatory(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "eu-data-residency"
    assert {p.name: p.enforcementLevel for p in info.policies} == {
        name: pb.MANDATORY for name in CONFIG.keys() | {"reviewed-types", "no-public-data", "audit-on"}
    }
    schemas = {p.name: set(p.configSchema.required) for p in info.policies}
    assert schemas["region-pinned"] == {"allowedRegion", "dataAccountId", "operatorAccountId"}
    # Every policy takes per-resource exceptions, in the form the CLI validates and passes on.
    exceptions = {
        p.name: json_format.MessageToDict(p.configSchema.properties)["exceptions"]["items"]["required"]
        for p in info.policies
    }
    assert len(exceptions) == 10 and all(
        v == ["resource", "reason", "approver", "expires"] for v in exceptions.values()
    )


def test_real_program_resources_pass_through_the_engine_protocol(analyzer, program_run):
    run = program_run("dublin")
    by_urn = run.by_urn()
    assert evaluate(run) == []
    resources = []
    for rec in run.resources:
        prov = by_urn.get(rec.provider_urn)
        request = dict(
            type=rec.type,
            properties=struct(rec.inputs),
            urn=rec.urn,
            name=rec.name,
            options=options(rec),
            provider=provider_message(prov) if prov else None,
        )
        diagnostics = analyzer.Analyze(pb.AnalyzeRequest(**request)).diagnostics
        assert list(diagnostics) == [], (rec.urn, diagnostics)
        state = rec.outputs if rec.custom and rec.outputs else rec.inputs
        resources.append(
            pb.AnalyzerResource(
                **{**request, "properties": struct(state)},
                parent=rec.parent,
                dependencies=rec.dependencies,
                propertyDependencies={
                    k: pb.AnalyzerPropertyDependencies(urns=v) for k, v in rec.property_dependencies.items()
                },
            )
        )
    response = analyzer.AnalyzeStack(pb.AnalyzeStackRequest(resources=resources))
    assert list(response.diagnostics) == []


def test_violations_and_unknowns_fail_through_the_engine_protocol(analyzer, program_run):
    prov = next(r for r in program_run("dublin").resources if r.type == "pulumi:providers:aws")

    def request(type_, props, name="x"):
        return dict(
            type=type_,
            properties=struct(props),
            urn=f"urn:pulumi:dublin::eu-data-enclave::{type_}::{name}",
            name=name,
            options=pb.AnalyzerResourceOptions(protect=True),
            provider=provider_message(prov),
        )

    def analyze(type_, props):
        return {
            (d.policyName, d.enforcementLevel)
            for d in analyzer.Analyze(pb.AnalyzeRequest(**request(type_, props))).diagnostics
        }

    def analyze_stack(type_, props):
        resource = pb.AnalyzerResource(**request(type_, props))
        diagnostics = analyzer.AnalyzeStack(pb.AnalyzeStackRequest(resources=[resource])).diagnostics
        return {(d.policyName, d.enforcementLevel) for d in diagnostics if d.urn == resource.urn}

    # Per-resource rules answer in Analyze, before each resource is created...
    assert analyze("aws:sqs/queue:Queue", {"region": "us-east-1"}) == {("region-pinned", pb.MANDATORY)}
    assert analyze("aws:appflow/flow:Flow", {}) == {("reviewed-types", pb.MANDATORY)}
    # ...the perimeters need the whole stack and answer in AnalyzeStack.
    assert ("no-egress", pb.MANDATORY) in analyze_stack("aws:ec2/internetGateway:InternetGateway", {"vpcId": "vpc-1"})
    # CrossGuard would make this an advisory "can't run during preview"; the pack fails closed.
    assert ("no-cross-region-replication", pb.MANDATORY) in analyze_stack(
        "aws:kms/key:Key", {"multiRegion": UNKNOWN_BOOLEAN_VALUE}
    )
    assert ("identity-perimeter", pb.MANDATORY) in analyze_stack(
        "aws:ram/principalAssociation:PrincipalAssociation", {"principal": "999999999999", "resourceShareArn": "arn"}
    )
