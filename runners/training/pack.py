"""K models from K seeds, trained together in one process: vmapped where possible, else looped.

Small models leave a GPU (and a CPU's vector units) mostly idle, and every seed of an
idea paid a process, a run and a start-up of its own. `build_pack` builds the task's model
once per seed (each from `seed_everything(seed)`, exactly as a run with that seed builds
it) and packs them:

- `VmapPack`: the K models' parameters stacked into one tensor each
  (`torch.func.stack_module_state`), the forward and the loss vmapped over the stack
  (`functional_call` on a weightless copy of the model), one backward for the sum of
  the K losses (each seed's slice gets exactly its own gradient: the seeds share no
  weight), and the task's own optimizer over the stacked tensors: Adam, AdamW and SGD
  update element by element, so each slice moves exactly as that seed's model would
  alone. Dropout draws different masks per seed (`randomness="different"`).
- `LoopPack`, the fallback: K model copies with K optimizers, stepped one after the
  other in the same process, each with its own global RNG state swapped in around its
  step (dropout, augmentation noise), so each seed trains exactly as it would alone.
  Used when the model cannot be vmapped — batchnorm updates its running statistics in
  training mode; data-dependent control flow or an op vmap lacks fails a dry run —
  and `build_pack` says why.

Both answer the same calls, with a leading seed dimension K on every batch: `train_step`
(per-seed losses), `val_losses`, `outputs` (one shared input, e.g. the val set). For a
histogram snapshot (runners/training/packed_snapshots.py), `train_step(..., tap=True)` keeps
each seed's activations of that very training forward in `tapped`, and `seed_tensors(k)` gives
seed k's weights and gradients: slices of the stacked tensors, or a copy's own parameters.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from runners.tasks.base import ModelSpec, Task
from runners.training.histograms import ActivationTap
from runners.training.seeding import seed_everything


def _rng_state(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def unvmappable(model: nn.Module) -> str | None:
    """Why this model cannot be vmapped, when its structure says so (None: try it)."""
    for name, module in model.named_modules():
        if (
            getattr(module, "track_running_stats", False)
            and getattr(module, "running_mean", None) is not None
        ):
            return f"{type(module).__name__} {name!r} updates its running statistics in training mode"
    return None


class VmapPack:
    """K models as stacked parameters, one vmapped forward/backward and one optimizer step."""

    kind = "vmap"

    def __init__(
        self, models: list[nn.Module], train_loss: Callable, val_loss: Callable, make_opt, make_sched
    ):
        self.k = len(models)
        self.template = models[0]  # a real module, for `model(k)`; its own weights are not trained
        self.base = copy.deepcopy(models[0]).to("meta")  # structure only: functional_call supplies weights
        self.params, self.buffers = stack_module_state(models)
        self.opt = make_opt(list(self.params.values()))
        self.schedulers = [s for s in [make_sched(self.opt)] if s is not None]
        self.train_loss, self.val_loss = train_loss, val_loss
        self.tapped: list[dict[str, torch.Tensor]] | None = None  # each seed's activations, after a tap
        self._tap: ActivationTap | None = None

    def _forward(self, params, buffers, x):
        return functional_call(self.base, (params, buffers), (x,))

    def _loss(self, loss_fn):
        return lambda p, b, x, y: loss_fn(self._forward(p, b, x), y)

    def train_step(self, xs: torch.Tensor, ys: torch.Tensor, tap: bool = False) -> torch.Tensor:
        self.base.train()
        self.opt.zero_grad(set_to_none=True)
        fn = self._loss(self.train_loss)
        if tap:
            losses, acts = vmap(self._tapped(fn), randomness="different")(self.params, self.buffers, xs, ys)
            self.tapped = [{name: a[k] for name, a in acts.items()} for k in range(self.k)]
        else:
            losses = vmap(fn, randomness="different")(self.params, self.buffers, xs, ys)
        losses.sum().backward()
        self.opt.step()
        return losses.detach()

    def _tapped(self, fn: Callable) -> Callable:
        """`fn` that also returns the leaf modules' outputs of its forward.

        Hooks on the weightless copy fire inside vmap, on batched tensors that must not leave
        it; returned, vmap stacks them (K, B, ...). So the snapshot sees the training forward's
        own activations (its dropout masks, its weights before the step), as the plain trainer's
        tap does, at no extra forward and no extra draw from the random generators.
        """
        self._tap = self._tap or ActivationTap(self.base)

        def tapped(*args):
            self._tap.armed = True
            try:
                loss = fn(*args)
            finally:
                self._tap.armed = False
            acts, self._tap.outputs = self._tap.outputs, {}
            return loss, acts

        return tapped

    def seed_tensors(self, k: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Seed k's (weights, gradients) by parameter path: views of its slice, nothing copied."""
        weights = {n: t[k] for n, t in self.params.items()}
        return weights, {n: t.grad[k] for n, t in self.params.items() if t.grad is not None}

    @torch.no_grad()
    def val_losses(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        self.base.eval()
        return vmap(self._loss(self.val_loss), randomness="different")(self.params, self.buffers, xs, ys)

    @torch.no_grad()
    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        """(K, N, ...) outputs of every seed's model on one shared batch, in eval mode."""
        self.base.eval()
        return vmap(self._forward, in_dims=(0, 0, None), randomness="different")(self.params, self.buffers, x)

    def model(self, k: int) -> nn.Module:
        """Seed k's model alone, as an ordinary module (a copy)."""
        model = copy.deepcopy(self.template)
        state = {n: t[k].detach() for n, t in {**self.params, **self.buffers}.items()}
        model.load_state_dict(state)
        return model

    def dry_run(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Forward and backward once on a tiny batch, nothing updated: raises where vmap cannot."""
        xs, ys = x.expand(self.k, *x.shape), y.expand(self.k, *y.shape)
        self.base.train()
        vmap(self._loss(self.train_loss), randomness="different")(
            self.params, self.buffers, xs, ys
        ).sum().backward()
        self.opt.zero_grad(set_to_none=True)

    def state_dict(self) -> dict:
        return {
            "params": {n: t.detach().clone() for n, t in self.params.items()},
            "buffers": {n: t.clone() for n, t in self.buffers.items()},
            "optimizer": self.opt.state_dict(),
            "schedulers": [s.state_dict() for s in self.schedulers],
        }

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for n, t in {**self.params, **self.buffers}.items():
                t.copy_(state["buffers" if n in self.buffers else "params"][n])
        self.opt.load_state_dict(state["optimizer"])
        for s, saved in zip(self.schedulers, state["schedulers"], strict=True):
            s.load_state_dict(saved)


class LoopPack:
    """K model copies with K optimizers in one process, stepped in turn (the fallback)."""

    kind = "loop"

    def __init__(self, models, rngs, device, train_loss: Callable, val_loss: Callable, make_opt, make_sched):
        self.k, self.models, self.rngs, self.device = len(models), models, rngs, device
        self.opts = [make_opt(list(m.parameters())) for m in models]
        self.schedulers = [s for s in (make_sched(o) for o in self.opts) if s is not None]
        self.opt = self.opts[0]  # the learning rate every seed shares
        self.train_loss, self.val_loss = train_loss, val_loss
        self.template = models[0]  # names its parameters and layers
        self.tapped: list[dict[str, torch.Tensor]] | None = None  # each seed's activations, after a tap
        self._taps: list[ActivationTap] | None = None

    def train_step(self, xs: torch.Tensor, ys: torch.Tensor, tap: bool = False) -> torch.Tensor:
        losses = []
        if tap and self._taps is None:
            self._taps = [ActivationTap(m) for m in self.models]
        for k, (model, opt) in enumerate(zip(self.models, self.opts, strict=True)):
            _set_rng_state(self.rngs[k], self.device)  # this seed's dropout/noise stream, as if alone
            model.train()
            opt.zero_grad(set_to_none=True)
            if tap:  # armed for this step only, as the plain trainer's tap
                self._taps[k].armed = True
            loss = self.train_loss(model(xs[k]), ys[k])
            loss.backward()
            if tap:
                self._taps[k].armed = False
            opt.step()
            self.rngs[k] = _rng_state(self.device)
            losses.append(loss.detach())
        if tap:
            self.tapped = [t.outputs for t in self._taps]
            for t in self._taps:
                t.outputs = {}
        return torch.stack(losses)

    def seed_tensors(self, k: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Seed k's (weights, gradients) by parameter path: its copy's own."""
        weights = dict(self.models[k].named_parameters())
        return weights, {n: p.grad for n, p in weights.items() if p.grad is not None}

    @torch.no_grad()
    def val_losses(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        for m in self.models:
            m.eval()
        return torch.stack([self.val_loss(m(xs[k]), ys[k]) for k, m in enumerate(self.models)])

    @torch.no_grad()
    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.models:
            m.eval()
        return torch.stack([m(x) for m in self.models])

    def model(self, k: int) -> nn.Module:
        return copy.deepcopy(self.models[k])

    def state_dict(self) -> dict:
        return {
            "models": [m.state_dict() for m in self.models],
            "optimizers": [o.state_dict() for o in self.opts],
            "schedulers": [s.state_dict() for s in self.schedulers],
            "rngs": self.rngs,
        }

    def load_state_dict(self, state: dict) -> None:
        for m, saved in zip(self.models, state["models"], strict=True):
            m.load_state_dict(saved)
        for o, saved in zip(self.opts, state["optimizers"], strict=True):
            o.load_state_dict(saved)
        for s, saved in zip(self.schedulers, state["schedulers"], strict=True):
            s.load_state_dict(saved)
        self.rngs = list(state["rngs"])


def build_pack(
    task: Task,
    spec: ModelSpec,
    seeds: list[int],
    device: torch.device,
    *,
    make_opt: Callable,  # parameters -> optimizer
    make_sched: Callable = lambda opt: None,  # optimizer -> LR scheduler or None
    train_loss: Callable | None = None,
    force_loop: bool = False,  # benchmarks and tests: the fallback on a model vmap could take
) -> tuple[VmapPack | LoopPack, list[torch.Generator], str | None]:
    """(pack, one data-order generator per seed, why it is a loop or None)."""
    models, gens, rngs = [], [], []
    for seed in seeds:
        gens.append(seed_everything(seed))  # what a run with this one seed does before building
        models.append(task.build_model(spec).to(device))
        rngs.append(_rng_state(device))
    train_loss = train_loss or task.loss
    why = "asked for (force_loop)" if force_loop else unvmappable(models[0])
    if why is None:
        try:
            pack = VmapPack(models, train_loss, task.loss, make_opt, make_sched)
            pack.dry_run(task.train.x[:2].to(device), task.train.y[:2].to(device))
            return pack, gens, None
        except Exception as exc:  # noqa: BLE001 - any op vmap cannot batch: the loop still trains it
            why = f"vmap failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
    return LoopPack(models, rngs, device, train_loss, task.loss, make_opt, make_sched), gens, why
