"""The interface between the generic trainer and a task (C-STS or knowledge-graph completion)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import torch
from torch import nn


class Task(Protocol):
    """Interface of a task to the trainer: a model, training batches, a loss and an evaluation.

    A task owns its data (tokenised once) and its model. The trainer owns the optimiser,
    the schedule, precision, checkpoints and reporting.
    """

    metric: str
    """Name of the validation metric that selects the best checkpoint, e.g. ``val_spearman``."""

    mode: str
    """``max`` or ``min``: the direction in which ``metric`` improves."""

    model: nn.Module

    tokenizer: Any
    """The encoder's tokenizer, saved with every checkpoint."""

    def num_train_batches(self) -> int:
        """Number of batches that ``train_batches`` yields per epoch."""
        ...

    def train_batches(self, epoch: int) -> Iterator[Any]:
        """Yield the training batches of one epoch, shuffled deterministically by seed and epoch."""
        ...

    def batch_size(self, batch: Any) -> int:
        """Number of training examples in ``batch``, for throughput figures."""
        ...

    def loss(self, batch: Any, device: torch.device) -> torch.Tensor:
        """Move ``batch`` to ``device``, run the model and return the scalar training loss."""
        ...

    def evaluate(self, device: torch.device) -> dict[str, float]:
        """Score the selection split and return metrics named ``val_*``."""
        ...

    def describe(self) -> dict[str, Any]:
        """Sizes and digests of the data, logged with the run (never the data itself)."""
        ...
