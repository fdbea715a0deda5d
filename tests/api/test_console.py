"""The web console end to end in Debian's Chromium, headless, driven by Playwright:
the service runs on a loopback port; a dispatcher books a ride in the form, confirms
it, and sees it in the list and on the map (drawn from the region's own roads); a
planner books a medicine delivery by drone in the delivery form and sees it flown."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn
from services import free_port, missing

from api.app import create_app
from api.service import ServiceSetup
from api.settings import Settings
from dispatch.store import Store
from maps.region import default_region
from tests.api.conftest import drone_places

DAY = date(2026, 12, 2)
#: Chromium flags for a closed network, as root, without a GPU (software WebGL).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@contextlib.contextmanager
def _serve(setup: ServiceSetup, folder: Path) -> Iterator[tuple[str, str]]:
    """The service on a free loopback port (manual clock at 08:00) and a dispatcher key."""
    region = default_region()
    store = Store(f"sqlite:///{folder / 'hakobu.db'}")
    store.create_tenant("demo")
    key = store.create_key("demo", "dispatcher")
    app = create_app(Settings(tenant="demo", clock="manual", service_date=DAY), setup=setup,
                     store=store, region=region)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    httpx.post(f"{base}/v1/clock", json={"to": "2026-12-02T08:00:00+09:00"},
               headers={"Authorization": f"Bearer {key}"}).raise_for_status()
    yield base, key
    srv.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, service_setup: ServiceSetup
           ) -> Iterator[tuple[str, str]]:
    """The service of three minibuses."""
    with _serve(service_setup, tmp_path_factory.mktemp("console")) as got:
        yield got


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        missing("Chromium", "chromium")
    assert path is not None
    return path


@pytest.mark.slow
def test_book_confirm_and_see_it_on_the_map(server: tuple[str, str], tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    base, key = server
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/console/?key={key}&lang=en")
        page.wait_for_function("window.hakobuConsole && window.hakobuConsole.mapLoaded()",
                               timeout=60_000)
        assert page.locator("#origin option").count() >= 40  # the boarding points
        page.select_option("#origin", "stop-0")
        page.select_option("#destination", "hospital-0")
        page.fill("#time", "10:00")
        page.click("#book")
        page.wait_for_selector("#offer:not([hidden])")
        assert "10:" in page.inner_text("#offertext")  # the offered pickup window
        page.click("#confirm")
        row = page.wait_for_selector("#requests tr[data-status=assigned]", timeout=15_000)
        assert row is not None
        rid = row.get_attribute("data-id")
        assert rid is not None and rid.startswith("console-")
        page.wait_for_function(
            f"(window.hakobuConsole.mapFeatureIds() || []).includes({rid!r})", timeout=15_000)
        # the service has it too, confirmed, with the promise the form showed
        got = httpx.get(f"{base}/v1/ride-requests/{rid}",
                        headers={"Authorization": f"Bearer {key}"}).json()
        assert got["status"] == "assigned"
        assert got["offer"]["pickup_stop"] == "stop-0"
        # the planned route is drawn along the roads
        page.wait_for_function(
            "window.hakobuConsole.state.map.querySourceFeatures('fleet')"
            ".some(f => f.properties.kind === 'route')", timeout=15_000)
        page.click("#lang")
        assert page.inner_text("#book") == "空きを確認"
        page.screenshot(path=str(tmp_path / "console.png"))
        browser.close()
    assert errors == []


@pytest.mark.slow
def test_book_a_drone_delivery_in_the_form(tmp_path: Path,
                                           drone_service_setup: ServiceSetup) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    shop, near, blocked = drone_places(drone_service_setup)
    with _serve(drone_service_setup, tmp_path) as (base, key), \
            playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/console/?key={key}&lang=en")
        page.wait_for_function("window.hakobuConsole && window.hakobuConsole.mapLoaded()",
                               timeout=60_000)
        page.select_option("#shop", shop)
        page.select_option("#to", near)
        page.fill("#dtime", "11:00")
        page.select_option("#mode", "drone")
        page.click("#deliverbtn")
        row = page.wait_for_selector("#deliveries tr[data-status=assigned]", timeout=15_000)
        assert row is not None
        did = row.get_attribute("data-id")
        assert did is not None and did.startswith("console-d-")
        assert row.get_attribute("data-carrier") == page.inner_text(
            "#deliverytext").split(": ", 1)[1].split(" ")[0]
        got = httpx.get(f"{base}/v1/deliveries/{did}",
                        headers={"Authorization": f"Bearer {key}"}).json()
        assert got["mode"] == "drone" and got["carrier"].startswith(f"port-{shop}/")
        assert "2026-12-02T11:00" <= got["planned_delivery"] <= "2026-12-02T12:00:00+09:00"
        # the sortie is drawn: its flight path on the map
        page.wait_for_function(
            "window.hakobuConsole.state.map.querySourceFeatures('fleet')"
            ".some(f => f.properties.kind === 'flight')", timeout=15_000)
        # a place inside a DID cannot be flown to: the form shows the refusal
        page.select_option("#to", blocked)
        page.click("#deliverbtn")
        page.wait_for_function(
            "document.querySelector('#deliverytext').textContent.includes('no_drone')",
            timeout=15_000)
        assert page.locator("#deliveries tr[data-status=rejected]").count() == 1
        page.screenshot(path=str(tmp_path / "console-delivery.png"))
        browser.close()
    assert errors == []
