"""A tiny search logged to a real MLflow tracking server on 127.0.0.1, checked over REST."""

import json

import pytest
from mlflow import MlflowClient

from tests.tracking.conftest import tracking_server  # noqa: F401 - pytest fixture
from tests.tune.conftest import run_tune

pytestmark = pytest.mark.slow


def test_search_logs_to_tracking_server(tmp_path, tiny_setup, tracking_server):  # noqa: F811
    result = run_tune(
        ["--space", str(tiny_setup["space"]), "--data-dir", str(tiny_setup["data"]),
         "--num-samples", "2", "--max-concurrent", "2", "--cpus-per-trial", "1",
         "--max-epochs", "2", "--name", "served", "--tracking-uri", tracking_server],
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "ray_results" / "served" / "summary.json").read_text())

    # nothing went to a local store: the trials used the URI they were given
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "mlruns").exists()

    client = MlflowClient(tracking_server)
    experiment = client.get_experiment_by_name("served")
    runs = client.search_runs([experiment.experiment_id])
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    assert len(parents) == 1
    assert len(children) == 2
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in children)
    assert {r.data.tags["ray_trial_id"] for r in children} == set(summary["trial_states"])
    assert all(r.data.params["encoding"] == "tri_encoder" for r in children)
    assert parents[0].info.status == "FINISHED"

    version = client.get_model_version_by_alias("hypercl-csts-tiny", "champion")
    assert version.tags["metric"] == "val_spearman"
    best = summary["best"]["metrics"]["val_spearman"]
    assert float(version.tags["metric.val_spearman"]) == best
    assert f"MLflow UI: open {tracking_server}" in result.stdout
