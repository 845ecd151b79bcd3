"""Does weighting people by their calibration record improve the pooled likelihood, and from how
many decided ideas on?

Simulated teams of three (over-confident: bias B, under-confident: 1/B, calibrated: 1) estimate
ideas with known success rates q (log-odds ~ N(-1, 1.5)); each person sees q's log-odds with
their own noise (sd S) and states sigmoid(bias × it). Each person's weight is fitted on a record
of N decided ideas (outcomes drawn from q) with `tracker.forecast_scores`; every forecast is
then scored by its expected Brier on 2,000 new ideas, exact from q. Prints, per record length,
in how many of T random teams the weighted pool beat every person alone, the plain mean of
their likelihoods and the unweighted log-odds pool, and the mean Brier of each.

    python bench/pool_weighting.py [--teams 10] [--bias 3] [--noise 0.5]
"""

from __future__ import annotations

import argparse
import random

from tracker.forecast_scores import fit_log_odds, person_weight
from tracker.pooling import PoolSettings, pool_likelihood, sigmoid


def team(seed: int, record: int, bias: float, noise: float) -> dict[str, float]:
    rng = random.Random(seed)
    biases = {"over": bias, "under": 1 / bias, "calibrated": 1.0}

    def ideas(n: int):
        out = []
        for _ in range(n):
            x = rng.gauss(-1.0, 1.5)
            out.append((sigmoid(x), {k: sigmoid(b * (x + rng.gauss(0, noise))) for k, b in biases.items()}))
        return out

    past, new = ideas(record), ideas(2000)
    outcomes = [rng.random() < q for q, _ in past]
    weights = {p: person_weight(fit_log_odds([s[p] for _, s in past], outcomes)[1], record) for p in biases}

    def brier(forecast) -> float:
        return sum((forecast(s) - q) ** 2 + q * (1 - q) for q, s in new) / len(new)

    out = {p: brier(lambda s, p=p: s[p]) for p in biases}
    out["plain mean"] = brier(lambda s: sum(s.values()) / 3)
    out["log-odds"] = brier(pool_likelihood)
    out["weighted"] = brier(lambda s: pool_likelihood(s, PoolSettings(weights=weights)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--bias", type=float, default=3.0)
    parser.add_argument("--noise", type=float, default=0.5)
    args = parser.parse_args()
    print(f"bias {args.bias:g} / {1 / args.bias:.2g} / 1, noise {args.noise:g}, {args.teams} teams")
    for record in (10, 20, 40, 60, 100, 150):
        runs = [team(seed, record, args.bias, args.noise) for seed in range(args.teams)]
        wins = sum(r["weighted"] < min(v for k, v in r.items() if k != "weighted") for r in runs)
        means = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}
        shown = "  ".join(f"{k} {v:.4f}" for k, v in means.items())
        print(f"record {record:>3}: weighted best in {wins:>2}/{args.teams}   mean Brier: {shown}")


if __name__ == "__main__":
    main()
