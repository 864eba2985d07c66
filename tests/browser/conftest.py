"""Browser fixtures: Chromium driven by Playwright against the real service.

    site                  the service under uvicorn on a free port (the test's clock,
                          the real Celery queue), its base URL; build data with
                          `client` and the factories, then browse `site`
    browser               Chromium (/usr/bin/chromium, installed by scripts/install-browser
                          when missing; the tests skip only when it cannot be installed)
    new_page(locale="en") a page in a fresh context with that locale (Accept-Language);
                          a failed test keeps a screenshot of each page in its tmp_path;
                          any Content-Security-Policy violation or uncaught script error
                          on the page fails the test
    assert_accessible(page, exclude=[...])  runs the vendored axe-core on the page and
                          fails on serious or critical violations (`exclude`: CSS selectors)

Mark browser tests `@pytest.mark.browser`; keep them few and whole-flow.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.embedded import free_port
from streamsvc.kit.clock import FixedClock
from streamsvc.web.assets import StaticAssets

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SERIOUS = ("serious", "critical")


def _chromium_available() -> bool:
    if Path(CHROMIUM).exists():
        return True
    installer = ROOT / "scripts" / "install-browser"
    result = subprocess.run([str(installer)], capture_output=True, timeout=900, check=False)
    return result.returncode == 0 and Path(CHROMIUM).exists()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    # The page fixtures look at this in their teardown to keep a screenshot.
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def site(settings: Settings, clock: FixedClock) -> Iterator[str]:
    """The service under uvicorn, on the test's clock, with its base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(settings, clock), host="127.0.0.1", port=port,
                            log_config=None, access_log=False, lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


# Package scope, not session: Playwright's sync API keeps an event loop running on
# this thread while it is open, and tests elsewhere call asyncio.run().
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not _chromium_available():
        pytest.skip("Chromium is missing and scripts/install-browser could not install it")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        # --no-sandbox: the tests may run as root in a container, where the sandbox cannot.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class PageFactory(Protocol):
    def __call__(self, locale: str = "en") -> Page: ...


@pytest.fixture
def new_page(
    browser: Browser, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[PageFactory]:
    pages: list[tuple[Page, list[str]]] = []

    def make(locale: str = "en") -> Page:
        context = browser.new_context(locale=locale)
        context.set_default_timeout(10_000)
        page = context.new_page()
        problems: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and "Content Security Policy" in message.text:
                problems.append(f"CSP: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        pages.append((page, problems))
        return page

    yield make
    failed = getattr(request.node, "report_call", None)
    for number, (page, _) in enumerate(pages):
        if failed is not None and failed.failed and not page.is_closed():
            shot = tmp_path / f"page-{number}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of {page.url}: {shot}")
        page.context.close()
    found = [problem for _, problems in pages for problem in problems]
    assert not found, "\n".join(found)


@pytest.fixture(scope="session")
def axe_url() -> str:
    # Served by the site itself: CSP allows same-origin scripts and nothing inline.
    return StaticAssets.scan().url("vendor/axe-core/axe.min.js")


@pytest.fixture
def assert_accessible(axe_url: str) -> Callable[..., None]:
    def check(page: Page, exclude: list[str] | None = None) -> None:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.add_script_tag(url=axe_url)
        options: dict[str, Any] = {"resultTypes": ["violations"]}
        context: dict[str, Any] = {"exclude": [[s] for s in exclude or []]}
        result = page.evaluate("([c, o]) => window.axe.run(c, o)", [context, options])
        serious = [v for v in result["violations"] if v["impact"] in SERIOUS]
        lines = [
            f"{v['impact']}: {v['id']}: {v['help']} ({node['target']})"
            for v in serious
            for node in v["nodes"][:5]
        ]
        assert not serious, f"axe on {page.url}:\n" + "\n".join(lines)

    return check
