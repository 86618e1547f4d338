"""Task adapters: C-STS (``csts``) and knowledge-graph completion (``kgc``)."""

from __future__ import annotations

from torch import nn

from hypercl.tasks.base import Task
from hypercl.training.checks import check_config
from hypercl.training.config import TASKS, TrainConfig
from hypercl.training.state import seed_everything

TASK_METRICS = {"csts": ("val_spearman", "max"), "kgc": ("val_mrr", "max")}


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"--task must be one of {TASKS}, got {task!r}")


def build_task(config: TrainConfig) -> Task:
    """Load the data, tokenise it once and build the model for ``config.task``.

    Seeds every generator first, so the new head weights depend only on ``config.seed``.
    """
    check_task(config.task)
    check_config(config)
    seed_everything(config.seed)
    if config.task == "csts":
        from hypercl.tasks.csts import build_csts_task

        return build_csts_task(config)
    from hypercl.tasks.kgc import build_kgc_task

    return build_kgc_task(config)


def build_model(config: TrainConfig, encoder: nn.Module) -> nn.Module:
    """Build the task's model around an already loaded encoder (used when loading checkpoints)."""
    check_task(config.task)
    if config.task == "csts":
        from hypercl.models.csts import build_csts_model

        return build_csts_model(config, encoder)
    from hypercl.models.kgc import build_kgc_model

    return build_kgc_model(config, encoder)


__all__ = ["TASK_METRICS", "Task", "build_model", "build_task", "check_task"]
