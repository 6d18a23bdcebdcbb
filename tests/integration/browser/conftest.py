"""The real-browser harness: `coachos serve` on a loopback port over a fresh SQLite file, and Debian's Chromium.

Nothing here downloads a browser: Playwright drives the Chromium that Debian installs at /usr/bin/chromium
(`.ci/run` installs it when missing). Without it these tests skip on a developer's machine but FAIL under
CI=true. When a test fails, every page it opened is saved to test-artifacts/ as a PNG and its HTML, with the
server's log beside them.

Cookies: the app's cookies stay `Secure` (the production default). Chromium treats http://127.0.0.1 as a
secure context and keeps Secure cookies from it, so the server runs exactly as configured in production.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.integration.live import free_port, is_healthy

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts"
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET_KEY = "browser-tests-fixed-secret-key-0123456789abcdef"
#: How long a page action or assertion waits before failing (milliseconds).
ACTION_TIMEOUT_MS = 10_000
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the `browser` marker (the suite runs with --strict-markers)."""
    config.addinivalue_line(
        "markers", "browser: drives Debian's Chromium against a live server (fails, never skips, under CI=true)"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item so fixtures can tell, at teardown, whether the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(item: pytest.Item) -> bool:
    return any(r.failed for r in item.stash.get(_REPORTS, {}).values())


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: browser tests must run, not skip)")
    pytest.skip(message)


@attrs.frozen
class LiveServer:
    """A running `coachos serve`: its address, where its email and log go."""

    url: str
    mail: Path
    log: Path

    def log_tail(self, lines: int = 200) -> str:
        """The end of the server's log, for failure reports."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _coachos_command() -> list[str]:
    script = Path(sys.executable).with_name("coachos")
    return [str(script)] if script.exists() else [sys.executable, "-m", "coachos.entrypoints.cli"]


@contextmanager
def run_live_server(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """`coachos serve` on 127.0.0.1 and a free port over a fresh SQLite file in `home`, with `extra_env` set."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("COACHOS_")}
        | {
            "COACHOS_DATABASE_URL": f"sqlite:///{home / 'coachos.db'}",
            "COACHOS_EMAIL_URL": f"file://{home / 'mail'}",
            "COACHOS_SECRET_KEY": SECRET_KEY,
            "COACHOS_PUBLIC_URL": url,
            "COACHOS_WORKER_THREADS": "4",
        }
        | (extra_env or {})
    )
    server = LiveServer(url=url, mail=home / "mail", log=home / "server.log")
    # `coachos serve` refuses a schema that is behind; deploys run `coachos db upgrade` first, and so do we.
    subprocess.run([*_coachos_command(), "db", "upgrade"], cwd=home, env=env, check=True, capture_output=True)  # noqa: S603  # our own command line
    with server.log.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603  # our own command line
            [*_coachos_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not is_healthy(port):
            if proc.poll() is not None:
                pytest.fail(f"coachos serve exited with {proc.returncode}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"coachos serve did not answer /healthz within 30 s:\n{server.log_tail()}")
            time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app under hypercorn on 127.0.0.1 and a free port, on a fresh SQLite file migrated beforehand."""
    require_chromium()  # no point starting a server nobody can visit
    with run_live_server(tmp_path_factory.mktemp("live-server")) as server:
        yield server


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver (its own Node process; it downloads nothing)."""
    require_chromium()
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium with a throwaway profile."""
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
    yield launched
    launched.close()


def save_pages(name: str, server: LiveServer, *pages: Page) -> None:
    """Save each page's full-page PNG and HTML, and the server log's tail, as test-artifacts/<name>-*."""
    ARTIFACTS.mkdir(exist_ok=True)
    for i, page in enumerate(pages):
        stem = ARTIFACTS / f"{name}-{i}"
        try:
            page.screenshot(path=f"{stem}.png", full_page=True)
            Path(f"{stem}.html").write_text(f"<!-- {page.url} -->\n{page.content()}")
        except PlaywrightError as exc:  # a crashed or closed page: say so, keep saving the others
            Path(f"{stem}.txt").write_text(f"{page.url}: could not capture: {exc}")
    (ARTIFACTS / f"{name}-server.log").write_text(server.log_tail(400))


@attrs.define
class Browse:
    """Opens browser contexts (one per person: own cookies, own time zone) on the live server."""

    browser: Browser
    server: LiveServer
    contexts: list[BrowserContext] = attrs.Factory(list)
    #: Uncaught script errors and console errors (CSP refusals among them) seen on any page.
    problems: list[str] = attrs.Factory(list)

    def page(
        self,
        *,
        timezone_id: str = "America/New_York",
        viewport: dict[str, int] | None = None,
        storage_state: Any = None,
        **options: Any,
    ) -> Page:
        """A new page in a new context whose clock is in `timezone_id`; paths resolve against the server.

        `options` go to Playwright's `new_context` (e.g. `is_mobile=True`).
        """
        context = self.browser.new_context(
            base_url=self.server.url,
            timezone_id=timezone_id,
            locale="en-US",
            viewport=viewport or DESKTOP,  # type: ignore[arg-type]
            storage_state=storage_state,
            **options,
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.problems.append(f"{page.url}: uncaught {exc}"))
        page.on("console", lambda msg: self._console(page, msg))
        return page

    def _console(self, page: Page, msg: ConsoleMessage) -> None:
        # A failed fetch logs "Failed to load resource"; tests that break a request on purpose expect that.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.problems.append(f"{page.url}: console {msg.text}")

    def save_pages(self, name: str) -> None:
        """Save a full-page PNG and the HTML of every open page, and the server log, under test-artifacts/."""
        pages = [p for c in self.contexts for p in c.pages]
        save_pages(name, self.server, *pages)

    def close(self) -> None:
        """Close every context this test opened."""
        for context in self.contexts:
            context.close()
        self.contexts.clear()


@pytest.fixture
def browse(browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Browse]:
    """Opens pages for one test; if the test fails, its pages are saved to test-artifacts/."""
    opened = Browse(browser, live_server)
    yield opened
    try:
        if _failed(request.node):
            opened.save_pages(re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid))
    finally:
        opened.close()


@pytest.fixture
def page(browse: Browse) -> Page:
    """A page in a context whose clock is in New York (the coach's side)."""
    return browse.page(timezone_id="America/New_York")


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    """docs/screenshots/, where the README's pictures are written."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def sign_up(page: Page, *, slug: str, email: str, business: str = "Peak Coaching", name: str = "Alex Rivera") -> None:
    """Open an account through /signup, keeping the zone the page suggests (the browser's); ends on Today.

    The first service is the form's 60-minute "Personal training" at 85.50; hours are Monday to Friday, 09-17.
    """
    page.goto("/signup")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Business name").fill(business)
    page.get_by_label("Web address").fill(slug)
    page.get_by_label("Price").fill("85.50")
    page.get_by_role("button", name="Open my account").click()
    page.wait_for_url(re.compile(r"/today"))
    expect(page.get_by_role("heading", name=re.compile(r"^Today"))).to_be_visible()
