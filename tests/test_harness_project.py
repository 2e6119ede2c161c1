"""``Pulumi.yaml`` and stack files read as the Pulumi CLI reads them; the process restored after each run."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
from pulumi.runtime import rpc

from enclave.harness import HarnessError, run_program
from enclave.project import SECRET_PLACEHOLDER, list_stacks, load_project, read_stack_config


def program(tmp_path: Path, pulumi_yaml: str, files: dict[str, str] | None = None, stack: str | None = None) -> Path:
    root = tmp_path / "proj"
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(textwrap.dedent(pulumi_yaml))
    for name, text in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    if stack is not None:
        (root / "Pulumi.dev.yaml").write_text(textwrap.dedent(stack))
    return root


def test_the_secret_placeholder_is_the_engines_unknown_marker():
    assert SECRET_PLACEHOLDER == rpc.UNKNOWN


# --------------------------------------------------------------------------- runtime and main


def test_runtime_as_a_mapping_with_options(tmp_path):
    root = program(tmp_path, "name: p\nruntime:\n  name: python\n  options:\n    toolchain: uv\n")
    project = load_project(root)
    assert (project.runtime, project.options) == ("python", {"toolchain": "uv"})


def test_a_missing_runtime_is_refused(tmp_path):
    with pytest.raises(HarnessError, match="missing the 'runtime'"):
        load_project(program(tmp_path, "name: p\n"))


def test_main_file_runs_in_its_directory(tmp_path):
    root = program(
        tmp_path,
        "name: p\nruntime: python\nmain: infra/app.py\n",
        {
            "infra/app.py": "import pulumi\nfrom helper import value\nwith open('data.txt') as f:\n    pulumi.export('v', value + f.read())\n",
            "infra/helper.py": "value = 'from-helper:'\n",
            "infra/data.txt": "from-file",
        },
        "config: {}\n",
    )
    run = run_program("dev", root)
    assert run.stack_outputs == {"v": "from-helper:from-file"}


@pytest.mark.parametrize(
    ("main", "message"),
    [
        ("/abs/app.py", "must be a relative path"),
        ("../elsewhere", "must be a subfolder"),
        ("nope/", "could not be read"),
    ],
)
def test_bad_main_is_refused_like_the_cli(tmp_path, main, message):
    with pytest.raises(HarnessError, match=message):
        load_project(program(tmp_path, f"name: p\nruntime: python\nmain: {main}\n"))


def test_stack_config_dir(tmp_path):
    root = program(tmp_path, "name: p\nruntime: python\nstackConfigDir: stacks\n", {"__main__.py": "import pulumi\n"})
    (root / "stacks").mkdir()
    (root / "stacks" / "Pulumi.eu.yaml").write_text("config:\n  p:x: '1'\n")
    assert list_stacks(root) == ["eu"]
    assert read_stack_config(root, "eu").values == {"p:x": "1"}
    legacy = program(tmp_path / "b", "name: p\nruntime: python\nconfig: stacks\n")
    assert load_project(legacy).stack_config_dir == (legacy / "stacks").resolve()


# --------------------------------------------------------------------------- project config


PROJECT = """\
name: shop
runtime: python
config:
  aws:region: eu-west-1
  region:
    value: eu-north-1
  size:
    type: integer
    default: 3
  tags:
    type: array
    items:
      type: string
  apiKey:
    type: string
    secret: true
"""


def test_values_defaults_and_required_keys(tmp_path):
    root = program(
        tmp_path, PROJECT, stack="config:\n  shop:tags: [a, b]\n  shop:apiKey:\n    secure: v1:xyz\n  shop:size: 5\n"
    )
    config = read_stack_config(root, "dev")
    assert config.values == {
        "aws:region": "eu-west-1",
        "shop:region": "eu-north-1",
        "shop:size": "5",
        "shop:tags": '["a", "b"]',
        "shop:apiKey": SECRET_PLACEHOLDER,
    }
    assert config.secret_keys == ["shop:apiKey"]


def test_missing_required_keys_are_listed_with_the_stack_file(tmp_path):
    root = program(tmp_path, PROJECT, stack="config: {}\n")
    with pytest.raises(HarnessError) as err:
        read_stack_config(root, "dev")
    message = str(err.value)
    assert "Pulumi.dev.yaml: Stack 'dev' is missing configuration values 'apiKey' and 'tags'" in message


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        ("config:\n  shop:tags: a\n  shop:apiKey:\n    secure: v1:x\n", "'tags' must be of type 'array<string>'"),
        (
            "config:\n  shop:tags: [a]\n  shop:size: big\n  shop:apiKey:\n    secure: v1:x\n",
            "'size' must be of type 'integer'",
        ),
        ("config:\n  shop:tags: [a]\n  shop:apiKey: plain\n", "'apiKey' must be encrypted as it's secret"),
    ],
)
def test_typed_and_secret_keys_are_checked(tmp_path, stack, message):
    root = program(tmp_path, PROJECT, stack=stack)
    with pytest.raises(HarnessError, match=message):
        read_stack_config(root, "dev")


def test_value_and_default_together_are_refused(tmp_path):
    root = program(
        tmp_path, "name: p\nruntime: python\nconfig:\n  x:\n    default: 1\n    value: 2\n", stack="config: {}\n"
    )
    with pytest.raises(HarnessError, match="cannot have both a 'default' and 'value'"):
        read_stack_config(root, "dev")


def test_nested_encrypted_values_keep_the_structure(tmp_path):
    root = program(
        tmp_path,
        "name: p\nruntime: python\n",
        stack="config:\n  p:db:\n    user: app\n    password:\n      secure: v1:abc\n",
    )
    config = read_stack_config(root, "dev")
    assert config.values["p:db"] == f'{{"user": "app", "password": "{SECRET_PLACEHOLDER}"}}'
    assert config.secret_keys == ["p:db"]


def test_a_secret_read_with_require_secret_stays_a_secret(tmp_path):
    root = program(
        tmp_path,
        "name: p\nruntime: python\n",
        {
            "__main__.py": """\
            import pulumi
            import pulumi_aws as aws

            config = pulumi.Config()
            aws.ssm.Parameter("token", type="SecureString", value=config.require_secret("token"))
            aws.ssm.Parameter("plain-read", type="String", value=config.require("token"))
            """
        },
        "config:\n  aws:region: eu-west-1\n  p:token:\n    secure: v1:abc\n",
    )
    run = run_program("dev", root)
    by_name = {r.name: r for r in run.resources}
    assert by_name["token"].inputs["value"] == rpc.UNKNOWN and by_name["token"].redacted_inputs["value"] == "[secret]"
    # The CLI marks the key secret, so even a plain read yields a secret Output in a real run;
    # here the value is the unknown marker either way, which is what the policies judge.
    assert by_name["plain-read"].inputs["value"] == rpc.UNKNOWN


# --------------------------------------------------------------------------- the process around a run


def test_the_callers_directory_path_and_modules_are_restored(tmp_path):
    import components  # this project's own package, which the program below shadows

    root = program(
        tmp_path,
        "name: p\nruntime: python\n",
        {
            "__main__.py": "import os\nimport pulumi\nimport components\npulumi.export('cwd', os.getcwd())\n"
            "pulumi.export('own', components.OWN)\n",
            "components.py": "OWN = 'the program'\n",
        },
        "config: {}\n",
    )
    cwd, path, stdout = os.getcwd(), list(sys.path), sys.stdout
    run = run_program("dev", root)
    assert run.stack_outputs == {"cwd": str(root.resolve()), "own": "the program"}
    assert (os.getcwd(), sys.path, sys.stdout) == (cwd, path, stdout)
    assert sys.modules["components"] is components


def test_the_programs_print_goes_to_stderr(tmp_path, capfd):
    root = program(
        tmp_path, "name: p\nruntime: python\n", {"__main__.py": "print('hello from the program')\n"}, "config: {}\n"
    )
    run_program("dev", root)
    out, err = capfd.readouterr()
    assert "hello from the program" not in out and "hello from the program" in err


def test_the_projects_virtualenv_supplies_packages_this_tooling_lacks(tmp_path):
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    root = program(
        tmp_path,
        "name: p\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n",
        {
            f"venv/lib/{version}/site-packages/teamlib/__init__.py": "PREFIX = 'team'\n",
            "__main__.py": "import pulumi\nimport teamlib\npulumi.export('prefix', teamlib.PREFIX)\n",
        },
        "config: {}\n",
    )
    run = run_program("dev", root)
    assert run.stack_outputs == {"prefix": "team"}
    assert any("virtualenv venv is used" in n for n in run.notes)
    assert not any("site-packages" in p and str(tmp_path) in p for p in sys.path)


def test_a_resource_made_by_library_code_is_placed_at_the_programs_call(tmp_path):
    library = tmp_path / "shared-lib"
    library.mkdir()
    (library / "teambuckets.py").write_text(
        "import pulumi_aws as aws\n\n\ndef logs_bucket(name):\n    return aws.s3.Bucket(name)\n"
    )
    root = program(
        tmp_path,
        "name: p\nruntime: python\n",
        {
            "__main__.py": f"""\
            import sys

            sys.path.append({str(library)!r})
            import teambuckets

            teambuckets.logs_bucket("logs")
            """
        },
        "config:\n  aws:region: eu-west-1\n",
    )
    (bucket,) = run_program("dev", root).resources
    # The SDK reports the library's line; the first frame inside the program is the line a reviewer changes.
    assert (bucket.source_file, bucket.source_line) == ("__main__.py", 6)
