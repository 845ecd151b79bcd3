"""The one table of metric keys (and param prefixes) idealoop logs (STYLE.md §7).

Every key a stage, trial or idea run logs is named here, with what it means and when
it is logged; tag names have their table in `tracker/store.py`. Code refers to these
constants, never to string literals, so a renamed key cannot leave a reader behind:
`tests/tracker/test_keys.py` fails on a key spelled anywhere else in tracker/,
runners/ or board/, and on a constant here that docs/telemetry.md does not list.
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
VAL_PREFIX = "val/"  # full-pass val metrics: val/<metric> (val/miou, ...); per-class values are
# not metrics but rows of the artifact metrics/per_class.jsonl (tracker/artifacts.py), metric "val/f1"
# A task's slices (Task.slices, runners/tasks/slices.py), each full val pass of a training run: the
# key slice/<name>/<metric> for each headline metric and the loss on the slice's samples, and
# slice/<name>/share, its fraction of the val samples. Breakdowns, like per-class values: rows of
# metrics/per_class.jsonl with metric slice/<metric> and class <name>, not MLflow metrics.
SLICE_PREFIX = "slice/"
SLICE_SHARE = "share"  # slice/<name>/share
# Logged no more (per-tensor summaries live in histograms/step_*.json): older runs carry it, readers skip it.
HIST_PREFIX = "hist/"  # hist/<weights|grads|acts>/<tensor>/<mean|std|frac_zero|frac_nonfinite>
GENERALIZE_VAL_LOSS_START = "generalize/val_loss_start"  # full-pass val loss before training
GENERALIZE_VAL_LOSS_BEST = "generalize/val_loss_best"
GAP_TO_BASELINE = "generalize/gap_to_baseline"  # gain of the best val target over the baseline (+ = better)
BASELINE_PREFIX = "baseline/"  # baseline/<metric>: the non-DL score to beat
BASELINE_FIT_SECONDS = "baseline/fit_seconds"  # seconds the non-DL baseline took to fit
SCALE_REFERENCE = "scale/reference"  # the best generalize score the scale stage must beat
BEST_PREFIX = "best/"  # best/<target> so far: generalize and scale runs, trials, sweep runs
# Runs trained with seeds > 1 (K seeds packed in one process): their val/<metric> and best/<target>
# are the mean over the seeds; each seed's own values are in its seed run (tag idealoop.kind=seed).
VAL_STD_PREFIX = "val_std/"  # val_std/<metric>: standard deviation across seeds of val/<metric>, per epoch
BEST_STD_PREFIX = "best_std/"  # best_std/<target>: the std across seeds at the epoch best/<target> is from
# Overfit gates: the final train loss of each sub-stage and the steps it took.
OVERFIT_ONE_LOSS = "overfit_one/final_loss"
OVERFIT_ONE_STEPS = "overfit_one/steps"
OVERFIT_FEW_LOSS = "overfit_few/final_loss"
OVERFIT_FEW_STEPS = "overfit_few/steps"
# stage_check (runners/stages/check.py), step 0: what each check measured.
CHECK_FIRST_LOSS = "check/first_loss"  # training loss of the first batch
CHECK_INIT_LOSS = "check/init_loss"  # val-batch loss of the untrained model
CHECK_INIT_LOSS_EXPECTED = "check/init_loss_expected"  # ln C, or the task's expected_init_loss
CHECK_NO_GRAD = "check/params_without_grad"  # parameter tensors whose gradient is None or all zero
CHECK_UNCHANGED = "check/params_unchanged"  # parameter tensors one optimizer step left unchanged
CHECK_BATCH_LEAK = "check/batch_leak"  # largest |d loss_i / d x_j|, i != j (0 = samples independent)
CHECK_GRADCHECK_FAILED = "check/gradcheck_failed"  # custom layers whose backward disagrees with gradcheck
CHECK_DETERMINISM = "check/determinism_diff"  # largest difference of the first losses of two seeded runs
CHECK_TARGET_INIT = "check/target_init"  # the target metric of the untrained model's outputs
CHECK_TARGET_PERFECT = "check/target_perfect"  # the target metric of perfect outputs (the targets)
CHECK_SECONDS = "check/seconds"  # how long all checks took
# Idea runs (tracker/ideas.py, tracker/outcomes.py), step = revision number:
ESTIMATE_PREFIX = "estimate/"  # estimate/<likelihood|impact|hours|...>: the estimates of each revision
OUTCOME_PREFIX = "outcome/"  # outcome/<observed_impact|likelihood_before|...>: logged on accepting evidence

# Queue sessions (tracker/queue_items.py), logged once when a session ends, step 0:
QUEUE_GPU_HOURS_USED = "queue/gpu_hours_used"  # GPU-hours the session's items held
QUEUE_GPU_HOURS_IDLE = "queue/gpu_hours_idle"  # the cluster's GPU-hours in the session no item held
QUEUE_CPU_HOURS_USED = "queue/cpu_hours_used"
QUEUE_CPU_HOURS_IDLE = "queue/cpu_hours_idle"

# Param prefixes (params are written once; MLflow keeps them per run):
REVISION_PREFIX = "revision."  # ideas: revision.<NNNN> = the revision record as JSON
COMMENT_PREFIX = "comment."  # ideas: comment.<NNNN> = {time, author, text} as JSON
SWEEP_PARAM_PREFIX = "sweep."  # sweeps: sweep.<setting>, sweep.space, sweep.base
TRIAL_PARAM_PREFIX = "trial."  # trials: trial.<key> = the sampled value
QUEUE_PARAM_PREFIX = "queue."  # queue items: queue.<what|stage|task|set|space|sweep|cpus|gpus|minutes>
