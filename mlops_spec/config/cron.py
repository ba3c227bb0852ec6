"""Quartz cron, the dialect Databricks job schedules use: one parser for validation, cost and frequency.

Six or seven fields: seconds minutes hours day-of-month month day-of-week [year]. Exactly one of
day-of-month and day-of-week must be ``?``. Values, ranges (``9-17``, wrapping ``FRI-MON``), steps
(``0/15``, ``*/5``, ``10-50/10``), lists and names (``JAN``, ``MON``) are expanded; the calendar
specials ``L``, ``W``, ``#`` (last day, nearest weekday, nth weekday) fire about once a month and are
treated so. A Unix-style five-field cron is the most common mistake, so it gets its own message.

Used by config validation (``cron_problem``), the review's cost estimate (``runs_per_month``) and
the guardrails' GPU schedule check (``min_interval_seconds``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_DOM_SPECIAL = re.compile(r"L|LW|L-\d{1,2}|\d{1,2}W")
_DOW_SPECIAL = re.compile(r"L|[1-7]L|[1-7]#[1-5]|(?:SUN|MON|TUE|WED|THU|FRI|SAT)(?:L|#[1-5])")
DAY = 86_400
MIN_DAYS_BETWEEN_MONTHLY = 28  # L, W and # fire once a month: at least 28 days apart


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    special: re.Pattern[str] | None = None
    first_name_value: int = 1  # JAN = 1, SUN = 1

    def value(self, token: str) -> int | None:
        if token.isdigit():
            number = int(token)
            return number if self.low <= number <= self.high else None
        upper = token.upper()
        if upper in self.names:
            return self.names.index(upper) + self.first_name_value
        return None


_FIELDS = (
    _Spec("seconds", 0, 59),
    _Spec("minutes", 0, 59),
    _Spec("hours", 0, 23),
    _Spec("day-of-month", 1, 31, special=_DOM_SPECIAL),
    _Spec("month", 1, 12, _MONTHS),
    _Spec("day-of-week", 1, 7, _DAYS, special=_DOW_SPECIAL),
    _Spec("year", 1970, 2199),
)


class CronError(ValueError):
    """Not a Quartz cron expression; the message says why."""


@dataclass(frozen=True, slots=True)
class Field:
    """The values a field matches. ``special``: a calendar token (L, W, #): about once a month.
    ``any_day``: ``?`` (the other day field decides)."""

    values: frozenset[int]
    special: bool = False
    any_day: bool = False


def _range(lo: int, hi: int, step: int, spec: _Spec) -> set[int]:
    if lo <= hi:
        return set(range(lo, hi + 1, step))
    span = list(range(lo, spec.high + 1)) + list(range(spec.low, hi + 1))  # FRI-MON wraps around
    return set(span[::step])


def _part(part: str, spec: _Spec, text: str) -> tuple[set[int], bool]:
    """(values, special) of one comma-separated part."""
    bad = CronError(
        f"field {spec.name} '{text}' is invalid (allowed {spec.low}-{spec.high}, ranges, steps, lists)"
    )
    if spec.special is not None and spec.special.fullmatch(part.upper()):
        return set(), True
    base, slash, step_text = part.partition("/")
    if slash and not (step_text.isdigit() and int(step_text) > 0):
        raise bad
    step = int(step_text) if slash else 1
    if base == "*":
        return _range(spec.low, spec.high, step, spec), False
    lo_text, dash, hi_text = base.partition("-")
    lo = spec.value(lo_text)
    hi = spec.value(hi_text) if dash else (spec.high if slash else lo)
    if lo is None or hi is None:
        raise bad
    return _range(lo, hi, step, spec), False


def _field(text: str, spec: _Spec) -> Field:
    if text == "?" and spec.special is not None:
        return Field(frozenset(), any_day=True)
    values: set[int] = set()
    special = False
    for part in text.split(","):
        found, is_special = _part(part, spec, text)
        values |= found
        special = special or is_special
    return Field(frozenset(values), special=special)


@dataclass(frozen=True, slots=True)
class QuartzCron:
    expression: str
    seconds: Field
    minutes: Field
    hours: Field
    days_of_month: Field
    months: Field
    days_of_week: Field

    def times_of_day(self) -> list[int]:
        """Seconds after midnight at which it fires, on a day it fires."""
        return sorted(
            h * 3600 + m * 60 + s
            for h in self.hours.values
            for m in self.minutes.values
            for s in self.seconds.values
        )

    def runs_per_month(self, days_per_month: float) -> float:
        """How often it fires in an average month (calendar specials count once per period)."""
        per_day = len(self.seconds.values) * len(self.minutes.values) * len(self.hours.values)
        month_share = 1.0 if self.months.special else len(self.months.values) / 12
        if self.days_of_month.any_day:
            dow = self.days_of_week
            days = 1.0 if dow.special else days_per_month * len(dow.values) / 7
        else:
            dom = self.days_of_month
            full = len(dom.values) == 31
            days = 1.0 if dom.special else days_per_month if full else float(len(dom.values))
        return per_day * days * month_share

    def _days_between_firings(self) -> int:
        """The fewest days between two firing days (1 when consecutive days can both fire)."""
        if self.days_of_month.any_day:
            field, cycle = self.days_of_week, 7
        else:
            field, cycle = self.days_of_month, MIN_DAYS_BETWEEN_MONTHLY
        if field.special or not field.values:
            return MIN_DAYS_BETWEEN_MONTHLY
        days = sorted(field.values)
        gaps = [b - a for a, b in pairwise(days)] + [days[0] + cycle - days[-1]]
        return max(1, min(gaps))

    def min_interval_seconds(self) -> int:
        """The shortest time between two consecutive firings (a lower bound across month ends)."""
        times = self.times_of_day()
        in_day = [b - a for a, b in pairwise(times)]
        across = times[0] + self._days_between_firings() * DAY - times[-1]
        return min([*in_day, across])


def parse(expression: str) -> QuartzCron:
    """Parse a Quartz cron expression; raises CronError naming the field that is wrong."""
    fields = expression.split()
    if len(fields) == 5:
        raise CronError(
            "looks like a 5-field Unix cron; Databricks uses Quartz: 'sec min hour day month weekday'"
        )
    if len(fields) not in (6, 7):
        raise CronError(f"has {len(fields)} fields; Quartz cron needs 6 or 7")
    parsed = [_field(text, spec) for text, spec in zip(fields, _FIELDS, strict=False)]
    if parsed[3].any_day == parsed[5].any_day:
        raise CronError("exactly one of day-of-month and day-of-week must be '?'")
    return QuartzCron(expression, *parsed[:6])


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a valid Quartz cron, or None when it is."""
    try:
        parse(expression)
    except CronError as exc:
        return str(exc)
    return None
