"""The champion served by ``mlflow models serve`` on 127.0.0.1 returns the hypercl scores."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.tracking.conftest import (
    CONDITIONS,
    SENTENCES1,
    SENTENCES2,
    free_port,
    mlflow_command,
    process_env,
    start_process,
    stop_process,
    wait_until_ready,
)
from tracking.registry import register_best
from tracking.runs import start_study_run

pytestmark = pytest.mark.slow


def test_serve_champion_predicts_hypercl_scores(
    tracking_uri, trained_model_dir, expected_scores, tmp_path
):
    _, parent_run_id = start_study_run(tracking_uri, "study", "s", {}, {})
    registration = register_best(
        tracking_uri,
        trained_model_dir,
        task="csts",
        space="tiny",
        metric="val_spearman",
        mode="max",
        metrics={"val_spearman": 50.0},
        data_digest="d",
        parent_run_id=parent_run_id,
        trial_run_id=None,
    )
    port = free_port()
    command = mlflow_command() + [
        "models",
        "serve",
        "-m",
        f"models:/{registration.name}@champion",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        "1",
    ]
    log_path = tmp_path / "serve.log"
    process = start_process(command, process_env(MLFLOW_TRACKING_URI=tracking_uri), log_path)

    try:
        wait_until_ready(f"http://127.0.0.1:{port}/ping", process, log_path)
        body = {
            "dataframe_split": {
                "columns": ["sentence1", "sentence2", "condition"],
                "data": [
                    list(row) for row in zip(SENTENCES1, SENTENCES2, CONDITIONS, strict=True)
                ],
            }
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    finally:
        stop_process(process)

    assert answer["predictions"] == pytest.approx(expected_scores, abs=1e-6)
