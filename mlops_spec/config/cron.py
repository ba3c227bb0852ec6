"""Quartz cron validation, the dialect Databricks job schedules use.

Seven fields at most: seconds minutes hours day-of-month month day-of-week [year]. Exactly one of
day-of-month and day-of-week must be ``?``. A Unix-style five-field cron is the most common
mistake, so it gets its own message.
"""

from __future__ import annotations

import re

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"

# (name, low, high, names allowed as values, extra tokens allowed)
_FIELDS: tuple[tuple[str, int, int, str, str], ...] = (
    ("seconds", 0, 59, "", ""),
    ("minutes", 0, 59, "", ""),
    ("hours", 0, 23, "", ""),
    ("day-of-month", 1, 31, "", r"\?|L|LW|L-\d{1,2}|\d{1,2}W"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 1, 7, _DAYS, r"\?|L|[1-7]L|[1-7]#[1-5]|(?:SUN|MON|TUE|WED|THU|FRI|SAT)(?:L|#[1-5])"),
    ("year", 1970, 2199, "", ""),
)


def _value_ok(token: str, low: int, high: int, names: str) -> bool:
    if token.isdigit():
        return low <= int(token) <= high
    return bool(names) and re.fullmatch(names, token.upper()) is not None


def _part_ok(part: str, low: int, high: int, names: str, extra: str) -> bool:
    if extra and re.fullmatch(extra, part.upper()):
        return True
    base, _, step = part.partition("/")
    if step and not (step.isdigit() and int(step) > 0):
        return False
    if base == "*":
        return True
    lo, sep, hi = base.partition("-")
    if not _value_ok(lo, low, high, names):
        return False
    return not sep or _value_ok(hi, low, high, names)


def cron_problem(expression: str) -> str | None:
    """Return why ``expression`` is not a valid Quartz cron, or None when it is."""
    fields = expression.split()
    if len(fields) == 5:
        return "looks like a 5-field Unix cron; Databricks uses Quartz: 'sec min hour day month weekday'"
    if len(fields) not in (6, 7):
        return f"has {len(fields)} fields; Quartz cron needs 6 or 7"
    for text, (name, low, high, names, extra) in zip(fields, _FIELDS, strict=False):
        for part in text.split(","):
            if not _part_ok(part, low, high, names, extra):
                return f"field {name} '{text}' is invalid (allowed {low}-{high}, ranges, steps, lists)"
    if (fields[3] == "?") == (fields[5] == "?"):
        return "exactly one of day-of-month and day-of-week must be '?'"
    return None
