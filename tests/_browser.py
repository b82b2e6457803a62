"""The browser the page tests drive (a real headless Chromium), or a skip that says how to install it."""

from __future__ import annotations

import shutil

import pytest


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium not installed (apt-get install -y chromium); the browser test needs a real browser")
