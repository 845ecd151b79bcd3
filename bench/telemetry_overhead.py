"""What idealoop's telemetry costs a training loop: samples/s with and without it, same run.

The same stage_generalize-style loop (digits, the Trainer and fit() every stage uses),
four ways, interleaved over several rounds (median reported):
  bare-noprobe  no logging, no per-iteration val batch (the loop alone)
  bare          no logging; the method's val batch after every iteration is kept
  idealoop      full telemetry as every stage runs it: per-batch train/val losses and timings,
                histogram snapshots every --hist-every steps within the --hist-budget share of
                training time, sample PNGs and confusion matrices per epoch, into SQLite through
                the bulk SQL path from a writer thread (the default on a SQL store)
  idealoop-shipper  the same, stored by the shipper process (the default against a server)
  naive         the same per-batch metrics with a synchronous mlflow log_metric per point
Target: idealoop >= 0.95 x bare on 2 CPU cores (>= 0.97 on one GPU).

digits' training split is 1,259 samples: an epoch of ~50 ms, far shorter than any real
one, which would make the per-epoch evidence (a full val pass is in every mode; sample
grid and confusion matrix PNGs) and the writer's one-time start-up look like the cost of
training. `--tile K` repeats the training split K times so an epoch lasts seconds, as in
real work; the shipper's per-run start-up (a process importing mlflow) is also timed
alone and printed beside the ratios.

    python bench/telemetry_overhead.py [--task digits] [--epochs 3] [--tile 40] [--rounds 3] [--device auto]
    python bench/telemetry_overhead.py --task shapes --tile 2 --epochs 1   # a conv net's step
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from runners.tasks.base import ModelSpec, Split, load_task  # noqa: E402
from runners.training.fit import fit  # noqa: E402
from runners.training.trainer import Trainer, pick_device, seed_everything  # noqa: E402
from tracker.store import Store  # noqa: E402
from tracker.telemetry import NullWriter, TelemetryWriter  # noqa: E402


class NaiveWriter(NullWriter):
    """Per-point synchronous log_metric: what a tracker without batching does."""

    def __init__(self, client, run_id):
        self.client, self.run_id = client, run_id

    def log(self, key, value, step, timestamp_ms=None):
        self.client.log_metric(self.run_id, key, float(value), step=int(step))

    def log_series(self, key, values, first_step):
        for i, v in enumerate(values):
            self.log(key, v, first_step + i)

    def log_dict(self, values, step):
        for k, v in values.items():
            self.log(k, v, step)


def one_run(mode: str, store: Store, task, args) -> float:
    gen = seed_everything(0)
    device = pick_device(args.device)
    model = task.build_model(ModelSpec(width=args.width, depth=args.depth)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    run_id = store.client.create_run(store.experiment_id).info.run_id
    writer = {
        "idealoop": lambda: TelemetryWriter(store, run_id),
        "idealoop-shipper": lambda: TelemetryWriter(store, run_id, process=True),
        "naive": lambda: NaiveWriter(store.client, run_id),
    }.get(mode, NullWriter)()
    trainer = Trainer(
        task, model, opt, writer, device=device, generator=gen,
        hist_every=args.hist_every if mode.startswith("idealoop") else 0, hist_budget=args.hist_budget,
        val_probe=mode != "bare-noprobe",
    )  # fmt: skip
    t0 = time.perf_counter()
    samples = 16 if mode.startswith("idealoop") or mode == "naive" else 0  # bare: no evidence at all
    fit(trainer, epochs=args.epochs, batch_size=args.batch_size, n_samples=samples, progress=False)
    writer.close()  # the run is not done until its telemetry is stored
    seconds = time.perf_counter() - t0
    return args.epochs * len(task.train) / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="digits", help="digits (1.8 ms steps: worst case) or shapes (U-Net)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--tile", type=int, default=40, help="repeat the training split this many times")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--hist-every", type=int, default=50)
    ap.add_argument("--hist-budget", type=float, default=0.01, help="the stages' default; 0 = exact cadence")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--skip-naive", action="store_true", help="the naive way is slow on a server")
    ap.add_argument("--modes", default="", help="comma-separated subset of the modes, in this order")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="idealoop-bench-")
    os.chdir(tmp)
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{tmp}/mlflow.db"
    store = Store.resolve(uri=uri, project="bench")
    task = load_task(args.task)
    x, y = task.train.x, task.train.y
    task.train = Split(x.repeat(args.tile, *[1] * (x.dim() - 1)), y.repeat(args.tile, *[1] * (y.dim() - 1)))
    modes = ["bare-noprobe", "bare", "idealoop", "idealoop-shipper"] + ([] if args.skip_naive else ["naive"])
    modes = list(dict.fromkeys(args.modes.split(","))) if args.modes else modes
    one_run("bare", store, task, args)  # warm-up: allocator, imports, SQLite tables
    results = {m: [] for m in modes}
    ratios = {m: [] for m in modes}  # per round, against that round's bare run
    for r in range(args.rounds):
        # Rotate the order, so no mode always runs first (a shared VM drifts by a few percent
        # over minutes); each round's ratios are taken against that round's own bare run.
        order = modes[r % len(modes) :] + modes[: r % len(modes)]
        speed = {}
        for m in order:
            if m == "naive" and r > 0:
                continue  # slow by design (one SQLite commit per point): one round tells enough
            speed[m] = one_run(m, store, task, args)
            results[m].append(speed[m])
        for m, v in speed.items():
            if "bare" in speed:
                ratios[m].append(v / speed["bare"])
    med = {m: statistics.median(v) for m, v in results.items()}
    starts = []
    for _ in range(3):
        t0 = time.perf_counter()
        run_id = store.client.create_run(store.experiment_id).info.run_id
        TelemetryWriter(store, run_id, process=True).close()
        starts.append(time.perf_counter() - t0)
    print(f"device {pick_device(args.device)}, torch threads {torch.get_num_threads()}, "
          f"{args.epochs} epochs x {len(task.train)} samples ({args.task} x {args.tile}), "
          f"median of {args.rounds} rounds")  # fmt: skip
    for m in modes:
        spread = f"  (rounds {min(ratios[m]):.3f}-{max(ratios[m]):.3f})" if len(ratios[m]) > 1 else ""
        ratio = f"   ratio to bare {statistics.median(ratios[m]):.3f}{spread}" if ratios[m] else ""
        print(f"{m:>16}: {med[m]:10,.0f} samples/s{ratio}")
    if ratios.get("idealoop") and "bare" in med:
        ratio = statistics.median(ratios["idealoop"])
        print(
            f"idealoop / bare = {ratio:.3f}, median of per-round ratios "
            "(target >= 0.95 on CPU, >= 0.97 on GPU)"
        )
    start = statistics.median(starts)
    print(f"one-time per run: shipper start-up + close {start:.2f} s (in the idealoop-shipper figure)")


if __name__ == "__main__":
    main()
