"""End to end in a real browser: `idealoop board` served, Debian's chromium driving it headless.

What only a browser shows: the pages render from a live server (the Ideas page at `/` and
at `/ideas`, its table fitting 1400 px without sideways scrolling), user text stays text
(an idea titled `<img src=x onerror=alert(1)>` raises no dialog and adds no <img>),
and a stage launched from the board shows running, then passed, with no reload.
Screenshots go to IDEALOOP_SHOTS (a directory) when set, else the test's tmp dir.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.board.seed import seed_board
from tracker.estimates import Estimates
from tracker.ideas import add_idea

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
XSS = "<img src=x onerror=alert(1)>"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium is not installed (.ci/run installs it)"
)


# How far the first grid's content is wider than its viewport, in px (0: no sideways scroll).
GRID_OVERFLOW = """() => {
  const s = document.querySelector("[data-testid='stDataFrame'] .dvn-scroller");
  return s.scrollWidth - s.clientWidth;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def board(store, tmp_path):
    """The board served by `idealoop board` on a free port, on a seeded store; stopped after."""
    seeded = seed_board(store)
    seeded.ideas["xss"] = add_idea(
        store,
        XSS,
        Estimates.parse(hours=1, complexity=1, impact=0.001, likelihood=0.1),
        description="<b>x</b>",
    )
    port = free_port()
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(repo))
    cmd = [sys.executable, "-m", "runners.cli", "board", "--port", str(port), "--tracking-uri", store.uri]
    log = open(tmp_path / "board.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    tmp_path / "board.log"
                ).read_text()
                time.sleep(0.2)
        yield url, seeded
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        log.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    out = Path(os.environ.get("IDEALOOP_SHOTS", tmp_path / "shots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def open_page(page, url: str, heading: str) -> None:
    """Go to a URL and wait for its heading; the first load after a server starts can be blank."""
    for attempt in range(3):
        page.goto(url)
        try:
            page.get_by_role("heading", name=heading).first.wait_for(timeout=15_000)
            return
        except Exception:  # noqa: BLE001 - blank first render: load again
            if attempt == 2:
                raise


def test_board_in_chromium(board, shots):
    from playwright.sync_api import expect, sync_playwright

    url, seeded = board
    lr = seeded.ideas["Tune learning rate"]
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2600})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.set_default_timeout(20_000)
        expect.set_options(timeout=20_000)  # as patient as the page: a loaded machine renders slowly

        open_page(page, url, "Ideas")
        grid = page.locator("[data-testid='stDataFrame']").first
        expect(grid).to_be_visible(timeout=20_000)  # a loaded machine: the first run takes a while
        page.get_by_text("Why this rank").wait_for()
        # Every column fits 1400 px: the grid does not scroll sideways.
        assert page.evaluate(GRID_OVERFLOW) <= 1
        page.screenshot(path=shots / "ideas.png")

        # `/ideas` is the Ideas page too, inside the app's navigation (it used to be "Page not
        # found", or the bare script under Streamlit's file-name navigation: `calibration`).
        open_page(page, f"{url}/ideas", "Ideas")
        page.get_by_text("Why this rank").wait_for()
        nav = page.locator("[data-testid='stSidebarNav']")
        expect(nav.get_by_text("Calibration", exact=True)).to_have_count(1)
        expect(page.get_by_text("Page not found")).to_have_count(0)

        open_page(page, f"{url}/idea?id={lr}", "Tune learning rate")
        page.get_by_text("grads/0.weight at step 120").first.wait_for()  # flags show above the tabs
        # Curves first: per batch, val/accuracy and val/loss, val/f1_macro
        expect(page.locator("[data-testid='stVegaLiteChart']")).to_have_count(4)
        page.get_by_text("600 of 600 logged points drawn").wait_for()
        page.screenshot(path=shots / "idea.png", full_page=True)
        page.get_by_role("tab", name="Overview").click()  # switching tabs reruns, no reload
        for text in ("Stage ladder", "recorded", "failed", "not run", "Where the time goes"):
            page.get_by_text(text).first.wait_for()
        expect(page.locator("[data-testid='stVegaLiteChart']")).to_have_count(3)  # the sweep view's
        page.screenshot(path=shots / "idea-overview.png", full_page=True)

        open_page(
            page, f"{url}/idea?id={lr}&run={seeded.runs['overfit']}&tab=Histograms", "Tune learning rate"
        )
        page.get_by_text("dead_activations").first.wait_for()
        expect(page.locator("[data-testid='stVegaLiteChart']")).to_have_count(2)
        page.screenshot(path=shots / "idea-histograms.png", full_page=True)

        open_page(page, f"{url}/compare?runs={seeded.runs['overfit']},{seeded.trials[1]}", "Compare runs")
        page.get_by_text("Final metrics").wait_for()
        page.get_by_text("stopped_by_asha at iteration 2").first.wait_for(state="attached")  # a grid cell
        page.screenshot(path=shots / "compare.png")

        # User text is text: the title shows literally, no <img> from it, no dialog.
        open_page(page, f"{url}/idea?id={seeded.ideas['xss']}", XSS)
        expect(page.locator("img[src='x']")).to_have_count(0)
        page.screenshot(path=shots / "idea-xss.png")
        open_page(page, url, "Ideas")
        page.get_by_text("Why this rank").wait_for()
        expect(page.locator("img[src='x']")).to_have_count(0)

        # Launch stage_overfit and watch it pass, without reloading the page.
        open_page(page, f"{url}/launch?id={seeded.ideas['Curriculum']}&stage=overfit", "Launch a stage")
        page.get_by_role("button", name="Launch").click()
        page.get_by_text("running").first.wait_for()
        page.screenshot(path=shots / "launch-running.png")
        page.get_by_text("overfit few: passed").wait_for(timeout=90_000)
        page.get_by_text(re.compile("— done")).wait_for()  # the process exited 0
        page.screenshot(path=shots / "launch-passed.png")
        browser.close()
    assert dialogs == []
