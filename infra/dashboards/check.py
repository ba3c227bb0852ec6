"""``make dashboard-check``: open the local dashboard page in headless Chromium, screenshot it, and fail
when a chart is empty or a query failed.

Chromium runs the page's own drawing code (``page.js``); the DOM it ends with (``--dump-dom``) says,
per widget, whether it was drawn and how many marks or rows it shows, and carries the error of a
failed query or drawing. Debian's ``chromium`` package provides the browser (``make
install-chromium``); nothing here downloads one.

Exit codes: 0 every widget drawn with data, 1 an empty chart, a query or drawing error, 2 no page,
3 Chromium missing or failing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from mlops_spec.exit_codes import EXIT_BAD_INPUT, EXIT_INFRA, EXIT_OK, EXIT_REFUSED

BROWSERS = ("chromium", "chromium-browser")
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # as root in CI containers; the page is a local file this repository wrote
    "--disable-gpu",
    "--hide-scrollbars",
    "--virtual-time-budget=10000",
)
TIMEOUT_S = 120


class ChromiumError(RuntimeError):
    """Chromium is not installed, or it failed to load the page."""


@dataclass
class Widget:
    name: str
    type: str
    rendered: bool = False
    points: int = 0
    errors: list[str] = field(default_factory=list)


class _DomReader(HTMLParser):
    """Widgets (``section.widget``) with their state, and the error texts inside them."""

    def __init__(self) -> None:
        super().__init__()
        self.widgets: list[Widget] = []
        self.ready = False
        self._error_depth = 0
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "body" and a.get("data-dashboard-ready") == "true":
            self.ready = True
        if tag == "section" and "widget" in classes:
            points = a.get("data-points") or "0"
            self.widgets.append(
                Widget(
                    a.get("data-widget") or "?",
                    a.get("data-type") or "?",
                    a.get("data-rendered") == "true",
                    int(points) if points.isdigit() else 0,
                )
            )
        if {"query-error", "render-error"} & set(classes) and self.widgets:
            self.widgets[-1].errors.append("")
            self._error_depth = 1
        elif self._error_depth:
            self._error_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._error_depth:
            self._error_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._error_depth and self.widgets:
            self.widgets[-1].errors[-1] += data


def read_dom(html: str) -> tuple[bool, list[Widget]]:
    reader = _DomReader()
    reader.feed(html)
    return reader.ready, reader.widgets


def problems(ready: bool, widgets: list[Widget]) -> list[str]:
    """Why the page fails the check (empty list: it passes)."""
    if not ready:
        return ["the page's script did not finish (data-dashboard-ready missing): a JavaScript error?"]
    if not widgets:
        return ["no widgets on the page"]
    out = []
    for w in widgets:
        if w.errors:
            out += [f"widget {w.name} ({w.type}): {e.strip()}" for e in w.errors]
        elif not w.rendered:
            out.append(f"widget {w.name} ({w.type}): not drawn")
        elif w.points == 0:
            out.append(f"widget {w.name} ({w.type}): empty (no rows or marks)")
    return out


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumError(
        f"none of {', '.join(BROWSERS)} on PATH; run `make install-chromium` (Debian's chromium package)"
    )


def _chromium(args: Sequence[str]) -> str:
    try:
        done = subprocess.run(
            [browser(), *FLAGS, *args], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ChromiumError(f"chromium did not finish within {TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise ChromiumError(f"chromium exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return done.stdout


def check_page(page: Path, screenshot: Path, width: int = 1400, height: int = 2200) -> list[str]:
    """Screenshot ``page`` and return what is wrong with it in the browser."""
    url = page.resolve().as_uri()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    _chromium([f"--window-size={width},{height}", f"--screenshot={screenshot.resolve()}", url])
    if not screenshot.is_file() or screenshot.stat().st_size == 0:
        raise ChromiumError(f"chromium wrote no screenshot at {screenshot}")
    ready, widgets = read_dom(_chromium(["--dump-dom", url]))
    return problems(ready, widgets)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.dashboards.check", description=__doc__)
    parser.add_argument("--page", type=Path, default=Path(".local/dev/dashboard/index.html"))
    parser.add_argument("--screenshot", type=Path, default=Path(".local/dev/dashboard/screenshot.png"))
    args = parser.parse_args(argv)
    if not args.page.is_file():
        print(f"error: {args.page}: no dashboard page; run `make demo` first", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        found = check_page(args.page, args.screenshot)
    except ChromiumError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INFRA
    print(f"screenshot: {args.screenshot}")
    if found:
        print("dashboard-check: FAIL\n" + "\n".join(f"  {p}" for p in found))
        return EXIT_REFUSED
    print("dashboard-check: PASS (every widget drawn with data, no query error)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
