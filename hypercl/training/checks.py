"""Up-front checks of a TrainConfig: everything that can be rejected before data or models load.

``check_config`` runs at the start of every training run and, in ``tune/run.py``, on each
search space's fixed settings and range ends before Ray starts a trial.
"""

from __future__ import annotations

from hypercl.training.config import ENCODINGS, PRECISIONS, TASKS, TrainConfig


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _at_least(config: TrainConfig, name: str, minimum: float, optional: bool = False) -> None:
    value = getattr(config, name)
    if optional and value is None:
        return
    if value is None or value < minimum:
        unset = " or unset" if optional else ""
        raise ValueError(f"{_flag(name)} must be >= {minimum}{unset}, got {value}")


def check_common(config: TrainConfig, hidden_size: int | None = None) -> None:
    """Check the settings shared by every task; ``hidden_size`` also bounds the scaler."""
    from hypercl.models.encoder import POOLERS
    from hypercl.models.heads import HEADS, validate_head_options

    choices = {
        "task": TASKS, "encoding": ENCODINGS, "precision": PRECISIONS,
        "pooler": POOLERS, "head": HEADS,
    }  # fmt: skip
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            raise ValueError(
                f"{_flag(name)} must be one of {allowed}, got {getattr(config, name)!r}"
            )
    if config.lr <= 0:
        raise ValueError(f"--lr must be > 0, got {config.lr}")
    if config.weight_decay < 0:
        raise ValueError(f"--weight-decay must be >= 0, got {config.weight_decay}")
    if not 0.0 <= config.warmup_ratio < 1.0:
        raise ValueError(f"--warmup-ratio must be in [0, 1), got {config.warmup_ratio}")
    if not 0.0 <= config.dropout < 1.0:
        raise ValueError(f"--dropout must be in [0, 1), got {config.dropout}")
    if config.max_grad_norm is not None and config.max_grad_norm <= 0:
        raise ValueError(f"--max-grad-norm must be > 0 or unset, got {config.max_grad_norm}")
    for name in ("epochs", "batch_size", "eval_batch_size", "grad_accum_steps"):
        _at_least(config, name, 1)
    _at_least(config, "max_seq_length", 2)
    _at_least(config, "eval_steps", 1, optional=True)
    if hidden_size is not None:
        validate_head_options(config.head, hidden_size, config.scaler, config.dropout)
    elif config.scaler < 1:
        raise ValueError(f"--scaler must be an integer >= 1, got {config.scaler}")


def check_config(config: TrainConfig, hidden_size: int | None = None) -> None:
    """Raise ``ValueError`` naming the option, the value and the fix for any invalid setting."""
    check_common(config, hidden_size)
    if config.task == "csts":
        from hypercl.tasks.csts import check_csts_config

        check_csts_config(config)
    else:
        from hypercl.tasks.kgc import check_kgc_config

        check_kgc_config(config)
