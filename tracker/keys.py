"""The one table of metric keys idealoop logs (STYLE.md §7).

Every key a stage or trial logs is named here, with what it means and when it is
logged. Code refers to these constants, never to string literals, so a renamed
key cannot leave a reader behind.
"""

from __future__ import annotations

TRAIN_LOSS = "train/loss"  # every batch; step = global batch index
VAL_LOSS_BATCH = "val/loss_batch"  # a random val batch after every iteration; same step
VAL_LOSS = "val/loss"  # full val pass, per epoch
VAL_ACCURACY = "val/accuracy"  # full val pass, per epoch (classification)
VAL_F1_MACRO = "val/f1_macro"  # full val pass, per epoch (classification)
TIME_DATA = "time/data_s"  # seconds spent waiting for the batch
TIME_COMPUTE = "time/compute_s"  # seconds of forward + backward + step
THROUGHPUT = "throughput/samples_per_s"  # over each chunk of check_every batches, at its last step
EPOCH = "epoch"  # epoch number (1-based; 0 = before training), per epoch
TRAIN_LR = "train/lr"  # learning rate in effect, per epoch
GRAD_NORM = "train/grad_norm"  # global L2 norm of gradients, at each histogram snapshot
# stage_scale with critic=true (runners/training/critic.py), every batch, same step as train/loss:
TRAIN_CRITIC_LOSS = "train/critic_loss"  # critic's WGAN-GP loss at its last update of the batch
TRAIN_WASSERSTEIN = "train/wasserstein"  # critic's estimate E[D(real)] - E[D(output)]
TRAIN_ADV_LOSS = "train/adv_loss"  # generator's adversarial term -E[D(output)], before weighting
VAL_PREFIX = "val/"  # full-pass val metrics: val/<metric> (val/f1/<class>, val/miou, ...)
HIST_PREFIX = "hist/"  # hist/<weights|grads|acts>/<tensor>/<mean|std|frac_zero|frac_nonfinite>
GENERALIZE_VAL_LOSS_START = "generalize/val_loss_start"  # full-pass val loss before training
GENERALIZE_VAL_LOSS_BEST = "generalize/val_loss_best"
GAP_TO_BASELINE = "generalize/gap_to_baseline"  # gain of the best val target over the baseline (+ = better)
BASELINE_PREFIX = "baseline/"  # baseline/<metric>: the non-DL score to beat
SCALE_REFERENCE = "scale/reference"  # the best generalize score the scale stage must beat
BEST_PREFIX = "best/"  # best/<metric> on sweep runs
# Overfit gates: the final train loss of each sub-stage and the steps it took.
OVERFIT_ONE_LOSS = "overfit_one/final_loss"
OVERFIT_ONE_STEPS = "overfit_one/steps"
OVERFIT_FEW_LOSS = "overfit_few/final_loss"
OVERFIT_FEW_STEPS = "overfit_few/steps"

METRIC_KEYS: dict[str, str] = {
    TRAIN_LOSS: "training loss of each batch (step = global batch index)",
    VAL_LOSS_BATCH: "loss on one random val batch after every iteration",
    VAL_LOSS: "mean loss over the full val set, per epoch",
    VAL_ACCURACY: "accuracy over the full val set, per epoch",
    VAL_F1_MACRO: "macro-averaged F1 over the full val set, per epoch",
    TIME_DATA: "seconds waiting for data, per batch",
    TIME_COMPUTE: "seconds of compute (forward, backward, step), per batch",
    THROUGHPUT: "training samples per second, over each chunk of check_every batches",
    EPOCH: "epoch number, logged with every full-pass evaluation",
    TRAIN_LR: "learning rate in effect, per epoch",
    GRAD_NORM: "global gradient L2 norm at each histogram snapshot",
    TRAIN_CRITIC_LOSS: "WGAN-GP critic loss per batch (stage_scale with critic=true)",
    TRAIN_WASSERSTEIN: "critic's Wasserstein estimate E[D(real)] - E[D(output)] per batch",
    TRAIN_ADV_LOSS: "generator's adversarial loss -E[D(output)] per batch, before critic_weight",
    GENERALIZE_VAL_LOSS_START: "full-pass val loss before training (the generalize gate's bar)",
    GENERALIZE_VAL_LOSS_BEST: "best full-pass val loss of the generalize run",
    GAP_TO_BASELINE: "gain of the best val target metric over the non-DL baseline's (positive = better)",
    SCALE_REFERENCE: "best generalize score of the idea that the scale stage must beat",
    OVERFIT_ONE_LOSS: "train loss when the overfit-one-sample check ended",
    OVERFIT_ONE_STEPS: "steps the overfit-one-sample check took",
    OVERFIT_FEW_LOSS: "train loss when the overfit-few-samples check ended",
    OVERFIT_FEW_STEPS: "steps the overfit-few-samples check took",
}
