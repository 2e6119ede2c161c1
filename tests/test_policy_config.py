"""``enclave policy-config``: the shipped policy config follows the stack config, reviewed entries stay.

The scenario a team meets: a pull request adds a transfer grant to the stack
file. The pack (fed the shipped policy config, as the real CLI is) refuses the
recipient until the config trusts it; one run of the command writes exactly
that trust, and the check passes with the grant.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from enclave.cli import main
from enclave.harness import PROJECT_DIR
from enclave.policy_config import disagreements, merge
from tests.grants_fixture import AT, DOMAIN, RECIPIENT, transfer_grant

STACK = "dublin"


def program_copy(tmp_path: Path, transfers: list | None = None) -> Path:
    """The real program with its shipped policy config, and ``transfers`` declared in the dublin stack file."""
    program = tmp_path / "program"
    shutil.copytree(PROJECT_DIR / "components", program / "components", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT_DIR / "policy" / "config", program / "policy" / "config")
    for path in [PROJECT_DIR / "__main__.py", *PROJECT_DIR.glob("Pulumi*.yaml")]:
        shutil.copy(path, program / path.name)
    if transfers is not None:
        stack_file = program / f"Pulumi.{STACK}.yaml"
        doc = yaml.safe_load(stack_file.read_text())
        doc["config"]["eu-data-enclave:platformApproverDomains"] = [DOMAIN]
        doc["config"]["eu-data-enclave:transferGrants"] = transfers
        stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return program


def config_file(program: Path) -> Path:
    return program / "policy" / "config" / f"{STACK}.json"


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setenv("ENCLAVE_NOW", AT.strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_a_new_transfer_grant_needs_the_trust_and_one_run_writes_it(tmp_path, capsys, fixed_clock):
    program = program_copy(tmp_path, [transfer_grant()])
    before = config_file(program).read_text()

    # The shipped config does not trust the recipient yet: the pack refuses it, and --check says why.
    code, out, err = cli(capsys, "check", "--program", str(program), "--stack", STACK)
    assert code == 1 and "identity-perimeter" in out and RECIPIENT in out
    assert "run python -m enclave policy-config --stack dublin" in err
    code, _, err = cli(capsys, "policy-config", "--program", str(program), "--stack", STACK, "--check")
    assert code == 1 and "trustedAccounts" in err and config_file(program).read_text() == before

    code, out, _ = cli(capsys, "policy-config", "--program", str(program), "--stack", STACK)
    assert code == 0 and "wrote" in out
    written = json.loads(config_file(program).read_text())
    trusted = written["identity-perimeter"]["trustedAccounts"]
    assert [t["accountId"] for t in trusted] == [RECIPIENT]
    assert trusted[0]["resources"] == ["enclave-dublin-exports-policy", "enclave-dublin-exports-key-key"]

    assert cli(capsys, "policy-config", "--program", str(program), "--stack", STACK, "--check")[0] == 0
    code, out, _ = cli(capsys, "check", "--program", str(program), "--stack", STACK)
    assert code == 0 and out.startswith("PASS"), out


def test_reviewed_entries_stay_and_a_removed_grant_takes_its_trust_away(tmp_path, capsys, fixed_clock):
    program = program_copy(tmp_path, [transfer_grant()])
    cli(capsys, "policy-config", "--program", str(program), "--stack", STACK)
    doc = json.loads(config_file(program).read_text())
    reviewed_trust = {"accountId": "156460612806", "reason": "ELB access-log delivery (eu-west-1), reviewed in SEC-9"}
    exception = {"resource": "enclave-dublin-*", "reason": "r", "approver": "a", "expires": "2099-01-01"}
    doc["identity-perimeter"]["trustedAccounts"].insert(0, reviewed_trust)
    doc["no-egress"]["exceptions"] = [exception]
    doc["no-egress"]["enforcementLevel"] = "mandatory"
    config_file(program).write_text(json.dumps(doc, indent=2))

    # The grant goes: its recipient's trust goes with it; the reviewed entries stay untouched.
    program_copy(tmp_path / "again", [])
    shutil.copy(tmp_path / "again" / "program" / f"Pulumi.{STACK}.yaml", program / f"Pulumi.{STACK}.yaml")
    assert cli(capsys, "policy-config", "--program", str(program), "--stack", STACK)[0] == 0
    after = json.loads(config_file(program).read_text())
    assert after["identity-perimeter"]["trustedAccounts"] == [reviewed_trust]
    assert after["no-egress"]["exceptions"] == [exception] and after["no-egress"]["enforcementLevel"] == "mandatory"


def test_merge_keeps_a_bare_level_and_disagreements_name_the_key():
    derived = {"no-egress": {"allowedRegion": "eu-west-1"}, "residency-tags": {"requiredTags": {"a": "b"}}}
    shipped = {"no-egress": "advisory", "residency-tags": {"requiredTags": {"a": "c"}}, "audit-on": "disabled"}
    merged = merge(shipped, derived)
    assert merged["no-egress"] == {"enforcementLevel": "advisory", "allowedRegion": "eu-west-1"}
    assert merged["audit-on"] == "disabled" and merged["residency-tags"]["requiredTags"] == {"a": "b"}
    assert disagreements(shipped, derived) == ["no-egress.allowedRegion", "residency-tags.requiredTags"]
    assert disagreements(merged, derived) == []


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    program = program_copy(tmp_path)
    code, _, err = cli(capsys, "policy-config", "--program", str(program), "--stack", "nowhere")
    assert code == 2 and "Pulumi.nowhere.yaml" in err
    hamar = program / "policy" / "config" / "hamar.json"
    hamar.write_text("{not json")
    before = config_file(program).read_text()
    code, _, err = cli(capsys, "policy-config", "--program", str(program), "--all")
    assert code == 2 and "hamar.json" in err and "not valid JSON" in err
    assert config_file(program).read_text() == before and hamar.read_text() == "{not json"
