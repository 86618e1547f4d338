"""The search from start to finish: tracking, Ray, the Tuner, and what is kept at the end."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import ray
from ray import tune

from tune.results import (
    TrialSummary,
    clean_metrics,
    count_states,
)
from tune.search import build_scheduler, build_searcher
from tune.study import STUDY_FILE, Study, config_record
from tune.trainable import train_trial

logger = logging.getLogger(__name__)

# Passed to every Ray worker: no usage reports, no MLflow telemetry, no hub downloads.
WORKER_ENV = (
    "RAY_USAGE_STATS_ENABLED",
    "MLFLOW_DISABLE_TELEMETRY",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "TOKENIZERS_PARALLELISM",
    "HYPERCL_CACHE",
    "CSTS_PASSWORD",
)


def git_commit() -> str:
    try:
        output = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return output.stdout.strip() or "unknown"


def open_tracking(study: Study, args: argparse.Namespace, tracking_uri: str) -> dict[str, str]:
    """Open (or on --resume reopen) the study's parent MLflow run; return the trial meta."""
    from tracking.runs import start_study_run

    study_file = study.experiment_path / STUDY_FILE
    previous = {}
    if study.resume and study_file.is_file():
        import json

        previous = json.loads(study_file.read_text())
    tags = {
        "task": args.task,
        "space": study.space.name,
        "backbone": study.trial_settings.get("model", study.space.model),
        "searcher": f"OptunaSearch(TPESampler(seed={args.seed}))",
        "scheduler": f"ASHA(max_t={study.max_t}, grace_period={args.grace_period}, "
        f"reduction_factor={args.reduction_factor})",
        "selection": args.selection,
        "git_commit": git_commit(),
        "ray_address": args.address or "local",
        "num_samples": str(args.num_samples),
    }
    params = {f"space.{key}": value for key, value in _flatten(study.space.to_dict()).items()}
    experiment_id, run_id = start_study_run(
        tracking_uri,
        study.name,
        run_name=study.name,
        tags=tags,
        params=params,
        run_id=previous.get("parent_run_id"),
    )
    meta = {
        "tracking_uri": tracking_uri,
        "experiment_id": experiment_id,
        "parent_run_id": run_id,
        "cpus_per_trial": args.cpus_per_trial,
    }
    study.experiment_path.mkdir(parents=True, exist_ok=True)
    record = {**config_record(study), **meta}
    study_file.write_text(__import__("json").dumps(record, indent=2, default=str) + "\n")
    return meta


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def start_ray(address: str | None, cpus_per_trial: float, gpus_per_trial: float) -> None:
    """Join ``address`` or start Ray in this process, then check a trial fits on a node."""
    env_vars = {key: os.environ[key] for key in WORKER_ENV if key in os.environ}
    ray.init(
        address=address,
        runtime_env={"env_vars": env_vars},
        include_dashboard=False,
        logging_level=logging.WARNING,
    )
    largest_cpu = max(
        (node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]), default=0
    )
    largest_gpu = max(
        (node["Resources"].get("GPU", 0) for node in ray.nodes() if node["Alive"]), default=0
    )
    if cpus_per_trial > largest_cpu or gpus_per_trial > largest_gpu:
        raise ValueError(
            f"a trial needs {cpus_per_trial} CPU and {gpus_per_trial} GPU but the largest Ray "
            f"node has {largest_cpu} CPU and {largest_gpu} GPU; lower --cpus-per-trial / "
            "--gpus-per-trial"
        )


def build_tuner(study: Study, args: argparse.Namespace, meta: dict[str, Any]) -> tune.Tuner:
    trainable = tune.with_resources(
        train_trial, {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial}
    )
    param_space = study.param_space(meta)
    if study.resume:
        logger.info(
            "resuming %s (finished trials are kept, Optuna's state is restored)",
            study.experiment_path,
        )
        return tune.Tuner.restore(
            str(study.experiment_path),
            trainable=trainable,
            resume_errored=True,
            param_space=param_space,
        )
    searcher = build_searcher(
        study.metric,
        study.mode,
        args.seed,
        list(study.space.points_to_evaluate),
        args.max_concurrent,
        study.max_t,
    )
    scheduler = build_scheduler(
        study.metric, study.mode, study.max_t, args.grace_period, args.reduction_factor
    )
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=args.num_samples,
            time_budget_s=args.time_budget_s,
            trial_name_creator=short_trial_name,
            trial_dirname_creator=short_trial_name,
        ),
        run_config=tune.RunConfig(
            name=study.name,
            storage_path=str(study.experiment_path.parent),
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=1,
                checkpoint_score_attribute=study.metric,
                checkpoint_score_order=study.mode,
            ),
            failure_config=tune.FailureConfig(max_failures=args.max_failures),
        ),
    )


def short_trial_name(trial) -> str:
    """``trial_<id>``: Ray's default folder name repeats the whole config and grows too long."""
    return f"trial_{trial.trial_id}"


def holdout_validation(trial: TrialSummary) -> dict[str, float]:
    """Score the holdout-selected model on the untouched validation split."""
    import hypercl
    from hypercl.data.archive import resolve_csts_dir
    from hypercl.data.csts import load_csts
    from hypercl.evaluation.csts import correlation_metrics

    model = hypercl.load(Path(trial.checkpoint_path) / "model")
    config = model.config
    rows = load_csts(
        resolve_csts_dir(config.data_dir, config.password_file), splits=("validation",)
    )["validation"]
    if config.max_eval_rows:
        rows = rows[: config.max_eval_rows - config.max_eval_rows % 2]
    scores = model.similarity(
        [r.sentence1 for r in rows], [r.sentence2 for r in rows], [r.condition for r in rows]
    )
    metrics = correlation_metrics(scores, [r.label for r in rows])
    return {"validation_spearman": metrics["spearman"], "validation_pearson": metrics["pearson"]}


def build_summary(
    study: Study,
    args: argparse.Namespace,
    trials: list[TrialSummary],
    best: TrialSummary | None,
    wall_time_s: float,
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "study": study.name,
        "task": args.task,
        "space": study.space.name,
        "metric": study.metric,
        "mode": study.mode,
        "selection_split": "validation"
        if args.selection == "validation"
        else "holdout (10% of train)",
        "trials": count_states(trials),
        "num_trials": len(trials),
        "wall_time_s": round(wall_time_s, 1),
        "experiment_path": str(study.experiment_path),
        "trial_states": {trial.trial_id: trial.state for trial in trials},
        "nodes": sorted({node for trial in trials for node in trial.node_ids}),
    }
    if best is not None:
        summary["best"] = {
            "trial_id": best.trial_id,
            "state": best.state,
            "config": best.config,
            "full_config": {key: value for key, value in best.last.get("config", {}).items()},
            "metrics": clean_metrics(best.best),
            "checkpoint_path": best.checkpoint_path,
        }
    return summary


def close_study_run(
    meta: dict[str, str], summary: dict[str, Any], summary_path: Path, best: TrialSummary | None
) -> None:
    """Log the summary, best metrics and data digest to the parent run, then end it."""
    from mlflow import MlflowClient

    from tracking.runs import end_run, log_dataset

    client = MlflowClient(meta["tracking_uri"])
    run_id = meta["parent_run_id"]
    client.log_artifact(run_id, str(summary_path))
    for state, count in summary["trials"].items():
        client.log_metric(run_id, f"trials_{state}", count)
    if best is not None:
        for key, value in summary["best"]["metrics"].items():
            client.log_metric(run_id, f"best_{key}", value)
        client.set_tag(run_id, "best_trial_id", best.trial_id)
        data = _checkpoint_data(best)
        if data.get("digest"):
            sizes = {
                key: value
                for key, value in data.items()
                if key.endswith("_rows") and isinstance(value, int)
            }
            log_dataset(
                run_id,
                meta["tracking_uri"],
                str(data.get("dataset", "data")),
                str(data["digest"]),
                sizes,
            )
    end_run(meta["tracking_uri"], run_id)


def _checkpoint_data(best: TrialSummary) -> dict[str, Any]:
    """Read the data description (name, sizes, digest) that the best checkpoint recorded."""
    import json

    path = Path(best.checkpoint_path or "") / "model" / "data.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def data_digest(best: TrialSummary) -> str:
    return str(_checkpoint_data(best).get("digest", "unknown"))


def fit_until_done_or_interrupted(tuner: tune.Tuner):
    """Run ``tuner.fit()``; return (results, whether Ctrl-C / SIGINT interrupted the search).

    Ray Tune catches the first SIGINT itself, saves the experiment and returns normally. Its
    handler puts back the handler it replaced, so finding our own handler in place after
    ``fit`` means Ray received the signal.
    """

    def on_interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        grid = tuner.fit()
        interrupted = signal.getsignal(signal.SIGINT) is on_interrupt
    finally:
        signal.signal(signal.SIGINT, previous)
    return grid, interrupted
