"""The Ray Tune trainable: one trial trains one configuration with the core trainer.

Each trial reports ``val_*`` metrics, ``train_loss``, ``epoch`` and ``step`` after every
evaluation, with a checkpoint (model + trainer state). When Ray restarts a trial, it resumes
from ``ray.tune.get_checkpoint()``. The trial opens its own MLflow run from the tracking URI
and parent run id passed in its config: nothing is inherited from the driver process.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import ray
import ray.tune
import torch

from hypercl.tasks import build_task
from hypercl.training.config import TrainConfig
from hypercl.training.trainer import Trainer

logger = logging.getLogger(__name__)

META_KEY = "hypercl_meta"
"""Config key holding settings of the study, not of the model (tracking URI, parent run)."""


def split_trial_config(config: dict[str, Any]) -> tuple[TrainConfig, dict[str, Any]]:
    """Separate the trial's TrainConfig from the study settings under ``META_KEY``."""
    values = {key: value for key, value in config.items() if key != META_KEY}
    return TrainConfig.from_dict(values), dict(config.get(META_KEY) or {})


def _open_trial_run(meta: dict[str, Any], train_config: TrainConfig):
    if not meta.get("tracking_uri"):
        return None
    from tracking.runs import TrialRun

    context = ray.tune.get_context()
    return TrialRun(
        tracking_uri=meta["tracking_uri"],
        experiment_id=meta["experiment_id"],
        parent_run_id=meta["parent_run_id"],
        trial_id=context.get_trial_id(),
        trial_name=context.get_trial_name(),
        params=train_config.to_dict(),
    )


def quiet_transformers() -> None:
    """Silence per-file progress bars and load reports that would flood Ray's trial logs."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def train_trial(config: dict[str, Any]) -> None:
    """Function trainable for ``ray.tune.Tuner``."""
    train_config, meta = split_trial_config(config)
    quiet_transformers()
    if meta.get("cpus_per_trial"):
        torch.set_num_threads(max(1, int(meta["cpus_per_trial"])))
    trial_run = _open_trial_run(meta, train_config)
    node_id = ray.get_runtime_context().get_node_id()

    def report(metrics: dict[str, float], checkpoint_dir: Path) -> None:
        if trial_run is not None:
            trial_run.log_metrics(metrics, step=int(metrics["step"]))
        checkpoint = ray.tune.Checkpoint.from_directory(str(checkpoint_dir))
        # node_id lets a multi-node study show where each trial ran (all nodes of a
        # loopback cluster share the IP 127.0.0.1).
        ray.tune.report({**metrics, "node_id": node_id}, checkpoint=checkpoint)

    work_dir = Path(tempfile.mkdtemp(prefix="hypercl-trial-"))
    try:
        task = build_task(train_config)
        if trial_run is not None:
            trial_run.log_dict(task.describe(), "data.json")
        trainer = Trainer(train_config, task, work_dir, callback=report)
        checkpoint = ray.tune.get_checkpoint()
        if checkpoint is None:
            trainer.fit()
        else:
            with checkpoint.as_directory() as resume_dir:
                trainer.fit(resume_from=resume_dir)
    except Exception:
        if trial_run is not None:
            trial_run.set_state("errored")
            trial_run.end(status="FAILED")
        raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    if trial_run is not None:
        trial_run.set_state("completed")
        trial_run.end()
