"""Search Hyper-CL hyperparameters with Ray Tune, Optuna and ASHA; track it in MLflow.

    python tune/run.py --task csts --space minilm --data-dir ../shared/data/csts \
        --num-samples 4 --max-epochs 2 --max-train-rows 1000 --max-eval-rows 1000

Writes Ray's results under ``--storage-path/NAME`` with ``summary.json``, logs the study to
MLflow (``./mlflow.db`` unless ``--tracking-uri``), registers the best model and prints the
command that opens the MLflow UI. ``--resume`` continues an interrupted study.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repository root importable instead of this folder, whose
    # module names (cli, search, study, ...) must not shadow top-level modules.
    _script_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _script_dir]
    sys.path.insert(0, str(_script_dir.parent))

# Defaults for this process and the Ray workers it starts; the user's values win.
for _key, _value in {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "RAY_AIR_NEW_OUTPUT": "1",
}.items():
    os.environ.setdefault(_key, _value)

import json  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402

logger = logging.getLogger("tune.run")


def main(argv: list[str] | None = None) -> int:
    from search_spaces import format_spaces
    from tune.cli import build_parser
    from tune.study import prepare_study

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    if args.list_spaces:
        print(format_spaces())
        return 0

    # checks that need neither Ray nor a trial: space, backbone, data, tracking URI
    try:
        study = prepare_study(args)
        from tracking.store import resolve_tracking_uri

        tracking_uri = resolve_tracking_uri(args.tracking_uri)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return run_study(study, args, tracking_uri)


def run_study(study, args, tracking_uri: str) -> int:
    import ray

    from tune.driver import build_tuner, fit_until_done_or_interrupted, open_tracking, start_ray

    started = time.perf_counter()
    meta = open_tracking(study, args, tracking_uri)
    logger.info("study %s: MLflow run %s at %s", study.name, meta["parent_run_id"], tracking_uri)
    from tracking.runs import end_run

    try:
        start_ray(args.address, args.cpus_per_trial, args.gpus_per_trial)
        grid, interrupted = fit_until_done_or_interrupted(build_tuner(study, args, meta))
        if interrupted:
            end_run(tracking_uri, meta["parent_run_id"], status="KILLED")
            print(
                f"search interrupted; finished trials and checkpoints are kept in "
                f"{study.experiment_path}. Continue it with the same arguments and --resume "
                f"(--name {study.name})",
                file=sys.stderr,
            )
            return 130
        return finish(study, args, grid, meta, time.perf_counter() - started)
    except ValueError as error:
        end_run(tracking_uri, meta["parent_run_id"], status="FAILED")
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BaseException:
        # Keep MLflow truthful about a search that crashed or was killed.
        end_run(tracking_uri, meta["parent_run_id"], status="FAILED")
        raise
    finally:
        ray.shutdown()


def finish(study, args, grid, meta: dict, wall_time_s: float) -> int:
    """Summarise, tag trial states, plot, register the best model; keep what is done on failure."""
    from tracking.store import ui_command
    from tune.driver import build_summary, holdout_validation
    from tune.results import (
        best_trial,
        format_table,
        prune_checkpoints,
        summarize_trials,
        write_summary,
    )

    searched = sorted(study.space.params)
    trials = summarize_trials(grid, study.metric, study.mode, study.max_t, searched)
    best = best_trial(trials, study.metric, study.mode)
    removed = prune_checkpoints(trials, study.metric, study.mode, args.keep_checkpoints)
    summary = build_summary(study, args, trials, best, wall_time_s)
    summary["checkpoints_removed"] = len(removed)
    if best is not None and args.selection == "holdout":
        summary["best"]["validation"] = holdout_validation(best)
    summary_path = study.experiment_path / "summary.json"
    write_summary(summary_path, summary)

    print()
    print(format_table(trials, study.metric, study.mode, args.top))
    print()
    print(f"trials: {json.dumps(summary['trials'])}; wall time {summary['wall_time_s']} s")
    print(f"summary: {summary_path}")
    track_outcome(study, args, trials, best, summary, meta)
    if best is None:
        print("error: no trial finished an evaluation; see the errors above", file=sys.stderr)
        return 1
    print(
        f"best trial {best.trial_id} ({best.state}), selected on {summary['selection_split']}: "
        f"{study.metric}={best.best[study.metric]:.4f} config={json.dumps(best.config)}"
    )
    print(f"MLflow UI: {ui_command(meta['tracking_uri'])}")
    return 0


def track_outcome(study, args, trials, best, summary: dict, meta: dict) -> None:
    """Log states, plots, summary and the registered model; a failure here loses no results."""
    from tracking.plots import log_study_plots
    from tracking.runs import set_trial_states
    from tune.driver import close_study_run
    from tune.results import write_summary

    uri, parent = meta["tracking_uri"], meta["parent_run_id"]
    set_trial_states(uri, parent, {trial.trial_id: trial.state for trial in trials})
    try:
        log_study_plots(
            uri,
            parent,
            [
                {
                    "trial_id": t.trial_id,
                    "state": t.state,
                    "config": t.config,
                    "history": t.history,
                }
                for t in trials
            ],
            study.metric,
            study.mode,
            study.experiment_path / "plots",
        )
    except (ValueError, RuntimeError, ImportError) as error:
        logger.warning("study plots not logged: %s", error)
    if best is not None and args.register:
        register(study, args, best, summary, meta)
    write_summary(study.experiment_path / "summary.json", summary)
    close_study_run(meta, summary, study.experiment_path / "summary.json", best)


def register(study, args, best, summary: dict, meta: dict) -> None:
    """Register the best checkpoint; on failure log the error and keep everything else."""
    from mlflow.exceptions import MlflowException

    from tracking.registry import register_best
    from tracking.runs import find_trial_runs
    from tune.driver import data_digest

    uri, parent = meta["tracking_uri"], meta["parent_run_id"]
    try:
        registration = register_best(
            uri,
            Path(best.checkpoint_path) / "model",
            task=args.task,
            space=study.space.name,
            metric=study.metric,
            mode=study.mode,
            metrics=summary["best"]["metrics"],
            data_digest=data_digest(best),
            parent_run_id=parent,
            trial_run_id=find_trial_runs(uri, parent).get(best.trial_id),
        )
    except (MlflowException, OSError, ValueError) as error:
        logger.error("registering the best checkpoint %s failed: %s", best.checkpoint_path, error)
        summary["registered_model"] = {"error": str(error)}
        return
    summary["registered_model"] = {
        "name": registration.name,
        "version": registration.version,
        "champion_moved": registration.champion_moved,
        "champion_version": registration.champion_version,
        "reason": registration.reason,
    }
    print(f"registered {registration.name} version {registration.version}: {registration.reason}")


if __name__ == "__main__":
    sys.exit(main())
