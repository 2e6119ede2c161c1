"""JUnit XML for test reporters (GitHub test-report actions, GitLab, Jenkins, Azure DevOps).

One ``<testsuite>`` per stack, one ``<testcase>`` per policy of the pack: it fails
(``<failure>``, listing every mandatory violation) when the policy has one, is
skipped when the policy config disables it, and carries its advisories in
``<system-out>``. Each excepted violation is a ``<testcase>`` of its own, skipped
with the exception's reason, approver and expiry, so the report shows what was
waived and by whom. The layout is the Ant/Jenkins one that common reporters read
(``testsuites`` > ``testsuite`` > ``testcase`` > ``failure``/``skipped``/``system-out``);
no timestamps, so the same check gives the same bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from enclave.check import Violation


def _describe(v: Violation) -> str:
    where = f"{v.file}:{v.line} " if v.file and v.line else ""
    return f"{where}{v.name or '(stack)'} ({v.type}) {v.urn}\n  {v.message}"


def to_junit(stacks: list[tuple[str, list[Violation]]], policies: list, levels: dict[str, str] | None = None) -> str:
    """The JUnit XML document of ``(stack, violations)`` pairs."""
    levels = levels or {}
    root = ET.Element("testsuites", name="eu-data-enclave residency policy pack")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for stack, violations in stacks:
        suite = ET.SubElement(root, "testsuite", name=f"residency.{stack}")
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        by_policy: dict[str, list[Violation]] = {}
        for v in violations:
            by_policy.setdefault(v.policy, []).append(v)
        names = [p.name for p in policies] + sorted(set(by_policy) - {p.name for p in policies})
        for name in names:
            found = by_policy.get(name, [])
            case = ET.SubElement(suite, "testcase", classname=f"residency.{stack}", name=name, time="0")
            counts["tests"] += 1
            mandatory = [v for v in found if v.enforcement == "mandatory"]
            advisory = [v for v in found if v.enforcement == "advisory"]
            if mandatory:
                counts["failures"] += 1
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=f"{len(mandatory)} mandatory violation(s) of {name}",
                    type="mandatory",
                )
                failure.text = "\n".join(_describe(v) for v in mandatory)
            elif levels.get(name) == "disabled":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message="disabled by the policy config")
            if advisory:
                out = ET.SubElement(case, "system-out")
                out.text = "advisory:\n" + "\n".join(_describe(v) for v in advisory)
            for v in found:
                if v.enforcement != "excepted":
                    continue
                why = v.exception or {}
                waived = ET.SubElement(
                    suite, "testcase", classname=f"residency.{stack}", name=f"{name} [{v.name or stack}]", time="0"
                )
                counts["tests"] += 1
                counts["skipped"] += 1
                skipped = ET.SubElement(
                    waived,
                    "skipped",
                    message=(
                        f"excepted: {why.get('reason', '?')} (approved by {why.get('approver', '?')}, "
                        f"expires {why.get('expires', '?')})"
                    ),
                )
                skipped.text = _describe(v)
        for key, n in counts.items():
            suite.set(key, str(n))
            totals[key] += n
        suite.set("errors", "0")
        suite.set("time", "0")
    for key, n in totals.items():
        root.set(key, str(n))
    root.set("errors", "0")
    root.set("time", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
