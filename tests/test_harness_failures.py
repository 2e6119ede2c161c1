"""Programs that cannot be evaluated: exit 2 with one line that says what, where, and how to fix it.

Each failure mode has a program in ``tests/corpus/fail-*``; the rest are built
in ``tmp_path``. The hanging ones also prove that a run stopped on timeout
leaves the process able to run the next program.
"""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest

from enclave.cli import main
from enclave.harness import HarnessError, run_program

CORPUS = Path(__file__).resolve().parent / "corpus"


def check(capsys, program: Path, *extra: str, stack: str = "dev") -> tuple[int, str, str]:
    code = main(["check", "--stack", stack, "--program", str(program), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code: int, out: str, err: str) -> str:
    assert code == 2 and out == "", out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        ("fail-runtime", ["Pulumi.yaml: runtime 'nodejs' is not supported", "runtime: python"]),
        (
            "fail-missing-config",
            [
                "requires config 'needs-config:bucketName' (__main__.py:5)",
                "Pulumi.dev.yaml does not set",
                "pulumi config set bucketName",
            ],
        ),
        (
            "fail-project-config",
            ["Pulumi.dev.yaml: Stack 'dev' is missing configuration value 'vpcCidr'", "Pulumi.yaml"],
        ),
        ("fail-helper-exception", ["the program failed: KeyError: 'owner' (naming.py:5)"]),
        ("fail-sys-exit", ["the program called sys.exit(3) (__main__.py:7)"]),
        # Raised in an apply: the program's exception and line, not the SDK's rewrapping of it.
        (
            "fail-apply-exception",
            ["the program failed: ValueError: bucket 'logs-26c32d9' has no team prefix (naming.py:3)"],
        ),
        (
            "fail-duplicate-urn",
            ["Duplicate resource URN 'urn:pulumi:dev::duplicate-urn::aws:s3/bucket:Bucket::data'", "(__main__.py:5;"],
        ),
        (
            "fail-missing-module",
            ["ModuleNotFoundError: No module named 'pulumi_gcp' (__main__.py:2)", "`pip install pulumi-gcp`"],
        ),
    ],
)
def test_failure_modes_exit_2_with_one_line(capsys, program, expected):
    line = one_error_line(*check(capsys, CORPUS / program))
    for part in expected:
        assert part in line, line


def test_a_program_that_never_finishes_is_stopped_and_its_pending_work_named(capsys):
    line = one_error_line(*check(capsys, CORPUS / "fail-never-resolves", "--timeout", "1"))
    assert "did not finish within 1 s" in line
    assert "resources not yet registered: aws:s3/bucket:Bucket 'approved'" in line
    assert "stack outputs not yet resolved: approved_name" in line
    # The process is fine afterwards: the next program runs in full.
    run = run_program("dev", CORPUS / "resource-as-string")
    assert len(run.resources) == 10


def test_a_busy_loop_is_stopped_and_located(monkeypatch, capsys):
    monkeypatch.setenv("ENCLAVE_TIMEOUT", "1")
    line = one_error_line(*check(capsys, CORPUS / "fail-busy-loop"))
    assert "did not finish within 1 s" in line and "the program was at __main__.py:" in line
    # The next program gets its own budget: ENCLAVE_TIMEOUT=1 is still set, and a loaded CI machine may need more.
    run = run_program("dev", CORPUS / "resource-as-string", timeout=30)
    assert len(run.resources) == 10


@pytest.mark.parametrize(("value", "message"), [("soon", "expected a number of seconds"), ("-1", "positive")])
def test_a_bad_timeout_setting_is_refused(monkeypatch, capsys, value, message):
    monkeypatch.setenv("ENCLAVE_TIMEOUT", value)
    line = one_error_line(*check(capsys, CORPUS / "resource-as-string"))
    assert f"ENCLAVE_TIMEOUT={value!r}" in line and message in line


def test_a_zero_timeout_argument_is_refused(capsys):
    line = one_error_line(*check(capsys, CORPUS / "resource-as-string", "--timeout", "0"))
    assert "timeout must be a positive number of seconds" in line


def test_the_failure_keeps_what_was_registered_before_it():
    with pytest.raises(HarnessError) as err:
        run_program("dev", CORPUS / "fail-sys-exit")
    assert [r.name for r in err.value.resources] == ["first"]


def test_sys_exit_zero_is_a_normal_end(tmp_path):
    program = write(tmp_path, "import sys\nimport pulumi_aws as aws\n\naws.s3.Bucket('kept')\nsys.exit(0)\n")
    assert [r.name for r in run_program("dev", program).resources] == ["kept"]


def write(tmp_path: Path, main_py: str, pulumi_yaml: str = "name: p\nruntime: python\n", stack: str = "dev") -> Path:
    program = tmp_path / "program"
    program.mkdir(exist_ok=True)
    (program / "Pulumi.yaml").write_text(textwrap.dedent(pulumi_yaml))
    (program / f"Pulumi.{stack}.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (program / "__main__.py").write_text(textwrap.dedent(main_py))
    return program


@pytest.mark.parametrize(
    ("requirements", "hint"),
    [
        # The import's distribution has another name: requirements.txt, which the CLI installs, says which.
        (
            "pulumi>=3\nacme-naming-tools==1.2  # naming helpers\n",
            "`pip install acme-naming-tools`, which requirements.txt",
        ),
        ("pulumi>=3\n", "`pip install acme_naming`, which requirements.txt does not declare"),
    ],
)
def test_a_missing_module_is_named_with_the_distribution_the_program_declares(tmp_path, requirements, hint):
    program = write(tmp_path, "import pulumi\nimport acme_naming.tags\n")
    (program / "requirements.txt").write_text(requirements)
    with pytest.raises(HarnessError, match=r"No module named 'acme_naming' \(__main__.py:2\)") as err:
        run_program("dev", program)
    assert hint in str(err.value)


def test_an_exception_in_an_apply_names_the_programs_line(tmp_path):
    program = write(
        tmp_path,
        """\
        import pulumi_aws as aws

        bucket = aws.s3.Bucket("b")
        bucket.arn.apply(lambda arn: arn.split(":")[9])
        """,
    )
    with pytest.raises(HarnessError, match=r"IndexError: list index out of range \(__main__.py:4\)"):
        run_program("dev", program)


def test_a_syntax_error_names_its_line(tmp_path):
    program = write(tmp_path, "import pulumi\n\nif True\n    pass\n")
    with pytest.raises(HarnessError, match=r"SyntaxError: .*\(__main__.py:3\)"):
        run_program("dev", program)


def test_a_prompt_fails_instead_of_waiting(tmp_path):
    program = write(tmp_path, "name = input('bucket name? ')\n")
    with pytest.raises(HarnessError, match=r"EOFError: .*\(__main__.py:1\)"):
        run_program("dev", program, timeout=5)


def test_an_encrypted_value_read_as_a_number_is_reported(tmp_path):
    program = write(tmp_path, "import pulumi\n\npulumi.Config().require_int('port')\n")
    (program / "Pulumi.dev.yaml").write_text("config:\n  p:port:\n    secure: v1:abc\n")
    with pytest.raises(HarnessError) as err:
        run_program("dev", program)
    message = str(err.value)
    assert "config 'p:port' is encrypted" in message and "as int" in message and "(__main__.py:3)" in message


def test_a_failing_invoke_is_reported_with_the_providers_reason(tmp_path):
    program = write(
        tmp_path,
        """\
        import pulumi_aws as aws

        aws.iam.get_policy_document(statements=[{"sid": "a", "actions": ["s3:*"]}, {"sid": "a", "actions": ["s3:*"]}])
        """,
    )
    with pytest.raises(HarnessError, match=r"duplicate Sid \(a\).*\(__main__.py:3\)"):
        run_program("dev", program)


def test_a_failing_output_form_invoke_names_where_the_program_called_it(tmp_path):
    # get_*_output fails later, in the SDK's frames, and the SDK sends no position with an invoke.
    program = write(
        tmp_path,
        """\
        import pulumi
        import pulumi_aws as aws

        parsed = aws.get_arn_output(arn=pulumi.Output.from_input("not-an-arn"))
        pulumi.export("account", parsed.account)
        """,
    )
    with pytest.raises(HarnessError, match=r"invoke of aws:index/getArn:getArn failed: .*\(__main__.py:4\)$"):
        run_program("dev", program)


def test_a_data_source_given_an_encrypted_value_is_explained(tmp_path):
    program = write(
        tmp_path,
        """\
        import pulumi
        import pulumi_aws as aws

        bucket = aws.s3.get_bucket(bucket=pulumi.Config().require("bucket"))
        """,
    )
    (program / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n  p:bucket:\n    secure: v1:abc\n")
    with pytest.raises(HarnessError) as err:
        run_program("dev", program)
    message = str(err.value)
    assert "the data source get_bucket (__main__.py:4) got a value that is unknown offline" in message
    assert "'p:bucket'" in message and "get_bucket_output" in message


def test_an_error_the_sdk_reraises_from_its_own_frames_keeps_the_programs_line(tmp_path):
    from enclave.harness import _where

    main_py = tmp_path / "__main__.py"
    main_py.write_text("def lookup():\n    raise TypeError('bad answer')\n")
    namespace: dict = {}
    exec(compile(main_py.read_text(), str(main_py), "exec"), namespace)
    try:
        namespace["lookup"]()
    except TypeError as exc:
        program_traceback = exc.__traceback__
    try:
        raise TypeError("bad answer")  # as wait_for_rpcs re-raises an invoke's failure
    except TypeError as again:
        assert _where(again, tmp_path.resolve()) == ""
        assert _where(again, tmp_path.resolve(), program_traceback) == "__main__.py:2"


def test_data_source_arguments_come_back_in_the_attributes_type(tmp_path):
    program = write(
        tmp_path,
        """\
        import pulumi
        import pulumi_aws as aws

        ami = aws.ec2.get_ami(most_recent="true", owners=["amazon"])
        pulumi.export("most_recent", ami.most_recent)
        """,
    )
    assert run_program("dev", program).stack_outputs == {"most_recent": True}


def test_a_remote_component_is_recorded_and_its_unseen_children_noted(tmp_path):
    # As pulumi-awsx's components register: remote=True, children built by the package's plugin.
    program = write(
        tmp_path,
        """\
        import pulumi
        import pulumi_aws as aws

        class Vpc(pulumi.ComponentResource):
            def __init__(self, name):
                super().__init__("acme:ec2:Vpc", name, {"cidrBlock": "10.0.0.0/16"}, None, remote=True)

        Vpc("net")
        aws.s3.Bucket("logs")
        """,
    )
    run = run_program("dev", program)
    assert [(r.type, r.remote) for r in run.resources] == [("acme:ec2:Vpc", True), ("aws:s3/bucket:Bucket", False)]
    assert any(
        n.startswith("1 remote component (acme:ec2:Vpc 'net'):") and "no policy checked them" in n for n in run.notes
    )
    # Offline the pack cannot see what the component builds: reviewed-types fails it closed, at its line.
    from enclave.check import evaluate, read_policy_config
    from enclave.harness import PROJECT_DIR

    config = read_policy_config(PROJECT_DIR / "policy/config/dublin.json")
    on_component = [v for v in evaluate(run, config) if v.type == "acme:ec2:Vpc"]
    assert [(v.policy, v.enforcement, v.name, v.file, v.line) for v in on_component] == [
        ("reviewed-types", "mandatory", "net", "__main__.py", 8)
    ]
    assert on_component[0].message.startswith("acme:ec2:Vpc is a remote component: ")
    assert "pulumi preview --policy-pack policy" in on_component[0].message


def test_a_signal_handler_installed_at_top_level_does_not_stop_the_program(tmp_path):
    # The language host runs the program in its main thread; here a worker thread runs it.
    program = write(
        tmp_path,
        """\
        import signal
        import pulumi_aws as aws

        previous = signal.signal(signal.SIGTERM, lambda *_: None)
        aws.s3.Bucket("b", tags={"previous": str(previous)})
        """,
    )
    real = signal.signal
    run = run_program("dev", program)
    assert run.resources[0].inputs["tags"] == {"previous": str(signal.getsignal(signal.SIGTERM))}
    assert any("SIGTERM handler (__main__.py:4)" in n for n in run.notes)
    assert signal.signal is real  # the process's own is back


def test_an_account_no_provider_names_is_noted_not_silently_invented(tmp_path):
    main_py = """\
        import pulumi
        import pulumi_aws as aws

        me = aws.get_caller_identity()
        aws.iam.Role("r", assume_role_policy=f'{{"Principal": {{"AWS": "arn:aws:iam::{me.account_id}:root"}}}}')
        """
    program = write(tmp_path, main_py)
    run = run_program("dev", program)
    assert any(n.startswith("no AWS provider names its account") and "aws:allowedAccountIds" in n for n in run.notes)
    (program / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  aws:allowedAccountIds: ['111111111111']\n"
    )
    run = run_program("dev", program)
    assert "arn:aws:iam::111111111111:root" in run.resources[0].inputs["assumeRolePolicy"]
    assert not any("names its account" in n for n in run.notes)


def test_a_missing_region_comes_from_the_environment_as_the_provider_takes_it(tmp_path, monkeypatch):
    program = write(
        tmp_path, "import pulumi\nimport pulumi_aws as aws\n\npulumi.export('r', aws.get_region().region)\n"
    )
    (program / "Pulumi.dev.yaml").write_text("config: {}\n")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    run = run_program("dev", program)
    assert run.stack_outputs["r"] == "eu-north-1" and any("AWS_DEFAULT_REGION=eu-north-1" in n for n in run.notes)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    run = run_program("dev", program)  # none at all: a real preview fails; here it is said, and unknown
    assert run.stack_outputs["r"] == "unknown-region"
    assert any("has no region" in n and "pulumi config set aws:region" in n for n in run.notes)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # pulumi-aws 6 programs: an argument and a module that pulumi-aws 7 removed.
        ('aws.ec2.Eip("eip", vpc=True)', "TypeError: Eip() got an unexpected keyword argument 'vpc' (__main__.py:3)"),
        ('aws.opsworks.Stack("s")', "AttributeError: module 'pulumi_aws' has no attribute 'opsworks' (__main__.py:3)"),
    ],
)
def test_what_the_installed_sdk_lacks_is_named_with_its_version(tmp_path, line, expected):
    from importlib.metadata import version

    program = write(tmp_path, f"import pulumi_aws as aws\n\n{line}\n")
    with pytest.raises(HarnessError) as err:
        run_program("dev", program)
    assert expected in str(err.value)
    assert f"the installed pulumi-aws {version('pulumi-aws')} has no such name or argument" in str(err.value)


def test_a_file_asset_that_is_not_there_fails_as_the_engine_fails_to_hash_it(tmp_path):
    program = write(
        tmp_path,
        """\
        import pulumi
        import pulumi_aws as aws

        site = aws.s3.Bucket("site")
        aws.s3.BucketObject("index", bucket=site.id, source=pulumi.FileAsset("www/index.html"))
        """,
    )
    with pytest.raises(
        HarnessError, match=r"'index', __main__.py:5: source: FileAsset 'www/index.html' does not exist"
    ):
        run_program("dev", program)
    (program / "www").mkdir()
    (program / "www" / "index.html").write_text("<h1>hi</h1>")  # relative to the program, as the engine reads it
    assert [r.name for r in run_program("dev", program).resources] == ["site", "index"]


def test_what_a_program_sets_in_its_environment_ends_with_it(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    program = write(tmp_path, "import os\nimport pulumi_aws as aws\n\nos.environ['AWS_REGION'] = 'us-east-1'\n")
    run_program("dev", program)
    assert "AWS_REGION" not in os.environ  # the next stack of `check --all` starts as its own process would
