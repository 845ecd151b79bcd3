"""The stage ladder as traffic lights: one light per rung, and the run that decided it.

Pure logic over run descriptions (`tracker.queries.RunRow`), no MLflow here. The
rungs are the gates of docs/telemetry.md, cheapest check first:

    check → baseline → overfit 1 → overfit few → generalize → scale

(`check` is stage 0, stage_check: the model's isolated checks before any training.)

A rung's light comes from the most recent *stage* run of its stage (trials of a
sweep test variants, they do not decide the ladder):

- green  : the gate passed (or the baseline score was recorded);
- red    : the gate failed, or the run ended without a verdict (crashed, NaN loss, killed);
- yellow : the run is still going and has no verdict yet;
- grey   : no stage run yet — the hint says which command runs it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rung:
    gate: str  # tag suffix: idealoop.gate.<gate>
    stage: str  # idealoop.stage of the runs that decide it
    label: str
    command: str  # how to run it (shown on grey rungs)


RUNGS: tuple[Rung, ...] = (
    Rung("check", "check", "check", "idealoop run check --idea ID"),
    Rung("baseline", "baseline", "baseline", "idealoop run baseline --idea ID"),
    Rung("overfit_one", "overfit", "overfit 1", "idealoop run overfit --idea ID"),
    Rung("overfit_few", "overfit", "overfit few", "idealoop run overfit --idea ID"),
    Rung("generalize", "generalize", "generalize", "idealoop run generalize --idea ID"),
    Rung("scale", "scale", "scale", "idealoop run scale --idea ID"),
)


def stages_up_to(top: str) -> list[str]:
    """The ladder's stages in order (stage 0 first), up to and including `top` (all if unknown)."""
    order = list(dict.fromkeys(r.stage for r in RUNGS))
    return order[: order.index(top) + 1] if top in order else order


@dataclass(frozen=True)
class Light:
    rung: Rung
    color: str  # green | red | yellow | grey
    verdict: str  # passed | failed | recorded | running | no verdict | not run
    run_id: str = ""
    detail: str = ""


def light_for(rung: Rung, runs: list) -> Light:
    """The light of one rung, from the runs made for one idea (any order)."""
    candidates = [r for r in runs if r.kind == "stage" and r.stage == rung.stage]
    if not candidates:
        return Light(rung, "grey", "not run", detail=rung.command)
    run = max(candidates, key=lambda r: (r.start_time or 0, r.id))
    verdict = run.gates.get(rung.gate)
    if verdict in ("passed", "recorded"):
        return Light(rung, "green", verdict, run.id, run.end_reason)
    if verdict == "failed":  # a failed check says which check and why (its reason tag)
        return Light(rung, "red", "failed", run.id, getattr(run, "check_reason", "") or run.end_reason)
    if run.status in ("RUNNING", "SCHEDULED"):
        return Light(rung, "yellow", "running", run.id, "no verdict yet")
    why = run.error or run.end_reason or run.status.lower()
    return Light(rung, "red", "no verdict", run.id, why)


def ladder(runs: list) -> list[Light]:
    """Every rung's light, cheapest check first."""
    return [light_for(rung, runs) for rung in RUNGS]
