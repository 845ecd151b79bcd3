"""An adversarial (Wasserstein) critic for image-to-image tasks: a stage_scale option.

The method's advice for generative models: start with a plain L1 regression and add
an adversarial loss only once L1 works. L1 alone gives blurry averages; a critic
that tells real targets from outputs pushes the outputs toward what targets look
like. This is WGAN-GP (Gulrajani et al. 2017): the critic maximises
E[D(real)] - E[D(fake)] with a gradient penalty keeping it 1-Lipschitz, and the
generator's loss is

    task loss (L1) + critic_weight * (-E[D(output)])

`CriticLoss` is a drop-in `train_loss` for `Trainer`: each call first trains the
critic `critic_steps` times on the batch (outputs detached, so the generator is not
touched), then returns the generator's loss. Validation still uses the task's plain
loss, so `val/l1` stays comparable with the generalize stage. The critic is
unconditional (it sees outputs and targets, not the noisy input) — the simplest
version that works; a conditional critic would concatenate the input.

Per step it records `train/critic_loss`, `train/wasserstein` (the critic's estimate
of the distance between real and output distributions; it should shrink as outputs
improve) and `train/adv_loss`; `Trainer.sync` drains them with the train loss, in
the same device read.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from tracker import keys

GP_WEIGHT = 10.0  # gradient-penalty weight, the WGAN-GP paper's value
BETAS = (0.5, 0.9)  # Adam betas for the critic, as in the WGAN-GP paper


def build_critic(channels: int, width: int = 32) -> nn.Module:
    """A small conv net image -> score; any input size (global average pool); no batchnorm (GP forbids it)."""
    return nn.Sequential(
        nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 4 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, 1),
    )  # fmt: skip


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[(|grad D(x_hat)| - 1)^2] on random points between real and fake samples."""
    eps = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


class CriticLoss:
    """Generator loss = base loss + weight * adversarial loss; trains its critic as a side effect."""

    def __init__(
        self, base: Callable, *, weight: float, steps: int, lr: float, critic: nn.Module | None = None
    ) -> None:
        self.base, self.weight, self.steps, self.lr = base, weight, steps, lr
        self.critic = critic
        self.opt: torch.optim.Optimizer | None = None
        self._restore: dict | None = None  # a checkpoint's critic, loaded once the critic is built
        self._pending: dict[str, list[torch.Tensor]] = {
            keys.TRAIN_CRITIC_LOSS: [],
            keys.TRAIN_WASSERSTEIN: [],
            keys.TRAIN_ADV_LOSS: [],
        }

    def _ready(self, out: torch.Tensor) -> nn.Module:
        """Build the critic on first use, when the output's channels and device are known."""
        if self.critic is None:
            self.critic = build_critic(out.shape[1])
        if self.opt is None:
            self.critic.to(out.device)
            self.opt = torch.optim.Adam(self.critic.parameters(), lr=self.lr, betas=BETAS)
            if self._restore:
                self.critic.load_state_dict(self._restore["critic"])
                self.opt.load_state_dict(self._restore["opt"])
                self._restore = None
        return self.critic

    def state_dict(self) -> dict:
        """The critic and its optimizer (empty before the first batch built them): for checkpoints."""
        if self.critic is None or self.opt is None:
            return self._restore or {}
        return {"critic": self.critic.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()`'s output; applied when the critic is built (its channels come from data)."""
        self._restore = state or None
        if self._restore and self.critic is not None and self.opt is not None:
            self.critic.load_state_dict(state["critic"])
            self.opt.load_state_dict(state["opt"])
            self._restore = None

    def __call__(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        critic = self._ready(out)
        fake, real = out.detach(), y.to(out.dtype)
        critic.train()
        for _ in range(self.steps):
            self.opt.zero_grad(set_to_none=True)
            d_real, d_fake = critic(real).mean(), critic(fake).mean()
            loss = d_fake - d_real + GP_WEIGHT * gradient_penalty(critic, real, fake)
            loss.backward()
            self.opt.step()
        adv = -critic(out).mean()  # gradients reach the generator through `out`
        self._pending[keys.TRAIN_CRITIC_LOSS].append(loss.detach())
        self._pending[keys.TRAIN_WASSERSTEIN].append((d_real - d_fake).detach())
        self._pending[keys.TRAIN_ADV_LOSS].append(adv.detach())
        return self.base(out, y) + self.weight * adv

    def drain(self) -> dict[str, list[torch.Tensor]]:
        """Per-step side metrics since the last drain (one value per step each), as device tensors."""
        pending = self._pending
        self._pending = {k: [] for k in pending}
        return pending
