"""Report output: a terminal table, JSON, and SARIF 2.1.0 for GitHub code scanning."""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Any

from infra.guardrails.model import Finding, Report, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {
    Severity.critical: "error",
    Severity.high: "error",
    Severity.medium: "warning",
    Severity.low: "note",
    Severity.info: "note",
}
TOOL_URI = "https://github.com/databricks-mlops-platform/guardrails"


def table(report: Report, fail_on: Severity) -> str:
    lines = []
    for f in report.findings:
        status = "waived" if f.waived else ("FAIL" if f.rule.severity >= fail_on else "warn")
        lines.append(f"{status:<6} {f.rule.severity.name:<8} {f.rule.id} {f.env:<7} {f.address}")
        lines.append(textwrap.indent(textwrap.fill(f.message, 104), "         "))
        for held in f.held_against:
            lines.append(textwrap.indent(textwrap.fill(f"held against: {held}", 104), "         "))
        if f.setting:
            lines.append(textwrap.indent(textwrap.fill(f"comes from: {f.setting}", 104), "         "))
        lines.append(textwrap.indent(textwrap.fill(f"fix: {f.rule.fix}", 104), "         "))
        if f.waiver:
            lines.append(f"         waived until {f.waiver.expires} by {f.waiver.owner}: {f.waiver.reason}")
    for note in report.notes:
        lines.append(f"note: {note}")
    c = report.counts()
    failing = len(report.unwaived(fail_on))
    lines.append(
        f"{c['resources']} resources in {', '.join(report.envs)}; {c['findings']} findings "
        f"({c['waived']} waived); {failing} at or above {fail_on.name}: {'FAIL' if failing else 'PASS'}"
    )
    return "\n".join(lines) + "\n"


def to_json(report: Report, fail_on: Severity) -> str:
    doc = {
        "summary": {
            **report.counts(),
            "envs": report.envs,
            "fail_on": fail_on.name,
            "failing": len(report.unwaived(fail_on)),
            "passed": report.exit_code(fail_on) == 0,
        },
        "sources": report.sources,
        "findings": [f.to_dict() for f in report.findings],
        "notes": report.notes,
    }
    return json.dumps(doc, indent=2) + "\n"


@lru_cache(maxsize=64)
def _text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _line(finding: Finding) -> int:
    """The line that declares the resource: cdk.tf.json is pretty-printed, one key per line."""
    name = finding.address.rsplit(".", 1)[-1].split(" ", 1)[0]
    needle = f'"{name}": {{'
    pos = _text(finding.source).find(needle)
    return _text(finding.source).count("\n", 0, pos) + 1 if pos >= 0 else 1


def _uri(source: str) -> str:
    path = Path(source)
    try:
        return path.resolve().relative_to(Path(os.getcwd()).resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _message(finding: Finding) -> str:
    parts = [f"[{finding.env}] {finding.message}."]
    parts += [f"Held against {held}." for held in finding.held_against]
    if finding.setting:
        parts.append(f"Comes from {finding.setting}.")
    parts.append(f"Fix: {finding.rule.fix}")
    return " ".join(parts)


def _result(finding: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    fingerprint = hashlib.sha256(f"{finding.rule.id}|{finding.env}|{finding.address}".encode()).hexdigest()[
        :32
    ]
    result: dict[str, Any] = {
        "ruleId": finding.rule.id,
        "ruleIndex": rule_index[finding.rule.id],
        "level": SARIF_LEVEL[finding.rule.severity],
        # The location names the resource (logicalLocations): the text does not repeat the address.
        "message": {"text": _message(finding)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.source)},
                    "region": {"startLine": _line(finding)},
                },
                "logicalLocations": [
                    {"fullyQualifiedName": f"{finding.env}/{finding.address}", "kind": "resource"}
                ],
            }
        ],
        "partialFingerprints": {"guardrailsFinding/v1": fingerprint},
        "properties": {"env": finding.env, "severity": finding.rule.severity.name},
    }
    if finding.construct_path:
        result["properties"]["constructPath"] = finding.construct_path
    if finding.setting:
        result["properties"]["setting"] = finding.setting
    if finding.waiver:
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{finding.waiver.reason} (owner {finding.waiver.owner}, "
                f"expires {finding.waiver.expires})",
            }
        ]
    return result


def to_sarif(report: Report, fail_on: Severity) -> str:
    rules = [
        {
            "id": r.id,
            "name": r.name,
            "shortDescription": {"text": r.title},
            "fullDescription": {"text": r.rationale},
            "help": {
                "text": f"{r.rationale}\nFix: {r.fix}",
                "markdown": f"{r.rationale}\n\n**Fix:** {r.fix}",
            },
            "defaultConfiguration": {"level": SARIF_LEVEL[r.severity]},
            "properties": {
                "severity": r.severity.name,
                "envs": list(r.envs),
                "tags": ["security", "databricks"],
            },
        }
        for r in report.rules
    ]
    rule_index = {r.id: i for i, r in enumerate(report.rules)}
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dbx-guardrails",
                        "informationUri": TOOL_URI,
                        "version": "0.1.0",
                        "rules": rules,
                    }
                },
                "results": [_result(f, rule_index) for f in report.findings],
                "invocations": [{"executionSuccessful": True, "exitCode": report.exit_code(fail_on)}],
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


RENDERERS = {"table": table, "json": to_json, "sarif": to_sarif}
