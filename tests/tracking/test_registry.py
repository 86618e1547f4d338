"""Tests of tracking.registry: pyfunc logging, versions, tags and the champion alias rules."""

from __future__ import annotations

import math

import pytest
from mlflow import MlflowClient

from tracking.registry import beats, model_signature, pip_requirements, register_best
from tracking.runs import TrialRun, start_study_run

NAME = "hypercl-csts-tiny"


def new_trial(tracking_uri, trial_id):
    experiment_id, parent_run_id = start_study_run(tracking_uri, "study", "s", {}, {})
    trial = TrialRun(tracking_uri, experiment_id, parent_run_id, trial_id, trial_id, {"lr": 0.01})
    return parent_run_id, trial.run_id


def register(tracking_uri, model_dir, value, digest="digest-1", use_trial=True):
    parent_run_id, trial_run_id = new_trial(tracking_uri, f"t{value}")
    return register_best(
        tracking_uri,
        model_dir,
        task="csts",
        space="tiny",
        metric="val_spearman",
        mode="max",
        metrics={"val_spearman": value, "val_pearson": value - 1.0},
        data_digest=digest,
        parent_run_id=parent_run_id,
        trial_run_id=trial_run_id if use_trial else None,
    ), (parent_run_id, trial_run_id)


def test_register_best_first_version_becomes_champion(tracking_uri, trained_model_dir):
    registration, (parent_run_id, trial_run_id) = register(tracking_uri, trained_model_dir, 60.0)

    client = MlflowClient(tracking_uri)
    assert registration.name == NAME
    assert registration.version == "1"
    assert registration.champion_moved
    assert registration.champion_version == "1"
    assert "no champion yet" in registration.reason
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"

    version = client.get_model_version(NAME, "1")
    assert version.run_id == trial_run_id
    assert version.tags["metric.val_spearman"] == "60.0"
    assert version.tags["metric.val_pearson"] == "59.0"
    assert version.tags["data_digest"] == "digest-1"
    assert version.tags["trial_run_id"] == trial_run_id
    assert version.tags["parent_run_id"] == parent_run_id
    artifacts = {entry.path for entry in client.list_artifacts(trial_run_id, "model")}
    assert {"model/MLmodel", "model/artifacts", "model/requirements.txt"} <= artifacts


def test_register_best_moves_champion_only_when_better(tracking_uri, trained_model_dir):
    register(tracking_uri, trained_model_dir, 60.0)

    worse, _ = register(tracking_uri, trained_model_dir, 55.0)
    better, _ = register(tracking_uri, trained_model_dir, 65.5)
    other_data, (parent_run_id, _) = register(
        tracking_uri, trained_model_dir, 90.0, digest="digest-2", use_trial=False
    )

    client = MlflowClient(tracking_uri)
    assert worse.version == "2"
    assert not worse.champion_moved
    assert worse.champion_version == "1"
    assert "stays on version 1: val_spearman 55.0000 does not beat its 60.0000" in worse.reason
    assert better.champion_moved
    assert better.champion_version == "3"
    assert "val_spearman 65.5000 beats version 1's 60.0000 (mode max)" in better.reason
    assert not other_data.champion_moved
    assert other_data.champion_version == "3"
    assert "data digest digest-1, version 4 on digest-2" in other_data.reason
    assert "not comparable" in other_data.reason
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "3"
    assert client.get_model_version(NAME, "4").run_id == parent_run_id


@pytest.mark.parametrize(
    ("value", "old", "mode", "expected"),
    [
        (2.0, 1.0, "max", True),
        (1.0, 1.0, "max", False),
        (0.5, 1.0, "max", False),
        (0.5, 1.0, "min", True),
        (1.0, 1.0, "min", False),
        (math.nan, 1.0, "max", False),
        (1.0, math.nan, "min", True),
    ],
)
def test_beats_is_strict(value, old, mode, expected):
    assert beats(value, old, mode) is expected


def test_register_best_rejects_invalid_arguments(tracking_uri, trained_model_dir, tmp_path):
    arguments = dict(
        task="csts",
        space="tiny",
        metric="val_spearman",
        mode="max",
        metrics={"val_spearman": 1.0},
        data_digest="d",
        parent_run_id="p",
        trial_run_id=None,
    )

    with pytest.raises(
        ValueError, match=r"invalid mode 'maximize'; choose one of \('max', 'min'\)"
    ):
        register_best(tracking_uri, trained_model_dir, **{**arguments, "mode": "maximize"})
    with pytest.raises(ValueError, match=r"metric 'val_mrr' is not in the metrics"):
        register_best(tracking_uri, trained_model_dir, **{**arguments, "metric": "val_mrr"})
    with pytest.raises(ValueError, match="task 'kgc' does not match the model in"):
        register_best(tracking_uri, trained_model_dir, **{**arguments, "task": "kgc"})
    with pytest.raises(ValueError, match="is not a hypercl model folder"):
        register_best(tracking_uri, tmp_path, **arguments)


def test_pip_requirements_pins_without_local_labels():
    requirements = pip_requirements()

    names = [requirement.split("==")[0] for requirement in requirements]
    assert {"mlflow", "torch", "transformers", "safetensors", "pandas"} <= set(names)
    assert all("==" in requirement and "+" not in requirement for requirement in requirements)


def test_model_signature_per_task():
    csts = model_signature("csts")
    kgc = model_signature("kgc")

    assert csts.inputs.input_names() == ["sentence1", "sentence2", "condition"]
    assert [spec.type.name for spec in csts.outputs.inputs] == ["double"]
    assert csts.params.params[0].name == "batch_size"
    assert kgc.inputs.input_names() == ["head", "relation"]
    assert kgc.outputs.input_names() == ["tails", "scores"]
    assert kgc.params.params[0].name == "k"
    assert kgc.params.params[0].default == 10
