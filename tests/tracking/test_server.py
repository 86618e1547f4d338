"""A study logged through a real ``mlflow server`` on 127.0.0.1, checked over its REST API."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

import hypercl
from tests.tracking.conftest import CONDITIONS, SENTENCES1, SENTENCES2
from tracking.export import export_model
from tracking.registry import register_best
from tracking.runs import TrialRun, find_trial_runs, set_trial_states, start_study_run

pytestmark = pytest.mark.slow


def test_study_through_tracking_server(
    tracking_server, trained_model_dir, expected_scores, tmp_path
):
    experiment_id, parent_run_id = start_study_run(
        tracking_server, "server-study", "study", {"space": "tiny"}, {"num_samples": 2}
    )
    trials = [
        TrialRun(tracking_server, experiment_id, parent_run_id, f"t{i}", f"trial_{i}", {"lr": lr})
        for i, lr in enumerate((1e-4, 3e-4))
    ]
    for step, (first, second) in enumerate(((30.0, 20.0), (40.0, 25.0)), start=1):
        trials[0].log_metrics({"val_spearman": first}, step=step)
        trials[1].log_metrics({"val_spearman": second}, step=step)
    set_trial_states(tracking_server, parent_run_id, {"t0": "completed", "t1": "early_stopped"})
    registration = register_best(
        tracking_server,
        trained_model_dir,
        task="csts",
        space="tiny",
        metric="val_spearman",
        mode="max",
        metrics={"val_spearman": 40.0},
        data_digest="d1",
        parent_run_id=parent_run_id,
        trial_run_id=trials[0].run_id,
    )

    client = MlflowClient(tracking_server)
    experiment = client.get_experiment(experiment_id)
    assert experiment.artifact_location.startswith("mlflow-artifacts:")
    assert client.get_run(parent_run_id).data.params == {"num_samples": "2"}
    children = client.search_runs(
        [experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'"
    )
    assert sorted(run.data.tags["ray_trial_id"] for run in children) == ["t0", "t1"]
    assert find_trial_runs(tracking_server, parent_run_id) == {
        "t0": trials[0].run_id,
        "t1": trials[1].run_id,
    }
    stopped = client.get_run(trials[1].run_id)
    assert stopped.info.status == "KILLED"
    assert stopped.data.tags["trial_state"] == "early_stopped"
    history = client.get_metric_history(trials[0].run_id, "val_spearman")
    assert [(metric.step, metric.value) for metric in history] == [(1, 30.0), (2, 40.0)]
    assert registration.champion_moved
    champion = client.get_model_version_by_alias(registration.name, "champion")
    assert str(champion.version) == registration.version
    assert champion.run_id == trials[0].run_id
    assert champion.tags["metric.val_spearman"] == "40.0"

    output_dir = export_model(
        f"models:/{registration.name}@champion", tmp_path / "export", tracking_uri=tracking_server
    )
    scores = hypercl.load(output_dir).similarity(SENTENCES1, SENTENCES2, CONDITIONS)
    assert scores == pytest.approx(expected_scores, abs=1e-6)
