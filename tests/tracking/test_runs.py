"""Tests of tracking.runs on a real SQLite store: study and trial runs, resume, states, data."""

from __future__ import annotations

import json
import logging

import pytest
from mlflow import MlflowClient

from tracking.runs import (
    TrialRun,
    end_run,
    find_trial_runs,
    log_dataset,
    set_trial_states,
    start_study_run,
)


def start_study(tracking_uri, run_id=None, params=None):
    return start_study_run(
        tracking_uri,
        "study",
        "csts-minilm",
        tags={"space": "minilm", "task": "csts"},
        params=params if params is not None else {"num_samples": 4, "metric": "val_spearman"},
        run_id=run_id,
    )


def child_runs(client, experiment_id, parent_run_id):
    return client.search_runs(
        [experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'"
    )


def test_study_run_logs_params_and_tags(tracking_uri):
    experiment_id, run_id = start_study(tracking_uri)

    run = MlflowClient(tracking_uri).get_run(run_id)
    assert run.info.experiment_id == experiment_id
    assert run.info.run_name == "csts-minilm"
    assert run.info.status == "RUNNING"
    assert run.data.params == {"num_samples": "4", "metric": "val_spearman"}
    assert run.data.tags["space"] == "minilm"
    assert run.data.tags["task"] == "csts"


def test_trial_run_nests_under_parent(tracking_uri):
    experiment_id, parent_run_id = start_study(tracking_uri)

    trial = TrialRun(
        tracking_uri,
        experiment_id,
        parent_run_id,
        "abc_00000",
        "trial_0",
        {"lr": 1e-4, "dual": True},
    )
    trial.log_metrics({"val_spearman": 41.5, "train_loss": 0.9, "epoch": 1}, step=1)
    trial.log_metrics({"val_spearman": 47.25, "train_loss": 0.7, "epoch": 2}, step=2)

    client = MlflowClient(tracking_uri)
    run = client.get_run(trial.run_id)
    assert run.info.run_name == "trial_0"
    assert run.data.tags["mlflow.parentRunId"] == parent_run_id
    assert run.data.tags["ray_trial_id"] == "abc_00000"
    assert run.data.tags["ray_trial_name"] == "trial_0"
    assert run.data.tags["trial_state"] == "running"
    assert run.data.params == {"lr": "0.0001", "dual": "True"}
    history = client.get_metric_history(trial.run_id, "val_spearman")
    assert [(metric.step, metric.value) for metric in history] == [(1, 41.5), (2, 47.25)]
    assert client.get_run(parent_run_id).data.params["num_samples"] == "4"


def test_trial_run_reuses_run_for_same_trial(tracking_uri):
    experiment_id, parent_run_id = start_study(tracking_uri)
    first = TrialRun(
        tracking_uri, experiment_id, parent_run_id, "abc_00001", "trial_1", {"lr": 0.1}
    )
    first.log_metrics({"val_spearman": 10.0}, step=1)
    first.end("KILLED")

    second = TrialRun(
        tracking_uri, experiment_id, parent_run_id, "abc_00001", "trial_1", {"lr": 0.1}
    )
    second.log_metrics({"val_spearman": 12.0}, step=2)
    other = TrialRun(
        tracking_uri, experiment_id, parent_run_id, "abc_00002", "trial_2", {"lr": 0.2}
    )

    client = MlflowClient(tracking_uri)
    assert second.run_id == first.run_id
    assert other.run_id != first.run_id
    assert len(child_runs(client, experiment_id, parent_run_id)) == 2
    assert client.get_run(first.run_id).info.status == "RUNNING"
    steps = [metric.step for metric in client.get_metric_history(first.run_id, "val_spearman")]
    assert steps == [1, 2]
    assert find_trial_runs(tracking_uri, parent_run_id) == {
        "abc_00001": first.run_id,
        "abc_00002": other.run_id,
    }


def test_study_run_reopens_by_id(tracking_uri, caplog):
    experiment_id, run_id = start_study(tracking_uri)
    end_run(tracking_uri, run_id, "KILLED")

    with caplog.at_level(logging.WARNING, logger="tracking.runs"):
        reopened = start_study(
            tracking_uri, run_id=run_id, params={"num_samples": 8, "resumed_from": "checkpoint"}
        )

    run = MlflowClient(tracking_uri).get_run(run_id)
    assert reopened == (experiment_id, run_id)
    assert run.info.status == "RUNNING"
    assert run.data.params["num_samples"] == "4"
    assert run.data.params["resumed_from"] == "checkpoint"
    assert "param num_samples of run" in caplog.text
    assert "cannot change a logged param" in caplog.text


def test_study_run_rejects_run_of_other_experiment(tracking_uri):
    _, run_id = start_study(tracking_uri)

    with pytest.raises(ValueError, match=f"run {run_id} belongs to experiment .* not to 'other'"):
        start_study_run(tracking_uri, "other", "again", {}, {}, run_id=run_id)


def test_set_trial_states_ends_running_runs(tracking_uri, caplog):
    experiment_id, parent_run_id = start_study(tracking_uri)
    runs = {
        trial_id: TrialRun(tracking_uri, experiment_id, parent_run_id, trial_id, trial_id, {})
        for trial_id in ("t_done", "t_stopped", "t_failed")
    }
    runs["t_done"].set_state("completed")
    runs["t_done"].end("FINISHED")

    with caplog.at_level(logging.WARNING, logger="tracking.runs"):
        set_trial_states(
            tracking_uri,
            parent_run_id,
            {
                "t_done": "completed",
                "t_stopped": "early_stopped",
                "t_failed": "errored",
                "t_missing": "completed",
            },
        )

    client = MlflowClient(tracking_uri)
    result = {
        trial_id: (run.data.tags["trial_state"], run.info.status)
        for trial_id, run in ((t, client.get_run(r.run_id)) for t, r in runs.items())
    }
    assert result["t_done"] == ("completed", "FINISHED")
    assert result["t_stopped"] == ("early_stopped", "KILLED")
    assert result["t_failed"] == ("errored", "FAILED")
    assert "trial t_missing has no MLflow run" in caplog.text


def test_set_trial_states_rejects_unknown_state(tracking_uri):
    _, parent_run_id = start_study(tracking_uri)

    with pytest.raises(ValueError, match=r"invalid trial state 'pruned'; choose one of \("):
        set_trial_states(tracking_uri, parent_run_id, {"t": "pruned"})


def test_trial_run_rejects_invalid_state_and_status(tracking_uri):
    experiment_id, parent_run_id = start_study(tracking_uri)
    trial = TrialRun(tracking_uri, experiment_id, parent_run_id, "t", "t", {})

    with pytest.raises(ValueError, match="invalid trial state 'done'"):
        trial.set_state("done")
    with pytest.raises(ValueError, match=r"invalid run status 'OK'; choose one of \('FINISHED'"):
        trial.end("OK")


def test_trial_run_rejects_quote_in_trial_id(tracking_uri):
    experiment_id, parent_run_id = start_study(tracking_uri)

    with pytest.raises(ValueError, match="must not contain a single quote"):
        TrialRun(tracking_uri, experiment_id, parent_run_id, "it's", "t", {})


def test_log_metrics_skips_non_numbers(tracking_uri):
    experiment_id, parent_run_id = start_study(tracking_uri)
    trial = TrialRun(tracking_uri, experiment_id, parent_run_id, "t", "t", {})

    trial.log_metrics(
        {"val_spearman": 50, "done": True, "trial_id": "t", "config": {"lr": 1}, "step": 3}, step=3
    )

    metrics = MlflowClient(tracking_uri).get_run(trial.run_id).data.metrics
    assert metrics == {"val_spearman": 50.0, "step": 3.0}


def test_trial_run_log_dict(tracking_uri, tmp_path):
    experiment_id, parent_run_id = start_study(tracking_uri)
    trial = TrialRun(tracking_uri, experiment_id, parent_run_id, "t", "t", {})

    trial.log_dict({"lr": 0.001, "head": "hypernet"}, "config.json")

    client = MlflowClient(tracking_uri)
    path = client.download_artifacts(trial.run_id, "config.json", str(tmp_path))
    assert json.loads(open(path).read()) == {"lr": 0.001, "head": "hypernet"}


def test_log_dataset_records_metadata_only(tracking_uri):
    _, run_id = start_study(tracking_uri)
    digest = "a" * 64

    log_dataset(run_id, tracking_uri, "csts", digest, {"train": 11, "validation": 4})

    inputs = MlflowClient(tracking_uri).get_run(run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert dataset.name == "csts"
    assert dataset.digest == digest[:36]
    assert dataset.source_type == "code"
    assert json.loads(dataset.source) == {"tags": {"digest": digest}}
    assert json.loads(dataset.profile) == {"num_rows": 15, "rows_train": 11, "rows_validation": 4}
    tags = {tag.key: tag.value for tag in inputs[0].tags}
    assert tags == {"mlflow.data.context": "training", "rows.train": "11", "rows.validation": "4"}


def test_study_run_rejects_unknown_run_id(tracking_uri):
    with pytest.raises(
        ValueError, match="study run 0123abcd not found in sqlite:///.*--tracking-uri"
    ):
        start_study(tracking_uri, run_id="0123abcd")
