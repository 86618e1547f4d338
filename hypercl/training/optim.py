"""AdamW with decoupled weight decay groups and the linear warmup/decay schedule."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

NO_DECAY_MARKERS = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Split trainable parameters into a decayed group and a group without weight decay.

    Biases, LayerNorm weights and other vectors or scalars (a learned temperature) get no
    weight decay, as in BERT-style fine-tuning.
    """
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if any(marker in name for marker in NO_DECAY_MARKERS) or parameter.ndim <= 1:
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    if lr <= 0:
        raise ValueError(f"--lr must be > 0, got {lr}")
    if weight_decay < 0:
        raise ValueError(f"--weight-decay must be >= 0, got {weight_decay}")
    return torch.optim.AdamW(
        parameter_groups(model, weight_decay), lr=lr, betas=(0.9, 0.999), eps=1e-8
    )


def count_optimizer_steps(batches_per_epoch: int, epochs: int, grad_accum_steps: int) -> int:
    """Return the number of optimizer steps that training really takes.

    The last accumulation window of an epoch is stepped even when it is shorter than
    ``grad_accum_steps``, so each epoch takes ceil(batches / accumulation) steps.
    """
    return math.ceil(batches_per_epoch / grad_accum_steps) * epochs


def linear_schedule(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float
) -> LambdaLR:
    """Linear warmup over ``warmup_ratio`` of the steps, then linear decay to zero."""
    if not 0.0 <= warmup_ratio < 1.0:
        raise ValueError(f"--warmup-ratio must be in [0, 1), got {warmup_ratio}")
    warmup_steps = int(warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        remaining = total_steps - step
        return max(0.0, remaining / max(1, total_steps - warmup_steps))

    return LambdaLR(optimizer, factor)
