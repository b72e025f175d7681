"""A real browser for the web page's tests: Debian's Chromium, driven by Playwright (its Python API only).

`./scripts/test` installs Chromium with apt-get when it runs as root; `CHROMIUM=/path` names another build. A
missing browser fails the tests that need it, saying how to install one: they never skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from playwright.async_api import Browser, async_playwright

INSTALL = "install it: 'sudo apt-get install chromium' (./scripts/test does this when run as root), or set CHROMIUM"


def chromium_path() -> str:
    """Where Chromium is: `CHROMIUM`, else `chromium` on the PATH; fails the test, saying how to get one."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"the web page's browser tests need Chromium, and none was found: {INSTALL}", pytrace=False)
    return path


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium for the block (Playwright's own browser builds are never downloaded)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            yield browser
        finally:
            await browser.close()
