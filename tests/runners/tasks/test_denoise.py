"""The `denoise` image-to-image task, the WGAN-GP critic option, and gates that respect lower-is-better."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from runners.stages.baseline import run_baseline
from runners.stages.config import BaselineConfig, ConfigError, GeneralizeConfig, OverfitConfig, ScaleConfig
from runners.stages.generalize import run_generalize
from runners.stages.overfit import run_overfit
from runners.stages.scale import run_scale
from runners.tasks import denoise, kinds
from runners.tasks.base import load_task
from runners.training.critic import CriticLoss, gradient_penalty
from tracker.learning import improves
from tracker.runs import stage_run
from tracker.store import Target

FAST = dict(task="denoise", epochs=1, batch_size=32, hist_every=0, n_samples=4)


@pytest.fixture(scope="module")
def task():
    return load_task("denoise", seed=0)


def tiny(task, n_train=96, n_val=32):
    return replace(task, train=task.train.take(slice(0, n_train)), val=task.val.take(slice(0, n_val)))


def _history(store, run_id, key):
    return sorted(store.client.get_metric_history(run_id, key), key=lambda m: m.step)


def test_data_is_fixed_by_the_seed_and_noisy(task):
    again, other = load_task("denoise", seed=0), load_task("denoise", seed=1)
    assert torch.equal(task.train.x, again.train.x)
    assert not torch.equal(task.train.x, other.train.x)
    assert task.train.x.shape[1:] == task.train.y.shape[1:] == (1, 16, 16)
    assert len(task.train) + len(task.val) + len(task.test) == 1797
    noise = (task.val.x - task.val.y).abs().mean()
    assert 0.1 < float(noise) < 0.3  # inputs are the targets plus visible noise
    assert task.target_metric == "l1" and not task.higher_is_better


def test_augment_moves_input_and_target_together(task):
    x = task.train.x[:16]
    ax, ay = denoise.augment(x, x.clone(), torch.Generator().manual_seed(3))
    assert torch.equal(ax, ay)  # same shift for both; a mismatch would teach the model to shift


def test_l1_and_psnr_on_a_hand_computed_case():
    out, target = torch.zeros(1, 1, 2, 2), torch.tensor([[[[0.0, 0.5], [1.0, 0.5]]]])
    m = kinds.image2image_metrics(out, target)
    assert m["l1"] == pytest.approx(0.5)
    assert m["psnr"] == pytest.approx(10 * math.log10(1 / 0.375))  # mse = (0 + .25 + 1 + .25) / 4


def test_improves_respects_the_direction():
    assert improves(0.05, 0.06, higher_is_better=False) and not improves(0.07, 0.06, higher_is_better=False)
    assert improves(0.7, 0.6) and not improves(0.6, 0.6)


def test_overfit_one_sample_passes(store, task):
    # L1 falls slowly near zero: ~210 steps here, so the budget leaves room for other CPUs' rounding.
    cfg = OverfitConfig(task="denoise", width=64, lr=3e-3, one_max_steps=600, few_samples=2, few_max_steps=20)
    with stage_run(Target(store), stage="overfit", task="denoise") as run:
        one, _ = run_overfit(cfg, run, task=task, progress=False)
    assert one.passed, one.summary()


def test_baseline_then_generalize_reports_a_signed_gap(store, make_idea, task):
    idea = make_idea()
    small = tiny(task, n_train=256, n_val=64)
    with stage_run(Target(store, idea), stage="baseline", task="denoise") as run:
        base = run_baseline(BaselineConfig(task="denoise"), run, task=small)
    assert base["l1"] < base["identity_l1"]  # ridge beats doing nothing
    cfg = GeneralizeConfig(**{**FAST, "epochs": 2})
    with stage_run(Target(store, idea), stage="generalize", task="denoise") as run:
        result = run_generalize(cfg, run, task=small, progress=False)
    got = store.client.get_run(run.run_id)
    assert got.data.tags["idealoop.gate.generalize"] == "passed"
    assert got.data.tags["idealoop.higher_is_better"] == "false"
    best = result.best_value("l1", higher_is_better=False)
    assert got.data.metrics["best/l1"] == pytest.approx(best)
    # Lower is better: the gain over the baseline is baseline minus ours (a sign error flips it).
    assert got.data.metrics["generalize/gap_to_baseline"] == pytest.approx(base["l1"] - best)


@pytest.mark.parametrize("reference_l1, verdict", [(0.9, "passed"), (0.001, "failed")])
def test_scale_gate_is_lower_is_better_for_l1(store, make_idea, task, reference_l1, verdict):
    idea = make_idea()
    with stage_run(Target(store, idea), stage="generalize", task="denoise") as run:
        run.writer.log("best/l1", reference_l1, 0)
    with stage_run(Target(store, idea), stage="scale", task="denoise") as run:
        cfg = ScaleConfig(**{**FAST, "width": 64, "depth": 1})
        run_scale(cfg, run, task=tiny(task), progress=False)
    got = store.client.get_run(run.run_id)
    # A tiny model after one epoch lands far between the two references: below 0.9, above 0.001.
    # An accuracy-style "higher wins" gate would give the opposite verdicts.
    assert got.data.tags["idealoop.gate.scale"] == verdict
    assert got.data.metrics["scale/reference"] == pytest.approx(reference_l1)


class EvalSpy(torch.nn.Module):
    """Records every input the model scores in eval mode (full val passes and val probes)."""

    def __init__(self, inner, seen):
        super().__init__()
        self.inner, self.seen = inner, seen

    def forward(self, x):
        if not self.training:
            self.seen.extend(bytes(r.numpy()) for r in x.cpu())
        return self.inner(x)


def test_scale_with_critic_logs_the_critic_keys_and_never_augments_val(store, task):
    seen = []
    small = tiny(task)
    small = replace(small, build_model=lambda spec: EvalSpy(denoise.build_model(spec), seen))
    cfg = ScaleConfig(**{**FAST, "width": 64, "depth": 1, "critic": True, "critic_steps": 1})
    assert cfg.augment and small.augment is not None
    with stage_run(Target(store), stage="scale", task="denoise") as run:
        run_scale(cfg, run, task=small, progress=False)
    # Training batches were shifted; everything scored in eval mode is a val image as stored.
    assert seen and set(seen) <= {bytes(r.numpy()) for r in small.val.x}
    got = store.client.get_run(run.run_id)
    assert got.info.status == "FINISHED" and got.data.params["critic"] == "True"
    batches = math.ceil(len(small.train) / 32)
    for key in ("train/critic_loss", "train/wasserstein", "train/adv_loss", "train/loss"):
        assert [m.step for m in _history(store, run.run_id, key)] == list(range(batches)), key


def test_critic_trains_toward_telling_real_from_fake():
    torch.manual_seed(0)
    real = torch.ones(16, 1, 8, 8)
    fake = torch.zeros(16, 1, 8, 8, requires_grad=True)
    loss = CriticLoss(torch.nn.functional.l1_loss, weight=1.0, steps=20, lr=1e-3)
    total = loss(fake, real)
    w = loss.drain()["train/wasserstein"]
    assert float(w[-1]) > 0  # after 20 updates the critic scores real above fake
    total.backward()
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0  # the generator gets a signal
    assert all(v == [] for v in loss.drain().values())  # drained once
    assert float(gradient_penalty(loss.critic, real, fake.detach()).detach()) >= 0


def test_critic_needs_an_image_to_image_task_and_one_process(task):
    seg = replace(task, name="shapes", kind="segmentation")
    with pytest.raises(ConfigError, match="critic=true needs an image2image task; 'shapes' is segmentation"):
        run_scale(ScaleConfig(task="shapes", critic=True), None, task=seg, progress=False)
    with pytest.raises(ConfigError, match="critic=true runs in one process"):
        ScaleConfig(critic=True, processes=2).validate()


def test_cli_refuses_critic_on_segmentation_before_any_run(store, capsys):
    from runners.cli import main

    assert main(["run", "scale", "--task", "shapes", "--set", "critic=true", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["idealoop: error: critic=true needs an image2image task; 'shapes' is segmentation"]
    assert store.client.search_runs([store.experiment_id]) == []
