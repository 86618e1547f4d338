"""A real search: local Ray, Optuna TPE, ASHA and a SQLite MLflow store, on a tiny model."""

import json
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.tune.conftest import RUN, run_tune, tool_env

pytestmark = pytest.mark.slow


def trial_results(experiment: Path) -> dict[str, list[dict]]:
    """Every trial's reported rows, read from Ray's result.json files."""
    results = {}
    for path in sorted(experiment.glob("trial_*/result.json")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if rows:
            results[rows[0]["trial_id"]] = rows
    return results


def test_tiny_search_runs_trials_and_writes_summary(tmp_path, tiny_setup):
    result = run_tune(
        [
            "--space",
            str(tiny_setup["space"]),
            "--data-dir",
            str(tiny_setup["data"]),
            "--num-samples",
            "4",
            "--max-concurrent",
            "2",
            "--cpus-per-trial",
            "1",
            "--name",
            "tiny-search",
            "--keep-checkpoints",
            "1",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = tmp_path / "ray_results" / "tiny-search"
    summary = json.loads((experiment / "summary.json").read_text())
    results = trial_results(experiment)

    # every trial is accounted for, by the state Ray's results show
    assert summary["num_trials"] == 4
    assert sum(summary["trials"].values()) == 4
    for trial_id, rows in results.items():
        iterations = rows[-1]["training_iteration"]
        expected = "completed" if iterations == 3 else "early_stopped"
        assert summary["trial_states"][trial_id] == expected
        assert {"val_spearman", "val_pearson", "train_loss", "epoch"} <= set(rows[-1])

    # one trial evaluates the space's start point (two start at once, so either may be first)
    starts = [rows[0]["config"] for rows in results.values()]
    assert any(
        c["lr"] == pytest.approx(1e-3) and c["scaler"] == 4 and c["temperature"] == 1.5
        for c in starts
    )

    # the best trial is the best value reported by any trial, and its checkpoint exists
    best_value = max(row["val_spearman"] for rows in results.values() for row in rows)
    assert summary["best"]["metrics"]["val_spearman"] == pytest.approx(best_value)
    assert Path(summary["best"]["checkpoint_path"], "model", "head.safetensors").is_file()
    # --keep-checkpoints 1: only the best trial's best checkpoint is left on disk
    remaining = sorted(experiment.glob("trial_*/checkpoint_*"))
    assert [str(path) for path in remaining] == [summary["best"]["checkpoint_path"]]
    assert summary["checkpoints_removed"] >= 3
    assert summary["selection_split"] == "validation"
    assert "best trial" in result.stdout
    # the final table lists every trial, those whose checkpoints were deleted included
    for trial_id in results:
        state = summary["trial_states"][trial_id]
        assert re.search(rf"^{trial_id}\s+{state}\s", result.stdout, re.MULTILINE)
    assert "mlflow ui --backend-store-uri sqlite:///" in result.stdout

    # MLflow: one experiment, a parent run and a nested run per trial with its state
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = client.get_experiment_by_name("tiny-search").experiment_id
    runs = client.search_runs([experiment_id])
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    assert len(parents) == 1
    assert len(children) == 4
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parents[0].info.run_id}
    states = {run.data.tags["ray_trial_id"]: run.data.tags["trial_state"] for run in children}
    assert states == summary["trial_states"]
    for run in children:
        history = client.get_metric_history(run.info.run_id, "val_spearman")
        assert len(history) == len(results[run.data.tags["ray_trial_id"]])
    assert parents[0].data.tags["space"] == "tiny"

    # the best checkpoint is registered, and the first version becomes the champion
    version = client.get_model_version_by_alias("hypercl-csts-tiny", "champion")
    assert str(version.version) == "1"


def read_searcher_state(path: Path) -> dict:
    """Ray's saved OptunaSearch state (a pickle that Ray writes; this test made the file)."""
    with path.open("rb") as handle:
        return pickle.load(handle)  # noqa: S301


def wait_for_finished_trial(experiment: Path, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(rows[-1]["training_iteration"] == 3 for rows in trial_results(experiment).values()):
            return
        if process.poll() is not None:
            raise AssertionError(f"search ended before the interruption: {process.returncode}")
        time.sleep(0.5)
    raise AssertionError("no trial finished in time")


def test_resume_after_interrupt_keeps_finished_trials(tmp_path, tiny_setup):
    args = [
        "--space",
        str(tiny_setup["space"]),
        "--data-dir",
        str(tiny_setup["data"]),
        "--num-samples",
        "4",
        "--max-concurrent",
        "1",
        "--cpus-per-trial",
        "1",
        "--grace-period",
        "3",
        "--name",
        "cut",
    ]
    experiment = tmp_path / "ray_results" / "cut"
    process = subprocess.Popen(
        [sys.executable, str(RUN), *args],
        cwd=tmp_path,
        env=tool_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_finished_trial(experiment, process, timeout=300)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, output[-3000:]
    assert "--resume" in output
    before = trial_results(experiment)
    finished = {tid: rows for tid, rows in before.items() if rows[-1]["training_iteration"] == 3}
    assert finished
    assert len(before) < 4

    result = run_tune([*args, "--resume"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    after = trial_results(experiment)
    summary = json.loads((experiment / "summary.json").read_text())

    # finished trials were not run again: their results are unchanged
    for trial_id, rows in finished.items():
        assert after[trial_id] == rows
    assert len(after) == 4
    assert summary["num_trials"] == 4

    # Optuna's study was restored: the searcher saved after the resume still contains the
    # trials recorded before the interruption, with their parameters, plus the new ones
    states = sorted(experiment.glob("searcher-state-*.pkl"))
    assert len(states) == 2
    searcher_before, searcher_after = (read_searcher_state(path) for path in states)
    assert set(searcher_before["_ot_trials"]) <= set(searcher_after["_ot_trials"])
    assert len(searcher_after["_ot_trials"]) == 4
    for trial_id in finished:
        assert (
            searcher_after["_ot_trials"][trial_id].params
            == searcher_before["_ot_trials"][trial_id].params
        )
    finished_in_optuna = [t for t in searcher_after["_ot_study"].trials if t.state.is_finished()]
    assert len(finished_in_optuna) == 4

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = client.get_experiment_by_name("cut").experiment_id
    runs = client.search_runs([experiment_id])
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    assert len(children) == 4
    assert len({run.data.tags["ray_trial_id"] for run in children}) == 4
    assert len([run for run in runs if "mlflow.parentRunId" not in run.data.tags]) == 1


def test_time_budget_before_first_report_keeps_summary(tmp_path, tiny_setup):
    result = run_tune(
        ["--space", str(tiny_setup["space"]), "--data-dir", str(tiny_setup["data"]),
         "--num-samples", "2", "--cpus-per-trial", "1", "--time-budget-s", "1", "--name", "short"],
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    assert "no trial finished an evaluation" in result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads((tmp_path / "ray_results" / "short" / "summary.json").read_text())
    assert "best" not in summary
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("short").experiment_id])
    parent = [run for run in runs if "mlflow.parentRunId" not in run.data.tags][0]
    assert parent.info.status == "FINISHED"
