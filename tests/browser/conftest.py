"""Fixtures of the browser tests: Keycloak, both services as processes, and Debian's Chromium.

Screenshots: every step's is kept in memory and written to test-artifacts/browser/<test>/ when the
test fails, with the services' and Keycloak's logs and the last page's HTML; a passing test writes
only its last screenshot. BROWSER_TEST_SCREENSHOTS=always writes every step's, pass or fail.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.browser.stack import (
    ROOT,
    Stack,
    build_stack,
    free_port,
    in_ci,
    port_is_free,
    shop_web_redirects_to,
)
from tests.keycloak_server import Keycloak

CHROMIUM = Path(os.environ.get("BROWSER_TEST_CHROMIUM", "/usr/bin/chromium"))
# As machines/polyglot.md says Chromium runs here; without the networking switches it keeps trying
# to reach Google's hosts. Playwright gives every launch a fresh, empty profile (--user-data-dir).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
# The port the realm file's shop-web redirect URIs name (keycloak/realm-techstore.json).
REALM_SHOP_PORT = 8000
ACTION_TIMEOUT_MS = 20_000

REPORT = pytest.StashKey[dict[str, pytest.TestReport]]()


def _missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason}; `make test` installs it (scripts/system_deps.sh, requirements-dev.txt).")
    pytest.skip(reason)


@pytest.fixture(scope="package", autouse=True)
def chromium_executable() -> Path:
    """Checked before anything starts: without a browser there is nothing to test."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the Python package playwright is not installed (requirements-dev.txt)")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"{CHROMIUM} is missing (Debian package chromium)")
    return CHROMIUM


def _shop_port() -> int:
    """8000 as the realm expects, or BROWSER_TEST_SHOP_PORT, or (8000 busy) any free port."""
    if os.environ.get("BROWSER_TEST_SHOP_PORT"):
        return int(os.environ["BROWSER_TEST_SHOP_PORT"])
    return REALM_SHOP_PORT if port_is_free(REALM_SHOP_PORT) else free_port()


@pytest.fixture(scope="package")
def stack(keycloak: Keycloak, tmp_path_factory) -> Iterator[Stack]:
    """The shop and the notification service running as processes against `keycloak`."""
    shop_port = _shop_port()
    stack = build_stack(
        keycloak=keycloak,
        var_dir=tmp_path_factory.mktemp("services"),
        shop_port=shop_port,
        notifications_port=free_port(),
    )
    redirects = nullcontext() if shop_port == REALM_SHOP_PORT else shop_web_redirects_to(keycloak, stack.shop_origin)
    try:
        with redirects:
            stack.notifications.start(ready_path="/admin/login/")
            stack.shop.start(ready_path="/")
            yield stack
    finally:
        for service in stack.services():
            service.stop()


@pytest.fixture(scope="package")
def browser(chromium_executable: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_executable), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@dataclass
class Steps:
    """Names the steps of a test and keeps a screenshot of the page after each one (and at a failure)."""

    page: object
    shots: list[tuple[str, bytes]] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self.shoot(f"{name} FAILED")
            raise
        self.shoot(name)

    def shoot(self, name: str) -> None:
        from playwright.sync_api import Error

        try:
            self.shots.append((name, self.page.screenshot(full_page=True)))
        except Error as exc:  # the page or the browser is gone: say so in the artifacts
            self.shots.append((f"{name} (no screenshot: {exc.message.splitlines()[0]})", b""))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:100]


@pytest.fixture
def steps(browser, stack: Stack, keycloak: Keycloak, request) -> Iterator[Steps]:
    """A fresh browser context and page, recording failed requests and console errors of both services."""
    folder = ARTIFACTS / _slug(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    recorder = Steps(page=page)
    own_origins = (stack.shop_origin, stack.shop.url, stack.notifications.url)

    def on_response(response) -> None:
        # Neither service has a favicon: Chromium's request for one is not the page's doing.
        if response.url.endswith("/favicon.ico"):
            return
        if response.url.startswith(own_origins) and response.status >= 400:
            recorder.failed_responses.append(f"{response.status} {response.request.method} {response.url}")

    def on_console(message) -> None:
        if message.location.get("url", "").endswith("/favicon.ico"):
            return
        if message.type == "error" and page.url.startswith(own_origins):
            recorder.console_errors.append(f"{page.url}: {message.text}")

    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: recorder.console_errors.append(f"{page.url}: {error}"))
    yield recorder

    report = request.node.stash.get(REPORT, {})
    failed = any(phase.failed for phase in report.values())
    numbered = [(f"{number:02d}-{_slug(name)}", png) for number, (name, png) in enumerate(recorder.shots, start=1)]
    keep = numbered if failed or os.environ.get("BROWSER_TEST_SCREENSHOTS") == "always" else numbered[-1:]
    if keep or failed:
        folder.mkdir(parents=True, exist_ok=True)
    for name, png in keep:
        if png:
            (folder / f"{name}.png").write_bytes(png)
    if failed:
        try:
            (folder / "last-page.html").write_text(f"<!-- {page.url} -->\n{page.content()}")
        except Exception as exc:  # noqa: BLE001 - the page may be gone with the browser
            (folder / "last-page.html").write_text(f"(no page: {exc})")
        logs = [service.log_path for service in stack.services()]
        logs.append(keycloak.log_path)
        for log in logs:
            if log is not None and log.exists():
                shutil.copy(log, folder / log.name)
        print(f"\nbrowser test artifacts: {folder}")
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(REPORT, {})[report.when] = report
    return report
