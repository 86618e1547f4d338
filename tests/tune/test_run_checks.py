"""tune/run.py rejects bad input before Ray starts a trial, with messages that name the fix."""

import re
import socket

import pytest

from tests.tune.conftest import run_tune
from tune.run import main


def test_run_list_spaces_prints_registered_spaces(tmp_path):
    result = run_tune(["--list-spaces"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in (
        "simcse_base",
        "simcse_base_hyper64",
        "simcse_large",
        "simcse_large_hyper85",
        "diffcse_base",
        "diffcse_base_hyper64",
        "minilm",
        "wn18rr_minilm",
    ):
        assert name in result.stdout
    assert "loguniform" in result.stdout


def test_run_unknown_space_lists_registered(tmp_path, tiny_setup):
    result = run_tune(
        ["--space", "simcse_huge", "--data-dir", str(tiny_setup["data"])], cwd=tmp_path
    )
    assert result.returncode == 2
    assert "simcse_huge" in result.stderr
    assert "simcse_base" in result.stderr
    assert not (tmp_path / "ray_results").exists()


def test_run_rejects_bad_yaml_space_before_trials(tmp_path, tiny_setup):
    space = tmp_path / "bad.yaml"
    space.write_text(tiny_setup["space"].read_text().replace("low: 1.0e-4", "low: 0.0"))
    result = run_tune(["--space", str(space), "--data-dir", str(tiny_setup["data"])], cwd=tmp_path)
    assert result.returncode == 2
    assert "params.lr.low" in result.stderr
    assert str(space) in result.stderr
    assert not (tmp_path / "ray_results").exists()
    assert not (tmp_path / "mlflow.db").exists()


def test_run_scaler_larger_than_backbone_rejected(tmp_path, tiny_setup):
    space = tmp_path / "wide.yaml"
    text = tiny_setup["space"].read_text().replace("values: [4, 8]", "values: [4, 64]")
    space.write_text(text.replace("hidden_size: 32\n", ""))
    result = run_tune(["--space", str(space), "--data-dir", str(tiny_setup["data"])], cwd=tmp_path)
    assert result.returncode == 2
    assert "scaler" in result.stderr
    assert "64" in result.stderr
    assert "32" in result.stderr


def test_run_missing_backbone_fails_fast(tmp_path, tiny_setup):
    result = run_tune(
        ["--space", "simcse_base", "--data-dir", str(tiny_setup["data"])],
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2
    assert "princeton-nlp/sup-simcse-roberta-base" in result.stderr
    assert "not found locally" in result.stderr
    assert "--model" in result.stderr
    assert not (tmp_path / "ray_results").exists()


def test_run_missing_data_dir_names_the_option(tmp_path, tiny_setup):
    result = run_tune(["--space", str(tiny_setup["space"])], cwd=tmp_path)
    assert result.returncode == 2
    assert "--data-dir is required" in result.stderr


def test_run_rejects_grace_period_above_max_t(tmp_path, tiny_setup):
    result = run_tune(
        [
            "--space",
            str(tiny_setup["space"]),
            "--data-dir",
            str(tiny_setup["data"]),
            "--grace-period",
            "5",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert (
        "--grace-period must be between 1 and the number of evaluations (3), got 5"
        in result.stderr
    )
    assert not (tmp_path / "ray_results").exists()
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--max-train-rows", "1"],
            "error: --max-train-rows must be >= 2 or unset, got 1",
        ),
        (["--max-epochs", "0"], "--max-epochs must be >= 1, got 0"),
        (["--time-budget-s", "0"], "--time-budget-s must be > 0 seconds, got 0.0"),
        (["--cpus-per-trial", "0"], "--cpus-per-trial must be > 0, got 0.0"),
        (["--name", "../escape"], "--name '../escape' is not a plain folder name"),
        (["--keep-checkpoints", "0"], "--keep-checkpoints must be >= 1, got 0"),
    ],
)
def test_run_rejects_bad_budget_before_ray(
    tmp_path, tiny_setup, monkeypatch, capsys, extra, message
):
    monkeypatch.chdir(tmp_path)
    code = main(
        ["--space", str(tiny_setup["space"]), "--data-dir", str(tiny_setup["data"]), *extra]
    )
    assert code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "ray_results").exists()
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("batch_size: 8,", "batch_size: 3,", r"--batch-size must be an even number >= 2.*got 3"),
        (
            "low: 1.0, high: 2.0",
            "low: 0.0, high: 2.0",
            r"temperature=0.0: --temperature must be > 0",
        ),
    ],
)
def test_run_rejects_space_that_trials_would_reject(
    tmp_path, tiny_setup, monkeypatch, capsys, old, new, message
):
    space = tmp_path / "space.yaml"
    text = tiny_setup["space"].read_text()
    assert old in text
    space.write_text(text.replace(old, new))
    monkeypatch.chdir(tmp_path)
    code = main(["--space", str(space), "--data-dir", str(tiny_setup["data"])])
    assert code == 2
    assert re.search(message, capsys.readouterr().err)


def test_run_unreachable_address_fails_fast(tmp_path, tiny_setup, monkeypatch, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "--space",
            str(tiny_setup["space"]),
            "--data-dir",
            str(tiny_setup["data"]),
            "--address",
            f"127.0.0.1:{port}",
        ]
    )
    assert code == 2
    assert f"--address 127.0.0.1:{port}: no Ray head node reachable" in capsys.readouterr().err
    assert not (tmp_path / "mlflow.db").exists()


def test_run_resume_without_ray_state_rejected(tmp_path, tiny_setup, monkeypatch, capsys):
    (tmp_path / "ray_results" / "half").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "--space",
            str(tiny_setup["space"]),
            "--data-dir",
            str(tiny_setup["data"]),
            "--name",
            "half",
            "--resume",
        ]
    )
    assert code == 2
    assert "contains no Ray experiment state" in capsys.readouterr().err
