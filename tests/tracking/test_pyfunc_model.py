"""Tests of tracking.pyfunc_model: the registered champion returns the ``hypercl.load`` scores."""

from __future__ import annotations

import subprocess
import sys

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModelContext

from tests.tracking.conftest import example_frame, process_env
from tracking.pyfunc_model import HyperClPyfunc
from tracking.registry import register_best
from tracking.runs import start_study_run


def register_champion(tracking_uri, model_dir):
    _, parent_run_id = start_study_run(tracking_uri, "study", "s", {}, {})
    return register_best(
        tracking_uri,
        model_dir,
        task="csts",
        space="tiny",
        metric="val_spearman",
        mode="max",
        metrics={"val_spearman": 50.0},
        data_digest="d",
        parent_run_id=parent_run_id,
        trial_run_id=None,
    )


def test_pyfunc_champion_matches_hypercl_scores(
    tracking_uri, trained_model_dir, expected_scores, monkeypatch
):
    registration = register_champion(tracking_uri, trained_model_dir)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)

    model = mlflow.pyfunc.load_model(f"models:/{registration.name}@champion")
    predictions = model.predict(example_frame())

    assert len(set(expected_scores)) == 3
    assert list(predictions) == pytest.approx(expected_scores, abs=1e-6)
    assert model.metadata.get_input_schema().input_names() == [
        "sentence1",
        "sentence2",
        "condition",
    ]


def test_pyfunc_champion_rejects_missing_column(tracking_uri, trained_model_dir, monkeypatch):
    registration = register_champion(tracking_uri, trained_model_dir)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{registration.name}@champion")

    with pytest.raises(MlflowException, match="condition"):
        model.predict(example_frame().drop(columns=["condition"]))


def test_pyfunc_device_from_model_config(tracking_uri, trained_model_dir, monkeypatch):
    registration = register_champion(tracking_uri, trained_model_dir)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    uri = f"models:/{registration.name}@champion"

    model = mlflow.pyfunc.load_model(uri, model_config={"device": "cpu"})

    assert str(model.unwrap_python_model().model.device) == "cpu"
    with pytest.raises(RuntimeError, match="nosuchdevice"):
        mlflow.pyfunc.load_model(uri, model_config={"device": "nosuchdevice"})


def test_pyfunc_predict_checks_columns_and_values(trained_model_dir, expected_scores):
    wrapper = HyperClPyfunc()
    wrapper.load_context(
        PythonModelContext(artifacts={"model": str(trained_model_dir)}, model_config={})
    )

    scores = wrapper.predict(None, example_frame(), params={"batch_size": 2})
    assert scores == pytest.approx(expected_scores, abs=1e-6)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['sentence2'\]"):
        wrapper.predict(None, example_frame().drop(columns=["sentence2"]))
    frame = example_frame()
    frame.loc[1, "condition"] = None
    with pytest.raises(ValueError, match=r"column 'condition' has missing values in rows \[1\]"):
        wrapper.predict(None, frame)
    assert (
        wrapper.predict(None, pd.DataFrame(columns=["sentence1", "sentence2", "condition"])) == []
    )


def test_pyfunc_loads_without_installed_hypercl(tracking_uri, trained_model_dir, tmp_path):
    registration = register_champion(tracking_uri, trained_model_dir)
    # The script removes the editable-install finder and runs in tmp_path, not in the repo.
    # So the only hypercl it can import is the copy in the MLflow model's code/ folder.
    script = (
        "import sys\n"
        "sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "try:\n"
        "    import hypercl\n"
        "    sys.exit('hypercl is still importable before loading the model')\n"
        "except ImportError:\n"
        "    pass\n"
        "import mlflow\n"
        f"mlflow.pyfunc.load_model('models:/{registration.name}@champion')\n"
        "import hypercl\n"
        "print(hypercl.__file__)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=process_env(MLFLOW_TRACKING_URI=tracking_uri),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("code/hypercl/__init__.py")
