"""The command line as CI and reviewers meet it: exit codes, one-line errors, policy-config parity, packaging."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from enclave import cli
from enclave.check import parse_policy_config
from enclave.cli import UsageError, main
from enclave.harness import PROJECT_DIR

DUBLIN_CONFIG = json.loads((PROJECT_DIR / "policy/config/dublin.json").read_text())


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- robustness


def test_version_comes_from_the_project_metadata(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    version = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"enclave {version}"


def test_an_unexpected_error_is_one_line_and_exit_2(monkeypatch, capsys):
    from enclave import check

    def broken(args):
        raise KeyError("surprise")

    monkeypatch.setattr(check, "run", broken)
    code, out, err = run_main(capsys, "check", "--stack", "dublin")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: unexpected KeyError: 'surprise'"), err
    assert "--debug" in err
    code, _out, err = run_main(capsys, "check", "--stack", "dublin", "--debug")
    assert code == 2 and "Traceback (most recent call last)" in err and "KeyError: 'surprise'" in err


@pytest.mark.parametrize(
    ("argv", "content", "expected"),
    [
        (
            ["check", "--stack", "dublin", "--policy-config"],
            b'{"no-egress": "advis\xe9ory"}',
            "not UTF-8 text (byte 0xe9 at line 1)",
        ),
        (["review"], b"\xff\xfe{", "not UTF-8 text"),
        (["check", "--stack", "dublin", "--policy-config"], b"{not json", "not valid JSON"),
        (["review"], b'{"steps": 3}', "'steps' must be a list"),
        (["diff", "previews/dublin.json"], b"\x00\x9f", "not UTF-8 text"),
    ],
)
def test_bad_input_files_get_clear_errors(tmp_path, capsys, argv, content, expected):
    bad = tmp_path / "input.json"
    bad.write_bytes(content)
    args = [*argv, str(bad)]
    if argv[0] == "diff":
        args = ["diff", str(PROJECT_DIR / "previews/dublin.json"), str(bad)]
    code, out, err = run_main(capsys, *args)
    assert code == 2 and out == "", err
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err, err


def test_a_directory_is_not_a_file(tmp_path, capsys):
    code, _out, err = run_main(capsys, "check", "--stack", "dublin", "--policy-config", str(tmp_path))
    assert code == 2 and "is a directory, expected a file" in err


def test_program_is_the_project_here_or_above(tmp_path, monkeypatch):
    project = tmp_path / "proj"
    (project / "sub" / "deeper").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    monkeypatch.chdir(project / "sub" / "deeper")
    assert cli.resolve_program(None) == project.resolve()
    monkeypatch.chdir(tmp_path)
    assert cli.resolve_program(None) == PROJECT_DIR, "outside a project: this checkout's own"
    with pytest.raises(UsageError, match="no Pulumi.yaml there"):
        cli.resolve_program(tmp_path)
    (tmp_path / "Pulumi.yml").write_text("name: p\nruntime: python\n")
    with pytest.raises(UsageError, match="Pulumi.yml is not read here: write the project file as Pulumi.yaml"):
        cli.resolve_program(tmp_path)


@pytest.mark.parametrize("name", ["hamar", "acme/hamar", "acme/eu-data-enclave/hamar"])
def test_a_stack_may_be_named_as_pulumi_names_it(capsys, name):
    """``pulumi -s`` takes org/stack and org/project/stack; the config file is the stack's own name's."""
    code, out, _err = run_main(capsys, "check", "--stack", name)
    assert code == 0 and out.startswith("PASS hamar: ")


@pytest.mark.parametrize("name", ["a//b", "/hamar", "a/b/c/hamar", "hamar/"])
def test_a_malformed_stack_name_is_refused(capsys, name):
    code, _out, err = run_main(capsys, "check", "--stack", name)
    assert code == 2 and err.strip() == f"error: --stack {name}: expected a stack name, org/stack or org/project/stack"


# --------------------------------------------------------------------------- policy config parity with the CLI


def parse(doc) -> dict:
    return parse_policy_config(doc if isinstance(doc, str) else json.dumps(doc), "cfg.json")


def test_string_enforcement_levels_and_the_all_key():
    doc = {**DUBLIN_CONFIG, "all": "advisory", "data-protected": "disabled"}
    doc["region-pinned"] = {**doc["region-pinned"], "enforcementLevel": "mandatory"}
    config = parse(doc)
    assert config["data-protected"]["enforcementLevel"] == "disabled", "a policy's own level wins over all"
    assert config["region-pinned"]["enforcementLevel"] == "mandatory"
    assert config["audit-on"]["enforcementLevel"] == "advisory", "all applies to the rest"
    assert config["no-egress"] == {
        "enforcementLevel": "advisory",
        "requireDnsFirewall": True,
        **DUBLIN_CONFIG["no-egress"],
    }
    assert "all" not in config
    # As in the CLI, a string level replaces the settings, and a disabled policy is still validated.
    with pytest.raises(UsageError, match="'no-egress' needs 'allowedRegion'"):
        parse({**DUBLIN_CONFIG, "no-egress": "disabled"})


def test_all_as_an_object_and_as_the_only_key(capsys):
    doc = {**DUBLIN_CONFIG, "all": {"enforcementLevel": "advisory"}}
    assert {e["enforcementLevel"] for e in parse(doc).values()} == {"advisory"}


def test_an_empty_file_is_no_config_and_the_schemas_still_apply():
    # The CLI accepts a blank file, then validates every policy's required settings.
    with pytest.raises(UsageError, match="'region-pinned' needs 'allowedRegion'"):
        parse("  \n")


def test_an_empty_file_is_accepted_by_a_pack_that_needs_no_settings():
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

    policy = ResourceValidationPolicy("free", "d.", lambda a, r: None, EnforcementLevel.ADVISORY)
    assert parse_policy_config("", "empty.json", [policy]) == {"free": {"enforcementLevel": "advisory"}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"no-egress": {"allowedRegion": 5}}, "'no-egress'.allowedRegion: 5 is not of type 'string'"),
        (
            {"residency-tags": {"requiredTags": {"enclave:site": 1}}},
            "'residency-tags'.requiredTags.enclave:site: 1 is not of type 'string'",
        ),
        ({"no-egress": 3}, "'no-egress': 3 is not a valid value; must be a string"),
        ({"no-egress": "strict"}, "'no-egress' enforcementLevel 'strict' is not a valid enforcement level"),
        ({"no-egress": {"allowedRegion": "eu-west-1", "enforcementLevel": 1}}, "must be a string"),
        ({"environments": ["prod/policy"]}, "ESC environments, which cannot be opened offline"),
    ],
)
def test_invalid_settings_name_the_policy_and_key(change, message):
    with pytest.raises(UsageError, match="^policy config cfg.json: ") as exc:
        parse({**DUBLIN_CONFIG, **change})
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_type_error_exits_2_naming_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**DUBLIN_CONFIG, "no-egress": {"allowedRegion": ["eu-west-1"]}}))
    code, out, err = run_main(capsys, "check", "--stack", "dublin", "--policy-config", str(bad))
    assert code == 2 and out == "" and "'no-egress'.allowedRegion: ['eu-west-1'] is not of type 'string'" in err


def test_schema_defaults_are_filled_in():
    from pulumi_policy import EnforcementLevel, PolicyConfigSchema, ResourceValidationPolicy

    schema = PolicyConfigSchema(properties={"limit": {"type": "integer", "default": 3}})
    policy = ResourceValidationPolicy("p", "d.", lambda a, r: None, EnforcementLevel.MANDATORY, config_schema=schema)
    assert parse_policy_config("{}", "c", [policy]) == {"p": {"enforcementLevel": "mandatory", "limit": 3}}
    assert parse_policy_config('{"p": {"limit": 9}}', "c", [policy])["p"]["limit"] == 9


# --------------------------------------------------------------------------- check: output, soft fail


def test_output_is_written_atomically_and_soft_fail_exits_0(tmp_path, capsys):
    from tests.test_check import VARIANTS, make_variant

    program = make_variant(tmp_path, VARIANTS["world-egress"][2])
    out = tmp_path / "reports" / "check.sarif"
    code, stdout, err = run_main(
        capsys, "check", "--stack", "dublin", "--program", str(program), "--format", "sarif", "--output", str(out)
    )
    assert code == 1 and stdout == "" and "FAIL, sarif report: wrote " in err
    assert json.loads(out.read_text())["version"] == "2.1.0"
    assert not [p for p in out.parent.iterdir() if p.name != "check.sarif"], "no temporary file left behind"
    code, _o, _e = run_main(capsys, "check", "--stack", "dublin", "--program", str(program), "--soft-fail")
    assert code == 0


def test_write_files_replaces_nothing_when_one_write_fails(tmp_path):
    from enclave.files import write_files

    keep = tmp_path / "a.md"
    keep.write_text("previous\n")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(UsageError, match="cannot write"):
        write_files({keep: "new\n", blocker / "b.md": "new\n"})
    assert keep.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "not-a-dir"]


# --------------------------------------------------------------------------- packaging


def test_pyproject_pins_match_requirements():
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]
    pins = {
        line.split("==")[0].lower(): line.strip()
        for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert {d.split("==")[0].lower(): d for d in project["dependencies"]} == pins
    assert project["scripts"] == {"enclave": "enclave.cli:main"}
    assert (PROJECT_DIR / "LICENSE").read_text().lstrip().startswith("Apache License\n")


def test_pip_install_gives_an_enclave_command_that_works_from_any_directory(tmp_path):
    """``pip install .`` into a fresh virtualenv; the command runs outside the checkout, on a copy of the program."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(PROJECT_DIR / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("enclave", "components", "policy"):
        shutil.copytree(PROJECT_DIR / name, src / name, ignore=ignore)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # The pinned dependencies come from the project's virtualenv; only this package is installed.
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "pulumi").is_dir())
    (site / "deps.pth").write_text(f"{deps}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", str(src)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    enclave = venv / "bin" / "enclave"
    version = subprocess.run([str(enclave), "--version"], capture_output=True, text=True, env=env, cwd="/")
    assert version.returncode == 0 and version.stdout.startswith("enclave 0."), version.stderr
    program = tmp_path / "site"
    shutil.copytree(PROJECT_DIR / "components", program / "components", ignore=ignore)
    for path in [*PROJECT_DIR.glob("Pulumi*.yaml"), PROJECT_DIR / "__main__.py"]:
        shutil.copy(path, program / path.name)
    (program / "components" / "deeper").mkdir()
    checked = subprocess.run(
        [str(enclave), "check", "--stack", "hamar"],
        capture_output=True,
        text=True,
        env=env,
        cwd=program / "components" / "deeper",
        timeout=120,
    )
    assert checked.returncode == 0 and checked.stdout.startswith("PASS hamar"), checked.stdout + checked.stderr
    lost = subprocess.run([str(enclave), "check", "--all"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert lost.returncode == 2 and "no Pulumi project in" in lost.stderr and "--program" in lost.stderr


def test_ci_examples_are_valid_and_use_the_documented_inputs():
    import yaml

    workflow = yaml.safe_load((PROJECT_DIR / ".github/workflows/residency.yml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    uses = {s.get("uses", "").split("@")[0]: s for s in steps}
    assert uses["github/codeql-action/upload-sarif"]["with"]["sarif_file"] == "reports/residency.sarif"
    pulumi = uses["pulumi/actions"]["with"]
    assert pulumi["policyPacks"] == "policy" and pulumi["policyPackConfigs"].startswith("policy/config/")
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "enclave check --all --format sarif" in runs and "enclave review" in runs
    assert "<!-- eu-data-enclave:diff -->" in runs, "the comment is found by its marker and edited in place"
    hooks = yaml.safe_load((PROJECT_DIR / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    entries = {h["id"]: h["entry"] for h in hooks}
    assert entries["residency-check"].endswith("enclave check --all")
    assert entries["previews-current"].endswith("enclave plan --check --all")
    assert entries["ruff"].endswith("ruff check")


def test_a_non_utf8_stack_file_is_named(tmp_path, capsys):
    program = tmp_path / "p"
    program.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", program / "Pulumi.yaml")
    (program / "Pulumi.dublin.yaml").write_bytes(b"config:\n  eu-data-enclave:site: caf\xe9\n")
    code, out, err = run_main(capsys, "check", "--stack", "dublin", "--program", str(program))
    assert code == 2 and out == ""
    assert (
        err
        == f"error: stack file {program / 'Pulumi.dublin.yaml'}: not UTF-8 text (byte 0xe9 at line 2); save it as UTF-8\n"
    )


@pytest.mark.parametrize(
    ("snapshot", "problem"),
    [
        ({"resources": {}}, "'resources' must be a list"),
        ({"resources": [{"urn": 1}]}, "resources[0].urn must be str"),
        ({"resources": [7]}, "resources[0] is not an object"),
    ],
)
def test_a_malformed_snapshot_is_refused_with_what_is_wrong(tmp_path, capsys, snapshot, problem):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": 1, "stack": "dublin", "config": {}, **snapshot}))
    code, out, err = run_main(capsys, "diff", str(bad), str(PROJECT_DIR / "previews/dublin.json"))
    assert code == 2 and out == "" and f"not a valid plan snapshot ({problem})" in err, err


def test_reports_list_the_exceptions_in_the_policy_config(tmp_path, capsys):
    doc = json.loads(json.dumps(DUBLIN_CONFIG))
    waiver = {
        "resource": "enclave-dublin-*",
        "reason": "migration window",
        "approver": "dpo@example.eu",
        "expires": "2099-12-31",
    }
    old = {**waiver, "resource": "legacy", "expires": "2001-01-01"}
    doc["no-egress"]["exceptions"] = [waiver, old]
    config = tmp_path / "config.json"
    config.write_text(json.dumps(doc))
    code, out, _err = run_main(capsys, "check", "--stack", "dublin", "--policy-config", str(config), "--format", "json")
    listed = json.loads(out)["exceptions"]
    assert [(x["policy"], x["resource"], x["expired"]) for x in listed] == [
        ("no-egress", "enclave-dublin-*", False),
        ("no-egress", "legacy", True),
    ]
    code, out, _err = run_main(capsys, "check", "--stack", "dublin", "--policy-config", str(config))
    assert (
        "exception: no-egress on enclave-dublin-*: migration window (approved by dpo@example.eu, expires 2099-12-31)"
        in out
    )
    assert "exception: no-egress on legacy: migration window (approved by dpo@example.eu, EXPIRED on 2001-01-01)" in out
    code, out, _err = run_main(capsys, "diff", "HEAD", ".", "--stack", "dublin", "--policy-config", str(config))
    assert "exceptions in force:" in out and "EXPIRED on 2001-01-01" in out
