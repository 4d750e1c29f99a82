"""Fixtures shared by the test modules: a real headless browser (Debian's chromium driven
by playwright) for the pages users open, the report and the documentation site."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def _chromium() -> str | None:
    """The system chromium; installed with apt where it is missing and this is possible
    (root on Debian), else None."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found or not shutil.which("apt-get"):
        return found
    try:
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError):
        try:
            subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, timeout=600)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "chromium"], check=True, capture_output=True, timeout=600
            )
        except (subprocess.SubprocessError, OSError):
            return None
    return shutil.which("chromium")


class Browser:
    """One headless chromium; :meth:`open` loads a local file in a new page."""

    def __init__(self, browser):
        self._browser = browser

    def open(self, path: Path) -> tuple[list, list[str], str]:
        """(each image's [complete, natural width], the console errors and warnings, page
        errors and requests beyond local files, the DOM) of the page at ``path``."""
        page = self._browser.new_page()
        problems: list[str] = []

        def console(message):
            if message.type in ("error", "warning"):
                problems.append(f"{message.type}: {message.text}")

        def request(req):
            if not req.url.startswith(("file:", "data:")):
                problems.append(f"request: {req.url}")

        page.on("console", console)
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("request", request)
        try:
            page.goto(Path(path).resolve().as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
            return images, problems, page.content()
        finally:
            page.close()


@pytest.fixture(scope="session")
def browser():
    """A real headless browser, or a skip that says what is missing."""
    playwright = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    path = _chromium()
    if path is None:
        pytest.skip("Debian's chromium is not installed and could not be installed here (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield Browser(launched)
        finally:
            launched.close()
