"""Resolve and check everything a search needs before Ray starts a single trial."""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypercl.tasks import TASK_METRICS
from hypercl.training.config import TrainConfig
from search_spaces import SearchSpace, get_space, to_tune_param_space, validate_space
from tune.search import check_scheduler_args

logger = logging.getLogger(__name__)

STUDY_FILE = "hypercl_study.json"


@dataclass
class Study:
    """A resolved search: space, trial settings, where results go and how it is tracked."""

    name: str
    space: SearchSpace
    trial_settings: dict[str, Any]
    experiment_path: Path
    max_t: int
    metric: str
    mode: str
    resume: bool = False
    record: dict[str, Any] = field(default_factory=dict)

    def param_space(self, meta: dict[str, Any]) -> dict[str, Any]:
        from tune.trainable import META_KEY

        return {**to_tune_param_space(self.space), **self.trial_settings, META_KEY: meta}


def backbone_hidden_size(model: str) -> int:
    """Read the backbone's hidden size from its local config; fails fast when it is missing."""
    from hypercl.models.encoder import resolve_model_path

    config_path = Path(resolve_model_path(model)) / "config.json"
    config = json.loads(config_path.read_text())
    for key in ("hidden_size", "d_model", "dim"):
        if key in config:
            return int(config[key])
    raise ValueError(f"{config_path} has no hidden_size; is {model!r} a transformer encoder?")


def check_metric(space: SearchSpace, task: str) -> tuple[str, str]:
    """The metric the space selects on must be the one the task's trainable reports."""
    reported, mode = TASK_METRICS[task]
    if space.task != task:
        raise ValueError(
            f"--space {space.name} is for --task {space.task}, not --task {task}; "
            f"pick a {task} space (python tune/run.py --list-spaces)"
        )
    if space.metric != reported or space.mode != mode:
        raise ValueError(
            f"space {space.name} selects on {space.metric} ({space.mode}) but --task {task} "
            f"trials report {reported} ({mode}); set metric: {reported} and mode: {mode}"
        )
    return reported, mode


def trial_settings(args: argparse.Namespace, space: SearchSpace) -> dict[str, Any]:
    """TrainConfig values that the command line sets for every trial."""
    settings: dict[str, Any] = {"seed": args.seed, "selection": args.selection}
    if args.model:
        settings["model"] = args.model
    if args.data_dir:
        settings["data_dir"] = str(Path(args.data_dir).resolve())
    if args.password_file:
        settings["password_file"] = str(Path(args.password_file).resolve())
    if args.max_epochs:
        settings["epochs"] = args.max_epochs
    for name in ("max_train_rows", "max_eval_rows", "eval_max_triples"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    settings["device"] = "cuda" if args.gpus_per_trial > 0 else "cpu"
    settings["num_threads"] = max(1, int(args.cpus_per_trial))
    searched = set(space.params)
    overlap = searched & set(settings)
    if overlap:
        raise ValueError(
            f"{sorted(overlap)} are searched by space {space.name}; do not also set them "
            "on the command line"
        )
    return settings


def resolve_name(args: argparse.Namespace, space: SearchSpace) -> str:
    """Return --name if given, else the latest study of this task and space with --resume,
    else a new timestamped name."""
    if args.name:
        return args.name
    prefix = f"{args.task}-{space.name}-"
    if args.resume:
        storage = Path(args.storage_path)
        candidates = sorted(path.name for path in storage.glob(prefix + "*") if path.is_dir())
        if not candidates:
            raise ValueError(
                f"--resume: no study named {prefix}* in {storage.resolve()}; pass --name"
            )
        return candidates[-1]
    return prefix + time.strftime("%Y%m%d-%H%M%S")


def prepare_study(args: argparse.Namespace) -> Study:
    """Check the space, the backbone, the data and the budget; nothing is started yet."""
    space = get_space(args.space)
    metric, mode = check_metric(space, args.task)
    settings = trial_settings(args, space)
    model = settings.get("model", space.model)
    validate_space(space, hidden_size=backbone_hidden_size(model))

    name = resolve_name(args, space)
    experiment_path = (Path(args.storage_path) / name).resolve()
    if args.resume and not experiment_path.is_dir():
        raise ValueError(
            f"--resume: {experiment_path} does not exist; check --name and --storage-path"
        )
    if not args.resume and experiment_path.exists():
        raise ValueError(
            f"{experiment_path} already exists; pass --resume to continue it or a new --name"
        )
    if args.num_samples < 1:
        raise ValueError(f"--num-samples must be >= 1, got {args.num_samples}")
    if args.keep_checkpoints < 1:
        raise ValueError(f"--keep-checkpoints must be >= 1, got {args.keep_checkpoints}")
    if args.max_concurrent < 1:
        raise ValueError(f"--max-concurrent must be >= 1, got {args.max_concurrent}")

    config = TrainConfig.from_dict({"task": args.task, "model": model, **space.fixed, **settings})
    check_scheduler_args(config.epochs, args.grace_period, args.reduction_factor)
    if args.selection == "holdout" and args.task != "csts":
        raise ValueError("--selection holdout is only defined for --task csts")
    _check_data(config)
    return Study(
        name=name,
        space=space,
        trial_settings=settings,
        experiment_path=experiment_path,
        max_t=config.epochs,
        metric=metric,
        mode=mode,
        resume=args.resume,
    )


def _check_data(config: TrainConfig) -> None:
    """Decrypt (once per machine, into the cache) and validate the data before any trial."""
    if config.data_dir is None:
        raise ValueError(f"--data-dir is required for --task {config.task}")
    if config.task == "csts":
        from hypercl.data.archive import resolve_csts_dir
        from hypercl.data.csts import load_csts

        # Each node decrypts once into its own cache; trials on it find the files there.
        data_dir = resolve_csts_dir(config.data_dir, config.password_file)
        load_csts(data_dir, splits=("train", "validation"))
    else:
        from hypercl.data.kgc import kgc_stats

        kgc_stats(config.data_dir)


def config_record(study: Study) -> dict[str, Any]:
    return {
        "name": study.name,
        "space": study.space.to_dict(),
        "trial_settings": study.trial_settings,
        "metric": study.metric,
        "mode": study.mode,
        "max_t": study.max_t,
    }
