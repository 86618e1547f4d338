"""Resolve and check everything a search needs before Ray starts a single trial."""

from __future__ import annotations

import argparse
import json
import logging
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypercl.tasks import TASK_METRICS
from hypercl.training.checks import check_config
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
    if args.max_epochs is not None:
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
        from ray.tune import Tuner

        candidates = sorted(
            path.name
            for path in storage.glob(prefix + "*")
            if path.is_dir() and Tuner.can_restore(str(path))
        )
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
    check_budget_args(args)
    settings = trial_settings(args, space)
    model = settings.get("model", space.model)
    hidden_size = backbone_hidden_size(model)
    validate_space(space, hidden_size=hidden_size)

    name = resolve_name(args, space)
    experiment_path = check_experiment_path(args, name)

    base = {"task": args.task, "model": model, **space.fixed, **settings}
    config = TrainConfig.from_dict(base)
    check_trial_configs(space, base, hidden_size)
    check_scheduler_args(config.epochs, args.grace_period, args.reduction_factor)
    if args.selection == "holdout" and args.task != "csts":
        raise ValueError("--selection holdout is only defined for --task csts")
    if args.address:
        check_address(args.address)
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


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_budget_args(args: argparse.Namespace) -> None:
    """Reject budgets and resources that Ray would fail on later, or silently ignore."""
    at_least = {
        "--num-samples": (args.num_samples, 1),
        "--keep-checkpoints": (args.keep_checkpoints, 1),
        "--max-concurrent": (args.max_concurrent, 1),
        "--max-failures": (args.max_failures, 0),
        "--gpus-per-trial": (args.gpus_per_trial, 0),
    }
    if args.max_epochs is not None:
        at_least["--max-epochs"] = (args.max_epochs, 1)
    for option, (value, minimum) in at_least.items():
        if value < minimum:
            raise ValueError(f"{option} must be >= {minimum}, got {value}")
    if args.cpus_per_trial <= 0:
        raise ValueError(f"--cpus-per-trial must be > 0, got {args.cpus_per_trial}")
    if args.time_budget_s is not None and args.time_budget_s <= 0:
        raise ValueError(f"--time-budget-s must be > 0 seconds, got {args.time_budget_s}")
    if args.name is not None and not NAME_PATTERN.fullmatch(args.name):
        raise ValueError(
            f"--name {args.name!r} is not a plain folder name; use letters, digits, '.', '_' "
            "and '-', starting with a letter or digit"
        )


def check_experiment_path(args: argparse.Namespace, name: str) -> Path:
    """Return the study folder; with --resume it must hold a Ray experiment to restore."""
    from ray.tune import Tuner

    path = (Path(args.storage_path) / name).resolve()
    if args.resume:
        if not path.is_dir():
            raise ValueError(f"--resume: {path} does not exist; check --name and --storage-path")
        if not Tuner.can_restore(str(path)):
            raise ValueError(
                f"--resume: {path} contains no Ray experiment state (the search stopped before "
                "Ray started); run again without --resume under a new --name"
            )
    elif path.exists():
        raise ValueError(f"{path} already exists; pass --resume to continue it or a new --name")
    return path


def check_trial_configs(space: SearchSpace, base: dict[str, Any], hidden_size: int) -> None:
    """Check the trial settings at every end of every searched range, before any trial runs."""
    start = dict(space.points_to_evaluate[0]) if space.points_to_evaluate else {}
    for name, distribution in space.params.items():
        start.setdefault(name, _range_values(distribution)[0])
    check_config(TrainConfig.from_dict({**base, **start}), hidden_size)
    for name, distribution in space.params.items():
        for value in _range_values(distribution):
            config = TrainConfig.from_dict({**base, **start, name: value})
            try:
                check_config(config, hidden_size)
            except ValueError as error:
                raise ValueError(f"space {space.name}, {name}={value!r}: {error}") from None


def _range_values(distribution: Any) -> list[Any]:
    if distribution.choices is not None:
        return list(distribution.choices)
    return [distribution.low, distribution.high]


def check_address(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast when nothing listens at ``host:port`` (ray.init would retry for minutes)."""
    host, _, port = address.rpartition(":")
    if address == "auto":
        return
    if not host or not port.isdigit():
        raise ValueError(f"--address {address!r} is not host:port, e.g. 127.0.0.1:6379")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as error:
        raise ValueError(
            f"--address {address}: no Ray head node reachable ({error}); start one with "
            "`ray start --head --port PORT` or drop --address to start Ray locally"
        ) from None


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
