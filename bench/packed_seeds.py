"""K seeds of the digits MLP: packed in one process vs one after another vs K processes.

    python bench/packed_seeds.py                     # K = 8 and 32, 5 rounds, CPU or the GPU
    python bench/packed_seeds.py --k 8 --rounds 7 --steps 100 --device cpu

The same training in three ways, samples/s (training samples of all K seeds per second
of wall time, model building excluded):
- packed: `runners/training/pack.py`'s VmapPack, one vmapped step for all K seeds;
- sequential: the K models trained one after another in this process (what running the
  seeds as separate runs costs, without each run's process start-up);
- processes: K concurrent worker processes, one seed each, started and warmed up first
  and then released together (what K trials or K `idealoop run`s at once achieve, again
  without their start-up). On a CPU each worker gets cores // K threads (at least 1),
  so K processes do not oversubscribe the cores more than they must.
Rounds alternate the order of the three (round r starts at method r mod 3), so drift of a
shared machine falls on each alike; each figure is the median over the rounds, and the
ratios are of the medians, measured in the same run. Nothing is logged to MLflow: this
measures the training the packing changes (the GPU machine has no MLflow installed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runners.tasks.base import ModelSpec  # noqa: E402
from runners.tasks.digits import build_model, make_task  # noqa: E402
from runners.training.pack import build_pack  # noqa: E402
from runners.training.seeding import pick_device, seed_everything  # noqa: E402

SPEC = ModelSpec(width=128, depth=2)  # stage_generalize's default digits MLP (~26k parameters)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _orders(n: int, k: int, steps: int, batch: int, device) -> torch.Tensor:
    """(steps, K, batch) sample indices: each seed's own shuffled order, epochs back to back."""
    per_epoch = n // batch
    out = []
    for seed in range(k):
        g = torch.Generator().manual_seed(seed)
        idx = torch.cat(
            [torch.randperm(n, generator=g)[: per_epoch * batch] for _ in range(steps // per_epoch + 1)]
        )
        out.append(idx[: steps * batch].view(steps, batch))
    return torch.stack(out, 1).to(device)


def packed(k: int, steps: int, batch: int, device: torch.device) -> float:
    task = make_task()
    x, y = task.train.x.to(device), task.train.y.to(device)
    order = _orders(len(x), k, steps, batch, device)
    pack, _, why = build_pack(
        task, SPEC, list(range(k)), device, make_opt=lambda p: torch.optim.Adam(p, lr=1e-3)
    )
    assert why is None, why
    pack.train_step(x[order[0]], y[order[0]])  # warm-up: first-call costs are no steady state
    _sync(device)
    t0 = time.perf_counter()
    for s in range(steps):
        pack.train_step(x[order[s]], y[order[s]])
    _sync(device)
    return k * steps * batch / (time.perf_counter() - t0)


def _build_one(seed: int, device) -> tuple:
    seed_everything(seed)  # as a run with this one seed builds its model
    model = build_model(SPEC).to(device)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def _train_one(seed: int, steps: int, model, opt, x, y, order) -> None:
    loss_fn = torch.nn.functional.cross_entropy
    for s in range(steps):
        idx = order[s, seed]
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()


def sequential(k: int, steps: int, batch: int, device: torch.device) -> float:
    task = make_task()
    x, y = task.train.x.to(device), task.train.y.to(device)
    order = _orders(len(x), k, steps, batch, device)
    built = [_build_one(seed, device) for seed in range(k)]  # not timed, as build_pack is not
    _train_one(0, 1, *_build_one(0, device), x, y, order)  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    for seed, (model, opt) in enumerate(built):
        _train_one(seed, steps, model, opt, x, y, order)
    _sync(device)
    return k * steps * batch / (time.perf_counter() - t0)


def worker(seed: int, k: int, steps: int, batch: int, device: torch.device) -> None:
    """One seed in its own process: warm up, say ready, wait for go, train, print its span."""
    task = make_task()
    x, y = task.train.x.to(device), task.train.y.to(device)
    order = _orders(len(x), k, steps, batch, device)
    _train_one(seed, 1, *_build_one(seed, device), x, y, order)  # warm-up
    model, opt = _build_one(seed, device)
    _sync(device)
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.time()
    _train_one(seed, steps, model, opt, x, y, order)
    _sync(device)
    print(json.dumps({"t0": t0, "t1": time.time()}), flush=True)


def processes(k: int, steps: int, batch: int, device: torch.device) -> float:
    threads = max(1, (os.cpu_count() or 1) // k) if device.type == "cpu" else 1
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, __file__, "--worker", "--k", str(k), "--steps", str(steps), "--batch", str(batch)]
    procs = [
        subprocess.Popen([*cmd, "--seed", str(s), "--device", str(device)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)
        for s in range(k)
    ]  # fmt: skip
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a worker did not start")
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        spans = [json.loads(p.stdout.readline()) for p in procs]
    finally:
        for p in procs:
            p.wait(timeout=600)
    wall = max(s["t1"] for s in spans) - min(s["t0"] for s in spans)
    return k * steps * batch / wall


METHODS = {"packed": packed, "sequential": sequential, "processes": processes}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, action="append", help="seeds (repeatable; default 8 and 32)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=60, help="training steps of each seed per measurement")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one) | cpu | cuda")
    p.add_argument(
        "--threads", type=int, default=0, help="CPU threads of packed and sequential (0: torch's default)"
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    device = pick_device(args.device)
    if args.worker:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        return worker(args.seed, args.k[0], args.steps, args.batch, device)
    if args.threads:  # on a shared, loaded machine 2 OpenMP threads can wait on each other for ms a step
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {os.cpu_count()} cores"
    name += f", {torch.get_num_threads()} threads in this process" if device.type == "cpu" else ""
    print(f"device: {device} ({name}); torch {torch.__version__}; digits MLP {SPEC}; batch {args.batch}, "
          f"{args.steps} steps a seed; {args.rounds} rounds, order rotated each round")  # fmt: skip
    names = list(METHODS)
    for k in args.k or [8, 32]:
        seen: dict[str, list[float]] = {m: [] for m in names}
        for r in range(args.rounds):
            for m in names[r % 3 :] + names[: r % 3]:
                seen[m].append(METHODS[m](k, args.steps, args.batch, device))
        med = {m: statistics.median(v) for m, v in seen.items()}
        print(
            f"K={k}: "
            + ", ".join(
                f"{m} {med[m]:,.0f} samples/s (rounds {min(seen[m]):,.0f}-{max(seen[m]):,.0f})" for m in names
            )
        )  # noqa: E501
        print(f"K={k}: packed / sequential = {med['packed'] / med['sequential']:.2f}x, "
              f"packed / {k} processes = {med['packed'] / med['processes']:.2f}x", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
