"""``aws.iam.get_policy_document`` rendered exactly as the provider renders it, offline.

pulumi-aws answers this data source with terraform-provider-aws's
``aws_iam_policy_document`` (``internal/service/iam/policy_document_data_source.go``
and ``policy_model.go``, the 5.x/6.x code pulumi-aws 7 bridges). Residency rules
read the JSON it produces, so this reproduces it byte for byte:

* statements in order; ``effect`` defaults to ``Allow``; empty ``Sid`` omitted;
* ``actions``, ``resources`` (and the ``not_`` forms) and principal identifiers
  are sets: one item collapses to a string, several are sorted in *reverse*;
* ``&{var}`` becomes ``${var}`` in resources, principals and condition values
  (an error for version ``2008-10-17``);
* principals and conditions are sets of blocks: the provider lists them in the
  order of their schema hash codes (crc32 of the SDK's serialisation, compared
  as decimal strings); blocks of the same principal type, or the same condition
  test and variable, are merged in that order; a lone ``{"*": "*"}`` principal
  becomes ``"*"``; single condition values collapse to a string;
* ``source_policy_documents`` merge first (duplicate Sids across them are an
  error), then the statements, then ``override_policy_documents``: a statement
  with the Sid of an earlier one replaces it in place, one without a Sid is
  appended; the highest ``Version`` and the last ``Id`` win;
* JSON as Go's ``encoding/json`` writes it: two-space indent, map keys sorted,
  ``<``, ``>``, ``&`` escaped; ``id`` is the crc32 of the indented JSON.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

DEFAULT_VERSION = "2012-10-17"
VERSIONS = ("2008-10-17", "2012-10-17")


class PolicyDocumentError(ValueError):
    """The provider would refuse these arguments (its own message)."""


# --------------------------------------------------------------------------- model


@dataclass
class Principal:
    type: str
    identifiers: str | list[str]


@dataclass
class Condition:
    test: str
    variable: str
    values: str | list[str]


@dataclass
class Statement:
    sid: str = ""
    effect: str = ""
    actions: Any = None
    not_actions: Any = None
    resources: Any = None
    not_resources: Any = None
    principals: list[Principal] = field(default_factory=list)
    not_principals: list[Principal] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)


@dataclass
class Document:
    version: str = ""
    id: str = ""
    statements: list[Statement] = field(default_factory=list)

    def merge(self, new: Document) -> None:
        """``iamPolicyDoc.Merge``: adopt Id and a higher Version; replace statements by Sid, else append."""
        if new.id:
            self.id = new.id
        if new.version > self.version:
            self.version = new.version
        for stmt in new.statements:
            if stmt.sid:
                for i, existing in enumerate(self.statements):
                    if existing.sid == stmt.sid:
                        self.statements[i] = stmt
                        break
                else:
                    self.statements.append(stmt)
            else:
                self.statements.append(stmt)


# --------------------------------------------------------------------------- marshal (Go's encoding/json)


def _principals_json(principals: list[Principal]) -> Any:
    if len(principals) == 1 and principals[0].type == "*" and principals[0].identifiers in ("*", ["*"]):
        return "*"
    raw: dict[str, Any] = {}
    for p in principals:
        current = raw.get(p.type)
        if isinstance(p.identifiers, list):
            merged = [] if current is None else [current] if isinstance(current, str) else current
            merged.extend(sorted(p.identifiers, reverse=True))
            raw[p.type] = merged
        elif current is None:
            raw[p.type] = p.identifiers
        elif isinstance(current, str):
            raw[p.type] = [current, p.identifiers]
        else:
            current.append(p.identifiers)
    return {k: raw[k] for k in sorted(raw)}


def _conditions_json(conditions: list[Condition]) -> dict[str, Any]:
    raw: dict[str, dict[str, list[str]]] = {}
    for c in conditions:
        values = raw.setdefault(c.test, {}).setdefault(c.variable, [])
        values.extend(c.values if isinstance(c.values, list) else [c.values])
    return {
        test: {var: (vals[0] if len(vals) == 1 else vals) for var, vals in sorted(raw[test].items())}
        for test in sorted(raw)
    }


def _statement_json(s: Statement) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if s.sid:
        out["Sid"] = s.sid
    if s.effect:
        out["Effect"] = s.effect
    for key, value in (
        ("Action", s.actions),
        ("NotAction", s.not_actions),
        ("Resource", s.resources),
        ("NotResource", s.not_resources),
    ):
        if value is not None:
            out[key] = value
    if s.principals:
        out["Principal"] = _principals_json(s.principals)
    if s.not_principals:
        out["NotPrincipal"] = _principals_json(s.not_principals)
    if s.conditions:
        out["Condition"] = _conditions_json(s.conditions)
    return out


def _document_json(doc: Document) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if doc.version:
        out["Version"] = doc.version
    if doc.id:
        out["Id"] = doc.id
    if doc.statements:
        out["Statement"] = [_statement_json(s) for s in doc.statements]
    return out


_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_ESCAPE_RE = re.compile("[<>&\u2028\u2029]")


def go_json(value: Any, indent: bool) -> str:
    """``json.MarshalIndent(v, "", "  ")`` / ``json.Marshal(v)`` of a plain value."""
    text = json.dumps(
        value,
        ensure_ascii=False,
        indent=2 if indent else None,
        separators=(",", ": ") if indent else (",", ":"),
    )
    # These characters only ever occur inside strings, so escaping them textually is exact.
    return _GO_ESCAPE_RE.sub(lambda m: _GO_ESCAPES[m.group()], text)


# --------------------------------------------------------------------------- unmarshal (source and override documents)


def _go_type(value: Any) -> str:
    if value is None:
        return "<nil>"
    return {bool: "bool", str: "string", list: "[]interface {}", dict: "map[string]interface {}"}.get(
        type(value), "float64"
    )


def _fields(pairs: list[tuple[str, Any]], names: tuple[str, ...]) -> dict[str, Any]:
    """Go's struct decoding: exact tag match preferred, else case-insensitive; later keys win."""
    found: dict[str, Any] = {}
    lower = {n.lower(): n for n in names}
    for key, value in pairs:
        name = key if key in names else lower.get(key.lower())
        if name is not None:
            found[name] = value
    return found


def _string_field(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PolicyDocumentError(
            f"json: cannot unmarshal {_go_type(value)} into Go struct field {where} of type string"
        )
    return value


def _parse_principals(value: Any) -> list[Principal]:
    if isinstance(value, str):
        return [Principal("*", ["*"])]
    if isinstance(value, _Pairs):
        out = []
        for key, ids in value:
            if isinstance(ids, str):
                out.append(Principal(key, ids))
            elif isinstance(ids, list) and not isinstance(ids, _Pairs):
                for i, item in enumerate(ids):
                    if not isinstance(item, str):
                        raise PolicyDocumentError(
                            f"Unsupported element type {_go_type(item)} for IAMPolicyStatementPrincipalSet."
                            f"Identifiers[{i}] (principal type {key!r}): must be string"
                        )
                out.append(Principal(key, sorted(ids)))
            else:
                raise PolicyDocumentError(
                    f"Unsupported data type {_go_type(_plain(ids))} for IAMPolicyStatementPrincipalSet.Identifiers"
                )
        return out
    raise PolicyDocumentError(f"Unsupported data type {_go_type(_plain(value))} for IAMPolicyStatementPrincipalSet")


def _parse_conditions(value: Any) -> list[Condition]:
    if value is None:
        return []
    if not _is_object(value):
        raise PolicyDocumentError(
            f"json: cannot unmarshal {_go_type(_plain(value))} into Go value of type map[string]map[string]interface {{}}"
        )
    out = []
    for test, variables in value:
        if variables is None:
            continue
        if not _is_object(variables):
            raise PolicyDocumentError(
                f"json: cannot unmarshal {_go_type(_plain(variables))} into Go value of type map[string]interface {{}}"
            )
        for var, values in variables:
            if isinstance(values, str):
                out.append(Condition(test, var, [values]))
            elif isinstance(values, bool):
                out.append(Condition(test, var, "true" if values else "false"))
            elif isinstance(values, list) and not _is_object(values):
                for item in values:
                    if not isinstance(item, str):
                        # The provider's type assertion panics on this; the preview fails.
                        raise PolicyDocumentError(
                            f"condition {test} {var}: value {json.dumps(_plain(item))} is not a string "
                            "(terraform-provider-aws fails on it)"
                        )
                out.append(Condition(test, var, list(values)))
            # Numbers, null and objects are dropped by the provider's decoder.
    return out


def _is_object(value: Any) -> bool:
    return isinstance(value, _Pairs)


def _plain(value: Any) -> Any:
    """Object-pair lists back to dicts (for messages)."""
    if _is_object(value):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Pairs(list):
    """A decoded JSON object kept as its ordered (key, value) pairs, duplicates included."""


def _decode(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_Pairs)


def _interface(value: Any) -> Any:
    """A JSON value as Go's ``interface{}`` holds it, ready to marshal again."""
    if isinstance(value, _Pairs):
        return {k: _interface(v) for k, v in sorted(dict(value).items())}
    if isinstance(value, list):
        return [_interface(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)  # Go holds every JSON number as a float64 and writes 1e2 as 100
    return value


_STATEMENT_FIELDS = (
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
)


def parse_document(text: str) -> Document:
    """Decode a policy JSON into the provider's model (``json.Unmarshal`` into ``iamPolicyDoc``)."""
    try:
        data = _decode(text)
    except json.JSONDecodeError as exc:
        raise PolicyDocumentError(f"invalid JSON: {exc}") from None
    if not isinstance(data, _Pairs):
        raise PolicyDocumentError(
            f"json: cannot unmarshal {_go_type(_plain(data))} into Go value of type iam.IAMPolicyDoc"
        )
    top = _fields(data, ("Version", "Id", "Statement"))
    doc = Document(
        version=_string_field(top.get("Version"), "IAMPolicyDoc.Version") or "",
        id=_string_field(top.get("Id"), "IAMPolicyDoc.Id") or "",
    )
    statements = top.get("Statement")
    if statements is None:
        return doc
    if not isinstance(statements, list) or isinstance(statements, _Pairs):
        raise PolicyDocumentError(
            f"json: cannot unmarshal {_go_type(_plain(statements))} into Go struct field IAMPolicyDoc.Statement "
            "of type []*iam.IAMPolicyStatement"
        )
    for item in statements:
        if not isinstance(item, _Pairs):
            raise PolicyDocumentError(
                f"json: cannot unmarshal {_go_type(_plain(item))} into Go struct field IAMPolicyDoc.Statement "
                "of type iam.IAMPolicyStatement"
            )
        f = _fields(item, _STATEMENT_FIELDS)
        stmt = Statement(
            sid=_string_field(f.get("Sid"), "IAMPolicyDoc.Statement.Sid") or "",
            effect=_string_field(f.get("Effect"), "IAMPolicyDoc.Statement.Effect") or "",
            actions=_interface(f.get("Action")),
            not_actions=_interface(f.get("NotAction")),
            resources=_interface(f.get("Resource")),
            not_resources=_interface(f.get("NotResource")),
        )
        if "Principal" in f:
            stmt.principals = _parse_principals(f["Principal"])
        if "NotPrincipal" in f:
            stmt.not_principals = _parse_principals(f["NotPrincipal"])
        if "Condition" in f:
            stmt.conditions = _parse_conditions(f["Condition"])
        doc.statements.append(stmt)
    return doc


# --------------------------------------------------------------------------- the data source


def _hash_code(serialised: str) -> str:
    """A schema.Set element's code: crc32 of its serialisation, as a decimal string."""
    return str(zlib.crc32(serialised.encode("utf-8")))


def _set_list(items: list, serialise) -> list:
    """``schema.Set.List()``: duplicates dropped (first kept), ordered by code compared as strings."""
    by_code: dict[str, Any] = {}
    for item in items:
        by_code.setdefault(_hash_code(serialise(item)), item)
    return [by_code[c] for c in sorted(by_code)]


def _string_set(values: list[str]) -> list[str]:
    return _set_list(values, lambda v: f"{v};")


def _decode_strings(values: list[str]) -> str | list[str]:
    """``policyDecodeConfigStringList``: one item as a string, else sorted in reverse."""
    if len(values) == 1:
        return values[0]
    return sorted(values, reverse=True)


def _replace_vars(value: str | list[str], version: str) -> str | list[str]:
    items = [value] if isinstance(value, str) else value
    for item in items:
        if version == "2008-10-17" and "&{" in item:
            raise PolicyDocumentError(
                f"found &{{ sequence in ({item}), which is not supported in document version 2008-10-17"
            )
    if isinstance(value, str):
        return value.replace("&{", "${")
    return [v.replace("&{", "${") for v in value]


def _get(block: dict, camel: str) -> Any:
    """A statement argument by its Pulumi (camelCase) name, or the snake_case key a dict literal uses."""
    if camel in block:
        return block[camel]
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return block.get(snake)


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise PolicyDocumentError(f"{what}: expected a list of strings, got {value!r}")
    for item in value:
        if not isinstance(item, str):
            raise PolicyDocumentError(f"{what}: expected a list of strings, got {item!r}")
    return list(value)


def _config_principals(blocks: Any, where: str, version: str) -> list[Principal]:
    blocks = blocks or []

    def serialise(block: dict) -> str:
        ids = _string_set(_strings(_get(block, "identifiers"), f"{where}.identifiers"))
        return "identifiers:{" + "".join(f"{i};" for i in ids) + "};type:" + str(_get(block, "type") or "") + ";"

    out = []
    for block in _set_list(list(blocks), serialise):
        ids = _string_set(_strings(_get(block, "identifiers"), f"{where}.identifiers"))
        out.append(Principal(str(_get(block, "type") or ""), _replace_vars(_decode_strings(ids), version)))
    return out


def _config_conditions(blocks: Any, where: str, version: str) -> list[Condition]:
    blocks = blocks or []

    def serialise(block: dict) -> str:
        values = _strings(_get(block, "values"), f"{where}.values")
        return (
            f"test:{_get(block, 'test') or ''};values:("
            + "".join(f"{v};" for v in values)
            + f");variable:{_get(block, 'variable') or ''};"
        )

    out = []
    for block in _set_list(list(blocks), serialise):
        values = _replace_vars(_strings(_get(block, "values"), f"{where}.values"), version)
        out.append(
            Condition(
                str(_get(block, "test") or ""),
                str(_get(block, "variable") or ""),
                values[0] if len(values) == 1 else values,
            )
        )
    return out


def _config_statement(block: dict, i: int, version: str) -> Statement:
    where = f"statement.{i}"
    effect = _get(block, "effect") or "Allow"
    if effect not in ("Allow", "Deny"):
        raise PolicyDocumentError(f'expected {where}.effect to be one of ["Allow" "Deny"], got {effect}')
    stmt = Statement(sid=str(_get(block, "sid") or ""), effect=effect)
    for attr, camel in (("actions", "actions"), ("not_actions", "notActions")):
        values = _string_set(_strings(_get(block, camel), f"{where}.{camel}"))
        if values:
            setattr(stmt, attr, _decode_strings(values))
    for attr, camel in (("resources", "resources"), ("not_resources", "notResources")):
        values = _string_set(_strings(_get(block, camel), f"{where}.{camel}"))
        if values:
            setattr(stmt, attr, _replace_vars(_decode_strings(values), version))
    stmt.principals = _config_principals(_get(block, "principals"), f"{where}.principals", version)
    stmt.not_principals = _config_principals(_get(block, "notPrincipals"), f"{where}.not_principals", version)
    stmt.conditions = _config_conditions(_get(block, "conditions"), f"{where}.condition", version)
    return stmt


def _documents(args: dict, camel: str, label: str, what: str) -> list[tuple[int, Document]]:
    out = []
    for i, text in enumerate(_get(args, camel) or []):
        if text is None or text == "":
            continue  # the provider skips empty entries (its test fixture "emptyString")
        if not isinstance(text, str):
            raise PolicyDocumentError(f'"{label}.{i}": expected a JSON string, got {text!r}')
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyDocumentError(f'"{label}.{i}" contains an invalid JSON: {exc}') from None
        try:
            out.append((i, parse_document(text)))
        except PolicyDocumentError as exc:
            raise PolicyDocumentError(f"writing IAM Policy Document: merging {what} document {i}: {exc}") from None
    return out


def render(args: dict) -> dict[str, str]:
    """The data source's computed attributes (``json``, ``minifiedJson``, ``id``) for its arguments."""
    for deprecated, label in (("overrideJson", "override_json"), ("sourceJson", "source_json")):
        if _get(args, deprecated):
            raise PolicyDocumentError(f'expected "{label}" to be an empty string, got {_get(args, deprecated)!r}')
    version = _get(args, "version") or DEFAULT_VERSION
    if version not in VERSIONS:
        raise PolicyDocumentError(f'expected version to be one of ["2008-10-17" "2012-10-17"], got {version}')

    merged = Document()
    seen: set[str] = set()
    for i, source in _documents(args, "sourcePolicyDocuments", "source_policy_documents", "source"):
        for j, stmt in enumerate(source.statements):
            if stmt.sid:
                if stmt.sid in seen:
                    raise PolicyDocumentError(
                        f"writing IAM Policy Document: merging source document {i}: duplicate Sid ({stmt.sid}) in "
                        f"source_policy_documents (statement {j}). Remove the Sid or ensure Sids are unique."
                    )
                seen.add(stmt.sid)
        merged.merge(source)

    doc = Document(version=version, id=str(_get(args, "policyId") or ""))
    sids: set[str] = set()
    for i, block in enumerate(_get(args, "statements") or []):
        stmt = _config_statement(block if isinstance(block, dict) else {}, i, version)
        if stmt.sid in sids:
            raise PolicyDocumentError(
                f"writing IAM Policy Document: duplicate Sid ({stmt.sid}). Remove the Sid or ensure the Sid is unique."
            )
        if stmt.sid:
            sids.add(stmt.sid)
        doc.statements.append(stmt)
    merged.merge(doc)

    for _i, override in _documents(args, "overridePolicyDocuments", "override_policy_documents", "override"):
        merged.merge(override)

    value = _document_json(merged)
    indented = go_json(value, indent=True)
    return {"json": indented, "minifiedJson": go_json(value, indent=False), "id": str(zlib.crc32(indented.encode()))}
