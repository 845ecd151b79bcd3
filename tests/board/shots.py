"""Screenshots of every board page, on the demo store plus a sweep, for people to look at.

    python -m tests.board.shots OUT_DIR [--store DIR] [--width 1400] [--height 900]

Builds (once; reused when DIR already holds it) a store the way a user would: `idealoop
demo`, a 6-trial sweep on the demo idea, an accepted outcome with hours logged. Then it
adds three people (alice, bob, carol: estimates, comments, decided ideas), serves
`idealoop board` on that store and takes, for each page (and each tab of the Idea
page), one shot of the first screen (WIDTH x HEIGHT) and one of the full height. Not a
test: the review of a page is a person looking at these PNGs (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.board.test_browser import ARGS, CHROMIUM, free_port

REPO = Path(__file__).resolve().parents[2]


def idealoop(*args: str, uri: str) -> str:
    """Run the CLI as a user would; its stdout (an id, or JSON)."""
    cmd = [sys.executable, "-m", "runners.cli", *args, "--tracking-uri", uri]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def build_store(folder: Path) -> tuple[str, dict]:
    """The demo store plus a sweep and an accepted outcome; reused if already built."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    facts_file = folder / "facts.json"
    if facts_file.exists():
        return uri, json.loads(facts_file.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    print("building the demo store (a few minutes) ...", file=sys.stderr)
    idealoop("demo", "--no-progress", uri=uri)
    ideas = json.loads(idealoop("idea", "list", "--json", uri=uri))
    demo = next(i for i in ideas if i["title"].startswith("Tune learning rate"))
    space = str(REPO / "examples" / "space.yaml")
    idealoop("tune", "--idea", demo["id"], "--space", space, "--num-samples", "6",
             "--max-iterations", "3", "--storage-path", str(folder / "ray"), uri=uri)  # fmt: skip
    idealoop("idea", "outcome", demo["id"], "--hours", "3", "--accept", uri=uri)
    decide_a_few(uri)
    facts = {"idea": demo["id"]}
    facts_file.write_text(json.dumps(facts))
    return uri, facts


PEOPLE = {  # person: likelihood said on the DECIDED ideas, then on the people's idea
    "alice": ((0.9, 0.8, 0.95), 0.85),  # sure of everything
    "bob": ((0.5, 0.4, 0.6), 0.3),  # careful
    "carol": ((0.7, 0.2, 0.8), 0.5),
}


def seed_people(uri: str, facts: dict, folder: Path) -> dict:
    """Three people on the board (once per store): each estimates and decides ideas from the CLI,
    as `idealoop idea estimate/comment --author` would, so the Idea page has three people and the
    Calibration page a person to show."""
    if "people_idea" in facts:
        return facts
    from tests.tracker.decided import decide
    from tracker.store import Store

    store = Store(project="idealoop", uri=uri)
    est = ("--hours", "4", "--complexity", "2", "--impact", "0.02", "--likelihood", "0.85")
    idea = idealoop("idea", "add", "--title", "Attention pooling head", *est, "--author", "alice",
                    "--category", "architecture", uri=uri).strip()  # fmt: skip
    idealoop("idea", "estimate", idea, "--likelihood", "0.3", "--hours", "12", "--author", "bob", uri=uri)
    idealoop("idea", "estimate", idea, "--likelihood", "0.5", "--complexity", "3", "--author", "carol",
             uri=uri)  # fmt: skip
    idealoop("idea", "comment", idea, "Tried this on CIFAR last year: *+1%*, but <b>slow</b>.",
             "--author", "bob", uri=uri)  # fmt: skip
    idealoop("idea", "comment", idea, "Worth a generalize run first.\nI can pair on it Tuesday.",
             "--author", "carol", uri=uri)  # fmt: skip
    for i, (title, _, succeeded, hours) in enumerate(DECIDED * 2):
        args = ("--hours", "2", "--complexity", "1", "--impact", "0.01", "--likelihood", "0.5")
        done = idealoop("idea", "add", "--title", f"{title} ({i})", *args, "--author", "alice",
                        "--category", ["training", "data"][i % 2], uri=uri).strip()  # fmt: skip
        for person, (said, _) in PEOPLE.items():
            idealoop("idea", "estimate", done, "--likelihood", str(said[i % 3]), "--author", person, uri=uri)
        decide(store, done, succeeded=succeeded, actual_hours=hours)
    facts = {**facts, "people_idea": idea}
    (folder / "facts.json").write_text(json.dumps(facts))
    return facts


DECIDED = [  # title, likelihood said, succeeded, hours logged: for the Calibration page
    ("Label smoothing 0.1", 0.6, True, 2.0),
    ("Mixup on digits", 0.5, False, 6.0),
    ("Cosine learning-rate decay", 0.7, True, 1.5),
]


def decide_a_few(uri: str) -> None:
    """Three ideas decided the way an accepted outcome leaves them, so calibration has data."""
    from tests.tracker.decided import decide
    from tracker.store import Store

    store = Store(project="idealoop", uri=uri)
    for title, likelihood, succeeded, hours in DECIDED:
        args = ("--hours", "2", "--complexity", "1", "--impact", "0.01", "--likelihood", str(likelihood))
        idea = idealoop("idea", "add", "--title", title, *args, uri=uri).strip()
        decide(store, idea, succeeded=succeeded, actual_hours=hours)


def serve(uri: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "runners.cli", "board", "--port", str(port), "--tracking-uri", uri]
    out = log.open("w")  # noqa: SIM115 - the server writes it until killed
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the board did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.3)


def settle(page) -> None:
    """Wait until Streamlit stops running the script and charts have drawn."""
    page.wait_for_timeout(1500)
    for _ in range(60):
        if page.locator("[data-testid='stStatusWidget']").count() == 0:
            break
        page.wait_for_timeout(500)
    page.wait_for_timeout(1500)


def shoot(page, out: Path, name: str, width: int, height: int) -> None:
    settle(page)
    page.screenshot(path=out / f"{name}.png")
    full = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section.main, body')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": width, "height": max(height, int(full) + 40)})
    settle(page)
    page.screenshot(path=out / f"{name}-full.png", full_page=True)
    page.set_viewport_size({"width": width, "height": height})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--store", type=Path, default=Path("/tmp/idealoop-shots-store"))
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    uri, facts = build_store(args.store)
    facts = seed_people(uri, facts, args.store)
    proc, url = serve(uri, args.out / "board.log")
    from playwright.sync_api import sync_playwright

    idea = facts["idea"]
    pages = [
        ("ideas", "/ideas", []),
        ("idea", f"/idea?id={idea}", []),
        ("launch", f"/launch?id={idea}", []),
        ("compare", "/compare", []),
        ("queue", "/queue", []),
        ("calibration", "/calibration", []),
        ("idea-people", f"/idea?id={facts['people_idea']}&tab=Overview&me=dave", []),
        ("calibration-alice", "/calibration?person=alice", []),
    ]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.set_default_timeout(30_000)
            for name, path, _ in pages:
                page.goto(url + path)
                shoot(page, args.out, name, args.width, args.height)
                tabs = page.get_by_role("tab")
                for i in range(tabs.count()):
                    label = tabs.nth(i).inner_text().strip().lower().replace(" ", "-")
                    tabs.nth(i).click()
                    shoot(page, args.out, f"{name}-tab-{label}", args.width, args.height)
                print(f"  {name}: {url + path}", file=sys.stderr)
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    print(f"screenshots in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
