"""The console in a real browser: Debian's Chromium driven by its chromedriver (Selenium), and
the service running in a thread of its own, so that the test's blocking browser calls never
stall the event loop that answers them.

Without Chromium the browser tests are skipped, except under CI=true, where they fail (the
Makefile's test step installs it).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from casting.adapters.generators.offline import OfflineGenerator
from casting.domain.ports import GeneratedImage, GenerationKind, GenerationSpec
from casting.domain.values import AgeRange, Gender, ImageBytes, Traits
from casting.server.container import Container
from casting.server.main import RunningServer, running

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
CHROMIUM_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1000",
)


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a throwaway profile; nothing is downloaded to find it."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        reason = f"{' and '.join(missing)} missing: apt-get install chromium chromium-driver"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="casting-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for argument in (*CHROMIUM_ARGUMENTS, f"--user-data-dir={profile}"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """The whole page as test-artifacts/console/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(1000, min(int(height), 4000)))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
    return path


# Someone else entirely: what a drifting model draws in place of the character.
STRANGER = Traits(Gender.MALE, AgeRange.ELDERLY, hair_traits="bald", face_traits="square jaw")


@dataclass
class ScriptedGenerator:
    """The offline drawing, unless a test queued a failure for the next call; while `drifting`,
    it forgets the references and draws a stranger (which the offline judge then measures)."""

    failures: list[Exception] = field(default_factory=list)
    inner: OfflineGenerator = field(default_factory=OfflineGenerator)
    drifting: bool = False

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        if self.failures:
            raise self.failures.pop(0)
        if self.drifting:
            return await self.inner.generate(replace(spec, kind=GenerationKind.SHEET, traits=STRANGER), [])
        return await self.inner.generate(spec, references)


class ServiceThread:
    """`running(container)` on an event loop in a background thread, until closed."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self.live: RunningServer | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    def __enter__(self) -> RunningServer:
        self._thread.start()
        if not self._started.wait(60):
            raise TimeoutError("the service did not start within 60 s")
        if self._failure is not None or self.live is None:
            raise RuntimeError("the service failed to start") from self._failure
        return self.live

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            async with running(self._container) as live:
                self.live = live
                self._started.set()
                await self._stop.wait()
        except BaseException as failure:
            self._failure = failure
            raise
        finally:
            self._started.set()
