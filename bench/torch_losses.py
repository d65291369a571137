"""Every differentiable loss of the registry written in PyTorch, for bench/core.py's torch column.

Each function takes the predictions (a float64 tensor that requires grad), the targets and the
loss's parameters, and returns the mean loss whose `.backward()` gives the gradient: PyTorch's
own loss where it has one (F.mse_loss, F.huber_loss, F.cross_entropy, ...), else the contract's
formula in torch ops. torch is a benchmark-only dependency (`pip install torch==2.13.0`), never
one of the service or of `make test`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
TorchLoss = Callable[[Tensor, Tensor, dict[str, Any]], Tensor]
LOG_2 = math.log(2.0)


def _signs(y: Tensor) -> Tensor:
    return 2.0 * y - 1.0 if not bool((y == -1.0).any()) else y


def _tweedie(p: Tensor, y: Tensor, power: float) -> Tensor:
    if power == 0.0:
        return (p - y).square().mean()
    if power == 1.0:
        return (2.0 * (torch.xlogy(y, y) - y * torch.log(p) - y + p)).mean()
    if power == 2.0:
        return (2.0 * (torch.log(p / y) + y / p - 1.0)).mean()
    k = power
    return (
        2.0
        * (
            y.clamp(min=0.0).pow(2.0 - k) / ((1.0 - k) * (2.0 - k))
            - y * p.pow(1.0 - k) / (1.0 - k)
            + p.pow(2.0 - k) / (2.0 - k)
        )
    ).mean()


def _binary_focal(p: Tensor, y: Tensor, params: dict[str, Any]) -> Tensor:
    gamma, alpha = params.get("gamma", 2.0), params.get("alpha")
    if params.get("from_logits"):
        bce = F.binary_cross_entropy_with_logits(p, y, reduction="none")
        p = torch.sigmoid(p)
    else:
        bce = F.binary_cross_entropy(p, y, reduction="none")
    p_t = y * p + (1.0 - y) * (1.0 - p)
    loss = (1.0 - p_t).pow(gamma) * bce
    if alpha is not None:
        loss = (y * alpha + (1.0 - y) * (1.0 - alpha)) * loss
    return loss.mean()


def _categorical_hinge(p: Tensor, y: Tensor, params: dict[str, Any]) -> Tensor:
    true = (p * y).sum(dim=1)
    wrong = p.masked_fill(y == 1.0, -math.inf).amax(dim=1)
    return F.relu(1.0 + wrong - true).mean()


def _cce(p: Tensor, y: Tensor, params: dict[str, Any]) -> Tensor:
    if params.get("from_logits"):
        return F.cross_entropy(p, y)  # probability targets
    return -(y * torch.log(p.clamp(1e-7, 1.0 - 1e-7))).sum(dim=1).mean()


def _categorical_focal(p: Tensor, y: Tensor, params: dict[str, Any]) -> Tensor:
    alpha, gamma = params.get("alpha", 0.25), params.get("gamma", 2.0)
    if params.get("from_logits"):
        log_p = F.log_softmax(p, dim=1)
        probs = log_p.exp()
    else:
        probs = p.clamp(1e-7, 1.0 - 1e-7)
        log_p = torch.log(probs)
    return (alpha * (1.0 - probs).pow(gamma) * -(y * log_p)).sum(dim=1).mean()


def _sparse_cce(p: Tensor, y: Tensor, params: dict[str, Any]) -> Tensor:
    labels = y.long()
    if params.get("from_logits"):
        return F.cross_entropy(p, labels)
    return F.nll_loss(torch.log(p.clamp(1e-7, 1.0 - 1e-7)), labels)


def _kl(p: Tensor, y: Tensor, params: dict[str, Any]) -> Tensor:
    log_p = F.log_softmax(p, dim=1) if params.get("from_logits") else torch.log(p.clamp(1e-7, 1.0))
    return F.kl_div(log_p, y, reduction="batchmean")


def _js(p: Tensor, y: Tensor, params: dict[str, Any]) -> Tensor:
    m = 0.5 * (p + y)
    return (0.5 * (torch.xlogy(p, p / m) + torch.xlogy(y, y / m))).sum(dim=1).mean()


def _dice(p: Tensor, y: Tensor, params: dict[str, Any]) -> Tensor:
    s = params.get("smooth", 1e-6)
    overlap = (p * y).sum(dim=1)
    return (1.0 - (2.0 * overlap + s) / (p.sum(dim=1) + y.sum(dim=1) + s)).mean()


def _tversky(p: Tensor, y: Tensor, params: dict[str, Any]) -> Tensor:
    a, b, s = params.get("alpha", 0.5), params.get("beta", 0.5), params.get("smooth", 1e-6)
    tp = (p * y).sum(dim=1)
    fp = (p * (1.0 - y)).sum(dim=1)
    fn = ((1.0 - p) * y).sum(dim=1)
    return (1.0 - (tp + s) / (tp + a * fp + b * fn + s)).mean()


def _log_cosh(p: Tensor, y: Tensor, params: dict[str, Any]) -> Tensor:
    r = p - y
    return (r + F.softplus(-2.0 * r) - LOG_2).mean()


TORCH_LOSSES: dict[str, TorchLoss] = {
    "mean_squared_error": lambda p, y, params: F.mse_loss(p, y),
    "mean_absolute_error": lambda p, y, params: F.l1_loss(p, y),
    "root_mean_squared_error": lambda p, y, params: torch.sqrt(F.mse_loss(p, y)),
    "huber": lambda p, y, params: F.huber_loss(p, y, delta=params.get("delta", 1.0)),
    "smooth_l1": lambda p, y, params: F.smooth_l1_loss(p, y, beta=params.get("beta", 1.0)),
    "quantile": lambda p, y, params: torch.maximum(
        params.get("quantile", 0.5) * (y - p), (params.get("quantile", 0.5) - 1.0) * (y - p)
    ).mean(),
    "log_cosh": _log_cosh,
    "mean_squared_logarithmic_error": lambda p, y, params: (
        (torch.log1p(p) - torch.log1p(y)).square().mean()
    ),
    "mean_absolute_percentage_error": lambda p, y, params: (
        (p - y).abs() / y.abs().clamp(min=torch.finfo(torch.float64).eps)
    ).mean(),
    "poisson": lambda p, y, params: F.poisson_nll_loss(
        p, y, log_input=bool(params.get("log_input")), eps=params.get("eps", 1e-7)
    ),
    "tweedie_deviance": lambda p, y, params: _tweedie(p, y, float(params.get("power", 0.0))),
    "poisson_deviance": lambda p, y, params: _tweedie(p, y, 1.0),
    "gamma_deviance": lambda p, y, params: _tweedie(p, y, 2.0),
    "cosine_similarity": lambda p, y, params: (1.0 - F.cosine_similarity(p, y, dim=1)).mean(),
    "binary_cross_entropy": lambda p, y, params: (
        F.binary_cross_entropy_with_logits(p, y)
        if params.get("from_logits")
        else F.binary_cross_entropy(p, y)
    ),
    "binary_focal_cross_entropy": _binary_focal,
    "brier": lambda p, y, params: (p - y).square().mean(),
    "hinge": lambda p, y, params: F.relu(1.0 - _signs(y) * p).mean(),
    "squared_hinge": lambda p, y, params: F.relu(1.0 - _signs(y) * p).square().mean(),
    "soft_margin": lambda p, y, params: F.soft_margin_loss(p, _signs(y)),
    "categorical_hinge": _categorical_hinge,
    "multi_margin": lambda p, y, params: F.multi_margin_loss(
        p, y.long(), p=params.get("power", 1), margin=params.get("margin", 1.0)
    ),
    "categorical_cross_entropy": _cce,
    "categorical_focal_cross_entropy": _categorical_focal,
    "sparse_categorical_cross_entropy": _sparse_cce,
    "kl_divergence": _kl,
    "js_divergence": _js,
    "dice": _dice,
    "tversky": _tversky,
}
