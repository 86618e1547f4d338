"""Tests of tracking.plots: the Optuna study rebuilt from Ray trials and the logged PNG files."""

from __future__ import annotations

import logging

import matplotlib.image
import pytest
from mlflow import MlflowClient
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from tracking.plots import build_study, infer_distributions, log_study_plots
from tracking.runs import start_study_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def history(values):
    return [
        {"training_iteration": step, "epoch": step, "val_spearman": value, "train_loss": 1.0}
        for step, value in enumerate(values, start=1)
    ]


TRIALS = [
    {
        "trial_id": "t0",
        "state": "completed",
        "config": {"lr": 1e-5, "weight_decay": 0.0, "scaler": 1, "head": "hypernet", "seed": 42},
        "history": history([20.0, 30.0, 35.0]),
    },
    {
        "trial_id": "t1",
        "state": "completed",
        "config": {"lr": 1e-3, "weight_decay": 0.1, "scaler": 4, "head": "concat", "seed": 42},
        "history": history([25.0, 40.0, 44.0]),
    },
    {
        "trial_id": "t2",
        "state": "early_stopped",
        "config": {"lr": 3e-4, "weight_decay": 0.05, "scaler": 2, "head": "hypernet", "seed": 42},
        "history": history([10.0]),
    },
    {
        "trial_id": "t3",
        "state": "errored",
        "config": {"lr": 5e-5, "weight_decay": 0.01, "scaler": 1, "head": "concat", "seed": 42},
        "history": [],
    },
]


def test_infer_distributions_from_trial_configs():
    distributions = infer_distributions([trial["config"] for trial in TRIALS])

    assert set(distributions) == {"lr", "weight_decay", "scaler", "head"}
    assert distributions["lr"] == FloatDistribution(1e-5, 1e-3, log=True)
    assert distributions["weight_decay"] == FloatDistribution(0.0, 0.1, log=False)
    assert distributions["scaler"] == IntDistribution(1, 4)
    assert distributions["head"] == CategoricalDistribution(["concat", "hypernet"])


def test_build_study_maps_ray_states():
    study = build_study(TRIALS, "val_spearman", "max")

    trials = {trial.user_attrs["ray_trial_id"]: trial for trial in study.trials}
    assert study.direction.name == "MAXIMIZE"
    assert trials["t0"].state == TrialState.COMPLETE
    assert trials["t0"].value == 35.0
    assert trials["t1"].params == {"lr": 1e-3, "weight_decay": 0.1, "scaler": 4, "head": "concat"}
    assert trials["t2"].state == TrialState.PRUNED
    assert trials["t2"].intermediate_values == {1: 10.0}
    assert trials["t3"].state == TrialState.FAIL
    assert study.best_trial.user_attrs["ray_trial_id"] == "t1"


def test_log_study_plots_writes_and_logs_pngs(tracking_uri, tmp_path):
    _, run_id = start_study_run(tracking_uri, "study", "s", {}, {})

    paths = log_study_plots(
        tracking_uri, run_id, TRIALS, "val_spearman", "max", tmp_path / "plots"
    )

    assert sorted(path.name for path in paths) == [
        "learning_curves.png",
        "optimization_history.png",
        "parallel_coordinate.png",
        "param_importances.png",
    ]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        image = matplotlib.image.imread(path)
        assert image.shape[0] > 100
        assert image.shape[1] > 100
    logged = {entry.path for entry in MlflowClient(tracking_uri).list_artifacts(run_id, "plots")}
    assert logged == {f"plots/{path.name}" for path in paths}


def test_log_study_plots_skips_importances_for_one_completed(tracking_uri, tmp_path, caplog):
    _, run_id = start_study_run(tracking_uri, "study", "s", {}, {})
    trials = [TRIALS[0], TRIALS[2]]

    with caplog.at_level(logging.WARNING, logger="tracking.plots"):
        paths = log_study_plots(tracking_uri, run_id, trials, "val_spearman", "max", tmp_path)

    assert sorted(path.name for path in paths) == [
        "learning_curves.png",
        "optimization_history.png",
    ]
    assert "skipping the parameter importances and parallel coordinates" in caplog.text


def test_log_study_plots_without_completed_trials(tracking_uri, tmp_path, caplog):
    _, run_id = start_study_run(tracking_uri, "study", "s", {}, {})

    with caplog.at_level(logging.WARNING, logger="tracking.plots"):
        paths = log_study_plots(tracking_uri, run_id, TRIALS[2:], "val_spearman", "min", tmp_path)

    assert [path.name for path in paths] == ["learning_curves.png"]
    assert "no completed trial" in caplog.text


def test_log_study_plots_rejects_invalid_input(tracking_uri, tmp_path):
    bad_trial = {**TRIALS[0], "state": "PRUNED"}

    with pytest.raises(ValueError, match=r"trial t0 has invalid state 'PRUNED'; choose one of"):
        log_study_plots(tracking_uri, "run", [bad_trial], "val_spearman", "max", tmp_path)
    with pytest.raises(ValueError, match=r"invalid mode 'maximize'"):
        log_study_plots(tracking_uri, "run", TRIALS, "val_spearman", "maximize", tmp_path)
