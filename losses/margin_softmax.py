"""The margin-softmax family (post 6, kexue.fm/archives/5743): classification over paraphrase groups on a sphere.

With unit sentence vectors ``z`` and unit class centres ``c_j``, ``cos theta_j = <z, c_j>``. Every member
is the cross-entropy of the logits ``s cos theta_j`` (``j != t``) and ``s psi(theta_t)`` for the
true class ``t``, where ``psi(theta) <= cos theta`` is the member's margin:

    L = -log( e^{s psi(theta_t)} / (e^{s psi(theta_t)} + sum_{j != t} e^{s cos theta_j}) ).

The margin is applied by changing the one target logit of each row in place, so memory is the
``(B, C)`` logits and nothing more (no one-hot matrix), which keeps 90,000+ classes affordable.
The centres are normalised inside the forward pass (the standard AM-Softmax; the post's Keras code
instead projected them back to the sphere after each update). The logits and the loss are computed
in float32 even under autocast. After training the classifier is thrown away: retrieval uses ``z``.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch, Loss
from engine.errors import ConfigError, as_int, as_number
from engine.progress import Progress


class MarginSoftmaxLoss(Loss):
    """One player, ``main``, updating the encoder and the class centres; logs the loss and the batch accuracy."""

    players = ("main",)

    def __init__(self, num_classes: int, dim: int = 128, scale: float = 30.0) -> None:
        super().__init__()
        self.num_classes = as_int("loss.num_classes", num_classes, 1)
        self.scale = as_number("loss.scale", scale)
        if self.scale <= 0:
            raise ConfigError(f"loss.scale must be positive, got {scale}")
        self.centres = nn.Parameter(F.normalize(torch.randn(self.num_classes, as_int("loss.dim", dim, 1)), dim=1))

    @abstractmethod
    def psi(self, cos_t: torch.Tensor) -> torch.Tensor:
        """The target logit's margin: ``psi(theta_t)`` as a function of ``cos theta_t``."""

    def cosines(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, C)`` cosines of the unit-normalised ``z`` with the unit-normalised centres, in float32 at least."""
        dtype = torch.promote_types(z.dtype, torch.float32)  # float16 / bfloat16 up, float64 kept
        with torch.autocast(z.device.type, enabled=False):
            return F.normalize(z.to(dtype), dim=1) @ UnitRows.apply(self.centres.to(dtype)).t()

    def logits(self, cos: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``s cos`` with each row's target entry replaced by ``s psi(cos_t)`` (for inspection; the loss is fused)."""
        rows = torch.arange(len(y), device=y.device)
        return with_target(cos, y, self.scale, self.psi(cos[rows, y]))

    def forward(self, model: nn.Module, batch: Batch, player: str = "main",
                progress: Progress | None = None) -> dict[str, torch.Tensor]:
        y = batch["y"]
        cos = self.cosines(model(batch["x"]))
        with torch.autocast(cos.device.type, enabled=False):
            loss = MarginCrossEntropy.apply(cos, y, self.scale, self.psi)
        acc = (cos.detach().argmax(1) == y).float().mean()  # the nearest centre: classification without the margin
        return {"loss": loss, "acc": acc}


def with_target(cos: torch.Tensor, y: torch.Tensor, scale: float, psi_t: torch.Tensor) -> torch.Tensor:
    """The logits ``s cos`` with each row's target entry set to ``s psi_t``."""
    logits = cos * scale
    logits[torch.arange(len(y), device=y.device), y] = psi_t * scale
    return logits


class MarginCrossEntropy(torch.autograd.Function):
    """``mean_i -log softmax(s cos_i with target entry s psi(cos_it))_{t_i}`` and its gradient, in one pass.

    The gradient with respect to the logits is ``softmax - onehot``, so with respect to ``cos`` it is
    ``s softmax`` off the target and ``s (p_t - 1) psi'(cos_t)`` on it; ``psi'`` comes from autograd on
    the ``B`` target cosines. Autograd through the same ops would keep and sweep several more
    ``(B, C)`` tensors (a gather's and an in-place write's gradients, their sum).
    """

    @staticmethod
    def forward(ctx, cos: torch.Tensor, y: torch.Tensor, scale: float, psi) -> torch.Tensor:
        rows = torch.arange(len(y), device=y.device)
        with torch.enable_grad():
            cos_t = cos[rows, y].detach().requires_grad_(True)
            psi_t = psi(cos_t)
            (dpsi,) = torch.autograd.grad(psi_t.sum(), cos_t)
        log_p = with_target(cos, y, scale, psi_t.detach()).log_softmax(1)
        ctx.save_for_backward(log_p, y, dpsi)
        ctx.scale = scale
        return -log_p[rows, y].mean()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_loss: torch.Tensor):
        log_p, y, dpsi = ctx.saved_tensors
        rows = torch.arange(len(y), device=y.device)
        grad = log_p.exp()
        grad[rows, y] = (grad[rows, y] - 1) * dpsi
        grad *= grad_loss * ctx.scale / len(y)
        return grad, None, None, None


class UnitRows(torch.autograd.Function):
    """``u = c / ||c||`` row by row, as ``F.normalize``, with the gradient ``(g - u <u, g>) / ||c||`` written out.

    For the ``(C, D)`` centres autograd through ``F.normalize`` keeps and sweeps several ``(C, D)``
    temporaries; this keeps ``u`` and the ``C`` inverse norms only.
    """

    @staticmethod
    def forward(ctx, c: torch.Tensor) -> torch.Tensor:
        inv = c.norm(dim=1, keepdim=True).clamp_min(1e-12).reciprocal()
        u = c * inv
        ctx.save_for_backward(u, inv)
        return u

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        u, inv = ctx.saved_tensors
        return (g - u * (u * g).sum(1, keepdim=True)) * inv
