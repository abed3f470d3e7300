"""Open report files in a real browser: Debian's Chromium, headless, driven by Playwright.

Playwright cannot download its own browser here (no network), so it launches the system
Chromium (``/usr/bin/chromium``, or ``$EVALKIT_CHROMIUM``); ``scripts/setup.sh`` installs the
Debian ``chromium`` package when it is missing. :class:`PageLog` records what a test asserts
on: console messages, uncaught errors and every request the page made.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")


def chromium_path() -> str | None:
    """The Chromium executable to drive, or ``None`` when there is none on this machine."""
    env = os.environ.get("EVALKIT_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageLog:
    """What happened while a page was open."""

    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Console errors and warnings, and uncaught exceptions."""
        bad = [f"{kind}: {text}" for kind, text in self.console if kind in ("error", "warning")]
        return bad + [f"uncaught: {e}" for e in self.errors]


_SHARED: list[Any] = []  # the running browser, while a session holds one


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium for the whole test session (skipped only without Chromium)."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "no Chromium on this machine: install Debian's chromium (scripts/setup.sh does) or "
            "set EVALKIT_CHROMIUM to a Chromium executable"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed; pip install -e '.[dev]'")
    # Each test module that imports this fixture gets its own session-scoped copy, and
    # Playwright's sync API allows one running instance per process: the first copy starts
    # Chromium, later ones borrow it, and the first closes it when the session ends.
    if _SHARED:
        yield _SHARED[0]
        return
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=executable, headless=True)
        _SHARED.append(instance)
        try:
            yield instance
        finally:
            _SHARED.clear()
            instance.close()


@contextmanager
def open_report(browser: Any, path: Path, **context: Any) -> Iterator[tuple[Any, PageLog]]:
    """Open ``path`` (a ``file://`` URL) in a fresh browser context; yield the page and its log.

    Any request that is not for the report file itself is recorded and aborted, so a broken
    report could not reach the network even if its policy failed.
    """
    log = PageLog()
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
    page = ctx.new_page()
    url = path.resolve().as_uri()
    page.on("console", lambda msg: log.console.append((msg.type, msg.text)))
    page.on("pageerror", lambda exc: log.errors.append(str(exc)))
    page.on("request", lambda req: log.requests.append(req.url))

    def guard(route: Any) -> None:
        if route.request.url == url:
            route.continue_()
        else:
            route.abort()

    page.route("**/*", guard)
    try:
        page.goto(url, wait_until="load")
        yield page, log
    finally:
        ctx.close()


def png_pixel_spread(png: bytes) -> tuple[float, int]:
    """The standard deviation of grey levels and the number of distinct colours of a PNG."""
    from PIL import Image, ImageStat

    image = Image.open(io.BytesIO(png)).convert("RGB")
    grey = ImageStat.Stat(image.convert("L"))
    colours = image.getcolors(maxcolors=1 << 20)
    return float(grey.stddev[0]), len(colours) if colours is not None else 1 << 20
