"""The registry tag scheme: Unity Catalog's rules enforced before a call is made, one JSON record per
fact, and the dotted tags of the earlier release still read (Databricks, "Apply tags to Unity Catalog
securable objects": keys without ``. , - = / :``, values up to 1000 characters, 50 tags per object)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ml_jobs.errors import BadInput
from ml_jobs.registry import client as reg


def version(**tags: str) -> SimpleNamespace:
    return SimpleNamespace(tags=tags, name="c.models.m", version="3")


@pytest.mark.parametrize("key", ["validation.status", "gate-x", "a=b", "a/b", "a:b", "a,b", "", "k" * 256])
def test_fails_on_a_tag_key_unity_catalog_refuses(key: str) -> None:
    with pytest.raises(BadInput, match="not valid in Unity Catalog"):
        reg.check_tags({key: "v"})


def test_fails_on_a_value_over_1000_characters_and_on_the_51st_tag() -> None:
    with pytest.raises(BadInput, match="at most 1000"):
        reg.check_tags({"validation": "x" * 1001})
    existing = {f"t{i}": "v" for i in range(50)}
    reg.check_tags({"t0": "changed"}, existing)  # replacing a tag adds none
    with pytest.raises(BadInput, match="at most 50 tags"):
        reg.check_tags({"one_more": "v"}, existing)


def test_every_tag_key_the_jobs_write_is_valid() -> None:
    keys = [reg.TAG_DATA_TABLE, reg.TAG_DATA_VERSION, reg.TAG_CONFIG_HASH, reg.TAG_GIT_COMMIT,
            reg.TAG_IDEMPOTENCY, reg.TAG_SOURCE_RUN, *reg.RECORDS]  # fmt: skip
    reg.check_tags(dict.fromkeys(keys, "v"))


def test_a_record_is_one_compact_json_tag() -> None:
    value = reg.encode({"status": "passed", "champion_roc_auc": None, "failed": []})
    assert json.loads(value) == {"status": "passed", "failed": []} and " " not in value
    assert reg.record(version(validation=value), reg.TAG_VALIDATION) == {"status": "passed", "failed": []}
    assert reg.record(version(validation="{broken"), reg.TAG_VALIDATION)["status"] == "unreadable"


def test_legacy_dotted_tags_are_read() -> None:
    old = version(**{"data.table": "c.features.t", "data.version": "4", "approval.by": "dana",
                     "approval.at": "2025-01-01T00:00:00+00:00", "promotion.by": "ci"})  # fmt: skip
    assert reg.tag(old, reg.TAG_DATA_TABLE) == "c.features.t" and reg.tag(old, reg.TAG_DATA_VERSION) == "4"
    assert reg.record(old, reg.TAG_APPROVAL)["by"] == "dana"
    assert reg.record(old, reg.TAG_PROMOTION) == {"by": "ci", "legacy": True}
    assert reg.record(old, reg.TAG_ROLLBACK) is None


def test_a_legacy_passed_status_beside_a_failed_gate_reads_as_failed() -> None:
    torn = version(**{"validation.status": "passed", "gate.min_roc_auc": "failed", "gate.latency": "passed"})
    rec = reg.record(torn, reg.TAG_VALIDATION)
    assert rec["status"] == "failed" and rec["failed"] == ["min_roc_auc"]
    whole = version(**{"validation.status": "passed", "gate.latency": "passed"})
    assert reg.record(whole, reg.TAG_VALIDATION)["status"] == "passed"
