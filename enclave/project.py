"""A Pulumi project read the way the CLI reads it: ``Pulumi.yaml`` and its stack files.

What the engine would do before it starts a Python program, done offline:

* ``runtime`` (a name or ``{name, options}``): only ``python`` runs here;
* ``main`` (a file or a directory with ``__main__.py``, relative to the project
  and inside it): the program to run and its working directory;
* ``stackConfigDir`` (or ``config: <dir>``): where ``Pulumi.<stack>.yaml`` lives;
* project ``config``: plain values and ``value:`` entries apply to every stack,
  ``default:`` entries when the stack does not set the key; a key of the
  project's namespace declared with neither is *required* (the CLI's "Stack
  'dev' is missing configuration value 'x'"); typed keys are checked
  (``string``, ``integer``, ``boolean``, ``array`` with ``items``); ``secret:
  true`` keys must be encrypted in the stack file;
* stack ``config``: values as the CLI hands them to the program (strings;
  objects and lists as JSON). An encrypted ``secure:`` value (also one nested
  in an object) cannot be decrypted offline: the program gets
  ``SECRET_PLACEHOLDER``, the engine's own "unknown" marker, and the key is
  marked secret, so anything built from it is a secret and every policy that
  would need its plaintext sees an unknown value and fails closed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""What a ``secure:`` config value reads as offline: the engine's sentinel for an unknown value
(``pulumi.runtime.rpc.UNKNOWN``; a test checks they agree)."""


class HarnessError(Exception):
    """The program could not be evaluated (bad project or stack file, bad config, program error, timeout)."""

    def __init__(self, message: str, resources: list | None = None):
        super().__init__(message)
        self.resources = resources or []
        """What had been registered before the failure (a bad config must leave this empty)."""


# libyaml's parser is about 15 times faster (a run reads four files); the
# pure-Python one quotes the offending line, so it reads any file libyaml rejects.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _without_timestamps(loader: type) -> type:
    """``loader`` that keeps unquoted timestamps as their text, as the Pulumi CLI's YAML does.

    PyYAML turns ``notAfter: 2026-05-01T08:00:00Z`` into a datetime, which the
    program would never see from the real CLI (and which JSON cannot encode).
    """
    resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag != "tag:yaml.org,2002:timestamp"]
        for first, entries in loader.yaml_implicit_resolvers.items()
    }
    return type(f"{loader.__name__}KeepTimestamps", (loader,), {"yaml_implicit_resolvers": resolvers})


_FAST_LOADER = _without_timestamps(_FAST_LOADER)
_SAFE_LOADER = _without_timestamps(yaml.SafeLoader)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping, or ``HarnessError`` naming the file and what is wrong."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise HarnessError(f"{path}: no such file") from None
    try:
        data = yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        try:
            data = yaml.load(text, Loader=_SAFE_LOADER)
        except yaml.YAMLError as exc:
            raise HarnessError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a YAML mapping at the top level")
    return data


# --------------------------------------------------------------------------- Pulumi.yaml


@dataclass(frozen=True)
class Project:
    """What ``Pulumi.yaml`` says about running the program."""

    root: Path
    """The directory holding ``Pulumi.yaml``; source positions are relative to it."""
    name: str
    runtime: str
    options: dict[str, Any]
    """``runtime.options`` (``virtualenv``, ``toolchain``, ``typechecker``, ...)."""
    main: Path
    """The file the language host runs (``__main__.py`` of a ``main:`` directory)."""
    pwd: Path
    """The program's working directory: the ``main`` directory, or the directory of a ``main`` file."""
    stack_config_dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    """The ``config:`` declarations and values of ``Pulumi.yaml``."""

    @property
    def file(self) -> Path:
        return self.root / "Pulumi.yaml"


def load_project(program_dir: Path) -> Project:
    """Read ``program_dir/Pulumi.yaml``; ``HarnessError`` for anything the CLI would refuse."""
    root = Path(program_dir).resolve()
    path = root / "Pulumi.yaml"
    data = read_yaml(path)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise HarnessError(f"{path}: missing the project 'name'")
    runtime, options = _runtime(data.get("runtime"), path)
    config = data.get("config")
    config_dir = data.get("stackConfigDir")
    if isinstance(config, str):  # `config: <dir>` is the older spelling of stackConfigDir
        if config_dir is not None:
            raise HarnessError(f"{path}: Should not use both config and stackConfigDir to define the stack directory")
        config_dir, config = config, {}
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise HarnessError(f"{path}: 'config' must be a mapping of key: declaration or value")
    main, pwd = _main(root, data.get("main"), path)
    stack_dir = root / config_dir if isinstance(config_dir, str) and config_dir else root
    return Project(
        root=root,
        name=name,
        runtime=runtime,
        options=options,
        main=main,
        pwd=pwd,
        stack_config_dir=stack_dir.resolve(),
        config=config,
    )


def _runtime(value: Any, path: Path) -> tuple[str, dict[str, Any]]:
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        options = value.get("options") or {}
        if not isinstance(options, dict):
            raise HarnessError(f"{path}: runtime.options must be a mapping")
        return value["name"], options
    raise HarnessError(f"{path}: missing the 'runtime' (expected `runtime: python` or `runtime: {{name: python}}`)")


def _main(root: Path, main: Any, path: Path) -> tuple[Path, Path]:
    """The program file and working directory, as the CLI's ``getPwdMain`` picks them."""
    if main in (None, ""):
        return root / "__main__.py", root
    if not isinstance(main, str):
        raise HarnessError(f"{path}: 'main' must be a relative path")
    if Path(main).is_absolute():
        raise HarnessError(f"{path}: project 'main' must be a relative path, got {main!r}")
    target = (root / main).resolve()
    if target != root and root not in target.parents:
        raise HarnessError(f"{path}: project 'main' must be a subfolder, got {main!r}")
    if target.is_dir():
        return target / "__main__.py", target
    if target.is_file():
        return target, target.parent
    raise HarnessError(f"{path}: project 'main' could not be read: {target} does not exist")


def project_name(program_dir: Path) -> str:
    return load_project(program_dir).name


def list_stacks(program_dir: Path) -> list[str]:
    """Stacks with a ``Pulumi.<stack>.yaml`` (in ``stackConfigDir`` if set), sorted."""
    try:
        directory = load_project(program_dir).stack_config_dir
    except HarnessError:
        directory = Path(program_dir)
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in directory.glob("Pulumi.*.yaml"))


# --------------------------------------------------------------------------- stack config


@dataclass
class StackConfig:
    """The flat ``namespace:key`` config the CLI would pass for one stack."""

    values: dict[str, str]
    secret_keys: list[str]
    """Keys holding a ``secure:`` value (their value is, or contains, ``SECRET_PLACEHOLDER``)."""
    file: Path
    notes: list[str] = field(default_factory=list)


def _encode(value: Any) -> str:
    # The CLI hands structured config to the program as JSON strings, scalars as their text.
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _replace_secure(value: Any) -> tuple[Any, bool]:
    """``value`` with every ``{secure: ...}`` leaf replaced by the placeholder; whether there was one."""
    if _is_secure(value):
        return SECRET_PLACEHOLDER, True
    if isinstance(value, dict):
        found = False
        out = {}
        for k, v in value.items():
            out[k], inner = _replace_secure(v)
            found = found or inner
        return out, found
    if isinstance(value, list):
        items = [_replace_secure(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


_DECLARATION_KEYS = {"type", "description", "items", "default", "value", "secret"}


def _declaration(spec: Any) -> dict[str, Any]:
    """A project config entry as a declaration: plain values are ``{"value": ...}``."""
    if isinstance(spec, dict) and spec and set(spec) <= _DECLARATION_KEYS:
        return spec
    return {"value": spec}


def _type_name(decl: dict[str, Any]) -> str:
    kind = decl.get("type")
    if kind == "array":
        items = decl.get("items") or {}
        return f"array<{items.get('type', 'string')}>" if isinstance(items, dict) else "array"
    return str(kind)


def _matches(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, (str, int, float, bool))
    if kind == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        return isinstance(value, str) and value.strip().lstrip("+-").isdigit()
    if kind == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    return True


def _check_type(decl: dict[str, Any], value: Any) -> bool:
    kind = decl.get("type")
    if kind == "array":
        items = decl.get("items") if isinstance(decl.get("items"), dict) else {}
        item_kind = items.get("type", "string")
        if not isinstance(value, list):
            return False
        return all(_matches(item_kind, v) and not (item_kind == "string" and not isinstance(v, str)) for v in value)
    if kind in ("string", "integer", "boolean"):
        return not isinstance(value, (dict, list)) and _matches(kind, value)
    return True


def _and_list(keys: list[str]) -> str:
    quoted = [f"'{k}'" for k in keys]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def read_stack_config(program_dir: Path, stack: str) -> StackConfig:
    """The config the CLI would pass for ``stack``, checked against ``Pulumi.yaml`` as the CLI checks it."""
    project = load_project(program_dir)
    stack_file = project.stack_config_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        known = ", ".join(list_stacks(program_dir)) or "none"
        raise HarnessError(f"stack {stack!r}: {stack_file} does not exist (stacks here: {known})")
    document = read_yaml(stack_file)
    stack_config = document.get("config") or {}
    if not isinstance(stack_config, dict):
        raise HarnessError(f"{stack_file}: 'config' must be a mapping of key: value")

    def qualify(key: str) -> str:
        return key if ":" in key else f"{project.name}:{key}"

    raw: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in stack_config.items():
        if not isinstance(key, str):
            raise HarnessError(f"{stack_file}: config key {key!r} must be a string")
        full = qualify(key)
        raw[full], is_secret = _replace_secure(value)
        if is_secret:
            secret.add(full)

    missing: list[str] = []
    for key in sorted(project.config, key=str):
        decl = _declaration(project.config[key])
        full = qualify(str(key))
        if full not in raw:
            if "value" in decl or "default" in decl:
                if "value" in decl and "default" in decl:
                    raise HarnessError(
                        f"{project.file}: project config '{key}' cannot have both a 'default' and 'value' attribute"
                    )
                raw[full] = decl.get("value", decl.get("default"))
            elif full.split(":", 1)[0] == project.name:
                missing.append(str(key))
            continue
        if decl.get("secret") and full not in secret:
            raise HarnessError(
                f"{stack_file}: Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret "
                f"(set it with `pulumi config set --secret {key} ...`)"
            )
        if "type" in decl and full not in secret and not _check_type(decl, raw[full]):
            raise HarnessError(
                f"{stack_file}: Stack '{stack}' with configuration key '{key}' must be of type '{_type_name(decl)}', "
                f"got {raw[full]!r}"
            )
    if missing:
        noun = "value" if len(missing) == 1 else "values"
        raise HarnessError(
            f"{stack_file}: Stack '{stack}' is missing configuration {noun} {_and_list(missing)} "
            f"(required by {project.file}: declared without a default); set "
            + ("it" if len(missing) == 1 else "them")
            + f" with `pulumi config set <key> <value> -s {stack}`"
        )
    notes = []
    if secret:
        notes.append(
            f"encrypted config {_and_list(sorted(secret))} cannot be decrypted offline: the program saw an unknown "
            "secret, and any policy that needs its value fails closed"
        )
    if document.get("environment"):
        notes.append("the stack's ESC `environment` is not resolved offline: only its stack file's own config is used")
    values = {k: _encode(v) for k, v in raw.items() if v is not None}
    return StackConfig(values=values, secret_keys=sorted(secret), file=stack_file, notes=notes)


def load_stack_config(program_dir: Path, stack: str) -> dict[str, Any]:
    """The flat ``namespace:key`` config the CLI would pass for ``stack`` (see ``read_stack_config``)."""
    return read_stack_config(program_dir, stack).values
