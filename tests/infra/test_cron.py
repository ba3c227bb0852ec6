"""One Quartz cron parser: validation (config), monthly runs (review cost), shortest gap (guardrails)."""

from __future__ import annotations

import pytest

from mlops_spec.config.cron import CronError, cron_problem, parse


@pytest.mark.parametrize(
    ("cron", "seconds"),
    [
        ("0 * * * * ?", 60),
        ("*/10 * * * * ?", 10),
        ("0 0/15 * * * ?", 900),
        ("0 0 */6 * * ?", 6 * 3600),
        ("0 30 2 * * ?", 86_400),
        ("0 0 9-17 ? * MON-FRI", 3600),
        ("0 0 3 ? * MON", 7 * 86_400),
        ("0 0 3 ? * MON,TUE", 86_400),
        ("0 0 0 1,15 * ?", 14 * 86_400),
        ("0 0 0 L * ?", 28 * 86_400),
        ("0 0 22-2 * * ?", 3600),  # wraps past midnight
        ("0 0 23 ? * SAT-SUN", 86_400),  # SAT, SUN: consecutive days
    ],
)
def test_shortest_gap_between_firings(cron: str, seconds: int) -> None:
    assert parse(cron).min_interval_seconds() == seconds


@pytest.mark.parametrize(
    ("cron", "runs"),
    [
        ("0 0 3 * * ?", 30.44),
        ("0 0 3 ? * MON", 30.44 / 7),
        ("0 */15 * * * ?", 96 * 30.44),
        ("0 0 9-17 ? * MON-FRI", 9 * 30.44 * 5 / 7),
        ("0 0 0 1,15 * ?", 2),
        ("0 0 0 1 1 ?", 1 / 12),
        ("0 0 0 L * ?", 1),
    ],
)
def test_runs_per_month(cron: str, runs: float) -> None:
    assert parse(cron).runs_per_month(30.44) == pytest.approx(runs)


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("0 3 * * 1", "5-field Unix cron"),
        ("0 0 25 ? * MON", "field hours '25'"),
        ("0 0 3 * * MON", "exactly one of"),
        ("0 0 3 ? * ?", "exactly one of"),
        ("? 0 3 * * ?", "field seconds '?'"),
        ("0 0/0 * * * ?", "field minutes '0/0'"),
        ("0 0 3 ? * FUNDAY", "field day-of-week"),
        ("0 0 3 1 13 ?", "field month '13'"),
        ("0 0 3 1 1 ? 1800", "field year '1800'"),
        ("", "has 0 fields"),
    ],
)
def test_invalid_crons_name_the_field(cron: str, why: str) -> None:
    assert why in (cron_problem(cron) or "")
    with pytest.raises(CronError):
        parse(cron)


@pytest.mark.parametrize(
    "cron",
    ["0 0 3 ? * MON", "0 30 2 * * ?", "0 0/15 * * * ?", "0 0 12 ? * MON-FRI", "0 0 0 L * ?", "0 0 0 ? * 6#3"],
)
def test_valid_quartz_crons(cron: str) -> None:
    assert cron_problem(cron) is None
