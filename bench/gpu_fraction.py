"""Fractional-GPU trials: does Ray Tune's `{"gpu": 0.25}` packing cost throughput?

Same model and loop three ways, each timed over the same wall-clock window:
- 1 plain process alone on the GPU;
- 4 plain concurrent processes (no Ray);
- 4 Ray Tune trials with `tune.with_resources(..., {"gpu": 0.25})`, max_concurrent 4.
Model: a ~95k-parameter CNN on synthetic 32x32x3 batches of 256 kept on the GPU
(no data loading, so the GPU's time-slicing is what is measured). Prints aggregate
samples/s of each and the ratio Ray 4 / plain 4 (issue 4's target: >= 0.9).

Needs torch and ray[tune] (no MLflow): on the GPU machine
    python bench/gpu_fraction.py [--seconds 20]
and on a CPU, to check the script itself:
    python bench/gpu_fraction.py --smoke
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

BATCH = 256
WARMUP_S = 3.0


def build_model():
    from torch import nn

    return nn.Sequential(  # 94,538 parameters
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(128, 10),
    )  # fmt: skip


def train_window(start_at: float, seconds: float, device: str) -> dict:
    """Train until `start_at` (warm-up), then count samples until `start_at + seconds`."""
    import torch

    torch.backends.cudnn.benchmark = True
    model = build_model().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(BATCH, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (BATCH,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    while time.time() < start_at:
        step()
    sync()
    steps, t0 = 0, time.time()
    while time.time() < start_at + seconds:
        for _ in range(10):
            step()
        steps += 10
        if steps % 50 == 0:
            sync()
    sync()
    wall = time.time() - t0
    return {"samples_per_s": steps * BATCH / wall, "params": sum(p.numel() for p in model.parameters())}


def plain(n: int, seconds: float, device: str) -> list[dict]:
    start_at = time.time() + 8.0 + WARMUP_S  # process start-up (torch import, CUDA context)
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(start_at), str(seconds), device],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(n)
    ]
    return [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]


def ray_trials(n: int, fraction: float, seconds: float, device: str, num_gpus: int) -> list[dict]:
    import ray
    from ray import tune
    from ray.tune import RunConfig, TuneConfig, Tuner

    ray.init(
        address="local", num_cpus=max(n, 2), num_gpus=num_gpus, include_dashboard=False, log_to_driver=False
    )
    start_at = time.time() + 20.0 + WARMUP_S  # Ray start-up, actors, torch import, CUDA context

    def trainable(config):
        tune.report(train_window(config["start_at"], config["seconds"], config["device"]))

    resources = {"cpu": 1, "gpu": fraction} if num_gpus else {"cpu": 1}
    tuner = Tuner(
        tune.with_resources(trainable, resources),
        param_space={
            "start_at": start_at,
            "seconds": seconds,
            "device": device,
            "i": tune.grid_search(list(range(n))),
        },
        tune_config=TuneConfig(max_concurrent_trials=n),
        run_config=RunConfig(storage_path=os.path.abspath("ray_results_gpu_fraction"), verbose=0),
    )
    results = tuner.fit()
    ray.shutdown()
    late = [r for r in results if r.metrics.get("samples_per_s") is None]
    if late or results.errors:
        raise SystemExit(f"{len(results.errors)} trials failed: {results.errors[:1]}")
    return [r.metrics for r in results]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=20.0, help="timed window of each measurement")
    p.add_argument("--smoke", action="store_true", help="CPU, 2 s windows: check the script runs")
    p.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        start_at, seconds, device = args.worker
        print(json.dumps(train_window(float(start_at), float(seconds), device)))
        return
    import torch

    gpu = torch.cuda.is_available() and not args.smoke
    device, seconds = ("cuda", args.seconds) if gpu else ("cpu", 2.0 if args.smoke else args.seconds)
    name = torch.cuda.get_device_name(0) if gpu else "CPU"
    print(f"device {name}; timed window {seconds:g} s; batch {BATCH} of 3x32x32", flush=True)
    alone = plain(1, seconds, device)
    print(
        f"1 plain process:      {alone[0]['samples_per_s']:10.0f} samples/s ({alone[0]['params']} parameters)"
    )
    four = plain(4, seconds, device)
    plain4 = sum(r["samples_per_s"] for r in four)
    one = alone[0]["samples_per_s"]
    print(f"4 plain processes:    {plain4:10.0f} samples/s aggregate ({plain4 / one:.2f}x one)")
    trials = ray_trials(4, 0.25, seconds, device, num_gpus=1 if gpu else 0)
    ray4 = sum(r["samples_per_s"] for r in trials)
    print(f"4 Ray trials @0.25:   {ray4:10.0f} samples/s aggregate ({ray4 / one:.2f}x one)")
    ratio = ray4 / plain4
    print(f"Ray 4 / plain 4 = {ratio:.3f} -> target >= 0.9 {'MET' if ratio >= 0.9 else 'MISSED'}")


if __name__ == "__main__":
    main()
