"""One step of bench/gpu/suite.sh read back: its figure line, its numbers, into `$OUT/suite.json`.

    python bench/gpu/figures.py STEP LOG RC SECONDS JSON [--command "..."]

Each benchmark prints its result in its own words; this picks the lines that carry the figure
(by pattern, per step), prints one line `== STEP: figure (rc, seconds)`, and adds the step to the
JSON file (read, updated, written whole after every step, so a suite cut short by its time limit
still leaves every finished step's figures). A step without a pattern of its own, or whose output
has none of them, keeps the last line of its output as its figure.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

NUM = r"([\d,]+(?:\.\d+)?)"


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def _all(pattern: str, text: str) -> list[tuple]:
    return [m if isinstance(m, tuple) else (m,) for m in re.findall(pattern, text, re.MULTILINE)]


def read(step: str, text: str) -> tuple[str, dict]:
    """(figure line, numbers) of one step's output."""
    values: dict = {}
    lines: list[str] = []
    if step == "tests":
        found = _all(
            r"^=*\s*((?:\d+ (?:passed|failed|skipped|errors?|deselected|xfailed|xpassed),? ?)+)", text
        )
        if found:
            summary = found[-1][0].strip().rstrip(",")
            lines.append(summary)
            values = {k: int(n) for n, k in re.findall(r"(\d+) (\w+)", summary)}
    elif step.startswith("telemetry"):
        for mode, speed in _all(rf"^\s*([\w-]+): +{NUM} samples/s", text):
            values[f"{mode}_samples_per_s"] = _num(speed)
        for ratio in _all(rf"idealoop / bare = {NUM}", text):
            values["idealoop_over_bare"] = _num(ratio[0])
        lines = [ln for ln in text.splitlines() if ln.startswith(("device ", "idealoop / bare"))]
    elif step == "gpu_fraction":
        for label, speed in _all(rf"^(1 plain process|4 plain processes|4 Ray trials @0.25): +{NUM}", text):
            values[label.replace(" ", "_").replace("@", "at")] = _num(speed)
        for ratio in _all(rf"Ray 4 / plain 4 = {NUM}", text):
            values["ray4_over_plain4"] = _num(ratio[0])
        lines = [ln for ln in text.splitlines() if ln.startswith(("device ", "Ray 4 / plain 4"))]
    elif step == "packed_seeds":
        for k, seq, procs in _all(
            rf"K=(\d+): packed / sequential = {NUM}x, packed / \d+ processes = {NUM}x", text
        ):
            values[f"K{k}"] = {"packed_over_sequential": _num(seq), "packed_over_processes": _num(procs)}
        for k, rest in _all(r"^K=(\d+): (packed [\d,]+ samples/s.*)$", text):
            for method, speed in re.findall(rf"(\w+) {NUM} samples/s", rest):
                values.setdefault(f"K{k}", {})[f"{method}_samples_per_s"] = _num(speed)
        lines = [ln for ln in text.splitlines() if re.match(r"K=\d+: packed /", ln)]
    elif step == "turnaround":
        for label, seconds in _all(r"^  (\S.*?)\s{2,}([\d.]+) s", text):
            values[label.strip()] = float(seconds)
        lines = [ln.strip() for ln in text.splitlines() if "whole loop" in ln or "verdict:" in ln]
    for found in _all(r"^figure: (\{.*\})$", text):  # a script's own figure (bench/gpu/sweep.py)
        values.update(json.loads(found[0]))
    lines += [ln for ln in text.splitlines() if ln.startswith("sweep: ")]
    if not lines:
        tail = [ln for ln in text.splitlines() if ln.strip()]
        lines = tail[-1:] or ["(no output)"]
    lines = [re.sub(r"\s{2,}", " ", ln.strip()).removeprefix(f"{step}: ") for ln in lines]
    return " | ".join(lines), values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step")
    ap.add_argument("log", type=Path)
    ap.add_argument("rc", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("json", type=Path)
    ap.add_argument("--command", default="")
    args = ap.parse_args()
    text = args.log.read_text(errors="replace") if args.log.exists() else ""
    figure, values = read(args.step, text)
    if args.rc in (124, 137):
        figure = f"TIMED OUT after {args.seconds:.0f} s; last: {figure}"
    suite = json.loads(args.json.read_text()) if args.json.exists() else {"steps": []}
    suite["steps"].append({
        "step": args.step, "rc": args.rc, "seconds": round(args.seconds, 1), "figure": figure,
        "values": values, "command": args.command, "tail": text[-3000:],
    })  # fmt: skip
    args.json.write_text(json.dumps(suite, indent=1))
    print(f"== {args.step}: {figure}  (rc {args.rc}, {args.seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
